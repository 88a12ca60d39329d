-- The rows of a bulk append (store/bulk.rs), streamed in PostgreSQL's binary COPY format by
-- store/bulk_copy.rs, whose row writer follows this column order. Every column but tx_id is given
-- (positions reserved beforehand: COPY writes given identity values); tx_id takes its default,
-- the appending transaction's id, as in every append.
COPY events (position, stream_type, stream_id, stream_version, event_id, event_type,
             schema_version, payload, valid_from, valid_to, valid_precision, recorded_at,
             recorded_by, reason, causation_id, correlation_id, metadata, prev_hash, hash)
FROM STDIN (FORMAT binary)
