//! The domain's vocabularies as GraphQL enums (`EXPLOSIONS_REMOTE_VIOLENCE`), each converted to
//! and from the domain's own enum, and from the names the read models store
//! (`explosions_remote_violence`).
//!
//! The domain crate knows nothing of GraphQL, so each enum is mirrored here; the `remote`
//! conversion makes the compiler check that every variant exists on the domain's side (and
//! the `match` it generates, that every domain variant is mirrored).

use async_graphql::Enum;
use serde::de::DeserializeOwned;

/// The domain value stored under `name` (its snake_case serde name), if there is one.
pub fn from_stored<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

pub use sitrep_domain::model::vocab::stored_name;

/// ACLED's six event types.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::vocab::EventType")]
pub enum EventType {
    Battles,
    ExplosionsRemoteViolence,
    Protests,
    Riots,
    StrategicDevelopments,
    ViolenceAgainstCivilians,
}

/// ACLED's 25 sub-event types; each belongs to one event type.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::vocab::SubEventType")]
pub enum SubEventType {
    ArmedClash,
    GovernmentRegainsTerritory,
    NonStateActorOvertakesTerritory,
    ChemicalWeapon,
    AirDroneStrike,
    SuicideBomb,
    ShellingArtilleryMissileAttack,
    RemoteExplosiveLandmineIed,
    Grenade,
    PeacefulProtest,
    ProtestWithIntervention,
    ExcessiveForceAgainstProtesters,
    ViolentDemonstration,
    MobViolence,
    Agreement,
    Arrests,
    ChangeToGroupActivity,
    DisruptedWeaponsUse,
    HeadquartersOrBaseEstablished,
    LootingPropertyDestruction,
    NonViolentTransferOfTerritory,
    Other,
    SexualViolence,
    Attack,
    AbductionForcedDisappearance,
}

/// What an attack was carried out with.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::Means")]
pub enum Means {
    Rocket,
    OneWayDrone,
    Drone,
    Mortar,
    Ied,
    Vbied,
    Landmine,
    SmallArms,
    Missile,
    Airstrike,
    Artillery,
    Grenade,
    Other,
}

/// What an attack was aimed at.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::TargetCategory")]
pub enum TargetCategory {
    ForeignMilitaryBase,
    Military,
    SecurityForces,
    Civilians,
    Government,
    Diplomatic,
    Infrastructure,
    Energy,
    Shipping,
    Commercial,
    Humanitarian,
    Other,
}

/// An actor's part in an incident.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::ActorRole")]
pub enum ActorRole {
    Perpetrator,
    Target,
    Claimant,
    Suspected,
    Associated,
}

/// How an actor's part is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::AttributionStatus")]
pub enum AttributionStatus {
    Claimed,
    AttributedBySource,
    Suspected,
    Unknown,
}

/// How far an incident has been verified.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::VerificationStatus")]
pub enum VerificationStatus {
    Unverified,
    Verified,
    Disputed,
}

/// Why an incident was retracted.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::RetractionKind")]
pub enum RetractionKind {
    Duplicate,
    OutOfScope,
    FalseReport,
}

/// How precisely a date or span is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::DatePrecision")]
pub enum DatePrecision {
    Day,
    Days,
    Week,
    Month,
    Year,
}

/// How precisely a place is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::GeoPrecision")]
pub enum GeoPrecision {
    Exact,
    Near,
    Admin2,
    Admin1,
    Region,
    Country,
    WaterOrAir,
}

/// The reach of a source.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::SourceScale")]
pub enum SourceScale {
    Local,
    Subnational,
    National,
    Regional,
    International,
    NewMedia,
    Other,
}
