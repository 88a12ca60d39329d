//! The typed errors of the projections.

use sitrep_domain::model::CodecError;
use sitrep_domain::store::StoreError;

/// Why a projection could not be built, applied or read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event does not decode into the model (a bug, or a missing upcaster).
    #[error("event at position {position} cannot be read: {source}")]
    Unreadable {
        position: i64,
        #[source]
        source: CodecError,
    },
    /// A read model's stored state does not decode (written by an incompatible version).
    #[error("{projection}: stored state of {id} cannot be read: {source}")]
    CorruptState {
        projection: &'static str,
        id: uuid::Uuid,
        #[source]
        source: serde_json::Error,
    },
    /// The log lacks a version of a stream that a later version of it follows (the log was
    /// tampered with: `sitrep verify` says where).
    #[error("stream {stream_id}: expected version {expected} in the log, found {found}")]
    StreamGap {
        stream_id: uuid::Uuid,
        expected: u64,
        found: u64,
    },
    /// Another projector moved this generation's checkpoint since this one read it: nothing was
    /// committed; read the checkpoint again.
    #[error("{projection} generation {generation}: checkpoint moved by another projector")]
    Fenced {
        projection: &'static str,
        generation: i32,
    },
    /// The live generation was built by a newer version of the projection's code (a rolling
    /// deploy): this process does not maintain it.
    #[error("{projection}: the live generation is version {live}, newer than this build's {ours}")]
    NewerGeneration {
        projection: &'static str,
        live: i32,
        ours: i32,
    },
    /// A rebuild's generation was abandoned before it could switch live (another rebuild
    /// took over, the lock of this one having been lost): nothing was switched.
    #[error("{projection} generation {generation} is no longer building: nothing switched")]
    NotBuilding { projection: String, generation: i32 },
    /// Not a generation's schema name.
    #[error("{0:?} is not the schema of a read model's generation")]
    NotAGeneration(String),
    /// No projection of that name.
    #[error("no projection named {0:?}")]
    Unknown(String),
    /// A failpoint stopped the projector between writing a page and committing it (tests).
    #[error("failpoint: stopped before commit")]
    Failpoint,
    /// A task of the projector was cancelled (the runtime is shutting down).
    #[error("the projector's read of the feed was cancelled")]
    Cancelled,
    /// A wait for the projections to catch up ran out of time.
    #[error("projections did not catch up within {0:?}")]
    Timeout(std::time::Duration),
}
