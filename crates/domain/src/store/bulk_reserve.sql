-- What a bulk append (store/bulk.rs) takes before it writes: the transaction's time, which every
-- event records and hashes, and $1 positions from the events' identity sequence, which the rows
-- then carry in batch order once sorted (so the feed, ordered by (tx_id, position), yields them in
-- batch order). OFFSET 0 keeps the sequence's lookup to one call rather than one per position;
-- the store sorts the positions itself (an ORDER BY here cost as much as the nextval calls).
SELECT now() AS recorded_at,
       ARRAY(SELECT nextval(s.seq)
               FROM (SELECT pg_get_serial_sequence('events', 'position')::regclass AS seq
                     OFFSET 0) AS s,
                    generate_series(1, $1::int8)) AS positions
