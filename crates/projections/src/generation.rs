//! Generations: where a projection's tables live and which copy is live.
//!
//! Each generation of a projection is a schema of its own (`rm_<projection>_<generation>`) with a
//! row in `projection_generations` holding its status and checkpoint. Queries read the live
//! generation; a rebuild fills a `building` one beside it from the start of the feed and, once
//! it has caught up, switches it live in one transaction (blue/green). Retired generations are
//! kept until the next rebuild, so that queries already running on them finish.

use std::sync::{Mutex, PoisonError};

use sitrep_domain::store::FeedCursor;
use sqlx::{PgConnection, PgPool, Row};

use crate::error::ProjectionError;
use crate::projection::Projection;

/// The state of a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Building,
    Live,
    Retired,
    /// Left building by a failed or dead rebuild: its schema is dropped, its number never used
    /// again.
    Abandoned,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Live => "live",
            Self::Retired => "retired",
            Self::Abandoned => "abandoned",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "live" => Self::Live,
            "building" => Self::Building,
            "abandoned" => Self::Abandoned,
            _ => Self::Retired,
        }
    }
}

/// One generation of a projection and its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub projection: String,
    pub generation: i32,
    /// The schema its tables live in (a safe identifier: `rm_` + name + `_` + number).
    pub schema: String,
    /// The projection code's version that built it.
    pub version: i32,
    pub status: Status,
    /// Just past the last event applied.
    pub cursor: FeedCursor,
    pub events_applied: i64,
}

const COLUMNS: &str = "projection, generation, schema_name, version, status, \
                       cursor_tx::text AS cursor_tx, cursor_position, events_applied";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<Generation, ProjectionError> {
    let tx: String = row.try_get("cursor_tx")?;
    let status: String = row.try_get("status")?;
    Ok(Generation {
        projection: row.try_get("projection")?,
        generation: row.try_get("generation")?,
        schema: row.try_get("schema_name")?,
        version: row.try_get("version")?,
        status: Status::parse(&status),
        cursor: FeedCursor::new(
            tx.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            row.try_get("cursor_position")?,
        ),
        events_applied: row.try_get("events_applied")?,
    })
}

/// The live generation of `projection`, if there is one.
pub async fn live(pool: &PgPool, projection: &str) -> Result<Option<Generation>, ProjectionError> {
    let mut conn = pool.acquire().await?;
    live_in(&mut conn, projection).await
}

/// The same on `conn` (inside a caller's transaction, to read it in the caller's snapshot).
pub async fn live_in(
    conn: &mut PgConnection,
    projection: &str,
) -> Result<Option<Generation>, ProjectionError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM projection_generations WHERE projection = $1 AND status = 'live'"
    ))
    .bind(projection)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every generation of `projection`, oldest first.
pub async fn all(pool: &PgPool, projection: &str) -> Result<Vec<Generation>, ProjectionError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM projection_generations WHERE projection = $1 ORDER BY generation"
    ))
    .bind(projection)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Creates the next generation of `projection` with `status`, its schema and its empty tables,
/// at the start of the feed; a live one gets its query indexes at once, a building one when it
/// has caught up ([`create_indexes`]).
pub async fn create(
    pool: &PgPool,
    projection: &dyn Projection,
    status: Status,
) -> Result<Generation, ProjectionError> {
    let name = projection.name();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(ProjectionError::Unknown(name.to_owned()));
    }
    let mut tx = pool.begin().await?;
    // One creator at a time per projection (another process may be starting too).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sitrep projection ddl ' || $1))")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let number: i32 = sqlx::query_scalar(
        "SELECT coalesce(max(generation), 0) + 1 FROM projection_generations WHERE projection = $1",
    )
    .bind(name)
    .fetch_one(&mut *tx)
    .await?;
    let schema = format!("rm_{name}_{number}");
    sqlx::query(
        "INSERT INTO projection_generations (projection, generation, schema_name, version, status) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(name)
    .bind(number)
    .bind(&schema)
    .bind(projection.version())
    .bind(status.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *tx)
        .await?;
    set_search_path(&mut tx, &schema).await?;
    // Without arguments a string runs as a simple query, several statements at once.
    sqlx::Executor::execute(&mut *tx, projection.ddl()).await?;
    if status == Status::Live {
        sqlx::Executor::execute(&mut *tx, projection.indexes()).await?;
    }
    tx.commit().await?;
    Ok(Generation {
        projection: name.to_owned(),
        generation: number,
        schema,
        version: projection.version(),
        status,
        cursor: FeedCursor::START,
        events_applied: 0,
    })
}

