//! End to end: `verifyIntegrity` over HTTP (auditors and admins only) and `sitrep verify` on
//! the command line name the first broken position of a log tampered with behind sitrep's back
//! (the append-only trigger switched off): an altered payload, an altered hash, a row removed in
//! the middle of a stream, the last row of a stream removed (only the seal sees it), a forged
//! row. After each, the log is put back and verifies again.

mod common;

use std::time::{Duration, Instant};

use common::{issue_token, sitrep, Server};
use serde_json::{json, Value};
use sitrep_domain::store::EventStore;
use sitrep_testkit::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

/// The Tower 22 incident's stream, as the demo fixes it (three events).
const TOWER_22: &str = "5173d3e0-0000-8000-8000-000000000304";

const VERIFY: &str = "query($from: BigInt, $to: BigInt) { verifyIntegrity(from: $from, to: $to) { \
     intact from to eventsChecked sealsChecked \
     firstBreak { position problem message streamId version sealNo } } }";

/// Seals until every event is covered (another test's open transaction may hold some back).
async fn seal_everything(pool: &PgPool) {
    let store = EventStore::new(pool.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (events, sealed): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), \
                    (SELECT coalesce(sum(event_count), 0)::int8 FROM feed_seals)",
        )
        .fetch_one(pool)
        .await
        .expect("counts");
        if sealed == events {
            return;
        }
        assert!(Instant::now() < deadline, "events stayed unsealed");
        if store.seal().await.expect("seal").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runs `sql` (one statement or more) with the append-only trigger off, as someone bypassing sitrep would.
