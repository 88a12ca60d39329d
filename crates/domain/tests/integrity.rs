//! Append-only at the database level, and tamper evidence: hash links and feed seals.

mod common;

use common::{incident_stream, report, store};
use sitrep_domain::store::{
    EventStore, ExpectedVersion, IntegrityProblem, PositionRange, Seal, StreamRange,
};

/// Three streams of three events each, so that tampering has neighbours on every side.
async fn populated() -> (sitrep_testkit::TestDb, EventStore, Vec<uuid::Uuid>) {
    let (db, store) = store().await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let stream = incident_stream();
        for version in 0..3 {
            let expected = if version == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(version)
            };
            store
                .append(&stream, expected, &[report(version as usize)])
                .await
                .expect("append");
        }
        streams.push(stream.stream_id);
    }
    (db, store, streams)
}

/// Seals until every stored event is covered. A seal covers only events that are final, and
/// another test's open transaction in the same cluster may hold some back for a moment.
async fn seal_everything(store: &EventStore) -> Vec<Seal> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let sealed_before: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(event_count), 0)::int8 FROM feed_seals")
            .fetch_one(store.pool())
            .await
            .expect("sealed so far");
    let mut seals = Vec::new();
    let mut sealed = sealed_before;
    while sealed < total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events stayed unsealed"
        );
        match store.seal().await.expect("seal") {
            Some(seal) => {
                sealed += seal.event_count;
                seals.push(seal);
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    seals
}

/// Runs SQL with the append-only trigger switched off, as someone bypassing sitrep would.
async fn tamper(store: &EventStore, sql: &str) {
    let mut tx = store.pool().begin().await.expect("begin");
    for statement in [
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        "ALTER TABLE feed_seals DISABLE TRIGGER feed_seals_append_only",
        sql,
        "ALTER TABLE events ENABLE TRIGGER events_append_only",
        "ALTER TABLE feed_seals ENABLE TRIGGER feed_seals_append_only",
    ] {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect(statement);
    }
    tx.commit().await.expect("commit");
}

async fn position_of(store: &EventStore, stream_id: uuid::Uuid, version: u64) -> i64 {
    store
        .read_stream(stream_id, StreamRange::All)
        .await
        .expect("read")
        .into_iter()
        .find(|e| e.stream_version == version)
        .expect("event")
        .position
}

#[tokio::test]
async fn update_delete_and_truncate_are_refused_by_the_database() {
    let (_db, store, _) = populated().await;
    seal_everything(&store).await;
    for sql in [
        "UPDATE events SET reason = 'rewritten'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE feed_seals SET event_count = 1",
        "DELETE FROM feed_seals",
        "TRUNCATE feed_seals",
    ] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("SR001"), "{sql}: {err}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(count, 9);
}

#[tokio::test]
async fn an_intact_log_verifies() {
    let (_db, store, _) = populated().await;
    // A batch as well: its hashes are linked by the database's chain function.
    let batch: Vec<_> = (0..5).map(report).collect();
    store
        .append(&incident_stream(), ExpectedVersion::NoStream, &batch)
        .await
        .expect("batch");
    let seals = seal_everything(&store).await;
    let report = store.verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.first_break);
    assert_eq!(report.events_checked, 14);
    assert_eq!(report.seals_checked, seals.len() as u64);
    assert_eq!(seals.iter().map(|s| s.event_count).sum::<i64>(), 14);
    assert!(
        store.seal().await.expect("seal").is_none(),
        "nothing new to seal"
    );
}

#[tokio::test]
async fn an_altered_event_is_named_at_its_position() {
    let (_db, store, streams) = populated().await;
    let target = position_of(&store, streams[1], 2).await;
    tamper(
        &store,
        &format!("UPDATE events SET payload = jsonb_set(payload::jsonb, '{{fatalities,best}}', '12')::json WHERE position = {target}"),
    )
    .await;
    let report = store.verify().await.expect("verify");
    let broken = report.first_break.expect("detected");
    assert_eq!(broken.position, target);
    assert!(
        matches!(
            broken.problem,
            IntegrityProblem::ContentAltered { version: 2, .. }
        ),
        "{}",
        broken.problem
    );
}

