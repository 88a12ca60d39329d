-- Lookups of the dataset imports (crates/interchange/src/import.rs).
--
-- The incidents an import of a dataset created: their `IncidentReported` event carries the
-- metadata `{"import": {"dataset": "acled", ...}}`. A sync looks them up by dataset to find the
-- rows a newer export no longer has. Partial: only reports are indexed, so other appends pay
-- nothing, and a report pays one small jsonb parse of its metadata.
CREATE INDEX events_import_dataset_idx
    ON events (((metadata::jsonb -> 'import' ->> 'dataset')))
    WHERE event_type = 'IncidentReported';

-- The actor streams, which every import folds to match the names of a file to registered
-- actors: without it that read is a scan of the whole log. Partial: only actor events.
CREATE INDEX events_actor_streams_idx
    ON events (stream_id, stream_version)
    WHERE stream_type = 'actor';
