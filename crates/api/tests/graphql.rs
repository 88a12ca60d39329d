//! The GraphQL schema against a real database: mutations through the domain's command handler,
//! with the incidents projector following the feed, and queries of the read model.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Variables};
use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;
use sitrep_api::{build_schema, ApiContext, SitrepSchema};
use sitrep_domain::store::EventStore;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::Projector;
use sitrep_testkit::TestDb;
use tokio::task::JoinHandle;

struct Api {
    _db: TestDb,
    store: EventStore,
    schema: SitrepSchema,
    projector: JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.projector.abort();
    }
}

async fn api() -> Api {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    let incidents: Arc<dyn sitrep_projections::Projection> =
        Arc::new(IncidentsProjection::default());
    let projector = Projector::new(store.clone(), incidents.clone());
    // The live generation exists before the first mutation waits for it.
    projector.live_generation().await.expect("live generation");
    let projector = tokio::spawn(async move {
        let _ = projector.run(std::future::pending()).await;
    });
    let mut context = ApiContext::new(store.clone());
    context.read_your_writes = Duration::from_secs(10);
    context.projections = vec![incidents];
    Api {
        _db: db,
        schema: build_schema(context),
        store,
        projector,
    }
}

impl Api {
    /// The whole response as JSON (`data` and `errors`).
    async fn run(&self, query: &str, variables: Value) -> Value {
        // Access control has its own tests (`tests/access.rs`); these run as a recorder.
        self.run_as("test recorder", query, variables).await
    }

    /// The whole response to a request of the recorder named `name`.
    async fn run_as(&self, name: &str, query: &str, variables: Value) -> Value {
        let recorder = Caller::Token(TokenHolder {
            token_id: uuid::Uuid::nil(),
            name: name.to_owned(),
            role: Role::Recorder,
        });
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(recorder);
        serde_json::to_value(self.schema.execute(request).await).expect("a response serialises")
    }

    /// `data` of a response that must have no errors.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.run(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// The first error's extensions of a response that must fail.
    async fn error(&self, query: &str, variables: Value) -> Value {
        let response = self.run(query, variables).await;
        response["errors"][0]["extensions"].clone()
    }

    async fn events_stored(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }
}

const REPORT: &str = r#"
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) {
    incidentId version eventIds replayed caughtUp
    incident { id version status country location latitude eventType subEventType
               targetCategory fatalities { low best high } verification startDate }
  }
}"#;

/// The report of the drone attack on Tower 22 (Jordan, 28 January 2024), on `day`.
fn tower_22(day: &str) -> Value {
    json!({
        "facts": {
            "time": { "start": day },
            "place": {
                "country": "JOR", "location": "Tower 22",
                "coordinates": { "latitude": 33.32, "longitude": 38.69 },
                "precision": "EXACT"
            },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "AIR_DRONE_STRIKE",
            "means": ["ONE_WAY_DRONE"],
            "targetCategory": "FOREIGN_MILITARY_BASE",
            "fatalities": { "best": 3 },
            "injuries": { "low": 34, "best": 40, "high": 47 }
        },
        "sources": [{ "name": "CENTCOM", "scale": "INTERNATIONAL" }]
    })
}

#[tokio::test]
async fn a_reported_incident_is_read_back_as_the_read_model_shows_it() {
    let api = api().await;
    let data = api
        .data(REPORT, json!({ "input": tower_22("2024-01-28") }))
        .await;
    let payload = &data["reportIncident"];
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["replayed"], false);
    assert_eq!(payload["caughtUp"], true);
    assert_eq!(payload["eventIds"].as_array().map(Vec::len), Some(1));
    let incident = &payload["incident"];
    assert_eq!(incident["id"], payload["incidentId"]);
    assert_eq!(incident["status"], "ACTIVE");
    assert_eq!(incident["country"], "JOR");
    assert_eq!(incident["location"], "Tower 22");
    assert_eq!(incident["latitude"], 33.32);
    assert_eq!(incident["eventType"], "EXPLOSIONS_REMOTE_VIOLENCE");
    assert_eq!(incident["subEventType"], "AIR_DRONE_STRIKE");
    assert_eq!(incident["targetCategory"], "FOREIGN_MILITARY_BASE");
    assert_eq!(
        incident["fatalities"],
        json!({ "low": 3, "best": 3, "high": 3 })
    );
    assert_eq!(incident["verification"], "UNVERIFIED");
    assert_eq!(incident["startDate"], "2024-01-28");

    let id = payload["incidentId"].clone();
    let data = api
        .data(
            "query($id: UUID!) { incident(id: $id) { id version country } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["incident"]["country"], "JOR");
}

