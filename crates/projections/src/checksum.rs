//! Checksums of read models: a SHA-256 over every row of every table of a generation, in a fixed
//! order, so that two generations built from the same events (one incrementally while writers
//! were busy, one rebuilt from scratch) can be shown equal; replays ([`crate::replay`]) are
//! checksummed the same way.

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::error::ProjectionError;
use crate::generation::{is_generation_schema, Generation};
use crate::projection::Projection;

/// A generation's checksum: hex SHA-256, and the number of rows it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub digest: String,
    pub rows: u64,
}

/// The checksum of `generation` of `projection`: each table's name, then each row's text form
/// in the table's order, streamed (no table is held in memory).
pub async fn checksum(
    pool: &PgPool,
    projection: &dyn Projection,
    generation: &Generation,
) -> Result<Checksum, ProjectionError> {
    checksum_schema(pool, projection, &generation.schema).await
}

/// The checksum of `projection`'s tables in `schema` (a generation's or a replay's).
pub async fn checksum_schema(
    pool: &PgPool,
    projection: &dyn Projection,
    schema: &str,
) -> Result<Checksum, ProjectionError> {
    if !is_generation_schema(schema) {
        return Err(ProjectionError::NotAGeneration(schema.to_owned()));
    }
    // One snapshot for every table, so that a projector applying pages meanwhile cannot make
    // the tables disagree.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sum = digest_tables(&mut tx, projection, schema).await?;
    tx.commit().await?;
    Ok(sum)
}

/// The live generation of `projection` (with its checkpoint) and its checksum, read in one
/// snapshot, so that the checksum covers exactly the events up to that checkpoint even while
/// its projector applies pages. `None` when there is no live generation.
pub async fn live_checksum(
    pool: &PgPool,
    projection: &dyn Projection,
) -> Result<Option<(Generation, Checksum)>, ProjectionError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let Some(live) = crate::generation::live_in(&mut tx, projection.name()).await? else {
        return Ok(None);
    };
    let sum = digest_tables(&mut tx, projection, &live.schema).await?;
    tx.commit().await?;
    Ok(Some((live, sum)))
}

/// Hashes every table of `projection` in `schema` (checked by the callers), on `conn`.
async fn digest_tables(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    schema: &str,
) -> Result<Checksum, ProjectionError> {
    let mut hasher = Sha256::new();
    let mut rows = 0u64;
    for table in projection.tables() {
        hasher.update(table.name.as_bytes());
        hasher.update(b"\n");
        // The schema is one of ours; the table and its order are the projection's constants.
        let sql = format!(
            "SELECT t::text FROM {}.{} t ORDER BY {}",
            schema, table.name, table.order_by
        );
        let mut stream = sqlx::query_scalar::<_, String>(&sql).fetch(&mut *conn);
        while let Some(row) = stream.try_next().await? {
            hasher.update(row.as_bytes());
            hasher.update(b"\n");
            rows += 1;
        }
    }
    Ok(Checksum {
        digest: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        rows,
    })
}
