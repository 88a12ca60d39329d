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
    loop {
        // Seen before looking, so that a commit during the look wakes the wait below.
        if let Some(applied) = applied.as_mut() {
            applied.borrow_and_update();
        }
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS ( \
                 SELECT 1 FROM events e JOIN projection_generations g ON g.status = 'live' \
                  WHERE e.position = ANY($1) \
                    AND ($3 OR g.projection = ANY($2)) \
                    AND (e.tx_id, e.position) > (g.cursor_tx, g.cursor_position)) \
                 OR (SELECT count(DISTINCT projection) FROM projection_generations \
                      WHERE status = 'live' AND projection = ANY($2)) < cardinality($2)",
        )
        .bind(positions)
        .bind(expected.unwrap_or_default())
        .bind(expected.is_none())
        .fetch_one(pool)
        .await?;
        if !pending {
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
