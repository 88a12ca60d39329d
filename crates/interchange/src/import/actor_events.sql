-- Every actor stream's events in version order (events_actor_streams_idx).
SELECT stream_id,
       event_type,
       schema_version,
       payload::text AS payload
  FROM events
 WHERE stream_type = 'actor'
 ORDER BY stream_id, stream_version
