//! One row of an external dataset as an incident, before any database is asked: what the format
//! readers ([`crate::acled`], [`crate::ucdp`]) produce and the sync ([`crate::sync`]) consumes.
//! Actors are still names here; the import resolves them to registered actors.

use sitrep_domain::model::incident::{ActorRole, ExternalRef, IncidentFacts};
use sitrep_domain::model::values::Source;
use sitrep_domain::model::vocab::ActorType;

/// A dataset sitrep imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// ACLED's standard export.
    Acled,
    /// UCDP's Georeferenced Event Dataset (codebook 19.1 or later).
    Ucdp,
}

impl Dataset {
    /// The dataset's name in external references (`acled:...`) and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Self::Acled => "acled",
            Self::Ucdp => "ucdp",
        }
    }
}

/// A row of a dataset file, mapped and checked: a valid incident.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRow {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// `acled:<event_id_cnty>`, `ucdp:<id>`: the incident's identity across imports.
    pub external_ref: ExternalRef,
    /// Valid by [`IncidentFacts::validate`]; `external_refs` holds `external_ref`.
    pub facts: IncidentFacts,
    /// The actors the row names, in the row's order, each in one role.
    pub actors: Vec<NamedActor>,
    /// The sources the row names, in order.
    pub sources: Vec<Source>,
}

/// An actor a row names, in the part it plays there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedActor {
    pub name: String,
    pub role: ActorRole,
    /// The type to register the actor with when no registered actor has this name.
    pub actor_type: ActorType,
}

/// Why a row was rejected: where, and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {rule}")]
pub struct RowError {
    pub line: u64,
    /// The column's name in the file's header (or the incident field the rule is about, when no
    /// one column is to blame).
    pub column: String,
    pub rule: String,
}
