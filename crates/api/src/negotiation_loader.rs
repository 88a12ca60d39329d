//! Batched loading of the parts of negotiations (sessions, working groups, positions,
//! milestones, agreements) with async-graphql's `DataLoader`: a list of N negotiations that
//! asks for their agreements runs one statement for all N, not one per negotiation.
//!
//! A key names the live generation's schema and the recorded time (`asOf`) besides the
//! negotiation, so that one batch may mix reads of different times: the loader runs one
//! statement per (schema, asOf) among its keys. The loader caches nothing (`DataLoader::new`),
//! so no read-model data outlives the batch it was loaded for.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use sitrep_projections::negotiation_queries::{
    agreements_of, milestones_of, positions_of, sessions_of, working_groups_of, AgreementItem,
    MilestoneItem, PositionItem, SessionItem, WorkingGroupItem,
};
use sitrep_projections::ProjectionError;
use sqlx::PgPool;
use uuid::Uuid;

/// Whose parts to load, from which generation, as known when.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartsKey {
    /// The live generation's schema of the negotiations read model.
    pub schema: Arc<str>,
    /// Now (`None`) or as known at this recorded time.
    pub as_of: Option<DateTime<Utc>>,
    pub negotiation_id: Uuid,
}

/// Loads the parts of negotiations from the negotiations read model.
pub struct NegotiationLoader {
    pool: PgPool,
}

impl NegotiationLoader {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Why a batch could not be loaded (shared by every key of the batch, hence the `Arc`).
pub type LoadError = Arc<ProjectionError>;

/// Which generation, as known when.
type ReadAt = (Arc<str>, Option<DateTime<Utc>>);

/// Runs `fetch` once per (schema, asOf) among `keys` with the negotiation ids of that group,
/// and hands each key its negotiation's rows (none: an empty list), in the order fetched.
async fn grouped<K, T, F, Fut>(
    keys: &[K],
    part: impl Fn(&K) -> &PartsKey,
    owner: impl Fn(&T) -> Uuid,
    fetch: F,
) -> Result<HashMap<K, Arc<Vec<T>>>, LoadError>
where
    K: Clone + Eq + std::hash::Hash,
    F: Fn(Arc<str>, Vec<Uuid>, Option<DateTime<Utc>>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProjectionError>>,
{
    let mut groups: HashMap<ReadAt, Vec<&K>> = HashMap::new();
    for key in keys {
        let p = part(key);
        groups
            .entry((p.schema.clone(), p.as_of))
            .or_default()
            .push(key);
    }
    let mut out = HashMap::with_capacity(keys.len());
    for ((schema, as_of), group) in groups {
        let mut ids: Vec<Uuid> = group.iter().map(|k| part(k).negotiation_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let rows = fetch(schema, ids, as_of).await.map_err(Arc::new)?;
        let mut by_owner: HashMap<Uuid, Vec<T>> = HashMap::new();
        for row in rows {
            by_owner.entry(owner(&row)).or_default().push(row);
        }
        let mut by_owner: HashMap<Uuid, Arc<Vec<T>>> = by_owner
            .into_iter()
            .map(|(id, rows)| (id, Arc::new(rows)))
            .collect();
        for key in group {
            let id = part(key).negotiation_id;
            let rows = by_owner.entry(id).or_default().clone();
            out.insert(key.clone(), rows);
        }
    }
    Ok(out)
}

/// Declares a key type for one part and its loader, read by `$query`.
macro_rules! part_loader {
    ($(#[$doc:meta])* $key:ident, $item:ty, $query:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $key(pub PartsKey);

        impl Loader<$key> for NegotiationLoader {
            type Value = Arc<Vec<$item>>;
            type Error = LoadError;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let pool = &self.pool;
                grouped(
                    keys,
                    |k| &k.0,
                    |row: &$item| row.negotiation_id,
                    |schema, ids, as_of| async move {
                        $query(pool, &schema, &ids, as_of).await
                    },
                )
                .await
            }
        }
    };
}

part_loader!(
    /// A negotiation's sessions, in the order they were held.
    SessionsOf,
    SessionItem,
    sessions_of
);
part_loader!(
    /// A negotiation's working groups, in the order they were formed.
    WorkingGroupsOf,
    WorkingGroupItem,
    working_groups_of
);
part_loader!(
    /// Every position stated in a negotiation, in the order they were stated.
    PositionsOf,
    PositionItem,
    positions_of
);
part_loader!(
    /// A negotiation's milestones, by due date.
    MilestonesOf,
    MilestoneItem,
    milestones_of
);
part_loader!(
    /// A negotiation's agreements, by the day they were signed.
    AgreementsOf,
    AgreementItem,
    agreements_of
);
