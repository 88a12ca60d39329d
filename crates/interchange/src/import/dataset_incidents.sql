-- The incident streams an import of dataset $1 created (events_import_dataset_idx: the
-- expression must stay exactly the index's).
SELECT stream_id
  FROM events
 WHERE event_type = 'IncidentReported'
   AND (metadata::jsonb -> 'import' ->> 'dataset') = $1
