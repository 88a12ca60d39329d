//! The import runner: reads the rows, loads what the sync needs from the log, plans
//! ([`crate::sync`]) and appends the plan in one transaction, or nothing.
//!
//! Three stages run at once, a chunk of [`STREAMS_PER_APPEND`] rows apart, so that the database
//! stores one chunk while the next is read and planned:
//! 1. Reading ([`RowSource`], on a thread): the file's rows a batch at a time, mapped and
//!    checked by its reader, a reference repeated in the file rejected, the valid rows digested.
//! 2. The import's own task, on its transaction: the import lock first (a transaction-level
//!    advisory lock: imports run one at a time, so that each sees what the one before
//!    registered) and the actor streams, folded into a directory of names; then per chunk the
//!    heads of the streams its rows name (version and the `import.row` digest of the last import
//!    event, from the metadata, in one query) and the events of only those whose digest is not
//!    their row's (one query), folded with the domain model, handed to the planner; then the
//!    chunk before, planned, appended with the store's bulk append ([`append_all`]), every
//!    stream at the version the plan was made at. At the end the dataset's other incidents
//!    (through the index on the reports' `import.dataset`), folded the same way, for the
//!    retractions.
//! 3. Planning ([`ChunkedPlan`], on a thread): each chunk's actor registrations, then its
//!    incidents' events, encoded for the store; the retractions last.
//!
//! Nothing is committed unless every stage finished: a bad row (the reader's, a repeated
//! reference, the domain's refusal) stops the writing without `skip_invalid`, and the reading
//! and planning go on only to list every bad row ([`ImportError::BadRows`]) before the
//! transaction is rolled back; a file that breaks off ([`ImportError::BadFile`]), another
//! writer in between ([`ImportError::Conflict`]: run it again) or any failure rolls it back too.
//!
//! Every event carries the metadata `{"import": {"dataset", "row", "run"}}` (no `row` for a
//! retraction) and the run's id as its correlation id.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sitrep_domain::canonical::CanonicalJson;
use sitrep_domain::handler::valid_time_of;
use sitrep_domain::model::actor::{Actor, ActorEvent};
use sitrep_domain::model::incident::{ExternalRef, Incident, IncidentEvent};
use sitrep_domain::model::{decode_text, encode_canonical, Aggregate, CodecError, DomainEvent};
use sitrep_domain::store::{
    EventStore, ExpectedVersion, NewEvent, StoreError, StreamAppend, StreamRef,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::csv_file::FileError;
use crate::dataset_file::{DatasetFile, DatasetRows, RowBatch};
use crate::incident_id_for;
use crate::record::{Dataset, ImportedRow, RowError};
use crate::sync::{
    self, ActorDirectory, ChunkedPlan, FirstRows, StreamState, SyncCounts, SyncPlan,
};

const STREAM_EVENTS_SQL: &str = include_str!("import/stream_events.sql");
const STREAM_HEADS_SQL: &str = include_str!("import/stream_heads.sql");
const ACTOR_EVENTS_SQL: &str = include_str!("import/actor_events.sql");
const DATASET_INCIDENTS_SQL: &str = include_str!("import/dataset_incidents.sql");
/// The import lock, held by an import's transaction from before it reads the log to its end.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtext('sitrep dataset import'))";

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dataset: Dataset,
    /// The author of every event (`recorded_by`).
    pub recorded_by: String,
    /// Import the valid rows when some are bad (rather than nothing).
    pub skip_invalid: bool,
    /// When the import began (reading the file included), for the summary's rates.
    pub started: Instant,
}

/// A file's rows as a reader gives them.
#[derive(Debug, Clone, Default)]
pub struct FileRows {
    /// Every row in file order: mapped, or why not.
    pub rows: Vec<Result<ImportedRow, RowError>>,
    /// The external references of rows the reader rejected, where the row still names one:
    /// such a row is in the file, so its incident is not taken as removed by the source.
    pub rejected_refs: Vec<ExternalRef>,
    /// Rows the reader rejected that name no incident (their id cell is empty or not an id):
    /// any incident of the dataset may be one of them, so none is taken as removed by the
    /// source while there are any (the retractions are withheld).
    pub unidentified_rejects: u64,
}

impl FileRows {
    /// A batch of a file's rows as read: the valid ones, then the rejected ones with their
    /// errors, and the references the rejected rows still name (their id column, at
    /// `id_index` of the header, when not empty).
    pub fn of_batch(dataset: Dataset, id_index: Option<usize>, batch: RowBatch) -> Self {
        let named: Vec<Option<ExternalRef>> = batch
            .rejected
            .iter()
            .map(|row| {
                let id = row.fields.get(id_index?)?.trim();
                ExternalRef::new(&format!("{}:{id}", dataset.name())).ok()
            })
            .collect();
        let unidentified_rejects = named.iter().filter(|r| r.is_none()).count() as u64;
        let rejected_refs = named.into_iter().flatten().collect();
        let mut rows: Vec<Result<ImportedRow, RowError>> = batch.rows.into_iter().map(Ok).collect();
        rows.extend(batch.rejected.into_iter().map(|row| Err(row.error)));
        Self {
            rows,
            rejected_refs,
            unidentified_rejects,
        }
    }
}

