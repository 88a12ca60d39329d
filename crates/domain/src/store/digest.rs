//! The content digest and hash link of an event.
//!
//! The store computes each event's *content digest* (SHA-256 over every field except the stream
//! version and the recorded time) before the append; the append statement then links it:
//! `hash = sha256(prev_hash || digest || int8send(version) || timestamptz_send(recorded_at))`
//! (`event_hash_links` in the migrations; the append statements call it, or link one event
//! inline). Verification recomputes both from the stored row.
//!
//! Every field is length-prefixed so that no field's content can pass for another's. JSON is
//! written once in a canonical form (keys sorted, no white space, numbers as `serde_json` prints
//! them); that text is what the `json` columns keep verbatim and what the digest covers, so
//! verification hashes the stored bytes themselves.

use std::sync::LazyLock;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::event::{NewEvent, StoredEvent, StreamRef};

/// The hash a stream's first event links to.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Everything the content digest covers, borrowed from a new or a stored event.
pub(crate) struct DigestInput<'a> {
    pub stream: &'a StreamRef,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: i32,
    /// Canonical JSON text of the payload.
    pub payload: &'a str,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub valid_precision: Option<&'a str>,
    pub recorded_by: &'a str,
    pub reason: Option<&'a str>,
    pub causation_id: Option<Uuid>,
    pub correlation_id: Option<Uuid>,
    /// Canonical JSON text of the metadata.
    pub metadata: &'a str,
}

impl<'a> DigestInput<'a> {
    /// A new event, with its payload and metadata already written as canonical JSON.
    pub fn of_new(
        stream: &'a StreamRef,
        e: &'a NewEvent,
        payload: &'a str,
        metadata: &'a str,
    ) -> Self {
        let valid = e.valid_time.as_ref();
        Self {
            stream,
            event_id: e.event_id,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            payload,
            valid_from: valid.map(|v| v.from),
            valid_to: valid.and_then(|v| v.to),
            valid_precision: valid.and_then(|v| v.precision.as_deref()),
            recorded_by: &e.recorded_by,
            reason: e.reason.as_deref(),
            causation_id: e.causation_id,
            correlation_id: e.correlation_id,
            metadata,
        }
    }

    /// A stored event: its JSON is stored as the canonical text it was written as.
    pub fn of_stored(e: &'a StoredEvent) -> Self {
        let valid = e.valid_time.as_ref();
        Self {
            stream: &e.stream,
            event_id: e.event_id,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            payload: e.payload.get(),
            valid_from: valid.map(|v| v.from),
            valid_to: valid.and_then(|v| v.to),
            valid_precision: valid.and_then(|v| v.precision.as_deref()),
            recorded_by: &e.recorded_by,
            reason: e.reason.as_deref(),
            causation_id: e.causation_id,
            correlation_id: e.correlation_id,
            metadata: e.metadata.get(),
        }
    }

    /// SHA-256 over the length-prefixed fields.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = FieldHasher::default();
        h.text(Some(&self.stream.stream_type));
        h.uuid(Some(self.stream.stream_id));
        h.uuid(Some(self.event_id));
        h.text(Some(self.event_type));
        h.number(Some(i64::from(self.schema_version)));
        h.text(Some(self.payload));
        h.number(self.valid_from.map(micros));
        h.number(self.valid_to.map(micros));
        h.text(self.valid_precision);
        h.text(Some(self.recorded_by));
        h.text(self.reason);
        h.uuid(self.causation_id);
        h.uuid(self.correlation_id);
        h.text(Some(self.metadata));
        h.0.finalize().into()
    }
}

impl StoredEvent {
    /// The hash this event's fields and `prev_hash` call for. Equal to `hash` unless the row was
    /// altered behind the store's back.
    pub fn computed_hash(&self) -> [u8; 32] {
        let digest = DigestInput::of_stored(self).digest();
        link_hash(
            &self.prev_hash,
            &digest,
            self.stream_version,
            self.recorded_at,
        )
    }
}

/// The content digest of a new event bound for `stream` (what idempotent retries compare).
pub fn content_digest(stream: &StreamRef, event: &NewEvent) -> [u8; 32] {
    DigestInput::of_new(
        stream,
        event,
        event.payload.as_str(),
        event.metadata.as_str(),
    )
    .digest()
}

/// The hash of an event: what `event_hash_links` and the one-event statements compute in the
/// database.
pub(crate) fn link_hash(
    prev_hash: &[u8],
    digest: &[u8],
    version: u64,
    recorded_at: DateTime<Utc>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(digest);
    h.update(i64::try_from(version).unwrap_or(i64::MAX).to_be_bytes());
    h.update(micros_since_2000(recorded_at).to_be_bytes());
    h.finalize().into()
}

/// A time as PostgreSQL keeps it: whole microseconds (toward the past).
pub(crate) fn to_micros_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// `timestamptz_send`'s representation: microseconds since 2000-01-01 UTC.
pub(crate) fn micros_since_2000(t: DateTime<Utc>) -> i64 {
    const UNIX_TO_2000_MICROS: i64 = 946_684_800_000_000;
    t.timestamp_micros() - UNIX_TO_2000_MICROS
}

#[derive(Default)]
struct FieldHasher(Sha256);

impl FieldHasher {
    fn text(&mut self, value: Option<&str>) {
        match value {
            None => self.0.update(b"~"),
            Some(v) => {
                self.0.update(Decimal::of(v.len() as i128).as_bytes());
                self.0.update(b":");
                self.0.update(v.as_bytes());
            }
        }
    }

    /// A number, as the text of its decimal digits (what `to_string` gives).
    fn number(&mut self, value: Option<i64>) {
        match value {
            None => self.text(None),
            Some(n) => self.text(Some(Decimal::of(i128::from(n)).as_str())),
        }
    }

