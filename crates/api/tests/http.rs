//! The HTTP surface on a real database: GraphQL over GET and POST, GraphiQL for a browser, the
//! body limit, malformed bodies, and the health and readiness checks.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use sitrep_api::graphql_http::MAX_BODY_BYTES;
use sitrep_api::{router, AppState};
use sitrep_domain::store::EventStore;
use sitrep_testkit::TestDb;
use tower::ServiceExt as _;

async fn app() -> (TestDb, Router) {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    (db, router(AppState::new(store)))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("a response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn queries_go_by_get_and_by_post() {
    let (_db, app) = app().await;
    let (status, body) = send(
        &app,
        Request::get("/graphql?query=%7BlatestPosition%7D")
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["data"]["latestPosition"], 0);

    let (status, body) = send(
        &app,
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"query":"{ latestPosition }"}"#))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"latestPosition\":0"), "{body}");
}

#[tokio::test]
async fn a_browser_gets_graphiql() {
    let (_db, app) = app().await;
    let (status, body) = send(
        &app,
        Request::get("/graphql")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.to_lowercase().contains("graphiql"), "{body}");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_client_errors() {
    let (_db, app) = app().await;
    let (status, _) = send(
        &app,
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"query": "{ latestPosition }""#))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let huge = format!(
        r#"{{"query":"{{ latestPosition }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let (status, _) = send(
        &app,
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(huge))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_and_readiness() {
    let (db, app) = app().await;
    let (status, body) = send(
        &app,
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        &app,
        Request::get("/readyz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    // No read model is built yet: not ready, and each one is named.
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    for projection in sitrep_projections::all() {
        assert!(body.contains(projection.name()), "{body}");
    }
    // Every read model live (on an empty log, so caught up): ready.
    let store = EventStore::new(db.pool.clone());
    for projection in sitrep_projections::all() {
        sitrep_projections::Projector::new(store.clone(), projection)
            .live_generation()
            .await
            .expect("live generation");
    }
    let (status, body) = send(
        &app,
        Request::get("/readyz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("ready"), "{body}");
}

#[tokio::test]
async fn requests_carry_an_id_and_are_counted_in_the_metrics() {
    let (_db, app) = app().await;
    let response = app
        .clone()
        .oneshot(
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-request-id", "dashboard-42")
                .body(Body::from(r#"{"query":"{ latestPosition }"}"#))
                .expect("request"),
        )
        .await
        .expect("a response");
    assert_eq!(response.headers()["x-request-id"], "dashboard-42");
    let response = app
        .clone()
        .oneshot(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("a response");
    let generated = response.headers()["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    let (status, text) = send(
        &app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            "sitrep_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "sitrep_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1\n"
    ));
    assert!(text.contains(
        "sitrep_http_request_duration_seconds_count{route=\"/graphql\",method=\"POST\"} 1\n"
    ));
    assert!(text.contains("# TYPE sitrep_projection_lag_seconds gauge"));
}

#[tokio::test]
async fn requests_that_cannot_run_say_why_with_a_code() {
    let (_db, app) = app().await;
    let post = |body: &'static str, content_type: &'static str| {
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/graphql-response+json")
            .body(Body::from(body))
            .expect("request")
    };
    for (request, status) in [
        // Two operations and no name to choose one.
        (
            post(
                r#"{"query":"query A { serverVersion } query B { serverVersion }"}"#,
                "application/json",
            ),
            StatusCode::BAD_REQUEST,
        ),
        // An operation the document does not have.
        (
            post(
                r#"{"query":"query A { serverVersion }","operationName":"C"}"#,
                "application/json",
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            post("{ not json", "application/json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(r#"{"query":"{ serverVersion }"}"#, "text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (got, body) = send(&app, request).await;
        assert_eq!(got, status, "{body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{body}"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
}
