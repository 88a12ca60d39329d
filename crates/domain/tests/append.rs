//! Appends: optimistic concurrency, idempotency, atomic batches and the rules checked before SQL.

mod common;

use std::sync::Arc;

use common::{count_events, incident_stream, report, store, store_with_pool};
use serde_json::json;
use sitrep_domain::store::{ExpectedVersion, FeedCursor, StoreError, StreamRange, StreamRef};
use uuid::Uuid;

#[tokio::test]
async fn twenty_writers_at_the_same_version_one_wins() {
    let (_db, store) = store_with_pool(25).await;
    let stream = incident_stream();
    store
        .append(&stream, ExpectedVersion::NoStream, &[report(0)])
        .await
        .expect("first event");

    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let writers: Vec<_> = (0..20)
        .map(|n| {
            let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append(&stream, ExpectedVersion::Exact(1), &[report(n + 1)])
                    .await
            })
        })
        .collect();
    let mut won = 0;
    let mut conflicts = 0;
    for writer in writers {
        match writer.await.expect("writer task") {
            Ok(result) => {
                won += 1;
                assert_eq!(result.version, 2);
            }
            Err(StoreError::Conflict {
                expected, actual, ..
            }) => {
                conflicts += 1;
                assert_eq!(expected, ExpectedVersion::Exact(1));
                assert_eq!(actual, 2, "the conflict names the actual version");
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((won, conflicts), (1, 19));
    let events = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    assert_eq!(events.len(), 2, "exactly one new event");
    assert_eq!(count_events(&store).await, 2);
}

#[tokio::test]
async fn a_stale_or_future_expected_version_conflicts_and_writes_nothing() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    store
        .append(&stream, ExpectedVersion::NoStream, &[report(0), report(1)])
        .await
        .expect("two events");

    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(1),
        ExpectedVersion::Exact(3),
    ] {
        let err = store
            .append(&stream, expected, &[report(9)])
            .await
            .expect_err("conflict");
        assert!(
            matches!(err, StoreError::Conflict { actual: 2, .. }),
            "{expected}: {err}"
        );
    }
    let missing = StreamRef::new("incident", Uuid::new_v4());
    let err = store
        .append(&missing, ExpectedVersion::Exact(1), &[report(9)])
        .await
        .expect_err("no such stream");
    assert!(
        matches!(err, StoreError::Conflict { actual: 0, .. }),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 2);
}

#[tokio::test]
async fn a_batch_is_atomic_and_versions_follow_each_other() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let batch: Vec<_> = (0..100).map(report).collect();
    let result = store
        .append(&stream, ExpectedVersion::NoStream, &batch)
        .await
        .expect("batch");
    assert_eq!(result.version, 100);
    assert_eq!(result.positions.len(), 100);
    assert!(result.positions.windows(2).all(|w| w[0] < w[1]));

    let events = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=100).collect::<Vec<_>>());
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "each event links to the one before"
        );
    }

    // One stored id in a second batch: the whole batch fails and nothing of it is written.
    let mut second: Vec<_> = (0..10).map(report).collect();
    second[5] = batch[5].clone();
    let err = store
        .append(&stream, ExpectedVersion::Exact(100), &second)
        .await
        .expect_err("reused id");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { .. }),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 100);
}

