//! Each projection declares the stream types whose events change its read model
//! (`Projection::stream_types`), and a mutation waits only for the projections that read its
//! stream type. This checks the declarations against what the projections do: on the demo's
//! log (events of every stream type), a projection given only the events of the types it does
//! not declare writes nothing.

use std::collections::BTreeSet;
use std::process::Command;

use sitrep_domain::store::{EventStore, FeedCursor};
use sitrep_projections::checksum::checksum;
use sitrep_projections::generation::{self, Status};
use sitrep_testkit::TestDb;

#[tokio::test]
async fn projections_pass_over_every_stream_type_they_do_not_declare() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let demo = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .arg("demo")
        .env("DATABASE_URL", db.url())
        .env("SITREP_LOG", "warn")
        .output()
        .expect("run sitrep demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let store = EventStore::new(db.pool.clone());
    let mut events = Vec::new();
    let mut cursor = FeedCursor::START;
    loop {
        let page = store.read_feed(cursor, 1_000).await.expect("read the feed");
        if page.events.is_empty() {
            break;
        }
        events.extend(page.events);
        cursor = page.next;
    }
    let types: BTreeSet<&str> = events
        .iter()
        .map(|e| e.stream.stream_type.as_str())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "actor",
            "incident",
            "negotiation",
            "site",
            "troop_deployment"
        ]),
        "the demo should hold events of every stream type"
    );

    for projection in sitrep_projections::all() {
        let declared = projection.stream_types();
        for stream_type in declared {
            assert!(
                types.contains(stream_type),
                "{} declares an unknown stream type {stream_type}",
                projection.name()
            );
        }
        let others: Vec<_> = events
            .iter()
            .filter(|e| !declared.contains(&e.stream.stream_type.as_str()))
            .cloned()
            .collect();
        let empty = generation::create(&db.pool, projection.as_ref(), Status::Building)
            .await
            .expect("an empty generation");
        let given_others = generation::create(&db.pool, projection.as_ref(), Status::Building)
            .await
            .expect("a second generation");
        let mut tx = db.pool.begin().await.expect("begin");
        sqlx::query(&format!(
            "SET LOCAL search_path TO {}, public",
            given_others.schema
        ))
        .execute(&mut *tx)
        .await
        .expect("search path");
        projection
            .apply(&mut tx, &others)
            .await
            .expect("apply the undeclared events");
        tx.commit().await.expect("commit");

        let nothing = checksum(&db.pool, projection.as_ref(), &empty)
            .await
            .expect("checksum");
        let after_others = checksum(&db.pool, projection.as_ref(), &given_others)
            .await
            .expect("checksum");
        assert_eq!(
            after_others,
            nothing,
            "{} changed on events of stream types it does not declare ({declared:?})",
            projection.name()
        );
        assert!(
            !others.is_empty() || declared.len() == types.len(),
            "nothing was left to test for {}",
            projection.name()
        );
    }
}
