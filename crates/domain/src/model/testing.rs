//! Given / when / then for aggregates, without a database (in the manner of cqrs-es's
//! `TestFramework`): given these events, when this command, then these events or this error.
//!
//! Every event passing through is also written and read back through the store's encoding
//! ([`super::aggregate::encode`] / [`super::aggregate::decode`]), so a test also fails when an
//! event does not survive storage.

use super::aggregate::{decode, decode_text, encode, Aggregate};
use super::error::DomainError;

/// Starts a test from the aggregate's history.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().map(round_trip::<A>).collect();
    Given {
        state: A::fold(&events),
    }
}

/// Starts a test from no history (a new stream).
pub fn given_no_history<A: Aggregate>() -> Given<A> {
    given::<A>([])
}

/// An aggregate's state, built from its events.
pub struct Given<A: Aggregate> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` against the state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.decide(&command);
        Then {
            state: self.state,
            command,
            result,
        }
    }

    /// The state, for assertions about the fold itself.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of a command.
pub struct Then<A: Aggregate> {
    state: A,
    command: A::Command,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A> {
    /// Asserts the command produced exactly `expected`; returns the state after them.
    #[track_caller]
    pub fn then_events(self, expected: Vec<A::Event>) -> A {
        match self.result {
            Ok(events) => {
                let events: Vec<A::Event> = events.into_iter().map(round_trip::<A>).collect();
                assert_eq!(events, expected, "events of {:?}", self.command);
                let mut state = self.state;
                for event in &events {
                    state.apply(event);
                }
                state
            }
            Err(e) => panic!(
                "expected events from {:?}, got the error {e:?}",
                self.command
            ),
        }
    }

    /// Asserts the command was refused with exactly `expected`.
    #[track_caller]
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!(
                "expected {expected:?} from {:?}, got the events {events:?}",
                self.command
            ),
            Err(e) => assert_eq!(e, expected, "error of {:?}", self.command),
        }
    }

    /// Asserts the command was refused as invalid input in `field` (whatever the rule's words).
    #[track_caller]
    pub fn then_invalid(self, field: &str) {
        match self.result {
            Err(DomainError::Invalid { field: actual, .. }) if actual == field => {}
            other => panic!(
                "expected invalid {field} from {:?}, got {other:?}",
                self.command
            ),
        }
    }

    /// Asserts the command was refused because of the aggregate's state.
    #[track_caller]
    pub fn then_invalid_state(self) {
        match self.result {
            Err(DomainError::InvalidState { .. }) => {}
            other => panic!(
                "expected a refusal by state from {:?}, got {other:?}",
                self.command
            ),
        }
    }

    /// The events produced, for assertions the helpers above do not cover.
    #[track_caller]
    pub fn events(self) -> Vec<A::Event> {
        match self.result {
            Ok(events) => events.into_iter().map(round_trip::<A>).collect(),
            Err(e) => panic!("expected events from {:?}, got {e:?}", self.command),
        }
    }
}

/// `event` written and read back as the store would; panics if it does not come back equal.
#[track_caller]
fn round_trip<A: Aggregate>(event: A::Event) -> A::Event {
    let encoded = encode(&event).unwrap_or_else(|e| panic!("cannot encode {event:?}: {e}"));
    let text = serde_json::to_string(&encoded.payload).expect("a JSON value serialises");
    let payload = serde_json::from_str(&text).expect("it parses back");
    let decoded: A::Event = decode(&encoded.event_type, encoded.schema_version, payload)
        .unwrap_or_else(|e| panic!("cannot decode {event:?}: {e}"));
    assert_eq!(decoded, event, "event changed through storage");
    let from_text: A::Event = decode_text(&encoded.event_type, encoded.schema_version, &text)
        .unwrap_or_else(|e| panic!("cannot decode {event:?} from its text: {e}"));
    assert_eq!(from_text, event, "event changed through its stored text");
    decoded
}
