//! The sync on a real database, with hand-made rows (no shared data needed): an import, the
//! same file again, a revised snapshot, a snapshot without some rows, the newer snapshot again;
//! bad rows; the metadata of what an import appends; the indexes the lookups use.

mod common;

use common::*;
use serde_json::Value;
use sitrep_domain::model::incident::ActorRole;
use sitrep_domain::model::values::UncertainCount;
use sitrep_domain::model::vocab::ActorType;
use sitrep_interchange::import::{run_import, FileRows, ImportError};
use sitrep_interchange::incident_id_for;
use sitrep_interchange::record::Dataset;
use sitrep_interchange::record::{ImportedRow, RowError};
use uuid::Uuid;

fn snapshot() -> Vec<ImportedRow> {
    (1..=12)
        .map(|n| row(n + 1, &format!("ARG{n}"), n as u32 + 1))
        .collect()
}

#[tokio::test]
async fn an_import_then_revisions_give_exactly_the_corrections() {
    let (_db, store) = setup().await;
    let old = snapshot();

    let first = import(&store, &old).await;
    let s = &first.summary;
    assert_eq!((s.read, s.new, s.actors_registered), (12, 12, 2), "{s:#?}");
    assert_eq!(s.events_appended, 14);
    assert_eq!(event_count(&store).await, 14);
    assert!(first.rejected.is_empty());

    let again = import(&store, &old).await.summary;
    assert_eq!(
        (again.unchanged, again.events_appended),
        (12, 0),
        "{again:#?}"
    );
    assert_eq!(event_count(&store).await, 14);

    // The newer snapshot: 3 revised death tolls, 2 other targets, 1 new note, 2 rows gone
    // (ARG5 and ARG9, inside the file's span), the rest as they were.
    let mut newer: Vec<ImportedRow> = old
        .iter()
        .filter(|r| !["acled:ARG5", "acled:ARG9"].contains(&r.external_ref.as_str()))
        .cloned()
        .collect();
    for r in &mut newer[0..3] {
        r.facts.fatalities = UncertainCount::exactly(2);
    }
    for r in &mut newer[3..5] {
        r.actors[1] = named(
            "Gendarmerie of Argentina",
            ActorRole::Target,
            ActorType::StateForces,
        );
    }
    newer[5].facts.notes = Some("Revised by ACLED.".into());
    let revised = import(&store, &newer).await.summary;
    assert_eq!(
        (
            revised.corrected,
            revised.retracted,
            revised.unchanged,
            revised.actors_registered
        ),
        (6, 2, 4, 1),
        "{revised:#?}"
    );
    let counts = events_by_type(&store).await;
    let count = |t: &str| {
        counts
            .iter()
            .find(|(name, _)| name == t)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count("CasualtiesRevised"), 3, "{counts:?}");
    assert_eq!(count("ClaimWithdrawn"), 2);
    assert_eq!(count("ClaimRecorded"), 2);
    assert_eq!(count("IncidentAmended"), 1);
    assert_eq!(count("IncidentRetracted"), 2);
    assert_eq!(count("ActorRegistered"), 3);
    assert_eq!(revised.events_appended, 3 + 4 + 1 + 2 + 1);

    // The retractions say why.
    let kinds: Vec<(Uuid, Value)> = sqlx::query_as(
        "SELECT stream_id, payload::jsonb FROM events WHERE event_type = 'IncidentRetracted' \
         ORDER BY stream_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut gone: Vec<Uuid> = ["acled:ARG5", "acled:ARG9"]
        .iter()
        .map(|r| incident_id_for(&sitrep_domain::model::incident::ExternalRef::new(r).unwrap()))
        .collect();
    gone.sort();
    assert_eq!(kinds.iter().map(|(id, _)| *id).collect::<Vec<_>>(), gone);
    for (_, payload) in &kinds {
        assert_eq!(payload["kind"], "removed_by_source");
        assert_eq!(payload["reason"], "removed by source");
    }

    // The read model shows the new values.
    let live = incidents_caught_up(&store).await;
    let current: Vec<(String, Option<i32>, String)> = sqlx::query_as(&format!(
        "SELECT external_refs[1], fatalities_best, status FROM {}.incident_versions \
          WHERE recorded_to IS NULL ORDER BY external_refs[1]",
        live.schema
    ))
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(current.len(), 12);
    for (reference, fatalities, status) in &current {
        let expected = newer.iter().find(|r| r.external_ref.as_str() == reference);
        match expected {
            Some(r) => {
                assert_eq!(
                    *fatalities,
                    Some(r.facts.fatalities.best as i32),
                    "{reference}"
                );
                assert_eq!(status, "active", "{reference}");
            }
            None => assert_eq!(status, "retracted", "{reference}"),
        }
    }

    // The newer snapshot again: nothing.
    let before = event_count(&store).await;
    let again = import(&store, &newer).await.summary;
    assert_eq!(
        (again.unchanged, again.events_appended),
        (10, 0),
        "{again:#?}"
    );
    assert_eq!(event_count(&store).await, before);

    // The old snapshot once more: the two rows come back, restored, and the rest revised back.
    let back = import(&store, &old).await.summary;
    assert_eq!(
        (back.restored, back.corrected, back.unchanged),
        (2, 6, 4),
        "{back:#?}"
    );
}

#[tokio::test]
async fn every_event_names_the_import_its_row_and_its_run() {
    let (_db, store) = setup().await;
    let rows = snapshot();
    let outcome = import(&store, &rows[..3]).await;
    let events: Vec<(String, Option<Uuid>, Value, String)> = sqlx::query_as(
        "SELECT event_type, correlation_id, metadata::jsonb, recorded_by FROM events ORDER BY position",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(events.len(), 5);
    // Actors first: the incidents name them.
    assert_eq!(events[0].0, "ActorRegistered");
    assert_eq!(events[1].0, "ActorRegistered");
    for (i, (_, correlation, metadata, recorded_by)) in events.iter().enumerate() {
        assert_eq!(*correlation, Some(outcome.summary.run));
        assert_eq!(metadata["import"]["dataset"], "acled");
        assert_eq!(metadata["import"]["run"], outcome.summary.run.to_string());
        assert_eq!(
            metadata["import"]["row"].as_str().map(str::len),
            Some(64),
            "{i}"
        );
        assert_eq!(recorded_by, "import-test");
    }
    let digests: Vec<&str> = events[2..]
        .iter()
        .map(|e| e.2["import"]["row"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = rows[..3]
        .iter()
        .map(sitrep_interchange::sync::row_digest)
        .collect();
    assert_eq!(digests, expected);
}

#[tokio::test]
async fn bad_rows_stop_the_import_unless_skipped() {
    let (_db, store) = setup().await;
    let bad = RowError {
        line: 4,
        column: "latitude".into(),
        rule: "must be between -90 and 90".into(),
    };
    let mut rows: Vec<Result<ImportedRow, RowError>> = snapshot().into_iter().map(Ok).collect();
    rows[2] = Err(bad.clone());
    // A repeated reference is a bad row too.
    let mut repeat = row(20, "ARG1", 2);
    repeat.facts.fatalities = UncertainCount::exactly(9);
    rows.push(Ok(repeat));

    let Err(ImportError::BadRows { rows: listed }) =
        import_results(&store, rows.clone(), false).await
    else {
        panic!("bad rows must stop the import");
    };
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], bad);
    assert_eq!(listed[1].line, 20);
    assert_eq!(listed[1].rule, "repeats line 2 (acled:ARG1)");
    assert_eq!(event_count(&store).await, 0, "nothing appended");

    let outcome = import_results(&store, rows, true)
        .await
        .expect("skip invalid");
    assert_eq!(outcome.summary.read, 13);
    assert_eq!(outcome.summary.rejected, 2);
    assert_eq!(outcome.summary.new, 11);
    assert_eq!(outcome.rejected.len(), 2);
    assert_eq!(event_count(&store).await, 11 + 2);
}

/// With `--skip-invalid`, a rejected row whose id cell cannot be read may be any incident of
/// the dataset: no incident the file lacks is retracted then, until a file without such rows.
#[tokio::test]
async fn a_rejected_row_that_names_no_incident_withholds_the_retractions() {
    let (_db, store) = setup().await;
    import(&store, &snapshot()).await;
    let before = event_count(&store).await;
    // The newer file lacks ARG6, and one of its rows has an id cell that cannot be read.
    let newer = || -> Vec<Result<ImportedRow, RowError>> {
        let mut rows: Vec<_> = snapshot()
            .into_iter()
            .filter(|row| row.external_ref.as_str() != "acled:ARG6")
            .map(Ok)
            .collect();
        rows.push(Err(RowError {
            line: 14,
            column: "event_id_cnty".into(),
            rule: "must not be empty".into(),
        }));
        rows
    };
    let skipping = options(Dataset::Acled, true);
    let run = |unidentified_rejects| {
        let file = FileRows {
            rows: newer(),
            rejected_refs: Vec::new(),
            unidentified_rejects,
        };
        run_import(&store, &skipping, file, std::sync::Arc::new(|_, _, _| {}))
    };
    let withheld = run(1).await.expect("import");
    assert!(
        withheld.summary.retractions_withheld,
        "{:#?}",
        withheld.summary
    );
    assert_eq!(withheld.summary.retracted, 0);
    assert_eq!(withheld.summary.unchanged, 11);
    assert_eq!(event_count(&store).await, before, "nothing appended");
    assert!(withheld.summary.to_string().contains("withheld"));

    // The same file once every rejected row names its incident: ARG6 is retracted.
    let synced = run(0).await.expect("import");
    assert!(!synced.summary.retractions_withheld);
    assert_eq!(synced.summary.retracted, 1, "{:#?}", synced.summary);
    assert_eq!(event_count(&store).await, before + 1);
}

#[tokio::test]
async fn concurrent_imports_of_the_same_rows_append_them_once() {
    let (_db, store) = setup().await;
    let rows = snapshot();
    let (a, b) = tokio::join!(
        import_results(&store, rows.iter().cloned().map(Ok).collect(), false),
        import_results(&store, rows.iter().cloned().map(Ok).collect(), false)
    );
    let appended: Vec<u64> = [&a, &b]
        .iter()
        .map(|outcome| match outcome {
            Ok(outcome) => outcome.summary.events_appended,
            Err(ImportError::Conflict { .. }) => 0,
            Err(other) => panic!("unexpected: {other}"),
        })
        .collect();
    assert_eq!(appended.iter().sum::<u64>(), 14, "{appended:?}");
    assert_eq!(event_count(&store).await, 14);
    // Actors were registered once: the incidents of one run name them.
    let actors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'ActorRegistered'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(actors, 2);
}

/// Two imports at once of different rows that name the same new actors: the second waits for
/// the first (the import lock), then finds the actors it registered, so each actor is
/// registered once and every incident names the same ids.
#[tokio::test]
async fn concurrent_imports_naming_the_same_new_actors_register_them_once() {
    let (_db, store) = setup().await;
    let first: Vec<_> = snapshot().into_iter().map(Ok).collect();
    let second: Vec<_> = (13..=24)
        .map(|n| Ok(row(n + 1, &format!("ARG{n}"), (n - 12) as u32 + 1)))
        .collect();
    let (a, b) = tokio::join!(
        import_results(&store, first, false),
        import_results(&store, second, false)
    );
    let (a, b) = (a.expect("first import"), b.expect("second import"));
    assert_eq!(a.summary.new + b.summary.new, 24);
    assert_eq!(
        a.summary.actors_registered + b.summary.actors_registered,
        2,
        "{:#?} {:#?}",
        a.summary,
        b.summary
    );
    let actors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'ActorRegistered'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(actors, 2);
    let named: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT a->>'actor') FROM events, \
                json_array_elements(payload->'actors') a \
          WHERE event_type = 'IncidentReported'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(named, 2, "every incident names the same two actors");
}

/// The lookups an import makes use their indexes (with sequential scans off, which a tiny
/// table would prefer).
#[tokio::test]
async fn the_dataset_and_actor_lookups_use_their_indexes() {
    let (_db, store) = setup().await;
    import(&store, &snapshot()).await;
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let dataset_sql = format!(
        "EXPLAIN {}",
        include_str!("../src/import/dataset_incidents.sql")
    );
    let lines: Vec<String> = sqlx::query_scalar(&dataset_sql)
        .bind("acled")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("events_import_dataset_idx")),
        "{lines:#?}"
    );
    let actor_sql = format!("EXPLAIN {}", include_str!("../src/import/actor_events.sql"));
    let lines: Vec<String> = sqlx::query_scalar(&actor_sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("events_actor_streams_idx")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_row_naming_a_stream_of_another_kind_imports_nothing() {
    use sitrep_domain::store::{ExpectedVersion, NewEvent, StreamRef};
    let (_db, store) = setup().await;
    let rows = snapshot();
    let taken = incident_id_for(&rows[3].external_ref);
    store
        .append(
            &StreamRef::new("site", taken),
            ExpectedVersion::NoStream,
            &[NewEvent::new(
                "SiteRegistered",
                serde_json::json!({ "name": "x" }),
                "test",
            )],
        )
        .await
        .unwrap();
    let Err(ImportError::NotAnIncident { line, actual, .. }) =
        import_results(&store, rows.into_iter().map(Ok).collect(), true).await
    else {
        panic!("a stream of another kind must refuse the import");
    };
    assert_eq!((line, actual.as_str()), (5, "site"));
    assert_eq!(event_count(&store).await, 1);
}

/// A file longer than one chunk of the import (it appends 8,192 rows at a time while it plans
/// the next), whose bad row the planning finds only after earlier chunks were appended: without
/// `--skip-invalid` nothing stays, with it everything else does.
#[tokio::test]
async fn a_bad_row_found_after_the_first_chunks_were_appended_leaves_nothing() {
    let (_db, store) = setup().await;
    const ROWS: u64 = 20_000;
    const BAD: u64 = 17_001;
    let rows: Vec<Result<ImportedRow, RowError>> = (1..=ROWS)
        .map(|n| {
            let mut row = row(n + 1, &format!("BIG{n}"), (n % 28) as u32 + 1);
            if n == BAD {
                // The reader lets the name through; the Actor aggregate refuses it.
                row.actors.push(named(
                    &"x".repeat(301),
                    ActorRole::TargetAssociate,
                    ActorType::Civilians,
                ));
            }
            Ok(row)
        })
        .collect();

    let refused = import_results(&store, rows.clone(), false).await;
    let Err(ImportError::BadRows { rows: bad }) = refused else {
        panic!("expected the bad row, got {refused:?}");
    };
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(
        (bad[0].line, bad[0].column.as_str()),
        (BAD + 1, "actors.name")
    );
    assert_eq!(
        event_count(&store).await,
        0,
        "nothing of the earlier chunks stays"
    );

    let outcome = import_results(&store, rows, true).await.expect("import");
    let s = &outcome.summary;
    assert_eq!((s.read, s.new, s.rejected), (ROWS, ROWS - 1, 1), "{s:#?}");
    assert_eq!(s.events_appended, ROWS - 1 + 2);
    assert_eq!(event_count(&store).await, (ROWS - 1 + 2) as i64);
    let last: i64 = sqlx::query_scalar("SELECT max(position) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("last position");
    assert_eq!(s.last_position, Some(last));
}
