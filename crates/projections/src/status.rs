//! Where each projection stands: its position in the feed and its lag, and waits for it to
//! catch up with given events (read-your-writes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sitrep_domain::store::FeedCursor;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};

use crate::error::ProjectionError;

/// One live projection's position and lag.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    pub projection: String,
    pub generation: i32,
    /// The position of the last event applied (0: none).
    pub position: i64,
    pub events_applied: i64,
    /// Committed events of the projection's stream types not applied yet (including those an
    /// open transaction still holds back from the feed). Events of other types are passed over
    /// when the projector next reads the feed (a projector is not woken for them: its
    /// checkpoint may stand behind them for a poll's interval) and never count as lag.
    pub events_behind: i64,
    /// How long the oldest of those has waited (0 when none waits).
    pub seconds_behind: f64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

/// The status of every live projection. A projection's lag counts the events of its own
/// stream types ([`crate::all`] says which; for one it does not know, every event).
pub async fn statuses(pool: &PgPool) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let (projections, stream_types): (Vec<&str>, Vec<&str>) = crate::all()
        .iter()
        .flat_map(|p| p.stream_types().iter().map(|t| (p.name(), *t)))
        .unzip();
    let rows: Vec<StatusRow> = sqlx::query_as(STATUSES_SQL)
        .bind(projections)
        .bind(stream_types)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ProjectionStatus {
            projection: row.projection,
            generation: row.generation,
            position: row.position,
            events_applied: row.events_applied,
            events_behind: row.events_behind,
            seconds_behind: row.seconds_behind.unwrap_or(0.0).max(0.0),
            updated_at: row.updated_at,
        })
        .collect())
}

/// The live generations with their lag: `$1` and `$2` pair each projection with each stream
/// type it reads.
const STATUSES_SQL: &str =
    "WITH reads AS (SELECT * FROM unnest($1::text[], $2::text[]) AS r(projection, stream_type)) \
     SELECT g.projection, g.generation, g.cursor_position AS position, g.events_applied, \
            behind.events AS events_behind, \
            extract(epoch FROM now() - behind.oldest)::float8 AS seconds_behind, g.updated_at \
       FROM projection_generations g \
      CROSS JOIN LATERAL ( \
            SELECT count(*) AS events, min(e.recorded_at) AS oldest FROM events e \
             WHERE (e.tx_id, e.position) > (g.cursor_tx, g.cursor_position) \
               AND (e.stream_type IN (SELECT r.stream_type FROM reads r \
                                       WHERE r.projection = g.projection) \
                    OR g.projection NOT IN (SELECT r.projection FROM reads r))) behind \
      WHERE g.status = 'live' ORDER BY g.projection";

#[derive(sqlx::FromRow)]
struct StatusRow {
    projection: String,
    generation: i32,
    position: i64,
    events_applied: i64,
    events_behind: i64,
    seconds_behind: Option<f64>,
    updated_at: DateTime<Utc>,
}

/// The channel a projector notifies when it commits a page (`NOTIFY sitrep_applied`).
pub const APPLIED_CHANNEL: &str = "sitrep_applied";

