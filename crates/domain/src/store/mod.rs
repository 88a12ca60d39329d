//! The event store: the one source of truth of sitrep, an append-only `events` table.
//!
//! Module map:
//! - [`event`]: what goes in ([`NewEvent`]) and what comes out ([`StoredEvent`]);
//! - [`validate`]: the rules an event must meet before any SQL runs;
//! - [`digest`]: the content digest and hash link of an event;
//! - [`append`]: appends with optimistic concurrency, idempotency and the hash link, in one statement;
//! - [`bulk`]: many streams' events in the caller's transaction, in one `COPY` (the importers),
//!   with the same concurrency, hash links and idempotency; [`bulk_copy`] writes its rows;
//! - [`heads`]: stream heads already seen, so that an append can link to them without a lookup;
//! - [`read`]: one stream, whole or up to a version or a recorded time;
//! - [`feed`]: the gap-free, commit-ordered feed of all events, its cursor and its wake-ups;
//! - [`appended`]: this process's appends counted by stream type, which wake its readers of
//!   those types and which the feed's `NOTIFY` names;
//! - [`log_query`]: pages of that feed narrowed by stream, type, author, time and correlation
//!   (the audit log);
//! - [`integrity`]: seals over the feed and verification of hash links and seals, whole or over
//!   a range of positions;
//! - [`transfer`]: the log exported as JSON lines, and such a file imported into an empty
//!   database, checked line by line;
//! - [`error`]: the typed errors of all of the above.

mod append;
pub mod appended;
mod bulk;
mod bulk_copy;
pub(crate) mod digest;
pub mod error;
pub mod event;
pub mod feed;
mod heads;
pub mod integrity;
pub mod log_query;
mod read;
mod row;
mod stamps;
pub mod transfer;
mod validate;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use appended::{AppendCounts, LocalAppends};
use heads::StreamHeads;
use stamps::StampPause;

pub use crate::canonical::CanonicalJson;
pub use digest::{content_digest, GENESIS_HASH};
pub use error::StoreError;
pub use event::{
    AppendResult, AppendedStream, BulkAppendResult, ExpectedVersion, JsonText, NewEvent,
    StoredEvent, StreamAppend, StreamRef, ValidTime,
};
pub use feed::{FeedCursor, FeedPage, FEED_CHANNEL};
pub use integrity::{
    IntegrityBreak, IntegrityProblem, IntegrityReport, InvalidRange, PositionRange, Seal,
};
pub use log_query::{LogFilter, LogPage};
pub use read::StreamRange;
pub use transfer::{ExportSummary, ImportSummary, LineProblem, TransferError};

/// Handle on the event store. Cheap to clone: clones share the pool, the feed wake-up, the
/// stream heads seen and the pause of the store's own recorded times.
#[derive(Clone, Debug)]
pub struct EventStore {
    pool: PgPool,
    /// Names this store (and its clones) in the feed's notifications.
    origin: Uuid,
    /// Counts this process's committed appends by stream type, for readers in the same process
    /// (see [`EventStore::local_appends_of`]) and the feed notifier.
    local_appends: Arc<watch::Sender<AppendCounts>>,
    heads: Arc<StreamHeads>,
    stamps: Arc<StampPause>,
}

impl EventStore {
    /// A store over `pool`. The schema must be migrated ([`crate::MIGRATOR`]).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            origin: Uuid::new_v4(),
            local_appends: Arc::new(watch::Sender::new(AppendCounts::default())),
            heads: Arc::default(),
            stamps: Arc::default(),
        }
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Wakes a reader of `stream_types` (every type when `None`) each time this process (this
    /// store or a clone of it) commits appends of those types: readers in the same process,
    /// such as a server's projectors, are woken at once instead of by the coalesced `NOTIFY`
    /// (which other processes still need), and not by appends they would pass over.
    pub fn local_appends_of(&self, stream_types: Option<&'static [&'static str]>) -> LocalAppends {
        LocalAppends::new(self.local_appends.subscribe(), stream_types)
    }

    /// The origin this store names in its feed notifications (see
    /// [`appended::notification_concerns`]).
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Tells the feed notifier and this process's readers that appends of `stream_types`
    /// committed (none: of unknown types).
    fn appends_committed<'a>(&self, stream_types: impl IntoIterator<Item = &'a str>) {
        self.local_appends
            .send_modify(|counts| counts.record(stream_types));
    }
}