    /// A UUID, as its lower-case hyphenated text.
    fn uuid(&mut self, value: Option<Uuid>) {
        match value {
            None => self.text(None),
            Some(id) => {
                let mut buf = Uuid::encode_buffer();
                self.text(Some(id.hyphenated().encode_lower(&mut buf)));
            }
        }
    }
}

/// A number written in decimal on the stack (no allocation on the hot path).
struct Decimal {
    buf: [u8; 40],
    start: usize,
}

impl Decimal {
    fn of(n: i128) -> Self {
        let mut buf = [0u8; 40];
        let mut start = buf.len();
        let mut rest = n.unsigned_abs();
        loop {
            start -= 1;
            buf[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if n < 0 {
            start -= 1;
            buf[start] = b'-';
        }
        Self { buf, start }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and '-' were written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// JSON with object keys sorted and no white space.
#[cfg(test)]
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out, &mut false);
    // serde_json writes UTF-8, and so does everything else here.
    String::from_utf8(out).unwrap_or_default()
}

/// [`canonical_json`] appended to `out` (UTF-8), for writers that reuse a buffer. Returns
/// whether a string or key of it holds a NUL character (which the store refuses), found on the
/// way at no extra walk of the tree.
pub(crate) fn write_canonical_json(value: &Value, out: &mut Vec<u8>) -> bool {
    let mut nul = false;
    write_canonical(value, out, &mut nul);
    nul
}

/// Whether serde_json's maps iterate in key order in this build (a `BTreeMap`, as without the
/// `preserve_order` feature): then no object needs its keys compared (which showed in profiles
/// of bulk appends).
static MAPS_ITERATE_SORTED: LazyLock<bool> = LazyLock::new(|| {
    let mut probe = serde_json::Map::new();
    probe.insert("b".into(), Value::Null);
    probe.insert("a".into(), Value::Null);
    probe.keys().is_sorted()
});

fn write_canonical(value: &Value, out: &mut Vec<u8>, nul: &mut bool) {
    match value {
        Value::String(s) => {
            *nul |= s.contains('\0');
            write_leaf(value, out)
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => write_leaf(value, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out, nul);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            // serde_json's map iterates in key order unless a crate in the build turns on its
            // `preserve_order` feature; sort only then.
            if *MAPS_ITERATE_SORTED || map.keys().is_sorted() {
                write_entries(map.iter(), out, nul);
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_entries(entries.into_iter(), out, nul);
            }
            out.push(b'}');
        }
    }
}

fn write_entries<'a>(
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
    nul: &mut bool,
) {
    for (i, (key, item)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        *nul |= key.contains('\0');
        write_leaf(key, out);
        out.push(b':');
        write_canonical(item, out, nul);
    }
}

/// A string, number, boolean or null as serde_json writes it.
fn write_leaf<T: serde::Serialize + ?Sized>(leaf: &T, out: &mut Vec<u8>) {
    // Writing a leaf into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, leaf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({ "b": 1, "a": { "d": [1, 2.5, "x"], "c": null } });
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"d":[1,2.5,"x"]},"b":1}"#
        );
    }

    /// The digest of stored events must never change: verification recomputes it. Pinned for
    /// an event with every field set (the value was computed by the first implementation, which
    /// wrote each field with `to_string`).
    #[test]
    fn the_digest_of_a_known_event_is_stable() {
        let stream = StreamRef::new("incident", Uuid::from_u128(1));
        let mut e = NewEvent::new(
            "IncidentReported",
            json!({"b": [1, -2.5, "é\"\n"], "a": null}),
            "analyst",
        );
        e.event_id = Uuid::from_u128(2);
        e.schema_version = 2;
        e.valid_time = Some(super::super::event::ValidTime {
            from: DateTime::from_timestamp_micros(-1_234_567).unwrap(),
            to: Some(DateTime::from_timestamp_micros(1_706_400_000_000_000).unwrap()),
            precision: Some("day".into()),
        });
        e.reason = Some("source revision".into());
        e.causation_id = Some(Uuid::from_u128(3));
        e.correlation_id = Some(Uuid::from_u128(u128::MAX));
        e.metadata = json!({"z": {"y": 1, "x": true}}).into();
        assert_eq!(e.payload.as_str(), r#"{"a":null,"b":[1,-2.5,"é\"\n"]}"#);
        assert_eq!(hex(&content_digest(&stream, &e)), PINNED_DIGEST);
    }

    const PINNED_DIGEST: &str = "334518d2334dbdd8c26806a057da8ceac42890b013e7befa9eacba1ee832859a";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_canonical_writer_finds_nul_characters_in_strings_and_keys() {
        let mut out = Vec::new();
        assert!(!write_canonical_json(
            &json!({"a": ["\\u0000", 1]}),
            &mut out
        ));
        assert!(write_canonical_json(&json!({"a": [1, "x\u{0}"]}), &mut out));
        assert!(write_canonical_json(&json!({"k\u{0}": 1}), &mut out));
    }

    #[test]
    fn decimals_match_to_string() {
        for n in [
            0i128,
            7,
            -7,
            10,
            1_000_000,
            i128::from(i64::MIN),
            i128::from(i64::MAX),
        ] {
            assert_eq!(Decimal::of(n).as_str(), n.to_string());
        }
    }

    #[test]
    fn a_field_cannot_pass_for_its_neighbour() {
        let stream = StreamRef::new("incident", Uuid::nil());
        let mut a = NewEvent::new("x", json!({}), "ab");
        a.reason = Some("c".into());
        let mut b = a.clone();
        b.recorded_by = "a".into();
        b.reason = Some("bc".into());
        assert_ne!(content_digest(&stream, &a), content_digest(&stream, &b));
    }
}
