//! The baselines: the same rows written and read with plain SQL, no store in between.
//!
//! Two raw tables, so that a reader can tell what the store's logic costs from what the event
//! log's keys cost:
//! - `bench_raw_keyed` is `events` itself (`LIKE events INCLUDING ALL`: the same columns,
//!   defaults, checks and the four indexes the log needs: position, `(stream_id, stream_version)`,
//!   `event_id`, `(tx_id, position)`), without the append-only triggers. The raw writer fills
//!   every column the store fills, with fixed hash bytes and no version check. This is the
//!   baseline of the targets: the store's overhead is everything it does beyond these inserts.
//! - `bench_raw` has the same columns minus valid time, reason, causation, correlation and the
//!   hash link, and only a primary key: what an application writing bare rows pays.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::projection::Projection;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Which raw table a baseline writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawTable {
    /// `bench_raw_keyed`: the shape and indexes of `events`.
    Keyed,
    /// `bench_raw`: a primary key only.
    PrimaryKeyOnly,
}

impl RawTable {
    fn name(self) -> &'static str {
        match self {
            Self::Keyed => "bench_raw_keyed",
            Self::PrimaryKeyOnly => "bench_raw",
        }
    }
}

pub async fn create_tables(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE bench_raw (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            stream_type text NOT NULL,
            stream_id uuid NOT NULL,
            stream_version bigint NOT NULL,
            event_id uuid NOT NULL,
            event_type text NOT NULL,
            schema_version integer NOT NULL,
            payload json NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            recorded_by text NOT NULL,
            metadata json NOT NULL
        )",
    )
    .execute(pool)
    .await?;
    sqlx::query("CREATE TABLE bench_raw_keyed (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    Ok(())
}

/// 32 bytes where the store writes a hash.
const HASH_BYTES: [u8; 32] = [7; 32];

/// One row, one statement, one commit.
pub async fn insert_one(
    conn: &mut PgConnection,
    table: RawTable,
    stream_id: Uuid,
    version: i64,
    payload: &Value,
) -> anyhow::Result<()> {
    let query = match table {
        RawTable::Keyed => sqlx::query(
            "INSERT INTO bench_raw_keyed (stream_type, stream_id, stream_version, event_id, \
                 event_type, schema_version, payload, recorded_at, recorded_by, metadata, \
                 prev_hash, hash) \
             VALUES ('incident', $1, $2, $3, 'IncidentReported', 1, $4::text::json, now(), \
                 'bench', '{}', $5, $5)",
        ),
        RawTable::PrimaryKeyOnly => sqlx::query(
            "INSERT INTO bench_raw (stream_type, stream_id, stream_version, event_id, event_type, \
                 schema_version, payload, recorded_by, metadata) \
             VALUES ('incident', $1, $2, $3, 'IncidentReported', 1, $4::text::json, 'bench', '{}')",
        ),
    };
    let query = query
        .bind(stream_id)
        .bind(version)
        .bind(Uuid::now_v7())
        .bind(payload.to_string());
    let query = match table {
        RawTable::Keyed => query.bind(&HASH_BYTES[..]),
        RawTable::PrimaryKeyOnly => query,
    };
    query.execute(conn).await?;
    Ok(())
}

/// Many rows of one stream, one statement, one commit.
pub async fn insert_batch(
    conn: &mut PgConnection,
    table: RawTable,
    stream_id: Uuid,
    payloads: &[Value],
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = payloads.iter().map(|_| Uuid::now_v7()).collect();
    let texts: Vec<String> = payloads.iter().map(Value::to_string).collect();
    let query = match table {
        RawTable::Keyed => sqlx::query(
            "INSERT INTO bench_raw_keyed (stream_type, stream_id, stream_version, event_id, \
                 event_type, schema_version, payload, recorded_at, recorded_by, metadata, \
                 prev_hash, hash) \
             SELECT 'incident', $1, n, id, 'IncidentReported', 1, p::json, now(), 'bench', '{}', \
                    $4, $4 \
               FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS t(id, p, n)",
        ),
        RawTable::PrimaryKeyOnly => sqlx::query(
            "INSERT INTO bench_raw (stream_type, stream_id, stream_version, event_id, event_type, \
                 schema_version, payload, recorded_by, metadata) \
             SELECT 'incident', $1, n, id, 'IncidentReported', 1, p::json, 'bench', '{}' \
               FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS t(id, p, n)",
        ),
    };
    let query = query.bind(stream_id).bind(&ids).bind(&texts);
    let query = match table {
        RawTable::Keyed => query.bind(&HASH_BYTES[..]),
        RawTable::PrimaryKeyOnly => query,
    };
    query.execute(conn).await?;
    Ok(())
}

/// The rows of a table.
pub async fn count(pool: &PgPool, table: RawTable) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name()))
            .fetch_one(pool)
            .await?,
    )
}

/// `VACUUM ANALYZE` of a table.
pub async fn vacuum(pool: &PgPool, table: RawTable) -> anyhow::Result<()> {
    sqlx::query(&format!("VACUUM ANALYZE {}", table.name()))
        .execute(pool)
        .await?;
    Ok(())
}

/// A row as the raw reader decodes it: the fields the store's reader decodes, minus those the
/// primary-key-only table lacks.
#[derive(sqlx::FromRow)]
#[allow(dead_code)] // read to be decoded, as the store's reader does
pub struct RawRow {
    pub position: i64,
    pub stream_type: String,
    pub stream_id: Uuid,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub metadata: String,
}

