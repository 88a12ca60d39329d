//! The troop-deployment aggregate's vocabularies as GraphQL enums (`OFFICIAL_STATEMENT`), each
//! converted to and from the domain's own enum with async-graphql's `remote`, so that the
//! compiler checks that both sides list the same values (see [`crate::vocab`] for why they are
//! mirrored at all); and the kinds of points of a troop-level series.

use async_graphql::Enum;

/// How the source qualified its figure.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::troops::CountQualifier")]
pub enum CountQualifier {
    /// "About 2,500".
    About,
    /// "At least 900".
    AtLeast,
    /// "Up to 3,000".
    UpTo,
    /// One figure given as exact (the count must then be one figure).
    Exactly,
}

/// Which personnel a figure counts.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::troops::CountScope")]
pub enum CountScope {
    /// Active-duty military only (as the DMDC quarterly reports).
    ActiveDutyOnly,
    /// All military personnel, whatever their status or deployment.
    AllPersonnel,
    /// Military personnel and contractors.
    IncludingContractors,
    /// The source does not say.
    Unknown,
}

/// What kind of source a figure comes from. Between figures describing the same day, the
/// current level prefers official statements, then official reports, then research estimates,
/// then media.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::troops::SourceType")]
pub enum TroopSourceType {
    /// A periodic official publication (the DMDC quarterly personnel reports).
    OfficialReport,
    /// A statement by an official (a ministry, a spokesperson, a commander).
    OfficialStatement,
    /// Media reporting.
    Media,
    /// A research institute's estimate (IISS Military Balance).
    ResearchEstimate,
}

/// Which way an announced change moves troops.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::troops::ChangeKind")]
pub enum TroopChangeKind {
    /// Fewer troops: a drawdown or a full withdrawal.
    Withdrawal,
    /// More troops: a deployment or reinforcement.
    Arrival,
}

/// Where an announced change stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::troops::TroopChangeStatus")]
pub enum TroopChangeStatus {
    /// Announced, not yet carried out.
    Announced,
    /// Carried out.
    Completed,
    /// Called off.
    Cancelled,
}

/// What a point of a troop-level series stands for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TroopPointKind {
    /// A source's estimate of the level, dated by the end of the time it describes.
    Estimate,
    /// An announced change: the level it is to reach, dated by when it is to be done.
    Planned,
    /// A change carried out: its target level, dated by its completion (the level actually
    /// reached comes as an estimate).
    Completed,
}

impl TroopPointKind {
    /// The kind of the stored name (`estimate`, `planned`, `completed`).
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "estimate" => Some(Self::Estimate),
            "planned" => Some(Self::Planned),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}
