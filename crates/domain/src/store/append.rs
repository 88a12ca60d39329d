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
//!
//! Hash links: the one-event statements link in SQL (one `sha256` call). A batch appended in a
//! transaction of its own to a known head is linked here, in Rust, with a recorded time the store
//! takes just before sending ([`APPEND_STAMPED_SQL`]); the statement inserts only when that time
//! lies within five seconds before its own start, so the database's clock still bounds every
//! recorded time. Otherwise (a clock ahead of the database's or far behind it, a head looked up in
//! the statement, a caller's transaction) `event_hash_links` links the batch in the database with
//! the transaction's `now()`. A refused stamp is appended again that way at once (no diagnosis:
//! nothing else can have gone wrong), and the store leaves the linking to the database for a
//! minute ([`StampPause`]). Either way a stream's recorded times never decrease: a stamp is
//! never earlier than the known head's.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::digest::{link_hash, to_micros_precision, DigestInput, GENESIS_HASH};
use super::error::StoreError;
use super::event::{AppendResult, ExpectedVersion, NewEvent, StoredEvent, StreamRef};
use super::feed::FeedCursor;
use super::heads::{KnownHead, StreamHeads};
use super::row::{EventRow, EVENT_COLUMNS};
use super::stamps::StampPause;
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

/// The append of several events to a known head, linked by the store with its own recorded time
/// ($28): parameters as [`APPEND_LINKED_SQL`] but $16 holds the events' hashes.
static APPEND_STAMPED_SQL: LazyLock<String> =
    LazyLock::new(|| with_insert(include_str!("append_stamped.sql")));

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
            &self.stamps,
            stream,
            expected,
            events,
            Savepoint::No,
        )
        .await?;
        if !result.replayed {
            // Committed: the statement ran in a transaction of its own.
            if let Some(hash) = head_hash {
                self.heads
                    .record(stream, result.version, &hash, result.recorded_at);
            }
            self.appends_committed([stream.stream_type.as_str()]);
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
        let (result, _) = append_on(
            conn,
            &self.heads,
            &self.stamps,
            stream,
            expected,
            events,
            Savepoint::Yes,
        )
        .await?;
        Ok(result)
    }

    /// Tells this process's feed notifier and readers that events were committed (of unknown
    /// stream types: every reader looks).
    pub fn notify_appended(&self) {
        self.appends_committed([]);
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
    stamps: &StampPause,
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
            recorded_at: None,
        }),
        ExpectedVersion::Exact(version) => heads.get(stream, version),
        ExpectedVersion::Any => None,
    };
    // A caller's transaction keeps its own time (`now()`) for all it appends; after the
    // database refused the store's time, the store leaves it to the database for a while.
    let mut linking = match savepoint {
        Savepoint::No if stamps.allows() => Linking::ByStore,
        Savepoint::No | Savepoint::Yes => Linking::InDatabase,
    };
    let mut attempt = 0;
    loop {
        let outcome = insert_guarded(
            conn,
            stream,
            expected,
            known.as_ref(),
            &columns,
            linking,
            savepoint,
        )
        .await;
        // A stamp the database refused (or any other failure) is not tried again.
        linking = Linking::InDatabase;
        match outcome {
            Ok(Inserted::Written(written)) => return Ok((written.result, Some(written.head_hash))),
            Ok(Inserted::StampRefused) => {
                // Nothing else went wrong: straight to the database's own linking.
                stamps.refused();
                continue;
            }
            Ok(Inserted::Nothing) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
        attempt += 1;
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

/// Who links a batch to a known head: the store, with a recorded time it takes itself, or the
/// database, with the transaction's `now()`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Linking {
    ByStore,
    InDatabase,
}

/// [`insert`], under a savepoint when asked, so that a failure leaves the transaction usable.
async fn insert_guarded(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    known: Option<&KnownHead>,
    columns: &EventColumns<'_>,
    linking: Linking,
    savepoint: Savepoint,
) -> Result<Inserted, sqlx::Error> {
    if savepoint == Savepoint::No {
        return insert(conn, stream, expected, known, columns, linking).await;
    }
    sqlx::query("SAVEPOINT sitrep_append")
        .execute(&mut *conn)
        .await?;
    let outcome = insert(conn, stream, expected, known, columns, linking).await;
    let end = if outcome.is_ok() {
        "RELEASE SAVEPOINT sitrep_append"
    } else {
        "ROLLBACK TO SAVEPOINT sitrep_append"
    };
    sqlx::query(end).execute(&mut *conn).await?;
    outcome
}

/// What an append statement did.
enum Inserted {
    Written(Written),
    /// Nothing: the expected head is missing.
    Nothing,
    /// Nothing: the database refused the recorded time the store took (a batch linked by the
    /// store, `append_stamped.sql`, whose `links` are then empty).
    StampRefused,
}

/// What an append statement wrote.
struct Written {
    result: AppendResult,
    /// The hash of the stream's new head.
    head_hash: Vec<u8>,
}

/// Runs the append statement: what it wrote, or why nothing (the expected head is missing, or
/// the database refused the store's recorded time). With a `known` head it links to it directly
/// (a batch [`Linking::ByStore`]: hashes computed here); otherwise the statement reads the head at
/// the expected version first.
async fn insert(
    conn: &mut PgConnection,
    stream: &StreamRef,
    expected: ExpectedVersion,
    known: Option<&KnownHead>,
    columns: &EventColumns<'_>,
    linking: Linking,
) -> Result<Inserted, sqlx::Error> {
    let one = columns.event_id.len() == 1;
    let stamped = match known {
        Some(head) if !one && linking == Linking::ByStore => Some(StoreLinks::new(head, columns)),
        _ => None,
    };
    let sql = match (known.is_some(), one) {
        (true, true) => APPEND_LINKED_ONE_SQL,
        (true, false) if stamped.is_some() => APPEND_STAMPED_SQL.as_str(),
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
            .bind(columns.metadata[0])
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
            .bind(
                stamped
                    .as_ref()
                    .map_or(&columns.digest, |links| &links.hashes),
            )
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
    let query = match &stamped {
        Some(links) => query.bind(links.recorded_at),
        None => query,
    };
    // Every form answers one row: positions, the new version, the recorded time, the head's hash
    // (no row, or all NULL, when nothing was inserted).
    let row: Option<InsertedRow> = query.fetch_optional(&mut *conn).await?;
    let Some((Some(positions), Some(version), Some(recorded_at), Some(head_hash), Some(tx_id))) =
        row
    else {
        // Linked to a known head, the batch either goes in or breaks the unique key: nothing
        // inserted means the statement refused the store's time.
        return Ok(match stamped {
            Some(_) => Inserted::StampRefused,
            None => Inserted::Nothing,
        });
    };
    // One transaction wrote them all: the last in the feed is the last inserted.
    let last = positions.iter().copied().max().unwrap_or_default();
    Ok(Inserted::Written(Written {
        result: AppendResult {
            stream: stream.clone(),
            version: version.unsigned_abs(),
            positions,
            event_ids: columns.event_id.clone(),
            recorded_at,
            replayed: false,
            feed_end: FeedCursor::new(tx_id.unsigned_abs(), last),
        },
        head_hash,
    }))
}

/// A batch linked by the store: the recorded time it took and the events' hashes from it.
struct StoreLinks {
    recorded_at: DateTime<Utc>,
    hashes: Vec<Vec<u8>>,
}

impl StoreLinks {
    /// Links `columns`' events to `head`, recorded now (by this machine's clock, to the
    /// microsecond), or just after the head if its recorded time is later: a stream's recorded
    /// times never decrease.
    fn new(head: &KnownHead, columns: &EventColumns<'_>) -> Self {
        let now = to_micros_precision(Utc::now());
        let recorded_at = match head.recorded_at {
            Some(head_at) if head_at >= now => head_at + TimeDelta::microseconds(1),
            _ => now,
        };
        let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(columns.digest.len());
        for (n, digest) in (1..).zip(&columns.digest) {
            let prev = hashes.last().unwrap_or(&head.hash);
            let hash = link_hash(prev, digest, head.version + n, recorded_at);
            hashes.push(hash.to_vec());
        }
        Self {
            recorded_at,
            hashes,
        }
    }
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
    Option<i64>,
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
        feed_end: stored
            .iter()
            .map(StoredEvent::cursor)
            .max()
            .unwrap_or_default(),
    })
}

