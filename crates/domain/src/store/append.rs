//! Appending events: optimistic concurrency, idempotency and the hash link in one statement.
//!
//! The fast path is a single `INSERT … SELECT` ([`APPEND_SQL`]) that reads the stream's head at
//! the expected version, links each new event's hash to it and inserts the rows. The unique key
//! `(stream_id, stream_version)` makes a concurrent writer at the same version fail rather than
//! fork the stream. Only when that statement inserts nothing or hits a unique key does the slow
//! path ([`diagnose`]) run to tell an idempotent retry from a conflict.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::digest::{canonical_json, to_micros_precision, DigestInput};
use super::error::StoreError;
use super::event::{AppendResult, ExpectedVersion, NewEvent, StoredEvent, StreamRef};
use super::row::{EventRow, EVENT_COLUMNS};
use super::validate::check_append;
use super::EventStore;

/// The append statement. Parameters: $1 stream type, $2 stream id, $3 expected version (-1 any,
/// 0 no stream), $4..$16 the events' columns as arrays (see [`EventColumns`]).
static APPEND_SQL: LazyLock<String> = LazyLock::new(|| with_head(include_str!("append.sql")));

/// The same for a single event, with scalar parameters in the same order: the common case
/// (a mutation recording one fact) skips the arrays and the chain function.
static APPEND_ONE_SQL: LazyLock<String> =
    LazyLock::new(|| with_head(include_str!("append_one.sql")));

/// Where the statements take the shared head lookup (`append_head.sql`).
const HEAD_PLACEHOLDER: &str = "-- {head} (append_head.sql) goes here.";

fn with_head(template: &str) -> String {
    template.replace(HEAD_PLACEHOLDER, include_str!("append_head.sql"))
}

/// How often an append tries again after losing a race to another writer whose transaction was
/// in the way while the expected version still holds (mostly [`ExpectedVersion::Any`]).
const RACE_ATTEMPTS: usize = 5;

/// SQLSTATE of a unique key violation.
const UNIQUE_VIOLATION: &str = "23505";

impl EventStore {
    /// Appends `events` to `stream` atomically, in a transaction of its own, if the stream is at
    /// `expected`.
    ///
    /// - Another writer got there first: [`StoreError::Conflict`] with the actual version, and
    ///   nothing is written.
    /// - Every event id is already stored with the same content (a retry): the original result
    ///   with `replayed: true`, and nothing is written. The same id with other content:
    ///   [`StoreError::IdempotencyMismatch`].
    pub async fn append(
        &self,
        stream: &StreamRef,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        check_append(stream, events)?;
        let mut conn = self.pool.acquire().await?;
        let result = append_on(&mut conn, stream, expected, events, Savepoint::No).await?;
        if !result.replayed {
            self.appended.notify_one();
        }
        Ok(result)
    }

    /// Like [`EventStore::append`], inside the caller's open transaction on `conn`: the events
    /// become visible when the caller commits, and vanish if it rolls back. A failed append
    /// leaves the caller's transaction usable (it runs under a savepoint). Call
    /// [`EventStore::notify_appended`] after the commit to wake feed readers at once.
    pub async fn append_in(
        &self,
        conn: &mut PgConnection,
        stream: &StreamRef,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        check_append(stream, events)?;
        append_on(conn, stream, expected, events, Savepoint::Yes).await
    }

    /// Tells this process's feed notifier that events were committed.
    pub fn notify_appended(&self) {
        self.appended.notify_one();
    }

    /// The stream's current version (0 when it does not exist).
    pub async fn stream_version(&self, stream_id: Uuid) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        stream_version(&mut conn, stream_id).await
    }
}

/// Whether the insert runs under a savepoint (inside a caller's transaction).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    Yes,
    No,
}

/// The append: the one-statement fast path, and the diagnosis when it stores nothing.
async fn append_on(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    events: &[NewEvent],
    savepoint: Savepoint,
) -> Result<AppendResult, StoreError> {
    let columns = EventColumns::new(stream, events);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match insert_guarded(conn, stream, expected, &columns, savepoint).await {
            Ok(Some(result)) => return Ok(result),
            Ok(None) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
        match diagnose(conn, stream, expected, events, &columns.digest).await? {
            Diagnosis::Replayed(result) => return Ok(result),
            Diagnosis::Failed(error) => return Err(error),
            Diagnosis::LostRace if attempt < RACE_ATTEMPTS => {}
            Diagnosis::LostRace => {
                let actual = stream_version(conn, stream.stream_id).await?;
                return Err(StoreError::Conflict {
                    stream_id: stream.stream_id,
                    expected,
                    actual,
                });
            }
        }
    }
}

