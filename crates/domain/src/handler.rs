//! Running commands: load an aggregate from its stream, let it decide, append what it decided at
//! the version it was loaded at.
//!
//! This is the seam between the pure model ([`crate::model`]) and the event store
//! ([`crate::store`]): `sitrep demo` goes through it, and the GraphQL mutations and the importers
//! (issues #5 and #7) will.
//! It owns no SQL: it only calls the store.
//!
//! - **Optimistic concurrency.** The append expects the version the aggregate was loaded at. A
//!   client that names the version it saw (`expected_version`) gets a [`HandlerError::Conflict`]
//!   when the stream has moved on; without one, the command is decided again on the new state (a
//!   few times) so that two writers' unrelated commands both land.
//! - **Identity and references.** Rules that need the stream id ([`Aggregate::check_identity`])
//!   and the existence of the aggregates a command refers to ([`Aggregate::references`]) are
//!   checked here, before the aggregate decides.
//! - **Idempotency keys.** With a key, the events' ids are derived from it and from the author
//!   ([`event_id_for`]), so a retried request finds its first result (`replayed: true`, nothing
//!   appended) instead of deciding again; a key reused by the same author for a different
//!   command or stream is refused; another author's key of the same text is another request.

use chrono::{DateTime, Days, NaiveTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::values::EventTime;
use crate::model::{
    decode_text, encode_canonical, Aggregate, CodecError, DomainError, DomainEvent,
};
use crate::store::{
    AppendResult, EventStore, ExpectedVersion, FeedCursor, NewEvent, StoreError, StoredEvent,
    StreamRange, StreamRef, ValidTime,
};

/// How often a command without an expected version is decided again after another writer
/// appended to its stream first.
const ATTEMPTS: usize = 5;

/// The longest idempotency key accepted, in bytes.
const MAX_KEY_LEN: usize = 200;

/// Who sends a command, and the conditions it is sent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    /// Who records it: a user, a client or an importer.
    pub recorded_by: String,
    /// The stream version the client based the command on; `None` takes the current one.
    pub expected_version: Option<u64>,
    /// A client's key for this request: a retry with the same key appends nothing. Keys are
    /// the author's own: the same key sent by another `recorded_by` is another request.
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl CommandMeta {
    /// A command recorded by `recorded_by`, with no conditions.
    pub fn by(recorded_by: impl Into<String>) -> Self {
        Self {
            recorded_by: recorded_by.into(),
            expected_version: None,
            idempotency_key: None,
            correlation_id: None,
            causation_id: None,
        }
    }

    /// The same, sent on condition that the stream is at `version`.
    pub fn expecting(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// The same, with an idempotency key.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The same, in the correlation `correlation_id` (e.g. one import run, one demo).
    pub fn correlated(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }
}

/// An aggregate as its stream holds it.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    /// The stream's version (0: no events).
    pub version: u64,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Executed<A: Aggregate> {
    pub stream_id: Uuid,
    /// The stream's version after the command.
    pub version: u64,
    pub events: Vec<A::Event>,
    pub event_ids: Vec<Uuid>,
    pub positions: Vec<i64>,
    /// The feed cursor just past the last of the events (see [`AppendResult::feed_end`]).
    pub feed_end: FeedCursor,
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry of an earlier request with the same idempotency key: nothing
    /// was appended, and this is the first request's result.
    pub replayed: bool,
    /// The aggregate after the command.
    pub state: A,
}

/// Why a command was not carried out. Nothing was appended in any case.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(#[from] DomainError),
    /// The stream is not at the version the client expected.
    #[error("version conflict on {stream_id}: expected version {expected}, actual {actual}")]
    Conflict {
        stream_id: Uuid,
        expected: u64,
        actual: u64,
    },
    /// The idempotency key was used before for another command or another stream.
    #[error("idempotency key {key:?} was already used for a different request")]
    KeyReused { key: String },
    /// The stream exists but holds another kind of aggregate.
    #[error("{stream_id} is a {actual}, not a {requested}")]
    WrongStreamType {
        stream_id: Uuid,
        requested: &'static str,
        actual: String,
    },
    /// A stored event could not be read back into the model (a bug or a missing upcaster).
    #[error("stored event at position {position} cannot be read: {source}")]
    Unreadable {
        position: i64,
        #[source]
        source: CodecError,
    },
    /// A decided event could not be encoded (a bug in the model).
    #[error("decided event cannot be stored: {0}")]
    Unencodable(#[source] CodecError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Runs commands against an event store.
#[derive(Debug, Clone)]
pub struct CommandHandler {
    store: EventStore,
}

impl CommandHandler {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The aggregate in stream `stream_id`, folded from its events in `range` (the empty
    /// aggregate at version 0 when the stream does not exist).
    pub async fn load<A: Aggregate>(
        &self,
        stream_id: Uuid,
        range: StreamRange,
    ) -> Result<Loaded<A>, HandlerError> {
        let stored = self
            .store
            .read_stream(stream_id, range)
            .await
            .map_err(HandlerError::Store)?;
        let events = decode_all::<A>(stream_id, &stored)?;
        Ok(Loaded {
            state: A::fold(&events),
            version: stored.last().map_or(0, |e| e.stream_version),
        })
    }

    /// Decides `command` on the aggregate in stream `stream_id` and appends the events.
    pub async fn execute<A: Aggregate>(
        &self,
        stream_id: Uuid,
        command: &A::Command,
        meta: &CommandMeta,
    ) -> Result<Executed<A>, HandlerError> {
        if let Some(key) = &meta.idempotency_key {
            check_key(key)?;
        }
        A::check_identity(stream_id, command)?;
        self.check_references::<A>(command).await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let loaded = self.load::<A>(stream_id, StreamRange::All).await?;
            // Looked up after the load, on every attempt: if a request with the same key
            // committed before the load, it is found here, and the state just loaded (which
            // holds its events) is not decided on again.
            if let Some(key) = &meta.idempotency_key {
                if let Some(first) = self
                    .store
                    .event_by_id(event_id_for(&meta.recorded_by, key, 0))
                    .await
                    .map_err(HandlerError::Store)?
                {
                    return self
                        .replay::<A>(stream_id, command, meta, key, &first)
                        .await;
                }
            }
            if let Some(expected) = meta.expected_version {
                if expected != loaded.version {
                    return Err(HandlerError::Conflict {
                        stream_id,
                        expected,
                        actual: loaded.version,
                    });
                }
            }
            let events = loaded.state.decide(command)?;
            let new_events = to_new_events(&events, meta)?;
            let expected = match loaded.version {
                0 => ExpectedVersion::NoStream,
                v => ExpectedVersion::Exact(v),
            };
            let stream = StreamRef::new(A::STREAM_TYPE, stream_id);
            match self.store.append(&stream, expected, &new_events).await {
                // A request with the same key committed between the lookup and the append:
                // its result is the answer, through `replay` on the next attempt.
                Ok(result) if result.replayed => {}
                Ok(result) => {
                    let mut state = loaded.state;
                    for event in &events {
                        state.apply(event);
                    }
                    return Ok(executed(result, events, state));
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    if meta.expected_version.is_some() || attempt >= ATTEMPTS {
                        return Err(HandlerError::Conflict {
                            stream_id,
                            expected: loaded.version,
                            actual,
                        });
                    }
                }
                Err(e) => return Err(store_error(e, meta, A::STREAM_TYPE)),
            }
        }
    }

    /// [`Self::execute`] on a stream id the caller has just made up (a new UUID, neither the
    /// client's nor derived from a key), which no stored stream can hold: the command is decided
    /// on the empty aggregate and appended as a new stream, without reading the stream first
    /// (one statement instead of two). Whenever that does not simply succeed (the empty
    /// aggregate refuses the command, or the stream exists after all) the command runs the
    /// usual way, so every outcome is the one [`Self::execute`] gives. With an idempotency key
    /// or an expected version other than 0 it is [`Self::execute`].
    pub async fn execute_on_fresh_id<A: Aggregate>(
        &self,
        stream_id: Uuid,
        command: &A::Command,
        meta: &CommandMeta,
    ) -> Result<Executed<A>, HandlerError> {
        if meta.idempotency_key.is_some() || meta.expected_version.is_some_and(|v| v != 0) {
            return self.execute(stream_id, command, meta).await;
        }
        A::check_identity(stream_id, command)?;
        self.check_references::<A>(command).await?;
        let state = A::default();
        let Ok(events) = state.decide(command) else {
            return self.execute(stream_id, command, meta).await;
        };
        let new_events = to_new_events(&events, meta)?;
        let stream = StreamRef::new(A::STREAM_TYPE, stream_id);
        match self
            .store
            .append(&stream, ExpectedVersion::NoStream, &new_events)
            .await
        {
            Ok(result) if !result.replayed => {
                let mut state = state;
                for event in &events {
                    state.apply(event);
                }
                Ok(executed(result, events, state))
            }
            // The stream exists (or, with ids of no key, cannot be a retry): the usual way.
            Ok(_) | Err(StoreError::Conflict { .. }) => {
                self.execute(stream_id, command, meta).await
            }
            Err(e) => Err(store_error(e, meta, A::STREAM_TYPE)),
        }
    }

    /// Refuses `command` when an aggregate it refers to does not exist (or is of another kind).
    async fn check_references<A: Aggregate>(
        &self,
        command: &A::Command,
    ) -> Result<(), HandlerError> {
        let references = A::references(command);
        if references.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = references.iter().map(|r| r.id).collect();
        let found = self
            .store
            .stream_types(&ids)
            .await
            .map_err(HandlerError::Store)?;
        for reference in references {
            let rule = match found.get(&reference.id) {
                Some(actual) if actual == reference.stream_type => continue,
                Some(other) => format!(
                    "{} is not a recorded {} (it is a {other})",
                    reference.id, reference.stream_type
                ),
                None => format!(
                    "{} is not a recorded {}: record it first",
                    reference.id, reference.stream_type
                ),
            };
            return Err(DomainError::invalid(reference.field, rule).into());
        }
        Ok(())
    }

    /// The first result of the request with idempotency key `key` (sent by `meta`'s author),
    /// whose first event is `first`, after checking that this request is the same command on
    /// the same stream.
    async fn replay<A: Aggregate>(
        &self,
        stream_id: Uuid,
        command: &A::Command,
        meta: &CommandMeta,
        key: &str,
        first: &StoredEvent,
    ) -> Result<Executed<A>, HandlerError> {
        let reused = || HandlerError::KeyReused {
            key: key.to_owned(),
        };
        if first.stream.stream_id != stream_id || first.stream.stream_type != A::STREAM_TYPE {
            return Err(reused());
        }
        let stored = self
            .store
            .read_stream(stream_id, StreamRange::All)
            .await
            .map_err(HandlerError::Store)?;
        let before = first.stream_version.saturating_sub(1);
        let prior: Vec<&StoredEvent> = stored
            .iter()
            .filter(|e| e.stream_version <= before)
            .collect();
        let originals: Vec<&StoredEvent> = stored
            .iter()
            .filter(|e| e.stream_version > before)
            .zip(0..)
            .take_while(|(e, i)| e.event_id == event_id_for(&meta.recorded_by, key, *i))
            .map(|(e, _)| e)
            .collect();
        let prior_events = decode_all::<A>(stream_id, prior.iter().copied())?;
        let original_events = decode_all::<A>(stream_id, originals.iter().copied())?;
        // The same command on the same state decides the same events: anything else is another
        // request that reused the key.
        let state_before = A::fold(&prior_events);
        match state_before.decide(command) {
            Ok(events) if events == original_events => {}
            _ => return Err(reused()),
        }
        let mut state = state_before;
        for event in &original_events {
            state.apply(event);
        }
        let last = originals.last().copied().unwrap_or(first);
        Ok(Executed {
            stream_id,
            version: last.stream_version,
            events: original_events,
            event_ids: originals.iter().map(|e| e.event_id).collect(),
            positions: originals.iter().map(|e| e.position).collect(),
            feed_end: originals
                .iter()
                .map(|e| e.cursor())
                .max()
                .unwrap_or_else(|| first.cursor()),
            recorded_at: last.recorded_at,
            replayed: true,
            state,
        })
    }
}

/// The id of the `index`-th event decided by the request that `recorded_by` sent with
/// idempotency key `key`: the same author and key always give the same ids, so the store
/// recognises a retry; another author's key of the same text gives other ids (keys are scoped
/// per author, so one client cannot replay or block another's requests by guessing its keys).
pub fn event_id_for(recorded_by: &str, key: &str, index: u32) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(b"sitrep idempotency key\0");
    // Each part with its length first, so that no two (author, key) pairs hash alike.
    for part in [recorded_by, key] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(index.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The store's valid time for a model time: from the first day's start to the last day's end
/// (half open, UTC), with the precision's name.
pub fn valid_time_of(time: &EventTime) -> ValidTime {
    let start = time.start.and_time(NaiveTime::MIN).and_utc();
    let end = time
        .end
        .checked_add_days(Days::new(1))
        .unwrap_or(time.end)
        .and_time(NaiveTime::MIN)
        .and_utc();
    ValidTime {
        from: start,
        to: Some(end),
        precision: Some(time.precision.as_str().to_owned()),
    }
}

fn check_key(key: &str) -> Result<(), DomainError> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN {
        return Err(DomainError::invalid(
            "idempotency_key",
            format!("must be 1 to {MAX_KEY_LEN} bytes, not blank"),
        ));
    }
    Ok(())
}

/// The model events of stored events, upcast where they are older.
fn decode_all<'a, A: Aggregate>(
    stream_id: Uuid,
    stored: impl IntoIterator<Item = &'a StoredEvent>,
) -> Result<Vec<A::Event>, HandlerError> {
    stored
        .into_iter()
        .map(|e| {
            if e.stream.stream_type != A::STREAM_TYPE {
                return Err(HandlerError::WrongStreamType {
                    stream_id,
                    requested: A::STREAM_TYPE,
                    actual: e.stream.stream_type.clone(),
                });
            }
            let unreadable = |source| HandlerError::Unreadable {
                position: e.position,
                source,
            };
            decode_text(&e.event_type, e.schema_version, e.payload.get()).map_err(unreadable)
        })
        .collect()
}

/// The store's form of decided events, with ids from the idempotency key when there is one.
fn to_new_events<E: DomainEvent>(
    events: &[E],
    meta: &CommandMeta,
) -> Result<Vec<NewEvent>, HandlerError> {
    events
        .iter()
        .zip(0u32..)
        .map(|(event, index)| {
            let encoded = encode_canonical(event).map_err(HandlerError::Unencodable)?;
            let mut new = NewEvent::new(encoded.event_type, encoded.payload, &meta.recorded_by);
            if let Some(key) = &meta.idempotency_key {
                new.event_id = event_id_for(&meta.recorded_by, key, index);
            }
            new.schema_version = encoded.schema_version;
            new.valid_time = event.valid_time().map(valid_time_of);
            new.reason = event.reason().map(str::to_owned);
            new.correlation_id = meta.correlation_id;
            new.causation_id = meta.causation_id;
            Ok(new)
        })
        .collect()
}

fn executed<A: Aggregate>(result: AppendResult, events: Vec<A::Event>, state: A) -> Executed<A> {
    Executed {
        stream_id: result.stream.stream_id,
        version: result.version,
        events,
        event_ids: result.event_ids,
        positions: result.positions,
        feed_end: result.feed_end,
        recorded_at: result.recorded_at,
        replayed: result.replayed,
        state,
    }
}

/// A store error as the handler reports it.
fn store_error(error: StoreError, meta: &CommandMeta, requested: &'static str) -> HandlerError {
    match error {
        StoreError::IdempotencyMismatch { .. } => match &meta.idempotency_key {
            Some(key) => HandlerError::KeyReused { key: key.clone() },
            None => HandlerError::Store(error),
        },
        StoreError::StreamTypeMismatch {
            stream_id, actual, ..
        } => HandlerError::WrongStreamType {
            stream_id,
            requested,
            actual,
        },
        other => HandlerError::Store(other),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::model::values::DatePrecision;

    #[test]
    fn keys_give_stable_distinct_ids() {
        assert_eq!(event_id_for("a", "k", 0), event_id_for("a", "k", 0));
        assert_ne!(event_id_for("a", "k", 0), event_id_for("a", "k", 1));
        assert_ne!(event_id_for("a", "k", 0), event_id_for("a", "l", 0));
        assert_eq!(event_id_for("a", "k", 0).get_version_num(), 8);
    }

    #[test]
    fn keys_are_scoped_by_author() {
        assert_ne!(event_id_for("a", "k", 0), event_id_for("b", "k", 0));
        // The parts are length-prefixed: moving text between author and key changes the id.
        assert_ne!(event_id_for("ab", "c", 0), event_id_for("a", "bc", 0));
        // Pinned: a retry after an upgrade must find the ids its first request stored.
        assert_eq!(
            event_id_for("desk editor", "tower-22", 0).to_string(),
            "3a02369d-e0a9-8686-a5b7-069bcacff703"
        );
    }

    #[test]
    fn valid_time_covers_whole_days() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let vt = valid_time_of(&EventTime::span(
            d("2024-01-20"),
            d("2024-01-27"),
            DatePrecision::Week,
        ));
        assert_eq!(vt.from.to_rfc3339(), "2024-01-20T00:00:00+00:00");
        assert_eq!(vt.to.unwrap().to_rfc3339(), "2024-01-28T00:00:00+00:00");
        assert_eq!(vt.precision.as_deref(), Some("week"));
    }

    #[test]
    fn keys_must_be_short_and_not_blank() {
        assert!(check_key("req-1").is_ok());
        assert!(check_key(" ").is_err());
        assert!(check_key(&"x".repeat(201)).is_err());
    }
}
