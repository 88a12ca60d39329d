//! The ACLED export (`--format acled`): ACLED's 31 columns in [`ACLED_COLUMNS`] order, each
//! the inverse of its row in the mapping table of [`crate::acled_columns`], so that an ACLED
//! file imported and exported again gives a file that imports to the same incidents.
//!
//! Column by column:
//!
//! - `event_id_cnty`: the id of the incident's `acled:` external reference; an incident without
//!   one gets `SITREP-<incident id>` (stable across exports).
//! - `event_date`, `year`: the first day of the incident's span and its year; `time_precision`:
//!   1 for a day, 2 for a few days or a week, 3 for a month or vaguer.
//! - `actor1`: the first perpetrator (without one: the first claimant, else the first suspected
//!   actor); `assoc_actor_1`: the perpetrator's associates and any further perpetrators, then
//!   the claimants, the suspected and the otherwise associated actors (ACLED has no column of
//!   their own for those three roles; a name already in `actor1` or `assoc_actor_1` is not
//!   repeated). `actor2`: the first target; `assoc_actor_2`: the target's
//!   associates and any further targets. Involvements in recorded order, names as the actors
//!   read model has them, lists joined with `"; "`.
//! - `inter1`, `inter2`, `interaction`, `country`, `timestamp`: the attributes of those names;
//!   when absent, the inter code of `actor1`'s / `actor2`'s registered type (0 when there is no
//!   such actor), the interaction of the two codes as ACLED writes it (lower first, `10` for a
//!   single actor of type 1), the country's name, and the Unix time the exported version was
//!   recorded.
//! - `disorder_type`, `civilian_targeting`, `region`, `source_scale`: the attributes of those
//!   names. An incident imported from ACLED (it has an `acled:` reference) gets an empty cell
//!   when one is absent, as its file had; for other incidents: the disorder type of the
//!   sub-event type (ACLED's table), `Civilian targeting` when the target category is
//!   civilians, no region (sitrep has no table of ACLED's regions), and the sources' scales
//!   joined with `-` (`National-International`).
//! - `iso`: the ISO numeric code of the country (0 for Kosovo).
//! - `admin1`, `admin2`, `admin3`, `location`, `notes`: as recorded, empty when absent.
//! - `latitude`, `longitude`: the shortest decimal that reads back as the same number (what the
//!   import read, `33.3152`, is written `33.3152`); empty without coordinates.
//! - `geo_precision`: 1 exact, 2 near, 3 anything vaguer.
//! - `source`: the sources' names; `fatalities`: the best estimate; `tags`: the tags.

use chrono::Datelike;
use sitrep_domain::model::incident::{ActorRole, TargetCategory};
use sitrep_domain::model::values::{DatePrecision, GeoPrecision, SourceScale};
use sitrep_domain::model::vocab::{EventType, SubEventType};

use super::exported::{ExportedActor, ExportedIncident};
use crate::acled_columns::{ACLED_COLUMNS, LIST_SEPARATOR};
use crate::countries;

/// The dataset name of ACLED's external references.
const ACLED: &str = "acled";

