//! Appending events: optimistic concurrency, idempotency and the hash link in one statement.
//!
//! The fast path is a single statement per append. When the store already knows the hash at the
//! expected version (a new stream links to the genesis hash; a stream it has just written or read
//! is in [`StreamHeads`]) it is a plain `INSERT` that links to it ([`APPEND_LINKED_SQL`],
//! [`APPEND_LINKED_ONE_SQL`]); otherwise an `INSERT … SELECT` reads the head at the expected
//! version first ([`APPEND_SQL`], [`APPEND_ONE_SQL`]). Either way the unique key
//! `(stream_id, stream_version)` makes a concurrent writer at the same version fail rather than
//! fork the stream. Only when the statement inserts nothing or hits a unique key does the slow
//! path ([`diagnose`]) run to tell an idempotent retry from a conflict.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::digest::{canonical_json, to_micros_precision, DigestInput, GENESIS_HASH};
use super::error::StoreError;
use super::event::{AppendResult, ExpectedVersion, NewEvent, StoredEvent, StreamRef};
use super::heads::{KnownHead, StreamHeads};
use super::row::{EventRow, EVENT_COLUMNS};
use super::validate::check_append;
use super::EventStore;

/// The append statement. Parameters: $1 stream type, $2 stream id, $3 expected version (-1 any,
/// 0 no stream), $4..$16 the events' columns as arrays and $17..$26 the values of columns that
/// are the same for every event (see [`EventColumns`] and `append_batch.sql`).
static APPEND_SQL: LazyLock<String> =
    LazyLock::new(|| with_head(&with_insert(include_str!("append.sql"))));

/// The same for a single event, with scalar parameters in the same order: the common case
/// (a mutation recording one fact) skips the arrays and the chain function.
static APPEND_ONE_SQL: LazyLock<String> =
    LazyLock::new(|| with_head(include_str!("append_one.sql")));

/// The append of several events to a head the store already knows ([`StreamHeads`]): no head
/// lookup. Parameters as [`APPEND_SQL`], with $3 the head's version and $27 its hash.
static APPEND_LINKED_SQL: LazyLock<String> =
    LazyLock::new(|| with_insert(include_str!("append_linked.sql")));

/// The same for a single event: a plain `INSERT`.
const APPEND_LINKED_ONE_SQL: &str = include_str!("append_linked_one.sql");

/// Where the statements take the shared head lookup (`append_head.sql`).
const HEAD_PLACEHOLDER: &str = "-- {head} (append_head.sql) goes here.";

fn with_head(template: &str) -> String {
    template.replace(HEAD_PLACEHOLDER, include_str!("append_head.sql"))
}

/// Where the batch statements take the shared insert (`append_batch.sql`).
const INSERT_PLACEHOLDER: &str = "-- {insert} (append_batch.sql) goes here.";

