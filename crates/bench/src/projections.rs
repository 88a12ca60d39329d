//! The projections' scenarios: rebuilding the incidents read model from a log of incident
//! events, the dashboards' queries on it, and the projection lag under concurrent writers; each
//! beside raw PostgreSQL doing the nearest plain work in the same run.
//!
//! The log is filled with real `IncidentReported` events (and `CasualtiesRevised` corrections of
//! one incident in ten) written by the domain's own encoding, inserted in bulk with plain SQL:
//! one event per new stream, with placeholder hash bytes (the benchmark measures reading and
//! projecting the log, not its tamper evidence, and filling a million single-event streams
//! through the store would take longer than the measurements).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sitrep_domain::model::encode;
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, IncidentEvent, IncidentFacts, Means,
    TargetCategory,
};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{EventType, SubEventType};
use sitrep_domain::store::{EventStore, ExpectedVersion, NewEvent, StreamRef};
use sitrep_projections::checksum::checksum;
use sitrep_projections::incident_queries::{
    incident_list, incident_stats, IncidentFilter, StatsDimension, TimeBucket,
};
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::status::wait_until_applied;
use sitrep_projections::{Projection, Projector};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

use crate::measure::Measured;

/// Rows per bulk insert while filling the log.
const FILL_CHUNK: usize = 5_000;
/// The headline question asked of the event log itself, the raw side of the statistics: attacks
/// on coalition bases since 2023-10-17 by week and claimant, from the reports' payloads (as
/// recorded until $1, when it is not null).
pub(crate) const RAW_HEADLINE_SQL: &str =
    "SELECT date_trunc('week', (payload->'facts'->'time'->>'start')::date) AS week, \
            a->>'actor' AS claimant, count(*), \
            sum((payload->'facts'->'fatalities'->>'best')::int) \
       FROM events \
       LEFT JOIN LATERAL json_array_elements(payload->'actors') AS a ON a->>'role' = 'claimant' \
      WHERE event_type = 'IncidentReported' \
        AND ($1::timestamptz IS NULL OR recorded_at <= $1) \
        AND payload->'facts'->>'target_category' = 'foreign_military_base' \
        AND (payload->'facts'->'time'->>'end')::date >= '2023-10-17' \
      GROUP BY 1, 2 ORDER BY 1, 2";

