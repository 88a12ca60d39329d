//! The actors and sites read model: every version of every actor, affiliation and site, by
//! recorded time, and how many current incidents involve each actor.
//!
//! One projection (`actors`) because the counts need both streams: actor events register the
//! actors the counts are kept for, incident events move the counts.
//!
//! - `actor_versions` and `site_versions` hold one row per actor (site) event: the aggregate as
//!   it stood after that event, from the event's recorded time (`recorded_from`) until the next
//!   event of the same stream was recorded (`recorded_to`, NULL for the current row), as
//!   [`crate::incidents`] does. The current view is `recorded_to IS NULL`; "as known at T" is
//!   `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)` (the name an actor had
//!   before its rename, a site before its amendment). `state` keeps the domain aggregate's
//!   state, which the next page folds further events into. `names` holds the name and the
//!   aliases trimmed and lower-cased, for "who is called X" lookups.
//! - `affiliation_versions` is versioned too, one row per version of each affiliation (a new
//!   row when an actor event records or ends it; a retraction ends the current row without a
//!   successor, since the affiliation never held). Versioned rather than derived from the
//!   actor's current state because affiliations are what change most over time and are asked
//!   about "as known at T" (was this group counted in the umbrella when that report was
//!   written?), and because "the members of X" needs its own index on `related_actor`, which
//!   a `jsonb` state cannot give cheaply. Their valid time (`valid_from`, `valid_until`, both
//!   ends included, NULL = open) is the affiliation's own period.
//! - `incident_statuses` keeps, from the incident events, whether each incident is active
//!   (reported, neither retracted nor merged). `involvement_versions` keeps, versioned by
//!   recorded time like the actors, each actor's part in an incident (incident, actor, role)
//!   with how it is known (`attribution`): the actors of an incident version are those visible
//!   at its recorded time. `incident_actor_links` is a view of the two: the current
//!   involvements (which actors each incident names now, in which role), `counted` while the
//!   incident is active. `actor_incident_counts` holds, per actor, how many active incidents
//!   involve it in any role (`incidents`, distinct incidents) and how many it claimed
//!   (`claimed`). Each page adds to the counts of every actor it touches (registered, or named
//!   before or after the page by an incident whose actors or status changed) exactly what its
//!   incidents count for after it less what they counted for before it, from their stored
//!   status and current involvements: sums over incidents do not depend on page boundaries,
//!   and a page reads only its own incidents' involvements (an actor named by every incident
//!   is not recounted on every page). `actor_incident_counts` always equals a recount of the
//!   counted links.
//!   **The counts are current only**, not as-of: for counts as known at an earlier time, count
//!   the incidents read model's versions (`incident_versions.actor_ids`).
//!
//! The tables and the indexes the projector itself needs are in `actors.sql`; the indexes
//! dashboards query by (names, aliases, members, places, top actors) in `actors_indexes.sql`,
//! which a rebuild creates once it has caught up.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sitrep_domain::model::actor::{Actor, ActorEvent, Affiliation};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, Incident, IncidentEvent,
};
use sitrep_domain::model::site::Site;
use sitrep_domain::model::{Aggregate, CodecError, DomainEvent};
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::copy_rows::CopyStream;
use crate::error::ProjectionError;
use crate::projection::{ChecksumTable, Projection};
use crate::rows::{
    array_literal, close_rows, decode_event, load_states, name, state_json, stream_ids, unreadable,
};

/// The actors and sites read model, with incident counts per actor.
pub struct ActorsProjection;

const NAME: &str = "actors";

const DDL: &str = include_str!("actors.sql");

const TABLES: &[ChecksumTable] = &[
    ChecksumTable {
        name: "actor_versions",
        order_by: "actor_id, stream_version",
    },
    ChecksumTable {
        name: "affiliation_versions",
        order_by: "actor_id, affiliation_id, stream_version",
    },
    ChecksumTable {
        name: "site_versions",
        order_by: "site_id, stream_version",
    },
    ChecksumTable {
        name: "incident_statuses",
        order_by: "incident_id",
    },
    // A view of the two tables around it; the checksum covers what it shows all the same.
    ChecksumTable {
        name: "incident_actor_links",
        order_by: "incident_id, actor_id, role",
    },
    ChecksumTable {
        name: "involvement_versions",
        order_by: "incident_id, actor_id, role, stream_version",
    },
    ChecksumTable {
        name: "actor_incident_counts",
        order_by: "actor_id",
    },
];

impl Projection for ActorsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> i32 {
        // 2: `involvement_versions` (each actor's part in an incident, with its attribution).
        // 3: `incident_actor_links` is a view of the current involvements and the statuses
        //    (it was a table holding the same rows).
        3
    }

    fn ddl(&self) -> &'static str {
        DDL
    }

    fn indexes(&self) -> &'static str {
        include_str!("actors_indexes.sql")
    }

    fn tables(&self) -> &'static [ChecksumTable] {
        TABLES
    }

    fn stream_types(&self) -> &'static [&'static str] {
        &[Actor::STREAM_TYPE, Site::STREAM_TYPE, Incident::STREAM_TYPE]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }
}