/// The ACLED record of `incident`, in [`ACLED_COLUMNS`] order.
pub fn record(incident: &ExportedIncident) -> [String; ACLED_COLUMNS.len()] {
    let facts = &incident.facts;
    let place = &facts.place;
    let reference = facts
        .external_refs
        .iter()
        .find(|r| r.dataset() == ACLED)
        .map(|r| r.id().to_owned());
    let from_acled = reference.is_some();
    let attribute = |name: &str| facts.attributes.get(name).cloned();
    // A column ACLED may leave empty: an imported incident's attribute or nothing; another
    // incident's attribute or what sitrep knows.
    let optional = |name: &str, fallback: &dyn Fn() -> String| {
        attribute(name).unwrap_or_else(|| {
            if from_acled {
                String::new()
            } else {
                fallback()
            }
        })
    };
    let actors = AcledActors::of(incident);
    // The inter codes as the file had them, unless the actors changed since so that a code no
    // longer fits its column (0 exactly when the column is empty): then the registered types'.
    let fitting = |name: &str, actor: Option<&ExportedActor>| {
        attribute(name).filter(|code| (code == "0") == actor.is_none())
    };
    let (written1, written2) = (
        fitting("inter1", actors.actor1),
        fitting("inter2", actors.actor2),
    );
    let refit = written1.is_none() && attribute("inter1").is_some()
        || written2.is_none() && attribute("inter2").is_some();
    let inter1 = inter_code(actors.actor1);
    let inter2 = inter_code(actors.actor2);
    let country = countries::by_alpha3(place.country.as_str());
    let coordinates = place.coordinates;
    [
        reference.unwrap_or_else(|| format!("SITREP-{}", incident.id)),
        facts.time.start.to_string(),
        facts.time.start.year().to_string(),
        time_precision(facts.time.precision).to_string(),
        optional("disorder_type", &|| {
            disorder_type(facts.sub_event_type).to_owned()
        }),
        facts.event_type.label().to_owned(),
        facts.sub_event_type.label().to_owned(),
        actors.actor1.map_or_else(String::new, |a| a.name.clone()),
        actors.associates1.join(LIST_SEPARATOR),
        written1.unwrap_or_else(|| code_text(inter1)),
        actors.actor2.map_or_else(String::new, |a| a.name.clone()),
        actors.associates2.join(LIST_SEPARATOR),
        written2.unwrap_or_else(|| code_text(inter2)),
        attribute("interaction")
            .filter(|_| !refit)
            .unwrap_or_else(|| interaction(inter1, inter2)),
        optional("civilian_targeting", &|| {
            if facts.target_category == Some(TargetCategory::Civilians) {
                "Civilian targeting".to_owned()
            } else {
                String::new()
            }
        }),
        country.map_or_else(String::new, |c| c.numeric.to_string()),
        optional("region", &String::new),
        country_name(attribute("country"), place.country.as_str()),
        place.admin1.clone().unwrap_or_default(),
        place.admin2.clone().unwrap_or_default(),
        place.admin3.clone().unwrap_or_default(),
        place.location.clone().unwrap_or_default(),
        coordinates.map_or_else(String::new, |c| c.latitude.to_string()),
        coordinates.map_or_else(String::new, |c| c.longitude.to_string()),
        geo_precision(place.precision).to_string(),
        incident.source_names().join(LIST_SEPARATOR),
        optional("source_scale", &|| source_scale(incident)),
        facts.notes.clone().unwrap_or_default(),
        facts.fatalities.best.to_string(),
        facts.tags.join(LIST_SEPARATOR),
        attribute("timestamp").unwrap_or_else(|| incident.last_recorded_at.timestamp().to_string()),
    ]
}

/// The actors of an incident in ACLED's four actor columns.
#[derive(Debug, Default)]
struct AcledActors<'a> {
    actor1: Option<&'a ExportedActor>,
    associates1: Vec<&'a str>,
    actor2: Option<&'a ExportedActor>,
    associates2: Vec<&'a str>,
}

impl<'a> AcledActors<'a> {
    fn of(incident: &'a ExportedIncident) -> Self {
        let mut columns = Self::default();
        // Roles without a column of their own, added after the associates.
        let mut others: Vec<&'a str> = Vec::new();
        for actor in &incident.actors {
            match actor.role {
                ActorRole::Perpetrator if columns.actor1.is_none() => columns.actor1 = Some(actor),
                ActorRole::Perpetrator | ActorRole::PerpetratorAssociate => {
                    columns.associates1.push(&actor.name);
                }
                ActorRole::Target if columns.actor2.is_none() => columns.actor2 = Some(actor),
                ActorRole::Target | ActorRole::TargetAssociate => {
                    columns.associates2.push(&actor.name);
                }
                ActorRole::Claimant | ActorRole::Suspected | ActorRole::Associated => {
                    others.push(&actor.name);
                }
            }
        }
        // Without a perpetrator, the one who claimed it, or else the first suspected, the first
        // associate of the perpetrator or the first otherwise associated, is the actor of the
        // event (ACLED names associates only beside an actor). The same for the target.
        if columns.actor1.is_none() {
            let stand_in = [
                ActorRole::Claimant,
                ActorRole::Suspected,
                ActorRole::PerpetratorAssociate,
                ActorRole::Associated,
            ]
            .into_iter()
            .find_map(|role| incident.actors.iter().find(|a| a.role == role));
            if let Some(actor) = stand_in {
                columns.actor1 = Some(actor);
                if let Some(i) = others.iter().position(|name| *name == actor.name) {
                    others.remove(i);
                }
                if let Some(i) = columns.associates1.iter().position(|n| *n == actor.name) {
                    columns.associates1.remove(i);
                }
            }
        }
        if columns.actor2.is_none() {
            if let Some(actor) = incident
                .actors
                .iter()
                .find(|a| a.role == ActorRole::TargetAssociate)
            {
                columns.actor2 = Some(actor);
                if let Some(i) = columns.associates2.iter().position(|n| *n == actor.name) {
                    columns.associates2.remove(i);
                }
            }
        }
        for name in others {
            let named = columns.actor1.is_some_and(|a| a.name == name)
                || columns.associates1.contains(&name);
            if !named {
                columns.associates1.push(name);
            }
        }
        columns
    }
}

