//! The Site aggregate: a named place that incidents happen at again and again (Al Asad Air
//! Base, Harir Air Base, Tower 22), with its kind, country, coordinates and who operates it.
//!
//! Incidents point at a site by its stream id ([`super::values::Place::site`]), so a site is
//! registered once and corrected in place. Gazetteers such as troopdata's list of US bases
//! (`countryname, iso3c, basename, lat, lon, base, lilypad, fundedsite`) map onto
//! [`RegisterSite`]: their rows sometimes lack coordinates (`NA`), hence optional coordinates
//! with a [`GeoPrecision`], and [`SiteKind::from_troopdata`] reads their kind flags. A site
//! that is no longer used is retired, not deleted: past incidents still refer to it.

use serde::{Deserialize, Serialize};

use super::actor::{check_aliases, same_name};
use super::aggregate::{Aggregate, DomainEvent};
use super::error::DomainError;
use super::values::{
    check_each, check_optional_text, check_reason, check_text, named, Coordinates, CountryCode,
    EventTime, GeoPrecision, Source, MAX_NAME, MAX_TEXT,
};

const SITE: &str = "site";

// ---------------------------------------------------------------------------------------------
// Commands

/// What kind of place a site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    AirBase,
    NavalBase,
    /// A base that is not mainly an air or naval base, or whose kind is not known better.
    MilitaryBase,
    /// A small forward position: a patrol base, a tower, a "lily pad".
    Outpost,
    /// A military camp, or a camp for displaced people, refugees or detainees.
    Camp,
    Embassy,
    Airport,
    Port,
    City,
    Other,
}

impl SiteKind {
    /// The kind of a troopdata US-bases row from its flags (`base`, `lilypad`, `fundedsite`):
    /// a base is a military base, a lily pad an outpost, a funded site "other". `None` unless
    /// exactly one flag is set. (The rows do not say air or naval: amend the kind later.)
    pub fn from_troopdata(base: bool, lilypad: bool, funded_site: bool) -> Option<Self> {
        match (base, lilypad, funded_site) {
            (true, false, false) => Some(Self::MilitaryBase),
            (false, true, false) => Some(Self::Outpost),
            (false, false, true) => Some(Self::Other),
            _ => None,
        }
    }
}

/// Registers a new site (`registerSite`).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterSite {
    /// The name the site is best known by ("Al Asad Air Base").
    pub name: String,
    pub kind: SiteKind,
    pub country: CountryCode,
    /// The province or governorate ("Al Anbar").
    pub admin1: Option<String>,
    /// Where it is, when known.
    pub coordinates: Option<Coordinates>,
    /// How precisely `coordinates` place the site: exact or near need coordinates.
    pub precision: GeoPrecision,
    /// Other names and spellings; unique case-insensitively and different from the name.
    pub aliases: Vec<String>,
    /// The countries whose forces use the site, without repeats (may be empty).
    pub operated_by: Vec<CountryCode>,
    pub description: Option<String>,
    /// Where the site's details come from (a gazetteer, a report).
    pub source: Option<Source>,
}

/// Corrects a site's details: the fields given replace the current ones, absent ones stay.
/// A new name makes the previous one an alias unless `aliases` is given too (which then is the
/// whole new list). An amendment that changes nothing is refused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AmendSite {
    pub name: Option<String>,
    pub kind: Option<SiteKind>,
    pub country: Option<CountryCode>,
    pub admin1: Option<String>,
    pub coordinates: Option<Coordinates>,
    pub precision: Option<GeoPrecision>,
    pub aliases: Option<Vec<String>>,
    pub operated_by: Option<Vec<CountryCode>>,
    pub description: Option<String>,
    pub reason: String,
}

/// Records that the site is no longer used (closed, abandoned, handed over). It stays
/// registered and amendable. Retiring a retired site is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RetireSite {
    /// When it stopped being used, as precisely as known.
    pub retired_on: Option<EventTime>,
    pub reason: String,
}

/// Records that a retired site is used again (or was retired by mistake). Reinstating a site
/// in use is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ReinstateSite {
    /// When it was used again, as precisely as known.
    pub reinstated_on: Option<EventTime>,
    pub reason: String,
}

/// What can be asked of a site.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteCommand {
    RegisterSite(RegisterSite),
    AmendSite(AmendSite),
    RetireSite(RetireSite),
    ReinstateSite(ReinstateSite),
}

// ---------------------------------------------------------------------------------------------
// Events

