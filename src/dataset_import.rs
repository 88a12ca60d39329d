//! `sitrep import acled FILE` and `sitrep import ucdp FILE`: a dataset file synced into the log
//! (the interchange crate reads, plans and appends; this is the file, the progress bar, the
//! messages, the file of rejected rows and the exit code).
//!
//! The file is read and checked before the database is opened, so a bad file (wrong header,
//! not UTF-8, a broken quote, cut short) fails without touching it. Bad rows stop the import
//! and are listed (the first [`LISTED`]); with `--skip-invalid` the valid rows are imported and
//! the bad ones written to `--rejected`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use sitrep_interchange::dataset_file::{self, DatasetFile};
use sitrep_interchange::import::{run_import, FileRows, ImportError, ImportOptions, Stage};
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
    let reading = spinner(&format!("reading {shown}"));
    let path = args.file.clone();
    let file = tokio::task::spawn_blocking(move || read(dataset, &path))
        .await
        .context("reading the file")?
        .with_context(|| format!("{shown}: nothing was imported"))?;
    reading.finish_and_clear();
    let rejected_rows = RejectedRows::of(&file);
    let rows = FileRows::from(file);
    let options = ImportOptions {
        dataset,
        recorded_by: args.recorded_by.clone(),
        skip_invalid: args.skip_invalid,
        started,
    };

    let db = Database::open(database).await?;
    let bar = rows_bar(rows.rows.len() as u64);
    let progress = bar.clone();
    let imported = run_import(
        db.store(),
        &options,
        rows,
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

/// The dataset file at `path`, read and checked.
fn read(dataset: Dataset, path: &Path) -> anyhow::Result<DatasetFile> {
    let file = std::fs::File::open(path).context("cannot open the file")?;
    Ok(dataset_file::read(
        dataset,
        std::io::BufReader::with_capacity(1 << 16, file),
    )?)
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

/// A spinner on stderr while something without a count runs (hidden unless stderr is a
/// terminal).
fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
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
