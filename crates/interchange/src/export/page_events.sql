-- The events of a page of exported incidents: each stream ($1) from its first version up to
-- the version the selection picked for it ($2), in stream and version order.
SELECT e.position, e.stream_id, e.stream_version, e.event_type, e.schema_version,
       e.payload::text AS payload, e.recorded_at
  FROM unnest($1::uuid[], $2::int8[]) AS p(stream_id, version)
  JOIN public.events e
    ON e.stream_id = p.stream_id AND e.stream_version <= p.version
 WHERE e.stream_type = 'incident'
 ORDER BY e.stream_id, e.stream_version
