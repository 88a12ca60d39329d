-- One batch of an import (store/transfer.rs): exported events inserted as they were, with their
-- positions (kept, so that read models built from the copy match the source's), ids, versions,
-- recorded times and hashes. Every row gets the importing transaction's id as tx_id, so the feed
-- order of the copy is its position order, which the importer made equal to the file's order.
INSERT INTO events (position, stream_type, stream_id, stream_version, event_id, event_type,
                    schema_version, payload, valid_from, valid_to, valid_precision, recorded_at,
                    recorded_by, reason, causation_id, correlation_id, metadata, prev_hash, hash)
OVERRIDING SYSTEM VALUE
SELECT e.position, e.stream_type, e.stream_id, e.stream_version, e.event_id, e.event_type,
       e.schema_version, e.payload::json, e.valid_from, e.valid_to, e.valid_precision,
       e.recorded_at, e.recorded_by, e.reason, e.causation_id, e.correlation_id,
       e.metadata::json, e.prev_hash, e.hash
  FROM unnest($1::int8[], $2::text[], $3::uuid[], $4::int8[], $5::uuid[], $6::text[],
              $7::int4[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[],
              $12::timestamptz[], $13::text[], $14::text[], $15::uuid[], $16::uuid[],
              $17::text[], $18::bytea[], $19::bytea[])
       AS e(position, stream_type, stream_id, stream_version, event_id, event_type,
            schema_version, payload, valid_from, valid_to, valid_precision, recorded_at,
            recorded_by, reason, causation_id, correlation_id, metadata, prev_hash, hash)
 ORDER BY e.position