#[tokio::test]
async fn an_altered_recorded_time_is_detected_too() {
    let (_db, store, streams) = populated().await;
    let target = position_of(&store, streams[0], 1).await;
    tamper(
        &store,
        &format!("UPDATE events SET recorded_at = recorded_at - interval '30 days' WHERE position = {target}"),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    assert_eq!(broken.position, target);
}

#[tokio::test]
async fn an_event_rehashed_after_altering_breaks_the_next_link() {
    let (_db, store, streams) = populated().await;
    let events = store
        .read_stream(streams[2], StreamRange::All)
        .await
        .expect("read");
    // The forger knows the hashing rule: the altered event carries a hash that fits it.
    let mut forged = events[0].clone();
    forged.reason = Some("forged".into());
    let hash = hex(&forged.computed_hash());
    tamper(
        &store,
        &format!(
            "UPDATE events SET reason = 'forged', hash = '\\x{hash}'::bytea WHERE position = {}",
            forged.position
        ),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    assert_eq!(broken.position, events[1].position);
    assert!(
        matches!(
            broken.problem,
            IntegrityProblem::BrokenLink { version: 2, .. }
        ),
        "{}",
        broken.problem
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_removed_event_is_named_at_the_event_after_it() {
    let (_db, store, streams) = populated().await;
    let removed = position_of(&store, streams[1], 2).await;
    let after = position_of(&store, streams[1], 3).await;
    tamper(
        &store,
        &format!("DELETE FROM events WHERE position = {removed}"),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    assert_eq!(broken.position, after);
    assert!(
        matches!(
            broken.problem,
            IntegrityProblem::VersionGap {
                previous: 1,
                version: 3,
                ..
            }
        ),
        "{}",
        broken.problem
    );
}

#[tokio::test]
async fn a_removed_last_event_is_caught_by_the_seal() {
    let (_db, store, streams) = populated().await;
    let seals = seal_everything(&store).await;
    let last = position_of(&store, streams[0], 3).await;
    tamper(
        &store,
        &format!("DELETE FROM events WHERE position = {last}"),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    let covering = seals
        .iter()
        .find(|s| (s.min_position..=s.max_position).contains(&last))
        .expect("a seal covers the removed event");
    assert_eq!(broken.position, covering.min_position);
    assert!(
        matches!(broken.problem, IntegrityProblem::SealMismatch { sealed_count, found_count, .. } if found_count == sealed_count - 1),
        "{}",
        broken.problem
    );
}

#[tokio::test]
async fn a_forged_event_with_a_correct_hash_in_the_sealed_past_is_caught_by_the_seal() {
    let (_db, store, streams) = populated().await;
    let seals = seal_everything(&store).await;
    // A new stream whose one event carries a correct hash, but an old transaction id and position.
    let mut forged = store
        .read_stream(streams[0], StreamRange::UntilVersion(1))
        .await
        .expect("read")
        .remove(0);
    forged.stream.stream_id = uuid::Uuid::new_v4();
    forged.event_id = uuid::Uuid::new_v4();
    forged.recorded_by = "forger".into();
    let hash = hex(&forged.computed_hash());
    tamper(
        &store,
        &format!(
            "INSERT INTO events (position, tx_id, stream_type, stream_id, stream_version, event_id, \
                 event_type, schema_version, payload, recorded_at, recorded_by, metadata, prev_hash, hash) \
             OVERRIDING SYSTEM VALUE \
             SELECT 1000, '1'::xid8, stream_type, '{}', 1, '{}', event_type, schema_version, payload, \
                    recorded_at, 'forger', metadata, prev_hash, '\\x{hash}'::bytea \
               FROM events WHERE position = {}",
            forged.stream.stream_id, forged.event_id, forged.position
        ),
    )
    .await;
    let report = store.verify().await.expect("verify");
    let broken = report.first_break.expect("detected");
    // The forged event claims transaction 1: it falls in the first seal's run of the feed.
    assert!(
        matches!(broken.problem, IntegrityProblem::SealMismatch { seal_no, sealed_count, found_count, .. }
            if seal_no == seals[0].seal_no && found_count == sealed_count + 1),
        "{}",
        broken.problem
    );
    assert_eq!(broken.position, seals[0].min_position);
    // A range holding only the forged position finds it too: the forged row lies beyond the
    // seal's positions but inside its run of the feed.
    let only_forged = PositionRange::new(Some(1000), Some(1000)).expect("range");
    let in_range = store
        .verify_range(only_forged)
        .await
        .expect("verify the range")
        .first_break
        .expect("detected in the range");
    assert!(
        matches!(in_range.problem, IntegrityProblem::SealMismatch { seal_no, .. } if seal_no == seals[0].seal_no),
        "{}",
        in_range.problem
    );
}

#[tokio::test]
async fn an_altered_seal_is_detected() {
    let (_db, store, streams) = populated().await;
    seal_everything(&store).await;
    let stream = sitrep_domain::store::StreamRef::new("incident", streams[0]);
    store
        .append(&stream, ExpectedVersion::Exact(3), &[report(4)])
        .await
        .expect("append");
    let second = seal_everything(&store).await.pop().expect("a second seal");
    tamper(
        &store,
        &format!(
            "UPDATE feed_seals SET event_count = 2 WHERE seal_no = {}",
            second.seal_no
        ),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    assert!(
        matches!(broken.problem, IntegrityProblem::SealChainBroken { seal_no } if seal_no == second.seal_no),
        "{}",
        broken.problem
    );
}

#[tokio::test]
async fn awkward_json_is_stored_canonically_and_verifies() {
    let (_db, store) = store().await;
    let payload = serde_json::json!({
        "z": { "b": [1, 2.5, -0.0, 1e300, 18446744073709551615u64, -9223372036854775808i64] },
        "a": "quotes \" backslash \\ tab \t newline \n unicode é 𝄞 \u{2028}",
        "m": null, "t": true, "ü": {}
    });
    let mut event = report(1);
    event.payload = payload.clone().into();
    event.metadata = serde_json::json!({ "source": { "name": "ACLED", "id": "IRQ38819" } }).into();
    let stream = incident_stream();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            std::slice::from_ref(&event),
        )
        .await
        .expect("append");
    // The retry compares by digest: the stored text must digest like the value sent.
    let again = store
        .append(&stream, ExpectedVersion::NoStream, &[event])
        .await
        .expect("retry");
    assert!(again.replayed);
    let stored = store
        .read_stream(stream.stream_id, StreamRange::All)
        .await
        .expect("read");
    let back: serde_json::Value = stored[0].payload_as().expect("JSON");
    assert_eq!(back["a"], payload["a"]);
    assert_eq!(back["z"]["b"][3], payload["z"]["b"][3]);
    assert_eq!(back["z"]["b"][4], payload["z"]["b"][4]);
    assert!(
        stored[0].payload.get().starts_with("{\"a\":"),
        "keys sorted: {}",
        stored[0].payload.get()
    );
    let report = store.verify().await.expect("verify");
    assert!(report.is_intact(), "{:?}", report.first_break);
}

fn range(from: Option<i64>, to: Option<i64>) -> PositionRange {
    PositionRange::new(from, to).expect("a range")
}

#[tokio::test]
async fn a_range_checks_its_events_and_the_seals_over_them() {
    let (_db, store, streams) = populated().await;
    let seals = seal_everything(&store).await;
    // A later run, sealed apart: a range after the first seal's run does not recheck it.
    let stream = sitrep_domain::store::StreamRef::new("incident", streams[0]);
    store
        .append(&stream, ExpectedVersion::Exact(3), &[report(4)])
        .await
        .expect("append");
    let later = seal_everything(&store).await.pop().expect("a later seal");
    let first_max = seals.iter().map(|s| s.max_position).max().expect("sealed");

    let all = store.verify().await.expect("verify");
    assert!(all.is_intact(), "{:?}", all.first_break);
    assert_eq!(all.events_checked, 10);

    // The fourth event of streams[0] links to its third, which lies before the range.
    let tail = store
        .verify_range(range(Some(later.min_position), None))
        .await
        .expect("verify");
    assert!(tail.is_intact(), "{:?}", tail.first_break);
    assert_eq!((tail.events_checked, tail.seals_checked), (1, 1));

    let head = store
        .verify_range(range(None, Some(first_max)))
        .await
        .expect("verify");
    assert!(head.is_intact(), "{:?}", head.first_break);
    assert_eq!(
        (head.events_checked, head.seals_checked),
        (9, seals.len() as u64)
    );

    assert!(
        PositionRange::new(Some(5), Some(4)).is_err(),
        "from after to"
    );
}

#[tokio::test]
async fn a_range_names_breaks_in_it_and_not_those_before_it() {
    let (_db, store, streams) = populated().await;
    let altered = position_of(&store, streams[1], 2).await;
    tamper(
        &store,
        &format!("UPDATE events SET reason = 'rewritten' WHERE position = {altered}"),
    )
    .await;
    // Its stored hash is unchanged, so the event after it still links to it.
    let after = store
        .verify_range(range(Some(altered + 1), None))
        .await
        .expect("verify");
    assert!(after.is_intact(), "{:?}", after.first_break);
    let over = store
        .verify_range(range(Some(altered), Some(altered)))
        .await
        .expect("verify");
    assert_eq!(over.events_checked, 1);
    let broken = over.first_break.expect("detected");
    assert_eq!(broken.position, altered);
    assert!(matches!(
        broken.problem,
        IntegrityProblem::ContentAltered { version: 2, .. }
    ));

    // A removed event before the range shows as a gap at the first event of its stream in it.
    let removed = position_of(&store, streams[2], 2).await;
    let last = position_of(&store, streams[2], 3).await;
    tamper(
        &store,
        &format!("DELETE FROM events WHERE position = {removed}"),
    )
    .await;
    let gap = store
        .verify_range(range(Some(last), Some(last)))
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    assert_eq!(gap.position, last);
    assert!(matches!(
        gap.problem,
        IntegrityProblem::VersionGap {
            previous: 1,
            version: 3,
            ..
        }
    ));
}

#[tokio::test]
async fn an_altered_hash_is_named_at_its_event_rather_than_at_the_seal_over_it() {
    let (_db, store, streams) = populated().await;
    let seals = seal_everything(&store).await;
    let target = position_of(&store, streams[2], 2).await;
    tamper(
        &store,
        &format!("UPDATE events SET hash = sha256(hash) WHERE position = {target}"),
    )
    .await;
    let broken = store
        .verify()
        .await
        .expect("verify")
        .first_break
        .expect("detected");
    // The seal over it does not match either (its digest covers the hash); it is named at its
    // first position, usually before the event (a busy cluster may split the seals finer).
    assert!(seals
        .iter()
        .any(|s| (s.min_position..=s.max_position).contains(&target)));
    assert_eq!(broken.position, target);
    assert!(
        matches!(
            broken.problem,
            IntegrityProblem::ContentAltered { version: 2, .. }
        ),
        "{}",
        broken.problem
    );
}