/// [`insert`], under a savepoint when asked, so that a failure leaves the transaction usable.
async fn insert_guarded(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    columns: &EventColumns,
    savepoint: Savepoint,
) -> Result<Option<AppendResult>, sqlx::Error> {
    if savepoint == Savepoint::No {
        return insert(conn, stream, expected, columns).await;
    }
    sqlx::query("SAVEPOINT sitrep_append")
        .execute(&mut *conn)
        .await?;
    let outcome = insert(conn, stream, expected, columns).await;
    let end = if outcome.is_ok() {
        "RELEASE SAVEPOINT sitrep_append"
    } else {
        "ROLLBACK TO SAVEPOINT sitrep_append"
    };
    sqlx::query(end).execute(&mut *conn).await?;
    outcome
}

/// Runs the append statement; `None` when it inserted nothing (the expected head is missing).
async fn insert(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    columns: &EventColumns,
) -> Result<Option<AppendResult>, sqlx::Error> {
    let rows: Vec<(i64, i64, DateTime<Utc>)> = if columns.event_id.len() == 1 {
        sqlx::query_as(APPEND_ONE_SQL.as_str())
            .bind(&stream.stream_type)
            .bind(stream.stream_id)
            .bind(expected.as_sql())
            .bind(columns.event_id[0])
            .bind(&columns.event_type[0])
            .bind(columns.schema_version[0])
            .bind(&columns.payload[0])
            .bind(columns.valid_from[0])
            .bind(columns.valid_to[0])
            .bind(&columns.valid_precision[0])
            .bind(&columns.recorded_by[0])
            .bind(&columns.reason[0])
            .bind(columns.causation_id[0])
            .bind(columns.correlation_id[0])
            .bind(&columns.metadata[0])
            .bind(&columns.digest[0])
            .fetch_all(&mut *conn)
            .await?
    } else {
        sqlx::query_as(APPEND_SQL.as_str())
            .bind(&stream.stream_type)
            .bind(stream.stream_id)
            .bind(expected.as_sql())
            .bind(&columns.event_id)
            .bind(&columns.event_type)
            .bind(&columns.schema_version)
            .bind(&columns.payload)
            .bind(&columns.valid_from)
            .bind(&columns.valid_to)
            .bind(&columns.valid_precision)
            .bind(&columns.recorded_by)
            .bind(&columns.reason)
            .bind(&columns.causation_id)
            .bind(&columns.correlation_id)
            .bind(&columns.metadata)
            .bind(&columns.digest)
            .fetch_all(&mut *conn)
            .await?
    };
    let Some(&(_, last_version, recorded_at)) = rows.last() else {
        return Ok(None);
    };
    Ok(Some(AppendResult {
        stream: stream.clone(),
        version: last_version.unsigned_abs(),
        positions: rows.iter().map(|(position, _, _)| *position).collect(),
        event_ids: columns.event_id.clone(),
        recorded_at,
        replayed: false,
    }))
}

/// The stream's current version (0 when it does not exist).
async fn stream_version(conn: &mut PgConnection, stream_id: Uuid) -> Result<u64, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(stream_version) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(version.unwrap_or(0).unsigned_abs())
}

/// Why an append stored nothing: a retry of an earlier append, a conflict, or a lost race.
async fn diagnose(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    events: &[NewEvent],
    digests: &[Vec<u8>],
) -> Result<Diagnosis, StoreError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let stored: Vec<StoredEvent> = sqlx::query_as::<_, EventRow>(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ANY($1) ORDER BY position"
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(StoredEvent::from)
    .collect();
    if !stored.is_empty() {
        return Ok(replay_of(stream, events, digests, &stored));
    }

    let head: Option<(String, i64)> = sqlx::query_as(
        "SELECT stream_type, stream_version FROM events WHERE stream_id = $1 \
         ORDER BY stream_version DESC LIMIT 1",
    )
    .bind(stream.stream_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (actual_type, actual) = match head {
        Some((stream_type, version)) => (Some(stream_type), version.unsigned_abs()),
        None => (None, 0),
    };
    if let Some(actual_type) = actual_type.filter(|t| *t != stream.stream_type) {
        return Ok(Diagnosis::Failed(StoreError::StreamTypeMismatch {
            stream_id: stream.stream_id,
            requested: stream.stream_type.clone(),
            actual: actual_type,
        }));
    }
    let still_possible = match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual == 0,
        ExpectedVersion::Exact(v) => actual == v,
    };
    if still_possible {
        return Ok(Diagnosis::LostRace);
    }
    Ok(Diagnosis::Failed(StoreError::Conflict {
        stream_id: stream.stream_id,
        expected,
        actual,
    }))
}