/// The events of one append, column by column, as the statement's array parameters.
struct EventColumns<'a> {
    event_id: Vec<Uuid>,
    event_type: Vec<&'a str>,
    schema_version: Vec<i32>,
    /// Canonical JSON text ([`crate::canonical::CanonicalJson`]): what is stored, and what the
    /// digest covers.
    payload: Vec<&'a str>,
    valid_from: Vec<Option<DateTime<Utc>>>,
    valid_to: Vec<Option<DateTime<Utc>>>,
    valid_precision: Vec<Option<&'a str>>,
    recorded_by: Vec<&'a str>,
    reason: Vec<Option<&'a str>>,
    causation_id: Vec<Option<Uuid>>,
    correlation_id: Vec<Option<Uuid>>,
    /// Canonical JSON text, as the payload.
    metadata: Vec<&'a str>,
    /// Content digests ([`DigestInput::digest`]), linked into hashes by the statement.
    digest: Vec<Vec<u8>>,
}

impl<'a> EventColumns<'a> {
    fn new(stream: &StreamRef, events: &'a [NewEvent]) -> Self {
        let payload: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
        let metadata: Vec<&str> = events.iter().map(|e| e.metadata.as_str()).collect();
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
        for sql in [
            APPEND_SQL.as_str(),
            APPEND_LINKED_SQL.as_str(),
            APPEND_STAMPED_SQL.as_str(),
        ] {
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
        use crate::store::IntegrityProblem;
        let (_db, store, stream, first) = store_with_one_event().await;
        store.heads.record(&stream, 1, &[9; 32], Utc::now());
        store
            .append(
                &stream,
                ExpectedVersion::Exact(1),
                &[numbered(2), numbered(3)],
            )
            .await
            .expect("second");
        let report = store.verify().await.expect("verify");
        let broken = report.first_break.expect("a broken link");
        assert!(broken.position > first.position);
        assert!(
            matches!(broken.problem, IntegrityProblem::BrokenLink { .. }),
            "{broken:?}"
        );
    }

    /// A fresh database whose log holds one event, of a new stream, and that event as stored.
    async fn store_with_one_event() -> (
        sitrep_testkit::TestDb,
        crate::store::EventStore,
        StreamRef,
        StoredEvent,
    ) {
        use crate::store::{EventStore, StreamRange};
        let db = sitrep_testkit::TestDb::new(&crate::MIGRATOR).await;
        let store = EventStore::new(db.pool.clone());
        let stream = StreamRef::new("incident", uuid::Uuid::new_v4());
        store
            .append(&stream, ExpectedVersion::NoStream, &[numbered(1)])
            .await
            .expect("first");
        let first = store
            .read_stream(stream.stream_id, StreamRange::All)
            .await
            .expect("read")
            .remove(0);
        (db, store, stream, first)
    }

    fn numbered(n: u64) -> NewEvent {
        NewEvent::new("IncidentReported", serde_json::json!({ "n": n }), "test")
    }

    /// A trigger of the test's own database that notes each insert's `now()` in `insert_times`.
    async fn note_insert_times(pool: &sqlx::PgPool) {
        sqlx::raw_sql(
            "CREATE TABLE insert_times (position int8, tx_now timestamptz);
             CREATE FUNCTION note_insert_time() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO insert_times VALUES (NEW.position, now()); RETURN NEW; END $$;
             CREATE TRIGGER note_insert_time AFTER INSERT ON events
                 FOR EACH ROW EXECUTE FUNCTION note_insert_time();",
        )
        .execute(pool)
        .await
        .expect("trigger");
    }

    async fn database_clock(pool: &sqlx::PgPool) -> DateTime<Utc> {
        sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(pool)
            .await
            .expect("clock")
    }

    /// Batches linked by the store (a new stream, then the head it remembers) verify, keep
    /// their stream's recorded times in order, and lie within the database's clock. They carry
    /// the store's time, taken before the statement started, where a single event carries the
    /// transaction's: a trigger of this test's own database notes each insert's `now()`.
    #[tokio::test]
    async fn batches_linked_by_the_store_verify_within_the_database_clock() {
        use crate::store::{EventStore, StreamRange};
        let db = sitrep_testkit::TestDb::new(&crate::MIGRATOR).await;
        note_insert_times(&db.pool).await;
        let store = EventStore::new(db.pool.clone());
        let stream = StreamRef::new("incident", uuid::Uuid::new_v4());
        let before = database_clock(&db.pool).await;
        let first = store
            .append(
                &stream,
                ExpectedVersion::NoStream,
                &[numbered(1), numbered(2)],
            )
            .await
            .expect("first batch");
        let second = store
            .append(
                &stream,
                ExpectedVersion::Exact(2),
                &[numbered(3), numbered(4)],
            )
            .await
            .expect("second batch");
        let after = database_clock(&db.pool).await;
        assert!(before <= first.recorded_at && first.recorded_at <= second.recorded_at);
        assert!(second.recorded_at <= after);
        let stored = store
            .read_stream(stream.stream_id, StreamRange::All)
            .await
            .expect("read");
        let times: Vec<_> = stored.iter().map(|e| e.recorded_at).collect();
        assert_eq!(
            times,
            [
                first.recorded_at,
                first.recorded_at,
                second.recorded_at,
                second.recorded_at
            ]
        );
        let single = store
            .append(&stream, ExpectedVersion::Exact(4), &[numbered(5)])
            .await
            .expect("single event");
        let seen: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT e.recorded_at, t.tx_now FROM events e JOIN insert_times t USING (position) \
              ORDER BY e.stream_version",
        )
        .fetch_all(&db.pool)
        .await
        .expect("insert times");
        assert_eq!(seen.len(), 5);
        for (recorded_at, tx_now) in &seen[..4] {
            assert!(
                recorded_at < tx_now,
                "a batch stamped by the store: {seen:?}"
            );
        }
        assert_eq!(seen[4], (single.recorded_at, single.recorded_at));
        let report = store.verify().await.expect("verify");
        assert!(report.first_break.is_none(), "{report:?}");
    }

