//! The gap-free, commit-ordered feed of all events.
//!
//! Positions come from a sequence at insert time, so a transaction that takes position 10 may
//! commit after one that took position 11: a reader polling `position > last` would see 11, move
//! on, and never see 10. The feed instead orders by `(tx_id, position)` and reads only events
//! whose transaction id is below the oldest transaction still running
//! (`pg_snapshot_xmin(pg_current_snapshot())`). Every such transaction has ended, and every
//! transaction still to commit has a larger id, so what a reader has seen is final and its order
//! is never revised. No global lock and no time-out are involved.
//!
//! Readers are woken by `NOTIFY sitrep_feed`, sent after the commit by [`EventStore::run_notifier`]
//! (never inside the appending transaction, where NOTIFY would serialise all commits) and naming
//! the stream types appended ([`super::appended`]), and poll as a fallback.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sqlx::postgres::PgListener;
use sqlx::{FromRow as _, Row as _};

use super::appended::notification_payload;
use super::error::StoreError;
use super::event::StoredEvent;
use super::row::{EventRow, EVENT_COLUMNS};
use super::EventStore;

/// How soon a follower looks again when committed events are held back by an open transaction.
const HELD_BACK_RECHECK: Duration = Duration::from_millis(20);

/// The channel the notifier sends on and followers listen to.
pub const FEED_CHANNEL: &str = "sitrep_feed";

/// Whether any event, visible or held back, lies after the cursor ($1, $2) (see
/// [`EventStore::held_back`]).
const HELD_BACK_SQL: &str = "SELECT (SELECT position FROM events \
                                       WHERE (tx_id, position) > ($1::text::xid8, $2) \
                                       ORDER BY tx_id, position LIMIT 1) IS NOT NULL";

/// The feed's page for [`EventStore::read_feed_of`]: whether each event is of one of the stream
/// types `$4`, then the columns [`EVENT_COLUMNS`] names (`position` and `tx_id` first, read by
/// index for every row), with the payload, the metadata and the hashes only for those of the
/// stream types.
const FEED_OF_SQL: &str = "SELECT stream_type = ANY($4::text[]) AS wanted, \
            position, tx_id::text::int8 AS tx_id, stream_type, stream_id, stream_version, \
            event_id, event_type, schema_version, \
            CASE WHEN stream_type = ANY($4::text[]) THEN payload::text END AS payload, \
            valid_from, valid_to, valid_precision, recorded_at, recorded_by, reason, \
            causation_id, correlation_id, \
            CASE WHEN stream_type = ANY($4::text[]) THEN metadata::text END AS metadata, \
            CASE WHEN stream_type = ANY($4::text[]) THEN prev_hash END AS prev_hash, \
            CASE WHEN stream_type = ANY($4::text[]) THEN hash END AS hash \
       FROM events \
      WHERE (tx_id, position) > ($1::text::xid8, $2) \
        AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot())) \
      ORDER BY events.tx_id, events.position \
      LIMIT $3";

/// A reader's place in the feed: just past the event with this transaction id and position.
/// Clients see it only as an opaque string ([`fmt::Display`] / [`FromStr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FeedCursor {
    tx_id: u64,
    position: i64,
}

impl FeedCursor {
    /// Before the first event.
    pub const START: FeedCursor = FeedCursor {
        tx_id: 0,
        position: 0,
    };

    /// The cursor just past the event at `position` written by transaction `tx_id` (for readers
    /// that keep their place in the database, such as projections' checkpoints).
    pub fn new(tx_id: u64, position: i64) -> Self {
        Self { tx_id, position }
    }

    /// The transaction id of the last event read.
    pub fn tx_id(&self) -> u64 {
        self.tx_id
    }

    /// The position of the last event read.
    pub fn position(&self) -> i64 {
        self.position
    }
}

const CURSOR_TAG: &str = "feed1";

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = format!("{CURSOR_TAG}:{}:{}", self.tx_id, self.position);
        f.write_str(&URL_SAFE_NO_PAD.encode(plain))
    }
}

impl FromStr for FeedCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || StoreError::InvalidCursor(s.chars().take(64).collect());
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = plain.split(':');
        let (Some(CURSOR_TAG), Some(tx), Some(pos), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let tx_id = tx.parse().map_err(|_| invalid())?;
        let position: i64 = pos.parse().map_err(|_| invalid())?;
        if position < 0 {
            return Err(invalid());
        }
        Ok(Self { tx_id, position })
    }
}