impl From<DatasetFile> for FileRows {
    /// The rows of a file as read (see [`FileRows::of_batch`]).
    fn from(file: DatasetFile) -> Self {
        let dataset = file.dataset;
        let id_index = file
            .header
            .iter()
            .position(|column| column == sync::id_column(dataset));
        let batch = RowBatch {
            rows: file.rows,
            rejected: file.rejected,
        };
        Self::of_batch(dataset, id_index, batch)
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    pub dataset: Dataset,
    /// The run's id: the correlation id of every event it appended.
    pub run: Uuid,
    /// Rows in the file.
    pub read: u64,
    pub new: u64,
    pub corrected: u64,
    /// Incidents of the dataset the file no longer has.
    pub retracted: u64,
    /// True when no incident was taken as removed by the source because a rejected row names
    /// no incident (it may be any of them): retractions wait for a file without such rows.
    pub retractions_withheld: bool,
    pub restored: u64,
    pub unchanged: u64,
    /// Rows whose incident an analyst retracted or merged.
    pub skipped: u64,
    /// Bad rows (imported without them only with `skip_invalid`).
    pub rejected: u64,
    pub actors_registered: u64,
    pub events_appended: u64,
    pub seconds: f64,
    /// The highest position appended (for read-your-writes waits), if anything was.
    pub last_position: Option<i64>,
}

impl ImportSummary {
    /// Rows read per second, over the whole import.
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.read as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "read               {}", self.read)?;
        writeln!(f, "new                {}", self.new)?;
        writeln!(f, "corrected          {}", self.corrected)?;
        if self.retractions_withheld {
            writeln!(
                f,
                "retracted          0 (withheld: a rejected row names no incident)"
            )?;
        } else {
            writeln!(f, "retracted          {}", self.retracted)?;
        }
        writeln!(f, "restored           {}", self.restored)?;
        writeln!(f, "unchanged          {}", self.unchanged)?;
        writeln!(f, "skipped            {}", self.skipped)?;
        writeln!(f, "rejected           {}", self.rejected)?;
        writeln!(f, "actors registered  {}", self.actors_registered)?;
        writeln!(f, "events appended    {}", self.events_appended)?;
        writeln!(
            f,
            "seconds            {:.2} ({:.0} rows/s)",
            self.seconds,
            self.rows_per_second()
        )?;
        write!(f, "run                {}", self.run)
    }
}

/// The summary and the rows left out (with `skip_invalid`), by line.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    pub summary: ImportSummary,
    pub rejected: Vec<RowError>,
}

/// Why an import appended nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad rows, without `skip_invalid`: all of them, by line.
    #[error("{} bad row(s); nothing was imported", .rows.len())]
    BadRows { rows: Vec<RowError> },
    /// Another writer changed a stream after the import read it.
    #[error(
        "stream {stream_id} changed while the import ran (another writer); nothing was imported: \
         run the import again"
    )]
    Conflict { stream_id: Uuid },
    /// A stream the file names holds something else than an incident.
    #[error("stream {stream_id}, which row {line} names, is a {actual} stream, not an incident")]
    NotAnIncident {
        stream_id: Uuid,
        line: u64,
        actual: String,
    },
    /// A stored event could not be read back into the model (a bug or a missing upcaster).
    #[error("stored {event_type} of stream {stream_id} cannot be read: {source}")]
    Unreadable {
        stream_id: Uuid,
        event_type: String,
        #[source]
        source: CodecError,
    },
    /// A decided event could not be encoded (a bug in the model).
    #[error("decided event cannot be stored: {0}")]
    Unencodable(#[source] CodecError),
    /// The file broke off (a broken quote, cut short, not UTF-8) after rows were read.
    #[error(transparent)]
    BadFile(FileError),
    /// The planning thread stopped (a bug: it panicked).
    #[error("the import stopped while planning: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

/// What an import is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Only checking rows (bad rows were found, nothing will be appended): `done` of `total`.
    Planning,
    /// Planning and appending: the events of `done` of `total` rows appended.
    Writing,
}

/// Told the stage, how much of it is done and of how much, as the import goes (from any
/// thread).
pub type Progress = Arc<dyn Fn(Stage, u64, u64) + Send + Sync>;

