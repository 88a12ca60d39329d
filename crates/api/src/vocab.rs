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
    /// Violent interactions between two organised armed groups.
    Battles,
    /// One-sided violence by explosive or remote means (bombs, shelling, missiles, air or
    /// drone strikes), which leaves the target unable to respond.
    ExplosionsRemoteViolence,
    /// Public demonstrations in which the participants are not violent.
    Protests,
    /// Violent or destructive acts by demonstrators or mobs.
    Riots,
    /// Significant, mostly non-violent activities of conflict actors and others
    /// (agreements, arrests, bases established, territory handed over, ...).
    StrategicDevelopments,
    /// Violence by an organised armed group or a mob deliberately inflicted on unarmed
    /// non-combatants.
    ViolenceAgainstCivilians,
}

/// ACLED's 25 sub-event types; each belongs to one event type.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::vocab::SubEventType")]
pub enum SubEventType {
    /// Battles: armed, organised groups fight, with no reported change of territorial control.
    ArmedClash,
    /// Battles: government forces or their affiliates regain control of a place from
    /// non-state or other state forces.
    GovernmentRegainsTerritory,
    /// Battles: a non-state actor takes control of a place from a government or another
    /// group.
    NonStateActorOvertakesTerritory,
    /// Explosions/Remote violence: chemical weapons are used.
    ChemicalWeapon,
    /// Explosions/Remote violence: aircraft or drones strike a target.
    AirDroneStrike,
    /// Explosions/Remote violence: an attacker sets off explosives they carry or drive (a
    /// suicide vest or vehicle).
    SuicideBomb,
    /// Explosions/Remote violence: long-range fire by artillery, mortars, rockets or missiles.
    ShellingArtilleryMissileAttack,
    /// Explosions/Remote violence: a remotely detonated or victim-triggered explosive (an
    /// IED, a landmine), the attacker not present.
    RemoteExplosiveLandmineIed,
    /// Explosions/Remote violence: a grenade or another hand-thrown explosive.
    Grenade,
    /// Protests: demonstrators are not violent and are not met with force.
    PeacefulProtest,
    /// Protests: a peaceful protest is dispersed or suppressed (arrests, tear gas), without
    /// serious injuries or deaths.
    ProtestWithIntervention,
    /// Protests: peaceful protesters are met with lethal force or violence causing serious
    /// injuries or deaths.
    ExcessiveForceAgainstProtesters,
    /// Riots: demonstrators turn violent or destructive (clashes, vandalism, barricades,
    /// burning tyres).
    ViolentDemonstration,
    /// Riots: a violent crowd, with no organised demonstration behind it, attacks people or
    /// property (vigilantes, communal clashes).
    MobViolence,
    /// Strategic developments: conflict actors or governments agree (a ceasefire, a peace
    /// deal, a prisoner exchange).
    Agreement,
    /// Strategic developments: notable or politically significant arrests or detentions.
    Arrests,
    /// Strategic developments: a notable change in a group or its activity (formed, merged,
    /// split, mobilised, ...).
    ChangeToGroupActivity,
    /// Strategic developments: weapons or explosives are intercepted, defused or seized
    /// before harming anyone.
    DisruptedWeaponsUse,
    /// Strategic developments: an armed group sets up a headquarters or base.
    HeadquartersOrBaseEstablished,
    /// Strategic developments: goods or property are looted, seized or destroyed outside a clash.
    LootingPropertyDestruction,
    /// Strategic developments: territory changes hands without fighting.
    NonViolentTransferOfTerritory,
    /// Strategic developments: another significant event that fits no other sub-event type.
    Other,
    /// Violence against civilians: sexual violence against civilians.
    SexualViolence,
    /// Violence against civilians: an armed group or a mob attacks unarmed civilians.
    Attack,
    /// Violence against civilians: civilians are abducted, kidnapped or made to disappear.
    AbductionForcedDisappearance,
}

