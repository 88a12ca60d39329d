//! The baseline: the same rows written and read with plain SQL, no store in between.
//!
//! `bench_raw` has the columns of `events` (JSON kept as `json` text, as the store keeps it) but
//! neither the hash link nor the version check, and only its primary key: what an application
//! writing these rows straight into PostgreSQL pays.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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
    Ok(())
}

/// One row, one statement, one commit.
pub async fn insert_one(
    conn: &mut PgConnection,
    stream_id: Uuid,
    version: i64,
    payload: &Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO bench_raw (stream_type, stream_id, stream_version, event_id, event_type, \
             schema_version, payload, recorded_by, metadata) \
         VALUES ('incident', $1, $2, $3, 'IncidentReported', 1, $4::text::json, 'bench', '{}')",
    )
    .bind(stream_id)
    .bind(version)
    .bind(Uuid::now_v7())
    .bind(payload.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Many rows of one stream, one statement, one commit.
pub async fn insert_batch(
    conn: &mut PgConnection,
    stream_id: Uuid,
    payloads: &[Value],
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = payloads.iter().map(|_| Uuid::now_v7()).collect();
    let texts: Vec<String> = payloads.iter().map(Value::to_string).collect();
    sqlx::query(
        "INSERT INTO bench_raw (stream_type, stream_id, stream_version, event_id, event_type, \
             schema_version, payload, recorded_by, metadata) \
         SELECT 'incident', $1, n, id, 'IncidentReported', 1, p::json, 'bench', '{}' \
           FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS t(id, p, n)",
    )
    .bind(stream_id)
    .bind(&ids)
    .bind(&texts)
    .execute(conn)
    .await?;
    Ok(())
}

/// A row as the raw reader decodes it: the same fields the store's reader decodes.
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

/// One keyset page of the raw table.
pub async fn read_page(pool: &PgPool, after: i64, limit: i64) -> anyhow::Result<Vec<RawRow>> {
    Ok(sqlx::query_as(
        "SELECT position, stream_type, stream_id, stream_version, event_id, event_type, \
                schema_version, payload::text AS payload, recorded_at, recorded_by, \
                metadata::text AS metadata \
           FROM bench_raw WHERE position > $1 ORDER BY position LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