/// ACLED's inter code of an actor column: the registered type's code, 0 without an actor,
/// `None` when the actor's type is not known.
fn inter_code(actor: Option<&ExportedActor>) -> Option<u8> {
    match actor {
        None => Some(0),
        Some(actor) => actor.actor_type.map(|t| t.inter_code()),
    }
}

fn code_text(code: Option<u8>) -> String {
    code.map_or_else(String::new, |c| c.to_string())
}

/// ACLED's interaction code: the two inter codes, lower first (`17`), or the one code and 0
/// when there is one actor (`10`); empty when a code is not known.
fn interaction(inter1: Option<u8>, inter2: Option<u8>) -> String {
    match (inter1, inter2) {
        (Some(0), Some(0)) => String::new(),
        (Some(a), Some(0)) | (Some(0), Some(a)) => format!("{a}0"),
        (Some(a), Some(b)) => format!("{}{}", a.min(b), a.max(b)),
        _ => String::new(),
    }
}

/// ACLED's `time_precision`: 1 the day, 2 the week, 3 the month.
fn time_precision(precision: DatePrecision) -> u8 {
    match precision {
        DatePrecision::Day => 1,
        DatePrecision::Days | DatePrecision::Week => 2,
        DatePrecision::Month | DatePrecision::Year => 3,
    }
}

/// ACLED's `geo_precision`: 1 exact, 2 near, 3 the region or vaguer.
fn geo_precision(precision: GeoPrecision) -> u8 {
    match precision {
        GeoPrecision::Exact => 1,
        GeoPrecision::Near => 2,
        GeoPrecision::Admin2
        | GeoPrecision::Admin1
        | GeoPrecision::Region
        | GeoPrecision::Country
        | GeoPrecision::WaterOrAir => 3,
    }
}

/// ACLED's disorder type of a sub-event type (its event categories table: demonstrations for
/// protests and violent demonstrations, strategic developments for those, political violence
/// for the rest, mob violence included).
fn disorder_type(sub_event_type: SubEventType) -> &'static str {
    match sub_event_type {
        SubEventType::PeacefulProtest
        | SubEventType::ProtestWithIntervention
        | SubEventType::ExcessiveForceAgainstProtesters
        | SubEventType::ViolentDemonstration => "Demonstrations",
        other if other.event_type() == EventType::StrategicDevelopments => "Strategic developments",
        _ => "Political violence",
    }
}

/// The country's name: the attribute ACLED's file gave, unless it names another country than
/// the incident's (the place was corrected since); else the name of the alpha-3 code.
fn country_name(attribute: Option<String>, alpha3: &str) -> String {
    match attribute {
        Some(name) if countries::by_name(&name).is_none_or(|country| country.alpha3 == alpha3) => {
            name
        }
        _ => countries::by_alpha3(alpha3).map_or_else(|| alpha3.to_owned(), |c| c.name.to_owned()),
    }
}

