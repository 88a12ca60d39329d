//! The dataset imports (issue #7): a real file read, mapped, synced and appended by
//! `sitrep_interchange` (the work of `sitrep import acled|ucdp`), timed from opening the file to
//! the commit, beside a raw binary `COPY` of exactly the events the import wrote; then the
//! same file again (every row unchanged: the sync appends nothing); and how long the incidents
//! and actors read models take to apply the import, both following the feed at once as in
//! `sitrep serve`.
//!
//! Files: the 162,852-row ACLED-shaped file built from SIGACTS ([`crate::sigacts`]) and UCDP's
//! Syria file (16,566 rows), from `SITREP_SHARED_DATA` (or `--shared-data`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sitrep_domain::store::EventStore;
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, ImportOptions, ImportSummary, RowSource};
use sitrep_interchange::record::Dataset;
use sitrep_projections::actors::ActorsProjection;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::projection::Projection;
use sitrep_projections::Projector;
use sqlx::PgPool;

use crate::measure::Measured;
use crate::projections::Figure;

/// The import of `path` into the empty log of `pool`, then again, then the read models.
pub async fn import(pool: &PgPool, dataset: Dataset, path: &Path) -> anyhow::Result<Vec<Figure>> {
    let store = EventStore::new(pool.clone());
    let label = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );

    sqlx::query("CHECKPOINT").execute(pool).await?;
    let (first, first_time) = import_once(&store, dataset, path).await?;
    anyhow::ensure!(
        first.new == first.read && first.rejected == 0,
        "{label}: expected every row new, got {first:?}"
    );
    let events = first.events_appended;

    // Raw: the very rows the import wrote, as PostgreSQL itself encodes them, copied into a
    // table shaped like `events` (its indexes, no triggers).
    let mut conn = pool.acquire().await?;
    let mut rows = Vec::new();
    {
        use futures::TryStreamExt as _;
        let mut out = conn
            .copy_out_raw(&format!("COPY (SELECT {RAW_COLUMNS} FROM events ORDER BY position) TO STDOUT (FORMAT binary)"))
            .await?;
        while let Some(chunk) = out.try_next().await? {
            rows.extend_from_slice(&chunk);
        }
    }
    drop(conn);
    sqlx::query("CHECKPOINT").execute(pool).await?;
    let began = Instant::now();
    let mut tx = pool.begin().await?;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY bench_raw_keyed ({RAW_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    for chunk in rows.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    let copied = copy.finish().await?;
    tx.commit().await?;
    let raw_time = began.elapsed();
    anyhow::ensure!(copied == events, "copied {copied} of {events} events");

    // The read models apply it, both at once.
    let caught_up = catch_up(&store).await?;

    // The same file again: the sync finds every row unchanged.
    sqlx::query("CHECKPOINT").execute(pool).await?;
    let (again, again_time) = import_once(&store, dataset, path).await?;
    anyhow::ensure!(
        again.unchanged == again.read && again.events_appended == 0,
        "{label}: expected nothing to sync, got {again:?}"
    );

    let rows_read = first.read;
    Ok(vec![
        Figure {
            scenario: format!(
                "import {label}: {rows_read} new rows read, mapped, synced and appended in one \
                 transaction ({events} events incl. {} actors registered; file to COMMIT); \
                 raw: binary COPY of the same {events} events",
                first.actors_registered
            ),
            sitrep: Measured::rate(rows_read, first_time),
            raw: Measured::rate(events, raw_time),
            unit: "rows",
        },
        Figure {
            scenario: format!(
                "import {label} again: {rows_read} rows, every one unchanged (nothing appended); \
                 raw: the same COPY as above"
            ),
            sitrep: Measured::rate(rows_read, again_time),
            raw: Measured::rate(events, raw_time),
            unit: "rows",
        },
        Figure {
            scenario: format!(
                "read models after the import of {label}: incidents and actors applying its \
                 {events} events at once, from the commit until both hold them ({:.1} s); raw: \
                 the same COPY as above",
                caught_up.as_secs_f64()
            ),
            sitrep: Measured::rate(events, caught_up),
            raw: Measured::rate(events, raw_time),
            unit: "events",
        },
    ])
}

/// The columns the raw copy carries (`position` and `tx_id` take their defaults).
const RAW_COLUMNS: &str = "stream_type, stream_id, stream_version, event_id, event_type, \
     schema_version, payload, valid_from, valid_to, valid_precision, recorded_at, recorded_by, \
     reason, causation_id, correlation_id, metadata, prev_hash, hash";

/// One import of the file, timed from opening it to the commit.
async fn import_once(
    store: &EventStore,
    dataset: Dataset,
    path: &Path,
) -> anyhow::Result<(ImportSummary, Duration)> {
    let began = Instant::now();
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let file = tokio::task::spawn_blocking(move || {
        dataset_file::open(dataset, std::io::BufReader::with_capacity(1 << 20, file))
    })
    .await??;
    let options = ImportOptions {
        dataset,
        recorded_by: "bench".into(),
        skip_invalid: false,
        started: began,
    };
    let outcome = run_import(
        store,
        &options,
        RowSource::file(file),
        Arc::new(|_, _, _| {}),
    )
    .await?;
    Ok((outcome.summary, began.elapsed()))
}

/// How long the incidents and actors read models take, following the log at once, to apply
/// everything in it.
async fn catch_up(store: &EventStore) -> anyhow::Result<Duration> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await?;
    let began = Instant::now();
    let projections: [Arc<dyn Projection>; 2] = [
        Arc::new(IncidentsProjection::default()),
        Arc::new(ActorsProjection),
    ];
    let mut tasks = Vec::new();
    for projection in projections {
        let projector = Projector::new(store.clone(), projection);
        tasks.push(tokio::spawn(async move {
            let mut generation = projector.live_generation().await?;
            while generation.events_applied < total {
                projector.catch_up(&mut generation).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(began.elapsed())
}
