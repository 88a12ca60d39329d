//! Helpers shared by the store's tests.

#![allow(dead_code)]

use serde_json::json;
use sitrep_domain::store::{EventStore, NewEvent, StreamRef};
use sitrep_testkit::TestDb;
use uuid::Uuid;

/// A fresh database and a store on it.
pub async fn store() -> (TestDb, EventStore) {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    (db, store)
}

/// A fresh database with a larger pool, for tests with many concurrent writers.
pub async fn store_with_pool(size: u32) -> (TestDb, EventStore) {
    let db = TestDb::with_pool_size(&sitrep_domain::MIGRATOR, size).await;
    let store = EventStore::new(db.pool.clone());
    (db, store)
}

pub fn incident_stream() -> StreamRef {
    StreamRef::new("incident", Uuid::new_v4())
}

/// An event shaped like a real report (about 400 bytes of payload).
pub fn report(n: usize) -> NewEvent {
    NewEvent::new(
        "IncidentReported",
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
            "notes": format!("Rocket attack number {n} on a base hosting coalition troops; no casualties reported."),
        }),
        "test",
    )
}

pub async fn count_events(store: &EventStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count events")
}
