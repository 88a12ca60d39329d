//! The incidents read model: every version of every incident, by recorded time.
//!
//! `incident_versions` holds one row per incident event: the incident as it stood after that
//! event, from the event's recorded time (`recorded_from`) until the next event of the same
//! incident was recorded (`recorded_to`, NULL for the current row). So:
//!
//! - the current view is `recorded_to IS NULL AND status = 'active'` (retracted and merged
//!   incidents keep their rows and history, but leave current views);
//! - "as known at T" is `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, with
//!   the same status filter: later-retracted incidents that were visible at T, casualty figures
//!   before their revision.
//!
//! Columns carry what lists, maps and filters need (time span, country, admin1, event and
//! sub-event type, actors in any role, site, verification, precisions, coordinates for a
//! bounding box). `incident_state` keeps each incident's current state (the domain aggregate's
//! own, serialised), which the next page folds further events into without reading the stream
//! again. The query indexes (`incidents_indexes.sql`) are created after a rebuild has caught up.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use sitrep_domain::model::incident::{ActorRole, Incident, IncidentEvent, IncidentStatus};
use sitrep_domain::model::{decode, Aggregate};
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::projection::{ChecksumTable, Projection};
use crate::rows::{
    array_literal, close_rows, load_states, name, state_json, stream_ids, unreadable,
};

/// The incidents read model.
pub struct IncidentsProjection;

const DDL: &str = include_str!("incidents.sql");

const TABLES: &[ChecksumTable] = &[
    ChecksumTable {
        name: "incident_versions",
        order_by: "incident_id, stream_version",
    },
    ChecksumTable {
        name: "incident_state",
        order_by: "incident_id",
    },
];

impl Projection for IncidentsProjection {
    fn name(&self) -> &'static str {
        "incidents"
    }

    fn version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static str {
        DDL
    }

    fn indexes(&self) -> &'static str {
        include_str!("incidents_indexes.sql")
    }

    fn tables(&self) -> &'static [ChecksumTable] {
        TABLES
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }
}

/// An incident as the page left it: its state and where its newest version row is.
struct Current {
    state: Incident,
    /// The stream version of its newest row.
    version: i64,
    /// Where that row is.
    row: Newest,
}

enum Newest {
    /// No row yet: a new incident.
    None,
    /// Stored by an earlier page (the open row of the incident).
    Stored,
    /// Among this page's new rows.
    New(usize),
}

async fn apply(conn: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let incident_events: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream.stream_type == Incident::STREAM_TYPE)
        .collect();
    if incident_events.is_empty() {
        return Ok(());
    }
    let mut current = load_current(conn, &incident_events).await?;
    let mut rows: Vec<VersionRow> = Vec::with_capacity(incident_events.len());
    let mut closed: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    for stored in incident_events {
        let event: IncidentEvent = decode(
            &stored.event_type,
            stored.schema_version,
            stored
                .payload_as()
                .map_err(|e| unreadable(stored, sitrep_domain::model::CodecError::Serialize(e)))?,
        )
        .map_err(|e| unreadable(stored, e))?;
        let id = stored.stream.stream_id;
        let entry = current.entry(id).or_insert_with(|| Current {
            state: Incident::default(),
            version: 0,
            row: Newest::None,
        });
        // The previous version ends where this one begins.
        match entry.row {
            Newest::Stored => closed.push((id, stored.recorded_at)),
            Newest::New(index) => rows[index].recorded_to = Some(stored.recorded_at),
            Newest::None => {}
        }
        entry.state.apply(&event);
        entry.version = i64::try_from(stored.stream_version).unwrap_or(i64::MAX);
        entry.row = Newest::New(rows.len());
        rows.push(VersionRow::new(stored, &entry.state));
    }
    const CLOSE_SQL: &str = "UPDATE incident_versions v SET recorded_to = c.until \
                               FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, until) \
                              WHERE v.incident_id = c.id AND v.recorded_to IS NULL";
    close_rows(conn, CLOSE_SQL, &closed).await?;
    insert_versions(conn, &rows).await?;
    save_states(conn, &current).await
}

