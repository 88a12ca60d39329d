-- The events of the streams $1 (uuid[]) without their payloads, stream by stream in version
-- order: each stream's type, version and the metadata that holds its last import digest.
SELECT stream_id,
       stream_type,
       stream_version,
       metadata::text AS metadata
  FROM events
 WHERE stream_id = ANY($1)
 ORDER BY stream_id, stream_version
