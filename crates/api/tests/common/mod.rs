//! Helpers shared by the API's tests of negotiations and troop levels: the schema on a fresh
//! database with the projectors of the read models it reads following the feed, and requests
//! through it.

#![allow(dead_code)]

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

    pub async fn events_stored(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }
}
