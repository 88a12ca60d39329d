//! `sitrep export incidents`: the incidents a filter selects as CSV, GeoJSON or ACLED's columns
//! (`sitrep_interchange::export` does the work), to stdout or to a file written beside its
//! name and renamed once complete, as `sitrep export events` does.

use anyhow::Context as _;
use sitrep_interchange::export::{Export, ExportFilter, ExportFormat, ExportRequest};
use sitrep_projections::status::statuses;
use sqlx::PgPool;
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};

use crate::cli::{ExportIncidentsArgs, IncidentFormat};
use crate::events_transfer::partial_path;

/// The write buffer.
const BUFFER: usize = 1 << 16;

/// The read models an export reads.
const READ_MODELS: [&str; 2] = ["incidents", "actors"];

pub async fn export(pool: &PgPool, args: &ExportIncidentsArgs) -> anyhow::Result<()> {
    let request = request_of(args);
    // Refused here (a bad filter, no read model) before any file is made.
    let mut export = Export::start(pool, &request).await?;
    warn_if_behind(pool).await;
    match &args.output {
        None => {
            let mut out = BufWriter::with_capacity(BUFFER, tokio::io::stdout());
            write(&mut export, &mut out).await?;
            eprintln!("exported {} incidents", export.incidents_written());
        }
        Some(path) => {
            let partial = partial_path(path);
            let file = tokio::fs::File::create(&partial)
                .await
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut out = BufWriter::with_capacity(BUFFER, file);
            if let Err(error) = write(&mut export, &mut out).await {
                tokio::fs::remove_file(&partial).await.ok();
                return Err(error);
            }
            out.into_inner()
                .sync_all()
                .await
                .with_context(|| format!("cannot write {}", partial.display()))?;
            tokio::fs::rename(&partial, path).await.with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
            println!(
                "exported {} incidents to {}",
                export.incidents_written(),
                path.display()
            );
        }
    }
    Ok(())
}

fn request_of(args: &ExportIncidentsArgs) -> ExportRequest {
    ExportRequest {
        format: match args.format {
            IncidentFormat::Csv => ExportFormat::Csv,
            IncidentFormat::Geojson => ExportFormat::GeoJson,
            IncidentFormat::Acled => ExportFormat::Acled,
        },
        filter: ExportFilter {
            countries: args.countries.clone(),
            admin1: args.admin1.clone(),
            event_types: args.event_types.clone(),
            from: args.from,
            to: args.to,
            actor: args.actor,
        },
        as_of: args.as_of,
    }
}

/// Writes every chunk of `export` to `out` and flushes it.
async fn write<W: AsyncWrite + Unpin>(export: &mut Export, out: &mut W) -> anyhow::Result<()> {
    while let Some(chunk) = export.next_chunk().await? {
        out.write_all(&chunk)
            .await
            .context("cannot write the export")?;
    }
    out.flush().await.context("cannot write the export")?;
    Ok(())
}

/// Says on stderr when a read model the export reads has not applied every event yet (no
/// `sitrep serve` follows the log, or it is catching up): the export shows what it applied.
async fn warn_if_behind(pool: &PgPool) {
    let Ok(statuses) = statuses(pool).await else {
        return;
    };
    for status in statuses
        .iter()
        .filter(|s| READ_MODELS.contains(&s.projection.as_str()) && s.events_behind > 0)
    {
        eprintln!(
            "note: the {} read model has not applied the last {} events of the log yet \
             (sitrep serve keeps it up); the export shows what it has applied",
            status.projection, status.events_behind
        );
    }
}
