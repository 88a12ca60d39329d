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

use super::digest::{link_hash, micros_since_2000, write_canonical_json, DigestInput};
use super::error::StoreError;
use super::event::{NewEvent, StreamRef};

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
    /// Scratch space for one event's canonical JSON, reused.
    payload: Vec<u8>,
    metadata: Vec<u8>,
}

impl CopyRows {
    /// A buffer that starts with the header.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(HEADER);
        Self {
            buf,
            payload: Vec::with_capacity(4096),
            metadata: Vec::with_capacity(256),
        }
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

    /// Writes one event's row and returns its hash (the next event's `prev_hash`).
    pub fn row(&mut self, row: &Row<'_>) -> Result<[u8; 32], StoreError> {
        let event = row.event;
        self.payload.clear();
        write_canonical_json(&event.payload, &mut self.payload);
        self.metadata.clear();
        write_canonical_json(&event.metadata, &mut self.metadata);
        let (Ok(payload), Ok(metadata)) = (
            std::str::from_utf8(&self.payload),
            std::str::from_utf8(&self.metadata),
        ) else {
            // serde_json writes UTF-8: unreachable, but no reason to panic over it.
            return Err(StoreError::invalid(
                "payload",
                "canonical JSON must be UTF-8",
            ));
        };
        let digest = DigestInput::of_new(row.stream, event, payload, metadata).digest();
        let hash = link_hash(row.prev_hash, &digest, row.version, row.recorded_at);
        let version = i64::try_from(row.version)
            .map_err(|_| StoreError::invalid("version", "beyond the largest version"))?;
        let valid = event.valid_time.as_ref();

        let out = &mut self.buf;
        out.extend_from_slice(&COLUMNS.to_be_bytes());
        int8(out, row.position);
        text(out, &row.stream.stream_type)?;
        uuid(out, row.stream.stream_id);
        int8(out, version);
        uuid(out, event.event_id);
        text(out, &event.event_type)?;
        field(out, &event.schema_version.to_be_bytes())?;
        field(out, &self.payload)?;
        optional(out, valid.map(|v| v.from), timestamptz)?;
        optional(out, valid.and_then(|v| v.to), timestamptz)?;
        optional(out, valid.and_then(|v| v.precision.as_deref()), text)?;
        timestamptz(out, row.recorded_at)?;
        text(out, &event.recorded_by)?;
        optional(out, event.reason.as_deref(), text)?;
        optional(out, event.causation_id, |out, id| {
            uuid(out, id);
            Ok(())
        })?;
        optional(out, event.correlation_id, |out, id| {
            uuid(out, id);
            Ok(())
        })?;
        field(out, &self.metadata)?;
        field(out, row.prev_hash)?;
        field(out, &hash)?;
        Ok(hash)
    }
}

/// A field: its length, then its bytes.
fn field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = i32::try_from(bytes.len())
        .map_err(|_| StoreError::invalid("events", "a value of 2 GiB or more"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn text(out: &mut Vec<u8>, value: &str) -> Result<(), StoreError> {
    field(out, value.as_bytes())
}

fn int8(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&value.to_be_bytes());
}

fn uuid(out: &mut Vec<u8>, value: Uuid) {
    out.extend_from_slice(&16i32.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

fn timestamptz(out: &mut Vec<u8>, value: DateTime<Utc>) -> Result<(), StoreError> {
    int8(out, micros_since_2000(value));
    Ok(())
}

/// A nullable field: -1 for NULL, else the value as `write` writes it.
fn optional<T>(
    out: &mut Vec<u8>,
    value: Option<T>,
    write: impl FnOnce(&mut Vec<u8>, T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    match value {
        None => {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            Ok(())
        }
        Some(v) => write(out, v),
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
