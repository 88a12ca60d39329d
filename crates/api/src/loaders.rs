//! The batch loaders of related objects (async-graphql `DataLoader`s), so that a list of N
//! incidents with their actors, or N actors with their affiliations, counts and incidents, runs
//! a fixed number of SQL statements whatever N is: each kind of key gathered while a level of
//! the query resolves is loaded with one statement (plus one to find the live generation).
//!
//! One [`ReadModelLoader`] answers every kind of key (one `Loader` impl per key type); the
//! schema holds one `DataLoader` of it (see [`crate::schema::build_schema`]). It caches nothing
//! between requests or within one: it only batches (async-graphql's `NoCache`), so an answer is
//! never older than the read model. Keys carry `asOf` where the answer depends on it.

use std::collections::{BTreeMap, HashMap};

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use chrono::{DateTime, Utc};
use sitrep_projections::actor_queries::{
    actors_by_ids, affiliations_of, incident_counts, involvements_at, sites_by_ids, ActorItem,
    AffiliationItem, IncidentCounts, InvolvementItem, SiteItem,
};
use sitrep_projections::incident_queries::{
    incident_counts_as_of, incidents_of_actors, IncidentListItem,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;
use crate::read_models::live_schema;

/// The read model of actors, affiliations, sites and involvements.
const ACTORS: &str = "actors";
/// The read model of incidents.
const INCIDENTS: &str = "incidents";

/// Loads rows of the read models in batches; see the module's documentation.
pub struct ReadModelLoader {
    pool: PgPool,
}

impl ReadModelLoader {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The schema's loader.
pub(crate) fn loader<'a>(ctx: &Context<'a>) -> Result<&'a DataLoader<ReadModelLoader>, ApiError> {
    ctx.data::<DataLoader<ReadModelLoader>>()
        .map_err(|e| ApiError::internal(e.message))
}

/// The ids of `keys` grouped by a part of the key (`asOf`, a limit) that one statement takes
/// once.
fn grouped<K, G: Ord>(keys: &[K], group: impl Fn(&K) -> (G, Uuid)) -> BTreeMap<G, Vec<Uuid>> {
    let mut groups: BTreeMap<G, Vec<Uuid>> = BTreeMap::new();
    for key in keys {
        let (g, id) = group(key);
        groups.entry(g).or_default().push(id);
    }
    groups
}

/// An actor, now or as known at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActorKey {
    pub id: Uuid,
    pub as_of: Option<DateTime<Utc>>,
}

impl Loader<ActorKey> for ReadModelLoader {
    type Value = ActorItem;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ActorKey]) -> Result<HashMap<ActorKey, ActorItem>, Self::Error> {
        let schema = live_schema(&self.pool, ACTORS).await?;
        let mut found = HashMap::with_capacity(keys.len());
        for (as_of, ids) in grouped(keys, |k| (k.as_of, k.id)) {
            let items = actors_by_ids(&self.pool, &schema, &ids, as_of)
                .await
                .map_err(ApiError::from)?;
            found.extend(items.into_iter().map(|item| {
                (
                    ActorKey {
                        id: item.actor_id,
                        as_of,
                    },
                    item,
                )
            }));
        }
        Ok(found)
    }
}

/// A site, now or as known at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SiteKey {
    pub id: Uuid,
    pub as_of: Option<DateTime<Utc>>,
}

impl Loader<SiteKey> for ReadModelLoader {
    type Value = SiteItem;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SiteKey]) -> Result<HashMap<SiteKey, SiteItem>, Self::Error> {
        let schema = live_schema(&self.pool, ACTORS).await?;
        let mut found = HashMap::with_capacity(keys.len());
        for (as_of, ids) in grouped(keys, |k| (k.as_of, k.id)) {
            let items = sites_by_ids(&self.pool, &schema, &ids, as_of)
                .await
                .map_err(ApiError::from)?;
            found.extend(items.into_iter().map(|item| {
                (
                    SiteKey {
                        id: item.site_id,
                        as_of,
                    },
                    item,
                )
            }));
        }
        Ok(found)
    }
}

/// The affiliations of an actor, now or as known at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AffiliationsKey {
    pub actor: Uuid,
    pub as_of: Option<DateTime<Utc>>,
}

