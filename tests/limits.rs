//! End to end: the limits a spawned `sitrep serve` puts on requests, each answered with a
//! proper error and never run: query depth, query complexity (pages counted by their size),
//! page size, body size. (The time limit is tested in `crates/api/src/graphql_http.rs`.)

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
        deep = format!("incidents(first: 1) {{ actors {{ actor {{ {deep} }} }} }}");
    }
    let (status, body) = server
        .post(
            None,
            &format!("{{ actors(first: 1) {{ nodes {{ {deep} }} }} }}"),
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

    // More than 10,000 fields in all.
    let wide: Vec<String> = (0..10_100)
        .map(|i| format!("f{i}: serverVersion"))
        .collect();
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

    // Few fields, but pages of pages: each list counts once per item it may hold.
    let (status, body) = server
        .post(
            None,
            "{ actors(first: 200) { nodes { incidents(first: 100) { actors { actor {
                 incidents(first: 100) { id } } } } } } }",
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
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );
    let (status, body) = server
        .post(
            None,
            "{ incidents(first: 500) { nodes { id location } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status, 200,
        "a full page of a few fields is allowed: {body}"
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
