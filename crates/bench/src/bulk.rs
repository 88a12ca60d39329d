//! The importers' write (issue #7): `n` new incident streams of one event each (an ACLED-sized
//! row: an `IncidentReported` of about 800 bytes of JSON) appended through
//! `EventStore::append_batch_in` in one transaction, timed from `BEGIN` to `COMMIT`.
//!
//! Raw: the same rows as a binary `COPY` into `bench_raw_keyed` (the shape and indexes of
//! `events`), their JSON and hashes prepared before the clock starts: what PostgreSQL alone
//! takes to store them, with none of the store's work (validation, head read, digests and hash
//! links, the savepoint). The sides take turns, [`ROUNDS`] times each, each from a checkpoint,
//! on tables that grow as they would over successive imports.

use std::time::{Duration, Instant};

use sitrep_domain::model::encode;
use sitrep_domain::model::incident::{ExternalRef, IncidentEvent};
use sitrep_domain::store::{EventStore, ExpectedVersion, NewEvent, StreamAppend, StreamRef};
use sqlx::PgPool;
use uuid::Uuid;

use crate::measure::Measured;
use crate::projections::{incident, Figure};

/// Runs of each side.
const ROUNDS: u32 = 3;

/// A report as an importer of ACLED rows would write it: the fill's incident with the place,
/// references, tags and notes such a row carries.
pub fn row_event(n: u64) -> anyhow::Result<NewEvent> {
    let mut event = incident(n);
    if let IncidentEvent::IncidentReported { facts, .. } = &mut event {
        facts.place.admin2 = Some(format!("District {}", n % 120));
        facts.place.admin3 = Some(format!("Subdistrict {}", n % 900));
        facts.external_refs = vec![ExternalRef::new(&format!("acled:IRQ{}", 30_000 + n))?];
        facts.tags = vec!["acled-import".into(), format!("batch-{}", n / 10_000)];
        facts.notes = Some(format!(
            "Report {n}: militants fired rockets at a base hosting coalition forces near the \
             town; the projectiles landed inside the perimeter. Casualties were not confirmed \
             at the time of reporting."
        ));
    }
    let encoded = encode(&event)?;
    let mut new = NewEvent::new(encoded.event_type, encoded.payload, "importer:acled");
    new.schema_version = encoded.schema_version;
    Ok(new)
}

/// `n` new streams of one row each, through the store and raw.
pub async fn bulk_append(pool: &PgPool, n: u64) -> anyhow::Result<Figure> {
    let store = EventStore::new(pool.clone());
    let payload_bytes = row_event(0)?.payload.to_string().len();
    let (mut store_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let batch: Vec<StreamAppend> = (0..n)
            .map(|i| {
                Ok(StreamAppend {
                    stream: StreamRef::new("incident", Uuid::now_v7()),
                    expected: ExpectedVersion::NoStream,
                    events: vec![row_event(u64::from(round) * n + i)?],
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let raw_rows = raw_copy_data(&batch)?;

        // Each side starts from a checkpoint, so that neither pays for the other's dirty pages
        // (and both pay the full-page images of the pages they touch first).
        sqlx::query("CHECKPOINT").execute(pool).await?;
        let began = Instant::now();
        let mut tx = pool.begin().await?;
        let result = store.append_batch_in(&mut tx, &batch).await?;
        tx.commit().await?;
        store.notify_appended();
        let elapsed = began.elapsed();
        anyhow::ensure!(result.event_count() as u64 == n, "appended a short batch");
        store_time += elapsed;
        drop(batch);

        sqlx::query("CHECKPOINT").execute(pool).await?;
        let began = Instant::now();
        let mut tx = pool.begin().await?;
        let mut copy = tx.copy_in_raw(RAW_COPY_SQL).await?;
        for chunk in raw_rows.chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        let copied = copy.finish().await?;
        tx.commit().await?;
        let raw_elapsed = began.elapsed();
        anyhow::ensure!(copied == n, "copied {copied} of {n} rows");
        raw_time += raw_elapsed;
        println!(
            "(bulk round {}: store {n} events in {:.2} s, raw COPY in {:.2} s)",
            round + 1,
            elapsed.as_secs_f64(),
            raw_elapsed.as_secs_f64()
        );
    }
    let report = store.verify().await?;
    anyhow::ensure!(report.is_intact(), "the bulk-appended log is not intact");
    Ok(Figure {
        scenario: format!(
            "bulk append: {n} new streams of one event ({payload_bytes} bytes of JSON) in one \
             transaction (append_batch_in, BEGIN to COMMIT); raw: binary COPY of the same rows, \
             hashes precomputed, into a table shaped like events"
        ),
        sitrep: Measured::rate(u64::from(ROUNDS) * n, store_time),
        raw: Measured::rate(u64::from(ROUNDS) * n, raw_time),
        unit: "events",
    })
}

/// The raw COPY: the columns the store writes (tx_id takes its default).
const RAW_COPY_SQL: &str = "COPY bench_raw_keyed (stream_type, stream_id, stream_version, \
     event_id, event_type, schema_version, payload, recorded_at, recorded_by, metadata, \
     prev_hash, hash) FROM STDIN (FORMAT binary)";

/// The batch's rows in binary COPY format, with fixed hash bytes and the time now.
fn raw_copy_data(batch: &[StreamAppend]) -> anyhow::Result<Vec<u8>> {
    const HASH: [u8; 32] = [7; 32];
    const UNIX_TO_2000_MICROS: i64 = 946_684_800_000_000;
    let now = chrono::Utc::now().timestamp_micros() - UNIX_TO_2000_MICROS;
    let mut out = Vec::with_capacity(batch.len() * 1_200);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
    let field = |out: &mut Vec<u8>, bytes: &[u8]| -> anyhow::Result<()> {
        out.extend_from_slice(&i32::try_from(bytes.len())?.to_be_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    };
    for part in batch {
        for (version, event) in (1i64..).zip(&part.events) {
            out.extend_from_slice(&12i16.to_be_bytes());
            field(&mut out, part.stream.stream_type.as_bytes())?;
            field(&mut out, part.stream.stream_id.as_bytes())?;
            field(&mut out, &version.to_be_bytes())?;
            field(&mut out, event.event_id.as_bytes())?;
            field(&mut out, event.event_type.as_bytes())?;
            field(&mut out, &event.schema_version.to_be_bytes())?;
            field(&mut out, event.payload.to_string().as_bytes())?;
            field(&mut out, &now.to_be_bytes())?;
            field(&mut out, event.recorded_by.as_bytes())?;
            field(&mut out, event.metadata.to_string().as_bytes())?;
            field(&mut out, &HASH)?;
            field(&mut out, &HASH)?;
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}