/// Imports the rows of `source` into the log by the sync's rules: all of it in one
/// transaction, or nothing. `progress` is told how far the planning and the writing are.
///
/// Three stages run at once: a thread reads the source (and digests its rows), this task loads
/// the state of the streams each chunk of rows names and appends the chunk before, and a thread
/// plans and encodes the chunk after (CPU work, off the async workers).
pub async fn run_import(
    store: &EventStore,
    options: &ImportOptions,
    source: impl Into<RowSource>,
    progress: Progress,
) -> Result<ImportOutcome, ImportError> {
    let RowSource {
        batches,
        expected_rows,
    } = source.into();
    let run = Uuid::now_v7();
    let (read_rows, mut chunks) = tokio::sync::mpsc::channel(READ_AHEAD);
    let dataset = options.dataset;
    let reader = tokio::task::spawn_blocking(move || read_source(dataset, batches, read_rows));

    // One import at a time: the import's transaction takes the import lock before it reads
    // the log, so a second import waits for the first to commit and then sees its actors and
    // incidents (two imports naming one new actor would otherwise both register it).
    let loading = Instant::now();
    let mut tx = store.pool().begin().await?;
    sqlx::query(LOCK_SQL).execute(&mut *tx).await?;
    let actors = load_actors(&mut tx).await?;

    let (to_planner, inbox) = tokio::sync::mpsc::channel::<ToPlanner>(1);
    let (outbox, mut planned) = tokio::sync::mpsc::channel::<Result<Planned, ImportError>>(1);
    let planning = PlanningRun {
        options: options.clone(),
        run,
        actors,
        progress: progress.clone(),
    };
    let planner = tokio::task::spawn_blocking(move || planning.plan(inbox, outbox));

    let mut writing = Writing {
        store,
        tx: &mut tx,
        planned: &mut planned,
        progress,
        expected_rows,
        file: FileSummary::default(),
        last_position: None,
    };
    let written = writing.run(&mut chunks, &to_planner, dataset).await;
    let Writing {
        file,
        last_position,
        ..
    } = writing;
    // Whatever happened, the other stages stop: their channels close.
    drop((to_planner, planned, chunks));
    let planner = planner.await;
    let reader = reader.await;
    written?;
    reader.map_err(|e| ImportError::Interrupted(e.to_string()))?;
    let (counts, bad) = planner.map_err(|e| ImportError::Interrupted(e.to_string()))?;
    if !bad.is_empty() && !options.skip_invalid {
        return Err(ImportError::BadRows { rows: bad });
    }
    tx.commit().await?;
    if last_position.is_some() {
        store.notify_appended();
    }
    tracing::debug!(
        events = counts.events,
        seconds = loading.elapsed().as_secs_f64(),
        "import: planned and appended"
    );

    let rejected_lines: HashSet<u64> = bad.iter().map(|e| e.line).collect();
    Ok(ImportOutcome {
        summary: ImportSummary {
            dataset: options.dataset,
            run,
            read: file.read,
            new: counts.new,
            corrected: counts.corrected,
            retracted: counts.retracted,
            retractions_withheld: file.unidentified_rejects > 0,
            restored: counts.restored,
            unchanged: counts.unchanged,
            skipped: counts.skipped,
            rejected: rejected_lines.len() as u64,
            actors_registered: counts.actors_registered,
            events_appended: counts.events,
            seconds: options.started.elapsed().as_secs_f64(),
            last_position,
        },
        rejected: bad,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Where an import's rows come from: a dataset file read as the import goes (its next rows read
/// while the ones before are written; [`RowSource::file`]), or rows read before (`From<FileRows>`).
pub struct RowSource {
    batches: Box<dyn Iterator<Item = Result<FileRows, FileError>> + Send>,
    /// How many rows the source holds, when known beforehand (for progress).
    expected_rows: Option<u64>,
}

impl RowSource {
    /// The rows of an opened dataset file, read a batch at a time on the import's reading thread.
    /// A file error (a broken quote, a file cut short) found after rows were written fails the
    /// import whole ([`ImportError::BadFile`]): nothing is kept.
    pub fn file<R: Read + Send + 'static>(rows: DatasetRows<R>) -> Self {
        let dataset = rows.dataset();
        let id_index = rows
            .header()
            .iter()
            .position(|column| column == sync::id_column(dataset));
        let mut rows = Some(rows);
        let batches = std::iter::from_fn(move || {
            let reading = rows.as_mut()?;
            let batch = reading.next_batch().transpose();
            if !matches!(batch, Some(Ok(_))) {
                // The end, or an error: nothing more is read.
                rows = None;
            }
            batch.map(|batch| batch.map(|batch| FileRows::of_batch(dataset, id_index, batch)))
        });
        Self {
            batches: Box::new(batches),
            expected_rows: None,
        }
    }

    /// Says how many rows the source holds (an estimate is fine: it only sizes the progress).
    pub fn with_expected_rows(mut self, rows: u64) -> Self {
        self.expected_rows = Some(rows);
        self
    }
}

impl From<FileRows> for RowSource {
    fn from(rows: FileRows) -> Self {
        Self {
            expected_rows: Some(rows.rows.len() as u64),
            batches: Box::new(std::iter::once(Ok(rows))),
        }
    }
}

/// How many batches the reading thread may read ahead of the import's task: more than a chunk's
/// worth (a file reader's batch is 2,048 rows), so that the next chunk is read while one is
/// appended rather than after.
const READ_AHEAD: usize = 8;

/// Rows of the source as the reading thread hands them on: the valid ones (each external
/// reference once in the file) with their digests, and what the bad ones say.
#[derive(Default)]
struct ReadRows {
    rows: Vec<ImportedRow>,
    digests: Vec<String>,
    bad: Vec<RowError>,
    /// References of rows the reader rejected that still name their incident.
    rejected_refs: Vec<ExternalRef>,
    unidentified_rejects: u64,
    /// Rows of the file these are (valid and bad).
    read: u64,
}

impl ReadRows {
    fn extend(&mut self, more: ReadRows) {
        self.rows.extend(more.rows);
        self.digests.extend(more.digests);
        self.bad.extend(more.bad);
        self.rejected_refs.extend(more.rejected_refs);
        self.unidentified_rejects += more.unidentified_rejects;
        self.read += more.read;
    }
}

/// The reading thread: every batch of `batches` sorted into valid and bad rows, a reference
/// repeated in the file rejected ("repeats line N"), the valid rows digested, and sent on to
/// `out` until it closes (the import stopped) or the source ends or fails.
fn read_source(
    dataset: Dataset,
    batches: Box<dyn Iterator<Item = Result<FileRows, FileError>> + Send>,
    out: tokio::sync::mpsc::Sender<Result<ReadRows, FileError>>,
) {
    let send = |read: Result<ReadRows, FileError>| {
        let failed = read.is_err();
        out.blocking_send(read).is_ok() && !failed
    };
    let finish = |mut read: ReadRows| {
        read.digests = sync::row_digests(&read.rows);
        read
    };
    let mut first_rows = FirstRows::default();
    for batch in batches {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                send(Err(error));
                return;
            }
        };
        let mut read = ReadRows {
            rejected_refs: batch.rejected_refs,
            unidentified_rejects: batch.unidentified_rejects,
            ..ReadRows::default()
        };
        for row in batch.rows {
            read.read += 1;
            match row.and_then(|row| first_rows.admit(dataset, row)) {
                Ok(row) => read.rows.push(row),
                Err(error) => read.bad.push(error),
            }
            // Rows given whole are handed on a chunk at a time all the same.
            if read.rows.len() >= STREAMS_PER_APPEND && !send(Ok(finish(std::mem::take(&mut read))))
            {
                return;
            }
        }
        if !send(Ok(finish(read))) {
            return;
        }
    }
}

