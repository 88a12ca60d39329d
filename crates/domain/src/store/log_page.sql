-- One page of the ordered feed, filtered: the events after the cursor ($1, $2) in feed order
-- (tx_id, position), only below the oldest running transaction (so nothing that commits later
-- can ever sort before what this returns), narrowed by every filter that is not NULL.
SELECT {EVENT_COLUMNS}
  FROM events
 WHERE (tx_id, position) > ($1::text::xid8, $2)
   AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
   AND ($3::uuid[] IS NULL OR stream_id = ANY($3))
   AND ($4::text[] IS NULL OR stream_type = ANY($4))
   AND ($5::text[] IS NULL OR event_type = ANY($5))
   AND ($6::text[] IS NULL OR recorded_by = ANY($6))
   AND ($7::timestamptz IS NULL OR recorded_at >= $7)
   AND ($8::timestamptz IS NULL OR recorded_at <= $8)
   AND ($9::uuid IS NULL OR correlation_id = $9)
 ORDER BY events.tx_id, events.position
 LIMIT $10