async fn tamper(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.expect("begin");
    for statement in [
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        sql,
        "ALTER TABLE events ENABLE TRIGGER events_append_only",
    ] {
        sqlx::raw_sql(statement)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    tx.commit().await.expect("commit");
}

async fn position_of(pool: &PgPool, stream: &str, version: i64) -> i64 {
    sqlx::query_scalar("SELECT position FROM events WHERE stream_id = $1 AND stream_version = $2")
        .bind(Uuid::parse_str(stream).expect("uuid"))
        .bind(version)
        .fetch_one(pool)
        .await
        .expect("position")
}

/// `verifyIntegrity` as `token`'s holder: the report.
async fn verify(server: &Server, token: &str, variables: Value) -> Value {
    server.data(Some(token), VERIFY, variables).await["verifyIntegrity"].clone()
}

/// The code of the error `verifyIntegrity` answers `token`'s holder with.
async fn refusal(server: &Server, token: Option<&str>) -> Value {
    let (_, body) = server.post(token, VERIFY, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body:#}");
    body["errors"][0]["extensions"]["code"].clone()
}

/// `sitrep verify <args>`: its exit code and stdout.
fn verify_command(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = sitrep(url, &[&["verify"], args].concat());
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("UTF-8"),
    )
}

#[tokio::test]
async fn verify_integrity_names_each_tampering_over_http_and_on_the_command_line() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let demo = sitrep(&url, &["demo"]);
    assert!(demo.status.success(), "{demo:?}");
    seal_everything(&db.pool).await;
    let server = Server::on(&url, &["--seal-interval", "0"]).await;
    let viewer = issue_token(&url, "viewer", "wall screen");
    let recorder = issue_token(&url, "recorder", "desk editor");
    let auditor = issue_token(&url, "auditor", "audit office");
    let admin = issue_token(&url, "admin", "operations");

    // Who may ask.
    assert_eq!(refusal(&server, None).await, "UNAUTHENTICATED");
    assert_eq!(refusal(&server, Some(&viewer)).await, "FORBIDDEN");
    assert_eq!(refusal(&server, Some(&recorder)).await, "FORBIDDEN");
    for token in [&auditor, &admin] {
        let report = verify(&server, token, json!({})).await;
        assert_eq!(
            report,
            json!({ "intact": true, "from": null, "to": null, "eventsChecked": 25,
                    "sealsChecked": 1, "firstBreak": null })
        );
    }

    // One more event, the fourth of Tower 22's stream, in a seal of its own.
    let revised = server
        .data(
            Some(&recorder),
            "mutation($input: ReviseCasualtiesInput!) { reviseCasualties(input: $input) { version } }",
            json!({ "input": { "incidentId": TOWER_22, "fatalities": { "best": 4 },
                               "reason": "confirmed by the Pentagon", "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(revised["reviseCasualties"]["version"], 4);
    seal_everything(&db.pool).await;
    let fourth = position_of(&db.pool, TOWER_22, 4).await;
    let tail = verify(&server, &auditor, json!({ "from": fourth })).await;
    assert_eq!(
        tail,
        json!({ "intact": true, "from": fourth, "to": null, "eventsChecked": 1,
                "sealsChecked": 1, "firstBreak": null })
    );
    let (code, out) = verify_command(&url, &["--from", &fourth.to_string()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("checked 1 events and 1 seals in positions"),
        "{out}"
    );
    let (_, body) = server
        .post(Some(&auditor), VERIFY, json!({ "from": 5, "to": 4 }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body:#}"
    );

    sqlx::query("CREATE TABLE events_backup AS SELECT * FROM events")
        .execute(&db.pool)
        .await
        .expect("backup");
    let second = position_of(&db.pool, TOWER_22, 2).await;
    let third = position_of(&db.pool, TOWER_22, 3).await;
    let where_second = format!("WHERE position = {second}");
    let forged_id = Uuid::new_v4();
    let cases: Vec<(&str, String, i64, &str)> = vec![
        (
            "an altered payload",
            format!(
                "UPDATE events SET payload = '{{\"fatalities\":{{\"best\":0}}}}' {where_second}"
            ),
            second,
            "CONTENT_ALTERED",
        ),
        (
            "an altered hash",
            format!("UPDATE events SET hash = sha256(hash) {where_second}"),
            second,
            "CONTENT_ALTERED",
        ),
        (
            "a row removed in the middle of its stream",
            format!("DELETE FROM events {where_second}"),
            third,
            "VERSION_GAP",
        ),
        (
            "the last row of a stream removed",
            format!("DELETE FROM events WHERE position = {fourth}"),
            fourth,
            "SEAL_MISMATCH",
        ),
        (
            "a forged row",
            format!(
                "INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, \
                     schema_version, payload, recorded_at, recorded_by, metadata, prev_hash, hash) \
                 SELECT stream_type, stream_id, 5, '{forged_id}', event_type, schema_version, \
                        payload, recorded_at, 'forger', metadata, hash, hash \
                   FROM events WHERE position = {fourth}"
            ),
            -1, // its position, once inserted
            "CONTENT_ALTERED",
        ),
    ];
    for (what, sql, position, problem) in cases {
        tamper(&db.pool, &sql).await;
        let position = if position < 0 {
            sqlx::query_scalar("SELECT position FROM events WHERE event_id = $1")
                .bind(forged_id)
                .fetch_one(&db.pool)
                .await
                .expect("the forged row")
        } else {
            position
        };
        let report = verify(&server, &auditor, json!({})).await;
        assert_eq!(report["intact"], false, "{what}: {report:#}");
        let broken = &report["firstBreak"];
        assert_eq!(broken["position"], position, "{what}: {report:#}");
        assert_eq!(broken["problem"], problem, "{what}: {report:#}");
        assert!(broken["message"].as_str().is_some_and(|m| !m.is_empty()));

        let (code, out) = verify_command(&url, &[]);
        assert_eq!(code, Some(2), "{what}: {out}");
        assert!(
            out.contains(&format!("BROKEN at position {position}: ")),
            "{what}: {out}"
        );

        tamper(
            &db.pool,
            "DELETE FROM events; INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_backup",
        )
        .await;
        let restored = verify(&server, &auditor, json!({})).await;
        assert_eq!(restored["intact"], true, "after {what}: {restored:#}");
    }

    // A range stops short of a break after it, and catches one in it.
    tamper(
        &db.pool,
        &format!("UPDATE events SET reason = 'rewritten' {where_second}"),
    )
    .await;
    let before = verify(&server, &auditor, json!({ "to": second - 1 })).await;
    assert_eq!(before["intact"], true, "{before:#}");
    let over = verify(&server, &auditor, json!({ "from": second, "to": second })).await;
    assert_eq!(over["eventsChecked"], 1);
    assert_eq!(over["firstBreak"]["position"], second, "{over:#}");
    assert_eq!(over["firstBreak"]["version"], 2);
    assert_eq!(over["firstBreak"]["streamId"], TOWER_22);
    let (code, out) = verify_command(
        &url,
        &["--from", &second.to_string(), "--to", &second.to_string()],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("BROKEN at position {second}: ")),
        "{out}"
    );
    server.stop();
}
