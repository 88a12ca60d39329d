//! sitrep's projections: the read models dashboards query, built from the event log's ordered
//! feed. The log is the truth; every view here can be dropped and rebuilt from it.
//!
//! - [`projection`]: what a projection is: a name, a version, its tables and how it applies a
//!   page of events.
//! - [`generation`]: where a projection's tables live (one schema per generation) and which
//!   generation is live; the blue/green switch of a rebuild.
//! - [`projector`]: follows the feed and applies each page to a generation, with the checkpoint
//!   in the same transaction; leader election by advisory lock; rebuilds.
//! - [`status`]: each projection's position and lag, and read-your-writes waits.
//! - `copy_rows`: rows in COPY text form, for bulk inserts.
//! - [`checksum`]: a digest of a generation's contents, to prove a rebuild equal.
//! - [`replay`]: a read model built from a prefix of the log (up to a recorded time or a feed
//!   position) into a schema of its own that is never live, for audits.
//! - [`incidents`]: the incidents read model, versioned by recorded time;
//!   [`incident_queries`]: the list and the statistics dashboards ask of it.
//! - `log_states`: aggregate states folded from the log and kept between pages, so a read
//!   model need not store them.
//! - [`negotiations`]: negotiations with their sessions, working groups, positions, milestones
//!   and agreements, versioned by recorded time; [`negotiation_queries`]: the list, one
//!   process, and the parts of many processes at once.
//! - [`troops`]: troop levels: the current level by the domain's rule with the competing
//!   estimates, and the time series for step charts, versioned by recorded time;
//!   [`troop_queries`]: the levels and the series.
//! - [`actors`]: actors, affiliations, sites and each actor's part in incidents, versioned by
//!   recorded time; incident counts per actor (current only); [`actor_queries`]: the lists,
//!   lookups by id and batches of related rows the API asks of it.

pub mod actor_queries;
pub mod actors;
pub mod checksum;
mod copy_rows;
pub mod error;
pub mod generation;
pub mod incident_queries;
pub mod incidents;
mod log_states;
pub mod negotiation_queries;
pub mod negotiations;
pub mod projection;
pub mod projector;
pub mod replay;
mod rows;
pub mod status;
pub mod troop_queries;
pub mod troops;

pub use error::ProjectionError;
pub use projection::{ChecksumTable, Projection};
pub use projector::Projector;

/// Every projection sitrep maintains.
pub fn all() -> Vec<std::sync::Arc<dyn Projection>> {
    vec![
        std::sync::Arc::new(incidents::IncidentsProjection::default()),
        std::sync::Arc::new(negotiations::NegotiationsProjection),
        std::sync::Arc::new(troops::TroopsProjection),
        std::sync::Arc::new(actors::ActorsProjection),
    ]
}
