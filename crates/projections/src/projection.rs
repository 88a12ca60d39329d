//! What a projection is.
//!
//! A projection owns a set of tables (its read model). It creates them in an empty schema (the
//! projector sets `search_path` to the generation's schema, so the SQL names tables without a
//! schema) and applies events to them a page at a time, inside the projector's transaction:
//! the rows it writes and the checkpoint commit together.
//!
//! **Determinism.** The rows must be a function of the events alone, in feed order, whatever the
//! page boundaries: no `now()`, no random ids. That is what lets a rebuild prove itself equal to
//! the incrementally built view ([`crate::checksum`]).

use futures::future::BoxFuture;
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;

use crate::error::ProjectionError;

/// A table of a read model and the columns that order its rows for the checksum.
#[derive(Debug, Clone, Copy)]
pub struct ChecksumTable {
    pub name: &'static str,
    pub order_by: &'static str,
}

/// A read model built from the feed.
pub trait Projection: Send + Sync + 'static {
    /// Its name: lower-case letters and `_` (`incidents`).
    fn name(&self) -> &'static str;

    /// The version of its code and tables: raising it makes the next start rebuild it into a
    /// new generation.
    fn version(&self) -> i32;

    /// SQL creating its tables, without schema names, with the indexes its own `apply` needs.
    fn ddl(&self) -> &'static str;

    /// SQL creating the indexes its queries need. A new empty generation gets them at once; a
    /// rebuild creates them once it has caught up, which is much faster than maintaining them
    /// row by row while it loads the whole log, several at a time: statements end with `;`,
    /// and comments take whole `--` lines (a test checks each projection's file splits into
    /// its `CREATE` statements).
    fn indexes(&self) -> &'static str {
        ""
    }

    /// Its tables, for the checksum.
    fn tables(&self) -> &'static [ChecksumTable];

    /// The stream types whose events change its read model; it passes over every other event.
    /// A mutation waits (read-your-writes) only for the projections that read its stream type.
    fn stream_types(&self) -> &'static [&'static str];

    /// Applies `events` (in feed order: the projector passes those of [`Self::stream_types`]
    /// from a page of the feed, a replay every event of its pages, so not all of them need
    /// concern this projection) on `conn`, inside the projector's transaction.
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}
