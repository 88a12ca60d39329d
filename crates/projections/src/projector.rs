//! The projector: keeps a projection's live generation up with the feed, and rebuilds.
//!
//! - **Exactly-once effect.** Each page of the feed is applied in one transaction that also moves
//!   the generation's checkpoint, guarded by the checkpoint it started from: a crash at any
//!   point leaves either both or neither, and a second projector that moved the checkpoint
//!   meanwhile makes this one's commit fail ([`ProjectionError::Fenced`]) instead of applying a
//!   page twice.
//! - **One leader.** [`Projector::run`] applies pages only while it holds the projection's
//!   advisory lock (on a connection of its own), so several sitrep processes can run against one
//!   database; when the leader dies its connection closes, the lock is released and another
//!   process takes over.
//! - **Wake-ups.** It listens for the feed's NOTIFY, is woken at once by appends of its own
//!   process, and polls as a fallback.
//! - **Its own events.** It reads the feed for its projection's stream types: the others' rows
//!   come without their payloads and are only counted, and a page with none of its events only
//!   moves the checkpoint (no read model written, no waiter woken).
//! - **Pages.** It reads 1,000 events at a time while it keeps up, and pages twice as large
//!   after each full one (up to 10,000) while it is behind, as after a dataset import: fewer
//!   statements and round trips per event, and back to small pages (a low lag under a stream
//!   of writes) once it has caught up. [`Projector::with_page_size`] fixes the size.
//! - **Rebuilds.** [`Projector::rebuild`] builds a new generation from the start of the feed
//!   beside the live one, catches it up and switches it live (blue/green).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sitrep_domain::store::appended::notification_concerns;
use sitrep_domain::store::feed::{FeedCursor, FeedPage, FEED_CHANNEL};
use sitrep_domain::store::{EventStore, StoreError};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection};

use crate::error::ProjectionError;
use crate::generation::{self, Generation, Status};
use crate::projection::Projection;
use crate::status::APPLIED_CHANNEL;

/// How long a caught-up projector waits for a NOTIFY before it looks at the feed anyway.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How soon it first looks again when the feed holds events back behind an open transaction
/// (see [`held_back_recheck`]), and the longest it waits between looks.
const HELD_BACK_RECHECK_FIRST: Duration = Duration::from_millis(1);
const HELD_BACK_RECHECK_MAX: Duration = Duration::from_millis(20);
/// How often the leader looks for a generation switched live by a rebuild elsewhere.
const LIVE_RECHECK: Duration = Duration::from_secs(1);
/// How often a standby tries to become the leader.
const STANDBY_INTERVAL: Duration = Duration::from_millis(500);
/// The pages a projector reads by default: this many events while it keeps up...
const PAGE_SIZE: u32 = 1_000;
/// ...growing (doubling while the pages come back full) up to this many when it is far behind.
const MAX_PAGE_SIZE: u32 = 10_000;

/// Applies the feed to one projection.
#[derive(Clone)]
pub struct Projector {
    store: EventStore,
    projection: Arc<dyn Projection>,
    pages: PageSizes,
    failpoint: Option<Arc<Failpoint>>,
}

/// How many events a projector reads at a time: `first` after it caught up, doubling for each
/// full page up to `max`. Small pages keep the lag low under a stream of writes (each page's
/// transaction commits sooner); large ones apply a backlog (an import, a projector that was
/// down) with fewer statements and round trips per event.
#[derive(Clone, Copy, Debug)]
struct PageSizes {
    first: u32,
    max: u32,
}

impl PageSizes {
    /// The size of the page after one of `size` that held `events` events.
    fn next(self, size: u32, events: usize) -> u32 {
        if events >= size as usize {
            size.saturating_mul(2).min(self.max)
        } else {
            self.first
        }
    }
}

/// Stops the projector between writing a page and committing it, as a crash would (tests).
#[derive(Debug)]
pub struct Failpoint {
    /// Pages still to commit before the failure.
    pages_left: AtomicU64,
}

