-- The append of one event whose head is known to the store: a plain INSERT. $3 is the head's
-- version (0 for a new stream) and $17 its hash; the unique key (stream_id, stream_version)
-- refuses a second writer at the same version, and a new stream that already exists.
INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, payload,
                    valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason,
                    causation_id, correlation_id, metadata, prev_hash, hash)
VALUES ($1, $2, $3::int8 + 1, $4, $5, $6, $7::text::json, $8, $9, $10, now(), $11, $12, $13, $14,
        $15::text::json, $17::bytea,
        sha256($17::bytea || $16::bytea || int8send($3::int8 + 1) || timestamptz_send(now())))
RETURNING ARRAY[position] AS positions, stream_version AS version, recorded_at, hash AS head_hash,
          tx_id::text::int8 AS tx_id
