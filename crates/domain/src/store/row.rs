//! The `events` row as SQL returns it, and its conversion to [`StoredEvent`].
//!
//! Every read selects [`EVENT_COLUMNS`], so the column list lives in one place.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::{JsonText, StoredEvent, StreamRef, ValidTime};

/// The select list matching [`EventRow`]. `FEED_OF_SQL` (`feed.rs`) selects the same columns,
/// some of them only for the stream types asked for: a column added here goes there too (the
/// feed's tests compare the two reads event by event).
pub(crate) const EVENT_COLUMNS: &str =
    "position, tx_id::text::int8 AS tx_id, stream_type, stream_id, \
     stream_version, event_id, event_type, schema_version, payload::text AS payload, valid_from, \
     valid_to, valid_precision, recorded_at, recorded_by, reason, causation_id, correlation_id, \
     metadata::text AS metadata, \
     prev_hash, hash";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    position: i64,
    tx_id: i64,
    stream_type: String,
    stream_id: Uuid,
    stream_version: i64,
    event_id: Uuid,
    event_type: String,
    schema_version: i32,
    payload: String,
    valid_from: Option<DateTime<Utc>>,
    valid_to: Option<DateTime<Utc>>,
    valid_precision: Option<String>,
    recorded_at: DateTime<Utc>,
    recorded_by: String,
    reason: Option<String>,
    causation_id: Option<Uuid>,
    correlation_id: Option<Uuid>,
    metadata: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> Self {
        let valid_time = row.valid_from.map(|from| ValidTime {
            from,
            to: row.valid_to,
            precision: row.valid_precision,
        });
        Self {
            position: row.position,
            // Both are non-negative by construction (identity and xid8), so the casts are exact.
            tx_id: row.tx_id.unsigned_abs(),
            stream: StreamRef {
                stream_type: row.stream_type,
                stream_id: row.stream_id,
            },
            stream_version: row.stream_version.unsigned_abs(),
            event_id: row.event_id,
            event_type: row.event_type,
            schema_version: row.schema_version,
            payload: JsonText::from_column(row.payload),
            valid_time,
            recorded_at: row.recorded_at,
            recorded_by: row.recorded_by,
            reason: row.reason,
            causation_id: row.causation_id,
            correlation_id: row.correlation_id,
            metadata: JsonText::from_column(row.metadata),
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}