impl Failpoint {
    /// Fails the page after `pages` committed ones.
    pub fn after(pages: u64) -> Arc<Self> {
        Arc::new(Self {
            pages_left: AtomicU64::new(pages),
        })
    }

    fn hit(&self) -> bool {
        self.pages_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
    }
}

/// Whether a rebuild goes ahead once its lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RebuildWhen {
    /// Asked for (`sitrep rebuild`): always.
    Always,
    /// Because the live generation was built by older code: only if it still is.
    LiveIsOlder,
}

/// Where [`Projector::follow`] stopped.
struct Followed {
    /// Events applied.
    applied: u64,
    /// Why it stopped.
    stop: Stop,
    /// The size of the next page to read.
    page_size: u32,
}

enum Stop {
    /// Nothing more is visible.
    CaughtUp,
    /// Committed events wait behind an open transaction: look again soon.
    HeldBack,
    /// Its time ran out with more to apply.
    Deadline,
}

impl Projector {
    pub fn new(store: EventStore, projection: Arc<dyn Projection>) -> Self {
        Self {
            store,
            projection,
            pages: PageSizes {
                first: PAGE_SIZE,
                max: MAX_PAGE_SIZE,
            },
            failpoint: None,
        }
    }

    /// The same with pages of `events` events, always (by default pages grow while the
    /// projector is behind).
    pub fn with_page_size(mut self, events: u32) -> Self {
        let events = events.max(1);
        self.pages = PageSizes {
            first: events,
            max: events,
        };
        self
    }

    /// The same, failing before a commit as `failpoint` says.
    pub fn with_failpoint(mut self, failpoint: Arc<Failpoint>) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    pub fn projection(&self) -> &dyn Projection {
        self.projection.as_ref()
    }

    /// The pool of the store it reads.
    pub fn store_pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    /// The live generation: created empty when there is none, and rebuilt (blue/green) first
    /// when it was built by another version of the projection's code.
    pub async fn live_generation(&self) -> Result<Generation, ProjectionError> {
        let pool = self.store.pool();
        match generation::live(pool, self.projection.name()).await? {
            Some(live) if live.version == self.projection.version() => Ok(live),
            // Built by older code: rebuild with this code (unless another process, starting
            // at the same time, has done it by the time this one holds the rebuild lock).
            Some(live) if live.version < self.projection.version() => {
                self.rebuild_unless(RebuildWhen::LiveIsOlder).await
            }
            // Built by newer code (a rolling deploy): never rebuild it back; stop leading.
            Some(live) => Err(ProjectionError::NewerGeneration {
                projection: self.projection.name(),
                live: live.version,
                ours: self.projection.version(),
            }),
            None => {
                match generation::create(pool, self.projection.as_ref(), Status::Live).await {
                    Ok(created) => Ok(created),
                    // Another process created it first.
                    Err(error) => generation::live(pool, self.projection.name())
                        .await?
                        .ok_or(error),
                }
            }
        }
    }

    /// Applies the feed to `generation` until nothing more is visible; returns the number of
    /// events applied.
    pub async fn catch_up(&self, generation: &mut Generation) -> Result<u64, ProjectionError> {
        Ok(self
            .follow(generation, None, self.pages.first)
            .await?
            .applied)
    }

