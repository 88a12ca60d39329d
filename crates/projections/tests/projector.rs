//! The projector: exactly-once effect across crashes and rival projectors, leader take-over,
//! rebuilds provably equal to incremental builds, lag and read-your-writes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sitrep_projections::checksum::checksum;
use sitrep_projections::generation::{self, Status};
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::projector::Failpoint;
use sitrep_projections::status::{statuses, wait_until_applied, wait_until_applied_woken};
use sitrep_projections::ProjectionError;
use uuid::Uuid;

/// Ten incidents, four of them corrected, one retracted: fifteen events.
async fn some_history(handler: &sitrep_domain::handler::CommandHandler) -> Vec<i64> {
    let mut positions = Vec::new();
    for n in 0..10 {
        let id = Uuid::new_v4();
        positions.push(run(handler, id, report("2024-01-20", "IRQ", n)).await);
        if n % 3 == 0 {
            positions.push(run(handler, id, revise_injuries(n + 1)).await);
        }
        if n == 7 {
            positions.push(run(handler, id, retract()).await);
        }
    }
    positions
}

/// Waits until the feed shows `events` events: a transaction open anywhere on the server (the
/// horizon is the cluster's: another test's, another database's) holds newer events back, and a
/// projector would stop early, caught up with what the feed shows.
async fn feed_shows(store: &sitrep_domain::store::EventStore, events: usize) {
    use sitrep_domain::store::FeedCursor;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page = store
            .read_feed(FeedCursor::START, 10_000)
            .await
            .expect("read the feed");
        if page.events.len() >= events {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed shows {} of {events} events after a minute",
            page.events.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_crash_between_writing_and_committing_loses_and_repeats_nothing() {
    let (_db, store, handler) = setup(5).await;
    let positions = some_history(&handler).await;
    feed_shows(&store, positions.len()).await;

    // Pages of 3 events; the third page fails after its rows are written, before the commit.
    let crashing = projector(&store)
        .with_page_size(3)
        .with_failpoint(Failpoint::after(2));
    let mut live = crashing.live_generation().await.expect("live");
    let crash = crashing.catch_up(&mut live).await;
    assert!(
        matches!(crash, Err(ProjectionError::Failpoint)),
        "{crash:?}"
    );
    let after_crash = generation::live(store.pool(), "incidents")
        .await
        .expect("read")
        .expect("live");
    assert_eq!(
        after_crash.events_applied, 6,
        "two pages committed, the third rolled back"
    );

    // "Restart": a new projector goes on from the checkpoint.
    let restarted = projector(&store).with_page_size(3);
    let mut live = restarted.live_generation().await.expect("live");
    catch_up_fully(&restarted, &store, &mut live).await;
    let incremental = checksum(store.pool(), restarted.projection(), &live)
        .await
        .expect("checksum");

    let rebuilt = restarted.rebuild().await.expect("rebuild");
    let from_scratch = checksum(store.pool(), restarted.projection(), &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(incremental, from_scratch);
    assert_eq!(incremental.rows, 15, "one version per incident event");
}

#[tokio::test]
async fn rival_projectors_never_apply_a_page_twice() {
    let (_db, store, handler) = setup(10).await;
    some_history(&handler).await;

    // Two projectors on one generation without the leader lock (as during a take-over): the
    // checkpoint guard lets exactly one commit each page.
    let first = projector(&store).with_page_size(2);
    let second = projector(&store).with_page_size(2);
    let live = first.live_generation().await.expect("live");
    let run_one = |p: sitrep_projections::Projector, mut g: generation::Generation| async move {
        let mut fenced = 0;
        for _ in 0..200 {
            match p.catch_up(&mut g).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(ProjectionError::Fenced { .. }) => {
                    fenced += 1;
                    g = generation::live(p.store_pool(), "incidents")
                        .await
                        .expect("read")
                        .expect("live");
                }
                Err(e) => panic!("{e}"),
            }
        }
        fenced
    };
    let (a, b) = tokio::join!(run_one(first.clone(), live.clone()), run_one(second, live));
    let mut live = generation::live(store.pool(), "incidents")
        .await
        .expect("read")
        .expect("live");
    catch_up_fully(&first, &store, &mut live).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(
        live.events_applied, total,
        "every event applied once (fenced {a} + {b} times)"
    );
    let versions: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {}.incident_versions",
        live.schema
    ))
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(versions, 15);
}

