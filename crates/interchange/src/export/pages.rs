//! The walk through an export's selection, a page at a time, in one snapshot.
//!
//! An export reads in one read-only `REPEATABLE READ` transaction, so that every page sees the
//! same state of the log and of the read models: an incident corrected or reported while a
//! long export runs neither moves between pages (written twice, or skipped) nor changes half
//! way. Each page is:
//!
//! 1. the next keyset page of the incidents read model's selection, oldest first (by the day
//!    they started, then id; [`incident_keys`]): ids and the version selected (the current
//!    one, or the one known at `asOf`);
//! 2. those streams' events up to those versions, in one statement (`page_events.sql`), folded
//!    by the domain model's own `apply` into each incident's full state (the read model lacks
//!    notes, admin3, sources, roles and attributes). Bounding the fold by the read model's
//!    version rather than by time keeps the two in step even when the read model lags the log;
//!    at `asOf` it is the same bound, the last version recorded by then;
//! 3. the names and types of the page's actors from the actors read model, in one statement,
//!    as known at the same time.
//!
//! Memory holds one page, however many incidents the selection has.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sitrep_domain::model::actor::{Actor, ActorEvent};
use sitrep_domain::model::incident::{Incident, IncidentEvent, IncidentStatus};
use sitrep_domain::model::vocab::ActorType;
use sitrep_domain::model::{decode_text, Aggregate};
use sitrep_projections::actor_queries::actors_by_ids;
use sitrep_projections::generation;
use sitrep_projections::incident_queries::{
    incident_keys, IncidentFilter, IncidentKey, ListCursor,
};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::exported::{ExportedActor, ExportedIncident};
use super::ExportError;

const PAGE_EVENTS: &str = include_str!("page_events.sql");
const ACTOR_EVENTS: &str = include_str!("actor_events.sql");

/// The selection of an export, read page by page in one snapshot.
pub struct Pages {
    snapshot: Transaction<'static, Postgres>,
    incidents_schema: String,
    /// `None` when the actors read model is not built yet (names are then the actors' ids).
    actors_schema: Option<String>,
    filter: IncidentFilter,
    as_of: Option<DateTime<Utc>>,
    page_size: u32,
    after: Option<ListCursor>,
    finished: bool,
}