async fn apply(conn: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    // How the page changes the counts of the actors it touches.
    let mut counts = CountChanges::default();
    apply_actors(conn, events, &mut counts).await?;
    apply_sites(conn, events).await?;
    apply_incidents(conn, events, &mut counts).await?;
    counts.store(conn).await
}

// ---------------------------------------------------------------------------------------------
// Versions

/// The version rows a page adds to one table, and the stored current rows it ends.
struct Timeline<K, R> {
    /// New rows in feed order, each with its `recorded_to` (`None` while current).
    rows: Vec<(R, Option<DateTime<Utc>>)>,
    /// Where each key's current row is among `rows`, if it is a new one.
    newest: HashMap<K, usize>,
    /// Keys whose stored current row ends, with when: the first end wins (a stored row ends
    /// once).
    closed: BTreeMap<K, DateTime<Utc>>,
}

impl<K: Hash + Ord + Clone, R> Timeline<K, R> {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            newest: HashMap::new(),
            closed: BTreeMap::new(),
        }
    }

    /// Ends `key`'s current version at `at`: this page's newest row of it, or else its stored
    /// current row (if it has none, closing it changes nothing).
    fn end(&mut self, key: &K, at: DateTime<Utc>) {
        match self.newest.remove(key) {
            Some(index) => self.rows[index].1 = Some(at),
            None => {
                self.closed.entry(key.clone()).or_insert(at);
            }
        }
    }

    /// Starts `key`'s next version.
    fn start(&mut self, key: K, row: R) {
        self.newest.insert(key, self.rows.len());
        self.rows.push((row, None));
    }

    /// The `recorded_to` column of the new rows.
    fn ends(&self) -> Vec<Option<DateTime<Utc>>> {
        self.rows.iter().map(|(_, end)| *end).collect()
    }

    /// A column of the new rows.
    fn column<T>(&self, pick: impl Fn(&R) -> T) -> Vec<T> {
        self.rows.iter().map(|(row, _)| pick(row)).collect()
    }
}

/// The columns every version row has.
struct VersionOf {
    stream_version: i64,
    position: i64,
    recorded_from: DateTime<Utc>,
}

impl VersionOf {
    fn new(stored: &StoredEvent) -> Self {
        Self {
            stream_version: i64::try_from(stored.stream_version).unwrap_or(i64::MAX),
            position: stored.position,
            recorded_from: stored.recorded_at,
        }
    }
}

/// The page's events of `A`'s streams, each with the aggregate's state after it: the states
/// start from the current rows `current_sql` reads (`id, state::text` of the ids in `$1`).
async fn fold<'e, A>(
    conn: &mut PgConnection,
    events: &'e [StoredEvent],
    current_sql: &'static str,
) -> Result<Vec<(&'e StoredEvent, A::Event, A)>, ProjectionError>
where
    A: Aggregate + DeserializeOwned,
{
    let mine: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream.stream_type == A::STREAM_TYPE)
        .collect();
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let ids = stream_ids(&mine);
    let mut states: HashMap<Uuid, A> = load_states(conn, NAME, current_sql, &ids).await?;
    let mut folded = Vec::with_capacity(mine.len());
    for stored in mine {
        let event: A::Event = decode_event(stored)?;
        let state = states.entry(stored.stream.stream_id).or_default();
        state.apply(&event);
        folded.push((stored, event, state.clone()));
    }
    Ok(folded)
}

/// Ends stored current rows: `sql` takes the keys' columns and the end times as arrays.
async fn close_ids(
    conn: &mut PgConnection,
    sql: &'static str,
    closed: &BTreeMap<Uuid, DateTime<Utc>>,
) -> Result<(), ProjectionError> {
    let closed: Vec<(Uuid, DateTime<Utc>)> = closed.iter().map(|(id, at)| (*id, *at)).collect();
    close_rows(conn, sql, &closed).await
}

// ---------------------------------------------------------------------------------------------
// Actors and their affiliations

