//! What every aggregate is: a fold of its events that decides commands, and how its events are
//! written to and read from the store (type name, schema version, payload, upcasting).
//!
//! An aggregate is pure: [`Aggregate::decide`] looks at the current state and a command and
//! returns the events to append, or a [`DomainError`]; [`Aggregate::apply`] folds one event into
//! the state. Loading and appending is the command handler's job ([`crate::handler`]), not the
//! model's.
//!
//! Event enums are serde enums tagged `#[serde(tag = "type", content = "data")]`: the variant
//! name is the stored event type and the variant's fields are the payload. Every variant must
//! carry a struct (or newtype) so that the payload is a JSON object.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::DomainError;
use super::values::EventTime;
use crate::canonical::CanonicalJson;

/// An aggregate: its state is the fold of its events, and it decides what a command produces.
pub trait Aggregate: Default + Clone + Debug {
    /// The stream type of its streams (`incident`).
    const STREAM_TYPE: &'static str;
    type Command: Debug;
    type Event: DomainEvent;

    /// The events `command` produces in the current state, or why it is refused (and then it
    /// produces nothing).
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, DomainError>;

    /// Folds one event into the state. Never fails: events are facts that already happened.
    fn apply(&mut self, event: &Self::Event);

    /// Rules that need the aggregate's own stream id, which `decide` does not see (an incident
    /// is not merged into itself). The command handler checks them before deciding.
    fn check_identity(stream_id: Uuid, command: &Self::Command) -> Result<(), DomainError> {
        let _ = (stream_id, command);
        Ok(())
    }

    /// The other aggregates `command` refers to by id (the actors of an incident, its site, the
    /// incident it is merged into). The command handler refuses the command, naming the field,
    /// when one of them does not exist.
    fn references(command: &Self::Command) -> Vec<Reference> {
        let _ = command;
        Vec::new()
    }

    /// The state after `events`, from the empty state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}

/// A reference from a command to another aggregate, which must exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where the command names it (`actors[0].actor`, `facts.place.site`).
    pub field: String,
    /// The stream type the id must belong to.
    pub stream_type: &'static str,
    pub id: Uuid,
}

impl Reference {
    pub fn new(field: impl Into<String>, stream_type: &'static str, id: Uuid) -> Self {
        Self {
            field: field.into(),
            stream_type,
            id,
        }
    }
}

/// An event of the model.
pub trait DomainEvent: Serialize + DeserializeOwned + Clone + Debug + PartialEq {
    /// The current schema version of `event_type`'s payload: 1 until the payload changes shape,
    /// then raised, with [`DomainEvent::upcast`] bringing older payloads up to it.
    fn schema_version(event_type: &str) -> i32 {
        let _ = event_type;
        1
    }

    /// Brings a stored payload of `event_type` at `schema_version` (older than the current one)
    /// up to the current shape. The default knows no older versions.
    fn upcast(event_type: &str, schema_version: i32, payload: Value) -> Result<Value, String> {
        let _ = payload;
        Err(format!(
            "no upcaster from schema version {schema_version} of {event_type}"
        ))
    }

    /// The reason this event gives for changing earlier facts, if any (kept in the store's
    /// `reason` column as well).
    fn reason(&self) -> Option<&str> {
        None
    }

    /// When the fact happened in the world, if the event says (the store's valid time).
    fn valid_time(&self) -> Option<&EventTime> {
        None
    }
}

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
}

/// Why an event could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event does not serialise to {{\"type\", \"data\"}} with an object payload")]
    NotAdjacentlyTagged,
    #[error("cannot serialise event: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error("stored {event_type} has schema version {found}, newer than this build's {current}")]
    NewerSchema {
        event_type: String,
        found: i32,
        current: i32,
    },
    #[error("cannot upcast {event_type} from schema version {found}: {reason}")]
    Upcast {
        event_type: String,
        found: i32,
        reason: String,
    },
    #[error("cannot read stored {event_type}: {source}")]
    Decode {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The stored form of `event`: its type name, current schema version and payload.
pub fn encode<E: DomainEvent>(event: &E) -> Result<EncodedEvent, CodecError> {
    let Value::Object(mut tagged) = serde_json::to_value(event).map_err(CodecError::Serialize)?
    else {
        return Err(CodecError::NotAdjacentlyTagged);
    };
    let Some(Value::String(event_type)) = tagged.remove("type") else {
        return Err(CodecError::NotAdjacentlyTagged);
    };
    let payload = match tagged.remove("data") {
        Some(Value::Object(data)) => Value::Object(data),
        None => Value::Object(Map::new()),
        Some(_) => return Err(CodecError::NotAdjacentlyTagged),
    };
    Ok(EncodedEvent {
        schema_version: E::schema_version(&event_type),
        event_type,
        payload,
    })
}

/// An event as the store keeps it, its payload already in canonical JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedCanonical {
    pub event_type: String,
    pub schema_version: i32,
    pub payload: CanonicalJson,
}