/// How often a waiter with no wake-ups looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// How often a waiter that is woken on every commit of a page looks again anyway (a wake-up
/// may be lost when the listening connection drops).
const WOKEN_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Waits until every live projection has applied the events at `positions` (those a mutation
/// just appended), polling every few milliseconds, for at most `timeout`.
pub async fn wait_until_applied(
    pool: &PgPool,
    positions: &[i64],
    timeout: Duration,
) -> Result<(), ProjectionError> {
    wait_until_applied_woken(pool, positions, timeout, None, None)
        .await
        .map(drop)
}

/// The same, looking again whenever `checkpoints` has read the checkpoints anew (it does on
/// each `NOTIFY sitrep_applied`, see [`CheckpointWatch`]) and otherwise every 50 ms, rather
/// than polling every few milliseconds: on a busy server the polls of many waiting mutations
/// were a load of their own. With `expected`, only the projections of that list are waited
/// for (those that read the events' stream type: the others' read models do not show them),
/// and one of them that has no live generation yet (a server just started) counts as not
/// having applied them either; an empty list waits for nothing. Answers the reading of the
/// checkpoints that showed them applied.
pub async fn wait_until_applied_woken(
    pool: &PgPool,
    positions: &[i64],
    timeout: Duration,
    checkpoints: Option<&CheckpointWatch>,
    expected: Option<&[&str]>,
) -> Result<Arc<LiveCheckpoints>, ProjectionError> {
    let start = Instant::now();
    // Where a projection stands once it has applied every one of the events: looked up once,
    // so that each look below reads the projections' checkpoints alone.
    let target = feed_target(pool, positions).await?;
    let timeout = timeout.saturating_sub(start.elapsed());
    wait_until_reached_woken(pool, target, timeout, checkpoints, expected).await
}

/// [`wait_until_applied_woken`] for events whose place in the feed the caller knows: `target`
/// is the feed cursor just past the last of them (an append answers it,
/// [`sitrep_domain::store::AppendResult::feed_end`]), so nothing is looked up first; `None`
/// waits for nothing. Call it after the events committed. Answers the reading of the
/// checkpoints that showed them applied: the live generations it names hold the events (a
/// reader may read them there, see [`LiveCheckpoints::schema_of`]).
pub async fn wait_until_reached_woken(
    pool: &PgPool,
    target: Option<FeedCursor>,
    timeout: Duration,
    checkpoints: Option<&CheckpointWatch>,
    expected: Option<&[&str]>,
) -> Result<Arc<LiveCheckpoints>, ProjectionError> {
    let start = Instant::now();
    let deadline = start
        .checked_add(timeout)
        .unwrap_or(start + Duration::from_secs(86_400));
    let mut latest = checkpoints.map(|watch| watch.latest.clone());
    let _under_way = checkpoints.map(CheckpointWatch::begin_wait);
    loop {
        let now = Instant::now();
        // A reading begun after the events were appended (the wait starts after their
        // commit) says whether they are applied; an older one says nothing of them. Without
        // one the wait looks itself: each time when it polls, and once more at the deadline.
        let reading = latest.as_mut().and_then(|latest| {
            let reading = latest.borrow_and_update().clone();
            (reading.read_at >= start).then_some(reading)
        });
        let reading = match reading {
            Some(reading) => Some(reading),
            None if latest.is_none() || now >= deadline => {
                Some(Arc::new(live_checkpoints(pool).await?))
            }
            None => None,
        };
        if let Some(reading) = reading.filter(|r| r.has_applied(target, expected)) {
            return Ok(reading);
        }
        if now >= deadline {
            return Err(ProjectionError::Timeout(timeout));
        }
        let wait = deadline - now;
        match latest.as_mut() {
            Some(receiver) => {
                match tokio::time::timeout(WOKEN_POLL_INTERVAL.min(wait), receiver.changed()).await
                {
                    Ok(Ok(())) => {}
                    // No new reading for a while (a wake-up lost while the listening
                    // connection was re-opened, say): look directly.
                    Err(_) => {
                        let reading = live_checkpoints(pool).await?;
                        if reading.has_applied(target, expected) {
                            return Ok(Arc::new(reading));
                        }
                    }
                    // The watch is gone: poll.
                    Ok(Err(_)) => latest = None,
                }
            }
            None => tokio::time::sleep(POLL_INTERVAL.min(wait)).await,
        }
    }
}

/// The feed cursor of the last of the events at `positions` in feed order (`None` when none
/// is stored): a projection has applied them all once its checkpoint has reached it.
///
/// Each position is looked up by itself (the `OFFSET 0` keeps the lateral subquery from being
/// turned into a join), a key lookup whatever the planner knows of `events`: a server's first
/// minute, before the table was ever analyzed, had planned `position = ANY($1)` as a scan of
/// the whole log, run on every wake-up of every waiting mutation.
async fn feed_target(
    pool: &PgPool,
    positions: &[i64],
) -> Result<Option<FeedCursor>, ProjectionError> {
    let row: Option<(i64, i64)> = sqlx::query_as(FEED_TARGET_SQL)
        .bind(positions)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(tx_id, position)| FeedCursor::new(tx_id as u64, position)))
}

const FEED_TARGET_SQL: &str =
    "SELECT e.tx_id::text::int8, e.position FROM unnest($1::int8[]) AS p(position) \
      CROSS JOIN LATERAL (SELECT tx_id, position FROM events \
                           WHERE events.position = p.position OFFSET 0) e \
      ORDER BY e.tx_id DESC, e.position DESC LIMIT 1";

