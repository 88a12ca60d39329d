//! sitrep's domain crate: the model of the conflict world and the event store it is kept in.
//!
//! - [`model`] is the conflict world as aggregates (incidents, negotiations, troop deployments,
//!   actors, sites): pure code that decides commands into events and folds events into state.
//! - [`handler`] runs commands: loads an aggregate from its stream, decides, appends at the
//!   version it loaded (optimistic concurrency, idempotency keys).
//! - [`audit`] rebuilds one stream for an auditor: every version with a field-level diff of
//!   what it changed, and the aggregate as it stood at a version or a recorded time.
//! - [`canonical`] writes any serialisable value as the canonical JSON text the store keeps and
//!   hashes, without building a tree first.
//! - [`store`] is the append-only event log in PostgreSQL: optimistic concurrency, idempotent
//!   appends, hash links and seals, and the gap-free commit-ordered feed. It owns its SQL.
//!
//! The SQL schema lives in the workspace's `migrations/` folder and is embedded here as
//! [`MIGRATOR`], so the binary, the tests and the benchmarks all run the same migrations.

pub mod audit;
pub mod canonical;
pub mod handler;
pub mod model;
pub mod store;

/// The workspace's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