    /// Applies page after page until the feed shows nothing more, starting with a page of
    /// `page_size` events. The next page is read while the current one is applied (reading the
    /// log does not depend on the read model), so the database reads the feed while the
    /// projection folds and writes. Stops at `deadline`, if any, between pages.
    async fn follow(
        &self,
        generation: &mut Generation,
        deadline: Option<Instant>,
        mut page_size: u32,
    ) -> Result<Followed, ProjectionError> {
        let mut applied = 0;
        let mut page = self.read_page(generation.cursor, page_size).await?;
        while page.covered > 0 {
            page_size = self.pages.next(page_size, page.covered);
            // The next page is read (and its rows decoded) by a task of its own, on another
            // of the runtime's threads when one is free, while this one folds and writes.
            let reading = tokio::spawn({
                let projector = self.clone();
                let after = page.next;
                async move { projector.read_page(after, page_size).await }
            });
            let written = self.apply_page(generation, &page).await;
            let next = match reading.await {
                Ok(next) => next,
                Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
                Err(_) => return Err(ProjectionError::Cancelled),
            };
            written?;
            applied += page.covered as u64;
            let before = generation.events_applied - page.covered as i64;
            if generation.status == Status::Building
                && statistics_due(before, generation.events_applied)
            {
                generation::analyze(self.store.pool(), self.projection.as_ref(), generation)
                    .await?;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Followed {
                    applied,
                    stop: Stop::Deadline,
                    page_size,
                });
            }
            page = next?;
            if page.covered == 0 {
                // Read while the page's own transaction was open, whose id held the feed's
                // horizon back: only a read after its commit can say the feed is caught up.
                page_size = self.pages.first;
                page = self.read_page(generation.cursor, page_size).await?;
            }
        }
        let stop = if page.held_back {
            Stop::HeldBack
        } else {
            Stop::CaughtUp
        };
        Ok(Followed {
            applied,
            stop,
            page_size: self.pages.first,
        })
    }

    /// Rebuilds the projection into a new generation from the start of the feed, beside the
    /// live one, and switches it live once it has caught up. Returns the new live generation.
    pub async fn rebuild(&self) -> Result<Generation, ProjectionError> {
        self.rebuild_unless(RebuildWhen::Always).await
    }

    /// [`Self::rebuild`], or, with [`RebuildWhen::LiveIsOlder`], the live generation as it is
    /// when, once this process holds the rebuild lock, it was built by this code already.
    async fn rebuild_unless(&self, when: RebuildWhen) -> Result<Generation, ProjectionError> {
        let pool = self.store.pool();
        // One rebuild of a projection at a time, across processes: the lock is held on a
        // connection of its own for the whole rebuild (a second rebuild waits for it), and
        // released when that connection closes, or dies with the process.
        let mut lock = pool.acquire().await?.detach();
        sqlx::query("SELECT pg_advisory_lock(hashtext('sitrep rebuild ' || $1))")
            .bind(self.projection.name())
            .execute(&mut lock)
            .await?;
        // With the lock held, a generation still building was left by a rebuild that failed
        // or whose process died: it never went live, and is abandoned.
        let outcome = match generation::abandon_building(pool, self.projection.name()).await {
            Err(error) => Err(error),
            Ok(()) => match when {
                RebuildWhen::LiveIsOlder => {
                    match generation::live(pool, self.projection.name()).await {
                        Ok(Some(live)) if live.version >= self.projection.version() => Ok(live),
                        Ok(_) => self.rebuild_holding_lock(&mut lock).await,
                        Err(error) => Err(error),
                    }
                }
                RebuildWhen::Always => self.rebuild_holding_lock(&mut lock).await,
            },
        };
        if outcome.is_err() {
            // The failed rebuild's generation is abandoned now (or by the next rebuild).
            if let Err(error) = generation::abandon_building(pool, self.projection.name()).await {
                tracing::warn!(projection = self.projection.name(), %error,
                    "cannot abandon a failed rebuild's generation");
            }
        }
        if let Err(error) = lock.close().await {
            tracing::warn!(projection = self.projection.name(), %error,
                "closing the rebuild lock's connection");
        }
        outcome
    }

    async fn rebuild_holding_lock(
        &self,
        lock: &mut PgConnection,
    ) -> Result<Generation, ProjectionError> {
        let pool = self.store.pool();
        let name = self.projection.name();
        let began = Instant::now();
        let mut building =
            generation::create(pool, self.projection.as_ref(), Status::Building).await?;
        let applied = self.catch_up(&mut building).await?;
        let caught_up = began.elapsed();
        tracing::info!(
            projection = name,
            generation = building.generation,
            applied,
            seconds = caught_up.as_secs_f64(),
            "rebuild caught up; creating its indexes"
        );
        generation::create_indexes(pool, self.projection.as_ref(), &building).await?;
        tracing::info!(
            projection = name,
            generation = building.generation,
            seconds = (began.elapsed() - caught_up).as_secs_f64(),
            "rebuild's indexes created"
        );
        // Still holding the rebuild lock? A lost lock connection means another rebuild may
        // have abandoned this generation (the switch would then refuse it anyway).
        sqlx::query("SELECT 1").execute(&mut *lock).await?;
        generation::switch_live(pool, &building).await?;
        // Whatever arrived between the last page and the switch.
        self.catch_up(&mut building).await?;
        building.status = Status::Live;
        Ok(building)
    }

    /// Runs as the projection's leader until `shutdown` completes: waits to hold the
    /// projection's advisory lock, then keeps the live generation up with the feed.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), ProjectionError> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                outcome = self.lead() => {
                    if let Err(error) = outcome {
                        tracing::warn!(projection = self.projection.name(), %error,
                            "projector stopped leading; trying again");
                        tokio::time::sleep(STANDBY_INTERVAL).await;
                    }
                }
            }
        }
    }

    /// Becomes the leader and follows the feed until an error.
    async fn lead(&self) -> Result<(), ProjectionError> {
        let mut lock = self.acquire_leadership().await?;
        tracing::info!(projection = self.projection.name(), "projector leading");
        let mut listener = PgListener::connect_with(self.store.pool()).await?;
        listener.listen(FEED_CHANNEL).await?;
        let stream_types = Some(self.projection.stream_types());
        let mut local_appends = self.store.local_appends_of(stream_types);
        let mut generation = self.live_generation().await?;
        let mut checked = Instant::now();
        let mut page_size = self.pages.first;
        let mut held_back_in_a_row = 0u32;
        loop {
            // The live generation is read again now and then: a rebuild in another process may
            // have switched it. (A checkpoint moved by anyone else fails the next page with
            // `Fenced`, and leading starts over from the database's checkpoint.)
            if checked.elapsed() >= LIVE_RECHECK {
                // Still the leader? A broken lock connection means the lock is gone. Asked once
                // a second rather than after every wake-up (one round trip each, as many as the
                // server's mutations under load): meanwhile, a projector that lost its lock and
                // a new leader cannot both apply a page, as the checkpoint's guard fences one.
                sqlx::query("SELECT 1").execute(&mut lock).await?;
                generation = self.live_generation().await?;
                checked = Instant::now();
            }
            let deadline = Instant::now() + LIVE_RECHECK;
            // Appends of this process from here on wake the wait below.
            local_appends.mark_seen();
            let followed = self
                .follow(&mut generation, Some(deadline), page_size)
                .await?;
            // Still behind after a deadline: go on with pages as large as they had grown.
            page_size = followed.page_size;
            if !matches!(followed.stop, Stop::HeldBack) {
                held_back_in_a_row = 0;
            }
            match followed.stop {
                Stop::Deadline => {}
                Stop::HeldBack => {
                    tokio::time::sleep(held_back_recheck(held_back_in_a_row)).await;
                    held_back_in_a_row = held_back_in_a_row.saturating_add(1);
                }
                Stop::CaughtUp => {
                    // A timeout is the poll; an append of this process of the projection's
                    // stream types wakes us too (the quick path of a server's own writes: it
                    // skips the notifier's coalescing and the round trip through PostgreSQL),
                    // and so do a listener error (the listener reconnects by itself) and a
                    // notification of another process that may concern the projection (not
                    // one of this process, already seen here, nor one naming only other
                    // stream types: the poll passes over those).
                    let origin = self.store.origin();
                    let _ = tokio::time::timeout(POLL_INTERVAL, async {
                        loop {
                            tokio::select! {
                                note = listener.try_recv() => match note {
                                    Ok(Some(note))
                                        if !notification_concerns(
                                            note.payload(),
                                            origin,
                                            stream_types,
                                        ) => {}
                                    _ => return,
                                },
                                () = local_appends.changed() => return,
                            }
                        }
                    })
                    .await;
                }
            }
        }
    }

    /// Waits until this process holds the projection's advisory lock, on a connection of its
    /// own that keeps it.
    async fn acquire_leadership(&self) -> Result<PgConnection, ProjectionError> {
        let mut lock = self.store.pool().acquire().await?.detach();
        let key = lock_key(self.projection.name());
        loop {
            let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut lock)
                .await?;
            if held {
                return Ok(lock);
            }
            tokio::time::sleep(STANDBY_INTERVAL).await;
            lock.ping().await?;
        }
    }

    /// Up to `limit` events of the feed after `after`, those of the projection's stream types
    /// in full (the others only counted and passed over).
    async fn read_page(&self, after: FeedCursor, limit: u32) -> Result<FeedPage, StoreError> {
        self.store
            .read_feed_of(after, limit, self.projection.stream_types())
            .await
    }

    /// Applies `page` (read from `generation`'s checkpoint) to `generation`, and moves the
    /// checkpoint past it, in one transaction.
    async fn apply_page(
        &self,
        generation: &mut Generation,
        page: &FeedPage,
    ) -> Result<(), ProjectionError> {
        // One round trip opens the transaction and sets it up (the projector's share of a busy
        // server is counted in round trips):
        // - a read model's commit need not wait for the disk: if the server crashes before this
        //   transaction is flushed, the read-model rows and the checkpoint are lost together
        //   and the page is applied again (the event log itself is always written durably);
        // - the projection's tables are the generation's;
        // - waiters for read-your-writes are woken when it commits (`NOTIFY` is sent at commit,
        //   and not at all if the page rolls back).
        // A page with no event of the projection's stream types only moves the checkpoint: no
        // read model is written, and no mutation waits for this projection to show an event it
        // passes over, so none is woken.
        let setup = if page.events.is_empty() {
            "BEGIN; SET LOCAL synchronous_commit = off".to_owned()
        } else {
            format!(
                "BEGIN; SET LOCAL synchronous_commit = off; NOTIFY {APPLIED_CHANNEL}; {}",
                generation::search_path_statement(&generation.schema)
            )
        };
        let mut tx = self.store.pool().begin_with(setup).await?;
        // The checkpoint moves first, guarded by where this projector read it (and by the
        // generation being neither retired nor abandoned by a rebuild elsewhere): the row lock
        // queues a rival projector behind this transaction, and once this one commits the
        // rival's guard no longer matches and it stops before writing anything.
        let moved = sqlx::query(
            "UPDATE projection_generations \
                SET cursor_tx = $3::text::xid8, cursor_position = $4, \
                    events_applied = events_applied + $5, updated_at = now() \
              WHERE projection = $1 AND generation = $2 AND status IN ('building', 'live') \
                AND cursor_tx = $6::text::xid8 AND cursor_position = $7",
        )
        .bind(&generation.projection)
        .bind(generation.generation)
        .bind(page.next.tx_id().to_string())
        .bind(page.next.position())
        .bind(page.covered as i64)
        .bind(generation.cursor.tx_id().to_string())
        .bind(generation.cursor.position())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(ProjectionError::Fenced {
                projection: self.projection.name(),
                generation: generation.generation,
            });
        }
        if !page.events.is_empty() {
            self.projection.apply(&mut tx, &page.events).await?;
        }
        if self.failpoint.as_ref().is_some_and(|f| f.hit()) {
            // Dropping the transaction rolls it back, as a crash would.
            return Err(ProjectionError::Failpoint);
        }
        tx.commit().await?;
        generation.cursor = page.next;
        generation.events_applied += page.covered as i64;
        Ok(())
    }
}

