//! The rows of a bulk append in PostgreSQL's binary `COPY` format (`bulk_copy.sql`), each with
//! its content digest and hash link computed here, as the append statements would.
//!
//! Binary rather than text: no escaping of the JSON, and each value goes as the bytes its type's
//! receive function reads (`json` and `text`: UTF-8; `uuid`: 16 bytes; `int8`: big-endian;
//! `timestamptz`: microseconds since 2000-01-01, as `timestamptz_send` hashes it; `bytea`: raw).
//! The format: a header, then per row a 16-bit field count and each field as a 32-bit length
//! (-1 for NULL) and its bytes, then a trailer of -1.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::digest::{link_hash, micros_since_2000, DigestInput};
use super::event::{NewEvent, StreamRef};
use super::validate::NUL_RULE;

/// The `COPY … FROM STDIN (FORMAT binary)` statement the rows are written for.
pub(crate) const COPY_SQL: &str = include_str!("bulk_copy.sql");

/// The columns of `bulk_copy.sql`, in the order [`CopyRows::row`] writes them.
const COLUMNS: i16 = 19;

/// The binary COPY signature, then 32-bit flags and header-extension length (both 0).
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One event's row: where it goes and what it links to.
pub(crate) struct Row<'a> {
    pub position: i64,
    pub stream: &'a StreamRef,
    pub version: u64,
    pub event: &'a NewEvent,
    pub recorded_at: DateTime<Utc>,
    /// The hash of the stream's previous event (the genesis hash for version 1).
    pub prev_hash: &'a [u8],
}

/// A buffer of COPY data: the header, rows as they are written, and the trailer at the end.
/// The caller sends [`CopyRows::bytes`] and clears them now and then, so rows stream out in
/// chunks.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
}

impl CopyRows {
    /// A buffer that starts with the header.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(HEADER);
        Self { buf }
    }

    /// Bytes written since the last [`CopyRows::clear`].
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes written since the last [`CopyRows::clear`].
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the bytes written (once they are sent).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Ends the data: the trailer.
    pub fn finish(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// Writes one event's row and returns its hash (the next event's `prev_hash`), or the
    /// rule the event breaks (nothing of it written then).
    pub fn row(&mut self, row: &Row<'_>) -> Result<[u8; 32], RowProblem> {
        let event = row.event;
        // The new event's payload and metadata are canonical JSON text already (UTF-8, NULs
        // noted as they were written).
        let (payload, metadata) = (event.payload.as_str(), event.metadata.as_str());
        for (field, nul) in [
            ("payload", event.payload.has_nul()),
            ("metadata", event.metadata.has_nul()),
        ] {
            if nul {
                return Err(RowProblem {
                    field,
                    rule: NUL_RULE,
                });
            }
        }
        let digest = DigestInput::of_new(row.stream, event, payload, metadata).digest();
        let hash = link_hash(row.prev_hash, &digest, row.version, row.recorded_at);
        let version = i64::try_from(row.version).map_err(|_| RowProblem {
            field: "event_id",
            rule: "the stream has no version left for it",
        })?;

        let start = self.buf.len();
        let written = write_fields(
            &mut self.buf,
            row,
            version,
            payload.as_bytes(),
            metadata.as_bytes(),
            &hash,
        );
        if written.is_err() {
            self.buf.truncate(start);
        }
        written.map(|()| hash)
    }
}

/// Why an event's row cannot be written: its field and the rule it breaks.
#[derive(Debug)]
pub(crate) struct RowProblem {
    pub field: &'static str,
    pub rule: &'static str,
}

/// The row's fields in the order of `bulk_copy.sql`.
fn write_fields(
    out: &mut Vec<u8>,
    row: &Row<'_>,
    version: i64,
    payload: &[u8],
    metadata: &[u8],
    hash: &[u8],
) -> Result<(), RowProblem> {
    let event = row.event;
    let valid = event.valid_time.as_ref();
    out.extend_from_slice(&COLUMNS.to_be_bytes());
    int8(out, row.position);
    field(out, "stream_type", row.stream.stream_type.as_bytes())?;
    uuid(out, Some(row.stream.stream_id));
    int8(out, version);
    uuid(out, Some(event.event_id));
    field(out, "event_type", event.event_type.as_bytes())?;
    field(out, "schema_version", &event.schema_version.to_be_bytes())?;
    field(out, "payload", payload)?;
    timestamptz(out, valid.map(|v| v.from));
    timestamptz(out, valid.and_then(|v| v.to));
    optional_text(
        out,
        "valid_time.precision",
        valid.and_then(|v| v.precision.as_deref()),
    )?;
    timestamptz(out, Some(row.recorded_at));
    field(out, "recorded_by", event.recorded_by.as_bytes())?;
    optional_text(out, "reason", event.reason.as_deref())?;
    uuid(out, event.causation_id);
    uuid(out, event.correlation_id);
    field(out, "metadata", metadata)?;
    field(out, "prev_hash", row.prev_hash)?;
    field(out, "hash", hash)?;
    Ok(())
}

