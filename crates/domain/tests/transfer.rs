//! The event log exported as JSON lines and imported into another database: the copy has the
//! same events, hashes and positions and verifies; a bad file is refused whole, with its line.

mod common;

use common::{count_events, incident_stream, report, store};
use serde_json::Value;
use sitrep_domain::store::{
    EventStore, ExpectedVersion, LineProblem, PositionRange, StreamRef, TransferError,
};

/// Every column but the transaction id, in feed order, as text (the JSON columns verbatim).
async fn rows(store: &EventStore) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT (to_jsonb(e) - 'tx_id' - 'payload' - 'metadata')::text, payload::text, \
                metadata::text \
           FROM events e ORDER BY tx_id, position",
    )
    .fetch_all(store.pool())
    .await
    .expect("rows")
}

/// Two streams with a few events each, one with a valid time, reason and correlation id.
async fn populated(store: &EventStore) {
    for _ in 0..2 {
        let stream = incident_stream();
        let mut first = report(1);
        first.valid_time = Some(sitrep_domain::store::ValidTime {
            from: "2024-01-28T05:30:00Z".parse().expect("time"),
            to: None,
            precision: Some("day".into()),
        });
        first.correlation_id = Some(uuid::Uuid::new_v4());
        store
            .append(&stream, ExpectedVersion::NoStream, &[first])
            .await
            .expect("append");
        let mut second = report(2);
        second.reason = Some("a correction".into());
        store
            .append(&stream, ExpectedVersion::Exact(1), &[second, report(3)])
            .await
            .expect("append");
    }
}

async fn export(store: &EventStore, range: PositionRange) -> String {
    let mut out = Vec::new();
    let summary = store.export_events(range, &mut out).await.expect("export");
    let text = String::from_utf8(out).expect("UTF-8");
    // One line per event, and the end line.
    assert_eq!(summary.events as usize + 1, text.lines().count());
    assert!(text
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("{\"end\":")));
    text
}

async fn import(
    store: &EventStore,
    text: &str,
) -> Result<sitrep_domain::store::ImportSummary, TransferError> {
    store.import_events(text.as_bytes()).await
}

#[tokio::test]
async fn an_export_imports_into_an_empty_database_as_it_was() {
    let (_source_db, source) = store().await;
    populated(&source).await;
    let text = export(&source, PositionRange::ALL).await;
    assert_eq!(text.lines().count(), 7, "six events and the end line");
    let first: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("JSON");
    for column in [
        "position",
        "stream_type",
        "stream_id",
        "stream_version",
        "event_id",
        "event_type",
        "schema_version",
        "payload",
        "valid_from",
        "valid_to",
        "valid_precision",
        "recorded_at",
        "recorded_by",
        "reason",
        "causation_id",
        "correlation_id",
        "metadata",
        "prev_hash",
        "hash",
    ] {
        assert!(first.get(column).is_some(), "{column} exported: {first}");
    }
    assert_eq!(
        first["payload"]["location"], "Al Asad Air Base",
        "payload as JSON"
    );

    let (_target_db, target) = store().await;
    let summary = import(&target, &text).await.expect("import");
    assert_eq!(
        (summary.events, summary.streams, summary.renumbered),
        (6, 2, 0)
    );
    assert_eq!(rows(&target).await, rows(&source).await);
    let verified = target.verify().await.expect("verify");
    assert!(verified.is_intact(), "{:?}", verified.first_break);
    assert_eq!(verified.events_checked, 6);
    // Exported again, the copy gives the same file.
    assert_eq!(export(&target, PositionRange::ALL).await, text);
    // Appends go on after the imported positions, linked to the imported heads.
    let stream_id: uuid::Uuid = first["stream_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let appended = target
        .append(
            &StreamRef::new("incident", stream_id),
            ExpectedVersion::Exact(3),
            &[report(4)],
        )
        .await
        .expect("append after the import");
    assert_eq!(appended.positions, vec![summary.last_position + 1]);
    assert!(target.verify().await.expect("verify").is_intact());
    // A range: the events whose positions lie in it, in feed order.
    let part = export(
        &source,
        PositionRange::new(Some(2), Some(3)).expect("range"),
    )
    .await;
    let positions: Vec<i64> = part
        .lines()
        .filter(|l| !l.starts_with("{\"end\":"))
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["position"]
                .as_i64()
                .expect("position")
        })
        .collect();
    assert_eq!(positions, [2, 3]);
}

#[tokio::test]
async fn feed_order_survives_the_import_when_transactions_committed_out_of_position_order() {
    let (_source_db, source) = store().await;
    // `late` takes its transaction id first and inserts last: the feed puts it first.
    let mut late = source.pool().begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *late)
        .await
        .expect("xid");
    let early = source
        .append(&incident_stream(), ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("append");
    source
        .append_in(
            &mut late,
            &incident_stream(),
            ExpectedVersion::NoStream,
            &[report(2)],
        )
        .await
        .expect("append in the late transaction");
    late.commit().await.expect("commit");
    let text = export(&source, PositionRange::ALL).await;
    let positions: Vec<i64> = text
        .lines()
        .filter(|l| !l.starts_with("{\"end\":"))
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["position"]
                .as_i64()
                .expect("position")
        })
        .collect();
    assert_eq!(
        positions,
        [early.positions[0] + 1, early.positions[0]],
        "feed order"
    );

    let (_target_db, target) = store().await;
    let summary = import(&target, &text).await.expect("import");
    assert_eq!(summary.renumbered, 1);
    let copied: Vec<(i64, String)> =
        sqlx::query_as("SELECT position, event_id::text FROM events ORDER BY tx_id, position")
            .fetch_all(target.pool())
            .await
            .expect("rows");
    let exported_ids: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("{\"end\":"))
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["event_id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    let copied_ids: Vec<String> = copied.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        copied_ids, exported_ids,
        "the copy's feed order is the file's"
    );
    assert_eq!(
        copied[1].0,
        copied[0].0 + 1,
        "the second took the next position"
    );
    assert!(target.verify().await.expect("verify").is_intact());
}

