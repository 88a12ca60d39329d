//! The export routes on a real database: who may fetch them, their media types and file names,
//! their parameters (and the 400s of bad ones), and bodies streamed a page at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::Value;
use sitrep_api::auth::{AccessPolicy, Role};
use sitrep_api::tokens;
use sitrep_api::{router, AppState};
use sitrep_domain::handler::{CommandHandler, CommandMeta};
use sitrep_domain::model::incident::{Incident, IncidentCommand, IncidentFacts, ReportIncident};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, GeoPrecision, Place, UncertainCount,
};
use sitrep_domain::model::vocab::{EventType, SubEventType};
use sitrep_domain::store::EventStore;
use sitrep_projections::actors::ActorsProjection;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::{Projection, Projector};
use sitrep_testkit::TestDb;
use tower::ServiceExt as _;
use uuid::Uuid;

/// An incident to report: the day, the country, and the coordinates (latitude, longitude) if
/// known.
type Reported<'a> = (&'a str, &'a str, Option<(f64, f64)>);

struct App {
    db: TestDb,
    store: EventStore,
    router: Router,
}

/// The router with anonymous reads allowed or not.
async fn app(anonymous_reads: bool) -> App {
    let db = TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 12).await;
    let store = EventStore::new(db.pool.clone());
    let mut state = AppState::new(store.clone());
    state.access = AccessPolicy { anonymous_reads };
    App {
        router: router(state),
        store,
        db,
    }
}

impl App {
    async fn get(&self, uri: &str, token: Option<&str>) -> Response {
        let mut request = Request::get(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.router
            .clone()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("a response")
    }

    /// Status, headers' content type and disposition, and body of a GET.
    async fn fetch(&self, uri: &str, token: Option<&str>) -> (StatusCode, String, String, String) {
        let response = self.get(uri, token).await;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, disposition) = (
            header(header::CONTENT_TYPE),
            header(header::CONTENT_DISPOSITION),
        );
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (
            status,
            content_type,
            disposition,
            String::from_utf8(body.to_vec()).expect("UTF-8"),
        )
    }

