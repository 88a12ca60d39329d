//! `compareProjections` (auditors and admins): each live read model's checksum beside the
//! checksum of a fresh build of it from the event log, at the same place in the feed.
//!
//! The live generation's checkpoint and its checksum are read in one snapshot
//! ([`sitrep_projections::checksum::live_checksum`]), so they cover exactly the events up to
//! that checkpoint even while its projector goes on applying pages. The fresh build then
//! replays the log up to that same checkpoint into a scratch schema
//! ([`sitrep_projections::replay`], `Bound::Through`), never live and without a checkpoint, so
//! events recorded meanwhile cannot make the two differ; it is checksummed and dropped. Both
//! positions are reported, so the answer says what it compared.
//!
//! A fresh build reads the whole log, so this query costs what `sitrep rebuild` costs and is
//! bounded by the request timeout. The work runs in a task of its own, so that a request cut
//! short still drops its scratch schemas.

use async_graphql::{Context, Object, SimpleObject};
use sitrep_domain::store::EventStore;
use sitrep_projections::checksum::live_checksum;
use sitrep_projections::replay::{self, Bound, ReplayKind};
use sitrep_projections::{Projection, ProjectionError};

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::request_log::spawn_in_request;
use crate::scalars::BigInt;

/// The projection audit queries.
#[derive(Default)]
pub struct ProjectionAuditQuery;

#[Object]
impl ProjectionAuditQuery {
    /// For each read model (or the one named): the checksum of its live generation beside the
    /// checksum of a fresh build from the event log up to the live one's position in the feed
    /// (built in a scratch schema and dropped), and whether they match. Read models with no
    /// live generation yet are left out. Auditors and admins only; it reads the whole log, so
    /// it takes about as long as `sitrep rebuild`.
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn compare_projections(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Compare only this read model (`incidents`, `negotiations`, `troops`, \
                          `actors`); left out: all of them."
        )]
        projection: Option<String>,
    ) -> async_graphql::Result<Vec<ProjectionComparison>> {
        let api = ctx.data::<ApiContext>()?;
        let store = api.store.clone();
        let chosen: Vec<std::sync::Arc<dyn Projection>> = sitrep_projections::all()
            .into_iter()
            .filter(|p| projection.as_deref().is_none_or(|name| name == p.name()))
            .collect();
        if chosen.is_empty() {
            return Err(ApiError::bad_input(
                "projection",
                "no read model of that name (incidents, negotiations, troops, actors)",
            )
            .into());
        }
        // One comparison at a time per server: each rebuilds from the whole log, and runs on
        // after its request timed out, so retries must not pile up.
        let Ok(running) = api.comparisons.clone().try_acquire_owned() else {
            return Err(ApiError::Unavailable(
                "another comparison is running on this server; this one".to_owned(),
            )
            .into());
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        spawn_in_request(Box::pin(async move {
            let _running = running;
            let mut compared = Vec::with_capacity(chosen.len());
            let mut outcome = Ok(());
            for projection in &chosen {
                match compare(&store, projection.as_ref()).await {
                    Ok(Some(comparison)) => compared.push(comparison),
                    Ok(None) => {}
                    Err(error) => {
                        outcome = Err(error);
                        break;
                    }
                }
            }
            // The request may be gone: then nobody needs the answer.
            let _ = sender.send(outcome.map(|()| compared));
        }));
        let compared = receiver
            .await
            .map_err(|_| ApiError::internal("the comparison task ended without an answer"))?
            .map_err(ApiError::from)?;
        Ok(compared)
    }
}

/// Compares `projection`'s live generation with a fresh build up to its checkpoint; `None` when
/// it has no live generation.
async fn compare(
    store: &EventStore,
    projection: &dyn Projection,
) -> Result<Option<ProjectionComparison>, ProjectionError> {
    let pool = store.pool();
    let Some((live, live_sum)) = live_checksum(pool, projection).await? else {
        return Ok(None);
    };
    let fresh = replay::build(
        store,
        projection,
        ReplayKind::Scratch,
        Bound::Through(live.cursor),
    )
    .await?;
    let fresh_sum = replay::checksum(pool, projection, &fresh).await;
    replay::drop_schema(pool, &fresh.schema).await?;
    let fresh_sum = fresh_sum?;
    let same_position = fresh.cursor == live.cursor;
    Ok(Some(ProjectionComparison {
        projection: projection.name().to_owned(),
        live_generation: live.generation,
        live_position: BigInt(live.cursor.position()),
        live_events_applied: BigInt(live.events_applied),
        live_rows: BigInt(i64::try_from(live_sum.rows).unwrap_or(i64::MAX)),
        live_checksum: live_sum.digest.clone(),
        fresh_position: BigInt(fresh.cursor.position()),
        fresh_events_applied: BigInt(fresh.events_applied),
        fresh_rows: BigInt(i64::try_from(fresh_sum.rows).unwrap_or(i64::MAX)),
        same_position,
        matches: same_position && fresh_sum.digest == live_sum.digest,
        fresh_checksum: fresh_sum.digest,
    }))
}

/// One read model's live generation beside a fresh build of it from the log.
#[derive(Debug, SimpleObject)]
pub struct ProjectionComparison {
    /// The read model's name (`incidents`).
    pub projection: String,
    /// Which build of it is live.
    pub live_generation: i32,
    /// The global position of the last event the live generation applied (0: none), when its
    /// checksum was taken.
    pub live_position: BigInt,
    /// Events of the log the live generation had read then.
    pub live_events_applied: BigInt,
    /// Rows the live checksum covers.
    pub live_rows: BigInt,
    /// SHA-256 (hex) of the live generation's rows, table by table in a fixed order.
    pub live_checksum: String,
    /// The global position of the last event the fresh build applied: the live one's, unless
    /// the log changed under it.
    pub fresh_position: BigInt,
    /// Events of the log the fresh build read (up to the live one's position).
    pub fresh_events_applied: BigInt,
    /// Rows the fresh checksum covers.
    pub fresh_rows: BigInt,
    /// SHA-256 (hex) of the fresh build's rows, computed as the live one's.
    pub fresh_checksum: String,
    /// Whether both cover the same events of the feed.
    pub same_position: bool,
    /// Whether both cover the same events and their checksums are equal: the live read model is
    /// what the log says it should be.
    pub matches: bool,
}