/// How many of a rebuild's indexes are built at once, each in a transaction on a connection of
/// its own. PostgreSQL builds a GIN index on one core, and a B-tree's build sorts in parallel
/// only for part of its time: one index after another left one of the two cores idle most of
/// the time (BENCHMARKS.md, issue #4, session 13).
const INDEX_BUILDERS: usize = 2;

/// Sorting a million rows for an index in the default 64 MB spills to disk.
const INDEX_BUILD_MEMORY: &str = "SET LOCAL maintenance_work_mem = '256MB'";

/// Creates the query indexes of `generation` (built without them by a rebuild) and gathers its
/// tables' statistics.
pub async fn create_indexes(
    pool: &PgPool,
    projection: &dyn Projection,
    generation: &Generation,
) -> Result<(), ProjectionError> {
    create_indexes_in(pool, &generation.schema, projection.indexes()).await?;
    // Statistics of the whole generation, so that the first queries after the switch are not
    // planned on those of a part of it (or on none) until autovacuum comes by.
    analyze(pool, projection, generation).await
}

/// Runs `indexes` (a projection's [`Projection::indexes`]: `CREATE INDEX` statements and
/// comments) in `schema`, [`INDEX_BUILDERS`] statements at a time, each in a transaction of its
/// own. Only for tables nothing reads yet: if one fails, the others may have been created.
pub async fn create_indexes_in(
    pool: &PgPool,
    schema: &str,
    indexes: &str,
) -> Result<(), ProjectionError> {
    let queue = Mutex::new(statements(indexes).into_iter());
    let mut builders = Vec::with_capacity(INDEX_BUILDERS);
    for _ in 0..INDEX_BUILDERS {
        builders.push(build_indexes_from(&queue, pool, schema));
    }
    futures::future::try_join_all(builders).await?;
    Ok(())
}

/// Creates the indexes `queue` holds, one after another, until it is empty.
async fn build_indexes_from(
    queue: &Mutex<std::vec::IntoIter<String>>,
    pool: &PgPool,
    schema: &str,
) -> Result<(), ProjectionError> {
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some(statement) = next else {
            return Ok(());
        };
        let mut tx = pool.begin().await?;
        set_search_path(&mut tx, schema).await?;
        sqlx::query(INDEX_BUILD_MEMORY).execute(&mut *tx).await?;
        sqlx::query(&statement)
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
}

/// The statements of a read model's SQL file: its `--` comment lines left out, split at each
/// `;`, blank pieces dropped.
fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .flat_map(|line| [line, "\n"])
        .collect();
    code.split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Gathers the statistics of `generation`'s tables. A generation being built has none until
/// then, and the planner's guesses without them are far off: `recorded_to IS NULL` at 0.5% of
/// the rows, where nearly every row is open, made a page's update of a few open rows hash all
/// of them.
pub async fn analyze(
    pool: &PgPool,
    projection: &dyn Projection,
    generation: &Generation,
) -> Result<(), ProjectionError> {
    let mut tx = begin_in(pool, generation).await?;
    analyze_tables(&mut tx, projection).await?;
    tx.commit().await?;
    Ok(())
}