/// What the whole file said, beside its valid rows.
#[derive(Default)]
struct FileSummary {
    /// Rows read (valid and bad).
    read: u64,
    /// The streams of the rows the reader rejected that still name theirs.
    kept: HashSet<Uuid>,
    unidentified_rejects: u64,
}

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

/// What the planning thread is given.
enum ToPlanner {
    /// The next rows of the file, with the states of the streams they name.
    Rows {
        rows: Vec<ImportedRow>,
        digests: Vec<String>,
        streams: HashMap<Uuid, StreamState>,
        /// Bad rows of the file among these (the reader's and repeated references).
        bad: Vec<RowError>,
        /// Rows of the file read so far (these included), and how many there are in all (as
        /// far as known).
        rows_done: u64,
        rows_total: u64,
    },
    /// Every row was given: the retractions are planned.
    Finish {
        /// The dataset's incidents no row names, folded.
        others: HashMap<Uuid, StreamState>,
        kept: HashSet<Uuid>,
        retract: bool,
    },
}

/// What the planning thread gives back for each message: the chunk's appends, encoded (`None`
/// once bad rows stopped the writing), and the file's rows it covers.
struct Planned {
    appends: Option<Vec<StreamAppend>>,
    rows_done: u64,
}

/// The planning thread's part of an import.
struct PlanningRun {
    options: ImportOptions,
    run: Uuid,
    actors: ActorDirectory,
    progress: Progress,
}

