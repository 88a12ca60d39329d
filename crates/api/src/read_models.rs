//! Where the resolvers find a read model: the schema of its live generation, asked of the
//! database for each request (a rebuild may have switched it since the last one).

use sitrep_projections::generation;
use sqlx::PgPool;

use crate::error::ApiError;

/// The schema of the live generation of read model `projection` (`incidents`, `actors`, ...);
/// `UNAVAILABLE` while it has none (a server just started builds it).
pub(crate) async fn live_schema(pool: &PgPool, projection: &str) -> Result<String, ApiError> {
    generation::live(pool, projection)
        .await?
        .map(|g| g.schema)
        .ok_or_else(|| ApiError::Unavailable(format!("the {projection} read model")))
}