async fn apply_actors(
    conn: &mut PgConnection,
    events: &[StoredEvent],
    counts: &mut CountChanges,
) -> Result<(), ProjectionError> {
    let folded = fold::<Actor>(
        conn,
        events,
        "SELECT actor_id, state::text FROM actor_versions \
          WHERE actor_id = ANY($1) AND recorded_to IS NULL",
    )
    .await?;
    if folded.is_empty() {
        return Ok(());
    }
    let mut actors: Timeline<Uuid, ActorRow> = Timeline::new();
    let mut affiliations: Timeline<(Uuid, Uuid), AffiliationRow> = Timeline::new();
    for (stored, event, actor) in &folded {
        let id = stored.stream.stream_id;
        actors.end(&id, stored.recorded_at);
        actors.start(id, ActorRow::new(stored, actor)?);
        if let ActorEvent::ActorRegistered { .. } = event {
            // Every registered actor has a row of counts, zeros until an incident names it.
            counts.touch(id);
        }
        if let Some(affiliation_id) = affiliation_of(event) {
            let key = (id, affiliation_id);
            affiliations.end(&key, stored.recorded_at);
            if let Some(affiliation) = actor.affiliation(affiliation_id) {
                affiliations.start(key, AffiliationRow::new(stored, affiliation)?);
            }
        }
    }
    close_ids(
        conn,
        "UPDATE actor_versions v SET recorded_to = c.until \
           FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, until) \
          WHERE v.actor_id = c.id AND v.recorded_to IS NULL",
        &actors.closed,
    )
    .await?;
    insert_actors(conn, &actors).await?;
    close_affiliations(conn, &affiliations.closed).await?;
    insert_affiliations(conn, &affiliations).await
}

/// The affiliation an actor event records, ends or retracts.
fn affiliation_of(event: &ActorEvent) -> Option<Uuid> {
    match event {
        ActorEvent::AffiliationRecorded { affiliation_id, .. }
        | ActorEvent::AffiliationEnded { affiliation_id, .. }
        | ActorEvent::AffiliationRetracted { affiliation_id, .. } => Some(*affiliation_id),
        _ => None,
    }
}

/// One version of an actor, as a row of `actor_versions`.
struct ActorRow {
    actor_id: Uuid,
    version: VersionOf,
    name: Option<String>,
    actor_type: Option<String>,
    country: Option<String>,
    description: Option<String>,
    aliases: String,
    names: String,
    state: String,
}

impl ActorRow {
    fn new(stored: &StoredEvent, actor: &Actor) -> Result<Self, ProjectionError> {
        let id = stored.stream.stream_id;
        let profile = actor.profile();
        let aliases = profile.map_or(&[][..], |p| &p.aliases[..]);
        Ok(Self {
            actor_id: id,
            version: VersionOf::new(stored),
            name: profile.map(|p| p.name.clone()),
            actor_type: profile.map(|p| name(&p.actor_type)),
            country: profile.and_then(|p| p.country.as_ref().map(|c| c.as_str().to_owned())),
            description: profile.and_then(|p| p.description.clone()),
            aliases: array_literal(aliases.to_vec()),
            names: array_literal(search_names(profile.map(|p| p.name.as_str()), aliases)),
            state: state_json(NAME, id, actor)?,
        })
    }
}

async fn insert_actors(
    conn: &mut PgConnection,
    actors: &Timeline<Uuid, ActorRow>,
) -> Result<(), ProjectionError> {
    if actors.rows.is_empty() {
        return Ok(());
    }
    sqlx::query(include_str!("actors_insert.sql"))
        .bind(actors.column(|r| r.actor_id))
        .bind(actors.column(|r| r.version.stream_version))
        .bind(actors.column(|r| r.version.position))
        .bind(actors.column(|r| r.version.recorded_from))
        .bind(actors.ends())
        .bind(actors.column(|r| r.name.clone()))
        .bind(actors.column(|r| r.actor_type.clone()))
        .bind(actors.column(|r| r.country.clone()))
        .bind(actors.column(|r| r.description.clone()))
        .bind(actors.column(|r| r.aliases.clone()))
        .bind(actors.column(|r| r.names.clone()))
        .bind(actors.column(|r| r.state.clone()))
        .execute(conn)
        .await?;
    Ok(())
}

/// One version of an affiliation, as a row of `affiliation_versions`.
struct AffiliationRow {
    actor_id: Uuid,
    affiliation_id: Uuid,
    version: VersionOf,
    related_actor: Uuid,
    relation: String,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
    source: Option<String>,
}

impl AffiliationRow {
    fn new(stored: &StoredEvent, affiliation: &Affiliation) -> Result<Self, ProjectionError> {
        let id = stored.stream.stream_id;
        Ok(Self {
            actor_id: id,
            affiliation_id: affiliation.id,
            version: VersionOf::new(stored),
            related_actor: affiliation.related_actor,
            relation: name(&affiliation.relation),
            valid_from: affiliation.from,
            valid_until: affiliation.until,
            source: affiliation
                .source
                .as_ref()
                .map(|s| state_json(NAME, id, s))
                .transpose()?,
        })
    }
}

