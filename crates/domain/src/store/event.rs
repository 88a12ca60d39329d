//! The shapes of events going into and coming out of the store.
//!
//! A [`NewEvent`] is what a command decides; the store adds the stream, the version, the recorded
//! time, the position, the transaction id and the hash link and hands back a [`StoredEvent`].

use crate::canonical::CanonicalJson;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::feed::FeedCursor;

/// Which stream an append goes to: its type (e.g. `incident`) and its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamRef {
    pub stream_type: String,
    pub stream_id: Uuid,
}

impl StreamRef {
    pub fn new(stream_type: impl Into<String>, stream_id: Uuid) -> Self {
        Self {
            stream_type: stream_type.into(),
            stream_id,
        }
    }
}

/// The version of the stream a writer based its decision on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds (no concurrency check).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this (1 or more).
    Exact(u64),
}

impl ExpectedVersion {
    /// The statement's parameter: -1 for any, 0 for no stream, the version otherwise.
    pub(crate) fn as_sql(self) -> i64 {
        match self {
            Self::Any => -1,
            Self::NoStream => 0,
            Self::Exact(v) => i64::try_from(v).unwrap_or(i64::MAX),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// When something happened in the world: a moment or a span, with the precision the source gave
/// (e.g. `day`, `week`, `month`). The store keeps it as given; the domain model types it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidTime {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub precision: Option<String>,
}

/// An event a command decided, before it is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Unique id. A retried append with the same id stores nothing new.
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    /// The payload, as the canonical JSON text the store keeps and hashes (from a
    /// `serde_json::Value` with `.into()`, or straight from a value with [`CanonicalJson::of`]).
    pub payload: CanonicalJson,
    pub valid_time: Option<ValidTime>,
    /// Who recorded it: a user, a client or an importer.
    pub recorded_by: String,
    /// Why: required by the domain for corrections, optional here.
    pub reason: Option<String>,
    pub causation_id: Option<Uuid>,
    pub correlation_id: Option<Uuid>,
    /// Free metadata: a JSON object, in the canonical form the store keeps and hashes (from a
    /// `serde_json::Value` with `.into()`, or straight from a value with [`CanonicalJson::of`]).
    pub metadata: CanonicalJson,
}

impl NewEvent {
    /// An event with a fresh id, schema version 1, no valid time, no reason and empty metadata.
    pub fn new(
        event_type: impl Into<String>,
        payload: impl Into<CanonicalJson>,
        recorded_by: impl Into<String>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            payload: payload.into(),
            valid_time: None,
            recorded_by: recorded_by.into(),
            reason: None,
            causation_id: None,
            correlation_id: None,
            metadata: CanonicalJson::empty_object(),
        }
    }
}

/// What an append stored (or, for an idempotent retry, had stored the first time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    pub stream: StreamRef,
    /// The stream's version after the append.
    pub version: u64,
    /// Global positions of the appended events, in order.
    pub positions: Vec<i64>,
    pub event_ids: Vec<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// True when every event was already stored and nothing was written.
    pub replayed: bool,
    /// The feed cursor just past the last of the events in feed order: a reader of the feed
    /// (a projection's checkpoint) that has reached it has read them all.
    pub feed_end: FeedCursor,
}

/// One stream's part of a bulk append ([`super::EventStore::append_batch_in`]): its events, to
/// be appended if the stream is at `expected`.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamAppend {
    pub stream: StreamRef,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// What a bulk append stored (or, for a retry of one that committed, had stored): per stream
/// its new version, and the positions and ids of all the events in batch order, compactly (one
/// array each for the whole batch rather than one per stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkAppendResult {
    /// One per [`StreamAppend`] of the batch, in batch order.
    pub streams: Vec<AppendedStream>,
    /// Global positions of every event, in batch order (ascending, unless `replayed`: then as
    /// the first run stored them).
    pub positions: Vec<i64>,
    /// The ids of every event, in batch order.
    pub event_ids: Vec<Uuid>,
    /// The recorded time of the events (the appending transaction's).
    pub recorded_at: DateTime<Utc>,
    /// True when every event was already stored, identically, and nothing was written.
    pub replayed: bool,
}

/// One stream of a [`BulkAppendResult`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendedStream {
    pub stream_id: Uuid,
    /// The stream's version after the append.
    pub version: u64,
    /// Where the stream's events lie in [`BulkAppendResult::positions`] and
    /// [`BulkAppendResult::event_ids`].
    pub events: std::ops::Range<usize>,
}

impl BulkAppendResult {
    /// How many events the batch held.
    pub fn event_count(&self) -> usize {
        self.event_ids.len()
    }

    /// The positions of one stream's events, in version order.
    pub fn positions_of(&self, stream: &AppendedStream) -> &[i64] {
        self.positions
            .get(stream.events.clone())
            .unwrap_or_default()
    }
}

/// An event as the store holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub position: i64,
    /// Id of the writing transaction (the feed orders by it).
    pub tx_id: u64,
    pub stream: StreamRef,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    /// The payload as stored: canonical JSON text. [`StoredEvent::payload_as`] decodes it.
    pub payload: JsonText,
    pub valid_time: Option<ValidTime>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub reason: Option<String>,
    pub causation_id: Option<Uuid>,
    pub correlation_id: Option<Uuid>,
    /// Free metadata as stored: a canonical JSON object.
    pub metadata: JsonText,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredEvent {
    /// The feed cursor that points just past this event.
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor::new(self.tx_id, self.position)
    }

    /// The payload decoded as `T` (a typed event, or [`Value`]).
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.payload.parse()
    }
}

/// JSON text as the store keeps it: canonical, and valid (the `json` column checked it on the
/// way in), so reading an event costs no parse; [`JsonText::parse`] decodes it when needed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JsonText(Box<str>);

impl JsonText {
    /// Text read from a `json` column.
    pub(crate) fn from_column(text: String) -> Self {
        Self(text.into_boxed_str())
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The JSON decoded as `T` (a typed event, or [`Value`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl Serialize for JsonText {
    /// As the JSON it holds, not as a string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(raw.get().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::JsonText;

    #[test]
    fn json_text_serialises_as_json_and_back() {
        let text = JsonText::from_column(r#"{"a":[1,2],"b":"x"}"#.to_owned());
        let out = serde_json::to_string(&text).expect("serialise");
        assert_eq!(out, r#"{"a":[1,2],"b":"x"}"#);
        let back: JsonText = serde_json::from_str(&out).expect("deserialise");
        assert_eq!(back, text);
        let value: serde_json::Value = text.parse().expect("parse");
        assert_eq!(value["b"], "x");
    }
}
