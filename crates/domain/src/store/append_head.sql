-- The stream's head at the expected version (or the genesis hash when the stream must be new),
-- shared by append.sql and append_one.sql. $1 stream type, $2 stream id, $3 expected version
-- (-1 any, 0 no stream).
head AS (
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
