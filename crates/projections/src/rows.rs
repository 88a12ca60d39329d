//! Helpers every read model uses: the versions a page writes to a versioned table, loading the
//! stored states a page folds into and ending the rows it replaces, the stored names of
//! vocabulary values, array literals for bulk inserts, and the error of an unreadable event.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sitrep_domain::model::{decode_text, CodecError, DomainEvent};
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;

/// The new rows of one versioned table a page writes: each key's newest row is open
/// (`recorded_to` NULL) until the next version of the same key replaces it, in this page or,
/// for rows stored by earlier pages, by an update (`closed`).
pub(crate) struct Versions<K, R> {
    pub rows: Vec<R>,
    /// Each row's `recorded_to`.
    pub ends: Vec<Option<DateTime<Utc>>>,
    /// The index of each key's open row among `rows`.
    pub open: HashMap<K, usize>,
    /// Stored rows to end, by key: they are the key's open row in the table.
    pub closed: Vec<(K, DateTime<Utc>)>,
}

impl<K: Hash + Eq + Clone, R> Versions<K, R> {
    pub fn new() -> Self {
        Self {
            rows: Vec::new(),
            ends: Vec::new(),
            open: HashMap::new(),
            closed: Vec::new(),
        }
    }

    /// The first version of `key`.
    pub fn add(&mut self, key: K, row: R) {
        self.open.insert(key, self.rows.len());
        self.rows.push(row);
        self.ends.push(None);
    }

    /// A new version of `key`, recorded at `at`: the previous one ends there.
    pub fn replace(&mut self, key: K, at: DateTime<Utc>, row: R) {
        match self.open.get(&key) {
            Some(&index) => self.ends[index] = Some(at),
            None => self.closed.push((key.clone(), at)),
        }
        self.add(key, row);
    }
}

/// The stored (snake_case) name of a vocabulary value.
pub(crate) use sitrep_domain::model::vocab::stored_name as name;

/// A PostgreSQL array literal of text elements, each quoted: `{"a","b \"c\""}`.
pub(crate) fn array_literal(items: Vec<String>) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// The domain event `stored` holds, upcast to its current schema.
pub(crate) fn decode_event<E: DomainEvent>(stored: &StoredEvent) -> Result<E, ProjectionError> {
    decode_text(
        &stored.event_type,
        stored.schema_version,
        stored.payload.get(),
    )
    .map_err(|e| unreadable(stored, e))
}

pub(crate) fn unreadable(stored: &StoredEvent, source: CodecError) -> ProjectionError {
    ProjectionError::Unreadable {
        position: stored.position,
        source,
    }
}

/// A read model's state (or other value) of `id` as the JSON text it stores.
pub(crate) fn state_json<T: Serialize>(
    projection: &'static str,
    id: Uuid,
    value: &T,
) -> Result<String, ProjectionError> {
    serde_json::to_string(value).map_err(|source| ProjectionError::CorruptState {
        projection,
        id,
        source,
    })
}

/// The distinct stream ids of `events`, sorted.
pub(crate) fn stream_ids(events: &[&StoredEvent]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = events.iter().map(|e| e.stream.stream_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The stored states of `ids`, read by `sql` (`SELECT <id>, state::text … WHERE <id> = ANY($1)`,
/// one of the read model's constants).
pub(crate) async fn load_states<T: DeserializeOwned>(
    conn: &mut PgConnection,
    projection: &'static str,
    sql: &'static str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, T>, ProjectionError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(sql).bind(ids).fetch_all(conn).await?;
    rows.into_iter()
        .map(|(id, state)| {
            let state =
                serde_json::from_str(&state).map_err(|source| ProjectionError::CorruptState {
                    projection,
                    id,
                    source,
                })?;
            Ok((id, state))
        })
        .collect()
}

/// Ends stored open rows at the recorded time of what replaced them: `sql` (one of the read
/// model's constants) takes the ids as `$1` and the end times as `$2`.
pub(crate) async fn close_rows(
    conn: &mut PgConnection,
    sql: &'static str,
    closed: &[(Uuid, DateTime<Utc>)],
) -> Result<(), ProjectionError> {
    if closed.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = closed.iter().map(|c| c.0).collect();
    let until: Vec<DateTime<Utc>> = closed.iter().map(|c| c.1).collect();
    sqlx::query(sql)
        .bind(&ids)
        .bind(&until)
        .execute(conn)
        .await?;
    Ok(())
}
