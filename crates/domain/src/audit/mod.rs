//! What an auditor asks of one stream: every version with the change it made and who made it,
//! why and when ([`history`]), and the aggregate as it stood at a version or a recorded time
//! ([`state_at`]).
//!
//! Both rebuild the aggregate from its events with the model's own fold ([`replay`]), not from
//! a read model, and compare consecutive states with a pure, field-level [`diff`]. This module
//! only reads the store; it owns no SQL.

pub mod diff;
pub mod replay;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::store::{EventStore, StoreError, StoredEvent, StreamRange, StreamRef};

pub use diff::{diff, Change, ChangeKind};
pub use replay::ReplayError;

/// Why an audit read failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// One version of a stream: the event that made it and what it changed.
#[derive(Debug, Clone)]
pub struct StreamVersion {
    /// The event, as stored (author, reason, recorded time, ids).
    pub event: StoredEvent,
    /// The leaves of the state it changed, from the state before it.
    pub changes: Vec<Change>,
}

/// The versions of stream `stream_id` within `range`, oldest first, each with what it changed
/// (version 1 against the empty aggregate). Empty when the stream has no event in the range.
pub async fn history(
    store: &EventStore,
    stream_id: Uuid,
    range: StreamRange,
) -> Result<Vec<StreamVersion>, AuditError> {
    let events = store.read_stream(stream_id, range).await?;
    Ok(versions_of(events)?)
}

/// The versions `events` made (one stream's, in version order from version 1), each with what
/// it changed. Pure: the fold and the diff, no I/O.
pub fn versions_of(events: Vec<StoredEvent>) -> Result<Vec<StreamVersion>, ReplayError> {
    let Some(first) = events.first() else {
        return Ok(Vec::new());
    };
    let stream_type = first.stream.stream_type.clone();
    let states = replay::states_after_each(&stream_type, &events)?;
    let mut before = replay::empty_state(&stream_type)?;
    let mut versions = Vec::with_capacity(events.len());
    for (event, after) in events.into_iter().zip(states) {
        versions.push(StreamVersion {
            changes: diff(&before, &after),
            event,
        });
        before = after;
    }
    Ok(versions)
}

/// An aggregate rebuilt from its events up to some point.
#[derive(Debug, Clone)]
pub struct StateAt {
    pub stream: StreamRef,
    /// The version it was rebuilt to.
    pub version: u64,
    /// When that version was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The last event folded.
    pub event_id: Uuid,
    /// The aggregate's state, in its serde form.
    pub state: Value,
}

/// Stream `stream_id` rebuilt from its events in `range`; `None` when it has none there (it
/// does not exist, or had not been recorded by then).
pub async fn state_at(
    store: &EventStore,
    stream_id: Uuid,
    range: StreamRange,
) -> Result<Option<StateAt>, AuditError> {
    let events = store.read_stream(stream_id, range).await?;
    let Some(last) = events.last() else {
        return Ok(None);
    };
    let state = replay::state_after(&last.stream.stream_type, &events)?;
    Ok(Some(StateAt {
        stream: last.stream.clone(),
        version: last.stream_version,
        recorded_at: last.recorded_at,
        event_id: last.event_id,
        state,
    }))
}
