-- The events of the actors ($1) that the actors read model does not know yet (it follows the log
-- on its own and may lag behind the incidents'), recorded until $2 (NULL: all), in stream and
-- version order, for the export to fold their names from the log itself.
SELECT e.position, e.stream_id, e.stream_version, e.event_type, e.schema_version,
       e.payload::text AS payload, e.recorded_at
  FROM public.events e
 WHERE e.stream_type = 'actor'
   AND e.stream_id = ANY($1)
   AND ($2::timestamptz IS NULL OR e.recorded_at <= $2)
 ORDER BY e.stream_id, e.stream_version
