//! The Actor aggregate: an armed group, a state's forces or any other party that incidents name,
//! with its ACLED actor type, its aliases and its affiliations over time.
//!
//! Incidents, claims and negotiations refer to actors by their stream id, so an actor is
//! registered once and its name, aliases and type are corrected in place (each correction with
//! a reason). Affiliations say how this actor stood to another one during a period: Kata'ib
//! Hezbollah is a member of the Islamic Resistance in Iraq from 2023-10-17, with no end yet.
//! Aliases are what importers match ACLED's and the press's spellings against, so they are
//! unique case-insensitively and never repeat the name.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::aggregate::{Aggregate, DomainEvent, Reference};
use super::error::DomainError;
use super::values::{
    check_each, check_optional_text, check_reason, check_text, named, CountryCode, Source,
    MAX_NAME, MAX_TEXT,
};
use super::vocab::ActorType;

const ACTOR: &str = "actor";

// ---------------------------------------------------------------------------------------------
// Commands

/// Registers a new actor (`registerActor`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterActor {
    /// The name the actor is best known by ("Islamic Resistance in Iraq").
    pub name: String,
    pub actor_type: ActorType,
    /// The country the actor is from or mainly active in, if it has one.
    pub country: Option<CountryCode>,
    /// Other names and spellings; unique case-insensitively and different from the name.
    pub aliases: Vec<String>,
    pub description: Option<String>,
}

/// Renames the actor; the previous name becomes an alias (unless the new name differs from it
/// only in case), and an alias equal to the new name stops being one. Renaming to the current
/// name is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RenameActor {
    pub name: String,
    pub reason: String,
}

/// Adds an alias. An alias the actor already has, or its name, is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct AddActorAlias {
    pub alias: String,
}

/// Removes an alias, matched case-insensitively. An alias the actor does not have is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoveActorAlias {
    pub alias: String,
    pub reason: String,
}

/// Corrects the actor type. Setting the type the actor already has is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeActorType {
    pub actor_type: ActorType,
    pub reason: String,
}

/// Corrects the country or the description (the fields given; absent ones stay). An amendment
/// that changes nothing is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct AmendActor {
    pub country: Option<CountryCode>,
    pub description: Option<String>,
    pub reason: String,
}

/// Records how this actor stands to another actor from a date on (`member_of` an umbrella,
/// `backed_by` a state, ...). An affiliation with the same actor and relation over an
/// overlapping period is refused, as is an id already used.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordAffiliation {
    /// Chosen by the client; names the affiliation in later commands.
    pub affiliation_id: Uuid,
    /// The other actor's id (not this actor's: see [`ActorCommand::check_for_actor`]).
    pub related_actor: Uuid,
    pub relation: AffiliationRelation,
    /// The first day it held, if known; `None` means "since before any date we know of".
    pub from: Option<NaiveDate>,
    /// The last day it held, when it is already known to have ended.
    pub until: Option<NaiveDate>,
    pub source: Option<Source>,
}

/// Records the last day an affiliation held. Ending one that has ended already is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct EndAffiliation {
    pub affiliation_id: Uuid,
    /// The last day it held; not before its first day.
    pub until: NaiveDate,
    pub reason: String,
    pub source: Option<Source>,
}

/// Withdraws an affiliation that was recorded in error (it never held). Its id stays used.
#[derive(Debug, Clone, PartialEq)]
pub struct RetractAffiliation {
    pub affiliation_id: Uuid,
    pub reason: String,
}

/// What can be asked of an actor.
#[derive(Debug, Clone, PartialEq)]
pub enum ActorCommand {
    RegisterActor(RegisterActor),
    RenameActor(RenameActor),
    AddAlias(AddActorAlias),
    RemoveAlias(RemoveActorAlias),
    ChangeActorType(ChangeActorType),
    AmendActor(AmendActor),
    RecordAffiliation(RecordAffiliation),
    EndAffiliation(EndAffiliation),
    RetractAffiliation(RetractAffiliation),
}