impl PlanningRun {
    /// Plans each message of `inbox` and sends back one [`Planned`] for each, until the
    /// [`ToPlanner::Finish`] or the inbox closes; returns the counts and every bad row, by
    /// line. Bad rows (without `skip_invalid`) stop the writing: the rest is only planned, to
    /// list every bad row.
    fn plan(
        self,
        mut inbox: tokio::sync::mpsc::Receiver<ToPlanner>,
        outbox: tokio::sync::mpsc::Sender<Result<Planned, ImportError>>,
    ) -> (SyncCounts, Vec<RowError>) {
        let options = &self.options;
        let meta = RunMeta {
            dataset: options.dataset,
            run: self.run,
            recorded_by: &options.recorded_by,
        };
        let mut plans = Some(ChunkedPlan::new(options.dataset, self.run, self.actors));
        let mut bad: Vec<RowError> = Vec::new();
        let mut counts = SyncCounts::default();
        let mut rows_done = 0;
        let mut rows_total = 0;
        while let Some(message) = inbox.blocking_recv() {
            let (plan, last) = match message {
                ToPlanner::Rows {
                    rows,
                    digests,
                    streams,
                    bad: read_bad,
                    rows_done: done,
                    rows_total: total,
                } => {
                    let Some(planning) = plans.as_mut() else {
                        break;
                    };
                    bad.extend(read_bad);
                    (rows_done, rows_total) = (done, total);
                    (planning.rows(&rows, &digests, &streams), false)
                }
                ToPlanner::Finish {
                    others,
                    kept,
                    retract,
                } => {
                    let Some(planning) = plans.take() else {
                        break;
                    };
                    let (last, all) = planning.finish(&others, &kept, retract);
                    counts = all;
                    (last, true)
                }
            };
            bad.extend(plan.rejected.iter().cloned());
            let write = bad.is_empty() || options.skip_invalid;
            let planned = if write {
                encode_plan(&plan, &meta).map(|appends| Planned {
                    appends: Some(appends),
                    rows_done,
                })
            } else {
                // Only checking the rest now, to list every bad row.
                (self.progress)(Stage::Planning, rows_done, rows_total);
                Ok(Planned {
                    appends: None,
                    rows_done,
                })
            };
            let failed = planned.is_err();
            // The receiver gone (the import stopped), a failure or the end: no more planning.
            if outbox.blocking_send(planned).is_err() || failed || last {
                break;
            }
        }
        bad.sort_by_key(|e| e.line);
        (counts, bad)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// The import's own task: it loads what each chunk of rows needs from the log, hands the chunk
/// to the planner and appends the one before, on the import's transaction.
struct Writing<'a> {
    store: &'a EventStore,
    tx: &'a mut PgConnection,
    planned: &'a mut tokio::sync::mpsc::Receiver<Result<Planned, ImportError>>,
    progress: Progress,
    expected_rows: Option<u64>,
    /// What the file said so far, beside its valid rows.
    file: FileSummary,
    /// The highest position appended.
    last_position: Option<i64>,
}

impl Writing<'_> {
    /// Runs the import's chunks from `chunks` through the planner and into the log.
    async fn run(
        &mut self,
        chunks: &mut tokio::sync::mpsc::Receiver<Result<ReadRows, FileError>>,
        to_planner: &tokio::sync::mpsc::Sender<ToPlanner>,
        dataset: Dataset,
    ) -> Result<(), ImportError> {
        let mut named_all: Vec<Uuid> = Vec::new();
        // Whether the planner holds a chunk whose plan is not appended yet.
        let mut pending = false;
        loop {
            let reading = Instant::now();
            let Some(chunk) = next_chunk(chunks).await? else {
                break;
            };
            let read_wait = reading.elapsed();
            let file = &mut self.file;
            file.read += chunk.read;
            file.kept
                .extend(chunk.rejected_refs.iter().map(incident_id_for));
            file.unidentified_rejects += chunk.unidentified_rejects;
            let named: Vec<Uuid> = chunk
                .rows
                .iter()
                .map(|r| incident_id_for(&r.external_ref))
                .collect();
            let loading = Instant::now();
            let streams =
                load_named_streams(&mut *self.tx, &chunk.rows, &named, &chunk.digests).await?;
            tracing::debug!(
                rows = chunk.rows.len(),
                waited = read_wait.as_secs_f64(),
                loaded = loading.elapsed().as_secs_f64(),
                "import: a chunk read and its streams loaded"
            );
            named_all.extend(named);
            let message = ToPlanner::Rows {
                rows: chunk.rows,
                digests: chunk.digests,
                streams,
                bad: chunk.bad,
                rows_done: self.file.read,
                rows_total: self.rows_total(),
            };
            self.send(to_planner, message).await?;
            if pending {
                self.append_next().await?;
            }
            pending = true;
        }
        let file = &mut self.file;
        let retract = file.unidentified_rejects == 0;
        if !retract {
            tracing::warn!(
                rows = file.unidentified_rejects,
                "rejected rows name no incident: no incident is taken as removed by the source"
            );
        }
        let kept = std::mem::take(&mut file.kept);
        let others = load_dataset_incidents(&mut *self.tx, dataset, &named_all).await?;
        let message = ToPlanner::Finish {
            others,
            kept,
            retract,
        };
        self.send(to_planner, message).await?;
        if pending {
            self.append_next().await?;
        }
        self.append_next().await
    }

    /// The rows of the file, as far as known: the rows expected, or the rows read if more.
    fn rows_total(&self) -> u64 {
        self.expected_rows.unwrap_or(0).max(self.file.read)
    }

    /// Hands `message` to the planner; when the planner has stopped, the failure that stopped
    /// it.
    async fn send(
        &mut self,
        to_planner: &tokio::sync::mpsc::Sender<ToPlanner>,
        message: ToPlanner,
    ) -> Result<(), ImportError> {
        if to_planner.send(message).await.is_ok() {
            return Ok(());
        }
        while let Some(planned) = self.planned.recv().await {
            planned?;
        }
        Err(ImportError::Interrupted("the planner stopped".into()))
    }

