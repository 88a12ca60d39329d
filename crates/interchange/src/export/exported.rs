//! An incident as the exports write it: its state folded from the log at the version the
//! selection picked, with the names its actors had (now, or as of the time asked), the version
//! and when that version was recorded. Every format is a function of this value alone.

use chrono::{DateTime, Utc};
use sitrep_domain::model::incident::{
    ActorRole, AttributionStatus, IncidentFacts, VerificationStatus,
};
use sitrep_domain::model::values::Source;
use sitrep_domain::model::vocab::ActorType;
use uuid::Uuid;

/// One incident of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedIncident {
    /// The incident's stream id.
    pub id: Uuid,
    /// The stream version the facts are at.
    pub version: u64,
    /// When that version was recorded.
    pub last_recorded_at: DateTime<Utc>,
    pub facts: IncidentFacts,
    pub verification: VerificationStatus,
    /// The actors involved, in the order their involvement was first recorded.
    pub actors: Vec<ExportedActor>,
    /// The sources, in the order they were reported or attached.
    pub sources: Vec<Source>,
}

/// An actor's part in an exported incident, with the actor's name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedActor {
    pub id: Uuid,
    /// The actor's name in the actors read model; its id when the read model does not know it
    /// (yet: it follows the log a little behind).
    pub name: String,
    /// The actor's registered type, when the read model knows it.
    pub actor_type: Option<ActorType>,
    pub role: ActorRole,
    pub attribution: AttributionStatus,
}

impl ExportedIncident {
    /// The names of the actors in `role`, in recorded order.
    pub fn names_in(&self, role: ActorRole) -> Vec<&str> {
        self.actors
            .iter()
            .filter(|a| a.role == role)
            .map(|a| a.name.as_str())
            .collect()
    }

    /// The names of the actors in a role other than perpetrator, target and claimant
    /// (suspected, associated, the perpetrator's and the target's associates), in recorded
    /// order.
    pub fn other_actor_names(&self) -> Vec<&str> {
        self.actors
            .iter()
            .filter(|a| {
                !matches!(
                    a.role,
                    ActorRole::Perpetrator | ActorRole::Target | ActorRole::Claimant
                )
            })
            .map(|a| a.name.as_str())
            .collect()
    }

    /// The sources' names, in order.
    pub fn source_names(&self) -> Vec<&str> {
        self.sources.iter().map(|s| s.name.as_str()).collect()
    }
}