/// How long a leading projector waits before it looks again at a feed that holds events back
/// behind an open transaction, the time after `in_a_row` such looks: 1 ms at first (the holder
/// is most often an append or a projector's page about to commit, and a mutation waits for the
/// events it holds back), doubling up to 20 ms (a long transaction elsewhere holds the feed back
/// for as long as it runs).
fn held_back_recheck(in_a_row: u32) -> Duration {
    HELD_BACK_RECHECK_FIRST
        .saturating_mul(1 << in_a_row.min(8))
        .min(HELD_BACK_RECHECK_MAX)
}

/// A generation being built has its tables' statistics gathered once it holds this many
/// events, and again at ten times as many, and so on (each time a sample of at most 30,000 rows
/// per table): the plans of its pages' statements then rest on how its rows look, not on the
/// planner's guesses for tables it knows nothing of.
const FIRST_STATISTICS_AT: i64 = 20_000;

/// Whether a page that took a building generation from `before` to `after` events applied
/// crossed one of the points where its statistics are gathered.
fn statistics_due(before: i64, after: i64) -> bool {
    let mut at = Some(FIRST_STATISTICS_AT);
    while let Some(point) = at.filter(|&point| point <= after) {
        if point > before {
            return true;
        }
        at = point.checked_mul(10);
    }
    false
}

