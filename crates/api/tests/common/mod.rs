//! Helpers shared by the API's tests of negotiations and troop levels: the schema on a fresh
//! database with the projectors of the read models it reads following the feed, and requests
//! through it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Variables};
use serde_json::Value;
use sitrep_api::{build_schema, ApiContext, SitrepSchema};
use sitrep_domain::store::EventStore;
use sitrep_projections::{Projection, Projector};
use sitrep_testkit::TestDb;
use tokio::task::JoinHandle;

pub struct Api {
    _db: TestDb,
    pub store: EventStore,
    pub schema: SitrepSchema,
    projectors: Vec<JoinHandle<()>>,
}

impl Drop for Api {
    fn drop(&mut self) {
        for projector in &self.projectors {
            projector.abort();
        }
    }
}

/// The schema over a fresh database, with `projections` followed by their projectors (their
/// live generations exist before the first mutation waits for them).
pub async fn api(projections: Vec<Arc<dyn Projection>>) -> Api {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    let mut projectors = Vec::new();
    for projection in projections {
        let projector = Projector::new(store.clone(), projection);
        projector.live_generation().await.expect("live generation");
        projectors.push(tokio::spawn(async move {
            let _ = projector.run(std::future::pending()).await;
        }));
    }
    let mut context = ApiContext::new(store.clone());
    context.read_your_writes = Duration::from_secs(10);
    Api {
        _db: db,
        schema: build_schema(context),
        store,
        projectors,
    }
}

impl Api {
    /// The whole response as JSON (`data` and `errors`).
    pub async fn run(&self, query: &str, variables: Value) -> Value {
        let request = Request::new(query).variables(Variables::from_json(variables));
        serde_json::to_value(self.schema.execute(request).await).expect("a response serialises")
    }

    /// `data` of a response that must have no errors.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.run(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// The first error's extensions of a response that must fail.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let response = self.run(query, variables).await;
        assert!(
            response.get("errors").is_some(),
            "expected an error: {response:#}"
        );
        response["errors"][0]["extensions"].clone()
    }

    /// Stops the projectors (so that only the requests run statements from here on).
    pub async fn stop_projectors(&mut self) {
        for projector in self.projectors.drain(..) {
            projector.abort();
            let _ = projector.await;
        }
    }

    /// A schema over the same database whose connections log their statements (the test
    /// database's own pool does not), for [`Api::data_counting_statements`].
    pub async fn logging_schema(&self) -> SitrepSchema {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect_with(self._db.connect_options())
            .await
            .expect("connect");
        build_schema(ApiContext::new(EventStore::new(pool)))
    }

    /// `data` of `query` on `schema` (which must have no errors), and how many SQL statements
    /// answering it ran (counted by sqlx's statement log, on this thread: the test's runtime).
    pub async fn data_counting_statements(
        schema: &SitrepSchema,
        query: &str,
        variables: Value,
    ) -> (Value, usize) {
        let count = Arc::new(AtomicUsize::new(0));
        let guard = tracing::subscriber::set_default(StatementCounter(count.clone()));
        let request = Request::new(query).variables(Variables::from_json(variables));
        let response = serde_json::to_value(schema.execute(request).await).expect("serialises");
        drop(guard);
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        (response["data"].clone(), count.load(Ordering::SeqCst))
    }

    pub async fn events_stored(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }
}

/// Counts the statements sqlx logs (target `sqlx::query`, one event per statement run).
struct StatementCounter(Arc<AtomicUsize>);

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
