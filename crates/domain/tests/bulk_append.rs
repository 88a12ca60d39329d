//! Bulk appends (`append_batch_in`): many streams in the caller's transaction, all or nothing,
//! with the single appends' concurrency control, hash links and idempotency.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{count_events, incident_stream, report, store, store_with_pool};
use serde_json::json;
use sitrep_domain::store::{
    BulkAppendResult, EventStore, ExpectedVersion, FeedCursor, NewEvent, StoreError, StoredEvent,
    StreamAppend, StreamRange, StreamRef, ValidTime,
};
use uuid::Uuid;

fn part(stream: &StreamRef, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend {
        stream: stream.clone(),
        expected,
        events,
    }
}

/// An event with every optional field set.
fn full_event(n: usize) -> NewEvent {
    let mut event = report(n);
    event.event_type = "CasualtiesRevised".into();
    event.schema_version = 2;
    event.valid_time = Some(ValidTime {
        from: DateTime::from_timestamp_micros(1_706_400_000_123_456).expect("time"),
        to: Some(DateTime::from_timestamp_micros(1_706_486_400_000_000).expect("time")),
        precision: Some("day".into()),
    });
    event.reason = Some("the ministry revised its figures".into());
    event.causation_id = Some(Uuid::new_v4());
    event.correlation_id = Some(Uuid::new_v4());
    event.metadata = json!({ "source": "ACLED", "row": n, "z": { "b": 1, "a": [1, 2] } }).into();
    event
}

/// Stream `stream` with `n` events appended one by one through the normal path.
async fn existing(store: &EventStore, n: usize) -> StreamRef {
    let stream = incident_stream();
    let events: Vec<NewEvent> = (0..n).map(report).collect();
    store
        .append(&stream, ExpectedVersion::NoStream, &events)
        .await
        .expect("existing stream");
    stream
}

/// Runs `batch` in a transaction of its own and commits it.
async fn commit_batch(
    store: &EventStore,
    batch: &[StreamAppend],
) -> Result<BulkAppendResult, StoreError> {
    let mut tx = store.pool().begin().await.expect("begin");
    let result = store.append_batch_in(&mut tx, batch).await;
    match &result {
        Ok(_) => {
            tx.commit().await.expect("commit");
            store.notify_appended();
        }
        Err(_) => tx.rollback().await.expect("rollback"),
    }
    result
}

async fn assert_intact(store: &EventStore, events: u64) {
    let report = store.verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.first_break);
    assert_eq!(report.events_checked, events);
}

/// The feed after `after` until it has shown `count` events (an open transaction elsewhere in
/// the cluster may hold them back for a moment).
async fn feed_after(store: &EventStore, after: FeedCursor, count: usize) -> Vec<StoredEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut cursor = after;
    let mut events = Vec::new();
    while events.len() < count {
        assert!(tokio::time::Instant::now() < deadline, "the feed held back");
        let page = store.read_feed(cursor, 1_000).await.expect("feed");
        cursor = page.next;
        if page.events.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        events.extend(page.events);
    }
    events
}

/// Stored events equal what was given: ids, types, JSON, valid time, author, reason, links.
fn assert_stored_as_given(stored: &StoredEvent, given: &NewEvent) {
    assert_eq!(stored.event_id, given.event_id);
    assert_eq!(stored.event_type, given.event_type);
    assert_eq!(stored.schema_version, given.schema_version);
    assert_eq!(
        stored.payload_as::<serde_json::Value>().expect("payload"),
        given.payload.to_value()
    );
    assert_eq!(
        stored
            .metadata
            .parse::<serde_json::Value>()
            .expect("metadata"),
        given.metadata.to_value()
    );
    assert_eq!(stored.valid_time, given.valid_time);
    assert_eq!(stored.recorded_by, given.recorded_by);
    assert_eq!(stored.reason, given.reason);
    assert_eq!(stored.causation_id, given.causation_id);
    assert_eq!(stored.correlation_id, given.correlation_id);
}