impl Pages {
    /// Opens the snapshot and finds the read models' live generations in it.
    pub async fn open(
        pool: &PgPool,
        filter: IncidentFilter,
        as_of: Option<DateTime<Utc>>,
        page_size: u32,
    ) -> Result<Self, ExportError> {
        let mut snapshot = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *snapshot)
            .await?;
        let incidents_schema = generation::live_in(&mut snapshot, "incidents")
            .await?
            .ok_or(ExportError::Unavailable("the incidents read model"))?
            .schema;
        let actors_schema = generation::live_in(&mut snapshot, "actors")
            .await?
            .map(|g| g.schema);
        Ok(Self {
            snapshot,
            incidents_schema,
            actors_schema,
            filter,
            as_of,
            page_size: page_size.max(1),
            after: None,
            finished: false,
        })
    }

    /// The next page of incidents; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<ExportedIncident>>, ExportError> {
        if self.finished {
            return Ok(None);
        }
        let keys = incident_keys(
            &mut *self.snapshot,
            &self.incidents_schema,
            &self.filter,
            self.page_size,
            self.after,
            self.as_of,
        )
        .await?;
        if keys.len() < self.page_size as usize {
            self.finished = true;
        }
        let Some(last) = keys.last() else {
            return Ok(None);
        };
        self.after = Some(last.cursor());
        let mut folded = self.fold(&keys).await?;
        let names = self.actor_names(&folded).await?;
        let mut page = Vec::with_capacity(keys.len());
        for key in &keys {
            let folded = folded
                .remove(&key.incident_id)
                .ok_or_else(|| inconsistent(key.incident_id, "its events are not in the log"))?;
            page.push(folded.into_exported(key, &names)?);
        }
        Ok(Some(page))
    }

    /// Ends the snapshot.
    pub async fn close(self) -> Result<(), ExportError> {
        Ok(self.snapshot.commit().await?)
    }

    /// The states of the page's incidents at the versions selected, folded from the log.
    async fn fold(&mut self, keys: &[IncidentKey]) -> Result<HashMap<Uuid, Folded>, ExportError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.incident_id).collect();
        let versions: Vec<i64> = keys.iter().map(|k| k.stream_version).collect();
        let rows: Vec<EventRow> = sqlx::query_as(PAGE_EVENTS)
            .bind(&ids)
            .bind(&versions)
            .fetch_all(&mut *self.snapshot)
            .await?;
        let mut folded: HashMap<Uuid, Folded> = HashMap::with_capacity(keys.len());
        for row in rows {
            let event: IncidentEvent =
                decode_text(&row.event_type, row.schema_version, &row.payload).map_err(
                    |source| ExportError::Unreadable {
                        position: row.position,
                        source,
                    },
                )?;
            let entry = folded.entry(row.stream_id).or_default();
            if row.stream_version != entry.version + 1 {
                return Err(inconsistent(
                    row.stream_id,
                    &format!(
                        "the log has version {} where version {} was expected",
                        row.stream_version,
                        entry.version + 1
                    ),
                ));
            }
            entry.state.apply(&event);
            entry.version = row.stream_version;
            entry.recorded_at = Some(row.recorded_at);
        }
        Ok(folded)
    }

    /// The names and types of the actors of `folded`, as known at the export's time: from the
    /// actors read model, and for the actors it does not know yet (it follows the log on its
    /// own and may lag behind the incidents'), folded from the log in the same snapshot.
    async fn actor_names(
        &mut self,
        folded: &HashMap<Uuid, Folded>,
    ) -> Result<HashMap<Uuid, (String, Option<ActorType>)>, ExportError> {
        let mut ids: Vec<Uuid> = folded
            .values()
            .flat_map(|f| f.state.actors().iter().map(|a| a.actor))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut names: HashMap<Uuid, (String, Option<ActorType>)> = HashMap::new();
        if let Some(schema) = &self.actors_schema {
            let actors = actors_by_ids(&mut *self.snapshot, schema, &ids, self.as_of).await?;
            names.extend(actors.into_iter().map(|a| {
                let actor_type = a.actor_type.as_deref().and_then(actor_type_named);
                (a.actor_id, (a.name, actor_type))
            }));
        }
        let missing: Vec<Uuid> = ids
            .into_iter()
            .filter(|id| !names.contains_key(id))
            .collect();
        if !missing.is_empty() {
            names.extend(self.actors_from_log(&missing).await?);
        }
        Ok(names)
    }

    /// The names and types of `ids` folded from their streams in the log, as of the export's
    /// time.
    async fn actors_from_log(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (String, Option<ActorType>)>, ExportError> {
        let rows: Vec<EventRow> = sqlx::query_as(ACTOR_EVENTS)
            .bind(ids)
            .bind(self.as_of)
            .fetch_all(&mut *self.snapshot)
            .await?;
        let mut actors: HashMap<Uuid, Actor> = HashMap::new();
        for row in rows {
            let event: ActorEvent = decode_text(&row.event_type, row.schema_version, &row.payload)
                .map_err(|source| ExportError::Unreadable {
                    position: row.position,
                    source,
                })?;
            actors.entry(row.stream_id).or_default().apply(&event);
        }
        Ok(actors
            .into_iter()
            .filter_map(|(id, actor)| {
                let profile = actor.profile()?;
                Some((id, (profile.name.clone(), Some(profile.actor_type))))
            })
            .collect())
    }
}

/// The actor type stored as `name` (`militia_groups`).
fn actor_type_named(name: &str) -> Option<ActorType> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// An event of a page, as `page_events.sql` reads it.
#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    stream_id: Uuid,
    stream_version: i64,
    event_type: String,
    schema_version: i32,
    payload: String,
    recorded_at: DateTime<Utc>,
}

/// An incident folded from its events.
#[derive(Default)]
struct Folded {
    state: Incident,
    version: i64,
    recorded_at: Option<DateTime<Utc>>,
}

impl Folded {
    fn into_exported(
        self,
        key: &IncidentKey,
        names: &HashMap<Uuid, (String, Option<ActorType>)>,
    ) -> Result<ExportedIncident, ExportError> {
        let id = key.incident_id;
        if self.version != key.stream_version {
            return Err(inconsistent(
                id,
                &format!(
                    "the read model shows version {} but the log has {}",
                    key.stream_version, self.version
                ),
            ));
        }
        if self.state.status() != IncidentStatus::Active {
            return Err(inconsistent(
                id,
                "the read model lists it as active but its events do not",
            ));
        }
        let (Some(facts), Some(recorded_at)) = (self.state.facts(), self.recorded_at) else {
            return Err(inconsistent(id, "it has no facts in the log"));
        };
        let actors = self
            .state
            .actors()
            .iter()
            .map(|involvement| {
                let (name, actor_type) = names
                    .get(&involvement.actor)
                    .cloned()
                    .unwrap_or_else(|| (involvement.actor.to_string(), None));
                ExportedActor {
                    id: involvement.actor,
                    name,
                    actor_type,
                    role: involvement.role,
                    attribution: involvement.attribution,
                }
            })
            .collect();
        Ok(ExportedIncident {
            id,
            version: u64::try_from(self.version).unwrap_or_default(),
            last_recorded_at: recorded_at,
            facts: facts.clone(),
            verification: self.state.verification(),
            actors,
            sources: self.state.sources().to_vec(),
        })
    }
}

fn inconsistent(incident: Uuid, why: &str) -> ExportError {
    ExportError::Inconsistent {
        incident,
        why: why.to_owned(),
    }
}