    /// Appends the next chunk the planner gives back (nothing once bad rows stopped the
    /// writing).
    async fn append_next(&mut self) -> Result<(), ImportError> {
        let waiting = Instant::now();
        let planned = match self.planned.recv().await {
            Some(planned) => planned?,
            None => return Err(ImportError::Interrupted("the planner stopped".into())),
        };
        let waited = waiting.elapsed();
        let Some(appends) = planned.appends else {
            return Ok(());
        };
        let appending = Instant::now();
        let position = append_all(self.store, &mut *self.tx, &appends).await?;
        self.last_position = self.last_position.max(position);
        (self.progress)(Stage::Writing, planned.rows_done, self.rows_total());
        tracing::debug!(
            rows_done = planned.rows_done,
            waited = waited.as_secs_f64(),
            appended = appending.elapsed().as_secs_f64(),
            "import: a chunk appended"
        );
        Ok(())
    }
}

/// The next chunk of rows from the reading thread: at least [`STREAMS_PER_APPEND`] valid rows,
/// or what is left at the end; `None` once everything was read.
async fn next_chunk(
    chunks: &mut tokio::sync::mpsc::Receiver<Result<ReadRows, FileError>>,
) -> Result<Option<ReadRows>, ImportError> {
    let mut chunk: Option<ReadRows> = None;
    while chunk
        .as_ref()
        .is_none_or(|c| c.rows.len() < STREAMS_PER_APPEND)
    {
        match chunks.recv().await {
            Some(read) => {
                let read = read.map_err(ImportError::BadFile)?;
                match chunk.as_mut() {
                    Some(chunk) => chunk.extend(read),
                    None => chunk = Some(read),
                }
            }
            None => break,
        }
    }
    Ok(chunk)
}

// ---------------------------------------------------------------------------------------------
// Appending
// ---------------------------------------------------------------------------------------------

/// Appends every stream's events inside the transaction `conn`, each at its expected version,
/// with the store's bulk append (one `COPY`); the highest position written. The one place that
/// knows how a batch is appended.
async fn append_all(
    store: &EventStore,
    conn: &mut PgConnection,
    appends: &[StreamAppend],
) -> Result<Option<i64>, ImportError> {
    if appends.is_empty() {
        return Ok(None);
    }
    let result = store
        .append_batch_in(conn, appends)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { stream_id, .. } => ImportError::Conflict { stream_id },
            other => ImportError::Store(other),
        })?;
    Ok(result.positions.iter().copied().max())
}

/// How many rows are planned, encoded and appended at a time: the events of a chunk are
/// planned and encoded while the one before it is written, and a chunk's events are freed
/// before the next (the whole file's at once would take gigabytes for a large file).
const STREAMS_PER_APPEND: usize = 8192;

/// Every stream of `plan` (its registrations, then its changes) as the store's appends.
fn encode_plan(plan: &SyncPlan, meta: &RunMeta<'_>) -> Result<Vec<StreamAppend>, ImportError> {
    (0..plan.registrations.len() + plan.changes.len())
        .map(|i| stream_append(plan, i, meta))
        .collect()
}

/// The `i`-th stream of `plan` (its registrations, then its changes) as the store's append.
fn stream_append(
    plan: &SyncPlan,
    i: usize,
    meta: &RunMeta<'_>,
) -> Result<StreamAppend, ImportError> {
    if let Some(registration) = plan.registrations.get(i) {
        return Ok(StreamAppend {
            stream: StreamRef::new(Actor::STREAM_TYPE, registration.actor),
            expected: ExpectedVersion::NoStream,
            events: vec![meta.new_event(&registration.event, Some(&registration.row))?],
        });
    }
    let Some(change) = plan.changes.get(i - plan.registrations.len()) else {
        return Err(ImportError::Interrupted(format!(
            "no stream {i} in the plan"
        )));
    };
    let events = change
        .events
        .iter()
        .map(|event| meta.new_event(event, change.row.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StreamAppend {
        stream: StreamRef::new(Incident::STREAM_TYPE, change.incident),
        expected: match change.expected_version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v),
        },
        events,
    })
}

/// What every event of a run carries.
struct RunMeta<'a> {
    dataset: Dataset,
    run: Uuid,
    recorded_by: &'a str,
}

impl RunMeta<'_> {
    /// The store's form of a decided event, as the command handler makes it, with the run's
    /// metadata and correlation.
    fn new_event<E: DomainEvent>(
        &self,
        event: &E,
        row: Option<&str>,
    ) -> Result<NewEvent, ImportError> {
        let encoded = encode_canonical(event).map_err(ImportError::Unencodable)?;
        let mut new = NewEvent::new(encoded.event_type, encoded.payload, self.recorded_by);
        new.schema_version = encoded.schema_version;
        new.valid_time = event.valid_time().map(valid_time_of);
        new.reason = event.reason().map(str::to_owned);
        new.correlation_id = Some(self.run);
        new.metadata = import_metadata(self.dataset, row, self.run)
            .map_err(|e| ImportError::Unencodable(CodecError::Serialize(e)))?;
        Ok(new)
    }
}

