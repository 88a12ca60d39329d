//! End to end: `sitrep export incidents` on the demo's story (four attacks, the Tower 22 count
//! revised): each format parsed back, the filters and `--as-of`, a file written whole or not at
//! all, and bad flags refused with the flag named.

mod common;

use common::{rebuild_of_all, sitrep, stdout_of};
use serde_json::{json, Value};
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_testkit::TestDb;

/// The demo's events.
const DEMO_EVENTS: u32 = 25;

/// A database holding the demo, with its read models built.
async fn demo() -> (TestDb, String) {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    stdout_of(&sitrep(&url, &["demo"]), "sitrep demo");
    rebuild_of_all(&url, DEMO_EVENTS).await;
    (db, url)
}

fn csv_records(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let records = reader
        .records()
        .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
        .collect();
    (header, records)
}

#[tokio::test]
async fn the_demo_exports_in_each_format() {
    let (_db, url) = demo().await;

    // GeoJSON to stdout: the four attacks, oldest first; the count on stderr.
    let output = sitrep(&url, &["export", "incidents", "--format", "geojson"]);
    let text = stdout_of(&output, "export geojson");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("exported 4 incidents"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let collection: Value = serde_json::from_str(&text).expect("GeoJSON");
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().expect("features");
    let days: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["date_start"].as_str().expect("a day"))
        .collect();
    assert_eq!(
        days,
        ["2023-10-17", "2023-12-25", "2024-01-20", "2024-01-28"]
    );
    let tower22 = &features[3];
    assert_eq!(tower22["properties"]["location"], "Tower 22");
    assert_eq!(
        tower22["geometry"],
        json!({ "type": "Point", "coordinates": [38.7, 33.32] })
    );
    assert_eq!(tower22["properties"]["fatalities_best"], 3);
    assert_eq!(
        tower22["properties"]["claimants"],
        json!(["Islamic Resistance in Iraq"])
    );

    // CSV of one country to a file: written whole, nothing left beside it.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("jordan.csv");
    let file_arg = file.to_str().expect("UTF-8 path");
    let out = stdout_of(
        &sitrep(
            &url,
            &[
                "export",
                "incidents",
                "--format",
                "csv",
                "--country",
                "JOR",
                "--output",
                file_arg,
            ],
        ),
        "export csv",
    );
    assert_eq!(out.trim(), format!("exported 1 incidents to {file_arg}"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("the folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["jordan.csv"]);
    let (header, records) = csv_records(&std::fs::read_to_string(&file).expect("the file"));
    assert_eq!(header[0], "id");
    assert_eq!(records.len(), 1);
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    assert_eq!(records[0][column("location")], "Tower 22");
    assert_eq!(records[0][column("country")], "JOR");

    // ACLED's columns, filtered by event type and day.
    let text = stdout_of(
        &sitrep(
            &url,
            &[
                "export",
                "incidents",
                "--format",
                "acled",
                "--event-type",
                "Explosions/Remote violence",
                "--from",
                "2024-01-01",
            ],
        ),
        "export acled",
    );
    let (header, records) = csv_records(&text);
    assert_eq!(header, ACLED_COLUMNS);
    let dates: Vec<&str> = records.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(dates, ["2024-01-20", "2024-01-28"]);
    assert!(records.iter().all(|r| r[0].starts_with("SITREP-")));

    // As known before the demo was recorded: nothing.
    let text = stdout_of(
        &sitrep(
            &url,
            &["export", "incidents", "--as-of", "2000-01-01T00:00:00Z"],
        ),
        "export as of",
    );
    let (_, records) = csv_records(&text);
    assert!(records.is_empty(), "{text}");
}

#[tokio::test]
async fn bad_flags_and_missing_read_models_write_nothing() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("out.geojson");
    let file_arg = file.to_str().expect("UTF-8 path");

    // The read models were never built: said so, no file.
    let output = sitrep(&url, &["export", "incidents", "--output", file_arg]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sitrep rebuild"), "{stderr}");
    assert!(std::fs::read_dir(dir.path())
        .expect("folder")
        .next()
        .is_none());

    for (args, named) in [
        (vec!["--country", "Iraq"], "--country"),
        (vec!["--event-type", "Skirmish"], "--event-type"),
        (vec!["--from", "28/01/2024"], "--from"),
        (vec!["--as-of", "yesterday"], "--as-of"),
        (vec!["--format", "kml"], "--format"),
        (
            vec!["--from", "2024-02-01", "--to", "2024-01-01"],
            "to: must not be before from",
        ),
    ] {
        let mut full = vec!["export", "incidents", "--output", file_arg];
        full.extend(&args);
        let output = sitrep(&url, &full);
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(
            std::fs::read_dir(dir.path())
                .expect("folder")
                .next()
                .is_none(),
            "{args:?} left a file"
        );
    }
}
