//! What every resolver may use: the event store, the command handler over it, and how long a
//! mutation waits for the read models to show its write.

use std::time::Duration;

use sitrep_domain::handler::CommandHandler;
use sitrep_domain::store::EventStore;

use crate::auth::AccessPolicy;
use crate::metrics::Metrics;
use crate::subscriptions::FeedWaker;

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
    pub feed_waker: FeedWaker,
    /// The server's counters (`/metrics`).
    pub metrics: Metrics,
}

impl ApiContext {
    pub fn new(store: EventStore) -> Self {
        Self {
            handler: CommandHandler::new(store.clone()),
            store,
            read_your_writes: Duration::from_secs(5),
            access: AccessPolicy::default(),
            feed_waker: FeedWaker::default(),
            metrics: Metrics::default(),
        }
    }
}