#[tokio::test]
async fn any_version_appends_at_the_end_or_gives_up_with_a_conflict() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let writers: Vec<_> = (0..10)
        .map(|n| {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move {
                store
                    .append(&stream, ExpectedVersion::Any, &[report(n)])
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for writer in writers {
        match writer.await.expect("task") {
            Ok(result) => versions.push(result.version),
            // Under heavy contention a writer may give up after its retries, with a conflict.
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    // Every writer that succeeded landed at the end: versions 1..=n, each once.
    versions.sort_unstable();
    let n = versions.len() as u64;
    assert!(n >= 1);
    assert_eq!(versions, (1..=n).collect::<Vec<_>>());
    assert_eq!(
        store
            .stream_version(stream.stream_id)
            .await
            .expect("version"),
        n
    );
}

#[tokio::test]
async fn retrying_with_the_same_event_ids_stores_nothing_new() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let batch = vec![report(1), report(2)];
    let first = store
        .append(&stream, ExpectedVersion::NoStream, &batch)
        .await
        .expect("first");
    assert!(!first.replayed);

    // The same request again (a client retrying after a lost response).
    let again = store
        .append(&stream, ExpectedVersion::NoStream, &batch)
        .await
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.positions, first.positions);
    assert_eq!(again.version, first.version);
    assert_eq!(again.recorded_at, first.recorded_at);
    assert_eq!(count_events(&store).await, 2);

    // Even after the stream moved on.
    store
        .append(&stream, ExpectedVersion::Exact(2), &[report(3)])
        .await
        .expect("third");
    let late = store
        .append(&stream, ExpectedVersion::NoStream, &batch)
        .await
        .expect("late retry");
    assert!(late.replayed);
    assert_eq!(late.version, 2);
    assert_eq!(count_events(&store).await, 3);
}

#[tokio::test]
async fn the_same_event_id_with_different_content_is_refused() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let original = report(1);
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            std::slice::from_ref(&original),
        )
        .await
        .expect("first");

    let mut changed = original.clone();
    changed.payload = json!({ "different": true }).into();
    let err = store
        .append(&stream, ExpectedVersion::Exact(1), &[changed])
        .await
        .expect_err("different payload");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { event_id } if event_id == original.event_id),
        "{err}"
    );

    let other_stream = incident_stream();
    let err = store
        .append(
            &other_stream,
            ExpectedVersion::NoStream,
            std::slice::from_ref(&original),
        )
        .await
        .expect_err("same event in another stream");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { .. }),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 1);
}

#[tokio::test]
async fn a_stream_keeps_its_type() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    store
        .append(&stream, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("first");
    let as_negotiation = StreamRef::new("negotiation", stream.stream_id);
    let err = store
        .append(&as_negotiation, ExpectedVersion::Exact(1), &[report(2)])
        .await
        .expect_err("type mismatch");
    assert!(
        matches!(&err, StoreError::StreamTypeMismatch { actual, .. } if actual == "incident"),
        "{err}"
    );
}

#[tokio::test]
async fn invalid_events_get_a_typed_error_naming_the_field_and_write_nothing() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    type Spoil = Box<dyn Fn(&mut sitrep_domain::store::NewEvent)>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "events[0].event_type",
            Box::new(|e| e.event_type = " ".into()),
        ),
        (
            "events[0].recorded_by",
            Box::new(|e| e.recorded_by = String::new()),
        ),
        (
            "events[0].schema_version",
            Box::new(|e| e.schema_version = 0),
        ),
        (
            "events[0].metadata",
            Box::new(|e| e.metadata = json!([1, 2]).into()),
        ),
        (
            "events[0].payload",
            Box::new(|e| e.payload = json!({ "a": "nul\u{0}here" }).into()),
        ),
        (
            "events[0].reason",
            Box::new(|e| e.reason = Some("  ".into())),
        ),
        (
            "events[0].valid_time",
            Box::new(|e| {
                let from = chrono::Utc::now();
                e.valid_time = Some(sitrep_domain::store::ValidTime {
                    from,
                    to: Some(from - chrono::Duration::days(1)),
                    precision: Some("day".into()),
                });
            }),
        ),
    ];
    for (field, spoil) in cases {
        let mut event = report(1);
        spoil(&mut event);
        let err = store
            .append(&stream, ExpectedVersion::NoStream, &[event])
            .await
            .expect_err(field);
        assert!(
            matches!(&err, StoreError::Invalid { field: f, .. } if f == field),
            "{field}: {err}"
        );
    }
    let err = store
        .append(&stream, ExpectedVersion::NoStream, &[])
        .await
        .expect_err("empty");
    assert!(matches!(err, StoreError::Invalid { .. }));
    let twice = report(1);
    let err = store
        .append(&stream, ExpectedVersion::NoStream, &[twice.clone(), twice])
        .await
        .expect_err("duplicate ids");
    assert!(matches!(err, StoreError::Invalid { .. }));
    let bad_type = StreamRef::new("", Uuid::new_v4());
    let err = store
        .append(&bad_type, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect_err("empty stream type");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "stream_type"),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 0);
}

