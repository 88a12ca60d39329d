//! What every resolver may use: the event store, the command handler over it, and how long a
//! mutation waits for the read models to show its write.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sitrep_domain::handler::CommandHandler;
use sitrep_domain::store::{EventStore, FEED_CHANNEL};
use sitrep_projections::status::{CheckpointWatch, APPLIED_CHANNEL};
use sitrep_projections::Projection;

use crate::auth::AccessPolicy;
use crate::metrics::Metrics;
use crate::wakers::ChannelWaker;

/// The data of the GraphQL schema.
#[derive(Clone)]
pub struct ApiContext {
    pub store: EventStore,
    pub handler: CommandHandler,
    /// A mutation waits at most this long for the projections to apply its events before it
    /// answers (read-your-writes); it answers anyway after that, saying so.
    pub read_your_writes: Duration,
    /// Who may do what without a token.
    pub access: AccessPolicy,
    /// Wakes the subscriptions of this server when events are recorded.
    pub feed_waker: ChannelWaker,
    /// Wakes the server's reader of the live checkpoints (below) each time a projector commits
    /// a page.
    pub applied_waker: ChannelWaker,
    /// The live checkpoints as last read (when a mutation's wait begins, and after each
    /// wake-up of `applied_waker` while one waits), which waiting mutations compare their
    /// events with; started when first needed.
    checkpoints: Arc<OnceLock<CheckpointWatch>>,
    /// The server's counters (`/metrics`).
    pub metrics: Metrics,
    /// The read models a mutation may wait for (all of them; tests that run fewer projectors
    /// name theirs): those that read the stream type it wrote to. One without a live
    /// generation yet counts as behind.
    pub projections: Vec<Arc<dyn Projection>>,
    /// Held while a `compareProjections` runs: one at a time per server.
    pub comparisons: Arc<tokio::sync::Semaphore>,
}

impl ApiContext {
    pub fn new(store: EventStore) -> Self {
        Self {
            handler: CommandHandler::new(store.clone()),
            store,
            read_your_writes: Duration::from_secs(5),
            access: AccessPolicy::default(),
            feed_waker: ChannelWaker::new(FEED_CHANNEL),
            applied_waker: ChannelWaker::new(APPLIED_CHANNEL),
            checkpoints: Arc::default(),
            metrics: Metrics::default(),
            projections: sitrep_projections::all(),
            comparisons: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The server's one reader of the live checkpoints, for mutations waiting to read their
    /// own writes (started by the first call, inside the server's runtime).
    pub fn checkpoint_watch(&self) -> CheckpointWatch {
        self.checkpoints
            .get_or_init(|| {
                CheckpointWatch::spawn(
                    self.store.pool().clone(),
                    self.applied_waker.subscribe(&self.store),
                )
            })
            .clone()
    }

    /// The names of the read models that show events of `stream_type`: those a mutation of
    /// that stream type waits for.
    pub fn projections_reading(&self, stream_type: &str) -> Vec<&'static str> {
        self.projections
            .iter()
            .filter(|projection| projection.stream_types().contains(&stream_type))
            .map(|projection| projection.name())
            .collect()
    }
}
