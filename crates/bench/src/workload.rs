//! The scenarios, each measured for the store and for both raw baselines in the same run.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Value};
use sitrep_domain::store::{EventStore, ExpectedVersion, FeedCursor, NewEvent, StreamRef};
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::measure::{interleave, Comparison, Measured};
use crate::raw::{self, RawTable};

/// Events per batch append.
const BATCH: usize = 100;
/// Events per page when reading the feed.
const FEED_PAGE: u32 = 5_000;

/// A boxed operation of a client.
type Op = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A report of a rocket attack, about 400 bytes as JSON.
pub fn payload(n: u64) -> Value {
    json!({
        "event_type": "Explosions/Remote violence",
        "sub_event_type": "Shelling/artillery/missile attack",
        "means": "rocket",
        "country": "IRQ",
        "admin1": "Al Anbar",
        "location": "Al Asad Air Base",
        "latitude": 33.7856,
        "longitude": 42.4412,
        "claimed_by": "Islamic Resistance in Iraq",
        "fatalities": { "low": 0, "best": 0, "high": 0 },
        "notes": format!("Report {n:>8}: rockets struck near the base; no casualties reported so far."),
    })
}

fn event(n: u64) -> NewEvent {
    NewEvent::new("IncidentReported", payload(n), "bench")
}

pub async fn single_new_streams(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Comparison> {
    let store = EventStore::new(pool.clone());
    let sitrep = move |_, n| {
        let store = store.clone();
        async move {
            let stream = StreamRef::new("incident", Uuid::now_v7());
            store
                .append(&stream, ExpectedVersion::NoStream, &[event(n)])
                .await?;
            Ok(())
        }
    };
    let (sitrep, keyed, bare) = interleave(
        clients,
        duration,
        1,
        (
            sitrep,
            raw_single(pool, RawTable::Keyed, None),
            raw_single(pool, RawTable::PrimaryKeyOnly, None),
        ),
    )
    .await?;
    Ok(Comparison {
        scenario: "append 1 event, new stream".into(),
        clients,
        unit: "events",
        sitrep,
        keyed,
        bare,
    })
}

pub async fn single_existing_streams(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Comparison> {
    let store = EventStore::new(pool.clone());
    // Each client appends to a stream of its own, naming the version it expects.
    let streams: Arc<Vec<Mutex<(StreamRef, u64)>>> = Arc::new(
        (0..clients)
            .map(|_| Mutex::new((StreamRef::new("incident", Uuid::now_v7()), 0)))
            .collect(),
    );
    let sitrep = move |client: usize, n| {
        let (store, streams) = (store.clone(), streams.clone());
        async move {
            let mut stream = streams[client].lock().await;
            let expected = match stream.1 {
                0 => ExpectedVersion::NoStream,
                v => ExpectedVersion::Exact(v),
            };
            let result = store.append(&stream.0, expected, &[event(n)]).await?;
            stream.1 = result.version;
            Ok(())
        }
    };
    let (sitrep, keyed, bare) = interleave(
        clients,
        duration,
        1,
        (
            sitrep,
            raw_single(pool, RawTable::Keyed, Some(clients)),
            raw_single(pool, RawTable::PrimaryKeyOnly, Some(clients)),
        ),
    )
    .await?;
    Ok(Comparison {
        scenario: "append 1 event, existing stream, version checked".into(),
        clients,
        unit: "events",
        sitrep,
        keyed,
        bare,
    })
}

/// The raw side of the single-event scenarios: one INSERT per commit, into a new stream each
/// time, or (with `streams_for` clients) into each client's own stream at its next version.
pub(crate) fn raw_single(
    pool: &PgPool,
    table: RawTable,
    streams_for: Option<usize>,
) -> impl Fn(usize, u64) -> Op + Clone + Send + Sync + 'static {
    let streams: Arc<Vec<(Uuid, AtomicI64)>> = Arc::new(
        (0..streams_for.unwrap_or(0))
            .map(|_| (Uuid::now_v7(), AtomicI64::new(0)))
            .collect(),
    );
    let pool = pool.clone();
    move |client, n| {
        let (pool, streams) = (pool.clone(), streams.clone());
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let (stream, version) = match streams.get(client) {
                Some((stream, version)) => (*stream, version.fetch_add(1, Ordering::Relaxed) + 1),
                None => (Uuid::now_v7(), 1),
            };
            raw::insert_one(&mut conn, table, stream, version, &payload(n)).await
        })
    }
}

