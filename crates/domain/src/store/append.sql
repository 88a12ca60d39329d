WITH RECURSIVE
input AS (
    SELECT * FROM unnest($4::uuid[], $5::text[], $6::int4[], $7::jsonb[], $8::timestamptz[], $9::timestamptz[],
                         $10::text[], $11::text[], $12::text[], $13::uuid[], $14::uuid[], $15::jsonb[])
        WITH ORDINALITY AS i(event_id, event_type, schema_version, payload, valid_from, valid_to,
                             valid_precision, recorded_by, reason, causation_id, correlation_id, metadata, n)
),
head AS (
    SELECT e.stream_version AS version, e.hash, e.stream_type
      FROM events e
     WHERE e.stream_id = $2 AND ($3 < 0 OR e.stream_version = $3)
     ORDER BY e.stream_version DESC
     LIMIT 1
),
base AS (
    SELECT version, hash FROM head WHERE stream_type = $1
    UNION ALL
    SELECT 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
     WHERE $3 <= 0 AND NOT EXISTS (SELECT 1 FROM head)
),
digested AS (
    SELECT i.*, b.version + i.n AS stream_version,
           event_digest($1, $2, b.version + i.n, i.event_id, i.event_type, i.schema_version, i.payload,
                        i.valid_from, i.valid_to, i.valid_precision, now(), i.recorded_by, i.reason,
                        i.causation_id, i.correlation_id, i.metadata) AS digest
      FROM input i CROSS JOIN base b
),
chain AS (
    SELECT d.n, b.hash AS prev_hash, sha256(b.hash || d.digest) AS hash
      FROM digested d CROSS JOIN base b WHERE d.n = 1
    UNION ALL
    SELECT d.n, c.hash, sha256(c.hash || d.digest)
      FROM chain c JOIN digested d ON d.n = c.n + 1
)
INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, payload,
                    valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason,
                    causation_id, correlation_id, metadata, prev_hash, hash)
SELECT $1, $2, d.stream_version, d.event_id, d.event_type, d.schema_version, d.payload,
       d.valid_from, d.valid_to, d.valid_precision, now(), d.recorded_by, d.reason,
       d.causation_id, d.correlation_id, d.metadata, c.prev_hash, c.hash
  FROM digested d JOIN chain c ON c.n = d.n
 ORDER BY d.n
RETURNING position, stream_version, recorded_at
