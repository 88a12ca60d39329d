-- The insert of a batch, shared by append.sql, append_linked.sql and append_stamped.sql, which put
-- a `links` CTE (the head's version, the events' prev_hashes and hashes, their recorded time)
-- before it. No `links` row, no insert.
-- Arrays $4..$16 hold the events' columns. A column whose value is the same for every event
-- (the event type, who recorded it, an absent reason, ...) comes as an empty array and one value
-- in $17..$26 instead: unnest pads the empty array with NULLs and coalesce takes the value.
-- A column with differing values comes whole, with NULL in its $17..$26 slot.
inserted AS (
    INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version,
                        payload, valid_from, valid_to, valid_precision, recorded_at, recorded_by,
                        reason, causation_id, correlation_id, metadata, prev_hash, hash)
    SELECT $1, $2, l.version + i.n, i.event_id, coalesce(i.event_type, $17::text),
           coalesce(i.schema_version, $18::int4), i.payload::json,
           coalesce(i.valid_from, $19::timestamptz), coalesce(i.valid_to, $20::timestamptz),
           coalesce(i.valid_precision, $21::text), l.recorded_at, coalesce(i.recorded_by, $22::text),
           coalesce(i.reason, $23::text), coalesce(i.causation_id, $24::uuid),
           coalesce(i.correlation_id, $25::uuid), coalesce(i.metadata, $26::text)::json,
           i.prev_hash, i.hash
      FROM links l,
           unnest($4::uuid[], $5::text[], $6::int4[], $7::text[], $8::timestamptz[],
                  $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::uuid[],
                  $14::uuid[], $15::text[], l.prev_hashes, l.hashes)
               WITH ORDINALITY AS i(event_id, event_type, schema_version, payload, valid_from,
                                    valid_to, valid_precision, recorded_by, reason, causation_id,
                                    correlation_id, metadata, prev_hash, hash, n)
     ORDER BY i.n
    RETURNING position, stream_version, tx_id
)
-- One row back, whatever the batch size: the positions in version order, the new version, the
-- recorded time, the new head's hash (the last link) and the writing transaction's id (one for
-- every row).
SELECT array_agg(position ORDER BY stream_version) AS positions, max(stream_version) AS version,
       (SELECT recorded_at FROM links) AS recorded_at,
       (SELECT hashes[cardinality(hashes)] FROM links) AS head_hash,
       max(tx_id::text::int8) AS tx_id
  FROM inserted
