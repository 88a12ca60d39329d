//! ACLED's export columns and how each maps to an incident: the contract that the ACLED import
//! (file -> incident) and the ACLED export (incident -> file) both follow, so that exporting
//! what was imported gives the same incidents back.
//!
//! | ACLED column | incident |
//! |---|---|
//! | `event_id_cnty` | `external_refs = ["acled:<event_id_cnty>"]`; stream id [`crate::incident_id_for`] |
//! | `event_date` (YYYY-MM-DD), `time_precision` (1/2/3) | `time = {start = end = event_date, precision = DatePrecision::from_acled}` |
//! | `year` | not stored: must equal `event_date`'s year; exported from it |
//! | `disorder_type` | `attributes.disorder_type` (when not empty) |
//! | `event_type`, `sub_event_type` | `event_type`, `sub_event_type` by ACLED's labels (`EventType::from_label`) |
//! | `actor1` | actor involvement, role `perpetrator`, attribution `attributed_by_source` |
//! | `assoc_actor_1` (`; `-separated) | one involvement each, role `perpetrator_associate` |
//! | `inter1` | `attributes.inter1` (0-8 as written); a new actor of `actor1`/`assoc_actor_1` is registered with `ActorType::from_inter_code(inter1)` |
//! | `actor2`, `assoc_actor_2`, `inter2` | the same with roles `target`, `target_associate` and `attributes.inter2` |
//! | `interaction` | `attributes.interaction` |
//! | `civilian_targeting` | `attributes.civilian_targeting` (when not empty) |
//! | `iso` | `place.country`: the alpha-3 code of ISO numeric `iso` (0: Kosovo, `XKX`) |
//! | `region` | `attributes.region` |
//! | `country` | `attributes.country` (ACLED's spelling of the name) |
//! | `admin1`, `admin2`, `admin3`, `location` | `place.admin1`, `place.admin2`, `place.admin3`, `place.location` (empty -> none) |
//! | `latitude`, `longitude` | `place.coordinates` (decimal degrees, in range) |
//! | `geo_precision` (1/2/3) | `place.precision = GeoPrecision::from_acled` |
//! | `source` (`; `-separated) | `sources`, one `Source { name }` each, in order |
//! | `source_scale` | `attributes.source_scale` (as written, e.g. `Local partner-Other`) |
//! | `notes` | `notes` (empty -> none) |
//! | `fatalities` | `fatalities = UncertainCount::exactly(n)` |
//! | `tags` (`; `-separated) | `tags` |
//! | `timestamp` | `attributes.timestamp` (ACLED's last-modified Unix time, as written) |
//!
//! Actors are matched to registered actors by name or alias, ignoring case; an actor named for
//! the first time is registered. An export writes the names the actors have now, the
//! involvements in file order (as recorded), the lists joined with `"; "`, the attributes back
//! into their columns and empty cells for what the incident lacks.

/// ACLED's columns, in the order of its exports (and of `sitrep export incidents --format acled`).
pub const ACLED_COLUMNS: [&str; 31] = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
];

/// The separator of ACLED's lists (associated actors, sources, tags).
pub const LIST_SEPARATOR: &str = "; ";
