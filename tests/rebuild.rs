//! End to end: `sitrep rebuild` builds every read model from the log beside the live one,
//! switches to it, and prints checksums that a second rebuild of the same log reproduces.

mod common;

use common::{sitrep, stdout_of};

use sitrep_testkit::TestDb;

/// `projection -> (rows, checksum)` from `sitrep rebuild`'s lines
/// (`<name>: generation <n> live, <e> events applied, <r> rows, checksum <hex>`).
fn checksums(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .map(|line| {
            let (name, rest) = line.split_once(": ").expect("a projection line");
            let rows = rest
                .split(", ")
                .find_map(|part| part.strip_suffix(" rows"))
                .expect("rows");
            let checksum = rest.rsplit_once("checksum ").expect("checksum").1;
            (name.to_owned(), rows.to_owned(), checksum.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn two_rebuilds_of_one_log_print_the_same_checksums() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    stdout_of(&sitrep(&url, &["demo"]), "sitrep demo");

    let first = checksums(&stdout_of(&sitrep(&url, &["rebuild"]), "sitrep rebuild"));
    let names: Vec<&str> = first.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["incidents", "negotiations", "troops", "actors"]);
    assert!(first.iter().all(|(_, rows, _)| rows != "0"), "{first:?}");

    let second = checksums(&stdout_of(&sitrep(&url, &["rebuild"]), "sitrep rebuild"));
    assert_eq!(first, second);

    // One projection by name; an unknown name is an error.
    let one = checksums(&stdout_of(
        &sitrep(&url, &["rebuild", "incidents"]),
        "sitrep rebuild incidents",
    ));
    assert_eq!(one, first[..1]);
    let unknown = sitrep(&url, &["rebuild", "no_such_view"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no_such_view"));

    // The live generation is the third one; older ones are retired.
    let live: Vec<(String, i32)> = sqlx::query_as(
        "SELECT projection, generation FROM projection_generations WHERE status = 'live' \
          ORDER BY projection",
    )
    .fetch_all(&db.pool)
    .await
    .expect("generations");
    assert_eq!(
        live,
        vec![
            ("actors".to_owned(), 2),
            ("incidents".to_owned(), 3),
            ("negotiations".to_owned(), 2),
            ("troops".to_owned(), 2),
        ]
    );
}
