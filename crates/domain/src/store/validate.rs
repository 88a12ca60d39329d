//! The rules an append must meet before any SQL runs, so bad input costs no round trip and
//! gets a typed error naming the field.

use std::collections::{HashMap, HashSet};

use super::error::StoreError;
use super::event::{NewEvent, StreamAppend, StreamRef};

/// The most events one append may carry (one statement, one transaction).
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;
/// The longest stream type, event type, precision or author name accepted.
pub const MAX_NAME_LEN: usize = 200;
/// The most events one bulk append may carry; a caller with more calls it again in the same
/// transaction.
pub const MAX_EVENTS_PER_BULK_APPEND: usize = 1_000_000;

/// The rule of text, JSON strings and keys included (PostgreSQL's text and jsonb cannot hold
/// U+0000).
pub(crate) const NUL_RULE: &str = "text must not contain NUL characters";

pub(crate) fn check_append(stream: &StreamRef, events: &[NewEvent]) -> Result<(), StoreError> {
    check_part(Place::Append, stream, events)?;
    let mut ids = HashSet::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        if !ids.insert(event.event_id) {
            return Err(StoreError::invalid(
                format!("events[{i}].event_id"),
                "event ids must be unique within an append",
            ));
        }
        check_event(Place::Append, i, event, JsonScan::Here)?;
    }
    Ok(())
}

/// How many events a bulk append carries: at least one stream, at most
/// [`MAX_EVENTS_PER_BULK_APPEND`] events.
pub(crate) fn batch_size(batch: &[StreamAppend]) -> Result<usize, StoreError> {
    if batch.is_empty() {
        return Err(StoreError::invalid(
            "batch",
            "a bulk append needs at least one stream",
        ));
    }
    let total: usize = batch.iter().map(|s| s.events.len()).sum();
    if total > MAX_EVENTS_PER_BULK_APPEND {
        return Err(StoreError::invalid(
            "batch",
            format!("at most {MAX_EVENTS_PER_BULK_APPEND} events per bulk append"),
        ));
    }
    Ok(total)
}

/// A bulk append (of [`batch_size`] events): every stream's part as [`check_append`] checks it
/// (fields named `batch[i].…`), no stream named twice, no event id twice in the whole batch.
///
/// All but one rule: payload and metadata are not walked for NUL characters here. The bulk
/// append finds them while it writes each event's canonical JSON (the walk it does anyway;
/// done here too, walking every tree twice cost a fifth of a bulk append's time), and refuses
/// the batch with the same error, under a savepoint, before anything of it is committed.
pub(crate) fn check_batch(batch: &[StreamAppend], total: usize) -> Result<(), StoreError> {
    let mut streams: HashMap<uuid::Uuid, usize> = HashMap::with_capacity(batch.len());
    let mut ids: HashSet<uuid::Uuid> = HashSet::with_capacity(total);
    for (i, part) in batch.iter().enumerate() {
        let place = Place::Batch(i);
        check_part(place, &part.stream, &part.events)?;
        if let Some(first) = streams.insert(part.stream.stream_id, i) {
            return Err(StoreError::invalid(
                format!("batch[{i}].stream.stream_id"),
                format!("a stream may appear once in a batch (also at batch[{first}])"),
            ));
        }
        for (k, event) in part.events.iter().enumerate() {
            if !ids.insert(event.event_id) {
                return Err(StoreError::invalid(
                    format!("batch[{i}].events[{k}].event_id"),
                    "event ids must be unique within a batch",
                ));
            }
            check_event(place, k, event, JsonScan::Later)?;
        }
    }
    Ok(())
}

/// Where the events checked sit, for the field names of errors (written only on an error).
#[derive(Clone, Copy)]
enum Place {
    /// A single append: `events[3].event_type`.
    Append,
    /// Part `i` of a bulk append: `batch[i].events[3].event_type`.
    Batch(usize),
}

impl Place {
    fn field(self, name: &str) -> String {
        match self {
            Self::Append => name.to_owned(),
            Self::Batch(i) => format!("batch[{i}].{name}"),
        }
    }
}

/// Whether payload and metadata are walked for NUL characters here or by the caller later.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonScan {
    Here,
    Later,
}

/// One stream's part: its type and how many events.
fn check_part(place: Place, stream: &StreamRef, events: &[NewEvent]) -> Result<(), StoreError> {
    check_name(|| place.field("stream_type"), &stream.stream_type)?;
    if events.is_empty() {
        return Err(StoreError::invalid(
            place.field("events"),
            "an append needs at least one event",
        ));
    }
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::invalid(
            place.field("events"),
            format!("at most {MAX_EVENTS_PER_APPEND} events per append"),
        ));
    }
    Ok(())
}

fn check_event(place: Place, i: usize, event: &NewEvent, json: JsonScan) -> Result<(), StoreError> {
    let field = |name: &str| place.field(&format!("events[{i}].{name}"));
    check_name(|| field("event_type"), &event.event_type)?;
    check_name(|| field("recorded_by"), &event.recorded_by)?;
    if event.schema_version < 1 {
        return Err(StoreError::invalid(
            field("schema_version"),
            "must be 1 or more",
        ));
    }
    if !event.metadata.is_object() {
        return Err(StoreError::invalid(
            field("metadata"),
            "must be a JSON object",
        ));
    }
    if let Some(valid) = &event.valid_time {
        if valid.to.is_some_and(|to| to < valid.from) {
            return Err(StoreError::invalid(
                field("valid_time"),
                "the span ends before it starts",
            ));
        }
        if let Some(precision) = &valid.precision {
            check_name(|| field("valid_time.precision"), precision)?;
        }
    }
    if json == JsonScan::Here {
        if event.payload.has_nul() {
            return Err(StoreError::invalid(field("payload"), NUL_RULE));
        }
        if event.metadata.has_nul() {
            return Err(StoreError::invalid(field("metadata"), NUL_RULE));
        }
    }
    if let Some(reason) = &event.reason {
        if reason.trim().is_empty() {
            return Err(StoreError::invalid(
                field("reason"),
                "must not be blank when given",
            ));
        }
        check_text(|| field("reason"), reason)?;
    }
    Ok(())
}

/// `field` names the field, called only when the value breaks a rule.
fn check_name(field: impl FnOnce() -> String, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        return Err(StoreError::invalid(field(), "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(StoreError::invalid(
            field(),
            format!("at most {MAX_NAME_LEN} characters"),
        ));
    }
    check_text(field, value)
}

fn check_text(field: impl FnOnce() -> String, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::invalid(field(), NUL_RULE));
    }
    Ok(())
}
