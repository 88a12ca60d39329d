//! The typed errors of the event store.

use uuid::Uuid;

use super::event::ExpectedVersion;

/// Why an append or a read failed. Every variant but [`StoreError::Database`] means nothing was
/// written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer got there first: the stream is not at the expected version.
    #[error("version conflict on stream {stream_id}: expected {expected}, actual {actual}")]
    Conflict {
        stream_id: Uuid,
        expected: ExpectedVersion,
        /// The stream's current version (0: it does not exist).
        actual: u64,
    },
    /// The event id is already stored, with different content.
    #[error("event {event_id} is already stored with different content")]
    IdempotencyMismatch { event_id: Uuid },
    /// The stream exists with another type.
    #[error("stream {stream_id} is a {actual} stream, not {requested}")]
    StreamTypeMismatch {
        stream_id: Uuid,
        requested: String,
        actual: String,
    },
    /// The event breaks a rule of the store; `field` names it.
    #[error("invalid event: {field}: {rule}")]
    Invalid { field: String, rule: String },
    /// A feed cursor that this store did not hand out.
    #[error("invalid feed cursor: {0}")]
    InvalidCursor(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }
}
