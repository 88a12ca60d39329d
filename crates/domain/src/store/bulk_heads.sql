-- The heads of streams named in a bulk append (store/bulk.rs): for each id in $1 that has events,
-- its last event's version, hash and stream type (one backward probe of the unique key
-- (stream_id, stream_version) per id); ids of streams that do not exist give no row.
SELECT e.stream_id, e.stream_type, e.stream_version, e.hash
  FROM unnest($1::uuid[]) AS wanted(stream_id)
 CROSS JOIN LATERAL (SELECT stream_id, stream_type, stream_version, hash
                       FROM events
                      WHERE events.stream_id = wanted.stream_id
                      ORDER BY stream_version DESC
                      LIMIT 1) AS e