/// The advisory lock key of a projection's leader.
fn lock_key(projection: &str) -> i64 {
    let digest = Sha256::digest(format!("sitrep projection leader {projection}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{held_back_recheck, statistics_due, PageSizes, FIRST_STATISTICS_AT};

    #[test]
    fn a_feed_held_back_is_looked_at_again_soon_then_less_often() {
        let waits: Vec<Duration> = (0..8).map(held_back_recheck).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            waits,
            [ms(1), ms(2), ms(4), ms(8), ms(16), ms(20), ms(20), ms(20)]
        );
        assert_eq!(held_back_recheck(u32::MAX), ms(20));
    }

    #[test]
    fn statistics_are_gathered_at_each_tenfold_of_the_first_point() {
        assert!(!statistics_due(0, FIRST_STATISTICS_AT - 1));
        assert!(statistics_due(0, FIRST_STATISTICS_AT));
        assert!(statistics_due(
            FIRST_STATISTICS_AT - 1,
            FIRST_STATISTICS_AT + 5_000
        ));
        assert!(!statistics_due(
            FIRST_STATISTICS_AT,
            FIRST_STATISTICS_AT * 10 - 1
        ));
        assert!(statistics_due(
            FIRST_STATISTICS_AT * 10 - 1,
            FIRST_STATISTICS_AT * 10
        ));
        assert!(!statistics_due(
            FIRST_STATISTICS_AT * 10,
            FIRST_STATISTICS_AT * 100 - 1
        ));
        assert!(statistics_due(
            FIRST_STATISTICS_AT * 99,
            FIRST_STATISTICS_AT * 101
        ));
        assert!(!statistics_due(i64::MAX - 1, i64::MAX));
        assert!(!statistics_due(i64::MAX, i64::MAX));
    }

    #[test]
    fn pages_double_while_full_and_shrink_once_not() {
        let pages = PageSizes {
            first: 1_000,
            max: 10_000,
        };
        assert_eq!(pages.next(1_000, 1_000), 2_000);
        assert_eq!(pages.next(2_000, 2_000), 4_000);
        assert_eq!(pages.next(8_000, 8_000), 10_000);
        assert_eq!(pages.next(10_000, 10_000), 10_000);
        assert_eq!(pages.next(10_000, 9_999), 1_000);
        assert_eq!(pages.next(1_000, 3), 1_000);
        let fixed = PageSizes { first: 3, max: 3 };
        assert_eq!(fixed.next(3, 3), 3);
    }
}