#[tokio::test]
async fn three_new_and_two_existing_streams_append_in_one_batch() {
    let (_db, store) = store().await;
    let old_one = existing(&store, 1).await;
    let old_two = existing(&store, 2).await;
    // Where the feed stands after the events written so far (feed_head could still stand
    // before them while another test's open transaction holds them back).
    let mut before = FeedCursor::START;
    for stream in [&old_one, &old_two] {
        for event in store
            .read_stream(stream.stream_id, StreamRange::All)
            .await
            .expect("read")
        {
            before = before.max(event.cursor());
        }
    }
    let (new_a, new_b, new_c) = (incident_stream(), incident_stream(), incident_stream());
    let batch = vec![
        part(&new_a, ExpectedVersion::NoStream, vec![full_event(1)]),
        part(
            &old_one,
            ExpectedVersion::Exact(1),
            vec![report(2), full_event(3)],
        ),
        part(
            &new_b,
            ExpectedVersion::NoStream,
            vec![report(4), report(5), report(6)],
        ),
        part(&old_two, ExpectedVersion::Exact(2), vec![report(7)]),
        part(&new_c, ExpectedVersion::Any, vec![report(8)]),
    ];

    let result = commit_batch(&store, &batch).await.expect("bulk append");

    assert!(!result.replayed);
    let versions: Vec<u64> = result.streams.iter().map(|s| s.version).collect();
    assert_eq!(versions, [1, 3, 3, 3, 1]);
    assert_eq!(result.event_count(), 8);
    assert!(
        result.positions.windows(2).all(|w| w[0] < w[1]),
        "positions ascend in batch order: {:?}",
        result.positions
    );
    let given: Vec<&NewEvent> = batch.iter().flat_map(|p| &p.events).collect();
    let given_ids: Vec<Uuid> = given.iter().map(|e| e.event_id).collect();
    assert_eq!(result.event_ids, given_ids);

    for (part, appended) in batch.iter().zip(&result.streams) {
        assert_eq!(appended.stream_id, part.stream.stream_id);
        let stored = store
            .read_stream(part.stream.stream_id, StreamRange::All)
            .await
            .expect("read");
        assert_eq!(stored.len() as u64, appended.version);
        let new = &stored[stored.len() - part.events.len()..];
        assert_eq!(
            new.iter().map(|e| e.position).collect::<Vec<_>>(),
            result.positions_of(appended)
        );
        for (stored, given) in new.iter().zip(&part.events) {
            assert_stored_as_given(stored, given);
            assert_eq!(stored.stream, part.stream);
            assert_eq!(stored.recorded_at, result.recorded_at);
        }
        // The chain runs on from the events before the batch.
        for pair in stored.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
            assert_eq!(pair[1].stream_version, pair[0].stream_version + 1);
        }
    }

    // The feed yields the batch in batch order, after nothing else.
    let feed = feed_after(&store, before, 8).await;
    assert_eq!(
        feed.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        given_ids
    );
    assert!(
        feed.iter().all(|e| e.tx_id == feed[0].tx_id),
        "one transaction"
    );
    let later = store.read_feed(feed[7].cursor(), 10).await.expect("feed");
    assert!(later.events.is_empty());

    assert_intact(&store, 11).await;
    // A seal over the bulk-appended events verifies too.
    while store.seal().await.expect("seal").is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = store.verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.first_break);
    assert!(report.seals_checked >= 1);
}

#[tokio::test]
async fn a_wrong_expected_version_refuses_the_whole_batch() {
    let (_db, store) = store().await;
    let old = existing(&store, 2).await;
    let fresh = incident_stream();
    let mut tx = store.pool().begin().await.expect("begin");
    let err = store
        .append_batch_in(
            &mut tx,
            &[
                part(&fresh, ExpectedVersion::NoStream, vec![report(1)]),
                part(&old, ExpectedVersion::Exact(1), vec![report(2)]),
            ],
        )
        .await
        .expect_err("conflict");
    match err {
        StoreError::Conflict {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!(stream_id, old.stream_id);
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, 2);
        }
        other => panic!("expected a conflict, got {other}"),
    }
    // The transaction is usable and holds nothing of the batch; it rolls back cleanly.
    let in_tx: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *tx)
        .await
        .expect("count in the transaction");
    assert_eq!(in_tx, 2);
    tx.rollback().await.expect("rollback");
    assert_eq!(count_events(&store).await, 2);
    assert!(store
        .read_stream(fresh.stream_id, StreamRange::All)
        .await
        .expect("read")
        .is_empty());
}

