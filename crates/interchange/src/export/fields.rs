//! The fields of an exported incident, shared by the CSV export (one column each) and the
//! GeoJSON export (one property each), so that both formats say the same things in the same
//! order. A field's value is typed ([`FieldValue`]): each format renders it its own way (a list
//! is `a; b` in CSV and a JSON array in GeoJSON, a number is text in CSV and a JSON number in
//! GeoJSON, nothing is an empty cell or `null`).

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use sitrep_domain::model::incident::ActorRole;
use sitrep_domain::model::vocab::stored_name;

use super::exported::ExportedIncident;

/// The fields, in order: the CSV header and the GeoJSON properties.
pub const FIELDS: [&str; 35] = [
    "id",
    "external_refs",
    "date_start",
    "date_end",
    "date_precision",
    "event_type",
    "sub_event_type",
    "means",
    "target_category",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "site",
    "fatalities_low",
    "fatalities_best",
    "fatalities_high",
    "injuries_low",
    "injuries_best",
    "injuries_high",
    "verification",
    "perpetrators",
    "targets",
    "claimants",
    "other_actors",
    "sources",
    "notes",
    "tags",
    "attributes",
    "version",
    "last_recorded_at",
];

/// The separator of lists in a CSV cell (as ACLED's own lists).
pub const CSV_LIST_SEPARATOR: &str = "; ";

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Not known, or not given.
    Null,
    Text(String),
    Integer(u64),
    /// A coordinate in degrees.
    Degrees(f64),
    List(Vec<String>),
    /// The incident's attributes (dataset fields without a home of their own).
    Map(BTreeMap<String, String>),
}

impl FieldValue {
    fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    fn optional_text(value: Option<&str>) -> Self {
        value.map_or(Self::Null, Self::text)
    }

    fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> Self {
        Self::List(items.into_iter().map(str::to_owned).collect())
    }

    /// The CSV cell: empty for nothing, lists joined by [`CSV_LIST_SEPARATOR`], attributes as
    /// a JSON object (empty when there are none), coordinates in the shortest form that reads
    /// back as the same number.
    pub fn csv_cell(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Text(text) => text.clone(),
            Self::Integer(n) => n.to_string(),
            Self::Degrees(degrees) => degrees.to_string(),
            Self::List(items) => items.join(CSV_LIST_SEPARATOR),
            Self::Map(map) if map.is_empty() => String::new(),
            Self::Map(map) => serde_json::to_string(map).unwrap_or_default(),
        }
    }

    /// The GeoJSON property: `null`, a string, a number, an array or an object.
    pub fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Null => Value::Null,
            Self::Text(text) => Value::String(text.clone()),
            Self::Integer(n) => Value::from(*n),
            Self::Degrees(degrees) => Value::from(*degrees),
            Self::List(items) => Value::from(items.clone()),
            Self::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        }
    }
}

/// The values of [`FIELDS`] for `incident`, in the same order.
pub fn field_values(incident: &ExportedIncident) -> [FieldValue; FIELDS.len()] {
    use FieldValue as V;
    let facts = &incident.facts;
    let place = &facts.place;
    let coordinates = place.coordinates;
    let injuries = facts.injuries.as_ref();
    [
        V::text(incident.id.to_string()),
        V::list(facts.external_refs.iter().map(|r| r.as_str())),
        V::text(facts.time.start.to_string()),
        V::text(facts.time.end.to_string()),
        V::text(facts.time.precision.as_str()),
        V::text(facts.event_type.label()),
        V::text(facts.sub_event_type.label()),
        V::List(facts.means.iter().map(stored_name).collect()),
        facts
            .target_category
            .as_ref()
            .map_or(V::Null, |t| V::Text(stored_name(t))),
        V::text(place.country.as_str()),
        V::optional_text(place.admin1.as_deref()),
        V::optional_text(place.admin2.as_deref()),
        V::optional_text(place.admin3.as_deref()),
        V::optional_text(place.location.as_deref()),
        coordinates.map_or(V::Null, |c| V::Degrees(c.latitude)),
        coordinates.map_or(V::Null, |c| V::Degrees(c.longitude)),
        V::Text(stored_name(&place.precision)),
        place.site.map_or(V::Null, |s| V::Text(s.to_string())),
        V::Integer(facts.fatalities.low.into()),
        V::Integer(facts.fatalities.best.into()),
        V::Integer(facts.fatalities.high.into()),
        injuries.map_or(V::Null, |i| V::Integer(i.low.into())),
        injuries.map_or(V::Null, |i| V::Integer(i.best.into())),
        injuries.map_or(V::Null, |i| V::Integer(i.high.into())),
        V::text(incident.verification.as_str()),
        V::list(incident.names_in(ActorRole::Perpetrator)),
        V::list(incident.names_in(ActorRole::Target)),
        V::list(incident.names_in(ActorRole::Claimant)),
        V::list(incident.other_actor_names()),
        V::list(incident.source_names()),
        V::optional_text(facts.notes.as_deref()),
        V::list(facts.tags.iter().map(String::as_str)),
        V::Map(facts.attributes.clone()),
        V::Integer(incident.version),
        V::Text(
            incident
                .last_recorded_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ),
    ]
}