#[tokio::test]
async fn invalid_input_is_refused_with_its_field_and_rule_and_appends_nothing() {
    let api = api().await;
    let mut input = tower_22("2024-01-28");
    input["facts"]["place"]["coordinates"]["latitude"] = json!(123.0);
    let error = api.error(REPORT, json!({ "input": input })).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.facts.place.coordinates.latitude");
    assert!(error["rule"].as_str().is_some_and(|r| r.contains("-90")));

    let mut input = tower_22("2024-01-28");
    input["facts"]["fatalities"] = json!({ "best": -1 });
    let error = api.error(REPORT, json!({ "input": input })).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.facts.fatalities.best");

    // A sub-event type of another event type.
    let mut input = tower_22("2024-01-28");
    input["facts"]["subEventType"] = json!("PEACEFUL_PROTEST");
    let error = api.error(REPORT, json!({ "input": input })).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.facts.subEventType");

    assert_eq!(api.events_stored().await, 0);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_that_changes_nothing() {
    let api = api().await;
    let data = api
        .data(REPORT, json!({ "input": tower_22("2024-01-28") }))
        .await;
    let id = data["reportIncident"]["incidentId"].clone();
    let revise = r#"mutation($input: ReviseCasualtiesInput!) {
        reviseCasualties(input: $input) { version incident { fatalities { best } } } }"#;
    let error = api
        .error(
            revise,
            json!({ "input": { "incidentId": id, "fatalities": { "best": 4 },
                               "reason": "a soldier died of his wounds", "expectedVersion": 5 } }),
        )
        .await;
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(error["expectedVersion"], 5);
    assert_eq!(error["actualVersion"], 1);
    assert_eq!(api.events_stored().await, 1);

    let data = api
        .data(
            revise,
            json!({ "input": { "incidentId": id, "fatalities": { "best": 4 },
                               "reason": "a soldier died of his wounds", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(data["reviseCasualties"]["version"], 2);
    assert_eq!(
        data["reviseCasualties"]["incident"]["fatalities"]["best"], 4,
        "read-your-writes: the payload shows the revision"
    );
}

#[tokio::test]
async fn a_retried_request_with_its_idempotency_key_appends_nothing() {
    let api = api().await;
    let mut input = tower_22("2024-01-28");
    input["idempotencyKey"] = json!("tower-22-report");
    let first = api.data(REPORT, json!({ "input": input.clone() })).await;
    // The retry does not name the incident either: the key alone makes it the same request.
    let retry = api.data(REPORT, json!({ "input": input })).await;
    assert_eq!(retry["reportIncident"]["replayed"], true);
    assert_eq!(
        retry["reportIncident"]["eventIds"],
        first["reportIncident"]["eventIds"]
    );
    assert_eq!(
        retry["reportIncident"]["incidentId"],
        first["reportIncident"]["incidentId"]
    );
    assert_eq!(api.events_stored().await, 1);
}

#[tokio::test]
async fn an_idempotency_key_is_each_tokens_own() {
    let api = api().await;
    let mut input = tower_22("2024-01-28");
    input["idempotencyKey"] = json!("report-1");
    let mut other_report = tower_22("2024-01-29");
    other_report["idempotencyKey"] = json!("report-1");
    let run = |name: &'static str, input: &Value| {
        let api = &api;
        let variables = json!({ "input": input.clone() });
        async move {
            let response = api.run_as(name, REPORT, variables).await;
            assert!(response.get("errors").is_none(), "{response:#}");
            response["data"]["reportIncident"].clone()
        }
    };
    let desk = run("desk editor", &input).await;
    // Another token, the same key and another report: recorded, as an incident of its own.
    let field = run("field office", &other_report).await;
    assert_eq!(field["replayed"], false);
    assert_ne!(field["incidentId"], desk["incidentId"]);
    assert_ne!(field["eventIds"], desk["eventIds"]);
    // Another token, the same key and the same report: not a replay of the first token's.
    let wire = run("wire desk", &input).await;
    assert_eq!(wire["replayed"], false);
    assert_ne!(wire["incidentId"], desk["incidentId"]);
    // Each token's retry is its own first answer.
    let desk_retry = run("desk editor", &input).await;
    assert_eq!(desk_retry["replayed"], true);
    assert_eq!(desk_retry["incidentId"], desk["incidentId"]);
    assert_eq!(desk_retry["eventIds"], desk["eventIds"]);
    let field_retry = run("field office", &other_report).await;
    assert_eq!(field_retry["replayed"], true);
    assert_eq!(field_retry["eventIds"], field["eventIds"]);
    assert_eq!(api.events_stored().await, 3);
}

#[tokio::test]
async fn commands_the_state_refuses_and_unknown_incidents_have_their_codes() {
    let api = api().await;
    let data = api
        .data(REPORT, json!({ "input": tower_22("2024-01-28") }))
        .await;
    let id = data["reportIncident"]["incidentId"].clone();
    let restore = r#"mutation($input: RestoreIncidentInput!) {
        restoreIncident(input: $input) { version } }"#;
    let error = api
        .error(
            restore,
            json!({ "input": { "incidentId": id, "reason": "it was never retracted" } }),
        )
        .await;
    assert_eq!(error["code"], "INVALID_STATE");

    let error = api
        .error(
            restore,
            json!({ "input": { "incidentId": "0191e2c4-0000-7000-8000-000000000001",
                               "reason": "no such incident" } }),
        )
        .await;
    assert_eq!(error["code"], "NOT_FOUND");
    assert_eq!(api.events_stored().await, 1);
}

#[tokio::test]
async fn the_list_pages_by_cursor_and_counts_what_the_filter_selects() {
    let api = api().await;
    for day in ["2024-01-20", "2024-01-24", "2024-01-28"] {
        api.data(REPORT, json!({ "input": tower_22(day) })).await;
    }
    let list = r#"query($first: Int, $after: String, $filter: IncidentFilterInput) {
        incidents(first: $first, after: $after, filter: $filter) {
          totalCount
          edges { cursor node { startDate } }
          nodes { startDate }
          pageInfo { hasNextPage hasPreviousPage endCursor }
        } }"#;
    let first = api.data(list, json!({ "first": 2 })).await;
    let page = &first["incidents"];
    assert_eq!(page["totalCount"], 3);
    assert_eq!(
        page["nodes"],
        json!([{ "startDate": "2024-01-28" }, { "startDate": "2024-01-24" }])
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let after = page["pageInfo"]["endCursor"].clone();
    let second = api.data(list, json!({ "first": 2, "after": after })).await;
    assert_eq!(
        second["incidents"]["nodes"],
        json!([{ "startDate": "2024-01-20" }])
    );
    assert_eq!(second["incidents"]["pageInfo"]["hasNextPage"], false);

    let filtered = api
        .data(
            list,
            json!({ "filter": { "from": "2024-01-22", "countries": ["JOR"] } }),
        )
        .await;
    assert_eq!(filtered["incidents"]["totalCount"], 2);
    // Tower 22 lies at 33.32 N, 38.69 E.
    let around = json!({ "west": 38.0, "south": 33.0, "east": 39.0, "north": 34.0 });
    let boxed = api
        .data(list, json!({ "filter": { "boundingBox": around } }))
        .await;
    assert_eq!(boxed["incidents"]["totalCount"], 3);
    let elsewhere = json!({ "west": 44.0, "south": 33.0, "east": 45.0, "north": 34.0 });
    let boxed = api
        .data(list, json!({ "filter": { "boundingBox": elsewhere } }))
        .await;
    assert_eq!(boxed["incidents"]["totalCount"], 0);
    let none = api
        .data(list, json!({ "filter": { "countries": ["IRQ"] } }))
        .await;
    assert_eq!(none["incidents"]["totalCount"], 0);
    assert_eq!(none["incidents"]["edges"], json!([]));
}

#[tokio::test]
async fn list_arguments_out_of_bounds_are_bad_input() {
    let api = api().await;
    let error = api
        .error("{ incidents(first: 100000) { totalCount } }", json!({}))
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "first");
    let error = api
        .error(
            r#"{ incidents(after: "bm90IGEgY3Vyc29y") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "after");
    let error = api
        .error(
            r#"{ incidents(filter: { from: "2024-02-01", to: "2024-01-01" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["field"], "filter.to");
    let error = api
        .error(
            r#"{ incidents(filter: { countries: ["iraq"] }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["field"], "filter.countries[0]");
    let error = api
        .error(
            r#"{ incidents(filter: { boundingBox: { west: 0, south: -100, east: 10, north: 10 } }) {
                   totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "filter.boundingBox.southWest.latitude");
    let error = api
        .error(
            r#"{ incidents(filter: { boundingBox: { west: 10, south: 0, east: 0, north: 10 } }) {
                   totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["field"], "filter.boundingBox");
}

#[tokio::test]
async fn statistics_group_by_dimension_and_week() {
    let api = api().await;
    for day in ["2024-01-20", "2024-01-24", "2024-01-28"] {
        api.data(REPORT, json!({ "input": tower_22(day) })).await;
    }
    let data = api
        .data(
            r#"{ incidentStats(groupBy: [COUNTRY, TARGET_CATEGORY], bucket: WEEK) {
                   bucket keys incidents fatalities { low best high }
                   group { dimension value } } }"#,
            json!({}),
        )
        .await;
    let rows = data["incidentStats"].as_array().expect("rows");
    // 2024-01-20 is a Saturday (week of the 15th); the 24th and the 28th fall in the week of
    // the 22nd.
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["bucket"], "2024-01-15");
    assert_eq!(rows[0]["incidents"], 1);
    assert_eq!(rows[1]["bucket"], "2024-01-22");
    assert_eq!(rows[1]["incidents"], 2);
    assert_eq!(
        rows[1]["fatalities"],
        json!({ "low": 6, "best": 6, "high": 6 })
    );
    assert_eq!(rows[1]["keys"], json!(["JOR", "foreign_military_base"]));
    assert_eq!(
        rows[1]["group"],
        json!([
            { "dimension": "COUNTRY", "value": "JOR" },
            { "dimension": "TARGET_CATEGORY", "value": "foreign_military_base" }
        ])
    );
    let totals = api.data("{ incidentStats { incidents } }", json!({})).await;
    assert_eq!(totals["incidentStats"], json!([{ "incidents": 3 }]));
}

#[tokio::test]
async fn a_retracted_incident_leaves_the_list_but_stays_in_what_was_known_before() {
    let api = api().await;
    let data = api
        .data(REPORT, json!({ "input": tower_22("2024-01-28") }))
        .await;
    let id = data["reportIncident"]["incidentId"].clone();
    let reported_at: Value = sqlx::query_scalar::<_, String>(
        "SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
           FROM events",
    )
    .fetch_one(api.store.pool())
    .await
    .map(Value::String)
    .expect("recorded_at");
    let data = api
        .data(
            r#"mutation($input: RetractIncidentInput!) {
                 retractIncident(input: $input) { version incident { status } } }"#,
            json!({ "input": { "incidentId": id, "kind": "DUPLICATE",
                               "reason": "the same attack as another report" } }),
        )
        .await;
    assert_eq!(data["retractIncident"]["incident"]["status"], "RETRACTED");
    let count = "query($asOf: DateTime) { incidents(asOf: $asOf) { totalCount } }";
    assert_eq!(
        api.data(count, json!({})).await["incidents"]["totalCount"],
        0
    );
    assert_eq!(
        api.data(count, json!({ "asOf": reported_at })).await["incidents"]["totalCount"],
        1,
        "as known when it was reported"
    );
}

