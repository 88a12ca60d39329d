//! Stream heads the store has seen: for a stream, a version, the hash stored at it and its
//! recorded time.
//!
//! A stored event never changes, so "version v of stream S has hash H" stays true once it is
//! committed. An append that expects version v of a stream whose hash at v is known here links to
//! it without reading the head first (`append_linked*.sql`); the unique key on
//! `(stream_id, stream_version)` still refuses a second writer at v + 1, exactly as on the lookup
//! path. Only committed facts go in: heads written by [`super::EventStore::append`] (its own
//! transaction, committed when it returns) and read by [`super::EventStore::read_stream`], never
//! those of `append_in` or `append_batch_in`, whose transaction may still roll back.
//!
//! The map is bounded: when it is full it is emptied, and later appends look their heads up again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::StreamRef;

/// How many streams' heads are kept.
const CAPACITY: usize = 100_000;

/// A version of a stream, the hash stored at it and when it was recorded (`None` for the genesis
/// of a new stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownHead {
    pub version: u64,
    pub hash: Vec<u8>,
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Entry {
    stream_type: Box<str>,
    head: KnownHead,
}

/// The heads seen, by stream id.
#[derive(Debug, Default)]
pub(crate) struct StreamHeads {
    entries: Mutex<HashMap<Uuid, Entry>>,
}

impl StreamHeads {
    /// The hash of `stream` at `version`, if that is the head seen last.
    pub fn get(&self, stream: &StreamRef, version: u64) -> Option<KnownHead> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&stream.stream_id)
            .filter(|e| *e.stream_type == *stream.stream_type && e.head.version == version)
            .map(|e| e.head.clone())
    }

    /// Records that `stream` holds `hash` at `version`, recorded at `recorded_at` (a committed
    /// fact). A later version replaces an earlier one, never the reverse.
    pub fn record(
        &self,
        stream: &StreamRef,
        version: u64,
        hash: &[u8],
        recorded_at: DateTime<Utc>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(&stream.stream_id) {
            // An older fact never replaces a newer one. The same version with another hash can
            // only come from a database that lost committed rows (a restore, a failover to a
            // lagging replica): what the database holds now wins.
            if entry.head.version > version
                || (entry.head.version == version
                    && entry.head.hash == hash
                    && entry.head.recorded_at == Some(recorded_at))
            {
                return;
            }
        }
        if entries.len() >= CAPACITY && !entries.contains_key(&stream.stream_id) {
            entries.clear();
        }
        entries.insert(
            stream.stream_id,
            Entry {
                stream_type: stream.stream_type.as_str().into(),
                head: KnownHead {
                    version,
                    hash: hash.to_vec(),
                    recorded_at: Some(recorded_at),
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_known_at_its_version_and_type_only() {
        let heads = StreamHeads::default();
        let stream = StreamRef::new("incident", Uuid::new_v4());
        let at = DateTime::<Utc>::UNIX_EPOCH;
        heads.record(&stream, 3, &[3; 32], at);
        assert_eq!(
            heads.get(&stream, 3),
            Some(KnownHead {
                version: 3,
                hash: vec![3; 32],
                recorded_at: Some(at),
            })
        );
        assert_eq!(heads.get(&stream, 2), None);
        let other_type = StreamRef::new("actor", stream.stream_id);
        assert_eq!(heads.get(&other_type, 3), None);
        // An older fact does not replace a newer one.
        heads.record(&stream, 2, &[2; 32], at);
        assert_eq!(heads.get(&stream, 3).map(|h| h.version), Some(3));
        heads.record(&stream, 4, &[4; 32], at);
        assert_eq!(heads.get(&stream, 4).map(|h| h.hash), Some(vec![4; 32]));
        // What the database holds now wins over a remembered hash of the same version.
        heads.record(&stream, 4, &[5; 32], at);
        assert_eq!(heads.get(&stream, 4).map(|h| h.hash), Some(vec![5; 32]));
    }
}
