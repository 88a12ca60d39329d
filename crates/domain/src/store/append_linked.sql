-- The append of several events whose head is known to the store: no head lookup; $3 is the head's
-- version (0 for a new stream) and $27 its hash. The unique key (stream_id, stream_version) still
-- refuses a second writer at the same version, and a new stream that already exists.
WITH links AS (
    SELECT $3::int8 AS version, h AS hashes, array_prepend($27::bytea, h[1:cardinality(h) - 1]) AS prev_hashes,
           now() AS recorded_at
      FROM event_hash_links($27::bytea, $3::int8, $16::bytea[], now()) AS h
),
-- {insert} (append_batch.sql) goes here.