/// A stream expected new that exists is refused by the unique key during the COPY, after a row
/// of the batch was inserted: the savepoint takes them back, the conflict names the stream, and the
/// same transaction can go on and commit another batch.
#[tokio::test]
async fn a_new_stream_that_exists_refuses_the_batch_and_the_transaction_goes_on() {
    let (_db, store) = store().await;
    let old = existing(&store, 3).await;
    let (a, b) = (incident_stream(), incident_stream());
    let mut tx = store.pool().begin().await.expect("begin");
    let err = store
        .append_batch_in(
            &mut tx,
            &[
                part(&a, ExpectedVersion::NoStream, vec![report(1), report(2)]),
                part(&old, ExpectedVersion::NoStream, vec![report(3)]),
                part(&b, ExpectedVersion::NoStream, vec![report(4)]),
            ],
        )
        .await
        .expect_err("conflict");
    assert!(
        matches!(
            err,
            StoreError::Conflict { stream_id, expected: ExpectedVersion::NoStream, actual: 3 }
                if stream_id == old.stream_id
        ),
        "{err}"
    );
    let in_tx: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *tx)
        .await
        .expect("count in the transaction");
    assert_eq!(in_tx, 3, "the rows sent before the conflict are gone");

    let result = store
        .append_batch_in(
            &mut tx,
            &[
                part(&a, ExpectedVersion::NoStream, vec![report(1)]),
                part(&old, ExpectedVersion::Exact(3), vec![report(3)]),
            ],
        )
        .await
        .expect("a second batch in the same transaction");
    assert_eq!(
        result.streams.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 4]
    );
    tx.commit().await.expect("commit");
    assert_eq!(count_events(&store).await, 5);
    assert_intact(&store, 5).await;
}

#[tokio::test]
async fn another_stream_type_is_refused_whatever_the_expectation() {
    let (_db, store) = store().await;
    let old = existing(&store, 1).await;
    let as_actor = StreamRef::new("actor", old.stream_id);
    for expected in [ExpectedVersion::Exact(1), ExpectedVersion::NoStream] {
        let err = commit_batch(
            &store,
            &[
                part(
                    &incident_stream(),
                    ExpectedVersion::NoStream,
                    vec![report(1)],
                ),
                part(&as_actor, expected, vec![report(2)]),
            ],
        )
        .await
        .expect_err("type mismatch");
        assert!(
            matches!(
                &err,
                StoreError::StreamTypeMismatch { stream_id, requested, actual }
                    if *stream_id == old.stream_id && requested == "actor" && actual == "incident"
            ),
            "{expected}: {err}"
        );
    }
    assert_eq!(count_events(&store).await, 1);
}

/// Waits until some backend of this database waits on a lock (the unique key's).
async fn until_someone_waits_on_a_lock(store: &EventStore) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(store.pool())
        .await
        .expect("activity");
        if waiting > 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "nobody waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A writer slips in between the batch's head read and its insert: the batch read version 1,
/// the other transaction (not yet committed) wrote version 2; the COPY waits on the unique key,
/// and when the other commits the batch fails whole with the conflict.
#[tokio::test]
async fn a_writer_between_the_head_read_and_the_insert_wins() {
    let (_db, store) = store_with_pool(6).await;
    let old = existing(&store, 1).await;
    let fresh = incident_stream();

    let mut other = store.pool().begin().await.expect("begin other");
    store
        .append_in(&mut other, &old, ExpectedVersion::Exact(1), &[report(9)])
        .await
        .expect("the other writer");

    let bulk = {
        let (store, old, fresh) = (store.clone(), old.clone(), fresh.clone());
        tokio::spawn(async move {
            let mut tx = store.pool().begin().await.expect("begin bulk");
            let result = store
                .append_batch_in(
                    &mut tx,
                    &[
                        part(&fresh, ExpectedVersion::NoStream, vec![report(1)]),
                        part(&old, ExpectedVersion::Exact(1), vec![report(2)]),
                    ],
                )
                .await;
            tx.rollback().await.expect("rollback");
            result
        })
    };
    until_someone_waits_on_a_lock(&store).await;
    other.commit().await.expect("commit other");

    let err = bulk.await.expect("task").expect_err("conflict");
    assert!(
        matches!(
            err,
            StoreError::Conflict { stream_id, expected: ExpectedVersion::Exact(1), actual: 2 }
                if stream_id == old.stream_id
        ),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 2);
    assert!(store
        .read_stream(fresh.stream_id, StreamRange::All)
        .await
        .expect("read")
        .is_empty());
    assert_intact(&store, 2).await;
}