async fn close_affiliations(
    conn: &mut PgConnection,
    closed: &BTreeMap<(Uuid, Uuid), DateTime<Utc>>,
) -> Result<(), ProjectionError> {
    if closed.is_empty() {
        return Ok(());
    }
    let actors: Vec<Uuid> = closed.keys().map(|k| k.0).collect();
    let affiliations: Vec<Uuid> = closed.keys().map(|k| k.1).collect();
    let until: Vec<DateTime<Utc>> = closed.values().copied().collect();
    sqlx::query(
        "UPDATE affiliation_versions v SET recorded_to = c.until \
           FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS c(actor_id, id, until) \
          WHERE v.actor_id = c.actor_id AND v.affiliation_id = c.id AND v.recorded_to IS NULL",
    )
    .bind(&actors)
    .bind(&affiliations)
    .bind(&until)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_affiliations(
    conn: &mut PgConnection,
    affiliations: &Timeline<(Uuid, Uuid), AffiliationRow>,
) -> Result<(), ProjectionError> {
    if affiliations.rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO affiliation_versions (actor_id, affiliation_id, stream_version, position, \
                recorded_from, recorded_to, related_actor, relation, valid_from, valid_until, \
                source) \
         SELECT actor_id, affiliation_id, stream_version, position, recorded_from, recorded_to, \
                related_actor, relation, valid_from, valid_until, source::jsonb \
           FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::int8[], $5::timestamptz[], \
                       $6::timestamptz[], $7::uuid[], $8::text[], $9::date[], $10::date[], \
                       $11::text[]) \
                AS r(actor_id, affiliation_id, stream_version, position, recorded_from, \
                     recorded_to, related_actor, relation, valid_from, valid_until, source)",
    )
    .bind(affiliations.column(|r| r.actor_id))
    .bind(affiliations.column(|r| r.affiliation_id))
    .bind(affiliations.column(|r| r.version.stream_version))
    .bind(affiliations.column(|r| r.version.position))
    .bind(affiliations.column(|r| r.version.recorded_from))
    .bind(affiliations.ends())
    .bind(affiliations.column(|r| r.related_actor))
    .bind(affiliations.column(|r| r.relation.clone()))
    .bind(affiliations.column(|r| r.valid_from))
    .bind(affiliations.column(|r| r.valid_until))
    .bind(affiliations.column(|r| r.source.clone()))
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sites

async fn apply_sites(
    conn: &mut PgConnection,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let folded = fold::<Site>(
        conn,
        events,
        "SELECT site_id, state::text FROM site_versions \
          WHERE site_id = ANY($1) AND recorded_to IS NULL",
    )
    .await?;
    if folded.is_empty() {
        return Ok(());
    }
    let mut sites: Timeline<Uuid, SiteRow> = Timeline::new();
    for (stored, _, site) in &folded {
        let id = stored.stream.stream_id;
        sites.end(&id, stored.recorded_at);
        sites.start(id, SiteRow::new(stored, site)?);
    }
    close_ids(
        conn,
        "UPDATE site_versions v SET recorded_to = c.until \
           FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, until) \
          WHERE v.site_id = c.id AND v.recorded_to IS NULL",
        &sites.closed,
    )
    .await?;
    insert_sites(conn, &sites).await
}

/// One version of a site, as a row of `site_versions`.
struct SiteRow {
    site_id: Uuid,
    version: VersionOf,
    name: Option<String>,
    kind: Option<String>,
    country: Option<String>,
    admin1: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    precision: Option<String>,
    description: Option<String>,
    aliases: String,
    operated_by: String,
    names: String,
    retired: bool,
    state: String,
}

impl SiteRow {
    fn new(stored: &StoredEvent, site: &Site) -> Result<Self, ProjectionError> {
        let id = stored.stream.stream_id;
        let profile = site.profile();
        let aliases = profile.map_or(&[][..], |p| &p.aliases[..]);
        Ok(Self {
            site_id: id,
            version: VersionOf::new(stored),
            name: profile.map(|p| p.name.clone()),
            kind: profile.map(|p| name(&p.kind)),
            country: profile.map(|p| p.country.as_str().to_owned()),
            admin1: profile.and_then(|p| p.admin1.clone()),
            latitude: profile.and_then(|p| p.coordinates.map(|c| c.latitude)),
            longitude: profile.and_then(|p| p.coordinates.map(|c| c.longitude)),
            precision: profile.map(|p| name(&p.precision)),
            description: profile.and_then(|p| p.description.clone()),
            aliases: array_literal(aliases.to_vec()),
            operated_by: array_literal(profile.map_or(Vec::new(), |p| {
                p.operated_by
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect()
            })),
            names: array_literal(search_names(profile.map(|p| p.name.as_str()), aliases)),
            retired: profile.is_some_and(|p| p.retired),
            state: state_json(NAME, id, site)?,
        })
    }
}

