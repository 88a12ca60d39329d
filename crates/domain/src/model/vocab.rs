//! The controlled vocabularies analysts already use: ACLED's event types and sub-event types
//! (`ref_acled_event_categories.csv`) and ACLED's actor types (the "inter" codes).
//!
//! Stored payloads use the snake_case names (`explosions_remote_violence`); [`EventType::label`]
//! and friends give ACLED's own spelling, which imports and exports read and write.

use serde::{Deserialize, Serialize};

use super::error::DomainError;

/// ACLED's six event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Battles,
    ExplosionsRemoteViolence,
    Protests,
    Riots,
    StrategicDevelopments,
    ViolenceAgainstCivilians,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        Self::Battles,
        Self::ExplosionsRemoteViolence,
        Self::Protests,
        Self::Riots,
        Self::StrategicDevelopments,
        Self::ViolenceAgainstCivilians,
    ];

    /// ACLED's spelling ("Explosions/Remote violence").
    pub fn label(self) -> &'static str {
        match self {
            Self::Battles => "Battles",
            Self::ExplosionsRemoteViolence => "Explosions/Remote violence",
            Self::Protests => "Protests",
            Self::Riots => "Riots",
            Self::StrategicDevelopments => "Strategic developments",
            Self::ViolenceAgainstCivilians => "Violence against civilians",
        }
    }

    /// The event type ACLED spells `label`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.label() == label)
    }
}

/// ACLED's 25 sub-event types; each belongs to exactly one [`EventType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl SubEventType {
    pub const ALL: [SubEventType; 25] = [
        Self::ArmedClash,
        Self::GovernmentRegainsTerritory,
        Self::NonStateActorOvertakesTerritory,
        Self::ChemicalWeapon,
        Self::AirDroneStrike,
        Self::SuicideBomb,
        Self::ShellingArtilleryMissileAttack,
        Self::RemoteExplosiveLandmineIed,
        Self::Grenade,
        Self::PeacefulProtest,
        Self::ProtestWithIntervention,
        Self::ExcessiveForceAgainstProtesters,
        Self::ViolentDemonstration,
        Self::MobViolence,
        Self::Agreement,
        Self::Arrests,
        Self::ChangeToGroupActivity,
        Self::DisruptedWeaponsUse,
        Self::HeadquartersOrBaseEstablished,
        Self::LootingPropertyDestruction,
        Self::NonViolentTransferOfTerritory,
        Self::Other,
        Self::SexualViolence,
        Self::Attack,
        Self::AbductionForcedDisappearance,
    ];

    /// The event type this sub-event type belongs to.
    pub fn event_type(self) -> EventType {
        use SubEventType::*;
        match self {
            ArmedClash | GovernmentRegainsTerritory | NonStateActorOvertakesTerritory => {
                EventType::Battles
            }
            ChemicalWeapon
            | AirDroneStrike
            | SuicideBomb
            | ShellingArtilleryMissileAttack
            | RemoteExplosiveLandmineIed
            | Grenade => EventType::ExplosionsRemoteViolence,
            PeacefulProtest | ProtestWithIntervention | ExcessiveForceAgainstProtesters => {
                EventType::Protests
            }
            ViolentDemonstration | MobViolence => EventType::Riots,
            Agreement
            | Arrests
            | ChangeToGroupActivity
            | DisruptedWeaponsUse
            | HeadquartersOrBaseEstablished
            | LootingPropertyDestruction
            | NonViolentTransferOfTerritory
            | Other => EventType::StrategicDevelopments,
            SexualViolence | Attack | AbductionForcedDisappearance => {
                EventType::ViolenceAgainstCivilians
            }
        }
    }

    /// ACLED's spelling ("Shelling/artillery/missile attack").
    pub fn label(self) -> &'static str {
        use SubEventType::*;
        match self {
            ArmedClash => "Armed clash",
            GovernmentRegainsTerritory => "Government regains territory",
            NonStateActorOvertakesTerritory => "Non-state actor overtakes territory",
            ChemicalWeapon => "Chemical weapon",
            AirDroneStrike => "Air/drone strike",
            SuicideBomb => "Suicide bomb",
            ShellingArtilleryMissileAttack => "Shelling/artillery/missile attack",
            RemoteExplosiveLandmineIed => "Remote explosive/landmine/IED",
            Grenade => "Grenade",
            PeacefulProtest => "Peaceful protest",
            ProtestWithIntervention => "Protest with intervention",
            ExcessiveForceAgainstProtesters => "Excessive force against protesters",
            ViolentDemonstration => "Violent demonstration",
            MobViolence => "Mob violence",
            Agreement => "Agreement",
            Arrests => "Arrests",
            ChangeToGroupActivity => "Change to group/activity",
            DisruptedWeaponsUse => "Disrupted weapons use",
            HeadquartersOrBaseEstablished => "Headquarters or base established",
            LootingPropertyDestruction => "Looting/property destruction",
            NonViolentTransferOfTerritory => "Non-violent transfer of territory",
            Other => "Other",
            SexualViolence => "Sexual violence",
            Attack => "Attack",
            AbductionForcedDisappearance => "Abduction/forced disappearance",
        }
    }

    /// The sub-event type ACLED spells `label`.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.label() == label)
    }
}

