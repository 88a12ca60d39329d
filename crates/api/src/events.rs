//! Events of the log as GraphQL objects: [`RecordedEvent`] (any event, with its payload,
//! valid time, metadata and hash link as stored) and [`EventFilter`], which picks events by
//! stream, type, author, recorded time and correlation (the store's [`LogFilter`]). The
//! `eventRecorded` subscription hands them out live; the audit query `events` lists them.
//! The provenance an auditor checks (metadata, the hash link) is for auditors and admins only,
//! also through the subscription that viewers may use.

use async_graphql::{InputObject, Json, Object};
use chrono::{DateTime, Utc};
use sitrep_domain::store::{LogFilter, StoredEvent};
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::error::ApiError;
use crate::scalars::{BigInt, FeedCursor};

/// One event of the log, as stored.
pub struct RecordedEvent(pub StoredEvent);

/// One event of the log, as stored: the entity it belongs to, what happened (`eventType` and
/// `payload`), and who recorded it, when and why.
#[Object]
impl RecordedEvent {
    /// Give it as `after` to go on just past this event.
    async fn cursor(&self) -> FeedCursor {
        FeedCursor(self.0.cursor())
    }

    /// Its global position (unique; the feed's order is the commit order, not this).
    async fn position(&self) -> BigInt {
        BigInt(self.0.position)
    }

    /// The event's id (unique in the log).
    async fn event_id(&self) -> Uuid {
        self.0.event_id
    }

    /// `incident`, `negotiation`, `troop_deployment`, `actor`, `site`.
    async fn stream_type(&self) -> &str {
        &self.0.stream.stream_type
    }

    /// The id of the entity the event belongs to.
    async fn stream_id(&self) -> Uuid {
        self.0.stream.stream_id
    }

    /// The entity's version this event made.
    async fn version(&self) -> BigInt {
        BigInt(i64::try_from(self.0.stream_version).unwrap_or(i64::MAX))
    }

    /// `IncidentReported`, `CasualtiesRevised`, ...
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// The version of the payload's shape.
    async fn schema_version(&self) -> i32 {
        self.0.schema_version
    }

    /// The payload as stored (null if the stored text cannot be read as JSON, which the
    /// store's checks rule out).
    async fn payload(&self) -> Option<Json<serde_json::Value>> {
        serde_json::from_str(self.0.payload.get()).ok().map(Json)
    }

    /// When it was recorded (the log's time, not the world's).
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }

    /// Who recorded it: the name of the bearer token the mutation came with (or of the tool
    /// that recorded it outside the API, such as `sitrep demo`).
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }

    /// Why, for a change to earlier facts.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The id of what caused this event, if its recorder gave one; the API's mutations give
    /// none, so it is null for what they record.
    async fn causation_id(&self) -> Option<Uuid> {
        self.0.causation_id
    }

    /// Ties together the events of one piece of work.
    async fn correlation_id(&self) -> Option<Uuid> {
        self.0.correlation_id
    }

    /// When the fact began in the world (valid time), if the event says; null for events
    /// that state no time of their own (a retraction, a rename).
    async fn valid_from(&self) -> Option<DateTime<Utc>> {
        self.0.valid_time.as_ref().map(|t| t.from)
    }

    /// When the fact ended in the world (exclusive), for a span; null for a moment or when
    /// the event states no time.
    async fn valid_to(&self) -> Option<DateTime<Utc>> {
        self.0.valid_time.as_ref().and_then(|t| t.to)
    }

    /// How precise the valid time is as its source gave it (`day`, `week`, `month`, ...).
    async fn valid_precision(&self) -> Option<&str> {
        self.0
            .valid_time
            .as_ref()
            .and_then(|t| t.precision.as_deref())
    }

    /// Free metadata recorded with the event (a JSON object; `{}` when none).
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn metadata(&self) -> Option<Json<serde_json::Value>> {
        serde_json::from_str(self.0.metadata.get()).ok().map(Json)
    }

    /// The event's hash (hex, SHA-256): links it to the stream's previous event and is what
    /// `sitrep verify` recomputes.
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn hash(&self) -> String {
        hex::encode(&self.0.hash)
    }

    /// The hash of the stream's previous event (hex; zeros for version 1).
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn prev_hash(&self) -> String {
        hex::encode(&self.0.prev_hash)
    }
}

/// Which events: each part given narrows the choice; left out, it does not. An empty list
/// chooses nothing.
#[derive(InputObject, Default, Debug, Clone)]
pub struct EventFilter {
    /// Stream types (`incident`, `negotiation`, ...).
    pub stream_types: Option<Vec<String>>,
    /// Events of these entities only.
    pub stream_ids: Option<Vec<Uuid>>,
    /// Event types (`IncidentReported`, ...).
    pub event_types: Option<Vec<String>>,
    /// Events of one piece of work.
    pub correlation_id: Option<Uuid>,
    /// Events recorded by these authors only (token names, as `recordedBy` shows them).
    pub recorded_by: Option<Vec<String>>,
    /// Events recorded at or after this time.
    pub recorded_from: Option<DateTime<Utc>>,
    /// Events recorded at or before this time.
    pub recorded_until: Option<DateTime<Utc>>,
}

/// The most entries a list of [`EventFilter`] may hold.
pub const MAX_FILTER_LIST: usize = 100;

impl EventFilter {
    /// The store's filter: the same choice, once its rules are checked (lists of at most
    /// [`MAX_FILTER_LIST`] entries, `recordedFrom` not after `recordedUntil`). `field` is where
    /// the filter sits in the request (`filter`).
    pub fn into_log_filter(self, field: &str) -> Result<LogFilter, ApiError> {
        let check = |name: &str, len: Option<usize>| match len {
            Some(len) if len > MAX_FILTER_LIST => Err(ApiError::bad_input(
                format!("{field}.{name}"),
                format!("may name at most {MAX_FILTER_LIST} entries"),
            )),
            _ => Ok(()),
        };
        check("streamIds", self.stream_ids.as_ref().map(Vec::len))?;
        check("streamTypes", self.stream_types.as_ref().map(Vec::len))?;
        check("eventTypes", self.event_types.as_ref().map(Vec::len))?;
        check("recordedBy", self.recorded_by.as_ref().map(Vec::len))?;
        if let (Some(from), Some(until)) = (self.recorded_from, self.recorded_until) {
            if from > until {
                return Err(ApiError::bad_input(
                    format!("{field}.recordedFrom"),
                    "must not be after recordedUntil",
                ));
            }
        }
        Ok(LogFilter {
            stream_ids: self.stream_ids,
            stream_types: self.stream_types,
            event_types: self.event_types,
            recorded_by: self.recorded_by,
            recorded_from: self.recorded_from,
            recorded_until: self.recorded_until,
            correlation_id: self.correlation_id,
        })
    }
}