#[tokio::test]
async fn when_the_leader_dies_another_process_takes_over() {
    let (_db, store, handler) = setup(10).await;
    let leader = projector(&store);
    let standby = projector(&store);
    // The live generation exists before the first wait (a wait with no live generation has
    // nothing to wait for).
    leader.live_generation().await.expect("live generation");
    let leading = tokio::spawn(async move { leader.run(std::future::pending()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = tokio::spawn(async move { standby.run(std::future::pending()).await });

    let first = run(&handler, Uuid::new_v4(), report("2024-01-20", "IRQ", 1)).await;
    wait_until_applied(store.pool(), &[first], Duration::from_secs(10))
        .await
        .expect("the leader applies");
    // Only one of the two holds the projection's lock.
    let holders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(store.pool())
    .await
    .expect("locks");
    assert_eq!(holders, 1);

    // The leader dies (its task and its connections are dropped); the standby takes over.
    leading.abort();
    let _ = leading.await;
    let second = run(&handler, Uuid::new_v4(), report("2024-01-21", "IRQ", 2)).await;
    wait_until_applied(store.pool(), &[second], Duration::from_secs(10))
        .await
        .expect("the standby applies after the leader died");
    waiting.abort();
}

#[tokio::test]
async fn incremental_under_concurrent_writers_equals_a_rebuild() {
    let (_db, store, handler) = setup(24).await;
    let projector = Arc::new(projector(&store));
    let follower = projector.clone();
    let following = tokio::spawn(async move { follower.run(std::future::pending()).await });

    let writers: Vec<_> = (0..8)
        .map(|w| {
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut positions = Vec::new();
                for n in 0..10u32 {
                    let id = Uuid::new_v4();
                    positions.push(run(&handler, id, report("2024-01-20", "SYR", n)).await);
                    if (n + w) % 2 == 0 {
                        positions.push(run(&handler, id, revise_injuries(n)).await);
                    }
                    if (n + w) % 5 == 0 {
                        positions.push(run(&handler, id, retract()).await);
                    }
                }
                positions
            })
        })
        .collect();
    let mut positions = Vec::new();
    for writer in writers {
        positions.extend(writer.await.expect("writer"));
    }
    wait_until_applied(store.pool(), &positions, Duration::from_secs(30))
        .await
        .expect("caught up");
    following.abort();
    let _ = following.await;

    let incremental_generation = generation::live(store.pool(), "incidents")
        .await
        .expect("read")
        .expect("live");
    let incremental = checksum(
        store.pool(),
        &IncidentsProjection::default(),
        &incremental_generation,
    )
    .await
    .expect("checksum");
    let rebuilt = projector.rebuild().await.expect("rebuild");
    assert_ne!(rebuilt.generation, incremental_generation.generation);
    let from_scratch = checksum(store.pool(), &IncidentsProjection::default(), &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(incremental, from_scratch);
    // One version per event.
    assert_eq!(incremental.rows as usize, positions.len());
    // The rebuilt tables have statistics before they go live (the planner's guesses without
    // them made each page of corrections hash every open row of a large generation).
    let analyzed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'incident_versions'",
    )
    .bind(&rebuilt.schema)
    .fetch_one(store.pool())
    .await
    .expect("statistics");
    assert!(analyzed > 0, "no statistics for {}", rebuilt.schema);

    // The rebuilt generation is live now; the old one is retired, its tables still there.
    let all = generation::all(store.pool(), "incidents")
        .await
        .expect("all");
    let states: Vec<Status> = all.iter().map(|g| g.status).collect();
    assert_eq!(states, vec![Status::Retired, Status::Live]);
}

#[tokio::test]
async fn status_reports_position_and_lag() {
    let (_db, store, handler) = setup(5).await;
    let projector = projector(&store);
    let mut live = projector.live_generation().await.expect("live");
    let positions = some_history(&handler).await;

    let behind = statuses(store.pool()).await.expect("status");
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0].projection, "incidents");
    assert_eq!(behind[0].events_behind, positions.len() as i64);
    assert!(behind[0].seconds_behind > 0.0);
    assert!(matches!(
        wait_until_applied(store.pool(), &positions, Duration::from_millis(50)).await,
        Err(ProjectionError::Timeout(_))
    ));

    catch_up_fully(&projector, &store, &mut live).await;
    let caught_up = statuses(store.pool()).await.expect("status");
    assert_eq!(caught_up[0].events_behind, 0);
    assert_eq!(caught_up[0].seconds_behind, 0.0);
    assert_eq!(
        caught_up[0].position,
        *positions.iter().max().expect("some")
    );
    wait_until_applied(store.pool(), &positions, Duration::from_millis(50))
        .await
        .expect("applied");
    // The reading that showed them applied names the generation that holds them.
    let reading = wait_until_applied_woken(
        store.pool(),
        &positions,
        Duration::from_millis(50),
        None,
        None,
    )
    .await
    .expect("applied");
    assert_eq!(reading.schema_of("incidents"), Some(live.schema.as_str()));
    assert_eq!(reading.schema_of("troop_levels"), None);
}

