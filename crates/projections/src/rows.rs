//! Helpers every read model uses: the versions a page writes to a versioned table, the stored
//! names of vocabulary values, array literals for bulk inserts, and the error of an unreadable
//! event.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sitrep_domain::model::CodecError;
use sitrep_domain::store::StoredEvent;

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
pub(crate) fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A PostgreSQL array literal of text elements, each quoted: `{"a","b \"c\""}`.
pub(crate) fn array_literal(items: Vec<String>) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

pub(crate) fn unreadable(stored: &StoredEvent, source: CodecError) -> ProjectionError {
    ProjectionError::Unreadable {
        position: stored.position,
        source,
    }
}
