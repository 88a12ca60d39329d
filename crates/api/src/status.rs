//! `projectionStatus`: where each read model stands in the event log, and how far behind.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_projections::status::statuses;

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::scalars::BigInt;

/// The status queries.
#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// Each live read model's position in the event log and its lag.
    async fn projection_status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProjectionStatus>> {
        let pool = ctx.data::<ApiContext>()?.store.pool();
        Ok(statuses(pool)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|s| ProjectionStatus {
                projection: s.projection,
                generation: s.generation,
                position: BigInt(s.position),
                events_applied: BigInt(s.events_applied),
                events_behind: BigInt(s.events_behind),
                seconds_behind: s.seconds_behind,
                updated_at: s.updated_at,
            })
            .collect())
    }
}

/// One read model's position and lag.
#[derive(SimpleObject)]
pub struct ProjectionStatus {
    /// Its name (`incidents`).
    pub projection: String,
    /// Which build of it is live (a rebuild makes a new one).
    pub generation: i32,
    /// The global position of the last event it applied (0: none).
    pub position: BigInt,
    /// How many events of the log this build has read since it was built (every event, also
    /// those it had no use for).
    pub events_applied: BigInt,
    /// Committed events of the kinds it reads that it has not applied yet (events of other
    /// kinds, which it passes over, are not lag).
    pub events_behind: BigInt,
    /// How long the oldest of those has waited, in seconds (0 when none waits).
    pub seconds_behind: f64,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}
