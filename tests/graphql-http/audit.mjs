// Runs the graphql-http server audit against the GraphQL endpoint given as the first argument
// and prints one line per audit. Exits 1 when a MUST (status "error") or, with --strict, a
// SHOULD (status "warn") fails. Called by tests/graphql_http.rs.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const strict = process.argv.includes('--strict');
if (!url) {
  console.error('usage: node audit.mjs <url> [--strict]');
  process.exit(2);
}
const results = await auditServer({ url, fetchFn: fetch });
let failed = 0;
for (const result of results) {
  const failing = result.status === 'error' || (strict && result.status === 'warn');
  if (failing) failed += 1;
  const reason = result.status === 'ok' ? '' : ` -- ${result.reason}`;
  console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}${reason}`);
}
console.log(`${results.length} audits, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
