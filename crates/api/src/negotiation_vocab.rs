//! The negotiation aggregate's vocabularies as GraphQL enums (`FRAMEWORK_SUBSTANTIVE_PARTIAL`),
//! each converted to and from the domain's own enum with async-graphql's `remote`, so that the
//! compiler checks that both sides list the same values (see [`crate::vocab`] for why they are
//! mirrored at all).

use async_graphql::Enum;

/// Where a negotiation stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::NegotiationStatus")]
pub enum NegotiationStatus {
    /// Talks are going on (the status of a newly opened negotiation).
    Active,
    /// Talks are paused and expected to resume.
    Suspended,
    /// Talks ended with their outcome.
    Concluded,
    /// Talks broke down without an outcome.
    Collapsed,
}

/// How a timeline milestone fared.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::MilestoneStatus")]
pub enum MilestoneStatus {
    /// Not yet due, or not yet known to be met (the status of a new milestone).
    Pending,
    /// Met.
    Met,
    /// Missed.
    Missed,
    /// Moved to a later date.
    Postponed,
    /// Dropped by the parties.
    Cancelled,
}

/// The level a session is held at.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::SessionLevel")]
pub enum SessionLevel {
    /// Heads of state or government.
    Leaders,
    /// Ministers.
    Ministers,
    /// Military commanders or commissions.
    Military,
    /// Experts and officials.
    Technical,
    /// One of the negotiation's working groups (`workingGroupId` names it).
    WorkingGroup,
}

/// How an agreement was reached.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::AgreementStatus")]
pub enum AgreementStatus {
    /// Signed by the parties.
    Signed,
    /// Initialled: agreed text, not yet signed.
    Initialled,
    /// Declared by one party (PA-X records unilateral declarations as agreements).
    Unilateral,
}

/// PA-X's agreement type: the nature of the agreement and of the conflict.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::AgreementType")]
pub enum AgreementType {
    /// About an intrastate conflict, between parties within the state.
    Intrastate,
    /// Between states, about an interstate conflict.
    Interstate,
    /// Between states, about intrastate conflicts.
    InterstateIntrastate,
    /// About a local part of an intrastate conflict.
    IntrastateLocal,
}

/// PA-X's stage of an agreement in its process.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::negotiation::AgreementStage")]
pub enum AgreementStage {
    /// Pre-negotiation or process: agreeing to talk and how.
    PreNegotiation,
    /// Framework or substantive agreement on some of the issues.
    FrameworkSubstantivePartial,
    /// Framework or substantive agreement on all the main issues.
    FrameworkSubstantiveComprehensive,
    /// Implementing or renegotiating an earlier agreement.
    Implementation,
    /// Renewing an earlier agreement as it stands.
    Renewal,
    /// Ceasefire or related.
    Ceasefire,
    /// Any other stage.
    Other,
}