/// Two batches race on the same new stream: exactly one wins, the other gets the conflict and
/// leaves nothing of its own behind; a single append racing a batch loses the same way.
#[tokio::test]
async fn racing_batches_on_the_same_new_stream_one_wins() {
    let (_db, store) = store_with_pool(8).await;
    let shared = incident_stream();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|n| {
            let (store, shared, barrier) = (store.clone(), shared.clone(), barrier.clone());
            tokio::spawn(async move {
                let own = incident_stream();
                let batch = [
                    part(&own, ExpectedVersion::NoStream, vec![report(n)]),
                    part(&shared, ExpectedVersion::NoStream, vec![report(10 + n)]),
                ];
                barrier.wait().await;
                (own, commit_batch(&store, &batch).await)
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        let (own, outcome) = racer.await.expect("task");
        let own_events = store
            .read_stream(own.stream_id, StreamRange::All)
            .await
            .expect("read");
        match outcome {
            Ok(result) => {
                won += 1;
                assert_eq!(result.streams[1].version, 1);
                assert_eq!(own_events.len(), 1);
            }
            Err(StoreError::Conflict {
                stream_id, actual, ..
            }) => {
                assert_eq!(stream_id, shared.stream_id);
                assert_eq!(actual, 1);
                assert!(own_events.is_empty(), "nothing half-written");
            }
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(count_events(&store).await, 2);

    // A single append against an open batch on the same stream: the batch commits, the single
    // append (which waited on the unique key) gets the conflict.
    let mut tx = store.pool().begin().await.expect("begin");
    store
        .append_batch_in(
            &mut tx,
            &[part(&shared, ExpectedVersion::Exact(1), vec![report(20)])],
        )
        .await
        .expect("batch");
    let single = {
        let (store, shared) = (store.clone(), shared.clone());
        tokio::spawn(async move {
            store
                .append(&shared, ExpectedVersion::Exact(1), &[report(21)])
                .await
        })
    };
    until_someone_waits_on_a_lock(&store).await;
    tx.commit().await.expect("commit");
    let err = single.await.expect("task").expect_err("conflict");
    assert!(
        matches!(err, StoreError::Conflict { actual: 2, .. }),
        "{err}"
    );
    assert_intact(&store, 3).await;
}

#[tokio::test]
async fn bad_batches_are_refused_before_anything_runs() {
    let (_db, store) = store().await;
    let stored = existing(&store, 1).await;
    let stored_id = store
        .read_stream(stored.stream_id, StreamRange::All)
        .await
        .expect("read")[0]
        .event_id;
    let (a, b) = (incident_stream(), incident_stream());

    let err = commit_batch(&store, &[]).await.expect_err("empty");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch"),
        "{err}"
    );

    let twice = [
        part(&a, ExpectedVersion::NoStream, vec![report(1)]),
        part(&b, ExpectedVersion::NoStream, vec![report(2)]),
        part(&a, ExpectedVersion::Exact(1), vec![report(3)]),
    ];
    let err = commit_batch(&store, &twice)
        .await
        .expect_err("a stream twice");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch[2].stream.stream_id"),
        "{err}"
    );

    let shared_id = report(4);
    let mut copy = report(5);
    copy.event_id = shared_id.event_id;
    let err = commit_batch(
        &store,
        &[
            part(&a, ExpectedVersion::NoStream, vec![report(3), shared_id]),
            part(&b, ExpectedVersion::NoStream, vec![copy]),
        ],
    )
    .await
    .expect_err("an event id twice");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch[1].events[0].event_id"),
        "{err}"
    );

    let mut nameless = report(6);
    nameless.event_type = " ".into();
    let err = commit_batch(
        &store,
        &[
            part(&a, ExpectedVersion::NoStream, vec![report(5)]),
            part(&b, ExpectedVersion::NoStream, vec![report(6), nameless]),
        ],
    )
    .await
    .expect_err("an invalid event");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch[1].events[1].event_type"),
        "{err}"
    );

    // An id stored already (with other content, in another stream): refused, nothing written,
    // even though it comes after rows the COPY had inserted.
    let mut reused = report(7);
    reused.event_id = stored_id;
    let err = commit_batch(
        &store,
        &[
            part(&a, ExpectedVersion::NoStream, vec![report(8)]),
            part(&b, ExpectedVersion::NoStream, vec![report(9), reused]),
        ],
    )
    .await
    .expect_err("a stored id");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { event_id } if event_id == stored_id),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 1);
}