/// `{"import": {"dataset": ..., "row": ..., "run": ...}}`, without `row` when there is none,
/// written straight to the store's canonical form (no tree built and freed per event).
pub fn import_metadata(
    dataset: Dataset,
    row: Option<&str>,
    run: Uuid,
) -> Result<CanonicalJson, serde_json::Error> {
    #[derive(Serialize)]
    struct Metadata<'a> {
        import: Import<'a>,
    }
    // Fields in key order, as the canonical form has them.
    #[derive(Serialize)]
    struct Import<'a> {
        dataset: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        row: Option<&'a str>,
        run: Uuid,
    }
    let metadata = Metadata {
        import: Import {
            dataset: dataset.name(),
            row,
            run,
        },
    };
    CanonicalJson::of(&metadata)
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The registered actors, folded from their streams.
async fn load_actors(conn: &mut PgConnection) -> Result<ActorDirectory, ImportError> {
    let mut rows = sqlx::query_as::<_, (Uuid, String, i32, String)>(ACTOR_EVENTS_SQL).fetch(conn);
    let mut actors: Vec<(Uuid, Actor)> = Vec::new();
    while let Some((stream_id, event_type, schema_version, payload)) = rows.try_next().await? {
        let event: ActorEvent =
            decode_text(&event_type, schema_version, &payload).map_err(|source| {
                ImportError::Unreadable {
                    stream_id,
                    event_type: event_type.clone(),
                    source,
                }
            })?;
        match actors.last_mut() {
            Some((id, actor)) if *id == stream_id => actor.apply(&event),
            _ => actors.push((stream_id, Actor::fold([&event]))),
        }
    }
    Ok(ActorDirectory::of(actors.iter().map(|(id, a)| (*id, a))))
}

/// An incident stream as loaded, with its type.
struct Loaded {
    stream_type: String,
    state: StreamState,
}

/// The row of [`STREAM_EVENTS_SQL`].
#[derive(sqlx::FromRow)]
struct EventRow {
    stream_id: Uuid,
    stream_type: String,
    stream_version: i64,
    event_type: String,
    schema_version: i32,
    payload: String,
    metadata: String,
}