/// What happened to a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum SiteEvent {
    SiteRegistered {
        name: String,
        kind: SiteKind,
        country: CountryCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        admin1: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        coordinates: Option<Coordinates>,
        precision: GeoPrecision,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        aliases: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        operated_by: Vec<CountryCode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Source>,
    },
    /// Only the fields that changed; `aliases` and `operated_by`, when present, are the whole
    /// new lists.
    SiteAmended(SiteChanges),
    SiteRetired {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retired_on: Option<EventTime>,
        reason: String,
    },
    SiteReinstated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reinstated_on: Option<EventTime>,
        reason: String,
    },
}

/// The payload of [`SiteEvent::SiteAmended`]: the fields that changed, and why.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SiteChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SiteKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<GeoPrecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operated_by: Option<Vec<CountryCode>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub reason: String,
}

impl SiteChanges {
    fn is_empty(&self) -> bool {
        let Self {
            name,
            kind,
            country,
            admin1,
            coordinates,
            precision,
            aliases,
            operated_by,
            description,
            reason: _,
        } = self;
        name.is_none()
            && kind.is_none()
            && country.is_none()
            && admin1.is_none()
            && coordinates.is_none()
            && precision.is_none()
            && aliases.is_none()
            && operated_by.is_none()
            && description.is_none()
    }
}

impl DomainEvent for SiteEvent {
    fn reason(&self) -> Option<&str> {
        match self {
            Self::SiteRegistered { .. } => None,
            Self::SiteAmended(changes) => Some(&changes.reason),
            Self::SiteRetired { reason, .. } | Self::SiteReinstated { reason, .. } => Some(reason),
        }
    }

