//! The commit-ordered feed: under concurrent writers that hold their transactions open, a reader
//! following the feed sees every committed event exactly once, skips none, and never has to
//! revise the order it saw.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{incident_stream, report, store, store_with_pool};
use sitrep_domain::store::appended::notification_concerns;
use sitrep_domain::store::feed::FEED_CHANNEL;
use sitrep_domain::store::{ExpectedVersion, FeedCursor, StoredEvent, StreamRef};
use uuid::Uuid;

const WRITERS: usize = 16;
const TRANSACTIONS_PER_WRITER: usize = 12;

/// The whole feed, once nothing committed is held back any more (other tests share the cluster,
/// and their open transactions hold the feed's horizon for a moment).
async fn read_to_end(store: &sitrep_domain::store::EventStore) -> Vec<StoredEvent> {
    let mut events = Vec::new();
    let mut cursor = FeedCursor::START;
    loop {
        let page = store.read_feed(cursor, 1000).await.expect("read");
        cursor = page.next;
        if page.events.is_empty() && !page.held_back {
            return events;
        }
        if page.held_back {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        events.extend(page.events);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_sees_every_committed_event_once_in_an_order_it_never_revises() {
    let (_db, store) = store_with_pool(WRITERS as u32 + 4).await;
    let committed = Arc::new(Mutex::new(HashSet::<Uuid>::new()));
    let rolled_back = Arc::new(Mutex::new(HashSet::<Uuid>::new()));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, committed, rolled_back) =
                (store.clone(), committed.clone(), rolled_back.clone());
            tokio::spawn(async move {
                let stream = incident_stream();
                let mut version = 0;
                for t in 0..TRANSACTIONS_PER_WRITER {
                    let mut tx = store.pool().begin().await.expect("begin");
                    let events = vec![report(t), report(t + 1)];
                    let expected = if version == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(version)
                    };
                    store
                        .append_in(&mut tx, &stream, expected, &events)
                        .await
                        .expect("append");
                    // Some writers sit on their open transaction while others commit past them.
                    if (w + t) % 4 == 0 {
                        tokio::time::sleep(Duration::from_millis(30 + 10 * (w as u64 % 5))).await;
                    }
                    let ids = events.iter().map(|e| e.event_id);
                    if (w + t) % 7 == 3 {
                        tx.rollback().await.expect("rollback");
                        rolled_back.lock().expect("lock").extend(ids);
                    } else {
                        tx.commit().await.expect("commit");
                        store.notify_appended();
                        version += 2;
                        committed.lock().expect("lock").extend(ids);
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    // The follower reads small pages while the writers run.
    let mut seen: Vec<StoredEvent> = Vec::new();
    let mut cursor = FeedCursor::START;
    let mut writers_done = false;
    let mut pending = writers;
    loop {
        let page = store.read_feed(cursor, 7).await.expect("read feed");
        cursor = page.next;
        let empty = page.events.is_empty();
        let held_back = page.held_back;
        seen.extend(page.events);
        // Done once the writers are and nothing committed waits behind another transaction.
        if writers_done && empty && !held_back {
            break;
        }
        if empty {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if !writers_done && pending.iter().all(|w| w.is_finished()) {
            for w in pending.drain(..) {
                w.await.expect("writer");
            }
            writers_done = true;
        }
    }

    let committed = committed.lock().expect("lock").clone();
    let rolled_back = rolled_back.lock().expect("lock").clone();
    assert!(!rolled_back.is_empty() && committed.len() > 300);

    // Exactly once, none skipped, nothing rolled back.
    let seen_ids: Vec<Uuid> = seen.iter().map(|e| e.event_id).collect();
    let unique: HashSet<Uuid> = seen_ids.iter().copied().collect();
    assert_eq!(unique.len(), seen_ids.len(), "an event was delivered twice");
    assert_eq!(
        unique, committed,
        "the follower missed committed events or saw rolled-back ones"
    );

    // The order the follower saw is the feed's final order: nothing it saw was ever preceded
    // by a late commit.
    let cursors: Vec<FeedCursor> = seen.iter().map(StoredEvent::cursor).collect();
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "feed order went backwards"
    );
    let replay: Vec<Uuid> = read_to_end(&store)
        .await
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        replay, seen_ids,
        "a re-read of the feed differs from what the follower saw"
    );
}

#[tokio::test]
async fn an_open_transaction_holds_back_later_commits_until_it_ends() {
    let (_db, store) = store().await;
    let early = incident_stream();
    let late = incident_stream();

    // A writer starts first and keeps its transaction open...
    let mut slow = store.pool().begin().await.expect("begin");
    store
        .append_in(&mut slow, &early, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("slow append");
    // ...while another commits after it.
    store
        .append(&late, ExpectedVersion::NoStream, &[report(2)])
        .await
        .expect("fast append");

    // A reader polling `position > last` would see the fast event now and skip the slow one
    // forever; the feed shows neither until the slow transaction ends.
    let page = store.read_feed(FeedCursor::START, 100).await.expect("read");
    assert!(
        page.events.is_empty(),
        "the feed ran ahead of an open transaction"
    );

    slow.commit().await.expect("commit");
    let streams: Vec<Uuid> = read_to_end(&store)
        .await
        .iter()
        .map(|e| e.stream.stream_id)
        .collect();
    assert_eq!(streams, vec![early.stream_id, late.stream_id]);
}

#[tokio::test]
async fn a_follower_wakes_on_notify_and_resumes_from_its_cursor() {
    let (_db, store) = store().await;
    let notifier = tokio::spawn(store.clone().run_notifier(Duration::from_millis(1)));
    let stream = incident_stream();
    let stream_id = stream.stream_id;

    // Every append is announced on the channel, after its commit.
    let mut listener = sqlx::postgres::PgListener::connect_with(store.pool())
        .await
        .expect("listener");
    listener.listen(FEED_CHANNEL).await.expect("listen");
    store
        .append(&incident_stream(), ExpectedVersion::NoStream, &[report(0)])
        .await
        .expect("append");
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a NOTIFY within 10 s")
        .expect("notification");
    assert_eq!(note.channel(), FEED_CHANNEL);
    // It names the sending store and the stream types appended.
    assert_eq!(
        note.payload(),
        format!("{} {}", store.origin(), stream.stream_type)
    );
    assert!(!notification_concerns(
        note.payload(),
        Uuid::now_v7(),
        Some(&["troop_deployment"])
    ));

    store
        .append(&stream, ExpectedVersion::NoStream, &[report(1)])
        .await
        .expect("append");

    // A long poll interval: only the NOTIFY can wake the follower in time.
    let mut follower = store.follow(FeedCursor::START, Duration::from_secs(60));
    // Catch up to the stream's first event (other tests' open transactions may hold it back a moment).
    loop {
        let page = follower.next_page().await.expect("page");
        if page.iter().any(|e| e.stream.stream_id == stream_id) {
            break;
        }
    }
    let waiting = tokio::spawn(async move {
        loop {
            let page = follower.next_page().await.expect("page");
            if let Some(event) = page.iter().find(|e| e.stream.stream_id == stream_id) {
                return (event.stream_version, follower.cursor());
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .append(&stream, ExpectedVersion::Exact(1), &[report(2)])
        .await
        .expect("append");
    let (version, cursor) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken well before the 60 s poll")
        .expect("task");
    assert_eq!(version, 2);

    // The cursor survives as an opaque string; a new follower resumes after it.
    let resumed: FeedCursor = cursor.to_string().parse().expect("cursor parses");
    let page = store.read_feed(resumed, 10).await.expect("read");
    assert!(page.events.is_empty());
    assert!("not-a-cursor".parse::<FeedCursor>().is_err());
    notifier.abort();
}

#[tokio::test]
async fn a_reader_of_some_stream_types_gets_them_whole_and_passes_over_the_rest() {
    let (_db, store) = store().await;
    // Interleaved: incidents, and "troops" events a troop-levels reader wants.
    for n in 0..7 {
        store
            .append(&incident_stream(), ExpectedVersion::NoStream, &[report(n)])
            .await
            .expect("append an incident");
        if n % 3 == 0 {
            let troops = StreamRef::new("troops", Uuid::new_v4());
            store
                .append(&troops, ExpectedVersion::NoStream, &[report(100 + n)])
                .await
                .expect("append a troop event");
        }
    }
    let everything = read_to_end(&store).await;
    assert_eq!(everything.len(), 10);

    // Pages of 4 events of the feed, whatever their types.
    let mut cursor = FeedCursor::START;
    let mut wanted = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = store
            .read_feed_of(cursor, 4, &["troops"])
            .await
            .expect("read the troop events");
        if page.covered == 0 {
            assert!(!page.held_back, "nothing is held back here");
            assert_eq!(page.next, cursor, "an empty page stays where it was");
            break;
        }
        // The page ends where the whole feed's page of the same size ends.
        let whole = store.read_feed(cursor, 4).await.expect("read the feed");
        assert_eq!(page.next, whole.next);
        assert_eq!(page.covered, whole.events.len());
        pages.push((page.covered, page.events.len()));
        cursor = page.next;
        wanted.extend(page.events);
    }
    // Every troop event, exactly as the whole feed shows it (payload, metadata, hashes), and
    // nothing else; the incidents were counted and passed over.
    let troop_events: Vec<StoredEvent> = everything
        .iter()
        .filter(|e| e.stream.stream_type == "troops")
        .cloned()
        .collect();
    assert_eq!(wanted, troop_events);
    assert_eq!(
        pages,
        vec![(4, 1), (4, 1), (2, 1)],
        "pages of 4, 4 and 2 events (I T I I, I T I I, I T) holding one troop event each"
    );
}