#[tokio::test]
async fn a_stream_reads_whole_up_to_a_version_or_as_known_at_a_time() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let first = store
        .append(&stream, ExpectedVersion::NoStream, &[report(1), report(2)])
        .await
        .expect("first");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .append(&stream, ExpectedVersion::Exact(2), &[report(3)])
        .await
        .expect("second");

    let all = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("all");
    assert_eq!(all.len(), 3);
    let two = store
        .read_stream(stream.stream_id, StreamRange::UntilVersion(2))
        .await
        .expect("until 2");
    assert_eq!(two.len(), 2);
    let known = store
        .read_stream(
            stream.stream_id,
            StreamRange::UntilRecorded(first.recorded_at),
        )
        .await
        .expect("as known");
    assert_eq!(known, two);
    assert_eq!(
        known[0].payload_as::<serde_json::Value>().expect("JSON"),
        report(1).payload.to_value()
    );
}

#[tokio::test]
async fn an_append_inside_a_callers_transaction_commits_or_vanishes_with_it() {
    let (_db, store) = store().await;
    let stream = incident_stream();

    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_in(&mut tx, &stream, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("append in tx");
    // A failed append leaves the transaction usable.
    let err = store
        .append_in(&mut tx, &stream, ExpectedVersion::NoStream, &[report(2)])
        .await
        .expect_err("conflict inside the transaction");
    assert!(
        matches!(err, StoreError::Conflict { actual: 1, .. }),
        "{err}"
    );
    tx.rollback().await.expect("rollback");
    assert_eq!(count_events(&store).await, 0);

    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_in(&mut tx, &stream, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("append in tx");
    tx.commit().await.expect("commit");
    assert_eq!(count_events(&store).await, 1);
}

/// Appends link to a head the store knows (it wrote or read it) or look it up (another process
/// wrote it); both paths refuse a stale version the same way and the chain verifies.
#[tokio::test]
async fn known_and_looked_up_heads_link_the_same_chain() {
    let (_db, store) = store().await;
    // A second handle on the same database: it has seen nothing, like another sitrep process.
    let other = sitrep_domain::store::EventStore::new(store.pool().clone());
    let stream = incident_stream();

    let first = store
        .append(&stream, ExpectedVersion::NoStream, &[report(1), report(2)])
        .await
        .expect("new stream, batch");
    let known = store
        .append(&stream, ExpectedVersion::Exact(2), &[report(3)])
        .await
        .expect("known head, one event");
    let looked_up = other
        .append(&stream, ExpectedVersion::Exact(3), &[report(4), report(5)])
        .await
        .expect("looked-up head, batch");
    assert_eq!((first.version, known.version, looked_up.version), (2, 3, 5));

    // `store` still remembers version 3 as the head: expecting it now is a conflict, not a fork.
    let stale = store
        .append(&stream, ExpectedVersion::Exact(3), &[report(6)])
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { actual: 5, .. })),
        "{stale:?}"
    );
    // Reading the stream teaches `store` the head; the next append links to it.
    store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    store
        .append(&stream, ExpectedVersion::Exact(5), &[report(7)])
        .await
        .expect("head learnt by reading");
    // A new stream whose id is taken by another type of stream is refused as such.
    let taken = store
        .append(
            &StreamRef::new("actor", stream.stream_id),
            ExpectedVersion::NoStream,
            &[report(8)],
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::StreamTypeMismatch { .. })),
        "{taken:?}"
    );

    let report = store.verify().await.expect("verify");
    assert_eq!(report.events_checked, 6);
    assert_eq!(report.first_break, None);
    assert_eq!(count_events(&store).await, 6);
}

