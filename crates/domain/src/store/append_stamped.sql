-- The append of several events whose head is known to the store, linked by the store itself:
-- $16 holds the events' hashes (not their digests), computed with the recorded time $28 that the
-- store took just before sending; $3 is the head's version and $27 its hash. The database keeps
-- the last word on time: the events are inserted only when $28 lies within the five seconds up to
-- this statement's start (`now()`), so a recorded time is never later than the transaction that
-- stores it and never far behind the database's clock. Otherwise `links` is empty, nothing is
-- inserted, and the store appends again with append_linked.sql (hashes linked in the database).
WITH links AS (
    SELECT $3::int8 AS version, $16::bytea[] AS hashes,
           array_prepend($27::bytea, $16[1:cardinality($16) - 1]) AS prev_hashes,
           $28::timestamptz AS recorded_at
     WHERE $28::timestamptz BETWEEN now() - interval '5 seconds' AND now()
),
-- {insert} (append_batch.sql) goes here.