/// The sources' scales as ACLED writes them (`National-International`), each once, in the
/// order of the sources; empty when no source has one.
fn source_scale(incident: &ExportedIncident) -> String {
    let mut scales: Vec<&str> = Vec::new();
    for scale in incident.sources.iter().filter_map(|s| s.scale) {
        let label = match scale {
            SourceScale::Local => "Local",
            SourceScale::Subnational => "Subnational",
            SourceScale::National => "National",
            SourceScale::Regional => "Regional",
            SourceScale::International => "International",
            SourceScale::NewMedia => "New media",
            SourceScale::Other => "Other",
        };
        if !scales.contains(&label) {
            scales.push(label);
        }
    }
    scales.join("-")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveDate, TimeZone, Utc};
    use sitrep_domain::model::incident::{
        AttributionStatus, ExternalRef, IncidentFacts, VerificationStatus,
    };
    use sitrep_domain::model::values::{
        Coordinates, CountryCode, EventTime, Place, Source, UncertainCount,
    };
    use sitrep_domain::model::vocab::ActorType;
    use uuid::Uuid;

    use super::*;

    fn actor(n: u128, name: &str, actor_type: ActorType, role: ActorRole) -> ExportedActor {
        ExportedActor {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            actor_type: Some(actor_type),
            role,
            attribution: AttributionStatus::AttributedBySource,
        }
    }

    /// An incident as the ACLED import makes it of a row like `IRQ38819`, with associated
    /// actors on both sides, every attribute and a note with a line break.
    fn imported() -> ExportedIncident {
        let attributes: BTreeMap<String, String> = [
            ("disorder_type", "Political violence"),
            ("inter1", "2"),
            ("inter2", "8"),
            ("interaction", "28"),
            ("civilian_targeting", "Civilian targeting"),
            ("region", "Middle East"),
            ("country", "Iraq"),
            ("source_scale", "Local partner-Other"),
            ("timestamp", "1655834276"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let day = NaiveDate::from_ymd_opt(2022, 6, 13).unwrap();
        ExportedIncident {
            id: Uuid::from_u128(1),
            version: 3,
            last_recorded_at: Utc.with_ymd_and_hms(2024, 2, 1, 10, 0, 0).unwrap(),
            facts: IncidentFacts {
                time: EventTime::span(day, day, DatePrecision::Week),
                place: Place {
                    country: CountryCode::new("IRQ").unwrap(),
                    admin1: Some("Duhok".into()),
                    admin2: Some("Al Amadiya".into()),
                    admin3: Some("Barwari Bala".into()),
                    location: Some("Gire Cudi".into()),
                    coordinates: Some(Coordinates {
                        latitude: 37.1459,
                        longitude: 43.59,
                    }),
                    precision: GeoPrecision::Near,
                    site: None,
                },
                event_type: EventType::Battles,
                sub_event_type: SubEventType::ArmedClash,
                means: Vec::new(),
                target_category: None,
                fatalities: UncertainCount::exactly(1),
                injuries: None,
                notes: Some("On 13 June 2022, PKK militants attacked \"Turkish\" soldiers,\nnear Gire Cudi.".into()),
                tags: vec!["crowd size=no report".into(), "local administrators".into()],
                external_refs: vec![ExternalRef::new("acled:IRQ38819").unwrap()],
                attributes,
            },
            verification: VerificationStatus::Unverified,
            actors: vec![
                actor(10, "PKK: Kurdistan Workers Party", ActorType::RebelForces, ActorRole::Perpetrator),
                actor(11, "HPG: People's Defence Forces", ActorType::RebelForces, ActorRole::PerpetratorAssociate),
                actor(12, "YBS: Sinjar Resistance Units", ActorType::MilitiaGroups, ActorRole::PerpetratorAssociate),
                actor(20, "Military Forces of Turkey (2016-)", ActorType::ForeignOthers, ActorRole::Target),
                actor(21, "Government of Turkey (2016-)", ActorType::ForeignOthers, ActorRole::TargetAssociate),
            ],
            sources: vec![Source::named("People's Defense Forces"), Source::named("Rudaw")],
        }
    }

    #[test]
    fn actors_withdrawn_since_the_import_leave_a_row_the_import_reads() {
        let at = |name: &str| ACLED_COLUMNS.iter().position(|c| *c == name).unwrap();
        // The perpetrator withdrawn: its first associate stands in, with the file's inter code.
        let mut incident = imported();
        incident.actors.retain(|a| a.role != ActorRole::Perpetrator);
        let row = record(&incident);
        assert_eq!(row[at("actor1")], "HPG: People's Defence Forces");
        assert_eq!(row[at("assoc_actor_1")], "YBS: Sinjar Resistance Units");
        assert_eq!(row[at("inter1")], "2");
        assert_eq!(row[at("interaction")], "28");
        // Every actor of the target's side withdrawn: no actor 2, so inter2 is 0 and the
        // interaction follows the codes written.
        let mut incident = imported();
        incident
            .actors
            .retain(|a| !matches!(a.role, ActorRole::Target | ActorRole::TargetAssociate));
        let row = record(&incident);
        assert_eq!(row[at("actor2")], "");
        assert_eq!(row[at("inter2")], "0");
        assert_eq!(row[at("interaction")], "20");
        // Only the target withdrawn: its associate stands in.
        let mut incident = imported();
        incident.actors.retain(|a| a.role != ActorRole::Target);
        let row = record(&incident);
        assert_eq!(row[at("actor2")], "Government of Turkey (2016-)");
        assert_eq!(row[at("assoc_actor_2")], "");
        assert_eq!(row[at("inter2")], "8");
    }

    #[test]
    fn an_imported_incident_gives_back_its_row() {
        let row = record(&imported());
        let expected = [
            "IRQ38819",
            "2022-06-13",
            "2022",
            "2",
            "Political violence",
            "Battles",
            "Armed clash",
            "PKK: Kurdistan Workers Party",
            "HPG: People's Defence Forces; YBS: Sinjar Resistance Units",
            "2",
            "Military Forces of Turkey (2016-)",
            "Government of Turkey (2016-)",
            "8",
            "28",
            "Civilian targeting",
            "368",
            "Middle East",
            "Iraq",
            "Duhok",
            "Al Amadiya",
            "Barwari Bala",
            "Gire Cudi",
            "37.1459",
            "43.59",
            "2",
            "People's Defense Forces; Rudaw",
            "Local partner-Other",
            "On 13 June 2022, PKK militants attacked \"Turkish\" soldiers,\nnear Gire Cudi.",
            "1",
            "crowd size=no report; local administrators",
            "1655834276",
        ];
        assert_eq!(row.len(), ACLED_COLUMNS.len());
        for (i, (got, want)) in row.iter().zip(expected).enumerate() {
            assert_eq!(got, want, "column {} ({})", i, ACLED_COLUMNS[i]);
        }
    }

    #[test]
    fn an_imported_incident_keeps_the_cells_its_file_left_empty() {
        let mut incident = imported();
        for name in [
            "disorder_type",
            "civilian_targeting",
            "region",
            "source_scale",
        ] {
            incident.facts.attributes.remove(name);
        }
        incident.facts.target_category = Some(TargetCategory::Civilians);
        let row = record(&incident);
        for column in [
            "disorder_type",
            "civilian_targeting",
            "region",
            "source_scale",
        ] {
            let i = ACLED_COLUMNS.iter().position(|c| *c == column).unwrap();
            assert_eq!(row[i], "", "{column}");
        }
    }

    #[test]
    fn an_incident_recorded_in_sitrep_gets_the_fallbacks() {
        let mut incident = imported();
        incident.facts.external_refs = vec![ExternalRef::new("ucdp:214797").unwrap()];
        incident.facts.attributes.clear();
        incident.facts.target_category = Some(TargetCategory::Civilians);
        incident.facts.time = EventTime::span(
            NaiveDate::from_ymd_opt(2023, 12, 30).unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            DatePrecision::Days,
        );
        incident.facts.place.precision = GeoPrecision::Admin2;
        incident.facts.place.coordinates = None;
        incident.facts.place.country = CountryCode::new("XKX").unwrap();
        incident.sources = vec![
            Source {
                scale: Some(SourceScale::National),
                ..Source::named("A")
            },
            Source {
                scale: Some(SourceScale::International),
                ..Source::named("B")
            },
            Source {
                scale: Some(SourceScale::National),
                ..Source::named("C")
            },
        ];
        // A claimant already named as the perpetrator is not repeated; a suspected actor and a
        // second perpetrator join assoc_actor_1; a second target joins assoc_actor_2.
        incident.actors = vec![
            actor(
                20,
                "Civilians (Kosovo)",
                ActorType::Civilians,
                ActorRole::Target,
            ),
            actor(
                10,
                "Unidentified Armed Group",
                ActorType::MilitiaGroups,
                ActorRole::Perpetrator,
            ),
            actor(
                10,
                "Unidentified Armed Group",
                ActorType::MilitiaGroups,
                ActorRole::Claimant,
            ),
            actor(
                30,
                "Police Forces of Kosovo",
                ActorType::StateForces,
                ActorRole::Suspected,
            ),
            actor(
                11,
                "Rioters (Kosovo)",
                ActorType::Rioters,
                ActorRole::Perpetrator,
            ),
            actor(
                21,
                "Journalists (Kosovo)",
                ActorType::Civilians,
                ActorRole::Target,
            ),
        ];
        let row = record(&incident);
        let cell = |column: &str| {
            let i = ACLED_COLUMNS.iter().position(|c| *c == column).unwrap();
            row[i].clone()
        };
        assert_eq!(
            cell("event_id_cnty"),
            format!("SITREP-{}", Uuid::from_u128(1))
        );
        assert_eq!(cell("event_date"), "2023-12-30");
        assert_eq!(cell("year"), "2023");
        assert_eq!(cell("time_precision"), "2");
        assert_eq!(cell("disorder_type"), "Political violence");
        assert_eq!(cell("actor1"), "Unidentified Armed Group");
        assert_eq!(
            cell("assoc_actor_1"),
            "Rioters (Kosovo); Police Forces of Kosovo"
        );
        assert_eq!(cell("inter1"), "3");
        assert_eq!(cell("actor2"), "Civilians (Kosovo)");
        assert_eq!(cell("assoc_actor_2"), "Journalists (Kosovo)");
        assert_eq!(cell("inter2"), "7");
        assert_eq!(cell("interaction"), "37");
        assert_eq!(cell("civilian_targeting"), "Civilian targeting");
        assert_eq!(cell("iso"), "0");
        assert_eq!(cell("region"), "");
        assert_eq!(cell("country"), "Kosovo");
        assert_eq!(cell("latitude"), "");
        assert_eq!(cell("longitude"), "");
        assert_eq!(cell("geo_precision"), "3");
        assert_eq!(cell("source"), "A; B; C");
        assert_eq!(cell("source_scale"), "National-International");
        assert_eq!(cell("timestamp"), "1706781600");
    }

    #[test]
    fn without_a_perpetrator_the_claimant_is_actor1() {
        let mut incident = imported();
        incident.actors = vec![
            actor(
                20,
                "Military Forces of the United States",
                ActorType::ForeignOthers,
                ActorRole::Target,
            ),
            actor(
                30,
                "Kataib Hezbollah",
                ActorType::MilitiaGroups,
                ActorRole::Suspected,
            ),
            actor(
                10,
                "Islamic Resistance in Iraq",
                ActorType::MilitiaGroups,
                ActorRole::Claimant,
            ),
        ];
        incident.facts.attributes.clear();
        let columns = AcledActors::of(&incident);
        assert_eq!(
            columns.actor1.map(|a| a.name.as_str()),
            Some("Islamic Resistance in Iraq")
        );
        assert_eq!(columns.associates1, ["Kataib Hezbollah"]);
        let row = record(&incident);
        assert_eq!(row[9], "3", "inter1");
        assert_eq!(row[13], "38", "interaction");
        incident.actors.retain(|a| a.role != ActorRole::Claimant);
        let columns = AcledActors::of(&incident);
        assert_eq!(
            columns.actor1.map(|a| a.name.as_str()),
            Some("Kataib Hezbollah")
        );
        assert!(columns.associates1.is_empty());
    }

    #[test]
    fn interaction_codes_are_written_as_acled_does() {
        assert_eq!(interaction(Some(7), Some(1)), "17");
        assert_eq!(interaction(Some(1), Some(7)), "17");
        assert_eq!(interaction(Some(5), Some(0)), "50");
        assert_eq!(interaction(Some(0), Some(0)), "");
        assert_eq!(interaction(None, Some(1)), "");
        assert_eq!(
            disorder_type(SubEventType::MobViolence),
            "Political violence"
        );
        assert_eq!(
            disorder_type(SubEventType::ViolentDemonstration),
            "Demonstrations"
        );
        assert_eq!(
            disorder_type(SubEventType::Arrests),
            "Strategic developments"
        );
    }

    #[test]
    fn a_corrected_country_is_named_from_the_registry() {
        assert_eq!(country_name(Some("Iraq".into()), "IRQ"), "Iraq");
        assert_eq!(country_name(Some("Syria".into()), "IRQ"), "Iraq");
        assert_eq!(
            country_name(Some("Unheard-of Land".into()), "IRQ"),
            "Unheard-of Land"
        );
        assert_eq!(country_name(None, "SYR"), "Syria");
    }
}
