//! End to end: `sitrep export events` from one database, `sitrep import events` into an empty
//! one; the copy verifies intact and its read models, rebuilt, have the source's checksums. A
//! bad file, or a database that holds events, is refused with a clear message and loads nothing.

mod common;

use common::{rebuild_of_all, sitrep, stdout_of};
use sitrep_testkit::TestDb;

/// `projection: checksum` lines of `sitrep rebuild` (the generation number left out).
fn checksums(out: &str) -> Vec<String> {
    out.lines()
        .map(|line| {
            let (name, rest) = line.split_once(": ").expect("a projection line");
            let checksum = rest.rsplit_once("checksum ").expect("checksum").1;
            format!("{name}: {checksum}")
        })
        .collect()
}

async fn count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_exported_log_imports_into_an_empty_database_with_the_same_checksums() {
    let source = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let source_url = source.url();
    stdout_of(&sitrep(&source_url, &["demo"]), "sitrep demo");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("events.jsonl");
    let file_arg = file.to_str().expect("UTF-8 path");

    let exported = stdout_of(
        &sitrep(
            &source_url,
            &[
                "export", "events", "--format", "jsonl", "--output", file_arg,
            ],
        ),
        "sitrep export events",
    );
    assert!(exported.contains("exported 25 events"), "{exported}");
    // To stdout as well, the same lines.
    let to_stdout = stdout_of(
        &sitrep(&source_url, &["export", "events"]),
        "sitrep export events to stdout",
    );
    let text = std::fs::read_to_string(&file).expect("the export");
    assert_eq!(to_stdout, text);
    assert_eq!(text.lines().count(), 26, "25 events and the end line");

    let target = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let target_url = target.url();
    let imported = stdout_of(
        &sitrep(&target_url, &["import", "events", file_arg]),
        "sitrep import events",
    );
    assert!(imported.contains("imported 25 events"), "{imported}");
    let verified = stdout_of(&sitrep(&target_url, &["verify"]), "sitrep verify");
    assert!(verified.contains("intact"), "{verified}");

    let source_sums = checksums(&rebuild_of_all(&source_url, 25).await);
    let target_sums = checksums(&rebuild_of_all(&target_url, 25).await);
    assert_eq!(source_sums.len(), 4);
    assert_eq!(target_sums, source_sums);

    // Into a database that holds events: refused, nothing added.
    let again = sitrep(&target_url, &["import", "events", file_arg]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    assert_eq!(count(&target).await, 25);

    // A file cut in the middle of its last line: refused with the line, nothing loaded.
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 40]).expect("write");
    let empty = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let refused = sitrep(
        &empty.url(),
        &["import", "events", cut.to_str().expect("path")],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 26: truncated"), "{stderr}");
    assert_eq!(count(&empty).await, 0);
}