#[tokio::test]
async fn states_folded_again_from_the_log_give_the_same_view() {
    let (_db, store, handler) = setup(5).await;
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    for (n, id) in ids.iter().enumerate() {
        run(&handler, *id, report("2024-01-20", "IRQ", n as u32)).await;
    }
    for (n, id) in ids.iter().enumerate() {
        run(&handler, *id, revise_injuries(10 + n as u32)).await;
    }
    run(&handler, ids[0], retract()).await;
    run(&handler, ids[0], restore()).await;

    // One state kept between pages of one event: nearly every correction misses the cache and
    // folds the incident's earlier events from the log.
    let forgetful = sitrep_projections::Projector::new(
        store.clone(),
        Arc::new(IncidentsProjection::with_state_capacity(1)),
    )
    .with_page_size(1);
    let mut live = forgetful.live_generation().await.expect("live");
    catch_up_fully(&forgetful, &store, &mut live).await;
    let forgetful_sum = checksum(store.pool(), forgetful.projection(), &live)
        .await
        .expect("checksum");

    let rebuilt = projector(&store).rebuild().await.expect("rebuild");
    let rebuilt_sum = checksum(store.pool(), &IncidentsProjection::default(), &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(forgetful_sum, rebuilt_sum);
    assert_eq!(forgetful_sum.rows, 10, "one version per event");
}

/// Schemas of `projection`'s generations that no row of `projection_generations` names.
async fn orphan_schemas(store: &sitrep_domain::store::EventStore, projection: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_namespace n \
          WHERE n.nspname LIKE 'rm\\_' || $1 || '\\_%' \
            AND NOT EXISTS (SELECT 1 FROM projection_generations g \
                             WHERE g.schema_name = n.nspname)",
    )
    .bind(projection)
    .fetch_all(store.pool())
    .await
    .expect("schemas")
}

/// [`some_history`] recorded, and the incidents' live generation caught up with it.
async fn live_with_history(
    store: &sitrep_domain::store::EventStore,
    handler: &sitrep_domain::handler::CommandHandler,
) -> (sitrep_projections::Projector, generation::Generation) {
    let positions = some_history(handler).await;
    feed_shows(store, positions.len()).await;
    let following = projector(store);
    let mut live = following.live_generation().await.expect("live");
    catch_up_fully(&following, store, &mut live).await;
    (following, live)
}

