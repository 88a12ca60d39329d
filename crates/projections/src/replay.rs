//! Replays: a read model built from a prefix of the log into a schema of its own, for audits.
//!
//! A replay is not a generation: it has no row in `projection_generations`, is never made live
//! and has no checkpoint, so building one never disturbs the live read models or the
//! projectors. It applies, in feed order, the events a [`Bound`] admits:
//!
//! - [`Bound::RecordedUntil`]: every event recorded at or before a time, so that the replay shows
//!   what sitrep knew then (`sitrep replay --until T`). The whole visible feed is read, because
//!   feed order is commit order and recorded time is a transaction's start: a transaction that
//!   started before T and committed later is in the feed after events recorded after T.
//! - [`Bound::Through`]: every event up to a feed position (a live generation's checkpoint), so
//!   that a fresh build can be compared with the live one at the same place in the feed
//!   (`compareProjections`).
//!
//! Its schema is named `rm_replay_<projection>_<n>` when it is kept for an auditor to query, and
//! `rm_scratch_<projection>_<n>` when it is only built to be checksummed and then dropped
//! ([`ReplayKind`]); `<n>` is one more than the largest such number in the database. Both have
//! the shape of a generation's schema, so the read models' query functions read them like a
//! live generation. A process that dies while building leaves its schema behind: a
//! `rm_scratch_*` schema is never in use by anyone once its builder is gone, and may be dropped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sitrep_domain::store::{EventStore, FeedCursor, StoredEvent};
use sqlx::PgPool;

use crate::checksum::{checksum_schema, Checksum};
use crate::error::ProjectionError;
use crate::generation::{search_path_statement, set_search_path};
use crate::projection::Projection;

/// Events read from the feed at a time.
const PAGE_SIZE: u32 = 1000;
/// How often, and how long apart, a replay bounded by recorded time looks again at a feed whose
/// end an open transaction holds back (its events may have been recorded before the bound).
const HELD_BACK_RETRIES: u32 = 200;
const HELD_BACK_WAIT: Duration = Duration::from_millis(10);

/// Which events of the feed a replay applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Those recorded at or before this time.
    RecordedUntil(DateTime<Utc>),
    /// Those at or before this feed cursor (a generation's checkpoint: just past its last event).
    Through(FeedCursor),
}

impl Bound {
    fn admits(self, event: &StoredEvent) -> bool {
        match self {
            Self::RecordedUntil(until) => event.recorded_at <= until,
            Self::Through(cursor) => event.cursor() <= cursor,
        }
    }

    /// Whether no event after `event` in feed order can be admitted.
    fn is_past(self, event: &StoredEvent) -> bool {
        match self {
            Self::RecordedUntil(_) => false,
            Self::Through(cursor) => event.cursor() > cursor,
        }
    }
}

/// Whether a replay's schema is kept or dropped after use; it decides the schema's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKind {
    /// Kept for auditors to query: `rm_replay_<projection>_<n>`.
    Kept,
    /// Checksummed and dropped: `rm_scratch_<projection>_<n>`.
    Scratch,
}

impl ReplayKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Kept => "rm_replay_",
            Self::Scratch => "rm_scratch_",
        }
    }
}

/// A read model replayed into a schema of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub projection: String,
    /// Its schema (`rm_replay_incidents_3`).
    pub schema: String,
    /// Events of the feed it applied (every event the bound admits, also those the projection
    /// had no use for).
    pub events_applied: i64,
    /// Just past the last event it applied ([`FeedCursor::START`] when none).
    pub cursor: FeedCursor,
    /// True when a transaction still open when the replay ended held events back from it
    /// (events recorded before its time may be among them): the replay may lack them, and a
    /// later replay of the same time may differ.
    pub held_back: bool,
}

/// Builds `projection` from the events of the feed `bound` admits into a new schema of `kind`,
/// with its query indexes. On an error the schema is dropped again.
pub async fn build(
    store: &EventStore,
    projection: &dyn Projection,
    kind: ReplayKind,
    bound: Bound,
) -> Result<Replay, ProjectionError> {
    let mut built = build_many(store, &[projection], kind, bound).await?;
    built
        .pop()
        .ok_or(ProjectionError::Unknown(projection.name().to_owned()))
}