#[tokio::test]
async fn malformed_requests_get_the_codes_of_graphql() {
    let api = api().await;
    let error = api.error("{ incidents(", json!({})).await;
    assert_eq!(error["code"], "GRAPHQL_PARSE_FAILED");
    let error = api.error("{ noSuchField }", json!({})).await;
    assert_eq!(error["code"], "GRAPHQL_VALIDATION_FAILED");
    let error = api
        .error("{ incidents(first: \"many\") { totalCount } }", json!({}))
        .await;
    assert_eq!(error["code"], "GRAPHQL_VALIDATION_FAILED");
    let mut input = tower_22("2024-01-28");
    input["facts"]["eventType"] = json!("EARTHQUAKE");
    let error = api.error(REPORT, json!({ "input": input })).await;
    assert_eq!(error["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(api.events_stored().await, 0);
}

#[tokio::test]
async fn projection_status_reports_each_live_read_model() {
    let api = api().await;
    api.data(REPORT, json!({ "input": tower_22("2024-01-28") }))
        .await;
    let data = api
        .data(
            "{ projectionStatus { projection generation position eventsApplied eventsBehind } latestPosition }",
            json!({}),
        )
        .await;
    let status = &data["projectionStatus"][0];
    assert_eq!(status["projection"], "incidents");
    assert_eq!(status["eventsApplied"], 1);
    assert_eq!(status["position"], data["latestPosition"]);
    assert_eq!(status["eventsBehind"], 0);
}

#[tokio::test]
async fn an_amendment_changes_what_it_names_and_null_clears() {
    let api = api().await;
    let mut input = tower_22("2024-01-28");
    input["facts"]["notes"] = json!("first reports");
    let data = api.data(REPORT, json!({ "input": input })).await;
    let id = data["reportIncident"]["incidentId"].clone();
    let amend = r#"mutation($input: AmendIncidentInput!) {
        amendIncident(input: $input) {
          version eventIds
          incident { version location targetCategory startDate fatalities { best } }
        } }"#;
    let data = api
        .data(
            amend,
            json!({ "input": { "incidentId": id, "reason": "CENTCOM named the outpost",
                               "changes": { "place": {
                                   "country": "JOR", "location": "Tower 22 logistics base",
                                   "coordinates": { "latitude": 33.32, "longitude": 38.69 },
                                   "precision": "EXACT" },
                                 "targetCategory": null } } }),
        )
        .await;
    let amended = &data["amendIncident"];
    assert_eq!(amended["version"], 2);
    assert_eq!(amended["incident"]["version"], 2);
    assert_eq!(amended["incident"]["location"], "Tower 22 logistics base");
    assert_eq!(
        amended["incident"]["targetCategory"],
        Value::Null,
        "null cleared it"
    );
    assert_eq!(
        amended["incident"]["startDate"], "2024-01-28",
        "left out: unchanged"
    );
    assert_eq!(amended["incident"]["fatalities"]["best"], 3);

    // Nothing given, and a rule broken inside the changes: refused, nothing appended.
    let error = api
        .error(
            amend,
            json!({ "input": { "incidentId": id, "reason": "no-op", "changes": {} } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.changes");
    let error = api
        .error(
            amend,
            json!({ "input": { "incidentId": id, "reason": "typo",
                               "changes": { "fatalities": { "best": 2, "low": 5 } } } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert!(
        error["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("input.changes.fatalities")),
        "{error}"
    );
    assert_eq!(api.events_stored().await, 2);
}

#[tokio::test]
async fn arguments_that_fail_to_convert_while_a_field_runs_are_bad_input() {
    let api = api().await;
    let error = api
        .error(r#"{ incident(id: "not-a-uuid") { id } }"#, json!({}))
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT", "{error}");
    let error = api
        .error(
            "query($id: UUID!) { incident(id: $id) { id } }",
            json!({ "id": "not-a-uuid" }),
        )
        .await;
    assert!(
        error["code"] == "BAD_USER_INPUT" || error["code"] == "GRAPHQL_VALIDATION_FAILED",
        "{error}"
    );
}
