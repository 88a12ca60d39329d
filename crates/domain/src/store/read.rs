//! Reading one stream (all of it, or up to a version, or as it stood at a recorded time), several
//! streams each up to a version, one event by its id, and the head of the log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreError;
use super::event::StoredEvent;
use super::row::{EventRow, EVENT_COLUMNS};
use super::EventStore;

/// How much of a stream to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamRange {
    /// Every event.
    All,
    /// Versions 1 to this one.
    UntilVersion(u64),
    /// The events recorded at or before this time: the stream as it was known then.
    UntilRecorded(DateTime<Utc>),
}

impl EventStore {
    /// The events of a stream in version order (empty when it does not exist).
    pub async fn read_stream(
        &self,
        stream_id: Uuid,
        range: StreamRange,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (max_version, recorded_until) = match range {
            StreamRange::All => (None, None),
            StreamRange::UntilVersion(v) => (Some(i64::try_from(v).unwrap_or(i64::MAX)), None),
            StreamRange::UntilRecorded(t) => (None, Some(t)),
        };
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
              WHERE stream_id = $1 \
                AND ($2::int8 IS NULL OR stream_version <= $2) \
                AND ($3::timestamptz IS NULL OR recorded_at <= $3) \
              ORDER BY stream_version"
        ))
        .bind(stream_id)
        .bind(max_version)
        .bind(recorded_until)
        .fetch_all(&self.pool)
        .await?;
        let events: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
        if let Some(last) = events.last() {
            self.heads.record(
                &last.stream,
                last.stream_version,
                &last.hash,
                last.recorded_at,
            );
        }
        Ok(events)
    }
}

impl EventStore {
    /// The events of several streams at once, each up to its own version, in version order:
    /// one statement for a batch (the audit history of a list of entities). Streams with no
    /// event are left out.
    pub async fn read_streams_until(
        &self,
        wanted: &[(Uuid, u64)],
    ) -> Result<HashMap<Uuid, Vec<StoredEvent>>, StoreError> {
        let mut until: HashMap<Uuid, i64> = HashMap::new();
        for (id, version) in wanted {
            let version = i64::try_from(*version).unwrap_or(i64::MAX);
            let entry = until.entry(*id).or_insert(version);
            *entry = (*entry).max(version);
        }
        let (ids, versions): (Vec<Uuid>, Vec<i64>) = until.into_iter().unzip();
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
               JOIN unnest($1::uuid[], $2::int8[]) AS wanted(id, until) \
                 ON events.stream_id = wanted.id AND events.stream_version <= wanted.until \
              ORDER BY events.stream_id, events.stream_version"
        ))
        .bind(&ids)
        .bind(&versions)
        .fetch_all(&self.pool)
        .await?;
        let mut streams: HashMap<Uuid, Vec<StoredEvent>> = HashMap::new();
        for row in rows {
            let event = StoredEvent::from(row);
            streams
                .entry(event.stream.stream_id)
                .or_default()
                .push(event);
        }
        Ok(streams)
    }

    /// The event stored under `event_id`, if any.
    pub async fn event_by_id(&self, event_id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let row: Option<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = $1"
        ))
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredEvent::from))
    }

    /// The types of the streams among `stream_ids` that exist.
    pub async fn stream_types(
        &self,
        stream_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, String>, StoreError> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT stream_id, stream_type FROM events \
              WHERE stream_id = ANY($1) AND stream_version = 1",
        )
        .bind(stream_ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// The highest global position stored (0 when the log is empty).
    pub async fn latest_position(&self) -> Result<i64, StoreError> {
        let position: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(position.unwrap_or(0))
    }
}