/// The headline question asked of the incidents read model in `schema`, now or as known at
/// `as_of`: attacks on bases since 2023-10-17, by week and claimant.
pub(crate) async fn headline_stats(
    pool: &PgPool,
    schema: &str,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<()> {
    let headline = IncidentFilter {
        from: NaiveDate::from_ymd_opt(2023, 10, 17),
        target_categories: vec!["foreign_military_base".into()],
        ..IncidentFilter::default()
    };
    incident_stats(
        pool,
        schema,
        &headline,
        &[StatsDimension::Claimant],
        Some(TimeBucket::Week),
        as_of,
    )
    .await?;
    Ok(())
}

/// The claimant of the incidents that count as attacks on coalition bases.
const CLAIMANT: Uuid = Uuid::from_u128(0x5173_d3e0_0000_8000_8000_0000_0000_0101);

/// A figure of the projections' scenarios beside its raw anchor.
pub struct Figure {
    pub scenario: String,
    pub sitrep: Measured,
    pub raw: Measured,
    pub unit: &'static str,
}

impl Figure {
    pub fn print(&self) {
        let ratio = 100.0 * self.sitrep.per_second / self.raw.per_second;
        println!(
            "| {} | {} {u}/s | {} {u}/s | {:.0}% | {} | {} |",
            self.scenario,
            rate(self.sitrep.per_second),
            rate(self.raw.per_second),
            ratio,
            latencies(&self.sitrep),
            latencies(&self.raw),
            u = self.unit,
        );
    }
}

pub const TABLE_HEADER: &str = "| scenario | sitrep | raw PostgreSQL | sitrep / raw | sitrep p50 / p99 | raw p50 / p99 |\n|---|---|---|---|---|---|";

/// A rate with the digits that matter (slow raw queries run less than once a second).
fn rate(per_second: f64) -> String {
    if per_second < 10.0 {
        format!("{per_second:.2}")
    } else {
        format!("{per_second:.0}")
    }
}

fn latencies(m: &Measured) -> String {
    if m.p50.is_zero() {
        return "–".into();
    }
    format!(
        "{:.2} ms / {:.2} ms",
        m.p50.as_secs_f64() * 1e3,
        m.p99.as_secs_f64() * 1e3
    )
}

/// The `n`-th incident of the fill: spread over 2004-2024 and over four countries; one in
/// twenty an attack on a base hosting coalition troops claimed by [`CLAIMANT`].
pub(crate) fn incident(n: u64) -> IncidentEvent {
    let day = NaiveDate::from_ymd_opt(2004, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(n % 7_300)))
        .unwrap_or_default();
    let countries = ["IRQ", "SYR", "JOR", "AFG"];
    let country = CountryCode(countries[(n % 4) as usize].to_owned());
    let on_base = n % 20 == 0;
    IncidentEvent::IncidentReported {
        facts: IncidentFacts {
            time: EventTime::day(day),
            place: Place {
                country,
                admin1: Some(format!("Province {}", n % 18)),
                admin2: None,
                admin3: None,
                location: Some(format!("Place {}", n % 5_000)),
                coordinates: Some(Coordinates {
                    latitude: 30.0 + (n % 1_000) as f64 / 100.0,
                    longitude: 40.0 + (n % 700) as f64 / 100.0,
                }),
                precision: GeoPrecision::Near,
                site: None,
            },
            event_type: EventType::ExplosionsRemoteViolence,
            sub_event_type: if n % 3 == 0 {
                SubEventType::AirDroneStrike
            } else {
                SubEventType::ShellingArtilleryMissileAttack
            },
            means: vec![if n % 3 == 0 {
                Means::OneWayDrone
            } else {
                Means::Rocket
            }],
            target_category: Some(if on_base {
                TargetCategory::ForeignMilitaryBase
            } else {
                TargetCategory::SecurityForces
            }),
            fatalities: UncertainCount::exactly((n % 5) as u32),
            injuries: None,
            notes: Some(format!("Report {n}: rockets struck near the base.")),
            tags: Vec::new(),
            external_refs: Vec::new(),
            attributes: Default::default(),
        },
        actors: if on_base {
            vec![ActorInvolvement {
                actor: CLAIMANT,
                role: ActorRole::Claimant,
                attribution: AttributionStatus::Claimed,
                source: None,
            }]
        } else {
            Vec::new()
        },
        sources: vec![Source::named("Reuters")],
    }
}

pub(crate) fn revision(n: u64) -> IncidentEvent {
    IncidentEvent::CasualtiesRevised {
        fatalities: Some(UncertainCount::exactly((n % 5) as u32 + 1)),
        injuries: None,
        source: None,
        reason: "later count".into(),
    }
}

/// Fills the log with `total` incident events: reports, and a revision of one in ten.
pub async fn fill(pool: &PgPool, total: u64) -> anyhow::Result<()> {
    // One revision per ten reports: `total / 11` revisions, the rest reports.
    let revisions = (total / 11) as usize;
    let reports = total - total / 11;
    let ids: Vec<Uuid> = (0..reports)
        .map(|n| Uuid::from_u128(u128::from(n) + 1))
        .collect();
    insert_events(pool, &ids, 1, incident).await?;
    let revised: Vec<Uuid> = ids.iter().step_by(10).take(revisions).copied().collect();
    insert_events(pool, &revised, 2, |n| revision(n * 10)).await
}