/// The outcome of [`diagnose`].
enum Diagnosis {
    /// Every event was stored before, identically: the original result.
    Replayed(AppendResult),
    /// The append must fail with this error.
    Failed(StoreError),
    /// The expected version still holds: another writer's transaction was in the way. Try again.
    LostRace,
}

/// Decides whether `stored` (the events already stored under the append's ids) is an earlier
/// run of this very append.
fn replay_of(
    stream: &StreamRef,
    events: &[NewEvent],
    digests: &[Vec<u8>],
    stored: &[StoredEvent],
) -> Diagnosis {
    for (event, digest) in events.iter().zip(digests) {
        let Some(original) = stored.iter().find(|s| s.event_id == event.event_id) else {
            // Some ids are new, some are not: not a retry of one earlier append.
            let event_id = stored.first().map_or(event.event_id, |s| s.event_id);
            return Diagnosis::Failed(StoreError::IdempotencyMismatch { event_id });
        };
        // Same content: the same digest (it covers the stream, recorded time and version aside).
        if DigestInput::of_stored(original).digest()[..] != digest[..] {
            return Diagnosis::Failed(StoreError::IdempotencyMismatch {
                event_id: event.event_id,
            });
        }
    }
    let version = stored.iter().map(|s| s.stream_version).max().unwrap_or(0);
    let recorded_at = stored
        .iter()
        .map(|s| s.recorded_at)
        .max()
        .unwrap_or_default();
    Diagnosis::Replayed(AppendResult {
        stream: stream.clone(),
        version,
        positions: events
            .iter()
            .filter_map(|e| stored.iter().find(|s| s.event_id == e.event_id))
            .map(|s| s.position)
            .collect(),
        event_ids: events.iter().map(|e| e.event_id).collect(),
        recorded_at,
        replayed: true,
    })
}

/// The events of one append, column by column, as the statement's array parameters.
struct EventColumns {
    event_id: Vec<Uuid>,
    event_type: Vec<String>,
    schema_version: Vec<i32>,
    /// Canonical JSON text ([`canonical_json`]): what is stored, and what the digest covers.
    payload: Vec<String>,
    valid_from: Vec<Option<DateTime<Utc>>>,
    valid_to: Vec<Option<DateTime<Utc>>>,
    valid_precision: Vec<Option<String>>,
    recorded_by: Vec<String>,
    reason: Vec<Option<String>>,
    causation_id: Vec<Option<Uuid>>,
    correlation_id: Vec<Option<Uuid>>,
    metadata: Vec<String>,
    /// Content digests ([`DigestInput::digest`]), linked into hashes by the statement.
    digest: Vec<Vec<u8>>,
}

impl EventColumns {
    fn new(stream: &StreamRef, events: &[NewEvent]) -> Self {
        let payload: Vec<String> = events.iter().map(|e| canonical_json(&e.payload)).collect();
        let metadata: Vec<String> = events.iter().map(|e| canonical_json(&e.metadata)).collect();
        let digest = events
            .iter()
            .zip(payload.iter().zip(&metadata))
            .map(|(e, (p, m))| DigestInput::of_new(stream, e, p, m).digest().to_vec())
            .collect();
        Self {
            event_id: events.iter().map(|e| e.event_id).collect(),
            event_type: events.iter().map(|e| e.event_type.clone()).collect(),
            schema_version: events.iter().map(|e| e.schema_version).collect(),
            valid_from: events
                .iter()
                .map(|e| e.valid_time.as_ref().map(|v| to_micros_precision(v.from)))
                .collect(),
            valid_to: events
                .iter()
                .map(|e| {
                    e.valid_time
                        .as_ref()
                        .and_then(|v| v.to.map(to_micros_precision))
                })
                .collect(),
            valid_precision: events
                .iter()
                .map(|e| e.valid_time.as_ref().and_then(|v| v.precision.clone()))
                .collect(),
            recorded_by: events.iter().map(|e| e.recorded_by.clone()).collect(),
            reason: events.iter().map(|e| e.reason.clone()).collect(),
            causation_id: events.iter().map(|e| e.causation_id).collect(),
            correlation_id: events.iter().map(|e| e.correlation_id).collect(),
            payload,
            metadata,
            digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{APPEND_ONE_SQL, APPEND_SQL};

    #[test]
    fn both_statements_take_the_shared_head_lookup() {
        for sql in [APPEND_SQL.as_str(), APPEND_ONE_SQL.as_str()] {
            assert!(!sql.contains("{head}"), "placeholder left in:\n{sql}");
            assert!(sql.contains("head AS (") && sql.contains("base AS ("));
        }
    }
}
