//! End to end: `sitrep replay --until T` builds the read models from the events recorded until
//! T into schemas that are never live, prints their checksums (the whole log's equal those of a
//! rebuild), keeps them only with `--keep`, and leaves the live read models alone.

mod common;

use common::{sitrep, stdout_of};

use chrono::{DateTime, SecondsFormat, Utc};
use sitrep_testkit::TestDb;

/// One line of `sitrep replay`:
/// `<name>: schema <schema> (<kept|dropped>), <e> events applied, <r> rows, checksum <hex>`.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    name: String,
    schema: String,
    fate: String,
    events: i64,
    rows: String,
    checksum: String,
}

fn lines(out: &str) -> Vec<Line> {
    out.lines()
        .map(|line| {
            let (name, rest) = line.split_once(": schema ").expect("a projection line");
            let (schema, rest) = rest.split_once(" (").expect("schema");
            let (fate, rest) = rest.split_once("), ").expect("fate");
            let (events, rest) = rest.split_once(" events applied, ").expect("events");
            let (rows, checksum) = rest.split_once(" rows, checksum ").expect("rows");
            Line {
                name: name.into(),
                schema: schema.into(),
                fate: fate.into(),
                events: events.parse().expect("a count"),
                rows: rows.into(),
                checksum: checksum.into(),
            }
        })
        .collect()
}

/// `projection -> checksum` from `sitrep rebuild`.
fn rebuild_checksums(out: &str) -> Vec<(String, String)> {
    out.lines()
        .map(|line| {
            let name = line.split_once(": ").expect("a line").0;
            let checksum = line.rsplit_once("checksum ").expect("checksum").1;
            (name.to_owned(), checksum.to_owned())
        })
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn schemas_like(db: &TestDb, pattern: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1")
        .bind(pattern)
        .fetch_all(&db.pool)
        .await
        .expect("schemas")
}

#[tokio::test]
async fn replays_as_of_a_recorded_time_beside_the_live_models() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    stdout_of(&sitrep(&url, &["demo"]), "sitrep demo");
    let live = rebuild_checksums(&stdout_of(&sitrep(&url, &["rebuild"]), "sitrep rebuild"));
    let generations = || async {
        let rows: Vec<(String, i32, String, i64)> = sqlx::query_as(
            "SELECT projection, generation, status, events_applied FROM projection_generations \
              ORDER BY projection, generation",
        )
        .fetch_all(&db.pool)
        .await
        .expect("generations");
        rows
    };
    let before = generations().await;

    // Until after the last event: the whole log, so the checksums are the rebuild's.
    let (total, last, middle): (i64, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT count(*), max(recorded_at), \
                (SELECT recorded_at FROM events ORDER BY position \
                  OFFSET (SELECT count(*) / 2 FROM events) LIMIT 1) FROM events",
    )
    .fetch_one(&db.pool)
    .await
    .expect("times");
    let whole = lines(&stdout_of(
        &sitrep(&url, &["replay", "--until", &rfc3339(last)]),
        "sitrep replay",
    ));
    let names: Vec<&str> = whole.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["incidents", "negotiations", "troops", "actors"]);
    for (line, (name, checksum)) in whole.iter().zip(&live) {
        assert_eq!((&line.name, &line.checksum), (name, checksum));
        assert_eq!(line.events, total);
        assert_eq!(line.fate, "dropped");
        assert!(line.schema.starts_with("rm_scratch_"), "{line:?}");
    }
    assert!(schemas_like(&db, "rm\\_scratch\\_%").await.is_empty());

    // Until the middle of the log, kept: the events recorded until then, the same checksums
    // twice, and schemas an auditor can query.
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE recorded_at <= $1")
        .bind(middle)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert!(0 < expected && expected < total);
    let args = ["replay", "--until", &rfc3339(middle), "--keep"];
    let first = lines(&stdout_of(&sitrep(&url, &args), "sitrep replay --keep"));
    let second = lines(&stdout_of(&sitrep(&url, &args), "sitrep replay --keep"));
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            (a.events, &a.rows, &a.checksum),
            (expected, &b.rows, &b.checksum)
        );
        assert_eq!(a.fate, "kept");
        assert_ne!(a.schema, b.schema);
    }
    assert_ne!(
        first.iter().map(|l| &l.checksum).collect::<Vec<_>>(),
        whole.iter().map(|l| &l.checksum).collect::<Vec<_>>()
    );
    assert_eq!(
        schemas_like(&db, "rm\\_replay\\_%").await,
        [
            "rm_replay_actors_1",
            "rm_replay_actors_2",
            "rm_replay_incidents_1",
            "rm_replay_incidents_2",
            "rm_replay_negotiations_1",
            "rm_replay_negotiations_2",
            "rm_replay_troops_1",
            "rm_replay_troops_2",
        ]
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rm_replay_incidents_1.incident_versions")
            .fetch_one(&db.pool)
            .await
            .expect("a kept replay can be queried");
    assert!(kept > 0);

    // One projection by name, before the first event: nothing applied.
    let one = lines(&stdout_of(
        &sitrep(
            &url,
            &[
                "replay",
                "--until",
                "2000-01-01T00:00:00+03:00",
                "--projection",
                "troops",
            ],
        ),
        "sitrep replay --projection troops",
    ));
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0].name.as_str(), one[0].events, one[0].rows.as_str()),
        ("troops", 0, "0")
    );

    // Bad input: a clear error, nothing built.
    let bad = sitrep(&url, &["replay", "--until", "yesterday"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--until") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
    let unknown = sitrep(
        &url,
        &["replay", "--until", &rfc3339(last), "--projection", "nope"],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));

    // The live read models and their checkpoints are as they were.
    assert_eq!(generations().await, before);
    assert!(schemas_like(&db, "rm\\_scratch\\_%").await.is_empty());
}
