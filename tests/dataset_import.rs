//! End to end: `sitrep import acled` on made-up ACLED-shaped files (no real rows): an import,
//! the same file again, a revised file; bad rows that stop the import or, with
//! `--skip-invalid`, go to a file of rejected rows; files that cannot be read at all.

mod common;

use std::path::Path;

use common::{sitrep, stdout_of};
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_testkit::TestDb;

/// A made-up protest in Argentina on June `day` 2022 with `fatalities` dead.
fn protest(id: &str, day: u32, fatalities: u32, actor2: &str) -> Vec<String> {
    let date = format!("2022-06-{day:02}");
    [
        id,
        &date,
        "2022",
        "1",
        "Demonstrations",
        "Protests",
        "Peaceful protest",
        "Protesters (Argentina)",
        "",
        "6",
        actor2,
        "",
        if actor2.is_empty() { "0" } else { "1" },
        "60",
        "",
        "32",
        "South America",
        "Argentina",
        "Buenos Aires",
        "La Plata",
        "",
        "La Plata",
        "-34.9215",
        "-57.9545",
        "1",
        "Made-up Daily",
        "National",
        "A made-up protest, with a \"quote\", for the tests.",
        &fatalities.to_string(),
        "",
        "1655000000",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn write(path: &Path, rows: &[Vec<String>]) {
    let mut writer = csv::Writer::from_path(path).expect("create");
    writer.write_record(ACLED_COLUMNS).expect("header");
    for row in rows {
        writer.write_record(row).expect("row");
    }
    writer.flush().expect("flush");
}

/// The value of a summary line (`new                3`).
fn summary_value(out: &str, name: &str) -> u64 {
    out.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
}

async fn event_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_acled_file_is_imported_then_kept_in_sync() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("argentina.csv");
    let rows = vec![
        protest("ARG1", 1, 0, ""),
        protest("ARG2", 2, 0, "Police Forces of Argentina (2019-)"),
        protest("ARG3", 3, 0, ""),
        protest("ARG4", 4, 0, ""),
    ];
    write(&file, &rows);
    let path = file.to_str().expect("a UTF-8 path");

    let out = stdout_of(&sitrep(&url, &["import", "acled", path]), "import");
    assert_eq!(summary_value(&out, "read"), 4, "{out}");
    assert_eq!(summary_value(&out, "new"), 4);
    assert_eq!(summary_value(&out, "actors registered"), 2);
    assert_eq!(summary_value(&out, "events appended"), 6);
    assert!(out.contains("rows/s"), "{out}");

    let out = stdout_of(&sitrep(&url, &["import", "acled", path]), "again");
    assert_eq!(summary_value(&out, "unchanged"), 4, "{out}");
    assert_eq!(summary_value(&out, "events appended"), 0);

    // ARG2 has one more death, ARG3 is gone (inside the file's days).
    let revised = vec![
        rows[0].clone(),
        protest("ARG2", 2, 1, "Police Forces of Argentina (2019-)"),
        rows[3].clone(),
    ];
    write(&file, &revised);
    let out = stdout_of(
        &sitrep(&url, &["import", "acled", path, "--recorded-by", "desk"]),
        "revised",
    );
    assert_eq!(summary_value(&out, "corrected"), 1, "{out}");
    assert_eq!(summary_value(&out, "retracted"), 1);
    assert_eq!(summary_value(&out, "unchanged"), 2);
    assert_eq!(summary_value(&out, "events appended"), 2);
    let authors: Vec<String> = sqlx::query_scalar(
        "SELECT recorded_by FROM events WHERE event_type IN ('CasualtiesRevised', 'IncidentRetracted')",
    )
    .fetch_all(&db.pool)
    .await
    .expect("authors");
    assert_eq!(authors, ["desk", "desk"]);
}

#[tokio::test]
async fn bad_rows_stop_the_import_unless_skipped_to_a_file() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("acled.csv");
    let mut bad = protest("ARG2", 2, 0, "");
    bad[22] = "-134.9".to_owned(); // latitude
    write(
        &file,
        &[
            protest("ARG1", 1, 0, ""),
            bad.clone(),
            protest("ARG3", 3, 0, ""),
        ],
    );
    let path = file.to_str().expect("a UTF-8 path");

    let output = sitrep(&url, &["import", "acled", path]);
    assert!(!output.status.success(), "bad rows must fail the import");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3, column latitude"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(event_count(&db).await, 0);

    let out = stdout_of(
        &sitrep(&url, &["import", "acled", path, "--skip-invalid"]),
        "skip invalid",
    );
    assert_eq!(summary_value(&out, "new"), 2, "{out}");
    assert_eq!(summary_value(&out, "rejected"), 1);
    assert!(event_count(&db).await > 0);
    let rejected = dir.path().join("acled.csv.rejected.csv");
    let mut reader = csv::Reader::from_path(&rejected).expect("the rejected rows");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut expected_header: Vec<String> = ACLED_COLUMNS.map(str::to_owned).to_vec();
    expected_header.extend(["sitrep_line".to_owned(), "sitrep_error".to_owned()]);
    assert_eq!(header, expected_header);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(records.len(), 1);
    let record: Vec<&str> = records[0].iter().collect();
    assert_eq!(
        &record[..31],
        bad.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(record[31], "3");
    assert!(record[32].starts_with("latitude"), "{}", record[32]);

    // --rejected names the file.
    let elsewhere = dir.path().join("bad-rows.csv");
    stdout_of(
        &sitrep(
            &url,
            &[
                "import",
                "acled",
                path,
                "--skip-invalid",
                "--rejected",
                elsewhere.to_str().expect("UTF-8"),
            ],
        ),
        "skip invalid elsewhere",
    );
    assert!(elsewhere.exists());
}

#[tokio::test]
async fn files_that_cannot_be_read_import_nothing() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.csv");
    write(
        &good,
        &[protest("ARG1", 1, 0, ""), protest("ARG2", 2, 0, "")],
    );
    let text = std::fs::read_to_string(&good).expect("read");

    let missing_column = dir.path().join("missing.csv");
    std::fs::write(&missing_column, text.replacen("fatalities,", "deaths,", 1)).expect("write");
    let broken_quote = dir.path().join("quote.csv");
    std::fs::write(
        &broken_quote,
        text.replacen("\"\"quote\"\"", "\"quote\"", 1),
    )
    .expect("write");
    let truncated = dir.path().join("truncated.csv");
    std::fs::write(&truncated, &text[..text.len() - 40]).expect("write");
    let latin1 = dir.path().join("latin1.csv");
    let mut bytes = text.clone().into_bytes();
    let at = text.find("Made-up Daily").expect("source");
    bytes[at] = 0xC9; // a lone Latin-1 byte
    std::fs::write(&latin1, bytes).expect("write");

    for (file, says) in [
        (&missing_column, "fatalities"),
        (&broken_quote, "quote"),
        (&truncated, "truncated"),
        (&latin1, "UTF-8"),
    ] {
        let output = sitrep(&url, &["import", "acled", file.to_str().expect("UTF-8")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{}: {stderr}", file.display());
        assert!(stderr.contains("line "), "{}: {stderr}", file.display());
        assert!(stderr.contains(says), "{}: {stderr}", file.display());
        assert!(stderr.contains("nothing was imported"), "{stderr}");
    }
    assert_eq!(event_count(&db).await, 0);
}