/// One page of the feed and the cursor to continue from.
#[derive(Clone, Debug)]
pub struct FeedPage {
    pub events: Vec<StoredEvent>,
    /// Past the last event of the page (the `after` cursor when the page is empty).
    pub next: FeedCursor,
    /// How many events of the feed the page covers: `events.len()`, or more when it was read
    /// for some stream types only ([`EventStore::read_feed_of`]) and passed over others.
    pub covered: usize,
    /// The page is empty, yet committed events wait beyond it: an older transaction (possibly
    /// in another database of the cluster) held them back, or they committed just now. Read
    /// again soon rather than waiting for a NOTIFY.
    pub held_back: bool,
}

impl EventStore {
    /// Up to `limit` events after `after`, in commit order, none of which can ever be preceded by
    /// an event not yet visible.
    pub async fn read_feed(&self, after: FeedCursor, limit: u32) -> Result<FeedPage, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
              WHERE (tx_id, position) > ($1::text::xid8, $2) \
                AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot())) \
              ORDER BY events.tx_id, events.position \
              LIMIT $3"
        ))
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let events: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
        let next = events.last().map_or(after, StoredEvent::cursor);
        let held_back = events.is_empty() && self.held_back(after).await?;
        Ok(FeedPage {
            covered: events.len(),
            events,
            next,
            held_back,
        })
    }

    /// The page [`Self::read_feed`] reads, of which only the events of `stream_types` are
    /// returned in full; `next` is past the page's last event whatever its type, and
    /// `covered` counts them all. A reader that passes over most events (a projection of troop
    /// levels in a log of incidents) is sent a few columns of each instead of its payload.
    pub async fn read_feed_of(
        &self,
        after: FeedCursor,
        limit: u32,
        stream_types: &[&str],
    ) -> Result<FeedPage, StoreError> {
        let rows = sqlx::query(FEED_OF_SQL)
            .bind(after.tx_id.to_string())
            .bind(after.position)
            .bind(i64::from(limit))
            .bind(stream_types)
            .fetch_all(&self.pool)
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut next = after;
        for row in &rows {
            let (wanted, position, tx_id): (bool, i64, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            // Both are non-negative by construction (xid8 and identity).
            next = FeedCursor::new(tx_id.unsigned_abs(), position);
            if wanted {
                events.push(StoredEvent::from(EventRow::from_row(row)?));
            }
        }
        let held_back = rows.is_empty() && self.held_back(after).await?;
        Ok(FeedPage {
            events,
            next,
            covered: rows.len(),
            held_back,
        })
    }

    /// The cursor past the last event the feed shows now ([`FeedCursor::START`] for an empty
    /// log): a reader starting there sees only events recorded from now on.
    pub async fn feed_head(&self) -> Result<FeedCursor, StoreError> {
        let mut conn = self.pool.acquire().await?;
        feed_head_in(&mut conn).await
    }

    /// Whether committed events wait after `after`, asked after a read found none: they were
    /// held back by an older open transaction, or committed since. Either way: read again soon.
    /// (Asking "held back *now*" in a second statement would race with the horizon moving.)
    ///
    /// Written as the first row in feed order rather than `EXISTS`: under a generic plan (a
    /// prepared statement's sixth run on) `EXISTS` guessed a third of the table matched and
    /// scanned the whole table for the (usually) no row after a caught-up cursor; `ORDER BY …
    /// LIMIT 1` walks `events_feed_idx` from the cursor, whatever the plan.
    async fn held_back(&self, after: FeedCursor) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(HELD_BACK_SQL)
            .bind(after.tx_id.to_string())
            .bind(after.position)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Sends `NOTIFY sitrep_feed` after appends, at most once per `coalesce` interval, outside the
    /// appending transactions, naming this store and the stream types appended since the last
    /// one ([`super::appended`]). Runs until the future is dropped; spawn it once per process.
    pub async fn run_notifier(self, coalesce: Duration) {
        let mut appends = self.local_appends.subscribe();
        let mut notified = appends.borrow_and_update().clone();
        loop {
            if appends.changed().await.is_err() {
                return;
            }
            tokio::time::sleep(coalesce).await;
            let now = appends.borrow_and_update().clone();
            let payload = notification_payload(self.origin, now.types_since(&notified).as_deref());
            notified = now;
            if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(FEED_CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await
            {
                // Readers poll as well; a lost wake-up only delays them.
                tracing::warn!(%error, "could not notify feed readers");
            }
        }
    }

    /// A follower of the feed from `after`.
    pub fn follow(&self, after: FeedCursor, poll_interval: Duration) -> FeedFollower {
        FeedFollower {
            store: self.clone(),
            cursor: after,
            poll_interval,
            listener: None,
            page_size: 1000,
        }
    }
}

/// Follows the feed: catches up page by page, then waits for a NOTIFY or the poll interval.
pub struct FeedFollower {
    store: EventStore,
    cursor: FeedCursor,
    poll_interval: Duration,
    listener: Option<PgListener>,
    page_size: u32,
}

impl FeedFollower {
    /// Where the follower stands: past everything it has returned.
    pub fn cursor(&self) -> FeedCursor {
        self.cursor
    }

    /// The next non-empty page of events, waiting for one if the follower has caught up.
    pub async fn next_page(&mut self) -> Result<Vec<StoredEvent>, StoreError> {
        loop {
            // Listen before reading, so that a NOTIFY sent between the read and the wait is
            // buffered rather than lost.
            if self.listener.is_none() {
                self.listener = self.listen().await;
            }
            let page = self.store.read_feed(self.cursor, self.page_size).await?;
            self.cursor = page.next;
            if !page.events.is_empty() {
                return Ok(page.events);
            }
            if page.held_back {
                // The NOTIFY for these events has come and gone; the open transaction ahead of
                // them will end without one. Look again shortly.
                tokio::time::sleep(HELD_BACK_RECHECK.min(self.poll_interval)).await;
            } else {
                self.wait().await;
            }
        }
    }

    /// Waits for a wake-up or the poll interval, whichever comes first. A listener that fails
    /// is dropped and re-opened before the next read; until then the follower only polls.
    async fn wait(&mut self) {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(self.poll_interval).await;
            return;
        };
        match tokio::time::timeout(self.poll_interval, listener.try_recv()).await {
            Ok(Ok(Some(_))) | Err(_) => {}
            Ok(Ok(None)) | Ok(Err(_)) => self.listener = None,
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(self.store.pool()).await.ok()?;
        listener.listen(FEED_CHANNEL).await.ok()?;
        Some(listener)
    }
}

/// The cursor past the last event the feed shows in `conn`'s snapshot ([`FeedCursor::START`]
/// for an empty log).
pub(crate) async fn feed_head_in(conn: &mut sqlx::PgConnection) -> Result<FeedCursor, StoreError> {
    let head: Option<(String, i64)> = sqlx::query_as(
        "SELECT tx_id::text, position FROM events \
          WHERE tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot())) \
          ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match head {
        None => Ok(FeedCursor::START),
        Some((tx_id, position)) => {
            let tx_id = tx_id
                .parse()
                .map_err(|_| StoreError::InvalidCursor(tx_id.clone()))?;
            Ok(FeedCursor::new(tx_id, position))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FEED_OF_SQL, HELD_BACK_SQL};

    /// Prepared statements switch to a generic plan after five runs; the check for events held
    /// back must walk the feed's index under it, not scan the log (it runs each time a
    /// caught-up follower is woken).
    #[tokio::test]
    async fn the_held_back_check_walks_the_feed_index_under_a_generic_plan() {
        let db = sitrep_testkit::TestDb::new(&crate::MIGRATOR).await;
        let plan = db.generic_plan(HELD_BACK_SQL, "text, int8", "'0', 0").await;
        assert!(
            plan.contains("events_feed_idx") && !plan.contains("Seq Scan"),
            "{plan}"
        );
    }

    /// A projector's read of its next page runs on every wake-up: under a generic plan on a log
    /// never analyzed it must walk the feed's index from the cursor, not scan and sort the log.
    #[tokio::test]
    async fn a_projectors_page_walks_the_feed_index_under_a_generic_plan() {
        let db = sitrep_testkit::TestDb::new(&crate::MIGRATOR).await;
        let plan = db
            .generic_plan(
                FEED_OF_SQL,
                "text, int8, int8, text[]",
                "'0', 0, 1000, '{incident}'",
            )
            .await;
        assert!(
            plan.contains("events_feed_idx") && !plan.contains("Seq Scan"),
            "{plan}"
        );
    }
}