/// The streams `ids` that exist, folded (in one query). A stream of another type is returned
/// unfolded, for the caller to refuse.
async fn load_incidents(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Loaded>, ImportError> {
    let mut streams: HashMap<Uuid, Loaded> = HashMap::new();
    if ids.is_empty() {
        return Ok(streams);
    }
    let mut rows = sqlx::query_as::<_, EventRow>(STREAM_EVENTS_SQL)
        .bind(ids)
        .fetch(conn);
    // Rows come stream by stream: fold into the current one, then store it.
    let mut current: Option<(Uuid, Loaded)> = None;
    while let Some(row) = rows.try_next().await? {
        if current.as_ref().is_none_or(|(id, _)| *id != row.stream_id) {
            if let Some((id, loaded)) = current.take() {
                streams.insert(id, loaded);
            }
            current = Some((
                row.stream_id,
                Loaded {
                    stream_type: row.stream_type.clone(),
                    state: StreamState::default(),
                },
            ));
        }
        let Some((_, loaded)) = current.as_mut() else {
            continue;
        };
        loaded.state.version = row.stream_version.unsigned_abs();
        if loaded.stream_type != Incident::STREAM_TYPE {
            continue;
        }
        let event: IncidentEvent = decode_text(&row.event_type, row.schema_version, &row.payload)
            .map_err(|source| ImportError::Unreadable {
            stream_id: row.stream_id,
            event_type: row.event_type.clone(),
            source,
        })?;
        loaded.state.incident.apply(&event);
        if let Some(import) = import_of(&row.metadata) {
            loaded.state.last_import_row = import.row;
        }
    }
    if let Some((id, loaded)) = current {
        streams.insert(id, loaded);
    }
    Ok(streams)
}

/// A stream's head: its type, its version and the digest of its last import event.
struct Head {
    stream_type: String,
    version: u64,
    last_import_row: Option<String>,
}

/// The states of the streams the rows name (`named[i]` is `rows[i]`'s), in two statements:
/// every stream's head from the metadata alone, then the events of only the streams whose last
/// import digest is not their row's (the rows that changed), folded. A stream whose row is
/// unchanged keeps an empty incident, which the plan does not look at. A row naming a stream
/// that is not an incident's refuses the import.
async fn load_named_streams(
    conn: &mut PgConnection,
    rows: &[ImportedRow],
    named: &[Uuid],
    digests: &[String],
) -> Result<HashMap<Uuid, StreamState>, ImportError> {
    let heads = load_heads(&mut *conn, named).await?;
    let mut changed = Vec::new();
    for ((row, id), digest) in rows.iter().zip(named).zip(digests) {
        let Some(head) = heads.get(id) else { continue };
        if head.stream_type != Incident::STREAM_TYPE {
            return Err(ImportError::NotAnIncident {
                stream_id: *id,
                line: row.line,
                actual: head.stream_type.clone(),
            });
        }
        if head.last_import_row.as_deref() != Some(digest.as_str()) {
            changed.push(*id);
        }
    }
    let mut folded = load_incidents(conn, &changed).await?;
    Ok(heads
        .into_iter()
        .map(|(id, head)| {
            let state = match folded.remove(&id) {
                Some(loaded) => loaded.state,
                None => StreamState {
                    incident: Incident::default(),
                    version: head.version,
                    last_import_row: head.last_import_row,
                },
            };
            (id, state)
        })
        .collect())
}

/// The heads of the streams `ids` that exist (their metadata read, not their payloads).
async fn load_heads(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Head>, ImportError> {
    let mut heads: HashMap<Uuid, Head> = HashMap::new();
    if ids.is_empty() {
        return Ok(heads);
    }
    let mut rows = sqlx::query_as::<_, (Uuid, String, i64, String)>(STREAM_HEADS_SQL)
        .bind(ids)
        .fetch(conn);
    while let Some((stream_id, stream_type, version, metadata)) = rows.try_next().await? {
        let head = heads.entry(stream_id).or_insert_with(|| Head {
            stream_type,
            version: 0,
            last_import_row: None,
        });
        head.version = head.version.max(version.unsigned_abs());
        if let Some(import) = import_of(&metadata) {
            head.last_import_row = import.row;
        }
    }
    Ok(heads)
}

/// The incidents an import of `dataset` created, other than `named`, folded.
async fn load_dataset_incidents(
    conn: &mut PgConnection,
    dataset: Dataset,
    named: &[Uuid],
) -> Result<HashMap<Uuid, StreamState>, ImportError> {
    let all: Vec<Uuid> = sqlx::query_scalar(DATASET_INCIDENTS_SQL)
        .bind(dataset.name())
        .fetch_all(&mut *conn)
        .await?;
    let named: HashSet<&Uuid> = named.iter().collect();
    let others: Vec<Uuid> = all.into_iter().filter(|id| !named.contains(id)).collect();
    Ok(load_incidents(conn, &others)
        .await?
        .into_iter()
        .filter(|(_, loaded)| loaded.stream_type == Incident::STREAM_TYPE)
        .map(|(id, loaded)| (id, loaded.state))
        .collect())
}

/// The `import` entry of an event's metadata.
#[derive(Deserialize)]
struct ImportEntry {
    #[serde(default)]
    row: Option<String>,
}

/// The `import` entry of the metadata text `metadata`, if it has one.
fn import_of(metadata: &str) -> Option<ImportEntry> {
    #[derive(Deserialize)]
    struct Metadata {
        import: Option<ImportEntry>,
    }
    // Most events of a log are not an import's: no parse for them.
    if !metadata.contains("\"import\"") {
        return None;
    }
    serde_json::from_str::<Metadata>(metadata).ok()?.import
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejected_rows_name_their_incident_when_their_id_cell_can_be_read() {
        let rejected = |line: u64, id: &str| crate::dataset_file::RejectedRow {
            line,
            fields: vec![id.to_owned(), "x".to_owned()],
            error: RowError {
                line,
                column: "latitude".into(),
                rule: "must be a number".into(),
            },
        };
        let file = DatasetFile {
            dataset: Dataset::Acled,
            header: vec!["event_id_cnty".into(), "latitude".into()],
            rows: Vec::new(),
            rejected: vec![rejected(2, "ARG7"), rejected(3, " "), rejected(4, "ARG 9!")],
            unmapped_columns: Vec::new(),
        };
        let rows = FileRows::from(file);
        assert_eq!(rows.rows.len(), 3);
        assert_eq!(
            rows.rejected_refs,
            vec![ExternalRef::new("acled:ARG7").expect("ref")]
        );
        assert_eq!(rows.unidentified_rejects, 2);
    }

    #[test]
    fn the_metadata_names_the_dataset_the_row_and_the_run() {
        let run = Uuid::from_u128(5);
        assert_eq!(
            import_metadata(Dataset::Acled, Some("ab12"), run).expect("metadata"),
            CanonicalJson::from(
                json!({ "import": { "dataset": "acled", "row": "ab12", "run": run } })
            )
        );
        assert_eq!(
            import_metadata(Dataset::Ucdp, None, run).expect("metadata"),
            CanonicalJson::from(json!({ "import": { "dataset": "ucdp", "run": run } }))
        );
        let text = import_metadata(Dataset::Acled, Some("ab12"), run)
            .expect("metadata")
            .to_string();
        assert_eq!(
            import_of(&text).and_then(|i| i.row).as_deref(),
            Some("ab12")
        );
        let retraction = import_metadata(Dataset::Acled, None, run)
            .expect("metadata")
            .to_string();
        assert!(import_of(&retraction).is_some_and(|i| i.row.is_none()));
        assert!(import_of(r#"{"source":"demo"}"#).is_none());
    }
}
