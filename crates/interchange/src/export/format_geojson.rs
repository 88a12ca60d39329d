//! GeoJSON exports (RFC 7946): one `FeatureCollection`, one `Feature` per incident whose `id`
//! is the incident's id, whose geometry is a `Point` `[longitude, latitude]` (or `null` for an
//! incident without coordinates) and whose properties are [`super::fields`] (lists as arrays,
//! numbers as numbers, nothing as `null`). Written a page of features at a time: the
//! collection's opening, the features with the commas between them, then its closing.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::exported::ExportedIncident;
use super::fields::{field_values, FieldValue, FIELDS};
use super::ExportError;

/// What goes before the first feature.
pub const OPENING: &[u8] = br#"{"type":"FeatureCollection","features":["#;
/// What goes after the last one.
pub const CLOSING: &[u8] = b"]}\n";

/// Writes features, remembering whether one was written already (the next needs a comma).
#[derive(Debug, Default)]
pub struct FeatureWriter {
    written: bool,
}

impl FeatureWriter {
    /// The features of `incidents`, each on a line of its own, with the commas between them
    /// and before the first one when features came before.
    pub fn features(&mut self, incidents: &[ExportedIncident]) -> Result<Vec<u8>, ExportError> {
        let mut out = Vec::with_capacity(incidents.len() * 1024);
        for incident in incidents {
            if self.written {
                out.push(b',');
            }
            out.push(b'\n');
            serde_json::to_writer(&mut out, &feature(incident))
                .map_err(|error| ExportError::Write(error.to_string()))?;
            self.written = true;
        }
        Ok(out)
    }
}

/// The feature of `incident`, its members in the order RFC 7946 shows them (`type` first) and
/// its properties in the order of [`FIELDS`].
pub fn feature(incident: &ExportedIncident) -> Feature {
    let geometry = incident.facts.place.coordinates.map(|c| Point {
        kind: "Point",
        coordinates: [c.longitude, c.latitude],
    });
    Feature {
        kind: "Feature",
        id: incident.id.to_string(),
        geometry,
        properties: Properties(field_values(incident)),
    }
}

/// A GeoJSON feature.
#[derive(Debug, Serialize)]
pub struct Feature {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    /// `null` without coordinates.
    geometry: Option<Point>,
    properties: Properties,
}

/// A GeoJSON point: `[longitude, latitude]`.
#[derive(Debug, Serialize)]
struct Point {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

/// The properties of a feature, in the order of [`FIELDS`].
#[derive(Debug)]
struct Properties([FieldValue; FIELDS.len()]);

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(FIELDS.len()))?;
        for (name, value) in FIELDS.iter().zip(self.0.iter()) {
            map.serialize_entry(name, &value.json())?;
        }
        map.end()
    }
}
