//! `sitrep export events` and `sitrep import events`: the event log as JSON lines, out of one
//! database and into an empty one (the store's `transfer` module does the work and the checks;
//! this is the files, the messages and the seal after an import).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sitrep_domain::store::{EventStore, PositionRange};
use tokio::io::{AsyncWrite, BufReader, BufWriter};

use crate::cli::{ExportEventsArgs, ExportFormat, ImportEventsArgs};

/// Read and write buffers: large enough that a big log streams in few system calls.
const BUFFER: usize = 1 << 16;

/// Writes the events to `--output` (through a file beside it, renamed once complete) or stdout.
pub async fn export(store: &EventStore, args: &ExportEventsArgs) -> anyhow::Result<()> {
    let ExportFormat::Jsonl = args.format;
    let range = PositionRange::new(args.from, args.to)?;
    match &args.output {
        None => {
            let mut out = BufWriter::with_capacity(BUFFER, tokio::io::stdout());
            let summary = write(store, range, &mut out).await?;
            eprintln!("exported {} events", summary);
        }
        Some(path) => {
            let partial = partial_path(path);
            let file = tokio::fs::File::create(&partial)
                .await
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut out = BufWriter::with_capacity(BUFFER, file);
            let written = write(store, range, &mut out).await;
            let events = match written {
                Ok(events) => events,
                Err(error) => {
                    tokio::fs::remove_file(&partial).await.ok();
                    return Err(error);
                }
            };
            out.into_inner()
                .sync_all()
                .await
                .with_context(|| format!("cannot write {}", partial.display()))?;
            tokio::fs::rename(&partial, path).await.with_context(|| {
                format!("cannot rename {} to {}", partial.display(), path.display())
            })?;
            println!("exported {events} events to {}", path.display());
        }
    }
    Ok(())
}

async fn write<W: AsyncWrite + Unpin>(
    store: &EventStore,
    range: PositionRange,
    out: &mut W,
) -> anyhow::Result<u64> {
    Ok(store.export_events(range, out).await?.events)
}

/// `events.jsonl` → `events.jsonl.partial`.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Loads the file (or stdin) into the empty database, then seals what it loaded.
pub async fn import(store: &EventStore, args: &ImportEventsArgs) -> anyhow::Result<()> {
    let summary = if args.file.as_os_str() == "-" {
        store
            .import_events(BufReader::with_capacity(BUFFER, tokio::io::stdin()))
            .await
    } else {
        let file = tokio::fs::File::open(&args.file)
            .await
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        store
            .import_events(BufReader::with_capacity(BUFFER, file))
            .await
    }
    .with_context(|| format!("{}: nothing was imported", args.file.display()))?;
    println!(
        "imported {} events of {} streams, through position {}",
        summary.events, summary.streams, summary.last_position
    );
    if summary.renumbered > 0 {
        println!(
            "{} events took the next free position to keep the feed order (their source \
             committed out of position order)",
            summary.renumbered
        );
    }
    // The copy's own seal; another transaction in the cluster may hold part of it back, and
    // `sitrep serve` seals the rest.
    match store.seal().await.context("sealing the imported events")? {
        Some(seal) => println!("sealed {} events (seal {})", seal.event_count, seal.seal_no),
        None => println!("nothing sealed yet: `sitrep serve` seals the events once final"),
    }
    Ok(())
}