/// The current state of each incident the page touches that has rows already.
async fn load_current(
    conn: &mut PgConnection,
    events: &[&StoredEvent],
) -> Result<HashMap<Uuid, Current>, ProjectionError> {
    const SQL: &str = "SELECT incident_id, state::text FROM incident_state \
                        WHERE incident_id = ANY($1)";
    let states: HashMap<Uuid, Incident> =
        load_states(conn, "incidents", SQL, &stream_ids(events)).await?;
    Ok(states
        .into_iter()
        .map(|(id, state)| {
            (
                id,
                Current {
                    state,
                    // Set by the page's first event of the incident.
                    version: 0,
                    row: Newest::Stored,
                },
            )
        })
        .collect())
}

/// One version of an incident, as a row of `incident_versions`.
struct VersionRow {
    incident_id: Uuid,
    stream_version: i64,
    position: i64,
    recorded_from: DateTime<Utc>,
    recorded_to: Option<DateTime<Utc>>,
    status: String,
    merged_into: Option<Uuid>,
    event_type: Option<String>,
    sub_event_type: Option<String>,
    valid_start: Option<NaiveDate>,
    valid_end: Option<NaiveDate>,
    date_precision: Option<String>,
    country: Option<String>,
    admin1: Option<String>,
    admin2: Option<String>,
    location: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    geo_precision: Option<String>,
    site_id: Option<Uuid>,
    target_category: Option<String>,
    /// Array literals (`{a,b}`): arrays of arrays do not pass through `unnest`.
    means: String,
    fatalities: [Option<i32>; 3],
    injuries: [Option<i32>; 3],
    verification: String,
    actor_ids: String,
    claimant_ids: String,
    tags: String,
    external_refs: String,
}

impl VersionRow {
    fn new(stored: &StoredEvent, incident: &Incident) -> Self {
        let facts = incident.facts();
        let place = facts.map(|f| &f.place);
        let count = |c: Option<&sitrep_domain::model::values::UncertainCount>| {
            c.map_or([None, None, None], |c| {
                [c.low, c.best, c.high].map(|n| Some(i32::try_from(n).unwrap_or(i32::MAX)))
            })
        };
        let (status, merged_into) = match incident.status() {
            IncidentStatus::NotReported => ("not_reported", None),
            IncidentStatus::Active => ("active", None),
            IncidentStatus::Retracted { .. } => ("retracted", None),
            IncidentStatus::Merged { into } => ("merged", Some(into)),
        };
        let mut actor_ids: Vec<String> = incident
            .actors()
            .iter()
            .map(|a| a.actor.to_string())
            .collect();
        actor_ids.sort_unstable();
        actor_ids.dedup();
        let claimant_ids: Vec<String> = incident
            .actors()
            .iter()
            .filter(|a| a.role == ActorRole::Claimant)
            .map(|a| a.actor.to_string())
            .collect();
        Self {
            incident_id: stored.stream.stream_id,
            stream_version: i64::try_from(stored.stream_version).unwrap_or(i64::MAX),
            position: stored.position,
            recorded_from: stored.recorded_at,
            recorded_to: None,
            status: status.to_owned(),
            merged_into,
            event_type: facts.map(|f| name(&f.event_type)),
            sub_event_type: facts.map(|f| name(&f.sub_event_type)),
            valid_start: facts.map(|f| f.time.start),
            valid_end: facts.map(|f| f.time.end),
            date_precision: facts.map(|f| f.time.precision.as_str().to_owned()),
            country: place.map(|p| p.country.as_str().to_owned()),
            admin1: place.and_then(|p| p.admin1.clone()),
            admin2: place.and_then(|p| p.admin2.clone()),
            location: place.and_then(|p| p.location.clone()),
            latitude: place.and_then(|p| p.coordinates.map(|c| c.latitude)),
            longitude: place.and_then(|p| p.coordinates.map(|c| c.longitude)),
            geo_precision: place.map(|p| name(&p.precision)),
            site_id: place.and_then(|p| p.site),
            target_category: facts.and_then(|f| f.target_category.as_ref().map(name)),
            means: array_literal(facts.map_or(Vec::new(), |f| f.means.iter().map(name).collect())),
            fatalities: count(facts.map(|f| &f.fatalities)),
            injuries: count(facts.and_then(|f| f.injuries.as_ref())),
            verification: incident.verification().as_str().to_owned(),
            actor_ids: array_literal(actor_ids),
            claimant_ids: array_literal(claimant_ids),
            tags: array_literal(facts.map_or(Vec::new(), |f| f.tags.clone())),
            external_refs: array_literal(
                incident
                    .external_refs()
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
            ),
        }
    }
}