fn with_insert(template: &str) -> String {
    template.replace(INSERT_PLACEHOLDER, include_str!("append_batch.sql"))
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
        let (result, head_hash) = append_on(
            &mut conn,
            &self.heads,
            stream,
            expected,
            events,
            Savepoint::No,
        )
        .await?;
        if !result.replayed {
            // Committed: the statement ran in a transaction of its own.
            if let Some(hash) = head_hash {
                self.heads.record(stream, result.version, &hash);
            }
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
        // The caller's transaction may still roll back: its head is not a fact to remember.
        let (result, _) =
            append_on(conn, &self.heads, stream, expected, events, Savepoint::Yes).await?;
        Ok(result)
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

/// The append: the one-statement fast path, and the diagnosis when it stores nothing. Returns
/// the result and, when it wrote, the hash of the stream's new head.
async fn append_on(
    conn: &mut PgConnection,
    heads: &StreamHeads,
    stream: &StreamRef,
    expected: ExpectedVersion,
    events: &[NewEvent],
    savepoint: Savepoint,
) -> Result<(AppendResult, Option<Vec<u8>>), StoreError> {
    let columns = EventColumns::new(stream, events);
    let known = match expected {
        ExpectedVersion::NoStream => Some(KnownHead {
            version: 0,
            hash: GENESIS_HASH.to_vec(),
        }),
        ExpectedVersion::Exact(version) => heads.get(stream, version),
        ExpectedVersion::Any => None,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match insert_guarded(conn, stream, expected, known.as_ref(), &columns, savepoint).await {
            Ok(Some(written)) => return Ok((written.result, Some(written.head_hash))),
            Ok(None) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
        match diagnose(conn, stream, expected, events, &columns.digest).await? {
            Diagnosis::Replayed(result) => return Ok((result, None)),
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
    known: Option<&KnownHead>,
    columns: &EventColumns<'_>,
    savepoint: Savepoint,
) -> Result<Option<Written>, sqlx::Error> {
    if savepoint == Savepoint::No {
        return insert(conn, stream, expected, known, columns).await;
    }
    sqlx::query("SAVEPOINT sitrep_append")
        .execute(&mut *conn)
        .await?;
    let outcome = insert(conn, stream, expected, known, columns).await;
    let end = if outcome.is_ok() {
        "RELEASE SAVEPOINT sitrep_append"
    } else {
        "ROLLBACK TO SAVEPOINT sitrep_append"
    };
    sqlx::query(end).execute(&mut *conn).await?;
    outcome
}

/// What an append statement wrote.
struct Written {
    result: AppendResult,
    /// The hash of the stream's new head.
    head_hash: Vec<u8>,
}

/// Runs the append statement; `None` when it inserted nothing (the expected head is missing).
/// With a `known` head it links to it directly; otherwise the statement reads the head at the
/// expected version first.
async fn insert(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    known: Option<&KnownHead>,
    columns: &EventColumns<'_>,
) -> Result<Option<Written>, sqlx::Error> {
    let one = columns.event_id.len() == 1;
    let sql = match (known.is_some(), one) {
        (true, true) => APPEND_LINKED_ONE_SQL,
        (true, false) => APPEND_LINKED_SQL.as_str(),
        (false, true) => APPEND_ONE_SQL.as_str(),
        (false, false) => APPEND_SQL.as_str(),
    };
    let head_version = match known {
        Some(head) => i64::try_from(head.version).unwrap_or(i64::MAX),
        None => expected.as_sql(),
    };
    let query = sqlx::query_as::<_, InsertedRow>(sql)
        .bind(&stream.stream_type)
        .bind(stream.stream_id)
        .bind(head_version);
    let query = if one {
        query
            .bind(columns.event_id[0])
            .bind(columns.event_type[0])
            .bind(columns.schema_version[0])
            .bind(columns.payload[0])
            .bind(columns.valid_from[0])
            .bind(columns.valid_to[0])
            .bind(columns.valid_precision[0])
            .bind(columns.recorded_by[0])
            .bind(columns.reason[0])
            .bind(columns.causation_id[0])
            .bind(columns.correlation_id[0])
            .bind(&columns.metadata[0])
            .bind(&columns.digest[0])
    } else {
        let (event_type, event_type_all) = uniform(&columns.event_type);
        let (schema_version, schema_version_all) = uniform(&columns.schema_version);
        let (valid_from, valid_from_all) = uniform_optional(&columns.valid_from);
        let (valid_to, valid_to_all) = uniform_optional(&columns.valid_to);
        let (valid_precision, valid_precision_all) = uniform_optional(&columns.valid_precision);
        let (recorded_by, recorded_by_all) = uniform(&columns.recorded_by);
        let (reason, reason_all) = uniform_optional(&columns.reason);
        let (causation_id, causation_id_all) = uniform_optional(&columns.causation_id);
        let (correlation_id, correlation_id_all) = uniform_optional(&columns.correlation_id);
        let (metadata, metadata_all) = uniform(&columns.metadata);
        query
            .bind(&columns.event_id)
            .bind(event_type)
            .bind(schema_version)
            .bind(&columns.payload)
            .bind(valid_from)
            .bind(valid_to)
            .bind(valid_precision)
            .bind(recorded_by)
            .bind(reason)
            .bind(causation_id)
            .bind(correlation_id)
            .bind(metadata)
            .bind(&columns.digest)
            .bind(event_type_all)
            .bind(schema_version_all)
            .bind(valid_from_all)
            .bind(valid_to_all)
            .bind(valid_precision_all)
            .bind(recorded_by_all)
            .bind(reason_all)
            .bind(causation_id_all)
            .bind(correlation_id_all)
            .bind(metadata_all)
    };
    let query = match known {
        Some(head) => query.bind(&head.hash),
        None => query,
    };
    // Every form answers one row: positions, the new version, the recorded time, the head's hash
    // (no row, or all NULL, when nothing was inserted).
    let row: Option<InsertedRow> = query.fetch_optional(&mut *conn).await?;
    let Some((Some(positions), Some(version), Some(recorded_at), Some(head_hash))) = row else {
        return Ok(None);
    };
    Ok(Some(Written {
        result: AppendResult {
            stream: stream.clone(),
            version: version.unsigned_abs(),
            positions,
            event_ids: columns.event_id.clone(),
            recorded_at,
            replayed: false,
        },
        head_hash,
    }))
}

/// A batch column as the statement takes it: when every event has the same value, an empty
/// array and that value; otherwise the whole column and no value.
fn uniform<T: PartialEq + Clone>(column: &[T]) -> (&[T], Option<T>) {
    match column.split_first() {
        Some((first, rest)) if rest.iter().all(|v| v == first) => (&[], Some(first.clone())),
        _ => (column, None),
    }
}

/// [`uniform`] for a nullable column: a column of NULLs is an empty array and no value.
fn uniform_optional<T: PartialEq + Clone>(column: &[Option<T>]) -> (&[Option<T>], Option<T>) {
    let (column, value) = uniform(column);
    (column, value.flatten())
}

/// The row an append statement answers.
type InsertedRow = (
    Option<Vec<i64>>,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<Vec<u8>>,
);

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
struct EventColumns<'a> {
    event_id: Vec<Uuid>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i32>,
    /// Canonical JSON text ([`canonical_json`]): what is stored, and what the digest covers.
    payload: Vec<&'a str>,
    valid_from: Vec<Option<DateTime<Utc>>>,
    valid_to: Vec<Option<DateTime<Utc>>>,
    valid_precision: Vec<Option<&'a str>>,
    recorded_by: Vec<&'a str>,
    reason: Vec<Option<&'a str>>,
    causation_id: Vec<Option<Uuid>>,
    correlation_id: Vec<Option<Uuid>>,
    metadata: Vec<String>,
    /// Content digests ([`DigestInput::digest`]), linked into hashes by the statement.
    digest: Vec<Vec<u8>>,
}

impl<'a> EventColumns<'a> {
    fn new(stream: &StreamRef, events: &'a [NewEvent]) -> Self {
        let payload: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
        let metadata: Vec<String> = events.iter().map(|e| canonical_json(&e.metadata)).collect();
        let digest = events
            .iter()
            .zip(payload.iter().zip(&metadata))
            .map(|(e, (p, m))| DigestInput::of_new(stream, e, p, m).digest().to_vec())
            .collect();
        Self {
            event_id: events.iter().map(|e| e.event_id).collect(),
            event_type: events.iter().map(|e| e.event_type.as_str()).collect(),
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
                .map(|e| e.valid_time.as_ref().and_then(|v| v.precision.as_deref()))
                .collect(),
            recorded_by: events.iter().map(|e| e.recorded_by.as_str()).collect(),
            reason: events.iter().map(|e| e.reason.as_deref()).collect(),
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
    use super::*;

    #[test]
    fn the_statements_take_their_shared_parts() {
        for sql in [APPEND_SQL.as_str(), APPEND_ONE_SQL.as_str()] {
            assert!(!sql.contains("{head}"), "placeholder left in:\n{sql}");
            assert!(sql.contains("head AS (") && sql.contains("base AS ("));
        }
        for sql in [APPEND_SQL.as_str(), APPEND_LINKED_SQL.as_str()] {
            assert!(!sql.contains("{insert}"), "placeholder left in:\n{sql}");
            assert!(sql.contains("inserted AS (") && sql.contains("links AS ("));
        }
    }

    #[test]
    fn uniform_columns_travel_as_one_value() {
        assert_eq!(uniform(&["a", "a"]), (&[][..], Some("a")));
        assert_eq!(uniform(&["a", "b"]), (&["a", "b"][..], None));
        assert_eq!(uniform_optional(&[None::<i32>, None]), (&[][..], None));
        assert_eq!(uniform_optional(&[Some(1), Some(1)]), (&[][..], Some(1)));
        assert_eq!(
            uniform_optional(&[Some(1), None]),
            (&[Some(1), None][..], None)
        );
    }

    /// The linked path really links to the remembered head: a (deliberately) wrong remembered
    /// hash ends up as the next event's `prev_hash`, which verification reports. (The cache
    /// only ever holds committed facts; this plants a false one to show it is used.)
    #[tokio::test]
    async fn an_append_links_to_the_head_the_store_remembers() {
        use crate::store::{EventStore, IntegrityProblem};
        let db = sitrep_testkit::TestDb::new(&crate::MIGRATOR).await;
        let store = EventStore::new(db.pool.clone());
        let stream = StreamRef::new("incident", uuid::Uuid::new_v4());
        let event =
            |n: u64| NewEvent::new("IncidentReported", serde_json::json!({ "n": n }), "test");
        store
            .append(&stream, ExpectedVersion::NoStream, &[event(1)])
            .await
            .expect("first");
        let first_position = store
            .read_stream(stream.stream_id, crate::store::StreamRange::All)
            .await
            .expect("read")[0]
            .position;
        store.heads.record(&stream, 1, &[9; 32]);
        store
            .append(&stream, ExpectedVersion::Exact(1), &[event(2)])
            .await
            .expect("second");
        let report = store.verify().await.expect("verify");
        let broken = report.first_break.expect("a broken link");
        assert!(broken.position > first_position);
        assert!(
            matches!(broken.problem, IntegrityProblem::BrokenLink { .. }),
            "{broken:?}"
        );
    }
}
