//! The model of the conflict world: aggregates whose every change is an event.
//!
//! Pure code, no I/O: a command is validated and decided against an aggregate's state
//! ([`Aggregate::decide`]), producing events; the state is the fold of its events
//! ([`Aggregate::apply`]). Names and vocabularies follow ACLED, UCDP GED and PA-X.
//!
//! - [`values`]: time, place, uncertain counts and sources, shared by every aggregate.
//! - [`vocab`]: ACLED's event types, sub-event types and actor types.
//! - [`aggregate`]: the traits and the stored form of events (schema versions, upcasting).
//! - [`testing`]: given / when / then for aggregates.
//! - One module per aggregate.

pub mod actor;
pub mod aggregate;
mod countries;
pub mod error;
pub mod incident;
pub mod negotiation;
pub mod site;
#[cfg(test)]
pub mod testing;
pub mod troops;
pub mod values;
pub mod vocab;

pub use aggregate::{
    decode, decode_text, encode, encode_canonical, Aggregate, CodecError, DomainEvent,
    EncodedCanonical, EncodedEvent, Reference,
};
pub use error::DomainError;
