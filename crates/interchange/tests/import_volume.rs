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
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, FileRows, ImportOptions};
use sitrep_interchange::record::Dataset;

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
