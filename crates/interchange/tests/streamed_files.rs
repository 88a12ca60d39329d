//! Files imported as they are read (`RowSource::file`, as `sitrep import` and the GraphQL
//! upload run it): the first chunks are appended while the next rows are read, so a file that
//! breaks off or has a bad row after them must still leave nothing, and a file read this way
//! syncs as one read whole.

mod common;

use common::*;
use sitrep_interchange::csv_file::FileError;
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, ImportError, ImportOutcome, RowSource};
use sitrep_interchange::record::Dataset;

/// Rows of the made-up file: more than two chunks of the import (8,192 rows each).
const ROWS: usize = 20_000;

async fn import_streamed(
    store: &sitrep_domain::store::EventStore,
    bytes: Vec<u8>,
    skip_invalid: bool,
) -> Result<ImportOutcome, ImportError> {
    let rows = dataset_file::open(Dataset::Acled, std::io::Cursor::new(bytes)).expect("header");
    run_import(
        store,
        &options(Dataset::Acled, skip_invalid),
        RowSource::file(rows),
        std::sync::Arc::new(|_, _, _| {}),
    )
    .await
}

/// The positions the log has handed out so far (appends rolled back use some up too).
async fn positions_taken(store: &sitrep_domain::store::EventStore) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT last_value FROM events_position_seq WHERE is_called), 0)",
    )
    .fetch_one(store.pool())
    .await
    .expect("the sequence")
}

/// `bytes` with the record on file line `line` (the header is line 1) replaced by `record`.
fn with_line(bytes: &[u8], line: usize, record: impl Fn(&str) -> String) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[line - 1] = record(&lines[line - 1]);
    let mut joined = lines.join("\n");
    joined.push('\n');
    joined.into_bytes()
}

#[tokio::test]
async fn a_file_read_as_it_is_imported_syncs_as_one_read_whole() {
    let (_db, store) = setup().await;
    let bytes = made_up_file(ROWS);
    let first = import_streamed(&store, bytes.clone(), false)
        .await
        .expect("import");
    let s = &first.summary;
    assert_eq!((s.read, s.new, s.rejected), (ROWS as u64, ROWS as u64, 0));
    // Every row's incident and the 60 actors the file names.
    assert_eq!(s.actors_registered, 60);
    assert_eq!(s.events_appended, ROWS as u64 + 60);
    assert_eq!(event_count(&store).await, ROWS as i64 + 60);

    let again = import_streamed(&store, bytes.clone(), false)
        .await
        .expect("again");
    let s = &again.summary;
    assert_eq!((s.unchanged, s.events_appended), (ROWS as u64, 0), "{s:#?}");

    // A newer export without the last 1,000 rows (the same span of dates) and with one row
    // changed: one correction, 1,000 retractions, found across every chunk.
    let shorter = made_up_file(ROWS - 1000);
    let changed = with_line(&shorter, 3, |record| record.replacen("Baghdad", "Basra", 1));
    let synced = import_streamed(&store, changed, false).await.expect("sync");
    let s = &synced.summary;
    assert_eq!(
        (s.corrected, s.retracted, s.unchanged),
        (1, 1000, ROWS as u64 - 1001),
        "{s:#?}"
    );
}

#[tokio::test]
async fn a_file_that_breaks_off_after_rows_were_appended_leaves_nothing() {
    let (_db, store) = setup().await;
    // A quote opened on a record near the end and never closed.
    let bytes = with_line(&made_up_file(ROWS), ROWS - 10, |record| {
        record.replacen(",Iraq,", ",\"Iraq,", 1)
    });
    let refused = import_streamed(&store, bytes, false).await;
    assert!(
        matches!(
            refused,
            Err(ImportError::BadFile(
                FileError::UnclosedQuote { .. } | FileError::BrokenQuote { .. }
            ))
        ),
        "{refused:?}"
    );
    assert!(
        positions_taken(&store).await >= 8192,
        "the first chunk was appended before the file broke off"
    );
    assert_eq!(event_count(&store).await, 0, "and nothing of it stays");
}

#[tokio::test]
async fn a_row_the_reader_rejects_after_rows_were_appended_stops_the_import_unless_skipped() {
    let (_db, store) = setup().await;
    const BAD_LINE: usize = ROWS - 10;
    let bytes = with_line(&made_up_file(ROWS), BAD_LINE, |record| {
        let mut fields: Vec<String> = record.split(',').map(str::to_owned).collect();
        // The latitude: out of range.
        fields[22] = "123.0".into();
        fields.join(",")
    });
    let refused = import_streamed(&store, bytes.clone(), false).await;
    let Err(ImportError::BadRows { rows }) = refused else {
        panic!("expected the bad row, got {refused:?}");
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].line, rows[0].column.as_str()),
        (BAD_LINE as u64, "latitude")
    );
    assert!(positions_taken(&store).await >= 8192);
    assert_eq!(event_count(&store).await, 0);

    let skipped = import_streamed(&store, bytes, true).await.expect("import");
    let s = &skipped.summary;
    assert_eq!(
        (s.read, s.new, s.rejected),
        (ROWS as u64, ROWS as u64 - 1, 1)
    );
    assert_eq!(skipped.rejected[0].line, BAD_LINE as u64);
    assert_eq!(event_count(&store).await, ROWS as i64 - 1 + 60);
}
