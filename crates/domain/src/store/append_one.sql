-- The append of one event: append.sql without the arrays. Keep the two INSERTs in step.
WITH
-- {head} (append_head.sql) goes here.
INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, payload,
                    valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason,
                    causation_id, correlation_id, metadata, prev_hash, hash)
SELECT $1, $2, b.version + 1, $4, $5, $6, $7::text::json, $8, $9, $10, now(), $11, $12, $13, $14,
       $15::text::json,
       b.hash, sha256(b.hash || $16::bytea || int8send(b.version + 1) || timestamptz_send(now()))
  FROM base b
RETURNING ARRAY[position] AS positions, stream_version AS version, recorded_at, hash AS head_hash,
          tx_id::text::int8 AS tx_id
