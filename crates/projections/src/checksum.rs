//! Checksums of read models: a SHA-256 over every row of every table of a generation, in a fixed
//! order, so that two generations built from the same events (one incrementally while writers
//! were busy, one rebuilt from scratch) can be shown equal.

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ProjectionError;
use crate::generation::Generation;
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
    // One snapshot for every table, so that a projector applying pages meanwhile cannot make
    // the tables disagree.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut hasher = Sha256::new();
    let mut rows = 0u64;
    for table in projection.tables() {
        hasher.update(table.name.as_bytes());
        hasher.update(b"\n");
        // The schema is one of ours; the table and its order are the projection's constants.
        let sql = format!(
            "SELECT t::text FROM {}.{} t ORDER BY {}",
            generation.schema, table.name, table.order_by
        );
        let mut stream = sqlx::query_scalar::<_, String>(&sql).fetch(&mut *tx);
        while let Some(row) = stream.try_next().await? {
            hasher.update(row.as_bytes());
            hasher.update(b"\n");
            rows += 1;
        }
    }
    tx.commit().await?;
    Ok(Checksum {
        digest: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        rows,
    })
}
