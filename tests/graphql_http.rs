//! End to end: the `graphql-http` package's server audit (npm) against a spawned `sitrep
//! serve`: no failed MUST, and no failed SHOULD either (`--strict`).
//!
//! The audit's packages are pinned by `tests/graphql-http/package-lock.json` and installed with
//! `npm ci` when missing. Without Node.js the test says so loudly and passes, so that a machine
//! without Node can still run the rest of the suite; CI installs Node and sets
//! `SITREP_REQUIRE_AUDIT`, so there it always runs.

mod common;

use std::path::Path;
use std::process::Command;

use common::Server;
use sitrep_testkit::TestDb;

#[tokio::test]
async fn the_graphql_http_audit_finds_nothing_wrong() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphql-http");
    if Command::new("node").arg("--version").output().is_err() {
        // CI sets SITREP_REQUIRE_AUDIT, so that there a missing Node fails rather than skips.
        assert!(
            std::env::var_os("SITREP_REQUIRE_AUDIT").is_none(),
            "SITREP_REQUIRE_AUDIT is set and there is no node on PATH"
        );
        eprintln!("SKIPPED: the graphql-http audit needs Node.js (node on PATH)");
        return;
    }
    if !folder.join("node_modules/graphql-http").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&folder)
            .status()
            .expect("run npm ci");
        assert!(installed.success(), "npm ci in {}", folder.display());
    }
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let server = Server::on(&db.url(), &[]).await;
    let audit = Command::new("node")
        .arg(folder.join("audit.mjs"))
        .arg(format!("{}/graphql", server.base))
        .arg("--strict")
        .output()
        .expect("run the audit");
    let report = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success(),
        "the graphql-http audit failed:\n{report}\n{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    assert!(report.contains(" audits, 0 failed"), "{report}");
    server.stop();
}
