-- The append of several events in one statement: read the head at the expected version, link each
-- event's hash to the one before (event_hash_chain), insert. append_one.sql is the one-event form.
WITH input AS (
    SELECT * FROM unnest($4::uuid[], $5::text[], $6::int4[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                         $10::text[], $11::text[], $12::text[], $13::uuid[], $14::uuid[], $15::text[])
        WITH ORDINALITY AS i(event_id, event_type, schema_version, payload, valid_from, valid_to,
                             valid_precision, recorded_by, reason, causation_id, correlation_id, metadata, n)
),
-- {head} (append_head.sql) goes here.
INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, payload,
                    valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason,
                    causation_id, correlation_id, metadata, prev_hash, hash)
SELECT $1, $2, b.version + i.n, i.event_id, i.event_type, i.schema_version, i.payload::json,
       i.valid_from, i.valid_to, i.valid_precision, now(), i.recorded_by, i.reason,
       i.causation_id, i.correlation_id, i.metadata::json, c.prev_hash, c.hash
  FROM base b
 CROSS JOIN LATERAL event_hash_chain(b.hash, b.version, $16::bytea[], now()) c
  JOIN input i ON i.n = c.n
 ORDER BY i.n
RETURNING position, stream_version, recorded_at
