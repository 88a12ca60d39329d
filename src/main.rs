//! `sitrep`, the command line: runs the server and the operator's tasks.
//!
//! This is the binary's edge: errors become `anyhow` reports here and nowhere else.
//! - [`cli`]: the commands and flags (each flag also reads an environment variable);
//! - [`database`]: which PostgreSQL to use (`DATABASE_URL`, or the embedded cluster) and migrations;
//! - [`serve`]: the HTTP server and its background tasks;
//! - [`demo`]: `sitrep demo`, a small true story loaded through the domain's commands;
//! - [`rebuild`]: `sitrep rebuild`, blue/green rebuilds of the read models;
//! - [`replay`]: `sitrep replay`, read models as known at a recorded time, for audits;
//! - [`token`]: `sitrep token issue|revoke|list`, the API's bearer tokens;
//! - [`verify`]: `sitrep verify`, the integrity report of the log or a range of it;
//! - [`events_transfer`]: `sitrep export events` and `sitrep import events`, the log as JSON lines;
//! - [`incidents_export`]: `sitrep export incidents`, incidents as CSV, GeoJSON or ACLED's columns;
//! - [`dataset_import`]: `sitrep import acled|ucdp`, dataset files synced into the log.

mod cli;
mod database;
mod dataset_import;
mod demo;
mod events_transfer;
mod incidents_export;
mod rebuild;
mod replay;
mod serve;
mod token;
mod verify;

/// mimalloc rather than the system allocator: projecting pages allocates and frees many small
/// values, which glibc's allocator spent about half the projector's time on (measured with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use sitrep_interchange::record::Dataset;

use crate::cli::{Cli, Command, ExportCommand, ImportCommand};

#[tokio::main]
async fn main() -> ExitCode {
    // SITREP_LOG filters (`info`, `sitrep_api=debug,warn`); SITREP_LOG_FORMAT=json writes one
    // JSON object per line, with the request's span (its request id) in each.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SITREP_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    if std::env::var("SITREP_LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            serve::run(&cli.database, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = database::Database::open(&cli.database).await?;
            db.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            let db = database::Database::open(&cli.database).await?;
            let verified = verify::run(db.store(), &args).await;
            let closed = db.close().await;
            let code = verified?;
            closed?;
            Ok(code)
        }
        Command::Export(ExportCommand::Events(args)) => {
            let db = database::Database::open(&cli.database).await?;
            let exported = events_transfer::export(db.store(), &args).await;
            let closed = db.close().await;
            exported?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Acled(args)) => {
            dataset_import::run(&cli.database, Dataset::Acled, &args).await
        }
        Command::Import(ImportCommand::Ucdp(args)) => {
            dataset_import::run(&cli.database, Dataset::Ucdp, &args).await
        }
        Command::Export(ExportCommand::Incidents(args)) => {
            let db = database::Database::open(&cli.database).await?;
            let exported = incidents_export::export(db.store().pool(), &args).await;
            let closed = db.close().await;
            exported?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Events(args)) => {
            let db = database::Database::open(&cli.database).await?;
            let imported = events_transfer::import(db.store(), &args).await;
            let closed = db.close().await;
            imported?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            let db = database::Database::open(&cli.database).await?;
            let loaded = demo::load(db.store().clone()).await;
            let closed = db.close().await;
            let report = loaded?;
            closed?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild(args) => {
            let db = database::Database::open(&cli.database).await?;
            let rebuilt = rebuild::run(db.store(), args.name.as_deref()).await;
            let closed = db.close().await;
            rebuilt?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => {
            let db = database::Database::open(&cli.database).await?;
            let replayed = replay::run(
                db.store(),
                args.until,
                args.projection.as_deref(),
                args.keep,
            )
            .await;
            let closed = db.close().await;
            replayed?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => {
            let db = database::Database::open(&cli.database).await?;
            let done = token::run(db.store().pool(), &command).await;
            let closed = db.close().await;
            done?;
            closed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            print!("{}", sitrep_api::schema::sdl());
            Ok(ExitCode::SUCCESS)
        }
    }
}