/// One keyset page of a raw table, by position.
pub async fn read_page(
    pool: &PgPool,
    table: RawTable,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<RawRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT position, stream_type, stream_id, stream_version, event_id, event_type, \
                schema_version, payload::text AS payload, recorded_at, recorded_by, \
                metadata::text AS metadata \
           FROM {} WHERE position > $1 ORDER BY position LIMIT $2",
        table.name()
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The schema of the raw copy of the incidents read model's table (`incident_versions`, with
/// every index the read model keeps), for the floor of a read-your-writes `reportIncident`.
const RAW_READ_MODEL: &str = "bench_raw_rm";

/// Creates [`RAW_READ_MODEL`] with the incidents read model's table and its indexes, from the
/// read model's own DDL.
pub async fn create_read_model(pool: &PgPool) -> anyhow::Result<()> {
    let incidents = IncidentsProjection::default();
    let mut conn = pool.acquire().await?;
    let ddl = format!(
        "CREATE SCHEMA {RAW_READ_MODEL}; SET search_path TO {RAW_READ_MODEL}; {}; {}; \
         RESET search_path",
        incidents.ddl(),
        incidents.indexes(),
    );
    sqlx::raw_sql(&ddl).execute(&mut *conn).await?;
    Ok(())
}

/// The columns of a reported rocket attack's first row in the read model, then their values
/// after `$1` (the incident) and `$2` (the event's position).
const READ_MODEL_ROW: &str = "incident_id, stream_version, position, recorded_from, status, \
     event_type, sub_event_type, valid_start, valid_end, date_precision, country, admin1, \
     location, latitude, longitude, geo_precision, target_category, means, fatalities_best, \
     verification, actor_ids, claimant_ids, tags, external_refs";
const READ_MODEL_VALUES: &str = "1, now(), 'active', 'explosions_remote_violence', \
     'shelling_artillery_missile_attack', '2024-01-20', '2024-01-20', 'day', 'IRQ', 'Al Anbar', \
     'Ain al-Asad Air Base', 33.7856, 42.4412, 'exact', 'foreign_military_base', '{}', 0, \
     'unverified', '{}', '{}', '{}', '{}'";

/// The event of a new incident's report in the `events`-shaped table: `$1` the incident, `$2`
/// the event's id, `$3` the payload, `$4` the hash bytes.
const REPORTED_EVENT: &str = "INSERT INTO bench_raw_keyed (stream_type, stream_id, \
     stream_version, event_id, event_type, schema_version, payload, recorded_at, recorded_by, \
     metadata, prev_hash, hash) \
     VALUES ('incident', $1, 1, $2, 'IncidentReported', 1, $3::text::json, now(), 'bench', '{}', \
     $4, $4)";

/// What a read-your-writes `reportIncident` asks of PostgreSQL at the least, with a read model
/// committed apart from the log (as projections are): the event's row committed durably
/// (`durable`), the incident's row in the read model committed without waiting for the disk
/// (`read_model`, a connection with `synchronous_commit = off`, as a projector's page commits),
/// and the row read back. Three statements, each its own round trip.
pub async fn report_floor(
    durable: &mut PgConnection,
    read_model: &mut PgConnection,
    payload: &Value,
) -> anyhow::Result<()> {
    let incident = Uuid::now_v7();
    let insert_event = format!("{REPORTED_EVENT} RETURNING position");
    let position: i64 = sqlx::query_scalar(&insert_event)
        .bind(incident)
        .bind(Uuid::now_v7())
        .bind(payload.to_string())
        .bind(&HASH_BYTES[..])
        .fetch_one(durable)
        .await?;
    let insert = format!(
        "INSERT INTO {RAW_READ_MODEL}.incident_versions ({READ_MODEL_ROW}) \
         VALUES ($1, $2, {READ_MODEL_VALUES})"
    );
    sqlx::query(&insert)
        .bind(incident)
        .bind(position)
        .execute(&mut *read_model)
        .await?;
    read_back(read_model, incident).await
}

/// The same rows as [`report_floor`] in one statement, one round trip and one durable commit:
/// the read model written in the append's own transaction, which projections built from the
/// log apart from the append are not.
pub async fn report_inline(conn: &mut PgConnection, payload: &Value) -> anyhow::Result<()> {
    let statement = format!(
        "WITH event AS ({REPORTED_EVENT} RETURNING position) \
         INSERT INTO {RAW_READ_MODEL}.incident_versions ({READ_MODEL_ROW}) \
         SELECT $1, position, {READ_MODEL_VALUES} FROM event \
         RETURNING incident_id, stream_version, fatalities_best"
    );
    let row: Option<(Uuid, i64, Option<i32>)> = sqlx::query_as(&statement)
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .bind(payload.to_string())
        .bind(&HASH_BYTES[..])
        .fetch_optional(conn)
        .await?;
    anyhow::ensure!(row.is_some(), "the inline report wrote no read-model row");
    Ok(())
}

/// The incident's current row, as a mutation's payload reads it.
async fn read_back(conn: &mut PgConnection, incident: Uuid) -> anyhow::Result<()> {
    let select = format!(
        "SELECT incident_id, stream_version, fatalities_best \
           FROM {RAW_READ_MODEL}.incident_versions \
          WHERE incident_id = $1 AND recorded_to IS NULL"
    );
    let row: Option<(Uuid, i64, Option<i32>)> = sqlx::query_as(&select)
        .bind(incident)
        .fetch_optional(conn)
        .await?;
    anyhow::ensure!(
        row.is_some(),
        "the read model's row of {incident} was not read back"
    );
    Ok(())
}