/// Checks that `sub_event_type` belongs to `event_type` (field names as in the command).
/// The name a vocabulary value is stored under: its snake_case serde name
/// (`explosions_remote_violence`); empty for a value that does not serialise to a string.
/// Read models store these names, and the API maps them back.
pub fn stored_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

pub fn check_event_types(
    event_type: EventType,
    sub_event_type: SubEventType,
) -> Result<(), DomainError> {
    if sub_event_type.event_type() == event_type {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "sub_event_type",
            format!(
                "\"{}\" is not a sub-event type of \"{}\" (it belongs to \"{}\")",
                sub_event_type.label(),
                event_type.label(),
                sub_event_type.event_type().label()
            ),
        ))
    }
}

/// ACLED's eight actor types (the inter codes 1-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    StateForces,
    RebelForces,
    MilitiaGroups,
    CommunalIdentityGroups,
    Rioters,
    Protesters,
    Civilians,
    ForeignOthers,
}

impl ActorType {
    pub const ALL: [ActorType; 8] = [
        Self::StateForces,
        Self::RebelForces,
        Self::MilitiaGroups,
        Self::CommunalIdentityGroups,
        Self::Rioters,
        Self::Protesters,
        Self::Civilians,
        Self::ForeignOthers,
    ];

    /// ACLED's inter code (1-8).
    pub fn inter_code(self) -> u8 {
        match self {
            Self::StateForces => 1,
            Self::RebelForces => 2,
            Self::MilitiaGroups => 3,
            Self::CommunalIdentityGroups => 4,
            Self::Rioters => 5,
            Self::Protesters => 6,
            Self::Civilians => 7,
            Self::ForeignOthers => 8,
        }
    }

    /// The actor type of ACLED inter code `code` (1-8).
    pub fn from_inter_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.inter_code() == code)
    }

    /// ACLED's spelling ("Communal / Identity Groups").
    pub fn label(self) -> &'static str {
        match self {
            Self::StateForces => "State Forces",
            Self::RebelForces => "Rebel Forces",
            Self::MilitiaGroups => "Militia Groups",
            Self::CommunalIdentityGroups => "Communal / Identity Groups",
            Self::Rioters => "Rioters",
            Self::Protesters => "Protesters",
            Self::Civilians => "Civilians",
            Self::ForeignOthers => "Foreign / Others",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is ACLED's (`ref_acled_event_categories.csv`): 6 types, 25 sub-types.
    #[test]
    fn sub_event_types_group_as_in_acleds_table() {
        let count = |t| {
            SubEventType::ALL
                .iter()
                .filter(|s| s.event_type() == t)
                .count()
        };
        assert_eq!(count(EventType::Battles), 3);
        assert_eq!(count(EventType::ExplosionsRemoteViolence), 6);
        assert_eq!(count(EventType::Protests), 3);
        assert_eq!(count(EventType::Riots), 2);
        assert_eq!(count(EventType::StrategicDevelopments), 8);
        assert_eq!(count(EventType::ViolenceAgainstCivilians), 3);
        for s in SubEventType::ALL {
            assert_eq!(SubEventType::from_label(s.label()), Some(s));
        }
        for t in EventType::ALL {
            assert_eq!(EventType::from_label(t.label()), Some(t));
        }
    }

    #[test]
    fn a_sub_event_type_of_another_type_is_named_in_the_error() {
        assert!(check_event_types(
            EventType::ExplosionsRemoteViolence,
            SubEventType::AirDroneStrike
        )
        .is_ok());
        let err = check_event_types(EventType::Battles, SubEventType::AirDroneStrike).unwrap_err();
        assert_eq!(
            err,
            DomainError::invalid(
                "sub_event_type",
                "\"Air/drone strike\" is not a sub-event type of \"Battles\" (it belongs to \"Explosions/Remote violence\")"
            )
        );
    }

    #[test]
    fn inter_codes_round_trip() {
        for t in ActorType::ALL {
            assert_eq!(ActorType::from_inter_code(t.inter_code()), Some(t));
        }
        assert_eq!(ActorType::from_inter_code(0), None);
        assert_eq!(ActorType::from_inter_code(9), None);
    }
}