/// The live generations' checkpoints, as read at one moment.
#[derive(Debug)]
pub struct LiveCheckpoints {
    /// Taken before the statement was sent: the reading shows every commit before it.
    read_at: Instant,
    /// Each live generation.
    live: Vec<LiveGeneration>,
}

/// One live generation as a reading found it.
#[derive(Debug)]
struct LiveGeneration {
    projection: String,
    /// Where its tables are.
    schema: String,
    cursor: FeedCursor,
}

impl LiveCheckpoints {
    /// The schema of `projection`'s live generation when the reading was taken. Once a reading
    /// shows events applied, that schema holds them even if a rebuild has switched since: a
    /// retired generation is dropped only at the switch after next.
    pub fn schema_of(&self, projection: &str) -> Option<&str> {
        self.live
            .iter()
            .find(|live| live.projection == projection)
            .map(|live| live.schema.as_str())
    }

    /// Whether the live projections (those of `expected` only, when given) have applied the
    /// events up to `target`; with `expected`, one of them without a live generation has not.
    fn has_applied(&self, target: Option<FeedCursor>, expected: Option<&[&str]>) -> bool {
        let waited_for = |name: &str| expected.is_none_or(|names| names.contains(&name));
        let all_applied = self
            .live
            .iter()
            .filter(|live| waited_for(&live.projection))
            .all(|live| target.is_none_or(|target| live.cursor >= target));
        let all_live = expected.is_none_or(|names| {
            names
                .iter()
                .all(|name| self.live.iter().any(|live| live.projection == *name))
        });
        all_applied && all_live
    }
}

/// Reads the live generations' checkpoints.
async fn live_checkpoints(pool: &PgPool) -> Result<LiveCheckpoints, ProjectionError> {
    let read_at = Instant::now();
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT projection, schema_name, cursor_tx::text::int8, cursor_position \
           FROM projection_generations WHERE status = 'live'",
    )
    .fetch_all(pool)
    .await?;
    Ok(LiveCheckpoints {
        read_at,
        live: rows
            .into_iter()
            .map(|(projection, schema, tx_id, position)| LiveGeneration {
                projection,
                schema,
                cursor: FeedCursor::new(tx_id as u64, position),
            })
            .collect(),
    })
}

/// How long the reader of a [`CheckpointWatch`] waits for a wake-up before it reads anyway.
const CHECKPOINTS_REREAD: Duration = Duration::from_millis(250);

/// One reading of the live checkpoints per commit of a page, shared by every waiting mutation
/// of a process: each waiter compares its events with the latest reading instead of asking the
/// database itself on every wake-up (sixteen waiters made sixteen queries per page).
#[derive(Clone)]
pub struct CheckpointWatch {
    latest: watch::Receiver<Arc<LiveCheckpoints>>,
    /// How many waits are under way: the reader reads only while there is one.
    waits: Arc<AtomicUsize>,
    /// Wakes the reader when a wait begins.
    wait_begun: Arc<Notify>,
}

/// A wait under way, counted by its [`CheckpointWatch`] until it is dropped (when the wait
/// ends, or its request is cancelled).
struct WaitUnderWay {
    waits: Arc<AtomicUsize>,
}

