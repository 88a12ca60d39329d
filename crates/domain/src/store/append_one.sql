-- The append of one event: append.sql without the arrays. Keep the two in step.
WITH head AS (
    -- Exact version: one probe of the unique key. Any version: the stream's last event.
    SELECT e.stream_version AS version, e.hash, e.stream_type
      FROM events e
     WHERE e.stream_id = $2 AND e.stream_version = $3
    UNION ALL
    (SELECT e.stream_version, e.hash, e.stream_type
       FROM events e
      WHERE $3 < 0 AND e.stream_id = $2
      ORDER BY e.stream_version DESC
      LIMIT 1)
),
base AS (
    SELECT version, hash FROM head WHERE stream_type = $1
    UNION ALL
    SELECT 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
     WHERE $3 <= 0 AND NOT EXISTS (SELECT 1 FROM head)
)
INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, payload,
                    valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason,
                    causation_id, correlation_id, metadata, prev_hash, hash)
SELECT $1, $2, b.version + 1, $4, $5, $6, $7::text::json, $8, $9, $10, now(), $11, $12, $13, $14,
       $15::text::json,
       b.hash, sha256(b.hash || $16::bytea || int8send(b.version + 1) || timestamptz_send(now()))
  FROM base b
RETURNING position, stream_version, recorded_at
