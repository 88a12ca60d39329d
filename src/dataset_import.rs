//! `sitrep import acled FILE` and `sitrep import ucdp FILE`: a dataset file synced into the log
//! (the interchange crate reads, plans and appends; this is the file, the progress bar, the
//! messages, the file of rejected rows and the exit code).
//!
//! The file's header is read and checked before the database is opened, so a file of another
//! format fails without touching it; its rows are read as the import writes the ones before, so a
//! file that breaks off later (not UTF-8, a broken quote, cut short) rolls the import back. Bad
//! rows stop the import and are listed (the first [`LISTED`]); with `--skip-invalid` the valid
//! rows are imported and the bad ones written to `--rejected`.

use std::fs::File;
use std::io::{BufReader, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use sitrep_interchange::dataset_file::{self, DatasetRows};
use sitrep_interchange::import::{run_import, ImportError, ImportOptions, RowSource, Stage};
use sitrep_interchange::record::{Dataset, RowError};
use sitrep_interchange::rejected_file::RejectedRows;

use crate::cli::{DatabaseArgs, ImportDatasetArgs};
use crate::database::Database;

/// How many bad rows are listed when they stop an import.
const LISTED: usize = 50;

pub async fn run(
    database: &DatabaseArgs,
    dataset: Dataset,
    args: &ImportDatasetArgs,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let shown = args.file.display().to_string();
    let path = args.file.clone();
    let (file, expected_rows) = tokio::task::spawn_blocking(move || open(dataset, &path))
        .await
        .context("opening the file")?
        .with_context(|| format!("{shown}: nothing was imported"))?;
    let rejected_rows = RejectedRows::of_header(file.header());
    let options = ImportOptions {
        dataset,
        recorded_by: args.recorded_by.clone(),
        skip_invalid: args.skip_invalid,
        started,
    };

    let db = Database::open(database).await?;
    let bar = rows_bar(expected_rows);
    let progress = bar.clone();
    let imported = run_import(
        db.store(),
        &options,
        RowSource::file(file).with_expected_rows(expected_rows),
        std::sync::Arc::new(move |stage, done, total| show(&progress, stage, done, total)),
    )
    .await;
    bar.finish_and_clear();
    let closed = db.close().await;
    let outcome = match imported {
        Ok(outcome) => outcome,
        Err(ImportError::BadRows { rows }) => {
            closed?;
            list_bad_rows(&rows);
            anyhow::bail!(
                "{shown}: {} bad row(s); nothing was imported (--skip-invalid imports the valid \
                 rows and writes the bad ones to a file)",
                rows.len()
            );
        }
        Err(error) => {
            closed?;
            return Err(error).with_context(|| format!("{shown}: nothing was imported"));
        }
    };
    closed?;
    if !outcome.rejected.is_empty() {
        let target = args
            .rejected
            .clone()
            .unwrap_or_else(|| default_rejected_path(&args.file));
        let written = write_rejected(&rejected_rows, &outcome.rejected, &args.file, &target)
            .await
            .with_context(|| format!("cannot write the rejected rows to {}", target.display()))?;
        println!(
            "{written} rejected row(s) written to {} (with sitrep_line and sitrep_error)",
            target.display()
        );
    }
    println!("{}", outcome.summary);
    Ok(ExitCode::SUCCESS)
}

/// The dataset file at `path`, its header read and checked, and about how many rows it has (its
/// lines after the header: a quoted field may span lines), for the progress bar.
fn open(dataset: Dataset, path: &Path) -> anyhow::Result<(DatasetRows<BufReader<File>>, u64)> {
    let lines = {
        let mut file = File::open(path).context("cannot open the file")?;
        let mut buffer = vec![0; 1 << 16];
        let mut lines = 0u64;
        loop {
            let read = file.read(&mut buffer).context("cannot read the file")?;
            if read == 0 {
                break;
            }
            lines += buffer[..read].iter().filter(|b| **b == b'\n').count() as u64;
        }
        lines
    };
    let file = File::open(path).context("cannot open the file")?;
    let rows = dataset_file::open(dataset, BufReader::with_capacity(1 << 16, file))?;
    Ok((rows, lines.saturating_sub(1)))
}

/// Prints the first [`LISTED`] bad rows and how many more there are.
fn list_bad_rows(rows: &[RowError]) {
    for row in rows.iter().take(LISTED) {
        eprintln!("{row}");
    }
    if rows.len() > LISTED {
        eprintln!("... and {} more", rows.len() - LISTED);
    }
}

/// `data.csv` -> `data.csv.rejected.csv`.
fn default_rejected_path(input: &Path) -> PathBuf {
    let mut name = input.as_os_str().to_owned();
    name.push(".rejected.csv");
    PathBuf::from(name)
}

/// Writes the rejected rows to `target` (through a file beside it, renamed once complete).
async fn write_rejected(
    rejected_rows: &RejectedRows,
    errors: &[RowError],
    input: &Path,
    target: &Path,
) -> anyhow::Result<u64> {
    let (rejected_rows, errors) = (rejected_rows.clone(), errors.to_vec());
    let (input, target) = (input.to_owned(), target.to_owned());
    tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let out = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let source = || std::fs::File::open(&input).map(std::io::BufReader::new);
        let written = rejected_rows.write(&errors, source, std::io::BufWriter::new(&out));
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                std::fs::remove_file(&partial).ok();
                return Err(error.into());
            }
        };
        out.sync_all()?;
        std::fs::rename(&partial, &target)?;
        Ok(written)
    })
    .await?
}

/// Shows a stage's progress on `bar`: rows planned and appended, or, once bad rows stopped the
/// writing, rows only checked (the bar starts again then, so that its rate is the stage's).
fn show(bar: &ProgressBar, stage: Stage, done: u64, total: u64) {
    let (message, unit) = match stage {
        Stage::Writing => ("importing", "rows"),
        Stage::Planning => ("checking", "rows"),
    };
    if bar.message() != message {
        bar.reset();
        bar.set_message(message);
        bar.set_prefix(unit);
        bar.set_length(total);
    }
    bar.set_position(done);
}

/// The bar of an import's stages, with their rate (hidden unless stderr is a terminal).
fn rows_bar(rows: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {msg:8} {wide_bar} {pos}/{len} {prefix} ({rate})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", state.per_sec());
        },
    );
    let bar = ProgressBar::new(rows)
        .with_style(style)
        .with_message("loading")
        .with_prefix("rows");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_rows_go_beside_the_input_by_default() {
        assert_eq!(
            default_rejected_path(Path::new("/data/acled.csv")),
            PathBuf::from("/data/acled.csv.rejected.csv")
        );
    }
}