pub async fn batches(
    pool: &PgPool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Comparison> {
    let store = EventStore::new(pool.clone());
    let sitrep = move |_, n| {
        let store = store.clone();
        async move {
            let events: Vec<NewEvent> = (0..BATCH as u64).map(|i| event(n * 1000 + i)).collect();
            let stream = StreamRef::new("incident", Uuid::now_v7());
            store
                .append(&stream, ExpectedVersion::NoStream, &events)
                .await?;
            Ok(())
        }
    };
    let raw_batch = |table| {
        let pool = pool.clone();
        move |_, n| {
            let pool = pool.clone();
            async move {
                let payloads: Vec<Value> =
                    (0..BATCH as u64).map(|i| payload(n * 1000 + i)).collect();
                let mut conn = pool.acquire().await?;
                raw::insert_batch(&mut conn, table, Uuid::now_v7(), &payloads).await
            }
        }
    };
    let (sitrep, keyed, bare) = interleave(
        clients,
        duration,
        BATCH as u64,
        (
            sitrep,
            raw_batch(RawTable::Keyed),
            raw_batch(RawTable::PrimaryKeyOnly),
        ),
    )
    .await?;
    Ok(Comparison {
        scenario: format!("append {BATCH} events in one transaction"),
        clients,
        unit: "events",
        sitrep,
        keyed,
        bare,
    })
}

/// Fills the three tables to `total` rows, then reads each from start to end, twice (the first
/// read warms the cache), and measures the second.
pub async fn feed_read(pool: &PgPool, total: u64) -> anyhow::Result<Comparison> {
    fill(pool, total).await?;
    let store = EventStore::new(pool.clone());
    let mut sitrep = Measured::default();
    let mut keyed = Measured::default();
    let mut bare = Measured::default();
    for _ in 0..2 {
        let began = Instant::now();
        let mut cursor = FeedCursor::START;
        let mut read = 0u64;
        loop {
            let page = store.read_feed(cursor, FEED_PAGE).await?;
            if page.events.is_empty() {
                break;
            }
            read += page.events.len() as u64;
            cursor = page.next;
        }
        sitrep = Measured::rate(read, began.elapsed());
        keyed = read_raw(pool, RawTable::Keyed).await?;
        bare = read_raw(pool, RawTable::PrimaryKeyOnly).await?;
    }
    Ok(Comparison {
        scenario: format!("read the whole feed ({total} events, pages of {FEED_PAGE})"),
        clients: 1,
        unit: "events",
        sitrep,
        keyed,
        bare,
    })
}

/// Reads a raw table from start to end in keyset pages by position.
async fn read_raw(pool: &PgPool, table: RawTable) -> anyhow::Result<Measured> {
    let began = Instant::now();
    let mut after = 0;
    let mut read = 0u64;
    loop {
        let page = raw::read_page(pool, table, after, i64::from(FEED_PAGE)).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    Ok(Measured::rate(read, began.elapsed()))
}

/// Tops the three tables up to `total` rows with batches of 1,000 (the store on 4 clients).
async fn fill(pool: &PgPool, total: u64) -> anyhow::Result<()> {
    const FILL_BATCH: u64 = 1_000;
    let store = EventStore::new(pool.clone());
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let missing = total
        .saturating_sub(have.unsigned_abs())
        .div_ceil(FILL_BATCH);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (store, next) = (store.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < missing {
                    let events: Vec<NewEvent> = (0..FILL_BATCH).map(event).collect();
                    let stream = StreamRef::new("incident", Uuid::now_v7());
                    store
                        .append(&stream, ExpectedVersion::NoStream, &events)
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let mut conn = pool.acquire().await?;
    for table in [RawTable::Keyed, RawTable::PrimaryKeyOnly] {
        let have = raw::count(pool, table).await?;
        let missing = total
            .saturating_sub(have.unsigned_abs())
            .div_ceil(FILL_BATCH);
        for _ in 0..missing {
            let payloads: Vec<Value> = (0..FILL_BATCH).map(payload).collect();
            raw::insert_batch(&mut conn, table, Uuid::now_v7(), &payloads).await?;
        }
    }
    // Hint bits and statistics, as a database that has been running a while would have them.
    sqlx::query("VACUUM ANALYZE events").execute(pool).await?;
    for table in [RawTable::Keyed, RawTable::PrimaryKeyOnly] {
        raw::vacuum(pool, table).await?;
    }
    // The tables now hold the same number of rows, give or take one batch.
    Ok(())
}