/// A transaction whose unqualified tables are `generation`'s.
async fn begin_in(
    pool: &PgPool,
    generation: &Generation,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ProjectionError> {
    let mut tx = pool.begin().await?;
    set_search_path(&mut tx, &generation.schema).await?;
    Ok(tx)
}

async fn analyze_tables(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), ProjectionError> {
    for table in projection.tables() {
        sqlx::query(&format!("ANALYZE {}", table.name))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Makes `generation` the live one and retires the one it replaces, in one transaction; then
/// drops the schemas of generations retired before that (the one just retired stays, for the
/// queries still running on it). A generation that is no longer building (abandoned by a
/// rebuild that took over from this one) switches nothing: [`ProjectionError::NotBuilding`].
pub async fn switch_live(pool: &PgPool, generation: &Generation) -> Result<(), ProjectionError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE projection_generations SET status = 'retired', updated_at = now() \
          WHERE projection = $1 AND status = 'live'",
    )
    .bind(&generation.projection)
    .execute(&mut *tx)
    .await?;
    let switched = sqlx::query(
        "UPDATE projection_generations SET status = 'live', updated_at = now() \
          WHERE projection = $1 AND generation = $2 AND status = 'building'",
    )
    .bind(&generation.projection)
    .bind(generation.generation)
    .execute(&mut *tx)
    .await?;
    if switched.rows_affected() != 1 {
        // Dropping the transaction rolls the retirement back: the live one stays live.
        return Err(ProjectionError::NotBuilding {
            projection: generation.projection.clone(),
            generation: generation.generation,
        });
    }
    tx.commit().await?;
    drop_old_retired(pool, &generation.projection).await
}

/// Abandons every generation of `projection` that is still building: marks it abandoned and
/// drops its schema, in one transaction (its number is never used again). Only for the holder
/// of the projection's rebuild lock ([`crate::Projector::rebuild`]): then no other rebuild is
/// running, and a building generation is one a failed or dead rebuild left behind. It never
/// went live: nothing reads it.
pub async fn abandon_building(pool: &PgPool, projection: &str) -> Result<(), ProjectionError> {
    let mut tx = pool.begin().await?;
    let schemas: Vec<String> = sqlx::query_scalar(
        "UPDATE projection_generations SET status = 'abandoned', updated_at = now() \
          WHERE projection = $1 AND status = 'building' RETURNING schema_name",
    )
    .bind(projection)
    .fetch_all(&mut *tx)
    .await?;
    for schema in &schemas {
        if !is_generation_schema(schema) {
            return Err(ProjectionError::NotAGeneration(schema.clone()));
        }
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    if !schemas.is_empty() {
        tracing::info!(
            projection,
            ?schemas,
            "abandoned generations a rebuild left building"
        );
    }
    Ok(())
}

/// Drops the schemas of all retired generations but the newest retired one.
async fn drop_old_retired(pool: &PgPool, projection: &str) -> Result<(), ProjectionError> {
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT schema_name FROM projection_generations \
          WHERE projection = $1 AND status = 'retired' \
            AND generation < (SELECT max(generation) FROM projection_generations \
                               WHERE projection = $1 AND status = 'retired')",
    )
    .bind(projection)
    .fetch_all(pool)
    .await?;
    for schema in old {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Whether `schema` has the shape of a generation's schema (`rm_<lower-case name>_<number>`),
/// the only names the read models' queries put into their SQL.
pub fn is_generation_schema(schema: &str) -> bool {
    let Some(rest) = schema.strip_prefix("rm_") else {
        return false;
    };
    let Some((name, number)) = rest.rsplit_once('_') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Points the transaction's `search_path` at a generation's schema (then `public`, for the
/// event log and the functions).
pub(crate) async fn set_search_path(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(&search_path_statement(schema))
        .execute(conn)
        .await?;
    Ok(())
}

/// The statement that makes a transaction's unqualified tables those of `schema`.
pub(crate) fn search_path_statement(schema: &str) -> String {
    // `schema` is one of ours (`rm_<lower-case name>_<number>`), never a client's string.
    format!("SET LOCAL search_path TO {schema}, public")
}

#[cfg(test)]
mod tests {
    use super::{is_generation_schema, statements};
    use crate::actors::ActorsProjection;
    use crate::incidents::IncidentsProjection;
    use crate::Projection;

    #[test]
    fn index_files_split_into_their_create_statements() {
        let sql = "-- a comment; with a semicolon\nCREATE INDEX a ON t (x)\n    WHERE y;\n\n\
                   -- another\nCREATE INDEX b ON t USING gin (z);\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE INDEX a ON t (x)\n    WHERE y",
                "CREATE INDEX b ON t USING gin (z)"
            ]
        );
        for projection in [
            &IncidentsProjection::default() as &dyn Projection,
            &ActorsProjection,
        ] {
            let split = statements(projection.indexes());
            assert!(!split.is_empty());
            let creates = projection.indexes().matches("CREATE ").count();
            assert_eq!(split.len(), creates, "{}", projection.name());
            assert!(split.iter().all(|s| s.starts_with("CREATE ")), "{split:?}");
        }
    }

    #[test]
    fn only_generation_schemas_pass() {
        assert!(is_generation_schema("rm_incidents_3"));
        assert!(is_generation_schema("rm_troop_levels_12"));
        for bad in [
            "public",
            "rm_incidents",
            "rm__1",
            "rm_Incidents_1",
            "rm_x_1; DROP",
            "rm_x_1a",
        ] {
            assert!(!is_generation_schema(bad), "{bad}");
        }
    }
}
