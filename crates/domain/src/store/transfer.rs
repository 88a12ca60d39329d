//! Moving the event log between databases: an export as JSON lines and an import of one.
//!
//! An export writes the events whose positions lie in a [`PositionRange`] in **feed order**
//! (`(tx_id, position)`, the order the projectors read), one JSON object per line holding every
//! column that the event's identity and hash cover: position, stream type and id, version, event
//! id and type, schema version, payload and metadata (the stored canonical JSON text, verbatim),
//! valid time, recorded time and author, reason, causation and correlation ids, `prev_hash` and
//! `hash` (lower-case hex). It is read from one snapshot, so each stream's events in it are a
//! prefix of that stream (or, with a `from`, a run of it). Transaction ids and seals are not
//! exported: no database can take another's transaction ids, and a seal covers them.
//!
//! The last line closes the file: `{"end": {"events": N, "sha256": "…"}}`, the number of event
//! lines and the SHA-256 of their bytes. An import refuses a file without it (cut short at a line
//! boundary), with lines after it, or whose count or digest differs (a line removed, added or
//! changed anywhere).
//!
//! An import loads such a file into an **empty** database (no events, no seals) in one
//! transaction, streaming it in batches: each line is parsed and checked before it is loaded
//! (the fields' rules, no event id twice, versions consecutive from 1 in every stream, every
//! hash link and content digest recomputed), and the first bad line fails the whole import with
//! its number; nothing is left behind. Every row gets the importing transaction's id, so its
//! feed order is its position order: each event keeps its exported position unless that is not
//! above the position given to the line before it (a source whose transactions committed out of
//! position order), when it gets the next free one instead. A file exported from one database
//! therefore imports with the same event ids, streams, versions, payloads, recorded times,
//! hashes and, in the usual case, positions; read models rebuilt from it match the source's.
//! The copy starts with no seals: `sitrep import events` seals it once loaded.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncWrite, AsyncWriteExt as _};
use uuid::Uuid;

use super::digest::{link_hash, to_micros_precision, DigestInput, GENESIS_HASH};
use super::error::StoreError;
use super::event::{StoredEvent, StreamRef};
use super::integrity::PositionRange;
use super::row::{EventRow, EVENT_COLUMNS};
use super::EventStore;

/// How many events one insert of an import carries.
const IMPORT_BATCH: usize = 1_000;

/// Why an export or an import failed. An import that fails has loaded nothing.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A line of the input is not an event that can be loaded.
    #[error("line {line}: {problem}")]
    Line { line: u64, problem: LineProblem },
    /// The target database holds events or seals already.
    #[error(
        "the database is not empty ({events} events, {seals} seals): events are imported only \
         into an empty database"
    )]
    NotEmpty { events: i64, seals: i64 },
    /// The database refused a batch that passed the checks.
    #[error("lines {first_line} to {last_line} could not be inserted: {source}")]
    Batch {
        first_line: u64,
        last_line: u64,
        source: sqlx::Error,
    },
    /// Reading the input failed.
    #[error("reading the input failed: {0}")]
    Read(std::io::Error),
    /// Writing the export failed.
    #[error("writing the export failed: {0}")]
    Write(std::io::Error),
    /// The store failed (the database, or a bad range).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TransferError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// What is wrong with one line of an import.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("not an exported event: {0}")]
    Malformed(String),
    #[error("truncated: the input ends in the middle of this line ({0})")]
    Truncated(String),
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
    #[error("event {event_id} appears on an earlier line too")]
    DuplicateEvent { event_id: Uuid },
    #[error(
        "stream {stream_id} goes from version {previous} to version {version} (a line is missing \
         or out of order, or the export began in the middle of the stream)"
    )]
    VersionGap {
        stream_id: Uuid,
        previous: u64,
        version: u64,
    },
    #[error("stream {stream_id} version {version} does not match its hash (altered)")]
    HashMismatch { stream_id: Uuid, version: u64 },
    #[error(
        "stream {stream_id} version {version} does not link to the hash of the version before it"
    )]
    BrokenLink { stream_id: Uuid, version: u64 },
    #[error(
        "truncated: the input ends without its end line (`{{\"end\": …}}`), so lines may be missing"
    )]
    NoEndLine,
    #[error("a line follows the end line")]
    AfterEnd,
    #[error("the end line counts {stated} events and {stated_sha256} as their digest, but the file holds {found} events with digest {found_sha256}")]
    EndMismatch {
        stated: u64,
        found: u64,
        stated_sha256: String,
        found_sha256: String,
    },
}

/// The last line of an export: how many event lines it holds and the SHA-256 of their bytes.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    end: EndOfExport,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndOfExport {
    events: u64,
    sha256: String,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    pub events: u64,
}

