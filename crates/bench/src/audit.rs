//! The audit scenarios of issue #6, each beside raw PostgreSQL doing the nearest plain work in
//! the same run:
//!
//! - the weekly statistics of attacks on coalition bases **as known at a past recorded time**
//!   on the projections' log (whose events were recorded over the fill, so a time in its middle
//!   sees about half of them, and none of the later corrections); raw: the same question asked
//!   of the event log itself, cut at the same recorded time;
//! - **`stateAt`** (`sitrep_domain::audit::state_at`: one aggregate folded from its events, as
//!   JSON) for a stream of 1,000 events; raw: reading the same 1,000 rows;
//! - **verifying the whole log** (every hash link recomputed, every seal recounted) over a
//!   hash-linked log written through the store; raw: PostgreSQL hashing every event's payload
//!   with `sha256` in one statement.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sitrep_domain::audit::state_at;
use sitrep_domain::model::encode;
use sitrep_domain::model::incident::IncidentEvent;
use sitrep_domain::store::{EventStore, ExpectedVersion, NewEvent, StreamRange, StreamRef};
use sqlx::PgPool;
use uuid::Uuid;

use crate::measure::Measured;
use crate::projections::{headline_stats, incident, revision, time, Figure, RAW_HEADLINE_SQL};

/// Events in the stream that is folded.
pub const STREAM_EVENTS: u64 = 1_000;
/// Events per append while writing the hash-linked log.
const LINKED_BATCH: u64 = 100;

/// The headline statistics as known at the recorded time of the middle of the projections'
/// log (call after the rebuild), beside the same question asked of the raw log cut there.
pub async fn stats_as_of(pool: &PgPool, repeats: u32) -> anyhow::Result<Figure> {
    let raw_repeats = (repeats / 20).max(3);
    let live = sitrep_projections::generation::live(pool, "incidents")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no live incidents generation: run the rebuild first"))?;
    let as_of: DateTime<Utc> = sqlx::query_scalar(
        "SELECT recorded_at FROM events ORDER BY position \
          OFFSET (SELECT count(*) / 2 FROM events) LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let sitrep = time(repeats, || headline_stats(pool, &live.schema, Some(as_of))).await?;
    let raw = time(raw_repeats, || async {
        sqlx::query(RAW_HEADLINE_SQL)
            .bind(as_of)
            .fetch_all(pool)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
    .await?;
    Ok(Figure {
        scenario: "statistics as known at a past recorded time (half the log): attacks on \
                   coalition bases since 2023-10-17 by week and claimant"
            .into(),
        sitrep,
        raw,
        unit: "queries",
    })
}

/// One incident stream of [`STREAM_EVENTS`] events (a report and its casualty revisions)
/// written through the store, then folded from its events again and again.
pub async fn fold_stream(pool: &PgPool, repeats: u32) -> anyhow::Result<Figure> {
    let store = EventStore::new(pool.clone());
    let stream = StreamRef::new("incident", Uuid::now_v7());
    let mut version = 0;
    while version < STREAM_EVENTS {
        let batch: Vec<NewEvent> = (version..(version + LINKED_BATCH).min(STREAM_EVENTS))
            .map(|n| to_new_event(if n == 0 { incident(20) } else { revision(n) }))
            .collect::<anyhow::Result<_>>()?;
        let expected = match version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v),
        };
        version = store.append(&stream, expected, &batch).await?.version;
    }
    let sitrep = time(repeats, || async {
        let state = state_at(&store, stream.stream_id, StreamRange::All)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the stream is gone"))?;
        anyhow::ensure!(state.version == STREAM_EVENTS, "folded a short stream");
        Ok(())
    })
    .await?;
    let raw = time(repeats, || async {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT stream_version, payload::text FROM events WHERE stream_id = $1 \
              ORDER BY stream_version",
        )
        .bind(stream.stream_id)
        .fetch_all(pool)
        .await?;
        anyhow::ensure!(rows.len() as u64 == STREAM_EVENTS, "read a short stream");
        Ok(())
    })
    .await?;
    Ok(Figure {
        scenario: format!(
            "stateAt: one incident folded from its {STREAM_EVENTS} events, as JSON; raw: reading \
             the same rows"
        ),
        sitrep,
        raw,
        unit: "folds",
    })
}

/// Writes `total` incident events through the store (streams of [`LINKED_BATCH`] events, one
/// append each), seals them, then verifies the whole log; raw: one `sha256` per event in SQL.
pub async fn verify(pool: &PgPool, total: u64) -> anyhow::Result<Figure> {
    let store = EventStore::new(pool.clone());
    let began = Instant::now();
    let mut written = 0;
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = writer * LINKED_BATCH;
                let mut written = 0;
                while n < total {
                    let batch: Vec<NewEvent> = (n..(n + LINKED_BATCH).min(total))
                        .map(|i| {
                            to_new_event(if i % LINKED_BATCH == 0 {
                                incident(i)
                            } else {
                                revision(i)
                            })
                        })
                        .collect::<anyhow::Result<_>>()?;
                    let stream = StreamRef::new("incident", Uuid::now_v7());
                    written += store
                        .append(&stream, ExpectedVersion::NoStream, &batch)
                        .await?
                        .event_ids
                        .len() as u64;
                    n += 4 * LINKED_BATCH;
                }
                anyhow::Ok(written)
            })
        })
        .collect();
    for writer in writers {
        written += writer.await??;
    }
    while store.seal().await?.is_some() {}
    println!(
        "(wrote and sealed {written} hash-linked events through the store in {:.0} s)",
        began.elapsed().as_secs_f64()
    );
    sqlx::query("VACUUM ANALYZE events").execute(pool).await?;
    // Once to warm the cache, then timed.
    anyhow::ensure!(store.verify().await?.is_intact(), "the log is not intact");
    let began = Instant::now();
    let report = store.verify().await?;
    let elapsed = began.elapsed();
    anyhow::ensure!(report.is_intact(), "the log is not intact");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    anyhow::ensure!(
        i64::try_from(report.events_checked)? == stored,
        "verify checked {} of {stored} events",
        report.events_checked
    );
    let sitrep = Measured::rate(report.events_checked, elapsed);
    let began = Instant::now();
    let hashed: i64 = sqlx::query_scalar(
        "SELECT count(sha256(convert_to(payload::text, 'UTF8') || prev_hash)) FROM events",
    )
    .fetch_one(pool)
    .await?;
    let raw = Measured::rate(u64::try_from(hashed)?, began.elapsed());
    Ok(Figure {
        scenario: format!(
            "verify the whole log ({stored} events, {} seals); raw: sha256 of every event's \
             payload in one statement",
            report.seals_checked
        ),
        sitrep,
        raw,
        unit: "events",
    })
}

fn to_new_event(event: IncidentEvent) -> anyhow::Result<NewEvent> {
    let encoded = encode(&event)?;
    let mut new = NewEvent::new(encoded.event_type, encoded.payload, "bench");
    new.schema_version = encoded.schema_version;
    if matches!(event, IncidentEvent::CasualtiesRevised { .. }) {
        new.reason = Some("later count".into());
    }
    Ok(new)
}
