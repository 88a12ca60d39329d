//! Aggregates rebuilt from their stored events, whatever their stream type: the states an
//! audit shows. Pure (no I/O): the events are given.
//!
//! The fold is the aggregate's own ([`Aggregate::apply`], the one the command handler uses), not
//! a read model's, so what it shows is what the model knew. States are given as JSON, in the
//! aggregate's serde form.

use serde::Serialize;
use serde_json::Value;

use crate::model::actor::Actor;
use crate::model::incident::Incident;
use crate::model::negotiation::Negotiation;
use crate::model::site::Site;
use crate::model::troops::TroopDeployment;
use crate::model::{decode_text, Aggregate, CodecError};
use crate::store::StoredEvent;

/// Why events could not be folded.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No aggregate of the model keeps streams of this type.
    #[error("no aggregate has streams of type {0:?}")]
    UnknownStreamType(String),
    /// The events given belong to more than one stream type.
    #[error("event at position {position} is of stream type {found:?}, not {expected:?}")]
    MixedStreamTypes {
        position: i64,
        expected: String,
        found: String,
    },
    /// A stored event could not be read back into the model (a bug or a missing upcaster).
    #[error("stored event at position {position} cannot be read: {source}")]
    Unreadable {
        position: i64,
        #[source]
        source: CodecError,
    },
    /// A state could not be written as JSON (a bug in the model).
    #[error("state cannot be written as JSON: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// The state after each of `events` (one stream's, in version order), starting from the empty
/// aggregate: `result[i]` is the state after `events[i]`. `stream_type` picks the aggregate.
pub fn states_after_each(
    stream_type: &str,
    events: &[StoredEvent],
) -> Result<Vec<Value>, ReplayError> {
    dispatch(stream_type, events, Fold::EachEvent)
}

/// The empty aggregate of `stream_type`, as JSON: the state before version 1.
pub fn empty_state(stream_type: &str) -> Result<Value, ReplayError> {
    Ok(dispatch(stream_type, &[], Fold::Empty)?
        .pop()
        .unwrap_or(Value::Null))
}

/// The state after all of `events` (one stream's, in version order).
pub fn state_after(stream_type: &str, events: &[StoredEvent]) -> Result<Value, ReplayError> {
    Ok(dispatch(stream_type, events, Fold::Last)?
        .pop()
        .unwrap_or(Value::Null))
}

/// Which states a fold hands back.
#[derive(Clone, Copy)]
enum Fold {
    /// Only the empty aggregate.
    Empty,
    /// The state after every event.
    EachEvent,
    /// The state after the last event.
    Last,
}

fn dispatch(
    stream_type: &str,
    events: &[StoredEvent],
    fold: Fold,
) -> Result<Vec<Value>, ReplayError> {
    match stream_type {
        Incident::STREAM_TYPE => fold_as::<Incident>(events, fold),
        Negotiation::STREAM_TYPE => fold_as::<Negotiation>(events, fold),
        TroopDeployment::STREAM_TYPE => fold_as::<TroopDeployment>(events, fold),
        Actor::STREAM_TYPE => fold_as::<Actor>(events, fold),
        Site::STREAM_TYPE => fold_as::<Site>(events, fold),
        other => Err(ReplayError::UnknownStreamType(other.to_owned())),
    }
}

fn fold_as<A: Aggregate + Serialize>(
    events: &[StoredEvent],
    fold: Fold,
) -> Result<Vec<Value>, ReplayError> {
    let json = |state: &A| serde_json::to_value(state).map_err(ReplayError::Serialize);
    let mut state = A::default();
    let mut states = Vec::new();
    if let Fold::Empty = fold {
        states.push(json(&state)?);
        return Ok(states);
    }
    for stored in events {
        if stored.stream.stream_type != A::STREAM_TYPE {
            return Err(ReplayError::MixedStreamTypes {
                position: stored.position,
                expected: A::STREAM_TYPE.to_owned(),
                found: stored.stream.stream_type.clone(),
            });
        }
        let event: A::Event = decode_text(
            &stored.event_type,
            stored.schema_version,
            stored.payload.get(),
        )
        .map_err(|source| ReplayError::Unreadable {
            position: stored.position,
            source,
        })?;
        state.apply(&event);
        if let Fold::EachEvent = fold {
            states.push(json(&state)?);
        }
    }
    if let Fold::Last = fold {
        states.push(json(&state)?);
    }
    Ok(states)
}
