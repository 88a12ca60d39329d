//! A stream's history as GraphQL: every version with the event that made it and the
//! field-level changes it made to the aggregate ([`sitrep_domain::audit::history`]), shown by
//! the audit query `history` and by the `history` field of incidents, negotiations, troop
//! deployments and actors. Only auditors and admins may read it (each field carries the
//! [`RequireClass`](crate::auth::RequireClass) guard). The `history` fields of a list load in
//! a batch ([`HistoryLoader`]: one statement for every entity of a level of the query).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::audit::{self, AuditError, Change, ChangeKind, StreamVersion};
use sitrep_domain::store::{EventStore, StreamRange};
use uuid::Uuid;

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::events::RecordedEvent;

/// What a `history` field costs in query complexity, beside its children: it reads and folds
/// a whole stream, so a list of a few hundred entities asking for it is refused.
pub const HISTORY_COST: usize = 50;

/// One version of an entity's stream.
pub struct HistoryEntry(pub StreamVersion);

/// One version of an entity: the event that made it (who recorded it, when and why) and what it
/// changed, field by field, in the entity's state as the domain model folds it.
#[Object]
impl HistoryEntry {
    /// The stream version this event made (1 for the first).
    async fn version(&self) -> i32 {
        i32::try_from(self.0.event.stream_version).unwrap_or(i32::MAX)
    }

    /// The event's type (`CasualtiesRevised`, ...).
    async fn event_type(&self) -> &str {
        &self.0.event.event_type
    }

    /// The event's id.
    async fn event_id(&self) -> Uuid {
        self.0.event.event_id
    }

    /// When it was recorded (the log's time).
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.event.recorded_at
    }

    /// Who recorded it (the bearer token's name, or the tool's).
    async fn recorded_by(&self) -> &str {
        &self.0.event.recorded_by
    }

    /// Why, for a change to earlier facts.
    async fn reason(&self) -> Option<&str> {
        self.0.event.reason.as_deref()
    }

    /// The whole event as stored (payload, valid time, correlation, hash link).
    async fn event(&self) -> RecordedEvent {
        RecordedEvent(self.0.event.clone())
    }

    /// The leaves of the state this version changed, in path order (version 1: against the
    /// empty entity, so every field it set).
    async fn changes(&self) -> Vec<FieldChange> {
        self.0.changes.iter().map(FieldChange::from).collect()
    }
}

/// How a field changed.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum FieldChangeKind {
    /// It had no value before (absent, null or empty) and has one now.
    Added,
    /// It had a value before and has none now.
    Removed,
    /// It had a value before and has another now.
    Changed,
}

/// One field of an entity's state changed by a version.
#[derive(SimpleObject, Debug, Clone)]
pub struct FieldChange {
    /// Where, in the state's JSON: keys joined by `.`, list elements by index
    /// (`facts.fatalities.best`, `actors[1].attribution`).
    pub path: String,
    /// Added, removed or changed.
    pub kind: FieldChangeKind,
    /// The value before (null: none).
    pub before: Option<Json<serde_json::Value>>,
    /// The value after (null: none).
    pub after: Option<Json<serde_json::Value>>,
}

impl From<&Change> for FieldChange {
    fn from(change: &Change) -> Self {
        Self {
            path: change.path.clone(),
            kind: match change.kind() {
                ChangeKind::Added => FieldChangeKind::Added,
                ChangeKind::Removed => FieldChangeKind::Removed,
                ChangeKind::Changed => FieldChangeKind::Changed,
            },
            before: change.before.clone().map(Json),
            after: change.after.clone().map(Json),
        }
    }
}

/// The versions of stream `stream_id` within `range`, oldest first.
pub async fn stream_history(
    ctx: &Context<'_>,
    stream_id: Uuid,
    range: StreamRange,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let store = &ctx
        .data::<ApiContext>()
        .map_err(|e| ApiError::internal(e.message))?
        .store;
    let versions = audit::history(store, stream_id, range)
        .await
        .map_err(ApiError::internal)?;
    Ok(versions.into_iter().map(HistoryEntry).collect())
}

/// The history field of an entity read at stream version `version`: the versions up to the one
/// it shows (so an entity read with `asOf` shows the history known then), loaded in a batch
/// with the other entities of the same level of the query.
pub async fn history_up_to(
    ctx: &Context<'_>,
    stream_id: Uuid,
    version: i64,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let version = u64::try_from(version).unwrap_or_default();
    let loader = ctx
        .data::<DataLoader<HistoryLoader>>()
        .map_err(|e| ApiError::internal(e.message))?;
    let versions = loader
        .load_one((stream_id, version))
        .await
        .map_err(ApiError::internal)?
        .unwrap_or_default();
    Ok(versions.iter().cloned().map(HistoryEntry).collect())
}

/// Loads the histories of many streams, each up to a version, with one statement; caches
/// nothing (the schema's `DataLoader` of it only batches).
pub struct HistoryLoader {
    store: EventStore,
}

impl HistoryLoader {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }
}

impl Loader<(Uuid, u64)> for HistoryLoader {
    type Value = Arc<Vec<StreamVersion>>;
    type Error = Arc<AuditError>;

    async fn load(
        &self,
        keys: &[(Uuid, u64)],
    ) -> Result<HashMap<(Uuid, u64), Self::Value>, Self::Error> {
        let streams = self
            .store
            .read_streams_until(keys)
            .await
            .map_err(|e| Arc::new(AuditError::from(e)))?;
        let mut histories = HashMap::with_capacity(keys.len());
        for &(stream_id, version) in keys {
            let events: Vec<_> = streams
                .get(&stream_id)
                .map(|events| {
                    events
                        .iter()
                        .take_while(|e| e.stream_version <= version)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let versions = audit::versions_of(events).map_err(|e| Arc::new(AuditError::from(e)))?;
            histories.insert((stream_id, version), Arc::new(versions));
        }
        Ok(histories)
    }
}
