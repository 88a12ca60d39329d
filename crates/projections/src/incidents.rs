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
//! bounding box). Each incident's state before a page comes from the log itself
//! ([`crate::log_states`]), so the read model stores no states of its own; new rows go in with
//! one COPY per page. The query indexes (`incidents_indexes.sql`) are created after a rebuild
//! has caught up.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use sitrep_domain::model::incident::{ActorRole, Incident, IncidentEvent, IncidentStatus};
use sitrep_domain::model::Aggregate;
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::copy_rows::{CopyRows, CopyStream};
use crate::error::ProjectionError;
use crate::log_states::{LogStates, DEFAULT_CAPACITY};
use crate::projection::{ChecksumTable, Projection};
use crate::rows::{array_literal, decode_event, name};

/// The incidents read model.
pub struct IncidentsProjection {
    /// Incidents' states between pages.
    states: LogStates<Incident>,
}

impl Default for IncidentsProjection {
    fn default() -> Self {
        Self::with_state_capacity(DEFAULT_CAPACITY)
    }
}

impl IncidentsProjection {
    /// The read model keeping at most `incidents` states in memory between pages (the rest are
    /// folded from the log again when needed).
    pub fn with_state_capacity(incidents: usize) -> Self {
        Self {
            states: LogStates::with_capacity(incidents),
        }
    }
}

const DDL: &str = include_str!("incidents.sql");

const TABLES: &[ChecksumTable] = &[ChecksumTable {
    name: "incident_versions",
    order_by: "incident_id, stream_version",
}];

impl Projection for IncidentsProjection {
    fn name(&self) -> &'static str {
        "incidents"
    }

    fn version(&self) -> i32 {
        // 2: no stored states (`incident_state`); they come from the log.
        // 3: an index of every version by target and end (statistics as known at a past time).
        // 4: an index of every version by start and id (exports and lists as known at a past
        //    time, a page at a time).
        // 5: the partial indexes of current rows by start, end and target gone (the indexes of
        //    every version serve the current view too).
        5
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

    fn stream_types(&self) -> &'static [&'static str] {
        &[Incident::STREAM_TYPE]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(self, conn, events))
    }
}

async fn apply(
    projection: &IncidentsProjection,
    conn: &mut PgConnection,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let incident_events: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream.stream_type == Incident::STREAM_TYPE)
        .collect();
    if incident_events.is_empty() {
        return Ok(());
    }
    let mut states = projection.states.before(conn, &incident_events).await?;

    // Each version ends where the next version of the same incident begins: in this page
    // (`ends`), or, for the open rows of earlier pages, by an update (`closed`).
    let mut ends: Vec<Option<DateTime<Utc>>> = vec![None; incident_events.len()];
    let mut next_begins: HashMap<Uuid, DateTime<Utc>> = HashMap::with_capacity(states.len());
    for (index, stored) in incident_events.iter().enumerate().rev() {
        ends[index] = next_begins.insert(stored.stream.stream_id, stored.recorded_at);
    }
    let mut closed = ClosedVersions::default();
    for stored in &incident_events {
        let id = stored.stream.stream_id;
        if stored.stream_version > 1 && next_begins.remove(&id).is_some() {
            closed.push(id, stored.stream_version - 1, stored.recorded_at);
        }
    }
    closed.update(conn).await?;

    // The new rows stream to the server while the next ones are folded.
    let mut copy = CopyStream::start(conn, COPY_SQL).await?;
    for (stored, recorded_to) in incident_events.into_iter().zip(ends) {
        let event: IncidentEvent = decode_event(stored)?;
        let folded = states.entry(stored.stream.stream_id).or_default();
        folded.state.apply(&event);
        folded.version = stored.stream_version;
        VersionRow::new(stored, &folded.state, recorded_to).copy(copy.rows());
        copy.flush_full().await?;
    }
    copy.finish().await?;
    projection.states.keep(states);
    Ok(())
}

/// The stored open rows a page ends: each incident event has a row of its own, so the row an
/// event ends is its incident's version just before it.
#[derive(Default)]
struct ClosedVersions {
    ids: Vec<Uuid>,
    versions: Vec<i64>,
    until: Vec<DateTime<Utc>>,
}

impl ClosedVersions {
    fn push(&mut self, incident: Uuid, version: u64, until: DateTime<Utc>) {
        self.ids.push(incident);
        self.versions
            .push(i64::try_from(version).unwrap_or(i64::MAX));
        self.until.push(until);
    }

    /// Ends the rows. They are found by their primary key, one lookup each: a plan that holds
    /// however little the server knows of the table. (Found as `recorded_to IS NULL`, the open
    /// rows of a generation being built, which has no statistics yet, were guessed at 0.5% of
    /// the table, and the server hashed every open row of it for each page of corrections.)
    async fn update(&self, conn: &mut PgConnection) -> Result<(), ProjectionError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE incident_versions v SET recorded_to = c.until \
               FROM unnest($1::uuid[], $2::int8[], $3::timestamptz[]) AS c(id, version, until) \
              WHERE v.incident_id = c.id AND v.stream_version = c.version",
        )
        .bind(&self.ids)
        .bind(&self.versions)
        .bind(&self.until)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The columns of `incident_versions`, in the order [`VersionRow::copy`] writes them.
const COPY_SQL: &str = "COPY incident_versions (incident_id, stream_version, position, \
    recorded_from, recorded_to, status, merged_into, event_type, sub_event_type, valid_start, \
    valid_end, date_precision, country, admin1, admin2, location, latitude, longitude, \
    geo_precision, site_id, target_category, means, fatalities_low, fatalities_best, \
    fatalities_high, injuries_low, injuries_best, injuries_high, verification, actor_ids, \
    claimant_ids, tags, external_refs) FROM STDIN";

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
    fn new(stored: &StoredEvent, incident: &Incident, recorded_to: Option<DateTime<Utc>>) -> Self {
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
            recorded_to,
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

    /// The row in COPY form, its columns in [`COPY_SQL`]'s order.
    fn copy(&self, out: &mut CopyRows) {
        out.column(&self.incident_id)
            .column(&self.stream_version)
            .column(&self.position)
            .column(&self.recorded_from)
            .column(&self.recorded_to)
            .column(&self.status)
            .column(&self.merged_into)
            .column(&self.event_type)
            .column(&self.sub_event_type)
            .column(&self.valid_start)
            .column(&self.valid_end)
            .column(&self.date_precision)
            .column(&self.country)
            .column(&self.admin1)
            .column(&self.admin2)
            .column(&self.location)
            .column(&self.latitude)
            .column(&self.longitude)
            .column(&self.geo_precision)
            .column(&self.site_id)
            .column(&self.target_category)
            .column(&self.means)
            .column(&self.fatalities[0])
            .column(&self.fatalities[1])
            .column(&self.fatalities[2])
            .column(&self.injuries[0])
            .column(&self.injuries[1])
            .column(&self.injuries[2])
            .column(&self.verification)
            .column(&self.actor_ids)
            .column(&self.claimant_ids)
            .column(&self.tags)
            .column(&self.external_refs)
            .end_row();
    }
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