/// The same for several projections at once, reading the feed once: one replay each, in the
/// order given. On an error every schema it created is dropped again.
pub async fn build_many(
    store: &EventStore,
    projections: &[&dyn Projection],
    kind: ReplayKind,
    bound: Bound,
) -> Result<Vec<Replay>, ProjectionError> {
    let pool = store.pool();
    let mut replays = Vec::with_capacity(projections.len());
    let mut outcome = Ok(());
    for projection in projections {
        match create_schema(pool, *projection, kind).await {
            Ok(schema) => replays.push(Replay {
                projection: projection.name().to_owned(),
                schema,
                events_applied: 0,
                cursor: FeedCursor::START,
                held_back: false,
            }),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    if outcome.is_ok() {
        outcome = fill(store, projections, bound, &mut replays).await;
    }
    match outcome {
        Ok(()) => Ok(replays),
        Err(error) => {
            for replay in &replays {
                if let Err(dropped) = drop_schema(pool, &replay.schema).await {
                    tracing::warn!(schema = replay.schema, error = %dropped,
                        "could not drop a failed replay's schema");
                }
            }
            Err(error)
        }
    }
}

/// The checksum of a replay's rows (as [`crate::checksum::checksum`] computes a generation's).
pub async fn checksum(
    pool: &PgPool,
    projection: &dyn Projection,
    replay: &Replay,
) -> Result<Checksum, ProjectionError> {
    checksum_schema(pool, projection, &replay.schema).await
}

/// Drops a replay's schema and everything in it. Refuses any schema that is not a replay's.
pub async fn drop_schema(pool: &PgPool, schema: &str) -> Result<(), ProjectionError> {
    if !is_replay_schema(schema) {
        return Err(ProjectionError::NotAGeneration(schema.to_owned()));
    }
    // Checked above: a constant prefix, lower-case letters, `_` and digits.
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether `schema` is a replay's (kept or scratch) and of a generation's shape.
pub fn is_replay_schema(schema: &str) -> bool {
    (schema.starts_with(ReplayKind::Kept.prefix())
        || schema.starts_with(ReplayKind::Scratch.prefix()))
        && crate::generation::is_generation_schema(schema)
}

/// Creates the next schema of `kind` for `projection`, with the projection's empty tables.
async fn create_schema(
    pool: &PgPool,
    projection: &dyn Projection,
    kind: ReplayKind,
) -> Result<String, ProjectionError> {
    let name = projection.name();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(ProjectionError::Unknown(name.to_owned()));
    }
    let stem = format!("{}{name}_", kind.prefix());
    let mut tx = pool.begin().await?;
    // One creator of such schemas at a time, so that two never pick the same number.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sitrep replay ddl ' || $1))")
        .bind(&stem)
        .execute(&mut *tx)
        .await?;
    let number: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(substr(nspname, length($1) + 1)::bigint), 0) + 1 \
           FROM pg_namespace \
          WHERE starts_with(nspname, $1) AND substr(nspname, length($1) + 1) ~ '^[0-9]{1,18}$'",
    )
    .bind(&stem)
    .fetch_one(&mut *tx)
    .await?;
    let schema = format!("{stem}{number}");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *tx)
        .await?;
    set_search_path(&mut tx, &schema).await?;
    // Without arguments a string runs as a simple query, several statements at once.
    sqlx::Executor::execute(&mut *tx, projection.ddl()).await?;
    sqlx::Executor::execute(&mut *tx, projection.indexes()).await?;
    tx.commit().await?;
    Ok(schema)
}

/// Applies the events `bound` admits to each of `replays` (one per projection, in the same
/// order), page by page, each page and replay in a transaction.
async fn fill(
    store: &EventStore,
    projections: &[&dyn Projection],
    bound: Bound,
    replays: &mut [Replay],
) -> Result<(), ProjectionError> {
    let mut read = FeedCursor::START;
    let mut retries = 0;
    loop {
        let page = store.read_feed(read, PAGE_SIZE).await?;
        if page.events.is_empty() {
            if !page.held_back || matches!(bound, Bound::Through(_)) {
                return Ok(());
            }
            // Events recorded before the bound may still be in an open transaction: give it a
            // moment to commit (a replay bounded by a checkpoint needs no wait: everything up
            // to a checkpoint was visible to its projector).
            retries += 1;
            if retries > HELD_BACK_RETRIES {
                tracing::warn!(
                    "replay: an open transaction still holds the feed back; \
                     its events are not in the replay"
                );
                for replay in replays.iter_mut() {
                    replay.held_back = true;
                }
                return Ok(());
            }
            tokio::time::sleep(HELD_BACK_WAIT).await;
            continue;
        }
        read = page.next;
        let past = page.events.iter().any(|e| bound.is_past(e));
        let admitted: Vec<StoredEvent> = page
            .events
            .into_iter()
            .filter(|e| bound.admits(e))
            .collect();
        if let Some(last) = admitted.last() {
            let cursor = last.cursor();
            for (projection, replay) in projections.iter().zip(replays.iter_mut()) {
                let mut tx = store
                    .pool()
                    .begin_with(format!(
                        "BEGIN; SET LOCAL synchronous_commit = off; {}",
                        search_path_statement(&replay.schema)
                    ))
                    .await?;
                projection.apply(&mut tx, &admitted).await?;
                tx.commit().await?;
                replay.events_applied += admitted.len() as i64;
                replay.cursor = cursor;
            }
        }
        if past {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_replay_schema;

    #[test]
    fn only_replay_schemas_pass() {
        assert!(is_replay_schema("rm_replay_incidents_3"));
        assert!(is_replay_schema("rm_scratch_troops_12"));
        for bad in [
            "rm_incidents_3",
            "rm_replay_incidents",
            "rm_scratch_x_1; DROP",
            "public",
        ] {
            assert!(!is_replay_schema(bad), "{bad}");
        }
    }
}
