//! The event log read as an auditor reads it: pages of the ordered feed narrowed by stream,
//! stream type, event type, author, recorded time and correlation.
//!
//! The read is the feed's own (see [`super::feed`]): ordered by `(tx_id, position)` and only
//! below the oldest running transaction, so a reader that goes on from the cursor of the last
//! event it saw sees exactly the later events, and never skips one that commits late. The
//! filters only leave events out; they never move the cursor past an event they did not look
//! at. The statement (`log_page.sql`) is planned for each call's own filters (not prepared
//! once), since a plan good for "one stream" is bad for "everything by one author".

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreError;
use super::event::StoredEvent;
use super::feed::{feed_head_in, FeedCursor};
use super::row::{EventRow, EVENT_COLUMNS};
use super::EventStore;

static LOG_PAGE_SQL: LazyLock<String> =
    LazyLock::new(|| include_str!("log_page.sql").replace("{EVENT_COLUMNS}", EVENT_COLUMNS));

/// Which events of the log: each part given narrows the choice, a part left out (`None`) does
/// not. An empty list chooses nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Events of these streams only.
    pub stream_ids: Option<Vec<Uuid>>,
    /// Events of these stream types only (`incident`, ...).
    pub stream_types: Option<Vec<String>>,
    /// Events of these types only (`IncidentReported`, ...).
    pub event_types: Option<Vec<String>>,
    /// Events recorded by these authors only.
    pub recorded_by: Option<Vec<String>>,
    /// Events recorded at or after this time.
    pub recorded_from: Option<DateTime<Utc>>,
    /// Events recorded at or before this time.
    pub recorded_until: Option<DateTime<Utc>>,
    /// Events of this piece of work only.
    pub correlation_id: Option<Uuid>,
}

impl LogFilter {
    /// Whether `event` is chosen: the same rule as the statement's, for readers that filter
    /// events they already hold (subscriptions).
    pub fn matches(&self, event: &StoredEvent) -> bool {
        let within = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref()
                .is_none_or(|list| list.iter().any(|item| item == value))
        };
        within(&self.stream_types, &event.stream.stream_type)
            && within(&self.event_types, &event.event_type)
            && within(&self.recorded_by, &event.recorded_by)
            && self
                .stream_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&event.stream.stream_id))
            && self
                .recorded_from
                .is_none_or(|from| event.recorded_at >= from)
            && self
                .recorded_until
                .is_none_or(|until| event.recorded_at <= until)
            && self
                .correlation_id
                .is_none_or(|id| event.correlation_id == Some(id))
    }
}

/// A page of the log as [`EventStore::read_log`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogPage {
    /// The events the filter chose, in feed order.
    pub events: Vec<StoredEvent>,
    /// Where to go on from: the last event's cursor when the page is full; otherwise the point
    /// up to which the whole log has been looked at (the last event the feed showed, whether
    /// the filter chose it or not), so that a reader polling with a narrow filter does not look
    /// at the same unchosen events again. Nothing that can still appear sorts before it.
    pub resume: FeedCursor,
}

impl EventStore {
    /// Up to `limit` events after `after` that `filter` chooses, in feed order, and where to go
    /// on from ([`LogPage::resume`]): none after it is skipped, even one whose transaction
    /// commits later.
    pub async fn read_log(
        &self,
        after: FeedCursor,
        filter: &LogFilter,
        limit: u32,
    ) -> Result<LogPage, StoreError> {
        // One snapshot for the page and the feed's head: an event the page could not see is
        // never behind the head read beside it.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<EventRow> = sqlx::query_as(&LOG_PAGE_SQL)
            .persistent(false)
            .bind(after.tx_id().to_string())
            .bind(after.position())
            .bind(filter.stream_ids.as_deref())
            .bind(filter.stream_types.as_deref())
            .bind(filter.event_types.as_deref())
            .bind(filter.recorded_by.as_deref())
            .bind(filter.recorded_from)
            .bind(filter.recorded_until)
            .bind(filter.correlation_id)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let events: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
        let last = events.last().map_or(after, StoredEvent::cursor);
        let resume = if events.len() >= limit as usize {
            last
        } else {
            // Every event up to the head was looked at: the filter left the rest out.
            feed_head_in(&mut tx).await?.max(last)
        };
        tx.commit().await?;
        Ok(LogPage { events, resume })
    }
}