    /// Reports one incident per `(day, country, coordinates)`; their ids.
    async fn report(&self, incidents: &[Reported<'_>]) -> Vec<Uuid> {
        let handler = CommandHandler::new(self.store.clone());
        let mut ids = Vec::new();
        for (day, country, coordinates) in incidents {
            let id = Uuid::new_v4();
            let mut place = Place::country(CountryCode::new(country).expect("country"));
            if let Some((latitude, longitude)) = coordinates {
                place.coordinates = Some(Coordinates {
                    latitude: *latitude,
                    longitude: *longitude,
                });
                place.precision = GeoPrecision::Exact;
            }
            let command = IncidentCommand::ReportIncident(ReportIncident {
                facts: IncidentFacts {
                    time: EventTime::day(day.parse().expect("a day")),
                    place,
                    event_type: EventType::ExplosionsRemoteViolence,
                    sub_event_type: SubEventType::AirDroneStrike,
                    means: Vec::new(),
                    target_category: None,
                    fatalities: UncertainCount::exactly(1),
                    injuries: None,
                    notes: Some("reported".into()),
                    tags: Vec::new(),
                    external_refs: Vec::new(),
                    attributes: BTreeMap::new(),
                },
                actors: Vec::new(),
                sources: Vec::new(),
            });
            handler
                .execute::<Incident>(id, &command, &CommandMeta::by("analyst"))
                .await
                .expect("report");
            ids.push(id);
        }
        ids
    }

    /// The read models the exports read, caught up with the log.
    async fn catch_up(&self) {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.db.pool)
            .await
            .expect("count");
        let projections: [Arc<dyn Projection>; 2] = [
            Arc::new(IncidentsProjection::default()),
            Arc::new(ActorsProjection),
        ];
        for projection in projections {
            let projector = Projector::new(self.store.clone(), projection);
            let mut generation = projector.live_generation().await.expect("live");
            let mut tries = 0;
            while generation.events_applied < total {
                projector.catch_up(&mut generation).await.expect("catch up");
                tries += 1;
                assert!(tries < 2000, "the read models did not catch up");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }

    async fn token(&self, role: Role) -> String {
        tokens::issue(&self.db.pool, role.as_str(), role)
            .await
            .expect("a token")
            .secret
    }
}

fn error_of(body: &str) -> Value {
    let value: Value = serde_json::from_str(body).expect("a JSON error");
    value["error"].clone()
}

fn csv_ids(body: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    reader
        .records()
        .map(|r| r.expect("a record")[0].to_owned())
        .collect()
}

#[tokio::test]
async fn exports_need_a_readers_token_and_answer_files() {
    let app = app(false).await;
    let viewer = app.token(Role::Viewer).await;

    // No read model yet: unavailable, for now.
    let (status, _, _, body) = app.fetch("/export/incidents.csv", Some(&viewer)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_of(&body)["code"], "UNAVAILABLE");

    let ids = app
        .report(&[
            ("2024-01-20", "IRQ", None),
            ("2024-01-28", "JOR", Some((33.3152, 38.7033))),
            ("2024-01-25", "SYR", Some((35.0, 40.1))),
        ])
        .await;
    app.catch_up().await;
    let [iraq, jordan, syria] = [ids[0], ids[1], ids[2]].map(|id| id.to_string());

    // Anonymous, with anonymous reads off: 401 with a challenge; a dead token too.
    let response = app.get("/export/incidents.geojson", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    let (status, _, _, body) = app.fetch("/export/incidents.geojson", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body)["code"], "UNAUTHENTICATED");
    let (status, _, _, body) = app
        .fetch("/export/incidents.csv", Some("not-a-token"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A viewer: each format with its media type and file name.
    let (status, content_type, disposition, body) =
        app.fetch("/export/incidents.geojson", Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/geo+json");
    assert_eq!(disposition, "attachment; filename=\"incidents.geojson\"");
    let collection: Value = serde_json::from_str(&body).expect("GeoJSON");
    let features = collection["features"].as_array().expect("features");
    let feature_ids: Vec<&str> = features.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(feature_ids, [&iraq, &syria, &jordan]);
    assert_eq!(features[0]["geometry"], Value::Null);
    assert_eq!(
        features[2]["geometry"]["coordinates"],
        serde_json::json!([38.7033, 33.3152])
    );

    let (status, content_type, disposition, body) =
        app.fetch("/export/incidents.csv", Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(disposition, "attachment; filename=\"incidents.csv\"");
    assert_eq!(
        csv_ids(&body),
        [iraq.clone(), syria.clone(), jordan.clone()]
    );

    let (status, content_type, disposition, body) = app
        .fetch("/export/incidents.acled.csv", Some(&viewer))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(disposition, "attachment; filename=\"incidents.acled.csv\"");
    assert!(body.starts_with("event_id_cnty,event_date,year,"), "{body}");
    assert_eq!(
        csv_ids(&body),
        [iraq, syria.clone(), jordan.clone()].map(|id| format!("SITREP-{id}"))
    );

    // Other roles read too.
    for role in [Role::Recorder, Role::Auditor, Role::Admin] {
        let token = app.token(role).await;
        let (status, _, _, body) = app.fetch("/export/incidents.csv", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
    }

    // Filters in the query string; a list parameter repeats.
    let (status, _, _, body) = app
        .fetch(
            "/export/incidents.csv?country=JOR&country=SYR&from=2024-01-21&eventType=Explosions%2FRemote+violence",
            Some(&viewer),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(csv_ids(&body), [syria.clone(), jordan.clone()]);
    let (status, _, _, body) = app
        .fetch(
            "/export/incidents.geojson?asOf=2000-01-01T00:00:00Z",
            Some(&viewer),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let collection: Value = serde_json::from_str(&body).expect("GeoJSON");
    assert_eq!(collection["features"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = app(true).await;
    app.catch_up().await;
    for (query, field) in [
        ("country=Iraq", "country"),
        ("eventType=Skirmish", "eventType"),
        ("from=2024-02-30", "from"),
        ("from=2024-02-01&to=2024-01-01", "to"),
        ("asOf=yesterday", "asOf"),
        ("actor=someone", "actor"),
        ("bbox=1,2,3,4", "bbox"),
        (
            "asOf=2024-01-01T00:00:00Z&asOf=2024-01-02T00:00:00Z",
            "asOf",
        ),
    ] {
        let (status, content_type, _, body) = app
            .fetch(&format!("/export/incidents.geojson?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let error = error_of(&body);
        assert_eq!(error["code"], "BAD_USER_INPUT", "{query}");
        assert_eq!(error["field"], field, "{query}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(field)),
            "{query}: {error}"
        );
    }
    // Anonymous reads allowed: anonymous gets the file.
    let (status, _, _, body) = app.fetch("/export/incidents.csv", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_body_is_streamed_a_page_at_a_time() {
    let app = app(true).await;
    // 2,200 incidents: three pages of at most 1,000.
    let days: Vec<String> = (0..2_200)
        .map(|i| format!("2024-01-{:02}", 1 + i % 28))
        .collect();
    let incidents: Vec<Reported> = days.iter().map(|d| (d.as_str(), "IRQ", None)).collect();
    app.report(&incidents).await;
    app.catch_up().await;

    let response = app.get("/export/incidents.geojson", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response.headers().contains_key(header::CONTENT_LENGTH),
        "a streamed body has no length up front"
    );
    let mut body = response.into_body();
    assert_eq!(axum::body::HttpBody::size_hint(&body).exact(), None);
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        let data = frame.expect("a frame").into_data().expect("data");
        frames.push(data);
    }
    // The opening, three pages, the closing: each its own frame.
    assert_eq!(frames.len(), 5, "frames: {}", frames.len());
    let whole: Vec<u8> = frames.concat();
    let collection: Value = serde_json::from_slice(&whole).expect("GeoJSON");
    assert_eq!(collection["features"].as_array().map(Vec::len), Some(2_200));
}

#[tokio::test]
async fn a_server_streams_a_few_exports_at_once() {
    let app = app(true).await;
    app.catch_up().await;
    // Responses whose bodies are not read yet hold their exports open.
    let mut open = Vec::new();
    for _ in 0..sitrep_api::exports::MAX_CONCURRENT_EXPORTS {
        let response = app.get("/export/incidents.csv", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let (status, _, _, body) = app.fetch("/export/incidents.geojson", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_of(&body)["code"], "UNAVAILABLE");
    // One read to its end, one dropped: two more may run.
    let first = open.remove(0);
    first.into_body().collect().await.expect("a body");
    drop(open.remove(0));
    for _ in 0..2 {
        let response = app.get("/export/incidents.csv", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let (status, _, _, _) = app.fetch("/export/incidents.csv", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