/// Stores the current state of every incident the page touched, in one statement.
async fn save_states(
    conn: &mut PgConnection,
    current: &HashMap<Uuid, Current>,
) -> Result<(), ProjectionError> {
    let mut ids = Vec::new();
    let mut versions = Vec::new();
    let mut states = Vec::new();
    for (id, incident) in current {
        if let Newest::New(_) = incident.row {
            let state = state_json("incidents", *id, &incident.state)?;
            ids.push(*id);
            versions.push(incident.version);
            states.push(state);
        }
    }
    sqlx::query(
        "INSERT INTO incident_state (incident_id, stream_version, state) \
         SELECT id, version, state::json FROM unnest($1::uuid[], $2::int8[], $3::text[]) \
                AS s(id, version, state) \
         ON CONFLICT (incident_id) DO UPDATE \
            SET stream_version = excluded.stream_version, state = excluded.state",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&states)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the page's new version rows in one statement.
async fn insert_versions(
    conn: &mut PgConnection,
    rows: &[VersionRow],
) -> Result<(), ProjectionError> {
    macro_rules! column {
        ($field:ident) => {
            rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    let count = |pick: fn(&VersionRow) -> [Option<i32>; 3], i: usize| {
        rows.iter().map(|r| pick(r)[i]).collect::<Vec<_>>()
    };
    sqlx::query(include_str!("incidents_insert.sql"))
        .bind(column!(incident_id))
        .bind(column!(stream_version))
        .bind(column!(position))
        .bind(column!(recorded_from))
        .bind(column!(recorded_to))
        .bind(column!(status))
        .bind(column!(merged_into))
        .bind(column!(event_type))
        .bind(column!(sub_event_type))
        .bind(column!(valid_start))
        .bind(column!(valid_end))
        .bind(column!(date_precision))
        .bind(column!(country))
        .bind(column!(admin1))
        .bind(column!(admin2))
        .bind(column!(location))
        .bind(column!(latitude))
        .bind(column!(longitude))
        .bind(column!(geo_precision))
        .bind(column!(site_id))
        .bind(column!(target_category))
        .bind(column!(means))
        .bind(count(|r| r.fatalities, 0))
        .bind(count(|r| r.fatalities, 1))
        .bind(count(|r| r.fatalities, 2))
        .bind(count(|r| r.injuries, 0))
        .bind(count(|r| r.injuries, 1))
        .bind(count(|r| r.injuries, 2))
        .bind(column!(verification))
        .bind(column!(actor_ids))
        .bind(column!(claimant_ids))
        .bind(column!(tags))
        .bind(column!(external_refs))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn array_literals_quote_every_element() {
        assert_eq!(array_literal(vec![]), "{}");
        assert_eq!(
            array_literal(vec!["a,b".into(), "say \"x\"".into(), r"back\slash".into()]),
            r#"{"a,b","say \"x\"","back\\slash"}"#
        );
    }
}
