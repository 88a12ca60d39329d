//! Events of the log as GraphQL objects: [`RecordedEvent`] (any event, with its payload as
//! stored) and [`EventFilter`], which picks events by stream and type. Subscriptions hand them
//! out; the audit queries will list them.

use async_graphql::{InputObject, Json, Object};
use chrono::{DateTime, Utc};
use sitrep_domain::store::StoredEvent;
use uuid::Uuid;

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
}

/// Which events: each list given narrows the choice; left out, it does not.
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
}

impl EventFilter {
    /// Whether `event` is chosen.
    pub fn matches(&self, event: &StoredEvent) -> bool {
        let within = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref()
                .is_none_or(|list| list.iter().any(|item| item == value))
        };
        within(&self.stream_types, &event.stream.stream_type)
            && within(&self.event_types, &event.event_type)
            && self
                .stream_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&event.stream.stream_id))
            && self
                .correlation_id
                .is_none_or(|id| event.correlation_id == Some(id))
    }
}