/// How many of `generations` are in `status`.
fn count(generations: &[generation::Generation], status: Status) -> usize {
    generations.iter().filter(|g| g.status == status).count()
}

#[tokio::test]
async fn a_failed_or_abandoned_rebuild_leaves_no_generation_behind() {
    let (_db, store, handler) = setup(5).await;
    let (following, live) = live_with_history(&store, &handler).await;
    let live_sum = checksum(store.pool(), following.projection(), &live)
        .await
        .expect("checksum");
    let building = |generations: &[generation::Generation]| count(generations, Status::Building);

    // A rebuild that fails part way: its second page fails before its commit.
    let failing = projector(&store)
        .with_page_size(3)
        .with_failpoint(Failpoint::after(1));
    let failed = failing.rebuild().await;
    assert!(
        matches!(failed, Err(ProjectionError::Failpoint)),
        "{failed:?}"
    );
    let generations = generation::all(store.pool(), "incidents")
        .await
        .expect("generations");
    assert_eq!(building(&generations), 0, "{generations:?}");
    assert!(orphan_schemas(&store, "incidents").await.is_empty());
    let still_live = generation::live(store.pool(), "incidents")
        .await
        .expect("read")
        .expect("live");
    assert_eq!(still_live.generation, live.generation, "the live one stays");

    let abandoned = |generations: &[generation::Generation]| count(generations, Status::Abandoned);
    assert_eq!(abandoned(&generations), 1, "{generations:?}");

    // A rebuild whose process died: its generation is left building, and the next rebuild
    // abandons it before it builds its own.
    let left = generation::create(store.pool(), following.projection(), Status::Building)
        .await
        .expect("a generation left building");
    let generations = generation::all(store.pool(), "incidents")
        .await
        .expect("generations");
    assert_eq!(building(&generations), 1);
    let rebuilt = projector(&store).rebuild().await.expect("rebuild");
    let generations = generation::all(store.pool(), "incidents")
        .await
        .expect("generations");
    assert_eq!(building(&generations), 0, "{generations:?}");
    assert_eq!(abandoned(&generations), 2, "{generations:?}");
    assert!(orphan_schemas(&store, "incidents").await.is_empty());
    assert!(
        rebuilt.generation > left.generation,
        "numbers are never used twice"
    );
    // The abandoned rebuild, were it still running, could not switch its generation live.
    let stale = generation::switch_live(store.pool(), &left).await;
    assert!(
        matches!(stale, Err(ProjectionError::NotBuilding { .. })),
        "{stale:?}"
    );
    let live_now = generation::live(store.pool(), "incidents")
        .await
        .expect("read")
        .expect("live");
    assert_eq!(
        live_now.generation, rebuilt.generation,
        "the live one stays"
    );
    let rebuilt_sum = checksum(store.pool(), following.projection(), &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(rebuilt_sum, live_sum);
}

/// Two processes that start with a new version of a projection's code at once rebuild the
/// older live generation once: the second waits for the first's rebuild lock, then finds the
/// live generation built by its own code.
#[tokio::test]
async fn processes_starting_together_rebuild_an_older_generation_once() {
    let (_db, store, handler) = setup(10).await;
    live_with_history(&store, &handler).await;
    // As if an older build of the code had made it.
    sqlx::query("UPDATE projection_generations SET version = version - 1 WHERE status = 'live'")
        .execute(store.pool())
        .await
        .expect("age the live generation");

    let (a, b) = (projector(&store), projector(&store));
    let (a, b) = tokio::join!(a.live_generation(), b.live_generation());
    let (a, b) = (a.expect("first process"), b.expect("second process"));
    assert_eq!(
        a.generation, b.generation,
        "both see the one rebuilt generation"
    );
    let generations = generation::all(store.pool(), "incidents")
        .await
        .expect("generations");
    assert_eq!(
        generations.len(),
        2,
        "the old one and one rebuild: {generations:?}"
    );
}