/// What an attack was carried out with.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::Means")]
pub enum Means {
    /// Unguided or guided rockets (Katyusha, 107 mm, ...).
    Rocket,
    /// A one-way attack drone (loitering munition, Shahed-type).
    OneWayDrone,
    /// Another or an unidentified unmanned aircraft (armed or dropping munitions).
    Drone,
    /// Mortar fire.
    Mortar,
    /// An improvised explosive device.
    Ied,
    /// A vehicle-borne improvised explosive device.
    Vbied,
    /// A landmine.
    Landmine,
    /// Rifles, machine guns, sniper fire.
    SmallArms,
    /// Ballistic, cruise or guided missiles (including anti-tank missiles).
    Missile,
    /// Strikes by manned aircraft.
    Airstrike,
    /// Artillery fire (guns, howitzers).
    Artillery,
    /// A grenade.
    Grenade,
    /// Another means.
    Other,
}

/// What an attack was aimed at.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::TargetCategory")]
pub enum TargetCategory {
    /// A base or outpost of a foreign military (Tower 22, Ain al-Asad, ...).
    ForeignMilitaryBase,
    /// The forces of the country's own military.
    Military,
    /// Police, gendarmerie, border guards and other security forces.
    SecurityForces,
    /// Civilians not covered by a more specific category.
    Civilians,
    /// Government buildings and officials.
    Government,
    /// Embassies, consulates and diplomatic staff.
    Diplomatic,
    /// Roads, bridges, power, water, telecommunications.
    Infrastructure,
    /// Oil and gas fields, pipelines, refineries.
    Energy,
    /// Ships and ports.
    Shipping,
    /// Businesses and convoys of private companies.
    Commercial,
    /// Aid workers, their convoys and premises.
    Humanitarian,
    /// Another target.
    Other,
}

/// An actor's part in an incident.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::ActorRole")]
pub enum ActorRole {
    /// Carried it out.
    Perpetrator,
    /// Was attacked.
    Target,
    /// Claimed it (whether or not it carried it out).
    Claimant,
    /// Is suspected of it.
    Suspected,
    /// Was involved otherwise (an ally, a mediator, a party present).
    Associated,
    /// Acted with the perpetrator (ACLED's associated actors of actor 1).
    PerpetratorAssociate,
    /// Was attacked with the target or stood with it (ACLED's associated actors of actor 2).
    TargetAssociate,
}

/// How an actor's part is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::AttributionStatus")]
pub enum AttributionStatus {
    /// The actor claimed it itself.
    Claimed,
    /// A source (a government, a news agency) attributes it to the actor.
    AttributedBySource,
    /// Suspected, without a claim or a firm attribution.
    Suspected,
    /// Not known.
    Unknown,
}

/// How far an incident has been verified.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::VerificationStatus")]
pub enum VerificationStatus {
    /// Not checked yet (every incident starts so).
    Unverified,
    /// Checked and confirmed.
    Verified,
    /// Contested by credible sources.
    Disputed,
}

/// Why an incident was retracted.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::incident::RetractionKind")]
pub enum RetractionKind {
    /// It repeats another incident (prefer merging it when the other one is in sitrep).
    Duplicate,
    /// It is not the kind of event, place or period sitrep follows.
    OutOfScope,
    /// It did not happen.
    FalseReport,
    /// The dataset it was imported from no longer has it.
    RemovedBySource,
}

/// How precisely a date or span is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::DatePrecision")]
pub enum DatePrecision {
    /// The exact day.
    Day,
    /// Within a few days (2-6).
    Days,
    /// Within a week.
    Week,
    /// Within a month.
    Month,
    /// Within a year, or vaguer.
    Year,
}

/// How precisely a place is known.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::GeoPrecision")]
pub enum GeoPrecision {
    /// The exact location.
    Exact,
    /// Near the location (within about 25 km).
    Near,
    /// Only the second-order administrative division (district).
    Admin2,
    /// Only the first-order administrative division (province, governorate).
    Admin1,
    /// Only a region larger than a province, or a line (a road, a front).
    Region,
    /// Only the country.
    Country,
    /// International waters or air space.
    WaterOrAir,
}

/// The reach of a source.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::values::SourceScale")]
pub enum SourceScale {
    /// Covers a town, city or district (a local outlet or partner).
    Local,
    /// Covers a province or region of one country.
    Subnational,
    /// Covers a whole country (a national outlet).
    National,
    /// Covers several countries of a region.
    Regional,
    /// Covers the world (an international news agency or organisation).
    International,
    /// Social media and messaging channels (X, Telegram, ...).
    NewMedia,
    /// Another kind of source.
    Other,
}