/// What an import loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub events: u64,
    pub streams: u64,
    /// The highest position given (0 when the file held no events).
    pub last_position: i64,
    /// Events that could not keep their exported position (see the module's documentation).
    pub renumbered: u64,
}

/// One line of an export: one event, every column but the transaction id.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLine {
    position: i64,
    stream_type: String,
    stream_id: Uuid,
    stream_version: i64,
    event_id: Uuid,
    event_type: String,
    schema_version: i32,
    payload: Box<RawValue>,
    valid_from: Option<DateTime<Utc>>,
    valid_to: Option<DateTime<Utc>>,
    valid_precision: Option<String>,
    recorded_at: DateTime<Utc>,
    recorded_by: String,
    reason: Option<String>,
    causation_id: Option<Uuid>,
    correlation_id: Option<Uuid>,
    metadata: Box<RawValue>,
    prev_hash: String,
    hash: String,
}

impl EventLine {
    fn of_stored(event: StoredEvent) -> Result<Self, serde_json::Error> {
        let valid = event.valid_time;
        Ok(Self {
            position: event.position,
            stream_type: event.stream.stream_type,
            stream_id: event.stream.stream_id,
            stream_version: i64::try_from(event.stream_version).unwrap_or(i64::MAX),
            event_id: event.event_id,
            event_type: event.event_type,
            schema_version: event.schema_version,
            payload: RawValue::from_string(event.payload.get().to_owned())?,
            valid_from: valid.as_ref().map(|v| v.from),
            valid_to: valid.as_ref().and_then(|v| v.to),
            valid_precision: valid.and_then(|v| v.precision),
            recorded_at: event.recorded_at,
            recorded_by: event.recorded_by,
            reason: event.reason,
            causation_id: event.causation_id,
            correlation_id: event.correlation_id,
            metadata: RawValue::from_string(event.metadata.get().to_owned())?,
            prev_hash: to_hex(&event.prev_hash),
            hash: to_hex(&event.hash),
        })
    }
}

/// A line parsed and checked, ready for its batch.
struct CheckedLine {
    line: EventLine,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl EventStore {
    /// Writes the events whose positions lie in `range` to `out` as JSON lines, in feed order.
    pub async fn export_events<W: AsyncWrite + Unpin>(
        &self,
        range: PositionRange,
        out: &mut W,
    ) -> Result<ExportSummary, TransferError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE position BETWEEN $1 AND $2 \
              ORDER BY tx_id, position"
        );
        let (from, to) = range.bounds();
        let mut rows = sqlx::query_as::<_, EventRow>(&sql)
            .bind(from)
            .bind(to)
            .fetch(&self.pool);
        let mut buf = Vec::with_capacity(4096);
        let mut events = 0u64;
        let mut lines = Sha256::new();
        while let Some(row) = rows.try_next().await? {
            let event = StoredEvent::from(row);
            let position = event.position;
            buf.clear();
            // The stored JSON is valid (the column checked it), so neither step fails in practice.
            let line = EventLine::of_stored(event).map_err(|e| {
                TransferError::Write(std::io::Error::other(format!("position {position}: {e}")))
            })?;
            serde_json::to_writer(&mut buf, &line).map_err(|e| {
                TransferError::Write(std::io::Error::other(format!("position {position}: {e}")))
            })?;
            buf.push(b'\n');
            lines.update(&buf);
            out.write_all(&buf).await.map_err(TransferError::Write)?;
            events += 1;
        }
        let end = EndLine {
            end: EndOfExport {
                events,
                sha256: to_hex(&lines.finalize()),
            },
        };
        buf.clear();
        serde_json::to_writer(&mut buf, &end)
            .map_err(|e| TransferError::Write(std::io::Error::other(e)))?;
        buf.push(b'\n');
        out.write_all(&buf).await.map_err(TransferError::Write)?;
        out.flush().await.map_err(TransferError::Write)?;
        Ok(ExportSummary { events })
    }

    /// Loads an export into this store's database, which must hold no events and no seals: all
    /// of it, checked line by line, in one transaction, or nothing.
    pub async fn import_events<R: AsyncBufRead + Unpin>(
        &self,
        mut input: R,
    ) -> Result<ImportSummary, TransferError> {
        let mut tx = self.pool.begin().await?;
        // Appends wait until the import has committed or rolled back.
        sqlx::query("LOCK TABLE events, feed_seals IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let (events, seals): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM feed_seals)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if events > 0 || seals > 0 {
            return Err(TransferError::NotEmpty { events, seals });
        }

        let mut checker = Checker::default();
        let mut batch: Vec<CheckedLine> = Vec::with_capacity(IMPORT_BATCH);
        let mut first_line_of_batch = 1u64;
        let mut raw = Vec::with_capacity(4096);
        let mut line_no = 0u64;
        let mut lines = Sha256::new();
        let mut ended = false;
        loop {
            raw.clear();
            let read = input
                .read_until(b'\n', &mut raw)
                .await
                .map_err(TransferError::Read)?;
            if read == 0 {
                break;
            }
            line_no += 1;
            let line_error = |problem| TransferError::Line {
                line: line_no,
                problem,
            };
            if ended {
                return Err(line_error(LineProblem::AfterEnd));
            }
            if let Ok(end) = serde_json::from_slice::<EndLine>(&raw) {
                let found_sha256 = to_hex(&std::mem::take(&mut lines).finalize());
                let found = line_no - 1;
                if end.end.events != found || end.end.sha256 != found_sha256 {
                    return Err(line_error(LineProblem::EndMismatch {
                        stated: end.end.events,
                        found,
                        stated_sha256: end.end.sha256,
                        found_sha256,
                    }));
                }
                ended = true;
                continue;
            }
            lines.update(&raw);
            let checked = checker.check(&raw).map_err(|problem| TransferError::Line {
                line: line_no,
                problem,
            })?;
            batch.push(checked);
            if batch.len() == IMPORT_BATCH {
                insert_batch(&mut tx, &batch, first_line_of_batch, line_no).await?;
                batch.clear();
                first_line_of_batch = line_no + 1;
            }
        }
        if !ended {
            return Err(TransferError::Line {
                line: line_no + 1,
                problem: LineProblem::NoEndLine,
            });
        }
        if !batch.is_empty() {
            insert_batch(&mut tx, &batch, first_line_of_batch, line_no).await?;
        }
        if checker.last_position > 0 {
            // Appends after the import go on from the last position.
            sqlx::query("SELECT setval(pg_get_serial_sequence('events', 'position'), $1)")
                .bind(checker.last_position)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ImportSummary {
            events: line_no - 1,
            streams: checker.heads.len() as u64,
            last_position: checker.last_position,
            renumbered: checker.renumbered,
        })
    }
}