    /// A recorded time the database's clock has not reached yet is refused by the statement:
    /// the batch is linked in the database instead, with its `now()`, and still verifies; and
    /// for a while the store leaves every batch to the database, even one it could stamp. (The
    /// remembered head's time is planted an hour ahead; the store never stamps before it.)
    #[tokio::test]
    async fn a_stamp_ahead_of_the_database_clock_falls_back_to_the_database() {
        let (db, store, stream, head) = store_with_one_event().await;
        note_insert_times(&db.pool).await;
        let ahead = Utc::now() + TimeDelta::hours(1);
        store.heads.record(&stream, 1, &head.hash, ahead);
        let written = store
            .append(
                &stream,
                ExpectedVersion::Exact(1),
                &[numbered(2), numbered(3)],
            )
            .await
            .expect("the batch is appended all the same");
        assert_eq!(written.version, 3);
        assert!(!written.replayed);
        assert!(written.recorded_at <= database_clock(&db.pool).await);
        assert!(!store.stamps.allows(), "the refusal pauses the stamps");

        // A new stream's batch, which the store would stamp, now carries its transaction's time.
        let other = StreamRef::new("incident", uuid::Uuid::new_v4());
        store
            .append(
                &other,
                ExpectedVersion::NoStream,
                &[numbered(1), numbered(2)],
            )
            .await
            .expect("a batch while paused");
        let times: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT e.recorded_at, t.tx_now FROM events e JOIN insert_times t USING (position)
              WHERE e.stream_id = $1",
        )
        .bind(other.stream_id)
        .fetch_all(&db.pool)
        .await
        .expect("times");
        assert_eq!(times.len(), 2);
        assert!(times.iter().all(|(at, now)| at == now), "{times:?}");
        let report = store.verify().await.expect("verify");
        assert!(report.first_break.is_none(), "{report:?}");
    }

    #[test]
    fn a_stamp_is_never_earlier_than_its_head() {
        let events = [numbered(1), numbered(2)];
        let stream = StreamRef::new("incident", uuid::Uuid::new_v4());
        let columns = EventColumns::new(&stream, &events);
        let head = |recorded_at| KnownHead {
            version: 4,
            hash: vec![7; 32],
            recorded_at,
        };
        let later = Utc::now() + TimeDelta::hours(1);
        let links = StoreLinks::new(&head(Some(later)), &columns);
        assert_eq!(links.recorded_at, later + TimeDelta::microseconds(1));
        let before = to_micros_precision(Utc::now());
        let links = StoreLinks::new(&head(None), &columns);
        assert!(links.recorded_at >= before);
        assert_eq!(links.recorded_at, to_micros_precision(links.recorded_at));
        // The chain: each hash links to the one before, from the head's.
        let first = link_hash(&[7; 32], &columns.digest[0], 5, links.recorded_at);
        let second = link_hash(&first, &columns.digest[1], 6, links.recorded_at);
        assert_eq!(links.hashes, [first.to_vec(), second.to_vec()]);
    }
}
