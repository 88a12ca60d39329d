-- The append of several events in one statement: read the head at the expected version, link each
-- event's hash to the one before (event_hash_links), insert. append_one.sql is the one-event form;
-- append_linked.sql is this statement for a head the store already knows.
WITH
-- {head} (append_head.sql) goes here.
,
links AS (
    SELECT b.version, h AS hashes, array_prepend(b.hash, h[1:cardinality(h) - 1]) AS prev_hashes,
           now() AS recorded_at
      FROM base b, event_hash_links(b.hash, b.version, $16::bytea[], now()) AS h
),
-- {insert} (append_batch.sql) goes here.
