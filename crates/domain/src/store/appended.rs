//! What this process has appended, counted by stream type: readers in the same process (a
//! server's projectors) wake only for appends of the stream types they read, and the feed
//! notifier names those types in its `NOTIFY`, so that readers in other processes can do the
//! same and readers in this one can tell a wake-up they already had.
//!
//! A `NOTIFY sitrep_feed` payload is `"<origin> <types>"`: the sending store's origin (a UUID
//! made when the store is made, shared by its clones) and the stream types appended since its
//! previous notification, comma-separated; no types means "unknown" (appends a caller committed
//! in its own transaction, [`super::EventStore::notify_appended`]), and every reader looks.

use std::collections::BTreeMap;

use tokio::sync::watch;
use uuid::Uuid;

/// This process's committed appends, counted per stream type; appends of unknown types
/// (committed by a caller, who said only that something was appended) apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendCounts {
    by_type: BTreeMap<String, u64>,
    untyped: u64,
}

impl AppendCounts {
    /// Counts one committed append of `stream_types` (none: unknown).
    pub(crate) fn record<'a>(&mut self, stream_types: impl IntoIterator<Item = &'a str>) {
        let mut typed = false;
        for stream_type in stream_types {
            typed = true;
            match self.by_type.get_mut(stream_type) {
                Some(count) => *count = count.wrapping_add(1),
                None => {
                    self.by_type.insert(stream_type.to_owned(), 1);
                }
            }
        }
        if !typed {
            self.untyped = self.untyped.wrapping_add(1);
        }
    }

    /// A number that changes with every append a reader of `stream_types` wants to see (every
    /// append when `None`): those of its types, and those of unknown types.
    pub fn concerning(&self, stream_types: Option<&[&str]>) -> u64 {
        let typed = self
            .by_type
            .iter()
            .filter(|(name, _)| stream_types.is_none_or(|wanted| wanted.contains(&name.as_str())))
            .fold(0u64, |sum, (_, count)| sum.wrapping_add(*count));
        typed.wrapping_add(self.untyped)
    }

    /// The stream types appended since `earlier` (a reading of the same counts before), or
    /// `None` when appends of unknown types came in between.
    pub fn types_since(&self, earlier: &AppendCounts) -> Option<Vec<&str>> {
        if self.untyped != earlier.untyped {
            return None;
        }
        Some(
            self.by_type
                .iter()
                .filter(|(name, count)| earlier.by_type.get(name.as_str()) != Some(count))
                .map(|(name, _)| name.as_str())
                .collect(),
        )
    }
}

/// The payload of the feed notifier's `NOTIFY` (see the module's documentation).
pub(crate) fn notification_payload(origin: Uuid, stream_types: Option<&[&str]>) -> String {
    format!("{origin} {}", stream_types.unwrap_or_default().join(","))
}

/// Whether a `NOTIFY sitrep_feed` with `payload` may concern a reader of `stream_types` (every
/// type when `None`) in the process of store `origin`: not when this process sent it (its
/// readers were woken by [`LocalAppends`] already), nor when it names only other types. A
/// payload in no known form concerns every reader.
pub fn notification_concerns(payload: &str, origin: Uuid, stream_types: Option<&[&str]>) -> bool {
    let Some((sender, types)) = payload.split_once(' ') else {
        return true;
    };
    if sender.parse::<Uuid>().ok() == Some(origin) {
        return false;
    }
    match stream_types {
        None => true,
        Some(_) if types.is_empty() => true,
        Some(wanted) => types.split(',').any(|t| wanted.contains(&t)),
    }
}

/// Wakes a reader in this process when appends of the stream types it reads commit (see
/// [`super::EventStore::local_appends_of`]).
#[derive(Debug)]
pub struct LocalAppends {
    receiver: watch::Receiver<AppendCounts>,
    stream_types: Option<&'static [&'static str]>,
    seen: u64,
}

impl LocalAppends {
    pub(crate) fn new(
        receiver: watch::Receiver<AppendCounts>,
        stream_types: Option<&'static [&'static str]>,
    ) -> Self {
        let seen = receiver.borrow().concerning(stream_types);
        Self {
            receiver,
            stream_types,
            seen,
        }
    }

    /// Takes every append committed so far as seen: call it before reading the feed.
    pub fn mark_seen(&mut self) {
        self.seen = self
            .receiver
            .borrow_and_update()
            .concerning(self.stream_types);
    }

    /// Waits until an append of the reader's stream types (or of unknown ones) has committed
    /// since the last [`LocalAppends::mark_seen`]; pending forever once the store is gone.
    /// Cancel-safe.
    pub async fn changed(&mut self) {
        loop {
            let now = self
                .receiver
                .borrow_and_update()
                .concerning(self.stream_types);
            if now != self.seen {
                self.seen = now;
                return;
            }
            if self.receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::watch;
    use uuid::Uuid;

    use super::{notification_concerns, notification_payload, AppendCounts, LocalAppends};

    #[test]
    fn counts_tell_which_types_were_appended_since_an_earlier_reading() {
        let mut counts = AppendCounts::default();
        counts.record(["incident"]);
        let earlier = counts.clone();
        assert_eq!(counts.types_since(&earlier), Some(vec![]));
        counts.record(["troop_deployment"]);
        counts.record(["incident", "actor"]);
        assert_eq!(
            counts.types_since(&earlier),
            Some(vec!["actor", "incident", "troop_deployment"])
        );
        let typed = counts.clone();
        counts.record([]);
        assert_eq!(
            counts.types_since(&typed),
            None,
            "an append of unknown types"
        );
        assert_ne!(
            counts.concerning(Some(&["negotiation"])),
            typed.concerning(Some(&["negotiation"])),
            "appends of unknown types concern every reader"
        );
    }

    #[test]
    fn a_notification_concerns_readers_of_the_types_it_names_in_other_processes() {
        let (here, there) = (Uuid::now_v7(), Uuid::now_v7());
        let troops = Some(&["troop_deployment"][..]);
        let incidents = notification_payload(there, Some(&["actor", "incident"]));
        assert!(!notification_concerns(&incidents, here, troops));
        assert!(notification_concerns(&incidents, here, Some(&["incident"])));
        assert!(notification_concerns(&incidents, here, None));
        assert!(
            !notification_concerns(&incidents, there, None),
            "the sender's own readers were woken in the process"
        );
        let unknown = notification_payload(there, None);
        assert!(notification_concerns(&unknown, here, troops));
        assert!(notification_concerns("", here, troops), "no known form");
    }

    /// Whether `reader` is woken within 50 ms.
    async fn woken(reader: &mut LocalAppends) -> bool {
        tokio::time::timeout(Duration::from_millis(50), reader.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_reader_wakes_for_appends_of_its_types_only() {
        let (sender, receiver) = watch::channel(AppendCounts::default());
        let mut troops = LocalAppends::new(receiver.clone(), Some(&["troop_deployment"]));
        let mut everything = LocalAppends::new(receiver, None);
        troops.mark_seen();
        everything.mark_seen();
        sender.send_modify(|counts| counts.record(["incident"]));
        assert!(!woken(&mut troops).await);
        assert!(woken(&mut everything).await);
        // An append of its type between two waits is not lost, whatever came after it.
        sender.send_modify(|counts| counts.record(["troop_deployment"]));
        sender.send_modify(|counts| counts.record(["incident"]));
        assert!(woken(&mut troops).await);
        assert!(!woken(&mut troops).await, "seen once");
        sender.send_modify(|counts| counts.record([]));
        assert!(woken(&mut troops).await, "appends of unknown types");
    }
}