impl Drop for WaitUnderWay {
    fn drop(&mut self) {
        self.waits.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CheckpointWatch {
    /// Starts the reader: while a mutation waits, it reads the checkpoints as soon as the wait
    /// begins, each time `applied` changes (on each `NOTIFY sitrep_applied`), and every 250 ms;
    /// while none waits it reads nothing. It stops when every watch is dropped.
    pub fn spawn(pool: PgPool, mut applied: watch::Receiver<u64>) -> Self {
        let (sender, latest) = watch::channel(Arc::new(LiveCheckpoints {
            // Older than any wait: says nothing until the first reading.
            read_at: Instant::now(),
            live: Vec::new(),
        }));
        let waits = Arc::new(AtomicUsize::new(0));
        let wait_begun = Arc::new(Notify::new());
        let (reader_waits, reader_wait_begun) = (Arc::clone(&waits), Arc::clone(&wait_begun));
        tokio::spawn(async move {
            let mut woken = true;
            while !sender.is_closed() {
                if reader_waits.load(Ordering::SeqCst) == 0 {
                    // Now and then, to see whether the watches are gone.
                    let _ = tokio::time::timeout(CHECKPOINTS_REREAD, reader_wait_begun.notified())
                        .await;
                    continue;
                }
                applied.borrow_and_update();
                match live_checkpoints(&pool).await {
                    Ok(reading) => {
                        sender.send_replace(Arc::new(reading));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the projections' checkpoints")
                    }
                }
                if woken {
                    woken = matches!(
                        tokio::time::timeout(CHECKPOINTS_REREAD, applied.changed()).await,
                        Ok(Ok(())) | Err(_)
                    );
                } else {
                    tokio::time::sleep(CHECKPOINTS_REREAD).await;
                }
            }
        });
        Self {
            latest,
            waits,
            wait_begun,
        }
    }

    /// Counts a wait as under way until the returned value is dropped, and wakes the reader.
    fn begin_wait(&self) -> WaitUnderWay {
        self.waits.fetch_add(1, Ordering::SeqCst);
        // A permit is kept if the reader is not waiting for it yet.
        self.wait_begun.notify_one();
        WaitUnderWay {
            waits: Arc::clone(&self.waits),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sitrep_domain::store::FeedCursor;

    use super::{
        wait_until_applied_woken, CheckpointWatch, LiveCheckpoints, LiveGeneration,
        CHECKPOINTS_REREAD, FEED_TARGET_SQL,
    };

    #[tokio::test]
    async fn the_checkpoint_reader_reads_only_while_a_mutation_waits() {
        let db = sitrep_testkit::TestDb::new(&sitrep_domain::MIGRATOR).await;
        let (_applied, woken) = tokio::sync::watch::channel(0u64);
        let watch = CheckpointWatch::spawn(db.pool.clone(), woken);
        let started = watch.latest.borrow().read_at;
        tokio::time::sleep(CHECKPOINTS_REREAD * 3).await;
        assert_eq!(
            watch.latest.borrow().read_at,
            started,
            "nothing is read while no mutation waits"
        );
        // With no events to wait for, the wait ends with the first reading after it began.
        wait_until_applied_woken(&db.pool, &[], Duration::from_secs(5), Some(&watch), None)
            .await
            .expect("a reading");
        assert!(watch.latest.borrow().read_at > started);
    }

    #[test]
    fn a_reading_says_applied_when_every_projection_waited_for_is_live_and_past_the_target() {
        let at = |tx_id, position| FeedCursor::new(tx_id, position);
        let reading = LiveCheckpoints {
            read_at: Instant::now(),
            live: [
                ("incidents", at(10, 40)),
                ("actors", at(10, 39)),
                ("troops", at(9, 50)),
            ]
            .map(|(projection, cursor)| LiveGeneration {
                projection: projection.into(),
                schema: format!("rm_{projection}_1"),
                cursor,
            })
            .into(),
        };
        let both = Some(&["incidents", "actors"][..]);
        assert!(reading.has_applied(Some(at(10, 39)), both));
        assert!(
            !reading.has_applied(Some(at(10, 40)), both),
            "actors is behind"
        );
        assert!(reading.has_applied(Some(at(10, 40)), Some(&["incidents"][..])));
        // Feed order is the transaction's id first: a checkpoint in a later transaction is
        // past a larger position of an earlier one.
        assert!(reading.has_applied(Some(at(9, 60)), Some(&["incidents"][..])));
        assert!(!reading.has_applied(Some(at(9, 60)), Some(&["troops"][..])));
        assert!(reading.has_applied(Some(at(9, 50)), Some(&["troops"][..])));
        // Without a list, every live projection is waited for.
        assert!(!reading.has_applied(Some(at(10, 1)), None));
        assert!(reading.has_applied(Some(at(9, 1)), None));
        // One waited for without a live generation has not applied anything.
        assert!(!reading.has_applied(None, Some(&["negotiations"][..])));
        assert!(reading.has_applied(None, Some(&[][..])));
        assert!(reading.has_applied(None, None));
    }

    /// A prepared statement's plan after its fifth run is generic, and on a server's new
    /// database `events` has never been analyzed: the lookup of a waiting mutation's events
    /// must still go by key.
    #[tokio::test]
    async fn the_waits_lookup_goes_by_key_under_a_generic_plan_on_an_unanalyzed_log() {
        let db = sitrep_testkit::TestDb::new(&sitrep_domain::MIGRATOR).await;
        let plan = db.generic_plan(FEED_TARGET_SQL, "int8[]", "'{1,2}'").await;
        assert!(
            plan.contains("events_pkey") && !plan.contains("Seq Scan on events"),
            "{plan}"
        );
    }
}
