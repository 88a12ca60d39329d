//! ACLED file -> import -> `--format acled` export -> import into a fresh database: the same
//! incidents. On the real extracts of `SITREP_SHARED_DATA` (skipped, saying so, when it is not
//! set): every column of every row of the export equals the file's (the export's order aside),
//! importing the export into the database it came from appends nothing, and a fresh database
//! that imports the export exports the very same bytes, in ACLED's columns and in sitrep's CSV.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::*;
use sitrep_domain::store::EventStore;
use sitrep_interchange::dataset_file;
use sitrep_interchange::export::{Export, ExportFilter, ExportFormat, ExportRequest};
use sitrep_interchange::import::{run_import, FileRows, ImportOutcome};
use sitrep_interchange::record::Dataset;

async fn import_bytes(store: &EventStore, bytes: &[u8]) -> ImportOutcome {
    let file = dataset_file::read(Dataset::Acled, bytes).expect("an ACLED file");
    assert!(file.rejected.is_empty(), "rejected {:?}", file.rejected);
    let rows = FileRows {
        rows: file.rows.into_iter().map(Ok).collect(),
        ..FileRows::default()
    };
    run_import(
        store,
        &options(Dataset::Acled, false),
        rows,
        Arc::new(|_, _, _| {}),
    )
    .await
    .expect("import")
}

async fn export(store: &EventStore, format: ExportFormat) -> Vec<u8> {
    let request = ExportRequest {
        format,
        filter: ExportFilter::default(),
        as_of: None,
    };
    let mut export = Export::start(store.pool(), &request)
        .await
        .expect("start the export");
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next_chunk().await.expect("export") {
        bytes.extend(chunk);
    }
    bytes
}

/// A CSV's header and its records by the first column, each as column -> value.
fn by_first_column(bytes: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|record| {
            let record = record.expect("record");
            let key = record.get(0).expect("first column").to_owned();
            let columns = header
                .iter()
                .zip(record.iter())
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            (key, columns)
        })
        .collect()
}

/// sitrep's CSV without the column that says when each incident was last recorded (which a
/// second database cannot share).
fn without_recorded_times(bytes: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut rows = by_first_column(bytes);
    for columns in rows.values_mut() {
        columns.remove("last_recorded_at");
    }
    rows
}

async fn round_trip(path: &Path) {
    let original = std::fs::read(path).expect("read the file");
    let (_first_db, first) = setup().await;
    let outcome = import_bytes(&first, &original).await;
    read_models_caught_up(&first).await;
    let exported = export(&first, ExportFormat::Acled).await;

    // Every row comes back with every column as the file wrote it.
    let expected = by_first_column(&original);
    let got = by_first_column(&exported);
    assert_eq!(got.len() as u64, outcome.summary.new);
    assert_eq!(got.len(), expected.len());
    for (id, columns) in &expected {
        assert_eq!(got.get(id), Some(columns), "{}: row {id}", path.display());
    }

    // The export is the same incidents to the database they came from: nothing to sync.
    let before = event_count(&first).await;
    let again = import_bytes(&first, &exported).await;
    assert_eq!(again.summary.unchanged, outcome.summary.new);
    assert_eq!(again.summary.events_appended, 0);
    assert_eq!(event_count(&first).await, before);

    // A fresh database that imports the export holds the same incidents: the same ids, facts,
    // actors and sources, so the same exports.
    let (_second_db, second) = setup().await;
    import_bytes(&second, &exported).await;
    read_models_caught_up(&second).await;
    assert_eq!(export(&second, ExportFormat::Acled).await, exported);
    assert_eq!(
        without_recorded_times(&export(&second, ExportFormat::Csv).await),
        without_recorded_times(&export(&first, ExportFormat::Csv).await)
    );
}

#[tokio::test]
async fn the_iraq_and_syria_file_round_trips() {
    let Some(data) = shared_data() else { return };
    round_trip(&data.join("acled/acled_events_2022H1_iraq_syria.csv")).await;
}

#[tokio::test]
async fn the_argentina_snapshot_round_trips() {
    let Some(data) = shared_data() else { return };
    round_trip(&data.join("acled/acled_events_argentina_2022-06_old_dummy.csv")).await;
}

#[tokio::test]
async fn the_global_file_round_trips() {
    let Some(data) = shared_data() else { return };
    round_trip(&data.join("acled/acled_events_2022H1_global_9000.csv")).await;
}
