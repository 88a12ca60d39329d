//! End to end: `sitrep demo` loads its story through the domain's commands into a fresh
//! database, a second run appends nothing, and the log verifies afterwards.

mod common;

use std::process::Output;

use common::sitrep;

use serde_json::Value;
use sitrep_testkit::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

/// The Tower 22 incident's stream, as the demo fixes it.
const TOWER_22_INCIDENT: &str = "5173d3e0-0000-8000-8000-000000000304";
/// The correlation id of every demo event.
const CORRELATION_ID: &str = "5173d3e0-0000-8000-8000-000000000001";

/// The events the story holds, by stream type.
const EXPECTED: &[(&str, i64)] = &[
    ("actor", 5),            // 4 actors registered, 1 affiliation
    ("incident", 7),         // 4 reports, 1 attribution, 1 casualty revision, 1 verification
    ("negotiation", 6),      // opened, 1 session, 3 working groups, 1 position
    ("site", 3),             // 3 sites registered
    ("troop_deployment", 4), // 2 deployments established, 2 troop levels
];

fn assert_success(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

async fn counts_by_stream_type(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT stream_type, count(*) FROM events GROUP BY stream_type ORDER BY stream_type",
    )
    .fetch_all(pool)
    .await
    .expect("count events")
}

fn expected() -> Vec<(String, i64)> {
    EXPECTED
        .iter()
        .map(|(t, n)| ((*t).to_owned(), *n))
        .collect()
}

#[tokio::test]
async fn demo_loads_the_story_once_and_verifies() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();

    let first = assert_success(&sitrep(&url, &["demo"]), "the first sitrep demo");
    assert!(
        first.contains("25 appended,   0 already there"),
        "first run:\n{first}"
    );
    assert!(first.contains(TOWER_22_INCIDENT), "lists the streams");
    assert!(
        first.contains(&format!("correlation_id = '{CORRELATION_ID}'")),
        "prints the SQL for its events"
    );
    assert_eq!(counts_by_stream_type(&db.pool).await, expected());

    // Every event went through the handler with the demo's metadata.
    let correlation = Uuid::parse_str(CORRELATION_ID).expect("uuid");
    let tagged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE correlation_id = $1 AND recorded_by = 'sitrep demo'",
    )
    .bind(correlation)
    .fetch_one(&db.pool)
    .await
    .expect("count tagged events");
    assert_eq!(tagged, 25);

    // Every payload, written straight from the typed event (no JSON tree), is in the canonical
    // form the tree writer gives: the same text, so digests and idempotent retries agree.
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM events")
        .fetch_all(&db.pool)
        .await
        .expect("read the payloads");
    for payload in &payloads {
        let tree: Value = serde_json::from_str(payload).expect("JSON payload");
        assert_eq!(
            sitrep_domain::store::CanonicalJson::from(&tree).as_str(),
            payload
        );
    }

    // Tower 22: reported with the first figures, corrected with a reason, then verified.
    let tower_22 = Uuid::parse_str(TOWER_22_INCIDENT).expect("uuid");
    let stream: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT event_type, reason, payload::text FROM events WHERE stream_id = $1 \
         ORDER BY stream_version",
    )
    .bind(tower_22)
    .fetch_all(&db.pool)
    .await
    .expect("read the Tower 22 stream");
    let types: Vec<&str> = stream.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "IncidentReported",
            "CasualtiesRevised",
            "VerificationChanged"
        ]
    );
    let (_, reason, payload) = &stream[1];
    assert_eq!(
        reason.as_deref(),
        Some("Pentagon raised the count of injured")
    );
    let payload: Value = serde_json::from_str(payload).expect("JSON payload");
    assert_eq!(payload["injuries"]["best"], 40);
    assert_eq!(payload["injuries"]["words"], "more than 40");
    let reported: Value = serde_json::from_str(&stream[0].2).expect("JSON payload");
    assert_eq!(reported["facts"]["injuries"]["best"], 34);
    assert_eq!(reported["facts"]["fatalities"]["best"], 3);
    assert_eq!(reported["facts"]["place"]["country"], "JOR");

    // A second run replays every command and appends nothing.
    let last_position = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(position) FROM events")
            .fetch_one(&db.pool)
            .await
            .expect("latest position")
    };
    let before = last_position().await;
    let second = assert_success(&sitrep(&url, &["demo"]), "the second sitrep demo");
    assert!(
        second.contains("0 appended,  25 already there"),
        "second run:\n{second}"
    );
    assert_eq!(counts_by_stream_type(&db.pool).await, expected());
    assert_eq!(last_position().await, before);

    let verify = assert_success(&sitrep(&url, &["verify"]), "sitrep verify");
    assert!(verify.contains("intact"), "verify:\n{verify}");
}
