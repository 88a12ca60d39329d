-- The events of the streams $1 (uuid[]), stream by stream in version order, with only what a
-- fold needs: the JSON as stored (text, no parse) and the metadata for the last import digest.
SELECT stream_id,
       stream_type,
       stream_version,
       event_type,
       schema_version,
       payload::text  AS payload,
       metadata::text AS metadata
  FROM events
 WHERE stream_id = ANY($1)
 ORDER BY stream_id, stream_version