/// What the lines read so far fix for the lines after them.
#[derive(Default)]
struct Checker {
    /// Each stream's last version and hash.
    heads: HashMap<Uuid, (i64, Vec<u8>)>,
    /// Each stream's type (every line of a stream must name the same).
    stream_types: HashMap<Uuid, String>,
    event_ids: HashSet<Uuid>,
    last_position: i64,
    renumbered: u64,
}

impl Checker {
    /// Parses and checks one line, and gives it its position.
    fn check(&mut self, raw: &[u8]) -> Result<CheckedLine, LineProblem> {
        let complete = raw.ends_with(b"\n");
        // Every line an export writes ends with a newline: one without it that does not parse
        // was cut short.
        let mut line: EventLine = serde_json::from_slice(raw).map_err(|e| {
            if complete {
                LineProblem::Malformed(e.to_string())
            } else {
                LineProblem::Truncated(e.to_string())
            }
        })?;
        check_fields(&line)?;
        let prev_hash = from_hex(&line.prev_hash).ok_or_else(|| invalid("prev_hash", HEX_RULE))?;
        let hash = from_hex(&line.hash).ok_or_else(|| invalid("hash", HEX_RULE))?;
        if self.event_ids.contains(&line.event_id) {
            return Err(LineProblem::DuplicateEvent {
                event_id: line.event_id,
            });
        }

        let stream_id = line.stream_id;
        if self
            .stream_types
            .get(&stream_id)
            .is_some_and(|stream_type| *stream_type != line.stream_type)
        {
            return Err(invalid(
                "stream_type",
                "must be the stream type of the stream's earlier lines",
            ));
        }
        let head = self.heads.get(&stream_id);
        let previous = head.map_or(0, |(v, _)| *v);
        if line.stream_version != previous + 1 {
            return Err(LineProblem::VersionGap {
                stream_id,
                previous: previous.unsigned_abs(),
                version: line.stream_version.unsigned_abs(),
            });
        }
        let version = line.stream_version.unsigned_abs();
        let stream = StreamRef {
            stream_type: line.stream_type.clone(),
            stream_id,
        };
        let digest = DigestInput {
            stream: &stream,
            event_id: line.event_id,
            event_type: &line.event_type,
            schema_version: line.schema_version,
            payload: line.payload.get(),
            valid_from: line.valid_from,
            valid_to: line.valid_to,
            valid_precision: line.valid_precision.as_deref(),
            recorded_by: &line.recorded_by,
            reason: line.reason.as_deref(),
            causation_id: line.causation_id,
            correlation_id: line.correlation_id,
            metadata: line.metadata.get(),
        }
        .digest();
        if link_hash(&prev_hash, &digest, version, line.recorded_at)[..] != hash[..] {
            return Err(LineProblem::HashMismatch { stream_id, version });
        }
        let expected_prev = head.map_or(&GENESIS_HASH[..], |(_, h)| &h[..]);
        if prev_hash != expected_prev {
            return Err(LineProblem::BrokenLink { stream_id, version });
        }

        // Feed order is position order in the copy: keep the position unless that would break it.
        if line.position <= self.last_position {
            line.position = self
                .last_position
                .checked_add(1)
                .ok_or_else(|| invalid("position", "must leave room for the lines after it"))?;
            self.renumbered += 1;
        }
        self.last_position = line.position;
        self.event_ids.insert(line.event_id);
        self.heads
            .insert(stream_id, (line.stream_version, hash.clone()));
        if line.stream_version == 1 {
            self.stream_types
                .insert(stream_id, line.stream_type.clone());
        }
        Ok(CheckedLine {
            line,
            prev_hash,
            hash,
        })
    }
}

