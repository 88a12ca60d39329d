//! How fast a large file imports, end to end (reading the CSV, loading, planning, appending):
//! a made-up ACLED-shaped file of `SITREP_IMPORT_ROWS` rows (default 162,852, the SIGACTS
//! volume), new rows into an empty database, then the same file again (all unchanged).
//! Ignored by default; run it with a release build:
//! `cargo test --release -p sitrep-interchange --test import_volume -- --ignored --nocapture`.

mod common;

/// As the `sitrep` binary runs (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use common::*;
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, FileRows, ImportOptions};
use sitrep_interchange::record::Dataset;

/// A made-up file of `rows` attacks in Iraq, 2004-2007, among 60 actors.
fn made_up_file(rows: usize) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows * 600));
    writer.write_record(ACLED_COLUMNS).expect("header");
    let start = chrono::NaiveDate::from_ymd_opt(2004, 1, 1).expect("date");
    for n in 0..rows {
        let date = start + chrono::Days::new((n % 1300) as u64);
        let id = format!("IRQ{n}");
        let actor1 = format!("Insurgent Group {} (Iraq)", n % 40);
        let actor2 = format!("Military Forces {} (Iraq)", n % 20);
        let latitude = format!("{:.4}", 30.0 + (n % 500) as f64 / 100.0);
        let longitude = format!("{:.4}", 40.0 + (n % 700) as f64 / 100.0);
        let fatalities = (n % 7).to_string();
        let notes = format!(
            "On {date}, a made-up attack number {n} with small arms and an IED near a \
             checkpoint; this text only gives the row the size of a real note, about two \
             hundred characters long."
        );
        let date = date.to_string();
        let year = date[..4].to_owned();
        writer
            .write_record([
                id.as_str(),
                &date,
                &year,
                "1",
                "Political violence",
                "Battles",
                "Armed clash",
                &actor1,
                "",
                "2",
                &actor2,
                "",
                "1",
                "12",
                "",
                "368",
                "Middle East",
                "Iraq",
                "Baghdad",
                "Baghdad",
                "",
                "Baghdad",
                &latitude,
                &longitude,
                "1",
                "Made-up Wire; Made-up Daily",
                "National",
                &notes,
                &fatalities,
                "",
                "1655000000",
            ])
            .expect("row");
    }
    writer.into_inner().expect("flush")
}

async fn import_bytes(
    store: &sitrep_domain::store::EventStore,
    bytes: &[u8],
) -> sitrep_interchange::import::ImportOutcome {
    let started = Instant::now();
    let file = dataset_file::read(Dataset::Acled, bytes).expect("read");
    let read_seconds = started.elapsed().as_secs_f64();
    let options = ImportOptions {
        started,
        ..options(Dataset::Acled, false)
    };
    let outcome = run_import(
        store,
        &options,
        FileRows::from(file),
        std::sync::Arc::new(|_, _, _| {}),
    )
    .await
    .expect("import");
    eprintln!(
        "{} rows: read {read_seconds:.2} s, all {:.2} s, {:.0} rows/s; {} events",
        outcome.summary.read,
        outcome.summary.seconds,
        outcome.summary.rows_per_second(),
        outcome.summary.events_appended
    );
    outcome
}

#[tokio::test]
#[ignore = "a measurement: run it with a release build"]
async fn a_large_file_imports_fast() {
    let rows: usize = std::env::var("SITREP_IMPORT_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(162_852);
    let bytes = made_up_file(rows);
    let (_db, store) = setup().await;
    let first = import_bytes(&store, &bytes).await.summary;
    assert_eq!(first.new, rows as u64);
    let again = import_bytes(&store, &bytes).await.summary;
    assert_eq!((again.unchanged, again.events_appended), (rows as u64, 0));
}
