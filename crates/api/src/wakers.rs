//! Wake-ups from PostgreSQL's `NOTIFY`, shared by every request of a server: one LISTEN
//! connection per channel, opened when first needed, turned into a [`watch`] channel that any
//! number of waiters can watch without a connection of their own.
//!
//! Two channels are listened to: the feed's (`sitrep_feed`, sent after appends), which wakes the
//! subscriptions, and the projectors' (`sitrep_applied`, sent when a page of a read model
//! commits), which wakes the server's one reader of the live checkpoints that mutations
//! waiting to read their own writes compare with. A wake-up can be lost
//! while the connection is re-opened, so every waiter also polls, less often.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sitrep_domain::store::EventStore;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

/// How long the listener waits before listening again after its connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// Wakes waiters on each notification of one channel.
#[derive(Clone)]
pub struct ChannelWaker {
    channel: &'static str,
    wakes: Arc<OnceLock<watch::Sender<u64>>>,
}

impl ChannelWaker {
    pub fn new(channel: &'static str) -> Self {
        Self {
            channel,
            wakes: Arc::new(OnceLock::new()),
        }
    }

    /// A receiver that changes on every notification (the listener starts with the first
    /// call).
    pub fn subscribe(&self, store: &EventStore) -> watch::Receiver<u64> {
        self.wakes
            .get_or_init(|| {
                let (sender, _) = watch::channel(0);
                tokio::spawn(listen(store.clone(), self.channel, sender.clone()));
                sender
            })
            .subscribe()
    }
}

/// Listens to `channel` for as long as the server runs, bumping `wakes` on each notification
/// and whenever the connection had to be opened again (a notification may have been missed).
async fn listen(store: EventStore, channel: &'static str, wakes: watch::Sender<u64>) {
    loop {
        match PgListener::connect_with(store.pool()).await {
            Ok(mut listener) => match listener.listen(channel).await {
                Ok(()) => {
                    wakes.send_modify(|n| *n += 1);
                    while let Ok(Some(_)) = listener.try_recv().await {
                        wakes.send_modify(|n| *n += 1);
                    }
                    tracing::warn!(channel, "a listener lost its connection; listening again");
                }
                Err(error) => tracing::warn!(%error, channel, "cannot listen"),
            },
            Err(error) => tracing::warn!(%error, channel, "cannot connect to listen"),
        }
        tokio::time::sleep(RELISTEN_DELAY).await;
    }
}