const HEX_RULE: &str = "must be lower-case hexadecimal";

fn invalid(field: &'static str, rule: impl Into<String>) -> LineProblem {
    LineProblem::Invalid {
        field,
        rule: rule.into(),
    }
}

/// The rules the `events` table would enforce, checked here so that a bad line is named.
fn check_fields(line: &EventLine) -> Result<(), LineProblem> {
    if line.position < 1 {
        return Err(invalid("position", "must be 1 or more"));
    }
    if line.stream_version < 1 {
        return Err(invalid("stream_version", "must be 1 or more"));
    }
    if line.schema_version < 1 {
        return Err(invalid("schema_version", "must be 1 or more"));
    }
    for (field, value) in [
        ("stream_type", &line.stream_type),
        ("event_type", &line.event_type),
        ("recorded_by", &line.recorded_by),
    ] {
        if value.is_empty() {
            return Err(invalid(field, "must not be empty"));
        }
    }
    if !line.metadata.get().starts_with('{') {
        return Err(invalid("metadata", "must be a JSON object"));
    }
    if let (Some(from), Some(to)) = (line.valid_from, line.valid_to) {
        if to < from {
            return Err(invalid("valid_to", "must not be before valid_from"));
        }
    }
    for (field, time) in [
        ("valid_from", line.valid_from),
        ("valid_to", line.valid_to),
        ("recorded_at", Some(line.recorded_at)),
    ] {
        if time.is_some_and(|t| to_micros_precision(t) != t) {
            return Err(invalid(field, "must be whole microseconds"));
        }
    }
    Ok(())
}

/// One multi-row insert of checked lines.
async fn insert_batch(
    tx: &mut sqlx::PgConnection,
    batch: &[CheckedLine],
    first_line: u64,
    last_line: u64,
) -> Result<(), TransferError> {
    fn column<'a, T>(batch: &'a [CheckedLine], f: impl Fn(&'a CheckedLine) -> T) -> Vec<T> {
        batch.iter().map(f).collect()
    }
    sqlx::query(include_str!("transfer_insert.sql"))
        .bind(column(batch, |c| c.line.position))
        .bind(column(batch, |c| c.line.stream_type.as_str()))
        .bind(column(batch, |c| c.line.stream_id))
        .bind(column(batch, |c| c.line.stream_version))
        .bind(column(batch, |c| c.line.event_id))
        .bind(column(batch, |c| c.line.event_type.as_str()))
        .bind(column(batch, |c| c.line.schema_version))
        .bind(column(batch, |c| c.line.payload.get()))
        .bind(column(batch, |c| c.line.valid_from))
        .bind(column(batch, |c| c.line.valid_to))
        .bind(column(batch, |c| c.line.valid_precision.as_deref()))
        .bind(column(batch, |c| c.line.recorded_at))
        .bind(column(batch, |c| c.line.recorded_by.as_str()))
        .bind(column(batch, |c| c.line.reason.as_deref()))
        .bind(column(batch, |c| c.line.causation_id))
        .bind(column(batch, |c| c.line.correlation_id))
        .bind(column(batch, |c| c.line.metadata.get()))
        .bind(column(batch, |c| c.prev_hash.as_slice()))
        .bind(column(batch, |c| c.hash.as_slice()))
        .execute(tx)
        .await
        .map_err(|source| TransferError::Batch {
            first_line,
            last_line,
            source,
        })?;
    Ok(())
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("0G"), None);
        assert_eq!(from_hex("AB"), None, "upper case is not what exports write");
    }
}
