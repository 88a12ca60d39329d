//! The schema on a fresh database with projectors following the feed (by default those of the
//! incidents and the actors), so that mutations wait for the read models and queries read what
//! they wrote; requests through it as a recorder; counting the SQL statements a request runs.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Variables};
use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;
use sitrep_api::{build_schema, ApiContext, SitrepSchema};
use sitrep_domain::store::EventStore;
use sitrep_projections::actors::ActorsProjection;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::{Projection, Projector};
use sitrep_testkit::statements::{counting_statements, logging_pool};
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

/// The schema with the incidents and actors read models.
pub async fn api() -> Api {
    api_with(vec![
        Arc::new(IncidentsProjection::default()),
        Arc::new(ActorsProjection),
    ])
    .await
}

/// The schema with `projections` followed by their projectors (their live generations exist
/// before the first mutation waits for them).
pub async fn api_with(projections: Vec<Arc<dyn Projection>>) -> Api {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    let mut projectors = Vec::new();
    for projection in projections.iter().cloned() {
        let projector = Projector::new(store.clone(), projection);
        // The live generation exists before the first mutation waits for it.
        projector.live_generation().await.expect("live generation");
        projectors.push(tokio::spawn(async move {
            let _ = projector.run(std::future::pending()).await;
        }));
    }
    // The schema's own pool logs its statements (the test database's does not), so that a
    // test can count them.
    let logged = logging_pool(&db, 10).await;
    let mut context = ApiContext::new(EventStore::new(logged));
    context.projections = projections;
    context.read_your_writes = Duration::from_secs(10);
    Api {
        _db: db,
        schema: build_schema(context),
        store,
        projectors,
    }
}

/// The caller most tests run as: a recorder named "test recorder".
pub fn recorder() -> Caller {
    Caller::Token(TokenHolder {
        token_id: uuid::Uuid::nil(),
        name: "test recorder".to_owned(),
        role: Role::Recorder,
    })
}

impl Api {
    /// The whole response as JSON (`data` and `errors`).
    pub async fn run(&self, query: &str, variables: Value) -> Value {
        // Access control has its own tests (`tests/access.rs` at the top); these run as a
        // recorder.
        self.run_as(recorder(), query, variables).await
    }

    /// The whole response as JSON, run as `caller` (access control on).
    pub async fn run_as(&self, caller: Caller, query: &str, variables: Value) -> Value {
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller);
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

    /// The first error's extensions of a response that must fail, after checking that it
    /// appended nothing.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let before = self.events_stored().await;
        let response = self.run(query, variables).await;
        assert!(
            response.get("errors").is_some(),
            "expected an error: {response:#}"
        );
        assert_eq!(
            self.events_stored().await,
            before,
            "a failed request appended"
        );
        response["errors"][0]["extensions"].clone()
    }

    /// Stops the projectors (so that only the requests' statements run from then on).
    pub async fn stop_projectors(&mut self) {
        for projector in self.projectors.drain(..) {
            projector.abort();
            let _ = projector.await;
        }
    }

    /// `data` of `query` (which must have no errors) and how many SQL statements it ran (sqlx
    /// reports each as an event of target `sqlx::query` on this thread: a current-thread
    /// runtime, which the batch loaders' tasks run on too). Run as a recorder.
    pub async fn data_counting_statements(&self, query: &str, variables: Value) -> (Value, usize) {
        self.data_counting_statements_as(recorder(), query, variables)
            .await
    }

    /// The same, run as `caller`.
    pub async fn data_counting_statements_as(
        &self,
        caller: Caller,
        query: &str,
        variables: Value,
    ) -> (Value, usize) {
        let (response, count) = counting_statements(self.run_as(caller, query, variables)).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        (response["data"].clone(), count)
    }

    /// Waits until every followed read model has applied every event stored. A mutation waits
    /// only for the read models of its stream type; the others pass over its events when they
    /// next poll (every 250 ms), so a test comparing all of them waits for that first.
    pub async fn every_read_model_caught_up(&self) {
        let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM events")
            .fetch_all(self.store.pool())
            .await
            .expect("positions");
        sitrep_projections::status::wait_until_applied(
            self.store.pool(),
            &positions,
            Duration::from_secs(10),
        )
        .await
        .expect("every read model catches up with the log");
    }

    pub async fn events_stored(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }
}

/// Registers an actor and answers its id.
pub async fn register_actor(api: &Api, input: Value) -> String {
    let data = api
        .data(
            "mutation($input: RegisterActorInput!) { registerActor(input: $input) { actorId } }",
            json!({ "input": input }),
        )
        .await;
    data["registerActor"]["actorId"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Registers a site and answers its id.
pub async fn register_site(api: &Api, input: Value) -> String {
    let data = api
        .data(
            "mutation($input: RegisterSiteInput!) { registerSite(input: $input) { siteId } }",
            json!({ "input": input }),
        )
        .await;
    data["registerSite"]["siteId"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Al-Asad Airbase (Al Anbar, Iraq), used by US and Iraqi forces.
pub fn al_asad() -> Value {
    json!({
        "name": "Al-Asad Airbase",
        "kind": "AIR_BASE",
        "country": "IRQ",
        "admin1": "Al Anbar",
        "coordinates": { "latitude": 33.7856, "longitude": 42.4412 },
        "precision": "EXACT",
        "aliases": ["Ain al-Asad"],
        "operatedBy": ["USA", "IRQ"],
        "source": { "name": "troopdata" }
    })
}

/// Reports an attack on `day` at `site` naming `actors`, and answers the incident's id.
pub async fn report_at_site(api: &Api, day: &str, site: &str, actors: Value) -> String {
    let input = json!({
        "facts": {
            "time": { "start": day },
            "place": {
                "country": "IRQ", "admin1": "Al Anbar", "location": "Al-Asad Airbase",
                "coordinates": { "latitude": 33.7856, "longitude": 42.4412 },
                "precision": "EXACT", "site": site
            },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "SHELLING_ARTILLERY_MISSILE_ATTACK",
            "means": ["ROCKET"],
            "targetCategory": "FOREIGN_MILITARY_BASE",
            "fatalities": { "best": 0 }
        },
        "actors": actors,
        "sources": [{ "name": "CENTCOM", "scale": "INTERNATIONAL" }]
    });
    let data = api
        .data(
            "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { incidentId } }",
            json!({ "input": input }),
        )
        .await;
    data["reportIncident"]["incidentId"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// `base` with the fields of `extra` added or replaced.
pub fn merged(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}