/// The one rule checked while the rows are written, not before: no NUL character in the JSON.
/// Found after the first megabyte of rows went out, it aborts the COPY; nothing is written and
/// the transaction goes on.
#[tokio::test]
async fn a_nul_character_in_the_json_refuses_the_batch_after_rows_went_out() {
    let (_db, store) = store().await;
    let mut batch: Vec<StreamAppend> = (0..3_000)
        .map(|n| {
            part(
                &incident_stream(),
                ExpectedVersion::NoStream,
                vec![report(n)],
            )
        })
        .collect();
    let mut payload = batch[2_500].events[0].payload.to_value();
    payload["notes"] = json!("before\u{0}after");
    batch[2_500].events[0].payload = payload.into();
    let mut tx = store.pool().begin().await.expect("begin");
    let err = store
        .append_batch_in(&mut tx, &batch)
        .await
        .expect_err("NUL in the payload");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch[2500].events[0].payload"),
        "{err}"
    );
    let mut metadata = report(1);
    metadata.metadata = json!({ "k\u{0}": 1 }).into();
    let err = store
        .append_batch_in(
            &mut tx,
            &[part(
                &incident_stream(),
                ExpectedVersion::NoStream,
                vec![report(0), metadata],
            )],
        )
        .await
        .expect_err("NUL in a metadata key");
    assert!(
        matches!(&err, StoreError::Invalid { field, .. } if field == "batch[0].events[1].metadata"),
        "{err}"
    );
    let in_tx: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *tx)
        .await
        .expect("count in the transaction");
    assert_eq!(in_tx, 0);
    let mut payload = batch[2_500].events[0].payload.to_value();
    payload["notes"] = json!("fixed");
    batch[2_500].events[0].payload = payload.into();
    store
        .append_batch_in(&mut tx, &batch)
        .await
        .expect("the corrected batch");
    tx.commit().await.expect("commit");
    assert_intact(&store, 3_000).await;
}

/// A batch that committed, sent again (a retry after a lost acknowledgement): the original
/// result and nothing written; the same ids with one changed event, or beside new ones, are
/// refused.
#[tokio::test]
async fn a_retried_batch_returns_its_first_result() {
    let (_db, store) = store().await;
    let old = existing(&store, 1).await;
    let (a, b) = (incident_stream(), incident_stream());
    let batch = vec![
        part(
            &a,
            ExpectedVersion::NoStream,
            vec![full_event(1), report(2)],
        ),
        part(&old, ExpectedVersion::Exact(1), vec![report(3)]),
        part(&b, ExpectedVersion::NoStream, vec![report(4)]),
    ];
    let first = commit_batch(&store, &batch).await.expect("first run");
    let again = commit_batch(&store, &batch).await.expect("retry");
    assert!(again.replayed);
    assert_eq!(again.streams, first.streams);
    assert_eq!(again.positions, first.positions);
    assert_eq!(again.event_ids, first.event_ids);
    assert_eq!(again.recorded_at, first.recorded_at);
    assert_eq!(count_events(&store).await, 5);

    let mut changed = batch.clone();
    changed[2].events[0].payload = json!({ "notes": "another text" }).into();
    let err = commit_batch(&store, &changed).await.expect_err("changed");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { event_id } if event_id == batch[2].events[0].event_id),
        "{err}"
    );

    let mut grown = batch.clone();
    grown.push(part(
        &incident_stream(),
        ExpectedVersion::NoStream,
        vec![report(5)],
    ));
    let err = commit_batch(&store, &grown).await.expect_err("partly new");
    assert!(
        matches!(err, StoreError::IdempotencyMismatch { event_id } if event_id == batch[0].events[0].event_id),
        "{err}"
    );
    assert_eq!(count_events(&store).await, 5);
    assert_intact(&store, 5).await;
}

