//! End to end: the limits a spawned `sitrep serve` puts on requests, each answered with a
//! proper error and never run: query depth, query complexity, page size, body size, and the
//! time a request may run.

mod common;

use common::Server;
use serde_json::json;
use sitrep_testkit::TestDb;

fn code(body: &serde_json::Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("no code")
}

#[tokio::test]
async fn oversized_requests_are_refused_before_they_run() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let server = Server::on(&db.url(), &[]).await;

    // Deeper than 12 levels (actors' incidents' actors' ...).
    let mut deep = String::from("id");
    for _ in 0..5 {
        deep = format!("incidents {{ actors {{ actor {{ {deep} }} }} }}");
    }
    let (status, body) = server
        .post(
            None,
            &format!("{{ actors {{ nodes {{ {deep} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deep")),
        "{body}"
    );

    // More than 2,000 fields in all.
    let wide: Vec<String> = (0..2_100).map(|i| format!("f{i}: serverVersion")).collect();
    let (status, body) = server
        .post(None, &format!("{{ {} }}", wide.join(" ")), json!({}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );

    // A page larger than the cap.
    let (status, body) = server
        .post(None, "{ incidents(first: 501) { totalCount } }", json!({}))
        .await;
    assert_eq!((status, code(&body)), (200, "BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "first");

    // A body over 1 MiB.
    let huge = "x".repeat(1024 * 1024 + 1);
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .body(json!({ "query": format!("# {huge}\n{{ serverVersion }}") }).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 413);
    server.stop();
}