/// Imports `text` into an empty database and expects it refused at `line`, with nothing loaded.
async fn refused_at(text: &str, line: u64) -> LineProblem {
    let (_db, target) = store().await;
    let err = import(&target, text).await.expect_err("refused");
    assert_eq!(count_events(&target).await, 0, "nothing loaded: {err}");
    assert!(
        err.to_string().starts_with(&format!("line {line}: ")),
        "{err}"
    );
    match err {
        TransferError::Line { line: at, problem } if at == line => problem,
        other => panic!("refused at line {line}, not: {other}"),
    }
}

#[tokio::test]
async fn bad_files_are_refused_whole_with_the_line_number() {
    let (_source_db, source) = store().await;
    populated(&source).await;
    let text = export(&source, PositionRange::ALL).await;
    let lines: Vec<&str> = text.lines().collect();
    let join = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();

    // Malformed JSON on line 3 (after two good lines, which must not stay).
    let mut malformed = lines.clone();
    malformed[2] = "{\"position\": 3,";
    assert!(matches!(
        refused_at(&join(&malformed), 3).await,
        LineProblem::Malformed(_)
    ));

    // A payload changed on line 4: its hash no longer matches.
    let changed = lines[3].replacen("Al Asad Air Base", "Erbil Air Base", 1);
    assert_ne!(changed, lines[3]);
    let mut altered = lines.clone();
    altered[3] = &changed;
    assert!(matches!(
        refused_at(&join(&altered), 4).await,
        LineProblem::HashMismatch { .. }
    ));

    // Line 2 left out: the next event of its stream skips a version.
    let second: Value = serde_json::from_str(lines[1]).expect("JSON");
    let stream = second["stream_id"].as_str().expect("stream");
    let next_of_stream = lines
        .iter()
        .skip(2)
        .position(|l| l.contains(stream))
        .expect("the stream goes on")
        + 3;
    let mut missing = lines.clone();
    missing.remove(1);
    assert!(matches!(
        refused_at(&join(&missing), next_of_stream as u64 - 1).await,
        LineProblem::VersionGap { .. }
    ));

    // The last event line cut in the middle (and so no end line).
    assert_eq!(lines.len(), 7, "six events and the end line");
    let events_only = join(&lines[..6]);
    let cut = &events_only[..events_only.len() - lines[5].len() / 2];
    assert!(matches!(
        refused_at(cut, 6).await,
        LineProblem::Truncated(_)
    ));

    // Cut at a line boundary: every line left is whole, but the end line is missing.
    assert!(matches!(
        refused_at(&events_only, 7).await,
        LineProblem::NoEndLine
    ));
    assert!(matches!(
        refused_at(&join(&lines[..4]), 5).await,
        LineProblem::NoEndLine
    ));

    // The last event left out, the end line kept: its count and digest say so.
    let mut last_missing = lines.clone();
    last_missing.remove(5);
    assert!(matches!(
        refused_at(&join(&last_missing), 6).await,
        LineProblem::EndMismatch {
            stated: 6,
            found: 5,
            ..
        }
    ));

    // Anything after the end line.
    let mut after_end = lines.clone();
    after_end.push(lines[0]);
    assert!(matches!(
        refused_at(&join(&after_end), 8).await,
        LineProblem::AfterEnd
    ));

    // An unknown field; a hash that is not hex.
    let mut extra = lines.clone();
    let with_field = lines[0].replacen('{', "{\"tx_id\":1,", 1);
    extra[0] = &with_field;
    assert!(matches!(
        refused_at(&join(&extra), 1).await,
        LineProblem::Malformed(_)
    ));
    let mut not_hex = lines.clone();
    let bad_hash = lines[4].replacen("\"hash\":\"", "\"hash\":\"zz", 1);
    not_hex[4] = &bad_hash;
    assert!(matches!(
        refused_at(&join(&not_hex), 5).await,
        LineProblem::Invalid { field: "hash", .. }
    ));

    // The same line twice.
    let mut twice = lines.clone();
    twice.insert(1, lines[0]);
    assert!(matches!(
        refused_at(&join(&twice), 2).await,
        LineProblem::DuplicateEvent { .. }
    ));
}

#[tokio::test]
async fn an_import_into_a_database_that_holds_events_is_refused() {
    let (_source_db, source) = store().await;
    populated(&source).await;
    let text = export(&source, PositionRange::ALL).await;
    let (_target_db, target) = store().await;
    target
        .append(&incident_stream(), ExpectedVersion::NoStream, &[report(9)])
        .await
        .expect("append");
    let err = import(&target, &text).await.expect_err("refused");
    assert!(
        matches!(
            err,
            TransferError::NotEmpty {
                events: 1,
                seals: 0
            }
        ),
        "{err}"
    );
    assert_eq!(count_events(&target).await, 1, "nothing added");
    // Importing the same file twice: the second is refused.
    let (_again_db, again) = store().await;
    import(&again, &text).await.expect("first import");
    assert!(matches!(
        import(&again, &text).await,
        Err(TransferError::NotEmpty { events: 6, .. })
    ));
}