    fn valid_time(&self) -> Option<&EventTime> {
        match self {
            Self::SiteRetired { retired_on, .. } => retired_on.as_ref(),
            Self::SiteReinstated { reinstated_on, .. } => reinstated_on.as_ref(),
            Self::SiteRegistered { .. } | Self::SiteAmended(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State

/// A registered site's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteProfile {
    pub name: String,
    pub kind: SiteKind,
    pub country: CountryCode,
    pub admin1: Option<String>,
    pub coordinates: Option<Coordinates>,
    pub precision: GeoPrecision,
    pub aliases: Vec<String>,
    pub operated_by: Vec<CountryCode>,
    pub description: Option<String>,
    pub source: Option<Source>,
    /// Whether it is no longer used.
    pub retired: bool,
}

impl SiteProfile {
    /// Whether `name` is the site's name or one of its aliases, case aside.
    pub fn is_known_as(&self, name: &str) -> bool {
        same_name(&self.name, name) || self.aliases.iter().any(|a| same_name(a, name))
    }
}

/// A site: its profile once registered.
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
pub struct Site {
    profile: Option<SiteProfile>,
}

impl Site {
    /// The site's details, `None` until it is registered.
    pub fn profile(&self) -> Option<&SiteProfile> {
        self.profile.as_ref()
    }

    fn existing(&self) -> Result<&SiteProfile, DomainError> {
        self.profile
            .as_ref()
            .ok_or(DomainError::NotFound { what: SITE })
    }
}

impl Aggregate for Site {
    const STREAM_TYPE: &'static str = "site";
    type Command = SiteCommand;
    type Event = SiteEvent;

    fn decide(&self, command: &SiteCommand) -> Result<Vec<SiteEvent>, DomainError> {
        let event = match command {
            SiteCommand::RegisterSite(c) => self.register(c)?,
            SiteCommand::AmendSite(c) => self.amend(c)?,
            SiteCommand::RetireSite(c) => self.retire(c)?,
            SiteCommand::ReinstateSite(c) => self.reinstate(c)?,
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &SiteEvent) {
        if let SiteEvent::SiteRegistered {
            name,
            kind,
            country,
            admin1,
            coordinates,
            precision,
            aliases,
            operated_by,
            description,
            source,
        } = event
        {
            self.profile = Some(SiteProfile {
                name: name.clone(),
                kind: *kind,
                country: country.clone(),
                admin1: admin1.clone(),
                coordinates: *coordinates,
                precision: *precision,
                aliases: aliases.clone(),
                operated_by: operated_by.clone(),
                description: description.clone(),
                source: source.clone(),
                retired: false,
            });
        } else if let Some(profile) = self.profile.as_mut() {
            apply_to_profile(profile, event);
        }
    }
}

/// Folds an event that changes a registered site.
fn apply_to_profile(profile: &mut SiteProfile, event: &SiteEvent) {
    match event {
        SiteEvent::SiteAmended(changes) => apply_changes(profile, changes.clone()),
        SiteEvent::SiteRetired { .. } => profile.retired = true,
        SiteEvent::SiteReinstated { .. } => profile.retired = false,
        SiteEvent::SiteRegistered { .. } => {}
    }
}

fn apply_changes(profile: &mut SiteProfile, changes: SiteChanges) {
    let SiteChanges {
        name,
        kind,
        country,
        admin1,
        coordinates,
        precision,
        aliases,
        operated_by,
        description,
        reason: _,
    } = changes;
    set(&mut profile.name, name);
    set(&mut profile.kind, kind);
    set(&mut profile.country, country);
    set(&mut profile.precision, precision);
    set(&mut profile.aliases, aliases);
    set(&mut profile.operated_by, operated_by);
    profile.admin1 = admin1.or(profile.admin1.take());
    profile.coordinates = coordinates.or(profile.coordinates);
    profile.description = description.or(profile.description.take());
}

fn set<T>(field: &mut T, new: Option<T>) {
    if let Some(new) = new {
        *field = new;
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding

impl Site {
    fn register(&self, c: &RegisterSite) -> Result<SiteEvent, DomainError> {
        check_text("name", &c.name, MAX_NAME)?;
        c.country.validate().map_err(|e| named("country", e))?;
        check_optional_text("admin1", c.admin1.as_deref(), MAX_NAME)?;
        check_coordinates(c.coordinates.as_ref())?;
        check_precision(c.precision, c.coordinates.as_ref())?;
        check_aliases(&c.name, &c.aliases)?;
        check_operators(&c.operated_by)?;
        check_optional_text("description", c.description.as_deref(), MAX_TEXT)?;
        if let Some(source) = &c.source {
            source.validate().map_err(|e| e.within("source"))?;
        }
        if self.profile.is_some() {
            return Err(DomainError::AlreadyExists { what: SITE });
        }
        Ok(SiteEvent::SiteRegistered {
            name: c.name.clone(),
            kind: c.kind,
            country: c.country.clone(),
            admin1: c.admin1.clone(),
            coordinates: c.coordinates,
            precision: c.precision,
            aliases: c.aliases.clone(),
            operated_by: c.operated_by.clone(),
            description: c.description.clone(),
            source: c.source.clone(),
        })
    }

    fn amend(&self, c: &AmendSite) -> Result<SiteEvent, DomainError> {
        check_amendment(c)?;
        let profile = self.existing()?;
        let changes = changes_of(c, profile);
        let name = changes.name.as_deref().unwrap_or(&profile.name);
        if let Some(aliases) = &c.aliases {
            check_aliases(name, aliases)?;
        }
        let coordinates = changes.coordinates.or(profile.coordinates);
        let precision = changes.precision.unwrap_or(profile.precision);
        check_precision(precision, coordinates.as_ref())?;
        if changes.is_empty() {
            return Err(DomainError::state(
                "the amendment changes nothing: every field given has its current value",
            ));
        }
        Ok(SiteEvent::SiteAmended(changes))
    }

    fn retire(&self, c: &RetireSite) -> Result<SiteEvent, DomainError> {
        check_optional_time("retired_on", c.retired_on.as_ref())?;
        check_reason(&c.reason)?;
        if self.existing()?.retired {
            return Err(DomainError::state(
                "the site is retired already: reinstate it first if it was used again",
            ));
        }
        Ok(SiteEvent::SiteRetired {
            retired_on: c.retired_on.clone(),
            reason: c.reason.clone(),
        })
    }

    fn reinstate(&self, c: &ReinstateSite) -> Result<SiteEvent, DomainError> {
        check_optional_time("reinstated_on", c.reinstated_on.as_ref())?;
        check_reason(&c.reason)?;
        if !self.existing()?.retired {
            return Err(DomainError::state(
                "the site is in use: only a retired site can be reinstated",
            ));
        }
        Ok(SiteEvent::SiteReinstated {
            reinstated_on: c.reinstated_on.clone(),
            reason: c.reason.clone(),
        })
    }
}

/// The amendment's own rules (those that do not need the site's current details).
fn check_amendment(c: &AmendSite) -> Result<(), DomainError> {
    if let Some(name) = &c.name {
        check_text("name", name, MAX_NAME)?;
    }
    if let Some(country) = &c.country {
        country.validate().map_err(|e| named("country", e))?;
    }
    check_optional_text("admin1", c.admin1.as_deref(), MAX_NAME)?;
    check_coordinates(c.coordinates.as_ref())?;
    if let Some(aliases) = &c.aliases {
        check_each("aliases", aliases, |a| check_text("", a, MAX_NAME))?;
    }
    if let Some(operators) = &c.operated_by {
        check_operators(operators)?;
    }
    check_optional_text("description", c.description.as_deref(), MAX_TEXT)?;
    check_reason(&c.reason)
}

/// The fields of `c` that differ from `profile`, with the aliases a new name leaves behind.
fn changes_of(c: &AmendSite, profile: &SiteProfile) -> SiteChanges {
    let name = differing(c.name.as_ref(), &profile.name);
    let aliases = match (&c.aliases, &name) {
        (Some(aliases), _) => Some(aliases.clone()),
        (None, Some(name)) => Some(aliases_after_rename(profile, name)),
        (None, None) => None,
    };
    SiteChanges {
        kind: differing(c.kind.as_ref(), &profile.kind),
        country: differing(c.country.as_ref(), &profile.country),
        admin1: c
            .admin1
            .clone()
            .filter(|a| Some(a) != profile.admin1.as_ref()),
        coordinates: c
            .coordinates
            .filter(|x| Some(x) != profile.coordinates.as_ref()),
        precision: differing(c.precision.as_ref(), &profile.precision),
        aliases: aliases.filter(|a| *a != profile.aliases),
        operated_by: differing(c.operated_by.as_ref(), &profile.operated_by),
        description: c
            .description
            .clone()
            .filter(|d| Some(d) != profile.description.as_ref()),
        name,
        reason: c.reason.clone(),
    }
}

/// The aliases once the site is called `name`: the previous name joins them (unless it differs
/// only in case), and an alias equal to `name` leaves.
fn aliases_after_rename(profile: &SiteProfile, name: &str) -> Vec<String> {
    let mut aliases: Vec<String> = profile
        .aliases
        .iter()
        .filter(|a| !same_name(a, name))
        .cloned()
        .collect();
    if !same_name(&profile.name, name) {
        aliases.push(profile.name.clone());
    }
    aliases
}

/// `new` when it is given and differs from `current`.
fn differing<T: PartialEq + Clone>(new: Option<&T>, current: &T) -> Option<T> {
    new.filter(|n| *n != current).cloned()
}

fn check_coordinates(coordinates: Option<&Coordinates>) -> Result<(), DomainError> {
    coordinates.map_or(Ok(()), |c| {
        c.validate().map_err(|e| e.within("coordinates"))
    })
}

/// Exact or near precision needs coordinates.
fn check_precision(
    precision: GeoPrecision,
    coordinates: Option<&Coordinates>,
) -> Result<(), DomainError> {
    if matches!(precision, GeoPrecision::Exact | GeoPrecision::Near) && coordinates.is_none() {
        return Err(DomainError::invalid(
            "coordinates",
            "are required when the precision is exact or near",
        ));
    }
    Ok(())
}

/// Each a country code, none repeated. Errors name `operated_by[i]`.
fn check_operators(operators: &[CountryCode]) -> Result<(), DomainError> {
    check_each("operated_by", operators, CountryCode::validate)?;
    for (i, country) in operators.iter().enumerate() {
        if operators[..i].contains(country) {
            return Err(DomainError::invalid(
                format!("operated_by[{i}]"),
                format!("must not repeat {country}"),
            ));
        }
    }
    Ok(())
}

fn check_optional_time(field: &str, time: Option<&EventTime>) -> Result<(), DomainError> {
    time.map_or(Ok(()), |t| t.validate().map_err(|e| e.within(field)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::aggregate::encode;
    use crate::model::testing::{given, given_no_history};
    use crate::model::values::DatePrecision;
    use chrono::NaiveDate;
    use serde_json::json;

    /// Breaks one field of a valid command.
    type Spoil<C> = fn(&mut C);

    fn code(c: &str) -> CountryCode {
        CountryCode::new(c).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    fn troopdata() -> Source {
        Source::named("troopdata: US bases")
    }

    /// Al Asad as a gazetteer row gives it: troopdata's name, a lily pad, the US operating it.
    fn register_al_asad() -> RegisterSite {
        RegisterSite {
            name: "Al Asad AB".into(),
            kind: SiteKind::from_troopdata(false, true, false).unwrap(),
            country: code("IRQ"),
            admin1: None,
            coordinates: Some(at(33.7856, 42.4412)),
            precision: GeoPrecision::Exact,
            aliases: vec![],
            operated_by: vec![code("USA")],
            description: None,
            source: Some(troopdata()),
        }
    }

    fn al_asad_registered() -> SiteEvent {
        SiteEvent::SiteRegistered {
            name: "Al Asad AB".into(),
            kind: SiteKind::Outpost,
            country: code("IRQ"),
            admin1: None,
            coordinates: Some(at(33.7856, 42.4412)),
            precision: GeoPrecision::Exact,
            aliases: vec![],
            operated_by: vec![code("USA")],
            description: None,
            source: Some(troopdata()),
        }
    }

    fn tower_22_registered() -> SiteEvent {
        SiteEvent::SiteRegistered {
            name: "Tower 22".into(),
            kind: SiteKind::Outpost,
            country: code("JOR"),
            admin1: None,
            coordinates: Some(at(33.32, 38.70)),
            precision: GeoPrecision::Near,
            aliases: vec!["T22".into()],
            operated_by: vec![code("USA"), code("JOR")],
            description: Some("Logistics support base near al-Tanf.".into()),
            source: None,
        }
    }

    fn amend(reason: &str) -> AmendSite {
        AmendSite {
            reason: reason.into(),
            ..AmendSite::default()
        }
    }

    // Registering

    #[test]
    fn registering_a_site_from_a_gazetteer_row() {
        let site = given_no_history::<Site>()
            .when(SiteCommand::RegisterSite(register_al_asad()))
            .then_events(vec![al_asad_registered()]);
        let profile = site.profile().unwrap();
        assert_eq!(profile.name, "Al Asad AB");
        assert_eq!(profile.kind, SiteKind::Outpost);
        assert!(!profile.retired);
        assert!(profile.is_known_as("al asad ab"));
    }

    #[test]
    fn a_site_without_known_coordinates_is_registered_by_region() {
        let command = RegisterSite {
            name: "Harir Air Base".into(),
            kind: SiteKind::AirBase,
            country: code("IRQ"),
            admin1: Some("Erbil".into()),
            coordinates: None,
            precision: GeoPrecision::Admin1,
            aliases: vec!["Harir".into()],
            operated_by: vec![],
            description: None,
            source: None,
        };
        let site = given_no_history::<Site>()
            .when(SiteCommand::RegisterSite(command.clone()))
            .events();
        assert!(matches!(
            &site[..],
            [SiteEvent::SiteRegistered {
                coordinates: None,
                precision: GeoPrecision::Admin1,
                ..
            }]
        ));
        given_no_history::<Site>()
            .when(SiteCommand::RegisterSite(RegisterSite {
                precision: GeoPrecision::Exact,
                ..command
            }))
            .then_error(DomainError::invalid(
                "coordinates",
                "are required when the precision is exact or near",
            ));
    }

    #[test]
    fn troopdata_flags_map_to_kinds() {
        assert_eq!(
            SiteKind::from_troopdata(true, false, false),
            Some(SiteKind::MilitaryBase)
        );
        assert_eq!(
            SiteKind::from_troopdata(false, true, false),
            Some(SiteKind::Outpost)
        );
        assert_eq!(
            SiteKind::from_troopdata(false, false, true),
            Some(SiteKind::Other)
        );
        assert_eq!(SiteKind::from_troopdata(false, false, false), None);
        assert_eq!(SiteKind::from_troopdata(true, true, false), None);
    }

    #[test]
    fn registering_twice_is_refused() {
        given::<Site>([al_asad_registered()])
            .when(SiteCommand::RegisterSite(register_al_asad()))
            .then_error(DomainError::AlreadyExists { what: "site" });
    }

    #[test]
    fn registering_checks_every_field() {
        let cases: Vec<(&str, Spoil<RegisterSite>)> = vec![
            ("name", |c| c.name = "".into()),
            ("country", |c| c.country = CountryCode("Iraq".into())),
            ("admin1", |c| c.admin1 = Some(" ".into())),
            ("coordinates.latitude", |c| {
                c.coordinates = Some(at(133.78, 42.44))
            }),
            ("coordinates.longitude", |c| {
                c.coordinates = Some(at(33.78, f64::INFINITY))
            }),
            ("coordinates", |c| c.coordinates = None),
            ("aliases[0]", |c| c.aliases = vec!["".into()]),
            ("aliases[0]", |c| c.aliases = vec!["AL ASAD AB".into()]),
            ("aliases[1]", |c| {
                c.aliases = vec!["Ain al-Asad".into(), "ain al-asad".into()]
            }),
            ("operated_by[1]", |c| c.operated_by.push(code("USA"))),
            ("operated_by[1]", |c| {
                c.operated_by.push(CountryCode("US".into()))
            }),
            ("description", |c| c.description = Some("".into())),
            ("source.name", |c| c.source = Some(Source::named(""))),
        ];
        for (field, spoil) in cases {
            let mut command = register_al_asad();
            spoil(&mut command);
            given_no_history::<Site>()
                .when(SiteCommand::RegisterSite(command))
                .then_invalid(field);
        }
    }

    #[test]
    fn rules_are_named_in_the_error() {
        let mut command = register_al_asad();
        command.coordinates = Some(at(-91.0, 42.44));
        given_no_history::<Site>()
            .when(SiteCommand::RegisterSite(command))
            .then_error(DomainError::invalid(
                "coordinates.latitude",
                "must be a number between -90 and 90",
            ));
        let mut command = register_al_asad();
        command.operated_by = vec![code("USA"), code("IRQ"), code("USA")];
        given_no_history::<Site>()
            .when(SiteCommand::RegisterSite(command))
            .then_error(DomainError::invalid(
                "operated_by[2]",
                "must not repeat USA",
            ));
    }

    #[test]
    fn commands_on_a_missing_site_are_refused() {
        let commands = vec![
            SiteCommand::AmendSite(AmendSite {
                kind: Some(SiteKind::AirBase),
                ..amend("r")
            }),
            SiteCommand::RetireSite(RetireSite {
                retired_on: None,
                reason: "r".into(),
            }),
            SiteCommand::ReinstateSite(ReinstateSite {
                reinstated_on: None,
                reason: "r".into(),
            }),
        ];
        for command in commands {
            given_no_history::<Site>()
                .when(command)
                .then_error(DomainError::NotFound { what: "site" });
        }
    }

    // Amending

    #[test]
    fn amending_a_gazetteer_row_into_the_site_we_know() {
        let site = given::<Site>([al_asad_registered()])
            .when(SiteCommand::AmendSite(AmendSite {
                name: Some("Al Asad Air Base".into()),
                kind: Some(SiteKind::AirBase),
                admin1: Some("Al Anbar".into()),
                country: Some(code("IRQ")),
                operated_by: Some(vec![code("IRQ"), code("USA")]),
                ..amend("an Iraqi air base hosting US forces")
            }))
            .then_events(vec![SiteEvent::SiteAmended(SiteChanges {
                name: Some("Al Asad Air Base".into()),
                kind: Some(SiteKind::AirBase),
                admin1: Some("Al Anbar".into()),
                aliases: Some(vec!["Al Asad AB".into()]),
                operated_by: Some(vec![code("IRQ"), code("USA")]),
                reason: "an Iraqi air base hosting US forces".into(),
                ..SiteChanges::default()
            })]);
        let profile = site.profile().unwrap();
        assert_eq!(profile.name, "Al Asad Air Base");
        assert_eq!(profile.kind, SiteKind::AirBase);
        assert_eq!(profile.admin1.as_deref(), Some("Al Anbar"));
        assert_eq!(profile.aliases, vec!["Al Asad AB"]);
        assert_eq!(profile.operated_by, vec![code("IRQ"), code("USA")]);
        assert_eq!(profile.coordinates, Some(at(33.7856, 42.4412)));
        assert!(profile.is_known_as("AL ASAD AB"));
    }

    #[test]
    fn a_new_name_with_aliases_takes_the_aliases_given() {
        given::<Site>([tower_22_registered()])
            .when(SiteCommand::AmendSite(AmendSite {
                name: Some("T22".into()),
                aliases: Some(vec!["Tower 22".into(), "Burj 22".into()]),
                ..amend("r")
            }))
            .then_events(vec![SiteEvent::SiteAmended(SiteChanges {
                name: Some("T22".into()),
                aliases: Some(vec!["Tower 22".into(), "Burj 22".into()]),
                reason: "r".into(),
                ..SiteChanges::default()
            })]);
        given::<Site>([tower_22_registered()])
            .when(SiteCommand::AmendSite(AmendSite {
                name: Some("T22".into()),
                ..amend("r")
            }))
            .then_events(vec![SiteEvent::SiteAmended(SiteChanges {
                name: Some("T22".into()),
                aliases: Some(vec!["Tower 22".into()]),
                reason: "r".into(),
                ..SiteChanges::default()
            })]);
    }

    #[test]
    fn an_amendment_checks_every_field() {
        let cases: Vec<(&str, Spoil<AmendSite>)> = vec![
            ("name", |c| c.name = Some("".into())),
            ("country", |c| c.country = Some(CountryCode("jo".into()))),
            ("admin1", |c| c.admin1 = Some("".into())),
            ("coordinates.latitude", |c| {
                c.coordinates = Some(at(f64::NAN, 38.7))
            }),
            ("aliases[1]", |c| {
                c.aliases = Some(vec!["T22".into(), "\u{0}".into()])
            }),
            ("aliases[0]", |c| c.aliases = Some(vec!["tower 22".into()])),
            ("aliases[0]", |c| {
                c.name = Some("T22".into());
                c.aliases = Some(vec!["t22".into()]);
            }),
            ("operated_by[0]", |c| {
                c.operated_by = Some(vec![CountryCode("".into())])
            }),
            ("description", |c| {
                c.description = Some("x".repeat(MAX_TEXT + 1))
            }),
            ("reason", |c| c.reason = "".into()),
        ];
        for (field, spoil) in cases {
            let mut command = AmendSite {
                kind: Some(SiteKind::MilitaryBase),
                ..amend("r")
            };
            spoil(&mut command);
            given::<Site>([tower_22_registered()])
                .when(SiteCommand::AmendSite(command))
                .then_invalid(field);
        }
    }

    #[test]
    fn an_amendment_that_changes_nothing_is_refused() {
        given::<Site>([tower_22_registered()])
            .when(SiteCommand::AmendSite(amend("r")))
            .then_error(DomainError::state(
                "the amendment changes nothing: every field given has its current value",
            ));
        given::<Site>([tower_22_registered()])
            .when(SiteCommand::AmendSite(AmendSite {
                name: Some("Tower 22".into()),
                kind: Some(SiteKind::Outpost),
                coordinates: Some(at(33.32, 38.70)),
                aliases: Some(vec!["T22".into()]),
                operated_by: Some(vec![code("USA"), code("JOR")]),
                description: Some("Logistics support base near al-Tanf.".into()),
                ..amend("r")
            }))
            .then_invalid_state();
    }

    #[test]
    fn an_amendment_keeps_only_what_changes() {
        given::<Site>([tower_22_registered()])
            .when(SiteCommand::AmendSite(AmendSite {
                kind: Some(SiteKind::Outpost),
                coordinates: Some(at(33.3236, 38.6977)),
                precision: Some(GeoPrecision::Exact),
                ..amend("located on imagery")
            }))
            .then_events(vec![SiteEvent::SiteAmended(SiteChanges {
                coordinates: Some(at(33.3236, 38.6977)),
                precision: Some(GeoPrecision::Exact),
                reason: "located on imagery".into(),
                ..SiteChanges::default()
            })]);
    }

    #[test]
    fn an_amended_precision_still_needs_coordinates() {
        let harir = SiteEvent::SiteRegistered {
            name: "Harir Air Base".into(),
            kind: SiteKind::AirBase,
            country: code("IRQ"),
            admin1: Some("Erbil".into()),
            coordinates: None,
            precision: GeoPrecision::Admin1,
            aliases: vec![],
            operated_by: vec![],
            description: None,
            source: None,
        };
        given::<Site>([harir.clone()])
            .when(SiteCommand::AmendSite(AmendSite {
                precision: Some(GeoPrecision::Near),
                ..amend("r")
            }))
            .then_invalid("coordinates");
        let site = given::<Site>([harir])
            .when(SiteCommand::AmendSite(AmendSite {
                precision: Some(GeoPrecision::Near),
                coordinates: Some(at(36.53, 44.34)),
                ..amend("located")
            }))
            .then_events(vec![SiteEvent::SiteAmended(SiteChanges {
                precision: Some(GeoPrecision::Near),
                coordinates: Some(at(36.53, 44.34)),
                reason: "located".into(),
                ..SiteChanges::default()
            })]);
        assert_eq!(site.profile().unwrap().precision, GeoPrecision::Near);
    }

    // Retiring

    fn handed_over() -> EventTime {
        EventTime::span(date("2026-01-01"), date("2026-01-31"), DatePrecision::Month)
    }

    #[test]
    fn retiring_and_reinstating_a_site() {
        let retired = SiteEvent::SiteRetired {
            retired_on: Some(handed_over()),
            reason: "closed (example)".into(),
        };
        let site = given::<Site>([al_asad_registered()])
            .when(SiteCommand::RetireSite(RetireSite {
                retired_on: Some(handed_over()),
                reason: "closed (example)".into(),
            }))
            .then_events(vec![retired.clone()]);
        assert!(site.profile().unwrap().retired);
        let site = given::<Site>([al_asad_registered(), retired])
            .when(SiteCommand::ReinstateSite(ReinstateSite {
                reinstated_on: None,
                reason: "retired by mistake".into(),
            }))
            .then_events(vec![SiteEvent::SiteReinstated {
                reinstated_on: None,
                reason: "retired by mistake".into(),
            }]);
        assert!(!site.profile().unwrap().retired);
    }

    #[test]
    fn a_retired_site_can_still_be_corrected() {
        let retired = SiteEvent::SiteRetired {
            retired_on: None,
            reason: "closed".into(),
        };
        let site = given::<Site>([al_asad_registered(), retired])
            .when(SiteCommand::AmendSite(AmendSite {
                admin1: Some("Al Anbar".into()),
                ..amend("province added")
            }))
            .events();
        assert_eq!(site.len(), 1);
    }

    #[test]
    fn retiring_and_reinstating_follow_the_site_status() {
        let retire = |reason: &str, on: Option<EventTime>| {
            SiteCommand::RetireSite(RetireSite {
                retired_on: on,
                reason: reason.into(),
            })
        };
        let reinstate = |reason: &str, on: Option<EventTime>| {
            SiteCommand::ReinstateSite(ReinstateSite {
                reinstated_on: on,
                reason: reason.into(),
            })
        };
        let backwards =
            EventTime::span(date("2026-01-31"), date("2026-01-01"), DatePrecision::Month);
        let retired = SiteEvent::SiteRetired {
            retired_on: None,
            reason: "closed".into(),
        };
        given::<Site>([al_asad_registered()])
            .when(retire("", None))
            .then_invalid("reason");
        given::<Site>([al_asad_registered()])
            .when(retire("r", Some(backwards.clone())))
            .then_invalid("retired_on.end");
        given::<Site>([al_asad_registered(), retired.clone()])
            .when(retire("r", None))
            .then_error(DomainError::state(
                "the site is retired already: reinstate it first if it was used again",
            ));
        given::<Site>([al_asad_registered(), retired.clone()])
            .when(reinstate("", None))
            .then_invalid("reason");
        given::<Site>([al_asad_registered(), retired])
            .when(reinstate("r", Some(backwards)))
            .then_invalid("reinstated_on.end");
        given::<Site>([al_asad_registered()])
            .when(reinstate("r", None))
            .then_error(DomainError::state(
                "the site is in use: only a retired site can be reinstated",
            ));
    }

    // Storage

    #[test]
    fn events_are_stored_as_json_objects() {
        let registered = encode(&tower_22_registered()).unwrap();
        assert_eq!(registered.event_type, "SiteRegistered");
        assert_eq!(
            registered.payload,
            json!({
                "name": "Tower 22",
                "kind": "outpost",
                "country": "JOR",
                "coordinates": {"latitude": 33.32, "longitude": 38.70},
                "precision": "near",
                "aliases": ["T22"],
                "operated_by": ["USA", "JOR"],
                "description": "Logistics support base near al-Tanf."
            })
        );
        let amended = encode(&SiteEvent::SiteAmended(SiteChanges {
            kind: Some(SiteKind::AirBase),
            aliases: Some(vec![]),
            reason: "r".into(),
            ..SiteChanges::default()
        }))
        .unwrap();
        assert_eq!(amended.event_type, "SiteAmended");
        assert_eq!(
            amended.payload,
            json!({"kind": "air_base", "aliases": [], "reason": "r"})
        );
        let retired = encode(&SiteEvent::SiteRetired {
            retired_on: Some(handed_over()),
            reason: "closed (example)".into(),
        })
        .unwrap();
        assert_eq!(
            retired.payload,
            json!({
                "retired_on": {"start": "2026-01-01", "end": "2026-01-31", "precision": "month"},
                "reason": "closed (example)"
            })
        );
    }

    #[test]
    fn retirement_gives_its_reason_and_valid_time() {
        let retired = SiteEvent::SiteRetired {
            retired_on: Some(handed_over()),
            reason: "closed (example)".into(),
        };
        assert_eq!(retired.reason(), Some("closed (example)"));
        assert_eq!(retired.valid_time(), Some(&handed_over()));
        assert_eq!(al_asad_registered().reason(), None);
        assert_eq!(al_asad_registered().valid_time(), None);
    }
}
