//! Where each projection stands: its position in the feed and its lag, and waits for it to
//! catch up with given events (read-your-writes).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::error::ProjectionError;

/// One live projection's position and lag.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    pub projection: String,
    pub generation: i32,
    /// The position of the last event applied (0: none).
    pub position: i64,
    pub events_applied: i64,
    /// Committed events not applied yet (including those an open transaction still holds back
    /// from the feed).
    pub events_behind: i64,
    /// How long the oldest of those has waited (0 when none waits).
    pub seconds_behind: f64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
}

/// The status of every live projection.
pub async fn statuses(pool: &PgPool) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let rows: Vec<StatusRow> = sqlx::query_as(
        "SELECT g.projection, g.generation, g.cursor_position AS position, g.events_applied, \
                behind.events AS events_behind, \
                extract(epoch FROM now() - behind.oldest)::float8 AS seconds_behind, g.updated_at \
           FROM projection_generations g \
          CROSS JOIN LATERAL ( \
                SELECT count(*) AS events, min(e.recorded_at) AS oldest FROM events e \
                 WHERE (e.tx_id, e.position) > (g.cursor_tx, g.cursor_position)) behind \
          WHERE g.status = 'live' ORDER BY g.projection",
    )
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
    wait_until_applied_woken(pool, positions, timeout, None, None).await
}

/// The same, looking again whenever `applied` changes (it should change on each
/// `NOTIFY sitrep_applied`, see [`APPLIED_CHANNEL`]) and otherwise every 50 ms, rather than
/// polling every few milliseconds: on a busy server the polls of many waiting mutations were a
/// load of their own. With `expected`, only the projections of that list are waited for (those
/// that read the events' stream type: the others' read models do not show them), and one of
/// them that has no live generation yet (a server just started) counts as not having applied
/// them either; an empty list waits for nothing.
pub async fn wait_until_applied_woken(
    pool: &PgPool,
    positions: &[i64],
    timeout: Duration,
    mut applied: Option<watch::Receiver<u64>>,
    expected: Option<&[&str]>,
) -> Result<(), ProjectionError> {
    let now = Instant::now();
    let deadline = now
        .checked_add(timeout)
        .unwrap_or(now + Duration::from_secs(86_400));
    // Where a projection stands once it has applied every one of the events: looked up once,
    // so that each look below reads the projections' checkpoints alone.
    let target = feed_target(pool, positions).await?;
    loop {
        // Seen before looking, so that a commit during the look wakes the wait below.
        if let Some(applied) = applied.as_mut() {
            applied.borrow_and_update();
        }
        if has_applied(pool, target.as_ref(), expected).await? {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ProjectionError::Timeout(timeout));
        }
        match applied.as_mut() {
            Some(receiver) => {
                let wait = WOKEN_POLL_INTERVAL.min(deadline - now);
                if let Ok(Err(_)) = tokio::time::timeout(wait, receiver.changed()).await {
                    // The waker is gone: poll.
                    applied = None;
                }
            }
            None => tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await,
        }
    }
}

const FEED_TARGET_SQL: &str =
    "SELECT e.tx_id::text, e.position FROM unnest($1::int8[]) AS p(position) \
      CROSS JOIN LATERAL (SELECT tx_id, position FROM events \
                           WHERE events.position = p.position OFFSET 0) e \
      ORDER BY e.tx_id DESC, e.position DESC LIMIT 1";

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
) -> Result<Option<(String, i64)>, ProjectionError> {
    Ok(sqlx::query_as(FEED_TARGET_SQL)
        .bind(positions)
        .fetch_optional(pool)
        .await?)
}

/// Whether the live projections (those of `expected` only, when given) have applied the
/// events up to `target`; with `expected`, one of them without a live generation has not.
async fn has_applied(
    pool: &PgPool,
    target: Option<&(String, i64)>,
    expected: Option<&[&str]>,
) -> Result<bool, ProjectionError> {
    let (behind, live): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE $3::text IS NOT NULL \
                                   AND (cursor_tx, cursor_position) < ($3::text::xid8, $4)), \
                count(DISTINCT projection) \
           FROM projection_generations \
          WHERE status = 'live' AND ($2 OR projection = ANY($1))",
    )
    .bind(expected.unwrap_or_default())
    .bind(expected.is_none())
    .bind(target.map(|(tx_id, _)| tx_id.as_str()))
    .bind(target.map_or(0, |(_, position)| *position))
    .fetch_one(pool)
    .await?;
    let all_live = expected.is_none_or(|names| {
        let mut names = names.to_vec();
        names.sort_unstable();
        names.dedup();
        live == names.len() as i64
    });
    Ok(behind == 0 && all_live)
}

#[cfg(test)]
mod tests {
    use super::FEED_TARGET_SQL;

    /// A prepared statement's plan after its fifth run is generic, and on a server's new
    /// database `events` has never been analyzed: the lookup of a waiting mutation's events
    /// must still go by key.
    #[tokio::test]
    async fn the_waits_lookup_goes_by_key_under_a_generic_plan_on_an_unanalyzed_log() {
        let db = sitrep_testkit::TestDb::new(&sitrep_domain::MIGRATOR).await;
        let mut conn = db.pool.acquire().await.expect("connection");
        sqlx::query("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .expect("set");
        sqlx::query(&format!("PREPARE target(int8[]) AS {FEED_TARGET_SQL}"))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE target('{1,2}')")
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
        let plan = plan.join("\n");
        assert!(
            plan.contains("events_pkey") && !plan.contains("Seq Scan on events"),
            "{plan}"
        );
    }
}