/// [`encode`] without the intermediate tree: the payload written straight to the canonical text
/// the store keeps (what the bulk importers and the command handler append).
pub fn encode_canonical<E: DomainEvent>(event: &E) -> Result<EncodedCanonical, CodecError> {
    let tagged = CanonicalJson::of(event).map_err(CodecError::Serialize)?;
    // Keys are sorted, so the adjacently tagged form reads `{"data":{...},"type":"Name"}`, or
    // `{"type":"Name"}` for an event without data. The type is the last entry: its `,"type":`
    // is the last one in the text, whatever the data holds.
    let text = tagged.as_str();
    let body = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or(CodecError::NotAdjacentlyTagged)?;
    let (data, tag) = match body.strip_prefix("\"type\":") {
        Some(tag) => (None, tag),
        None => {
            let data = body
                .strip_prefix("\"data\":")
                .ok_or(CodecError::NotAdjacentlyTagged)?;
            let split = data
                .rfind(",\"type\":")
                .ok_or(CodecError::NotAdjacentlyTagged)?;
            (Some(&data[..split]), &data[split + ",\"type\":".len()..])
        }
    };
    let event_type: String =
        serde_json::from_str(tag).map_err(|_| CodecError::NotAdjacentlyTagged)?;
    let payload = match data {
        None => CanonicalJson::of(&Map::new()).map_err(CodecError::Serialize)?,
        Some(data) if data.starts_with('{') => CanonicalJson::from_canonical_part(&tagged, data),
        Some(_) => return Err(CodecError::NotAdjacentlyTagged),
    };
    Ok(EncodedCanonical {
        schema_version: E::schema_version(&event_type),
        event_type,
        payload,
    })
}

/// The event stored as `event_type` at `schema_version` with the JSON text `payload`, as
/// [`decode`] does; an event at its current schema is read straight from the text (the tag
/// first, so serde does not buffer the payload), which is what projections do for every event.
pub fn decode_text<E: DomainEvent>(
    event_type: &str,
    schema_version: i32,
    payload: &str,
) -> Result<E, CodecError> {
    let decode_error = |source| CodecError::Decode {
        event_type: event_type.to_owned(),
        source,
    };
    if schema_version != E::schema_version(event_type) {
        let value: Value = serde_json::from_str(payload).map_err(decode_error)?;
        return decode(event_type, schema_version, value);
    }
    let tag = serde_json::to_string(event_type).map_err(CodecError::Serialize)?;
    serde_json::from_str(&format!("{{\"type\":{tag},\"data\":{payload}}}")).map_err(decode_error)
}

/// The event stored as `event_type` at `schema_version` with `payload`, upcast when it is older
/// than the current schema.
pub fn decode<E: DomainEvent>(
    event_type: &str,
    schema_version: i32,
    payload: Value,
) -> Result<E, CodecError> {
    let current = E::schema_version(event_type);
    let payload = if schema_version == current {
        payload
    } else if schema_version < current {
        E::upcast(event_type, schema_version, payload).map_err(|reason| CodecError::Upcast {
            event_type: event_type.to_owned(),
            found: schema_version,
            reason,
        })?
    } else {
        return Err(CodecError::NewerSchema {
            event_type: event_type.to_owned(),
            found: schema_version,
            current,
        });
    };
    let mut tagged = Map::new();
    tagged.insert("type".into(), Value::String(event_type.to_owned()));
    tagged.insert("data".into(), payload);
    serde_json::from_value(Value::Object(tagged)).map_err(|source| CodecError::Decode {
        event_type: event_type.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::{encode, encode_canonical, DomainEvent};
    use crate::canonical::CanonicalJson;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Probe {
        Nothing,
        Noted {
            zed: String,
            /// Holds `,"type":` of its own, which must not be taken for the tag.
            inner: Vec<Probe>,
        },
    }

    impl DomainEvent for Probe {}

    #[test]
    fn the_direct_encoding_equals_the_tree_encoding() {
        let events = [
            Probe::Nothing,
            Probe::Noted {
                zed: "\"type\":\"Fake\"}".into(),
                inner: vec![Probe::Nothing, Probe::Nothing],
            },
        ];
        for event in &events {
            let tree = encode(event).expect("tree");
            let direct = encode_canonical(event).expect("direct");
            assert_eq!(direct.event_type, tree.event_type);
            assert_eq!(direct.schema_version, tree.schema_version);
            assert_eq!(direct.payload, CanonicalJson::from(&tree.payload));
        }
        let nothing = encode_canonical(&Probe::Nothing).expect("direct");
        assert_eq!(nothing.payload.as_str(), "{}");
    }
}