async fn insert_events(
    pool: &PgPool,
    streams: &[Uuid],
    version: i64,
    event: impl Fn(u64) -> IncidentEvent,
) -> anyhow::Result<()> {
    for (chunk_no, chunk) in streams.chunks(FILL_CHUNK).enumerate() {
        let mut types = Vec::with_capacity(chunk.len());
        let mut versions = Vec::with_capacity(chunk.len());
        let mut payloads = Vec::with_capacity(chunk.len());
        for i in 0..chunk.len() {
            let encoded = encode(&event((chunk_no * FILL_CHUNK + i) as u64))?;
            types.push(encoded.event_type);
            versions.push(encoded.schema_version);
            payloads.push(encoded.payload.to_string());
        }
        sqlx::query(
            "INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, \
                 schema_version, payload, recorded_at, recorded_by, metadata, prev_hash, hash) \
             SELECT 'incident', s, $2, gen_random_uuid(), t, v, p::json, now(), 'bench', '{}', \
                    '\\x00'::bytea, '\\x00'::bytea \
               FROM unnest($1::uuid[], $3::text[], $4::int4[], $5::text[]) AS x(s, t, v, p)",
        )
        .bind(chunk)
        .bind(version)
        .bind(&types)
        .bind(&versions)
        .bind(&payloads)
        .execute(pool)
        .await?;
    }
    sqlx::query("VACUUM ANALYZE events").execute(pool).await?;
    Ok(())
}

/// Rebuilds the incidents read model over the whole log, beside two raw anchors: Postgres
/// reading every event of the log once (`length(payload::text)` over a sequential scan), and
/// Postgres writing the rebuilt rows again into a table with the same keys (`INSERT … SELECT`
/// from the rebuilt table, then the same query indexes, built as a rebuild builds them): what
/// storing the read model costs the server alone, with no events read and nothing folded.
pub async fn rebuild(pool: &PgPool, total: u64) -> anyhow::Result<Vec<Figure>> {
    let store = EventStore::new(pool.clone());
    let projector =
        Projector::new(store, Arc::new(IncidentsProjection::default())).with_page_size(5_000);
    let began = Instant::now();
    let live = projector.rebuild().await?;
    let sitrep = Measured::rate(live.events_applied.unsigned_abs(), began.elapsed());
    let sum = checksum(pool, &IncidentsProjection::default(), &live).await?;
    eprintln!(
        "rebuilt generation {} ({} rows, checksum {})",
        live.generation, sum.rows, sum.digest
    );

    let began = Instant::now();
    let read: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE length(payload::text) > 0 AND stream_type = 'incident'",
    )
    .fetch_one(pool)
    .await?;
    let raw_read = Measured::rate(read.unsigned_abs(), began.elapsed());

    let mut conn = pool.acquire().await?;
    sqlx::query("CREATE SCHEMA bench_raw_rebuild")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET search_path TO bench_raw_rebuild, public")
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(IncidentsProjection::default().ddl())
        .execute(&mut *conn)
        .await?;
    let began = Instant::now();
    let written = sqlx::query(&format!(
        "INSERT INTO incident_versions SELECT * FROM {}.incident_versions",
        live.schema
    ))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // The indexes as a rebuild creates them (two at a time).
    sitrep_projections::generation::create_indexes_in(
        pool,
        "bench_raw_rebuild",
        IncidentsProjection::default().indexes(),
    )
    .await?;
    let raw_write = Measured::rate(written, began.elapsed());
    sqlx::query("DROP SCHEMA bench_raw_rebuild CASCADE")
        .execute(&mut *conn)
        .await?;
    sqlx::query("RESET search_path").execute(&mut *conn).await?;

    let scenario = format!("rebuild the incidents read model ({total} events)");
    Ok(vec![
        Figure {
            scenario: format!("{scenario}; raw: read the events"),
            sitrep: sitrep.clone(),
            raw: raw_read,
            unit: "events",
        },
        Figure {
            scenario: format!("{scenario}; raw: write its rows"),
            sitrep,
            raw: raw_write,
            unit: "events",
        },
    ])
}