impl Loader<AffiliationsKey> for ReadModelLoader {
    type Value = Vec<AffiliationItem>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[AffiliationsKey],
    ) -> Result<HashMap<AffiliationsKey, Vec<AffiliationItem>>, Self::Error> {
        let schema = live_schema(&self.pool, ACTORS).await?;
        // Every actor asked for has a list, if an empty one.
        let mut found: HashMap<AffiliationsKey, Vec<AffiliationItem>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (as_of, ids) in grouped(keys, |k| (k.as_of, k.actor)) {
            let items = affiliations_of(&self.pool, &schema, &ids, as_of)
                .await
                .map_err(ApiError::from)?;
            for item in items {
                let key = AffiliationsKey {
                    actor: item.actor_id,
                    as_of,
                };
                found.entry(key).or_default().push(item);
            }
        }
        Ok(found)
    }
}

/// How many active incidents involve an actor and how many it claimed, now (the actors read
/// model's counts) or as known at `as_of` (counted from the incidents read model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountsKey {
    pub actor: Uuid,
    pub as_of: Option<DateTime<Utc>>,
}

impl Loader<CountsKey> for ReadModelLoader {
    type Value = IncidentCounts;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[CountsKey],
    ) -> Result<HashMap<CountsKey, IncidentCounts>, Self::Error> {
        // An actor without a row has no incidents.
        let mut found: HashMap<CountsKey, IncidentCounts> = keys
            .iter()
            .map(|k| {
                let none = IncidentCounts {
                    actor_id: k.actor,
                    incidents: 0,
                    claimed: 0,
                };
                (*k, none)
            })
            .collect();
        for (as_of, ids) in grouped(keys, |k| (k.as_of, k.actor)) {
            let counts = match as_of {
                None => {
                    let schema = live_schema(&self.pool, ACTORS).await?;
                    incident_counts(&self.pool, &schema, &ids).await
                }
                Some(at) => {
                    let schema = live_schema(&self.pool, INCIDENTS).await?;
                    incident_counts_as_of(&self.pool, &schema, &ids, at).await
                }
            }
            .map_err(ApiError::from)?;
            for counts in counts {
                let key = CountsKey {
                    actor: counts.actor_id,
                    as_of,
                };
                found.insert(key, counts);
            }
        }
        Ok(found)
    }
}

/// An actor's latest incidents (at most `limit`), now or as known at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActorIncidentsKey {
    pub actor: Uuid,
    pub as_of: Option<DateTime<Utc>>,
    pub limit: u32,
}

impl Loader<ActorIncidentsKey> for ReadModelLoader {
    type Value = Vec<IncidentListItem>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ActorIncidentsKey],
    ) -> Result<HashMap<ActorIncidentsKey, Vec<IncidentListItem>>, Self::Error> {
        let schema = live_schema(&self.pool, INCIDENTS).await?;
        let mut found: HashMap<ActorIncidentsKey, Vec<IncidentListItem>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for ((as_of, limit), ids) in grouped(keys, |k| ((k.as_of, k.limit), k.actor)) {
            let rows = incidents_of_actors(&self.pool, &schema, &ids, limit, as_of)
                .await
                .map_err(ApiError::from)?;
            for row in rows {
                let key = ActorIncidentsKey {
                    actor: row.key_actor_id,
                    as_of,
                    limit,
                };
                found.entry(key).or_default().push(row.incident);
            }
        }
        Ok(found)
    }
}

/// The actors of an incident as known at recorded time `at` (the recorded time of the incident
/// version shown: its actors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvolvementsKey {
    pub incident: Uuid,
    pub at: DateTime<Utc>,
}

impl Loader<InvolvementsKey> for ReadModelLoader {
    type Value = Vec<InvolvementItem>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[InvolvementsKey],
    ) -> Result<HashMap<InvolvementsKey, Vec<InvolvementItem>>, Self::Error> {
        let schema = live_schema(&self.pool, ACTORS).await?;
        let pairs: Vec<(Uuid, DateTime<Utc>)> = keys.iter().map(|k| (k.incident, k.at)).collect();
        let mut found: HashMap<InvolvementsKey, Vec<InvolvementItem>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for item in involvements_at(&self.pool, &schema, &pairs)
            .await
            .map_err(ApiError::from)?
        {
            let key = InvolvementsKey {
                incident: item.incident_id,
                at: item.at,
            };
            found.entry(key).or_default().push(item);
        }
        Ok(found)
    }
}
