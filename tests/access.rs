//! End to end: who may do what, over real HTTP against a spawned `sitrep serve`, with tokens
//! issued by `sitrep token issue` and revoked by `sitrep token revoke`.
//!
//! Every role and every kind of caller is tried against every class of operation the API has:
//! queries (read) and mutations (record). A refused mutation appends nothing; an accepted one
//! records the token's name as its author (no input of the API names an author at all).

mod common;

use common::{issue_token, sitrep, Server};
use serde_json::{json, Value};
use sitrep_testkit::TestDb;

const READ: &str = "{ serverVersion latestPosition }";

const RECORD: &str = r#"
mutation Report($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incidentId version }
}"#;

/// A report of a rocket attack on Ain al-Asad air base, unique by `key`.
fn report(key: &str) -> Value {
    json!({ "input": {
        "idempotencyKey": key,
        "facts": {
            "time": { "start": "2024-01-20" },
            "place": {
                "country": "IRQ", "location": "Ain al-Asad", "precision": "EXACT",
                "coordinates": { "latitude": 33.8, "longitude": 42.44 }
            },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "SHELLING_ARTILLERY_MISSILE_ATTACK",
            "fatalities": { "best": 0 }
        }
    }})
}

/// How a request came out: allowed, or refused with this HTTP status and `extensions.code`.
#[derive(Debug, PartialEq)]
enum Outcome {
    Allowed,
    Refused(u16, String),
}

fn refused(status: u16, code: &str) -> Outcome {
    Outcome::Refused(status, code.to_owned())
}

async fn outcome(server: &Server, token: Option<&str>, query: &str, variables: Value) -> Outcome {
    let (status, body) = server.post(token, query, variables).await;
    match body.get("errors") {
        None if status == 200 => Outcome::Allowed,
        _ => {
            assert!(
                body.get("data").is_none(),
                "a refused operation runs nothing: {body:#}"
            );
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("no code")
                .to_owned();
            Outcome::Refused(status, code)
        }
    }
}

async fn events(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT recorded_by FROM events ORDER BY position")
        .fetch_all(&db.pool)
        .await
        .expect("events")
}

#[tokio::test]
async fn every_role_against_every_operation_class() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let viewer = issue_token(&url, "viewer", "dashboard wall");
    let recorder = issue_token(&url, "recorder", "desk editor");
    let auditor = issue_token(&url, "auditor", "audit office");
    let admin = issue_token(&url, "admin", "operations");

    // Anonymous: reads (the default), never records.
    assert_eq!(
        outcome(&server, None, READ, json!({})).await,
        Outcome::Allowed
    );
    assert_eq!(
        outcome(&server, None, RECORD, report("anonymous")).await,
        refused(401, "UNAUTHENTICATED")
    );
    // Viewer and auditor read and do not record.
    for token in [&viewer, &auditor] {
        assert_eq!(
            outcome(&server, Some(token), READ, json!({})).await,
            Outcome::Allowed
        );
        assert_eq!(
            outcome(&server, Some(token), RECORD, report(token)).await,
            refused(403, "FORBIDDEN")
        );
    }
    assert!(events(&db).await.is_empty(), "refused mutations appended");

    // Recorder and admin read and record, as themselves.
    for token in [&recorder, &admin] {
        assert_eq!(
            outcome(&server, Some(token), READ, json!({})).await,
            Outcome::Allowed
        );
        assert_eq!(
            outcome(&server, Some(token), RECORD, report(token)).await,
            Outcome::Allowed
        );
    }
    assert_eq!(events(&db).await, ["desk editor", "operations"]);

    // A token that is not one, a revoked one, and another scheme: refused before anything runs.
    let forged = format!("sitrep_{}", "0".repeat(64));
    let revoked = sitrep(&url, &["token", "revoke", "--name", "desk editor"]);
    assert!(revoked.status.success());
    // The server remembers live tokens and forgets them all when it hears of a revocation
    // (`NOTIFY sitrep_tokens`, sent as the revocation commits): within milliseconds, not at once.
    let heard_by = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while outcome(&server, Some(&recorder), READ, json!({})).await == Outcome::Allowed {
        assert!(
            std::time::Instant::now() < heard_by,
            "a revoked token still works 2 s after its revocation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for token in [forged.as_str(), "not-a-token", recorder.as_str()] {
        assert_eq!(
            outcome(&server, Some(token), READ, json!({})).await,
            refused(401, "UNAUTHENTICATED"),
            "token {token}"
        );
    }
    let basic = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .header("authorization", "Basic ZGVzazplZGl0b3I=")
        .body(json!({ "query": READ }).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(basic.status(), 401);
    assert!(basic.headers().contains_key("www-authenticate"));
    assert_eq!(events(&db).await.len(), 2);
    server.stop();
}

#[tokio::test]
async fn anonymous_reads_can_be_turned_off() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &["--anonymous-reads", "false"]).await;
    let viewer = issue_token(&url, "viewer", "dashboard wall");
    assert_eq!(
        outcome(&server, None, READ, json!({})).await,
        refused(401, "UNAUTHENTICATED")
    );
    assert_eq!(
        outcome(&server, Some(&viewer), READ, json!({})).await,
        Outcome::Allowed
    );
    server.stop();
}

#[tokio::test]
async fn tokens_are_listed_stored_hashed_and_named_once() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let token = issue_token(&url, "recorder", "desk editor");
    assert!(
        token.starts_with("sitrep_") && token.len() == 7 + 64,
        "{token}"
    );
    let again = sitrep(
        &url,
        &[
            "token",
            "issue",
            "--role",
            "viewer",
            "--name",
            "desk editor",
        ],
    );
    assert!(!again.status.success(), "a second live token of one name");
    let unknown_role = sitrep(&url, &["token", "issue", "--role", "root", "--name", "x"]);
    assert!(!unknown_role.status.success());
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&db.pool)
        .await
        .expect("tokens");
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0]
            .windows(8)
            .any(|w| token.as_bytes().windows(8).any(|t| t == w)),
        "the token itself is not stored"
    );
    let list = sitrep(&url, &["token", "list"]);
    let listed = String::from_utf8(list.stdout).expect("utf-8");
    assert!(listed.contains("recorder\tdesk editor") && listed.contains("live"));
    assert!(!listed.contains(&token));
    let revoke_unknown = sitrep(&url, &["token", "revoke", "--name", "nobody"]);
    assert!(!revoke_unknown.status.success());
}