async fn insert_sites(
    conn: &mut PgConnection,
    sites: &Timeline<Uuid, SiteRow>,
) -> Result<(), ProjectionError> {
    if sites.rows.is_empty() {
        return Ok(());
    }
    sqlx::query(include_str!("sites_insert.sql"))
        .bind(sites.column(|r| r.site_id))
        .bind(sites.column(|r| r.version.stream_version))
        .bind(sites.column(|r| r.version.position))
        .bind(sites.column(|r| r.version.recorded_from))
        .bind(sites.ends())
        .bind(sites.column(|r| r.name.clone()))
        .bind(sites.column(|r| r.kind.clone()))
        .bind(sites.column(|r| r.country.clone()))
        .bind(sites.column(|r| r.admin1.clone()))
        .bind(sites.column(|r| r.latitude))
        .bind(sites.column(|r| r.longitude))
        .bind(sites.column(|r| r.precision.clone()))
        .bind(sites.column(|r| r.description.clone()))
        .bind(sites.column(|r| r.aliases.clone()))
        .bind(sites.column(|r| r.operated_by.clone()))
        .bind(sites.column(|r| r.names.clone()))
        .bind(sites.column(|r| r.retired))
        .bind(sites.column(|r| r.state.clone()))
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Incidents: who they name, and whether they count

const ACTIVE: &str = "active";
const RETRACTED: &str = "retracted";
const MERGED: &str = "merged";

/// What the counts need of an incident: whether it is active and who it names in which role.
#[derive(Clone, Default)]
struct Involved {
    status: Option<&'static str>,
    /// (actor, role).
    links: BTreeSet<(Uuid, String)>,
}

async fn apply_incidents(
    conn: &mut PgConnection,
    events: &[StoredEvent],
    counts: &mut CountChanges,
) -> Result<(), ProjectionError> {
    // Only the events that change an incident's actors or whether it is active.
    let mut relevant: Vec<(&StoredEvent, Change)> = Vec::new();
    for stored in events
        .iter()
        .filter(|e| e.stream.stream_type == Incident::STREAM_TYPE)
    {
        if let Some(change) = Change::of(stored)? {
            relevant.push((stored, change));
        }
    }
    if relevant.is_empty() {
        return Ok(());
    }
    // The incidents whose report is in the page: nothing of them is stored yet (the feed orders
    // a stream's events by version), so there is nothing to read, end or take away.
    let reported: HashSet<Uuid> = relevant
        .iter()
        .filter(|(stored, _)| stored.stream_version == 1)
        .map(|(stored, _)| stored.stream.stream_id)
        .collect();
    // Read before the page's involvements are stored: the links are their current versions.
    let before = load_involved(conn, &relevant, &reported).await?;
    store_involvements(conn, &relevant, &reported).await?;
    // What they counted for before the page is taken away...
    for involved in before.values() {
        counts.add(involved, -1);
    }
    let mut after = before.clone();
    for (stored, change) in &relevant {
        let involved = after.entry(stored.stream.stream_id).or_default();
        match change {
            Change::Reported(actors) => {
                involved.status = Some(ACTIVE);
                involved
                    .links
                    .extend(actors.iter().map(|a| (a.actor, a.role.as_str().to_owned())));
            }
            Change::Claimed { actor, role, .. } => {
                involved.links.insert((*actor, role.as_str().to_owned()));
            }
            Change::Withdrawn { actor, role } => {
                involved.links.remove(&(*actor, role.as_str().to_owned()));
            }
            Change::Status(status) => involved.status = Some(status),
        }
    }
    // ...and what they count for now is added.
    for involved in after.values() {
        counts.add(involved, 1);
    }
    store_statuses(conn, &before, &after).await
}

/// What an incident event changes of the incident's actors, or of whether it is active.
enum Change {
    /// Reported, naming these actors.
    Reported(Vec<ActorInvolvement>),
    /// An actor's involvement in a role recorded, or how it is known changed.
    Claimed {
        actor: Uuid,
        role: ActorRole,
        attribution: AttributionStatus,
    },
    /// An actor's involvement in a role withdrawn.
    Withdrawn { actor: Uuid, role: ActorRole },
    /// Retracted, restored or merged: the status it leaves.
    Status(&'static str),
}

/// The stored type of a report.
const REPORTED: &str = "IncidentReported";
/// The schema version of reports [`ReportedActors`] reads.
const REPORTED_SCHEMA: i32 = 2;

/// The part of a report (`IncidentReported` at schema version [`REPORTED_SCHEMA`]) the read
/// model needs: its actors, without the facts and sources that make most of its text.
#[derive(Deserialize)]
struct ReportedActors {
    #[serde(default)]
    actors: Vec<ActorInvolvement>,
}

impl Change {
    /// What `stored` (an incident event) changes, if anything the read model keeps.
    fn of(stored: &StoredEvent) -> Result<Option<Self>, ProjectionError> {
        if stored.event_type == REPORTED
            && stored.schema_version == REPORTED_SCHEMA
            && IncidentEvent::schema_version(REPORTED) == REPORTED_SCHEMA
        {
            let report: ReportedActors =
                serde_json::from_str(stored.payload.get()).map_err(|source| {
                    unreadable(
                        stored,
                        CodecError::Decode {
                            event_type: stored.event_type.clone(),
                            source,
                        },
                    )
                })?;
            return Ok(Some(Self::Reported(report.actors)));
        }
        // The other events are read whole, upcast if they are older (as reports of older
        // schemas are).
        Ok(match decode_event::<IncidentEvent>(stored)? {
            IncidentEvent::IncidentReported { actors, .. } => Some(Self::Reported(actors)),
            IncidentEvent::ClaimRecorded {
                actor,
                role,
                attribution,
                ..
            }
            | IncidentEvent::ClaimChanged {
                actor,
                role,
                attribution,
                ..
            } => Some(Self::Claimed {
                actor,
                role,
                attribution,
            }),
            IncidentEvent::ClaimWithdrawn { actor, role, .. } => {
                Some(Self::Withdrawn { actor, role })
            }
            IncidentEvent::IncidentRetracted { .. } => Some(Self::Status(RETRACTED)),
            IncidentEvent::IncidentRestored { .. } => Some(Self::Status(ACTIVE)),
            IncidentEvent::IncidentMerged { .. } => Some(Self::Status(MERGED)),
            IncidentEvent::IncidentAmended { .. }
            | IncidentEvent::CasualtiesRevised { .. }
            | IncidentEvent::SourceAttached { .. }
            | IncidentEvent::VerificationChanged { .. } => None,
        })
    }
}

/// One version of an actor's part in an incident, as a row of `involvement_versions`.
struct InvolvementRow {
    incident_id: Uuid,
    actor_id: Uuid,
    role: &'static str,
    version: VersionOf,
    attribution: String,
}

/// Writes the new versions of the involvements the incident events in `relevant` record or
/// change, and ends the versions they replace.
async fn store_involvements(
    conn: &mut PgConnection,
    relevant: &[(&StoredEvent, Change)],
    reported: &HashSet<Uuid>,
) -> Result<(), ProjectionError> {
    let mut involvements: Timeline<(Uuid, Uuid, &'static str), InvolvementRow> = Timeline::new();
    for (stored, event) in relevant {
        let incident_id = stored.stream.stream_id;
        let parts: Vec<(Uuid, ActorRole, AttributionStatus)> = match event {
            Change::Withdrawn { actor, role } => {
                involvements.end(&(incident_id, *actor, role.as_str()), stored.recorded_at);
                continue;
            }
            Change::Reported(actors) => actors
                .iter()
                .map(|a| (a.actor, a.role, a.attribution))
                .collect(),
            Change::Claimed {
                actor,
                role,
                attribution,
            } => vec![(*actor, *role, *attribution)],
            Change::Status(_) => continue,
        };
        // An actor holds a role once (the domain refuses repeats): the last one of an event
        // wins, as when the aggregate folds it.
        let parts: BTreeMap<(Uuid, &'static str), AttributionStatus> = parts
            .into_iter()
            .map(|(actor, role, attribution)| ((actor, role.as_str()), attribution))
            .collect();
        for ((actor_id, role), attribution) in parts {
            let key = (incident_id, actor_id, role);
            involvements.end(&key, stored.recorded_at);
            involvements.start(
                key,
                InvolvementRow {
                    incident_id,
                    actor_id,
                    role,
                    version: VersionOf::new(stored),
                    attribution: name(&attribution),
                },
            );
        }
    }
    // An incident reported in the page has no stored rows to end.
    involvements
        .closed
        .retain(|(incident_id, _, _), _| !reported.contains(incident_id));
    if !involvements.closed.is_empty() {
        let closed = &involvements.closed;
        let incidents: Vec<Uuid> = closed.keys().map(|k| k.0).collect();
        let actors: Vec<Uuid> = closed.keys().map(|k| k.1).collect();
        let roles: Vec<&str> = closed.keys().map(|k| k.2).collect();
        let until: Vec<DateTime<Utc>> = closed.values().copied().collect();
        sqlx::query(
            "UPDATE involvement_versions v SET recorded_to = c.until \
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) \
                    AS c(incident_id, actor_id, role, until) \
              WHERE v.incident_id = c.incident_id AND v.actor_id = c.actor_id \
                AND v.role = c.role AND v.recorded_to IS NULL",
        )
        .bind(&incidents)
        .bind(&actors)
        .bind(&roles)
        .bind(&until)
        .execute(&mut *conn)
        .await?;
    }
    if involvements.rows.is_empty() {
        return Ok(());
    }
    let mut copy = CopyStream::start(conn, INVOLVEMENTS_COPY).await?;
    for (row, recorded_to) in &involvements.rows {
        copy.rows()
            .column(&row.incident_id)
            .column(&row.actor_id)
            .column(&row.role)
            .column(&row.version.stream_version)
            .column(&row.version.position)
            .column(&row.version.recorded_from)
            .column(recorded_to)
            .column(&row.attribution)
            .end_row();
        copy.flush_full().await?;
    }
    copy.finish().await?;
    Ok(())
}

const INVOLVEMENTS_COPY: &str = "COPY involvement_versions (incident_id, actor_id, role, \
    stream_version, position, recorded_from, recorded_to, attribution) FROM STDIN";

/// The stored status and links of the incidents `relevant` touches, but those `reported` in
/// the page.
async fn load_involved(
    conn: &mut PgConnection,
    relevant: &[(&StoredEvent, Change)],
    reported: &HashSet<Uuid>,
) -> Result<BTreeMap<Uuid, Involved>, ProjectionError> {
    let mut incidents: BTreeMap<Uuid, Involved> = BTreeMap::new();
    let mut ids: Vec<Uuid> = relevant
        .iter()
        .map(|(stored, _)| stored.stream.stream_id)
        .filter(|id| !reported.contains(id))
        .collect();
    if ids.is_empty() {
        return Ok(incidents);
    }
    ids.sort_unstable();
    ids.dedup();
    let statuses: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT incident_id, status FROM incident_statuses WHERE incident_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for (id, status) in statuses {
        incidents.entry(id).or_default().status = Some(match status.as_str() {
            ACTIVE => ACTIVE,
            RETRACTED => RETRACTED,
            _ => MERGED,
        });
    }
    let links: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT incident_id, actor_id, role FROM involvement_versions \
          WHERE incident_id = ANY($1) AND recorded_to IS NULL",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for (id, actor, role) in links {
        incidents.entry(id).or_default().links.insert((actor, role));
    }
    Ok(incidents)
}

/// Writes the touched incidents' statuses where they changed from `before` the page (as
/// stored) to `after` it. (Their links are their current involvements, which
/// [`store_involvements`] wrote.)
async fn store_statuses(
    conn: &mut PgConnection,
    before: &BTreeMap<Uuid, Involved>,
    after: &BTreeMap<Uuid, Involved>,
) -> Result<(), ProjectionError> {
    let mut new: Vec<(Uuid, &str)> = Vec::new();
    let mut changed: Vec<(Uuid, &str)> = Vec::new();
    for (id, now) in after {
        match (before.get(id).and_then(|was| was.status), now.status) {
            (None, Some(status)) => new.push((*id, status)),
            (Some(was), Some(status)) if was != status => changed.push((*id, status)),
            _ => {}
        }
    }
    if !changed.is_empty() {
        let (ids, statuses): (Vec<Uuid>, Vec<&str>) = changed.into_iter().unzip();
        sqlx::query(
            "UPDATE incident_statuses s SET status = c.status \
               FROM unnest($1::uuid[], $2::text[]) AS c(incident_id, status) \
              WHERE s.incident_id = c.incident_id",
        )
        .bind(&ids)
        .bind(&statuses)
        .execute(&mut *conn)
        .await?;
    }
    if !new.is_empty() {
        let mut copy = CopyStream::start(conn, STATUSES_COPY).await?;
        for (id, status) in &new {
            copy.rows().column(id).column(status).end_row();
            copy.flush_full().await?;
        }
        copy.finish().await?;
    }
    Ok(())
}

const STATUSES_COPY: &str = "COPY incident_statuses (incident_id, status) FROM STDIN";

/// How a page changes the incident counts of each actor it touches: the actors it registers,
/// and every actor named, before or after the page, by an incident whose actors or status the
/// page changes (with no change, possibly: their rows are written all the same, so every such
/// actor has one).
///
/// The counts are sums over incidents (an active incident counts once for each actor it names
/// in any role, and once more in `claimed` for each claimant), so a page changes them by what
/// its incidents counted for after it less what they counted for before it: exact, whatever the
/// page boundaries, and without reading any links but the page's own incidents' (an actor named
/// by every incident of the log is not recounted on every page).
#[derive(Default)]
struct CountChanges {
    /// (incidents, claimed) to add, by actor.
    by_actor: BTreeMap<Uuid, [i64; 2]>,
}

impl CountChanges {
    /// `actor`'s row is written, whether or not its counts change.
    fn touch(&mut self, actor: Uuid) -> &mut [i64; 2] {
        self.by_actor.entry(actor).or_default()
    }

    /// Adds what `incident` counts for, `sign` times (-1: takes it away).
    fn add(&mut self, incident: &Involved, sign: i64) {
        let active = incident.status == Some(ACTIVE);
        // The links are ordered by actor, so an actor's roles are consecutive.
        let mut previous: Option<Uuid> = None;
        for (actor, role) in &incident.links {
            let change = self.touch(*actor);
            if active {
                if previous != Some(*actor) {
                    change[0] += sign;
                }
                if role == ActorRole::Claimant.as_str() {
                    change[1] += sign;
                }
            }
            previous = Some(*actor);
        }
    }

    /// Adds the changes to the stored counts (an actor without a row yet has none to add to:
    /// nothing stored names it, as every actor a link names has a row).
    async fn store(&self, conn: &mut PgConnection) -> Result<(), ProjectionError> {
        if self.by_actor.is_empty() {
            return Ok(());
        }
        let actors: Vec<Uuid> = self.by_actor.keys().copied().collect();
        let incidents: Vec<i64> = self.by_actor.values().map(|c| c[0]).collect();
        let claimed: Vec<i64> = self.by_actor.values().map(|c| c[1]).collect();
        sqlx::query(
            "INSERT INTO actor_incident_counts AS c (actor_id, incidents, claimed) \
             SELECT actor_id, incidents::int, claimed::int \
               FROM unnest($1::uuid[], $2::int8[], $3::int8[]) AS d(actor_id, incidents, claimed) \
             ON CONFLICT (actor_id) DO UPDATE \
                SET incidents = c.incidents + EXCLUDED.incidents, \
                    claimed = c.claimed + EXCLUDED.claimed",
        )
        .bind(&actors)
        .bind(&incidents)
        .bind(&claimed)
        .execute(conn)
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The spellings a lookup matches: the name and the aliases, trimmed and lower-cased (as the
/// domain compares names), sorted, without repeats.
fn search_names(name: Option<&str>, aliases: &[String]) -> Vec<String> {
    let mut names: Vec<String> = name
        .into_iter()
        .chain(aliases.iter().map(String::as_str))
        .map(|n| n.trim().to_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::{array_literal, search_names, ReportedActors, Timeline, REPORTED, REPORTED_SCHEMA};
    use chrono::{TimeZone, Utc};
    use sitrep_domain::model::encode;
    use sitrep_domain::model::incident::{
        ActorInvolvement, ActorRole, AttributionStatus, IncidentEvent, IncidentFacts,
    };
    use sitrep_domain::model::values::{CountryCode, EventTime, Place, UncertainCount};
    use sitrep_domain::model::vocab::{EventType, SubEventType};
    use uuid::Uuid;

    #[test]
    fn a_report_is_read_for_its_actors_alone_as_the_domain_writes_it() {
        let actors = vec![
            ActorInvolvement {
                actor: Uuid::new_v4(),
                role: ActorRole::Perpetrator,
                attribution: AttributionStatus::Suspected,
                source: None,
            },
            ActorInvolvement {
                actor: Uuid::new_v4(),
                role: ActorRole::Claimant,
                attribution: AttributionStatus::Claimed,
                source: None,
            },
        ];
        let facts = IncidentFacts {
            time: EventTime::day("2024-01-28".parse().unwrap()),
            place: Place::country(CountryCode::new("JOR").unwrap()),
            event_type: EventType::ExplosionsRemoteViolence,
            sub_event_type: SubEventType::AirDroneStrike,
            means: Vec::new(),
            target_category: None,
            fatalities: UncertainCount::exactly(3),
            injuries: None,
            notes: Some("a \"note\"".into()),
            tags: vec!["tower-22".into()],
            external_refs: Vec::new(),
            attributes: Default::default(),
        };
        for actors in [actors, Vec::new()] {
            let encoded = encode(&IncidentEvent::IncidentReported {
                facts: facts.clone(),
                actors: actors.clone(),
                sources: Vec::new(),
            })
            .unwrap();
            // The current schema of reports is the one `ReportedActors` reads (else reports
            // are read whole: update it).
            assert_eq!(
                (encoded.event_type.as_str(), encoded.schema_version),
                (REPORTED, REPORTED_SCHEMA)
            );
            let read: ReportedActors = serde_json::from_str(&encoded.payload.to_string()).unwrap();
            assert_eq!(read.actors, actors);
        }
    }

    #[test]
    fn array_literals_quote_every_element() {
        assert_eq!(array_literal(vec![]), "{}");
        assert_eq!(
            array_literal(vec!["Kata'ib \"KH\"".into(), r"a\b".into()]),
            r#"{"Kata'ib \"KH\"","a\\b"}"#
        );
    }

    #[test]
    fn search_names_are_trimmed_lower_case_and_unique() {
        assert_eq!(
            search_names(Some("Kata'ib Hezbollah"), &[" KH".into(), "kh".into()]),
            vec!["kata'ib hezbollah".to_owned(), "kh".to_owned()]
        );
        assert!(search_names(None, &[]).is_empty());
    }

    #[test]
    fn a_timeline_ends_new_rows_in_place_and_stored_rows_once() {
        let t = |s: u32| Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, s).unwrap();
        let mut timeline: Timeline<u8, &str> = Timeline::new();
        timeline.end(&1, t(1));
        timeline.start(1, "a");
        timeline.end(&1, t(2));
        timeline.start(1, "b");
        timeline.end(&2, t(3));
        timeline.end(&2, t(4));
        assert_eq!(timeline.ends(), vec![Some(t(2)), None]);
        assert_eq!(timeline.column(|r| *r), vec!["a", "b"]);
        assert_eq!(
            timeline.closed.into_iter().collect::<Vec<_>>(),
            vec![(1, t(1)), (2, t(3))]
        );
    }
}
