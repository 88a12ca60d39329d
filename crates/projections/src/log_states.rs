//! Aggregate states folded from the event log itself, kept in memory between pages.
//!
//! A read model that needs each stream's state before a page's events (to fold them into it)
//! can get it from here instead of storing states in its own tables. An entry is the stream's
//! state after a given stream version, computed from the immutable log, so it is never wrong,
//! only possibly behind: whatever a page's first event of a stream needs that the cache does
//! not hold is read from the log (`events`, by stream and version) and folded. Entries stay
//! valid when a page rolls back, a projector loses its leadership or a rebuild writes another
//! generation: nothing in here depends on a read model's contents.
//!
//! The cache is bounded: when it grows past its capacity it is emptied, and the next pages read
//! what they need from the log again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sitrep_domain::model::{decode_text, Aggregate};
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;

/// How many streams' states a cache keeps by default.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// A stream's state after its first `version` events.
#[derive(Clone, Debug, Default)]
pub(crate) struct Folded<A> {
    pub version: u64,
    pub state: A,
}

/// States of `A`'s streams, folded from the log.
pub(crate) struct LogStates<A> {
    entries: Mutex<HashMap<Uuid, Folded<A>>>,
    capacity: usize,
}

impl<A: Aggregate> LogStates<A> {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The state of each stream of `events` (all of `A`'s stream type, in feed order) just
    /// before its first event in them: from the cache when it holds that version, folded on
    /// from the log when it holds less.
    pub async fn before(
        &self,
        conn: &mut PgConnection,
        events: &[&StoredEvent],
    ) -> Result<HashMap<Uuid, Folded<A>>, ProjectionError> {
        let mut states: HashMap<Uuid, Folded<A>> = HashMap::with_capacity(events.len());
        // (stream, version held, first version of the page) of the states to fold further.
        let mut behind: Vec<(Uuid, u64, u64)> = Vec::new();
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            for event in events {
                let id = event.stream.stream_id;
                if states.contains_key(&id) {
                    continue;
                }
                let wanted = event.stream_version.saturating_sub(1);
                // A cached state past what this page needs (the page is applied again after a
                // rollback) is no use: fold from the start.
                let held = entries
                    .remove(&id)
                    .filter(|f| f.version <= wanted)
                    .unwrap_or_default();
                if held.version < wanted {
                    behind.push((id, held.version, event.stream_version));
                }
                states.insert(id, held);
            }
        }
        if !behind.is_empty() {
            fold_from_log(conn, &behind, &mut states).await?;
        }
        Ok(states)
    }

    /// Keeps `states` (as a page left them) for the next pages.
    pub fn keep(&self, states: HashMap<Uuid, Folded<A>>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() + states.len() > self.capacity {
            entries.clear();
        }
        if states.len() <= self.capacity {
            entries.extend(states);
        }
    }
}

/// Folds into `states` the logged events of each `(stream, after, before)` with versions
/// strictly between `after` and `before`.
async fn fold_from_log<A: Aggregate>(
    conn: &mut PgConnection,
    behind: &[(Uuid, u64, u64)],
    states: &mut HashMap<Uuid, Folded<A>>,
) -> Result<(), ProjectionError> {
    const SQL: &str = "SELECT e.position, e.stream_id, e.stream_version, e.event_type, \
                              e.schema_version, e.payload::text \
                         FROM unnest($1::uuid[], $2::int8[], $3::int8[]) AS w(id, after, before) \
                         JOIN public.events e \
                           ON e.stream_id = w.id AND e.stream_version > w.after \
                          AND e.stream_version < w.before \
                        WHERE e.stream_type = $4 \
                        ORDER BY e.stream_id, e.stream_version";
    let ids: Vec<Uuid> = behind.iter().map(|b| b.0).collect();
    let after: Vec<i64> = behind.iter().map(|b| version_column(b.1)).collect();
    let before: Vec<i64> = behind.iter().map(|b| version_column(b.2)).collect();
    let rows: Vec<(i64, Uuid, i64, String, i32, String)> = sqlx::query_as(SQL)
        .bind(&ids)
        .bind(&after)
        .bind(&before)
        .bind(A::STREAM_TYPE)
        .fetch_all(&mut *conn)
        .await?;
    for (position, id, version, event_type, schema_version, payload) in rows {
        let event: A::Event = decode_text(&event_type, schema_version, &payload)
            .map_err(|source| ProjectionError::Unreadable { position, source })?;
        let folded = states.entry(id).or_default();
        let version = u64::try_from(version).unwrap_or_default();
        if version != folded.version + 1 {
            return Err(ProjectionError::StreamGap {
                stream_id: id,
                expected: folded.version + 1,
                found: version,
            });
        }
        folded.state.apply(&event);
        folded.version = version;
    }
    for &(id, _, before) in behind {
        let held = states.get(&id).map_or(0, |f| f.version);
        if held + 1 != before {
            return Err(ProjectionError::StreamGap {
                stream_id: id,
                expected: held + 1,
                found: before,
            });
        }
    }
    Ok(())
}

/// A stream version as its `bigint` column holds it.
fn version_column(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}