/// A batch whose optional columns differ from event to event (and some that are the same for
/// all) stores every value as given.
#[tokio::test]
async fn a_batch_keeps_each_events_own_columns() {
    let (_db, store) = store().await;
    let stream = incident_stream();
    let mut events: Vec<_> = (0..4).map(report).collect();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .expect("time")
    };
    events[1].reason = Some("source revision".into());
    events[2].valid_time = Some(sitrep_domain::store::ValidTime {
        from: t("2024-01-28T00:00:00Z"),
        to: Some(t("2024-01-29T00:00:00Z")),
        precision: Some("day".into()),
    });
    events[3].recorded_by = "importer".into();
    events[3].metadata = json!({"row": 17}).into();
    for e in &mut events {
        e.correlation_id = Some(Uuid::from_u128(9));
    }
    store
        .append(&stream, ExpectedVersion::NoStream, &events)
        .await
        .expect("append");
    let stored = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    assert_eq!(stored.len(), 4);
    for (s, e) in stored.iter().zip(&events) {
        assert_eq!(s.event_id, e.event_id);
        assert_eq!(s.reason, e.reason);
        assert_eq!(s.valid_time, e.valid_time);
        assert_eq!(s.recorded_by, e.recorded_by);
        assert_eq!(
            s.metadata.parse::<serde_json::Value>().expect("json"),
            e.metadata.to_value()
        );
        assert_eq!(s.correlation_id, Some(Uuid::from_u128(9)));
        assert_eq!(s.causation_id, None);
        assert_eq!(s.schema_version, 1);
    }
    assert_eq!(store.verify().await.expect("verify").first_break, None);
}

/// Every form of the append statement (one event or several; a head known, looked up or taken
/// as it is; the store's own transaction or a caller's) and a replay answer the feed cursor
/// just past the last event they stored: what a read-your-writes wait waits for.
#[tokio::test]
async fn an_append_answers_where_its_events_end_in_the_feed() {
    let (_db, store) = store().await;
    // Another handle on the same database knows no heads: its appends look them up.
    let other = sitrep_domain::store::EventStore::new(store.pool().clone());
    let stream = incident_stream();
    let appends = [
        // One event, new stream (a known head: the genesis hash).
        store
            .append(&stream, ExpectedVersion::NoStream, &[report(1)])
            .await,
        // Several events, a head the store knows (linked by the store).
        store
            .append(&stream, ExpectedVersion::Exact(1), &[report(2), report(3)])
            .await,
        // One event, a head looked up by the statement.
        other
            .append(&stream, ExpectedVersion::Exact(3), &[report(4)])
            .await,
        // Several events at any version (looked up, linked in the database).
        other
            .append(&stream, ExpectedVersion::Any, &[report(5), report(6)])
            .await,
    ];
    for result in appends {
        let result = result.expect("append");
        assert_eq!(
            result.feed_end,
            stored_end(&store, &stream, &result.positions).await
        );
    }

    // In a caller's transaction: the cursor of that transaction's rows, known once committed.
    let mut tx = store.pool().begin().await.expect("begin");
    let in_tx = store
        .append_in(
            &mut tx,
            &stream,
            ExpectedVersion::Exact(6),
            &[report(7), report(8)],
        )
        .await
        .expect("append in tx");
    tx.commit().await.expect("commit");
    assert_eq!(
        in_tx.feed_end,
        stored_end(&store, &stream, &in_tx.positions).await
    );

    // A retry of the batch above is answered with the first append's cursor.
    let batch = [report(9), report(10)];
    let first = store
        .append(&stream, ExpectedVersion::Exact(8), &batch)
        .await
        .expect("batch");
    let retry = store
        .append(&stream, ExpectedVersion::Exact(8), &batch)
        .await
        .expect("retry");
    assert!(retry.replayed);
    assert_eq!(retry.feed_end, first.feed_end);
    assert_eq!(
        first.feed_end,
        stored_end(&store, &stream, &first.positions).await
    );
}

/// The feed cursor just past the last (in feed order) of `stream`'s stored events at
/// `positions`.
async fn stored_end(
    store: &sitrep_domain::store::EventStore,
    stream: &StreamRef,
    positions: &[i64],
) -> FeedCursor {
    let events = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    events
        .iter()
        .filter(|e| positions.contains(&e.position))
        .map(|e| e.cursor())
        .max()
        .expect("the appended events are stored")
}