impl ActorCommand {
    /// The rules that need the actor's own id, which the model does not see (the stream carries
    /// it): an actor is not affiliated with itself. Whoever runs the command on stream `actor`
    /// calls this before deciding.
    pub fn check_for_actor(&self, actor: Uuid) -> Result<(), DomainError> {
        match self {
            Self::RecordAffiliation(c) if c.related_actor == actor => Err(DomainError::invalid(
                "related_actor",
                "must be another actor than the one affiliated",
            )),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// How an actor stands to the related actor of an affiliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AffiliationRelation {
    /// Part of a group or umbrella (Kata'ib Hezbollah in the Islamic Resistance in Iraq).
    MemberOf,
    /// Fights alongside it without being part of it.
    AlliedWith,
    /// Armed, funded or directed by it (a militia backed by a state).
    BackedBy,
    /// Broke away from it.
    SplinterOf,
}

/// What happened to an actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ActorEvent {
    ActorRegistered {
        name: String,
        actor_type: ActorType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        country: Option<CountryCode>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        aliases: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// The previous name became an alias unless it differs from `name` only in case; an alias
    /// equal to `name` (case aside) stopped being one.
    ActorRenamed {
        name: String,
        previous_name: String,
        reason: String,
    },
    ActorAliasAdded {
        alias: String,
    },
    /// `alias` is spelled as the actor had it.
    ActorAliasRemoved {
        alias: String,
        reason: String,
    },
    ActorTypeChanged {
        actor_type: ActorType,
        reason: String,
    },
    /// Only the fields that changed.
    ActorAmended {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        country: Option<CountryCode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        reason: String,
    },
    AffiliationRecorded {
        affiliation_id: Uuid,
        related_actor: Uuid,
        relation: AffiliationRelation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Source>,
    },
    AffiliationEnded {
        affiliation_id: Uuid,
        until: NaiveDate,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Source>,
    },
    AffiliationRetracted {
        affiliation_id: Uuid,
        reason: String,
    },
}

/// No actor event overrides `valid_time`: affiliations carry their own period (`from` and
/// `until`, either open), which one [`super::values::EventTime`] cannot express.
impl DomainEvent for ActorEvent {
    fn reason(&self) -> Option<&str> {
        match self {
            Self::ActorRenamed { reason, .. }
            | Self::ActorAliasRemoved { reason, .. }
            | Self::ActorTypeChanged { reason, .. }
            | Self::ActorAmended { reason, .. }
            | Self::AffiliationEnded { reason, .. }
            | Self::AffiliationRetracted { reason, .. } => Some(reason),
            Self::ActorRegistered { .. }
            | Self::ActorAliasAdded { .. }
            | Self::AffiliationRecorded { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State

/// Who a registered actor is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorProfile {
    pub name: String,
    pub actor_type: ActorType,
    pub country: Option<CountryCode>,
    pub aliases: Vec<String>,
    pub description: Option<String>,
}

impl ActorProfile {
    /// Whether `name` is this actor's name or one of its aliases, case aside.
    pub fn is_known_as(&self, name: &str) -> bool {
        same_name(&self.name, name) || self.alias(name).is_some()
    }

    /// The alias equal to `alias` case aside, as the actor spells it.
    fn alias(&self, alias: &str) -> Option<&String> {
        self.aliases.iter().find(|a| same_name(a, alias))
    }
}

/// How the actor stood to another one during a period (both ends included, either open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affiliation {
    pub id: Uuid,
    pub related_actor: Uuid,
    pub relation: AffiliationRelation,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub source: Option<Source>,
}

impl Affiliation {
    /// Whether it held on `date`.
    pub fn holds_on(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= date) && self.until.is_none_or(|until| date <= until)
    }

    /// Whether its period shares a day with `from..=until` (`None` ends are open).
    fn overlaps(&self, from: Option<NaiveDate>, until: Option<NaiveDate>) -> bool {
        starts_by(from, self.until) && starts_by(self.from, until)
    }
}

/// Whether a period starting at `from` starts no later than one ending at `until` ends.
fn starts_by(from: Option<NaiveDate>, until: Option<NaiveDate>) -> bool {
    match (from, until) {
        (Some(from), Some(until)) => from <= until,
        _ => true,
    }
}

/// An actor: its profile once registered, and its affiliations.
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
pub struct Actor {
    profile: Option<ActorProfile>,
    affiliations: Vec<Affiliation>,
    /// Ids of retracted affiliations: they stay used.
    retracted: BTreeSet<Uuid>,
}

impl Actor {
    /// The actor's profile, `None` until it is registered.
    pub fn profile(&self) -> Option<&ActorProfile> {
        self.profile.as_ref()
    }

    /// Every affiliation recorded and not retracted, in the order recorded.
    pub fn affiliations(&self) -> &[Affiliation] {
        &self.affiliations
    }

    /// The affiliation `id`, unless it is unknown or retracted.
    pub fn affiliation(&self, id: Uuid) -> Option<&Affiliation> {
        self.affiliations.iter().find(|a| a.id == id)
    }

    /// The affiliations that held on `date`.
    pub fn affiliations_on(&self, date: NaiveDate) -> impl Iterator<Item = &Affiliation> {
        self.affiliations.iter().filter(move |a| a.holds_on(date))
    }

    fn existing(&self) -> Result<&ActorProfile, DomainError> {
        self.profile
            .as_ref()
            .ok_or(DomainError::NotFound { what: ACTOR })
    }

    fn recorded_affiliation(&self, id: Uuid) -> Result<&Affiliation, DomainError> {
        self.affiliation(id).ok_or_else(|| {
            DomainError::state(format!(
                "the actor has no affiliation {id}: name one that was recorded and not retracted"
            ))
        })
    }
}

impl Aggregate for Actor {
    const STREAM_TYPE: &'static str = "actor";
    type Command = ActorCommand;
    type Event = ActorEvent;

    fn check_identity(stream_id: Uuid, command: &ActorCommand) -> Result<(), DomainError> {
        command.check_for_actor(stream_id)
    }

    fn references(command: &ActorCommand) -> Vec<Reference> {
        match command {
            ActorCommand::RecordAffiliation(c) => {
                vec![Reference::new("related_actor", "actor", c.related_actor)]
            }
            _ => Vec::new(),
        }
    }

    fn decide(&self, command: &ActorCommand) -> Result<Vec<ActorEvent>, DomainError> {
        let event = match command {
            ActorCommand::RegisterActor(c) => self.register(c)?,
            ActorCommand::RenameActor(c) => self.rename(c)?,
            ActorCommand::AddAlias(c) => self.add_alias(c)?,
            ActorCommand::RemoveAlias(c) => self.remove_alias(c)?,
            ActorCommand::ChangeActorType(c) => self.change_type(c)?,
            ActorCommand::AmendActor(c) => self.amend(c)?,
            ActorCommand::RecordAffiliation(c) => self.record_affiliation(c)?,
            ActorCommand::EndAffiliation(c) => self.end_affiliation(c)?,
            ActorCommand::RetractAffiliation(c) => self.retract_affiliation(c)?,
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &ActorEvent) {
        match event {
            ActorEvent::ActorRegistered {
                name,
                actor_type,
                country,
                aliases,
                description,
            } => {
                self.profile = Some(ActorProfile {
                    name: name.clone(),
                    actor_type: *actor_type,
                    country: country.clone(),
                    aliases: aliases.clone(),
                    description: description.clone(),
                });
            }
            ActorEvent::AffiliationRecorded {
                affiliation_id,
                related_actor,
                relation,
                from,
                until,
                source,
            } => self.affiliations.push(Affiliation {
                id: *affiliation_id,
                related_actor: *related_actor,
                relation: *relation,
                from: *from,
                until: *until,
                source: source.clone(),
            }),
            ActorEvent::AffiliationEnded {
                affiliation_id,
                until,
                ..
            } => {
                if let Some(a) = self
                    .affiliations
                    .iter_mut()
                    .find(|a| a.id == *affiliation_id)
                {
                    a.until = Some(*until);
                }
            }
            ActorEvent::AffiliationRetracted { affiliation_id, .. } => {
                self.affiliations.retain(|a| a.id != *affiliation_id);
                self.retracted.insert(*affiliation_id);
            }
            profile_event => {
                if let Some(profile) = self.profile.as_mut() {
                    apply_to_profile(profile, profile_event);
                }
            }
        }
    }
}

/// Folds an event that changes a registered actor's profile.
fn apply_to_profile(profile: &mut ActorProfile, event: &ActorEvent) {
    match event {
        ActorEvent::ActorRenamed {
            name,
            previous_name,
            ..
        } => {
            profile.aliases.retain(|a| !same_name(a, name));
            if !same_name(previous_name, name) {
                profile.aliases.push(previous_name.clone());
            }
            profile.name = name.clone();
        }
        ActorEvent::ActorAliasAdded { alias } => profile.aliases.push(alias.clone()),
        ActorEvent::ActorAliasRemoved { alias, .. } => profile.aliases.retain(|a| a != alias),
        ActorEvent::ActorTypeChanged { actor_type, .. } => profile.actor_type = *actor_type,
        ActorEvent::ActorAmended {
            country,
            description,
            ..
        } => {
            if let Some(country) = country {
                profile.country = Some(country.clone());
            }
            if let Some(description) = description {
                profile.description = Some(description.clone());
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding

impl Actor {
    fn register(&self, c: &RegisterActor) -> Result<ActorEvent, DomainError> {
        check_text("name", &c.name, MAX_NAME)?;
        check_country(c.country.as_ref())?;
        check_aliases(&c.name, &c.aliases)?;
        check_optional_text("description", c.description.as_deref(), MAX_TEXT)?;
        if self.profile.is_some() {
            return Err(DomainError::AlreadyExists { what: ACTOR });
        }
        Ok(ActorEvent::ActorRegistered {
            name: c.name.clone(),
            actor_type: c.actor_type,
            country: c.country.clone(),
            aliases: c.aliases.clone(),
            description: c.description.clone(),
        })
    }

    fn rename(&self, c: &RenameActor) -> Result<ActorEvent, DomainError> {
        check_text("name", &c.name, MAX_NAME)?;
        check_reason(&c.reason)?;
        let profile = self.existing()?;
        if profile.name == c.name {
            return Err(DomainError::state(format!(
                "the actor is called \"{}\" already: give a different name",
                c.name
            )));
        }
        Ok(ActorEvent::ActorRenamed {
            name: c.name.clone(),
            previous_name: profile.name.clone(),
            reason: c.reason.clone(),
        })
    }

    fn add_alias(&self, c: &AddActorAlias) -> Result<ActorEvent, DomainError> {
        check_text("alias", &c.alias, MAX_NAME)?;
        let profile = self.existing()?;
        if same_name(&profile.name, &c.alias) {
            return Err(DomainError::state(format!(
                "\"{}\" is the actor's name, not an alias: give another spelling",
                c.alias
            )));
        }
        if let Some(existing) = profile.alias(&c.alias) {
            return Err(DomainError::state(format!(
                "the actor has the alias \"{existing}\" already (aliases are compared case aside)"
            )));
        }
        Ok(ActorEvent::ActorAliasAdded {
            alias: c.alias.clone(),
        })
    }

    fn remove_alias(&self, c: &RemoveActorAlias) -> Result<ActorEvent, DomainError> {
        check_text("alias", &c.alias, MAX_NAME)?;
        check_reason(&c.reason)?;
        let profile = self.existing()?;
        let alias = profile.alias(&c.alias).ok_or_else(|| {
            DomainError::state(format!(
                "the actor has no alias \"{}\": name one of {:?}",
                c.alias, profile.aliases
            ))
        })?;
        Ok(ActorEvent::ActorAliasRemoved {
            alias: alias.clone(),
            reason: c.reason.clone(),
        })
    }

    fn change_type(&self, c: &ChangeActorType) -> Result<ActorEvent, DomainError> {
        check_reason(&c.reason)?;
        let profile = self.existing()?;
        if profile.actor_type == c.actor_type {
            return Err(DomainError::state(format!(
                "the actor's type is \"{}\" already",
                c.actor_type.label()
            )));
        }
        Ok(ActorEvent::ActorTypeChanged {
            actor_type: c.actor_type,
            reason: c.reason.clone(),
        })
    }

    fn amend(&self, c: &AmendActor) -> Result<ActorEvent, DomainError> {
        check_country(c.country.as_ref())?;
        check_optional_text("description", c.description.as_deref(), MAX_TEXT)?;
        check_reason(&c.reason)?;
        let profile = self.existing()?;
        let country = changed(c.country.as_ref(), profile.country.as_ref());
        let description = changed(c.description.as_ref(), profile.description.as_ref());
        if country.is_none() && description.is_none() {
            return Err(DomainError::state(
                "the amendment changes nothing: give a country or a description that differs from the current one",
            ));
        }
        Ok(ActorEvent::ActorAmended {
            country,
            description,
            reason: c.reason.clone(),
        })
    }

    fn record_affiliation(&self, c: &RecordAffiliation) -> Result<ActorEvent, DomainError> {
        check_period(c.from, c.until)?;
        check_source(c.source.as_ref())?;
        self.existing()?;
        if self.affiliation(c.affiliation_id).is_some()
            || self.retracted.contains(&c.affiliation_id)
        {
            return Err(DomainError::state(format!(
                "affiliation {} was recorded already: give a new id",
                c.affiliation_id
            )));
        }
        if let Some(same) = self.affiliations.iter().find(|a| {
            a.related_actor == c.related_actor
                && a.relation == c.relation
                && a.overlaps(c.from, c.until)
        }) {
            return Err(DomainError::state(format!(
                "affiliation {} records the same relation to the same actor over an overlapping period: end or retract it first",
                same.id
            )));
        }
        Ok(ActorEvent::AffiliationRecorded {
            affiliation_id: c.affiliation_id,
            related_actor: c.related_actor,
            relation: c.relation,
            from: c.from,
            until: c.until,
            source: c.source.clone(),
        })
    }

    fn end_affiliation(&self, c: &EndAffiliation) -> Result<ActorEvent, DomainError> {
        check_reason(&c.reason)?;
        check_source(c.source.as_ref())?;
        self.existing()?;
        let affiliation = self.recorded_affiliation(c.affiliation_id)?;
        if let Some(until) = affiliation.until {
            return Err(DomainError::state(format!(
                "affiliation {} ended already on {until}",
                c.affiliation_id
            )));
        }
        check_period(affiliation.from, Some(c.until))?;
        Ok(ActorEvent::AffiliationEnded {
            affiliation_id: c.affiliation_id,
            until: c.until,
            reason: c.reason.clone(),
            source: c.source.clone(),
        })
    }

    fn retract_affiliation(&self, c: &RetractAffiliation) -> Result<ActorEvent, DomainError> {
        check_reason(&c.reason)?;
        self.existing()?;
        self.recorded_affiliation(c.affiliation_id)?;
        Ok(ActorEvent::AffiliationRetracted {
            affiliation_id: c.affiliation_id,
            reason: c.reason.clone(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Rules shared by the commands (and by sites, whose aliases follow the same rules)

/// Whether two names are the same, case and surrounding spaces aside.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Checks `aliases` of something called `name`: each a name, none equal to `name` or to an
/// earlier alias (case aside). Errors name `aliases[i]`.
pub(crate) fn check_aliases(name: &str, aliases: &[String]) -> Result<(), DomainError> {
    check_each("aliases", aliases, |a| check_text("", a, MAX_NAME))?;
    for (i, alias) in aliases.iter().enumerate() {
        if same_name(alias, name) {
            return Err(DomainError::invalid(
                format!("aliases[{i}]"),
                "must differ from the name (case aside)",
            ));
        }
        if aliases[..i].iter().any(|earlier| same_name(earlier, alias)) {
            return Err(DomainError::invalid(
                format!("aliases[{i}]"),
                "must not repeat another alias (case aside)",
            ));
        }
    }
    Ok(())
}

fn check_country(country: Option<&CountryCode>) -> Result<(), DomainError> {
    country.map_or(Ok(()), |c| c.validate().map_err(|e| named("country", e)))
}

fn check_source(source: Option<&Source>) -> Result<(), DomainError> {
    source.map_or(Ok(()), |s| s.validate().map_err(|e| e.within("source")))
}

/// `until` must not be before `from`.
fn check_period(from: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<(), DomainError> {
    match (from, until) {
        (Some(from), Some(until)) if until < from => Err(DomainError::invalid(
            "until",
            format!("must not be before the affiliation's first day ({until} is before {from})"),
        )),
        _ => Ok(()),
    }
}

/// `new` when it is given and differs from `current`.
fn changed<T: PartialEq + Clone>(new: Option<&T>, current: Option<&T>) -> Option<T> {
    new.filter(|n| Some(*n) != current).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::aggregate::encode;
    use crate::model::testing::{given, given_no_history};
    use serde_json::json;

    /// Breaks one field of a valid command.
    type Spoil<C> = fn(&mut C);

    const IRI: Uuid = Uuid::from_u128(0x1);
    const IRGC: Uuid = Uuid::from_u128(0x2);
    const KH: Uuid = Uuid::from_u128(0x3);
    const MEMBERSHIP: Uuid = Uuid::from_u128(0xa1);
    const BACKING: Uuid = Uuid::from_u128(0xa2);

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn irq() -> CountryCode {
        CountryCode::new("IRQ").unwrap()
    }

    fn register_iri() -> RegisterActor {
        RegisterActor {
            name: "Islamic Resistance in Iraq".into(),
            actor_type: ActorType::MilitiaGroups,
            country: Some(irq()),
            aliases: vec!["IRI".into(), "al-Muqawama al-Islamiya fi al-Iraq".into()],
            description: Some("Umbrella of Iran-aligned Iraqi armed groups.".into()),
        }
    }

    fn iri_registered() -> ActorEvent {
        ActorEvent::ActorRegistered {
            name: "Islamic Resistance in Iraq".into(),
            actor_type: ActorType::MilitiaGroups,
            country: Some(irq()),
            aliases: vec!["IRI".into(), "al-Muqawama al-Islamiya fi al-Iraq".into()],
            description: Some("Umbrella of Iran-aligned Iraqi armed groups.".into()),
        }
    }

    fn kh_registered() -> ActorEvent {
        ActorEvent::ActorRegistered {
            name: "Kata'ib Hezbollah".into(),
            actor_type: ActorType::MilitiaGroups,
            country: Some(irq()),
            aliases: vec!["KH".into(), "Hezbollah Brigades".into()],
            description: None,
        }
    }

    fn kh_joined_iri() -> ActorEvent {
        ActorEvent::AffiliationRecorded {
            affiliation_id: MEMBERSHIP,
            related_actor: IRI,
            relation: AffiliationRelation::MemberOf,
            from: Some(date("2023-10-17")),
            until: None,
            source: Some(Source::named("ACLED")),
        }
    }

    fn record_membership() -> RecordAffiliation {
        RecordAffiliation {
            affiliation_id: MEMBERSHIP,
            related_actor: IRI,
            relation: AffiliationRelation::MemberOf,
            from: Some(date("2023-10-17")),
            until: None,
            source: Some(Source::named("ACLED")),
        }
    }

    fn rename(name: &str) -> ActorCommand {
        ActorCommand::RenameActor(RenameActor {
            name: name.into(),
            reason: "ACLED's spelling".into(),
        })
    }

    fn end(id: Uuid, until: &str) -> ActorCommand {
        ActorCommand::EndAffiliation(EndAffiliation {
            affiliation_id: id,
            until: date(until),
            reason: "a source reports it ended".into(),
            source: None,
        })
    }

    // Registering

    #[test]
    fn registering_an_actor() {
        let actor = given_no_history::<Actor>()
            .when(ActorCommand::RegisterActor(register_iri()))
            .then_events(vec![iri_registered()]);
        let profile = actor.profile().unwrap();
        assert_eq!(profile.name, "Islamic Resistance in Iraq");
        assert!(profile.is_known_as("iri"));
        assert!(profile.is_known_as("Islamic resistance in Iraq"));
        assert!(!profile.is_known_as("Kata'ib Hezbollah"));
    }

    #[test]
    fn registering_twice_is_refused() {
        given::<Actor>([iri_registered()])
            .when(ActorCommand::RegisterActor(register_iri()))
            .then_error(DomainError::AlreadyExists { what: "actor" });
    }

    #[test]
    fn registering_checks_every_field() {
        let cases: Vec<(&str, Spoil<RegisterActor>)> = vec![
            ("name", |c| c.name = " ".into()),
            ("name", |c| c.name = "x".repeat(MAX_NAME + 1)),
            ("country", |c| c.country = Some(CountryCode("IQ".into()))),
            ("aliases[1]", |c| c.aliases[1] = "".into()),
            ("aliases[0]", |c| {
                c.aliases[0] = "islamic resistance in iraq".into()
            }),
            ("aliases[1]", |c| c.aliases[1] = "iri".into()),
            ("description", |c| c.description = Some("\u{7}".into())),
        ];
        for (field, spoil) in cases {
            let mut command = register_iri();
            spoil(&mut command);
            given_no_history::<Actor>()
                .when(ActorCommand::RegisterActor(command))
                .then_invalid(field);
        }
    }

    #[test]
    fn a_duplicate_alias_is_named_with_its_rule() {
        let mut command = register_iri();
        command.aliases.push(" IRI ".into());
        given_no_history::<Actor>()
            .when(ActorCommand::RegisterActor(command))
            .then_error(DomainError::invalid(
                "aliases[2]",
                "must not repeat another alias (case aside)",
            ));
    }

    #[test]
    fn invalid_input_is_refused_before_the_state_is_looked_at() {
        let mut command = register_iri();
        command.name = "".into();
        given::<Actor>([iri_registered()])
            .when(ActorCommand::RegisterActor(command))
            .then_invalid("name");
    }

    #[test]
    fn commands_on_a_missing_actor_are_refused() {
        let commands = vec![
            rename("IRI"),
            ActorCommand::AddAlias(AddActorAlias {
                alias: "IRI".into(),
            }),
            ActorCommand::RemoveAlias(RemoveActorAlias {
                alias: "IRI".into(),
                reason: "r".into(),
            }),
            ActorCommand::ChangeActorType(ChangeActorType {
                actor_type: ActorType::RebelForces,
                reason: "r".into(),
            }),
            ActorCommand::AmendActor(AmendActor {
                country: Some(irq()),
                description: None,
                reason: "r".into(),
            }),
            ActorCommand::RecordAffiliation(record_membership()),
            end(MEMBERSHIP, "2024-01-30"),
            ActorCommand::RetractAffiliation(RetractAffiliation {
                affiliation_id: MEMBERSHIP,
                reason: "r".into(),
            }),
        ];
        for command in commands {
            given_no_history::<Actor>()
                .when(command)
                .then_error(DomainError::NotFound { what: "actor" });
        }
    }

    // Names and aliases

    #[test]
    fn renaming_keeps_the_previous_name_as_an_alias() {
        let actor = given::<Actor>([kh_registered()])
            .when(rename("Kataib Hizbullah"))
            .then_events(vec![ActorEvent::ActorRenamed {
                name: "Kataib Hizbullah".into(),
                previous_name: "Kata'ib Hezbollah".into(),
                reason: "ACLED's spelling".into(),
            }]);
        let profile = actor.profile().unwrap();
        assert_eq!(profile.name, "Kataib Hizbullah");
        assert_eq!(
            profile.aliases,
            vec!["KH", "Hezbollah Brigades", "Kata'ib Hezbollah"]
        );
    }

    #[test]
    fn renaming_to_an_alias_promotes_it() {
        let actor = given::<Actor>([kh_registered()])
            .when(rename("Hezbollah Brigades"))
            .then_events(vec![ActorEvent::ActorRenamed {
                name: "Hezbollah Brigades".into(),
                previous_name: "Kata'ib Hezbollah".into(),
                reason: "ACLED's spelling".into(),
            }]);
        assert_eq!(
            actor.profile().unwrap().aliases,
            vec!["KH", "Kata'ib Hezbollah"]
        );
    }

    #[test]
    fn renaming_only_the_case_adds_no_alias() {
        let actor = given::<Actor>([kh_registered()])
            .when(rename("KATA'IB HEZBOLLAH"))
            .then_events(vec![ActorEvent::ActorRenamed {
                name: "KATA'IB HEZBOLLAH".into(),
                previous_name: "Kata'ib Hezbollah".into(),
                reason: "ACLED's spelling".into(),
            }]);
        let profile = actor.profile().unwrap();
        assert_eq!(profile.name, "KATA'IB HEZBOLLAH");
        assert_eq!(profile.aliases, vec!["KH", "Hezbollah Brigades"]);
    }

    #[test]
    fn renaming_checks_its_input_and_refuses_the_same_name() {
        given::<Actor>([kh_registered()])
            .when(rename(""))
            .then_invalid("name");
        given::<Actor>([kh_registered()])
            .when(ActorCommand::RenameActor(RenameActor {
                name: "KH".into(),
                reason: " ".into(),
            }))
            .then_invalid("reason");
        given::<Actor>([kh_registered()])
            .when(rename("Kata'ib Hezbollah"))
            .then_error(DomainError::state(
                "the actor is called \"Kata'ib Hezbollah\" already: give a different name",
            ));
    }

    #[test]
    fn adding_an_alias() {
        let actor = given::<Actor>([kh_registered()])
            .when(ActorCommand::AddAlias(AddActorAlias {
                alias: "Kataib Hizballah".into(),
            }))
            .then_events(vec![ActorEvent::ActorAliasAdded {
                alias: "Kataib Hizballah".into(),
            }]);
        assert!(actor.profile().unwrap().is_known_as("kataib hizballah"));
    }

    #[test]
    fn an_alias_must_be_new_and_not_the_name() {
        let add = |alias: &str| {
            ActorCommand::AddAlias(AddActorAlias {
                alias: alias.into(),
            })
        };
        given::<Actor>([kh_registered()])
            .when(add("\n"))
            .then_invalid("alias");
        given::<Actor>([kh_registered()])
            .when(add("kh"))
            .then_error(DomainError::state(
                "the actor has the alias \"KH\" already (aliases are compared case aside)",
            ));
        given::<Actor>([kh_registered()])
            .when(add("kata'ib hezbollah"))
            .then_invalid_state();
    }

    #[test]
    fn removing_an_alias_names_it_as_the_actor_spells_it() {
        let actor = given::<Actor>([kh_registered()])
            .when(ActorCommand::RemoveAlias(RemoveActorAlias {
                alias: "hezbollah brigades".into(),
                reason: "a translation, not a name".into(),
            }))
            .then_events(vec![ActorEvent::ActorAliasRemoved {
                alias: "Hezbollah Brigades".into(),
                reason: "a translation, not a name".into(),
            }]);
        assert_eq!(actor.profile().unwrap().aliases, vec!["KH"]);
    }

    #[test]
    fn removing_an_alias_the_actor_does_not_have_is_refused() {
        let remove = |alias: &str, reason: &str| {
            ActorCommand::RemoveAlias(RemoveActorAlias {
                alias: alias.into(),
                reason: reason.into(),
            })
        };
        given::<Actor>([kh_registered()])
            .when(remove("", "r"))
            .then_invalid("alias");
        given::<Actor>([kh_registered()])
            .when(remove("KH", ""))
            .then_invalid("reason");
        given::<Actor>([kh_registered()])
            .when(remove("Kata'ib Hezbollah", "r"))
            .then_error(DomainError::state(
                "the actor has no alias \"Kata'ib Hezbollah\": name one of [\"KH\", \"Hezbollah Brigades\"]",
            ));
    }

    // Type, country, description

    #[test]
    fn changing_the_actor_type() {
        let actor = given::<Actor>([kh_registered()])
            .when(ActorCommand::ChangeActorType(ChangeActorType {
                actor_type: ActorType::ForeignOthers,
                reason: "coded as an IRGC proxy".into(),
            }))
            .then_events(vec![ActorEvent::ActorTypeChanged {
                actor_type: ActorType::ForeignOthers,
                reason: "coded as an IRGC proxy".into(),
            }]);
        assert_eq!(
            actor.profile().unwrap().actor_type,
            ActorType::ForeignOthers
        );
    }

    #[test]
    fn changing_to_the_same_type_is_refused() {
        let change = |reason: &str| {
            ActorCommand::ChangeActorType(ChangeActorType {
                actor_type: ActorType::MilitiaGroups,
                reason: reason.into(),
            })
        };
        given::<Actor>([kh_registered()])
            .when(change(""))
            .then_invalid("reason");
        given::<Actor>([kh_registered()])
            .when(change("r"))
            .then_error(DomainError::state(
                "the actor's type is \"Militia Groups\" already",
            ));
    }

    #[test]
    fn amending_keeps_only_what_changes() {
        let actor = given::<Actor>([kh_registered()])
            .when(ActorCommand::AmendActor(AmendActor {
                country: Some(irq()),
                description: Some(
                    "Designated a foreign terrorist organisation by the US in 2009.".into(),
                ),
                reason: "profile written".into(),
            }))
            .then_events(vec![ActorEvent::ActorAmended {
                country: None,
                description: Some(
                    "Designated a foreign terrorist organisation by the US in 2009.".into(),
                ),
                reason: "profile written".into(),
            }]);
        let profile = actor.profile().unwrap();
        assert_eq!(profile.country, Some(irq()));
        assert_eq!(
            profile.description.as_deref(),
            Some("Designated a foreign terrorist organisation by the US in 2009.")
        );
    }

    #[test]
    fn an_amendment_checks_its_input_and_must_change_something() {
        let amend = |country: Option<CountryCode>, description: Option<&str>, reason: &str| {
            ActorCommand::AmendActor(AmendActor {
                country,
                description: description.map(str::to_owned),
                reason: reason.into(),
            })
        };
        given::<Actor>([kh_registered()])
            .when(amend(Some(CountryCode("iraq".into())), None, "r"))
            .then_invalid("country");
        given::<Actor>([kh_registered()])
            .when(amend(None, Some(""), "r"))
            .then_invalid("description");
        given::<Actor>([kh_registered()])
            .when(amend(None, Some("d"), ""))
            .then_invalid("reason");
        given::<Actor>([kh_registered()])
            .when(amend(Some(irq()), None, "r"))
            .then_invalid_state();
        given::<Actor>([kh_registered()])
            .when(amend(None, None, "r"))
            .then_invalid_state();
    }

    // Affiliations

    #[test]
    fn recording_an_affiliation() {
        let actor = given::<Actor>([kh_registered()])
            .when(ActorCommand::RecordAffiliation(record_membership()))
            .then_events(vec![kh_joined_iri()]);
        let membership = actor.affiliation(MEMBERSHIP).unwrap();
        assert_eq!(membership.related_actor, IRI);
        assert_eq!(membership.relation, AffiliationRelation::MemberOf);
        assert_eq!(actor.affiliations().len(), 1);
    }

    #[test]
    fn affiliations_hold_from_their_first_to_their_last_day() {
        let actor = given::<Actor>([
            kh_registered(),
            kh_joined_iri(),
            ActorEvent::AffiliationRecorded {
                affiliation_id: BACKING,
                related_actor: IRGC,
                relation: AffiliationRelation::BackedBy,
                from: None,
                until: None,
                source: None,
            },
            ActorEvent::AffiliationEnded {
                affiliation_id: MEMBERSHIP,
                until: date("2024-01-30"),
                reason: "a source reports it ended".into(),
                source: None,
            },
        ]);
        let ids_on = |d: &str| -> Vec<Uuid> {
            actor
                .state()
                .affiliations_on(date(d))
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids_on("2023-10-16"), vec![BACKING]);
        assert_eq!(ids_on("2023-10-17"), vec![MEMBERSHIP, BACKING]);
        assert_eq!(ids_on("2024-01-30"), vec![MEMBERSHIP, BACKING]);
        assert_eq!(ids_on("2024-01-31"), vec![BACKING]);
    }

    #[test]
    fn an_affiliation_checks_its_input() {
        let mut backwards = record_membership();
        backwards.until = Some(date("2023-10-16"));
        given::<Actor>([kh_registered()])
            .when(ActorCommand::RecordAffiliation(backwards))
            .then_error(DomainError::invalid(
                "until",
                "must not be before the affiliation's first day (2023-10-16 is before 2023-10-17)",
            ));
        let mut unnamed_source = record_membership();
        unnamed_source.source = Some(Source::named(""));
        given::<Actor>([kh_registered()])
            .when(ActorCommand::RecordAffiliation(unnamed_source))
            .then_invalid("source.name");
    }

    #[test]
    fn an_actor_is_not_affiliated_with_itself() {
        let command = ActorCommand::RecordAffiliation(record_membership());
        assert_eq!(
            command.check_for_actor(IRI),
            Err(DomainError::invalid(
                "related_actor",
                "must be another actor than the one affiliated"
            ))
        );
        assert_eq!(command.check_for_actor(KH), Ok(()));
        assert_eq!(rename("KH").check_for_actor(IRI), Ok(()));
    }

    #[test]
    fn an_affiliation_id_is_used_once() {
        let mut other = record_membership();
        other.related_actor = IRGC;
        other.relation = AffiliationRelation::BackedBy;
        given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(ActorCommand::RecordAffiliation(other.clone()))
            .then_error(DomainError::state(format!(
                "affiliation {MEMBERSHIP} was recorded already: give a new id"
            )));
        let retracted = ActorEvent::AffiliationRetracted {
            affiliation_id: MEMBERSHIP,
            reason: "r".into(),
        };
        given::<Actor>([kh_registered(), kh_joined_iri(), retracted])
            .when(ActorCommand::RecordAffiliation(other))
            .then_invalid_state();
    }

    #[test]
    fn the_same_relation_cannot_overlap_itself() {
        let mut again = record_membership();
        again.affiliation_id = BACKING;
        again.from = Some(date("2024-06-01"));
        given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(ActorCommand::RecordAffiliation(again.clone()))
            .then_error(DomainError::state(format!(
                "affiliation {MEMBERSHIP} records the same relation to the same actor over an overlapping period: end or retract it first"
            )));
        let ended = ActorEvent::AffiliationEnded {
            affiliation_id: MEMBERSHIP,
            until: date("2024-01-30"),
            reason: "a source reports it ended".into(),
            source: None,
        };
        given::<Actor>([kh_registered(), kh_joined_iri(), ended.clone()])
            .when(ActorCommand::RecordAffiliation(again.clone()))
            .events();
        let mut before = again.clone();
        before.from = None;
        given::<Actor>([kh_registered(), kh_joined_iri(), ended])
            .when(ActorCommand::RecordAffiliation(before))
            .then_invalid_state();
        let mut other_relation = again;
        other_relation.relation = AffiliationRelation::AlliedWith;
        given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(ActorCommand::RecordAffiliation(other_relation))
            .events();
    }

    #[test]
    fn ending_an_affiliation() {
        let actor = given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(end(MEMBERSHIP, "2024-01-30"))
            .then_events(vec![ActorEvent::AffiliationEnded {
                affiliation_id: MEMBERSHIP,
                until: date("2024-01-30"),
                reason: "a source reports it ended".into(),
                source: None,
            }]);
        assert_eq!(
            actor.affiliation(MEMBERSHIP).unwrap().until,
            Some(date("2024-01-30"))
        );
    }

    #[test]
    fn ending_an_affiliation_follows_its_rules() {
        let history = || [kh_registered(), kh_joined_iri()];
        given::<Actor>(history())
            .when(end(MEMBERSHIP, "2023-10-16"))
            .then_invalid("until");
        given::<Actor>(history())
            .when(end(MEMBERSHIP, "2023-10-17"))
            .events();
        given::<Actor>(history())
            .when(end(BACKING, "2024-01-30"))
            .then_error(DomainError::state(format!(
            "the actor has no affiliation {BACKING}: name one that was recorded and not retracted"
        )));
        given::<Actor>(history())
            .when(ActorCommand::EndAffiliation(EndAffiliation {
                affiliation_id: MEMBERSHIP,
                until: date("2024-01-30"),
                reason: "".into(),
                source: None,
            }))
            .then_invalid("reason");
        given::<Actor>(history())
            .when(ActorCommand::EndAffiliation(EndAffiliation {
                affiliation_id: MEMBERSHIP,
                until: date("2024-01-30"),
                reason: "r".into(),
                source: Some(Source {
                    url: Some("not a url".into()),
                    ..Source::named("AP")
                }),
            }))
            .then_invalid("source.url");
        let ended = ActorEvent::AffiliationEnded {
            affiliation_id: MEMBERSHIP,
            until: date("2024-01-30"),
            reason: "r".into(),
            source: None,
        };
        given::<Actor>([kh_registered(), kh_joined_iri(), ended])
            .when(end(MEMBERSHIP, "2024-02-01"))
            .then_error(DomainError::state(format!(
                "affiliation {MEMBERSHIP} ended already on 2024-01-30"
            )));
    }

    #[test]
    fn retracting_an_affiliation() {
        let retract = |reason: &str| {
            ActorCommand::RetractAffiliation(RetractAffiliation {
                affiliation_id: MEMBERSHIP,
                reason: reason.into(),
            })
        };
        let actor = given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(retract("confused with Kata'ib Sayyid al-Shuhada"))
            .then_events(vec![ActorEvent::AffiliationRetracted {
                affiliation_id: MEMBERSHIP,
                reason: "confused with Kata'ib Sayyid al-Shuhada".into(),
            }]);
        assert!(actor.affiliations().is_empty());
        assert_eq!(actor.affiliations_on(date("2024-01-01")).count(), 0);
        given::<Actor>([kh_registered(), kh_joined_iri()])
            .when(retract(""))
            .then_invalid("reason");
        given::<Actor>([kh_registered()])
            .when(retract("r"))
            .then_invalid_state();
    }

    // Storage

    #[test]
    fn events_are_stored_as_json_objects_with_snake_case_values() {
        let registered = encode(&iri_registered()).unwrap();
        assert_eq!(registered.event_type, "ActorRegistered");
        assert_eq!(registered.schema_version, 1);
        assert_eq!(
            registered.payload,
            json!({
                "name": "Islamic Resistance in Iraq",
                "actor_type": "militia_groups",
                "country": "IRQ",
                "aliases": ["IRI", "al-Muqawama al-Islamiya fi al-Iraq"],
                "description": "Umbrella of Iran-aligned Iraqi armed groups."
            })
        );
        let recorded = encode(&kh_joined_iri()).unwrap();
        assert_eq!(recorded.event_type, "AffiliationRecorded");
        assert_eq!(
            recorded.payload,
            json!({
                "affiliation_id": "00000000-0000-0000-0000-0000000000a1",
                "related_actor": "00000000-0000-0000-0000-000000000001",
                "relation": "member_of",
                "from": "2023-10-17",
                "source": {"name": "ACLED"}
            })
        );
    }

    #[test]
    fn corrections_carry_their_reason() {
        let renamed = ActorEvent::ActorRenamed {
            name: "a".into(),
            previous_name: "b".into(),
            reason: "why".into(),
        };
        assert_eq!(renamed.reason(), Some("why"));
        assert_eq!(iri_registered().reason(), None);
        assert_eq!(kh_joined_iri().valid_time(), None);
    }
}