/// A field: its length, then its bytes.
fn field(out: &mut Vec<u8>, name: &'static str, bytes: &[u8]) -> Result<(), RowProblem> {
    let len = i32::try_from(bytes.len()).map_err(|_| RowProblem {
        field: name,
        rule: "must be smaller than 2 GiB",
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// The length of a NULL.
const NULL: [u8; 4] = (-1i32).to_be_bytes();

fn optional_text(
    out: &mut Vec<u8>,
    name: &'static str,
    value: Option<&str>,
) -> Result<(), RowProblem> {
    match value {
        Some(text) => field(out, name, text.as_bytes()),
        None => {
            out.extend_from_slice(&NULL);
            Ok(())
        }
    }
}

fn int8(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&value.to_be_bytes());
}

fn uuid(out: &mut Vec<u8>, value: Option<Uuid>) {
    match value {
        Some(id) => {
            out.extend_from_slice(&16i32.to_be_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        None => out.extend_from_slice(&NULL),
    }
}

/// As `timestamptz_send` writes it: microseconds since 2000-01-01.
fn timestamptz(out: &mut Vec<u8>, value: Option<DateTime<Utc>>) {
    match value {
        Some(t) => int8(out, micros_since_2000(t)),
        None => out.extend_from_slice(&NULL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::GENESIS_HASH;

    /// The column count the rows announce matches the statement's column list.
    #[test]
    fn the_rows_have_as_many_fields_as_the_statement_names() {
        let list = COPY_SQL
            .split_once("COPY events (")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(columns, _)| columns.split(',').count())
            .expect("a column list");
        assert_eq!(list, COLUMNS as usize);
    }

    #[test]
    fn a_row_is_framed_field_by_field() {
        let stream = StreamRef::new("incident", Uuid::from_u128(7));
        let event = NewEvent::new("IncidentReported", serde_json::json!({"b": 1, "a": 2}), "t");
        let mut rows = CopyRows::new(1024);
        let recorded_at = DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time");
        let hash = rows
            .row(&Row {
                position: 5,
                stream: &stream,
                version: 1,
                event: &event,
                recorded_at,
                prev_hash: &GENESIS_HASH,
            })
            .expect("row");
        rows.finish();
        let bytes = rows.bytes().to_vec();
        assert!(bytes.starts_with(HEADER));
        assert!(bytes.ends_with(&[0xff, 0xff]));
        // Walk the fields: the count says 19, and every length fits the bytes that follow.
        let mut at = HEADER.len();
        assert_eq!(i16::from_be_bytes([bytes[at], bytes[at + 1]]), COLUMNS);
        at += 2;
        let mut fields = Vec::new();
        for _ in 0..COLUMNS {
            let len = i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
            at += 4;
            if len < 0 {
                fields.push(None);
            } else {
                let len = len as usize;
                fields.push(Some(bytes[at..at + len].to_vec()));
                at += len;
            }
        }
        assert_eq!(at + 2, bytes.len(), "only the trailer follows");
        assert_eq!(fields[0].as_deref(), Some(&5i64.to_be_bytes()[..]));
        assert_eq!(fields[7].as_deref(), Some(&br#"{"a":2,"b":1}"#[..]));
        assert_eq!(fields[8], None, "no valid time");
        // recorded_at as timestamptz_send writes it.
        assert_eq!(
            fields[11].as_deref(),
            Some(&(1_700_000_000_123_456i64 - 946_684_800_000_000).to_be_bytes()[..])
        );
        assert_eq!(fields[17].as_deref(), Some(&GENESIS_HASH[..]));
        assert_eq!(fields[18].as_deref(), Some(&hash[..]));
    }
}