/// The statistics dashboards ask most, and the first page of the list, on the live read
/// model; raw: the nearest plain SQL over the event log (reports' payloads as `json`, which
/// ignores corrections, retractions and merges, so it does less than the read model). The raw
/// queries scan the whole log, so they run a twentieth as often (at least 3 times).
pub async fn queries(pool: &PgPool, repeats: u32) -> anyhow::Result<Vec<Figure>> {
    let raw_repeats = (repeats / 20).max(3);
    let live = sitrep_projections::generation::live(pool, "incidents")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no live incidents generation: run the rebuild first"))?;
    let stats = time(repeats, || headline_stats(pool, &live.schema, None)).await?;
    let raw_stats = time(raw_repeats, || async {
        sqlx::query(RAW_HEADLINE_SQL)
            .bind(None::<chrono::DateTime<chrono::Utc>>)
            .fetch_all(pool)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
    .await?;
    let all = IncidentFilter::default();
    let page = time(repeats, || async {
        incident_list(pool, &live.schema, &all, 50, None, None)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
    .await?;
    let raw_page = time(raw_repeats, || async {
        sqlx::query(
            "SELECT stream_id, payload FROM events WHERE event_type = 'IncidentReported' \
              ORDER BY (payload->'facts'->'time'->>'start')::date DESC, stream_id DESC LIMIT 50",
        )
        .fetch_all(pool)
        .await
        .map(|_| ())
        .map_err(anyhow::Error::from)
    })
    .await?;
    Ok(vec![
        Figure {
            scenario:
                "statistics: attacks on coalition bases since 2023-10-17 by week and claimant"
                    .into(),
            sitrep: stats,
            raw: raw_stats,
            unit: "queries",
        },
        Figure {
            scenario: "the first page of the incident list (50, newest first)".into(),
            sitrep: page,
            raw: raw_page,
            unit: "queries",
        },
    ])
}

/// Runs `query` `repeats` times after a warm-up run: queries per second and latencies.
pub(crate) async fn time<F, Fut>(repeats: u32, query: F) -> anyhow::Result<Measured>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    query().await?;
    let mut latencies = Vec::with_capacity(repeats as usize);
    let began = Instant::now();
    for _ in 0..repeats {
        let t = Instant::now();
        query().await?;
        latencies.push(t.elapsed());
    }
    Ok(Measured::from_latencies(latencies, began.elapsed()))
}

/// Projection lag while `writers` clients append incident reports as fast as they can: every
/// 50 ms a sampler appends one more and times until the live projection has applied it
/// (checked every 5 ms). Raw anchor, under the same load: the time until a plain `LISTEN`
/// client receives a `NOTIFY` sent right after a commit.
pub async fn lag(pool: &PgPool, writers: usize, duration: Duration) -> anyhow::Result<Figure> {
    let store = EventStore::new(pool.clone());
    let notifier = tokio::spawn(store.clone().run_notifier(Duration::from_millis(5)));
    let projector = Projector::new(store.clone(), Arc::new(IncidentsProjection::default()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            projector
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        })
    };
    let end = Instant::now() + duration;
    let load: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = w as u64 * 1_000_000_000;
                while Instant::now() < end {
                    append_report(&store, n).await?;
                    n += 1;
                }
                anyhow::Ok(())
            })
        })
        .collect();

    let mut sitrep = Vec::new();
    let mut raw = Vec::new();
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("sitrep_bench_lag").await?;
    let mut n = 9_000_000_000_000u64;
    let began = Instant::now();
    while Instant::now() + Duration::from_millis(100) < end {
        let position = append_report(&store, n).await?;
        let t = Instant::now();
        wait_until_applied(pool, &[position], Duration::from_secs(10)).await?;
        sitrep.push(t.elapsed());

        sqlx::query("SELECT pg_notify('sitrep_bench_lag', '')")
            .execute(pool)
            .await?;
        let t = Instant::now();
        listener.recv().await?;
        raw.push(t.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = began.elapsed();
    for writer in load {
        writer.await??;
    }
    let _ = stop.send(true);
    following.await??;
    notifier.abort();
    Ok(Figure {
        scenario: format!("projection lag, {writers} writers appending (samples every 50 ms)"),
        sitrep: Measured::from_latencies(sitrep, elapsed),
        raw: Measured::from_latencies(raw, elapsed),
        unit: "samples",
    })
}

async fn append_report(store: &EventStore, n: u64) -> anyhow::Result<i64> {
    let encoded = encode(&incident(n))?;
    let mut event = NewEvent::new(encoded.event_type, encoded.payload, "bench");
    event.schema_version = encoded.schema_version;
    let result = store
        .append(
            &StreamRef::new("incident", Uuid::now_v7()),
            ExpectedVersion::NoStream,
            &[event],
        )
        .await?;
    result
        .positions
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("an append without a position"))
}