/// Streams written in bulk go on through the normal appends (whose heads they never saw), and
/// through a second batch; the chains stay whole.
#[tokio::test]
async fn bulk_appended_streams_take_normal_appends_afterwards() {
    let (_db, store) = store().await;
    let (a, b) = (incident_stream(), incident_stream());
    commit_batch(
        &store,
        &[
            part(&a, ExpectedVersion::NoStream, vec![report(1)]),
            part(&b, ExpectedVersion::NoStream, vec![report(2), report(3)]),
        ],
    )
    .await
    .expect("bulk");

    let err = store
        .append(&a, ExpectedVersion::NoStream, &[report(4)])
        .await
        .expect_err("a exists");
    assert!(
        matches!(err, StoreError::Conflict { actual: 1, .. }),
        "{err}"
    );
    let next = store
        .append(&a, ExpectedVersion::Exact(1), &[report(4)])
        .await
        .expect("single after bulk");
    assert_eq!(next.version, 2);
    let next = store
        .append(&b, ExpectedVersion::Exact(2), &[report(5), report(6)])
        .await
        .expect("batch after bulk");
    assert_eq!(next.version, 4);
    // The store now remembers a's head at 2: a bulk append goes on from there too.
    commit_batch(
        &store,
        &[part(&a, ExpectedVersion::Exact(2), vec![full_event(7)])],
    )
    .await
    .expect("bulk again");
    store
        .append(&a, ExpectedVersion::Exact(3), &[report(8)])
        .await
        .expect("single again");

    for (stream, length) in [(&a, 4), (&b, 4)] {
        let events = store
            .read_stream(stream.stream_id, StreamRange::All)
            .await
            .expect("read");
        assert_eq!(events.len(), length);
        for (i, pair) in events.windows(2).enumerate() {
            assert_eq!(pair[1].prev_hash, pair[0].hash, "link {}", i + 2);
        }
    }
    assert_intact(&store, 8).await;
}

#[tokio::test]
async fn twenty_thousand_new_streams_append_and_verify() {
    let (_db, store) = store().await;
    let started = std::time::Instant::now();
    let batch: Vec<StreamAppend> = (0..20_000)
        .map(|n| {
            part(
                &incident_stream(),
                ExpectedVersion::NoStream,
                vec![report(n)],
            )
        })
        .collect();
    let result = commit_batch(&store, &batch).await.expect("bulk");
    assert_eq!(result.streams.len(), 20_000);
    assert!(result.streams.iter().all(|s| s.version == 1));
    assert!(result.positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(count_events(&store).await, 20_000);
    assert_intact(&store, 20_000).await;
    // Spot checks: the first, a middle and the last stream read back as given.
    for i in [0, 9_999, 19_999] {
        let stored = store
            .read_stream(batch[i].stream.stream_id, StreamRange::All)
            .await
            .expect("read");
        assert_eq!(stored.len(), 1);
        assert_stored_as_given(&stored[0], &batch[i].events[0]);
        assert_eq!(stored[0].position, result.positions[i]);
    }
    let recorded: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT DISTINCT recorded_at FROM events")
            .fetch_all(store.pool())
            .await
            .expect("times");
    assert_eq!(recorded, [result.recorded_at]);
    eprintln!(
        "20,000 streams appended and verified in {:?}",
        started.elapsed()
    );
}
