//! `importIncidents`: an ACLED or UCDP GED export uploaded (a GraphQL multipart request, see
//! [`crate::graphql_http`]) and synced into the log by the same rules as `sitrep import`
//! (the interchange crate reads, plans and appends): all of it in one transaction, or nothing.
//!
//! Recorders and admins only; the events are recorded by the token's name. A file that cannot
//! be read, or bad rows without `skipInvalid`, is a `BAD_USER_INPUT` error that lists the rows
//! (the first [`MAX_LISTED_ROWS`], with `rejectedTotal`); another writer changing a stream
//! meanwhile is `CONFLICT` (retry). With `skipInvalid` the valid rows are imported and the
//! payload lists the rejected ones.

use std::time::Instant;

use async_graphql::{Context, Enum, Object, SimpleObject, Upload};
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, ImportError, ImportOptions, RowSource};
use sitrep_interchange::record::{Dataset, RowError};
use sitrep_projections::status::wait_until_applied_woken;
use uuid::Uuid;

use crate::auth::{Caller, OperationClass};
use crate::commands::api_context;
use crate::error::{ApiError, MAX_LISTED_ROWS};

/// A dataset `importIncidents` reads.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportDataset {
    /// ACLED's standard export (CSV with ACLED's 31 columns).
    Acled,
    /// UCDP's Georeferenced Event Dataset (CSV, codebook 19.1 or later).
    Ucdp,
}

impl From<ImportDataset> for Dataset {
    fn from(dataset: ImportDataset) -> Self {
        match dataset {
            ImportDataset::Acled => Dataset::Acled,
            ImportDataset::Ucdp => Dataset::Ucdp,
        }
    }
}

/// A row of the file that was not imported: where, and by which rule.
#[derive(SimpleObject, Debug, Clone)]
pub struct RejectedRow {
    /// The line the row starts on (the header is line 1).
    pub line: i64,
    /// The column (or the incident field) the rule is about.
    pub column: String,
    /// The rule the row breaks.
    pub rule: String,
}

impl From<&RowError> for RejectedRow {
    fn from(error: &RowError) -> Self {
        Self {
            line: i64::try_from(error.line).unwrap_or(i64::MAX),
            column: error.column.clone(),
            rule: error.rule.clone(),
        }
    }
}

/// What an import did.
#[derive(SimpleObject, Debug, Clone)]
pub struct ImportIncidentsPayload {
    /// The import run: the correlation id of every event it appended.
    pub run_id: Uuid,
    /// Rows in the file.
    pub read: i64,
    /// Rows that became new incidents.
    pub new: i64,
    /// Rows whose incident was corrected ("source revision").
    pub corrected: i64,
    /// Incidents of the dataset in the file's countries and dates that the file no longer
    /// has, retracted ("removed by source").
    pub retracted: i64,
    /// True when nothing was retracted because a rejected row names no incident (its id cell
    /// is empty or unreadable, so it may be any incident): retractions wait for a file
    /// without such rows.
    pub retractions_withheld: bool,
    /// Rows back after the source had removed them: their incident restored.
    pub restored: i64,
    /// Rows already imported as they are now: nothing appended.
    pub unchanged: i64,
    /// Rows whose incident an analyst retracted or merged: left alone.
    pub skipped: i64,
    /// Bad rows, not imported (`rejectedRows` lists them).
    pub rejected: i64,
    /// Actors named for the first time, registered.
    pub actors_registered: i64,
    /// Events appended in all.
    pub events_appended: i64,
    /// How long the import took, reading the upload included.
    pub seconds: f64,
    /// Rows read per second.
    pub rows_per_second: f64,
    /// The rejected rows in file order, at most 50 (`rejected` counts them all).
    pub rejected_rows: Vec<RejectedRow>,
    /// True when the read models had applied the import before the answer.
    pub caught_up: bool,
}

/// The import mutation.
#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports an ACLED or UCDP GED export, uploaded as a GraphQL multipart request (at most
    /// 100 MiB), and keeps the dataset in sync: new rows become incidents, changed rows
    /// corrections ("source revision"), rows gone from the file's countries and dates
    /// retractions ("removed by source"), unchanged rows nothing. All in one transaction, or
    /// nothing. A file that cannot be read, or bad rows without `skipInvalid`, is
    /// `BAD_USER_INPUT` listing the rows (`rejectedRows`, `rejectedTotal`); another writer
    /// changing an incident meanwhile is `CONFLICT` (run it again). Recorders and admins.
    async fn import_incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dataset the file is an export of.")] dataset: ImportDataset,
        #[graphql(desc = "The CSV file (UTF-8), as the dataset exports it.")] file: Upload,
        #[graphql(
            default = false,
            desc = "Import the valid rows when some are bad (they are listed in `rejectedRows`)."
        )]
        skip_invalid: bool,
    ) -> async_graphql::Result<ImportIncidentsPayload> {
        Ok(import_incidents(ctx, dataset.into(), file, skip_invalid).await?)
    }
}

async fn import_incidents(
    ctx: &Context<'_>,
    dataset: Dataset,
    file: Upload,
    skip_invalid: bool,
) -> Result<ImportIncidentsPayload, ApiError> {
    let started = Instant::now();
    let api = api_context(ctx)?;
    let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
    // Checked before the operation ran too (`AccessControl`); checked here again because this
    // is where changes are recorded, with the caller's token's name as the author.
    api.access.authorize(caller, OperationClass::Record)?;
    let upload = file.value(ctx).map_err(ApiError::internal)?;
    // The header is checked here; the rows are read as the import writes the ones before.
    let opened = tokio::task::spawn_blocking(move || {
        dataset_file::open(dataset, std::io::BufReader::new(upload.content))
    })
    .await
    .map_err(ApiError::internal)?;
    let rows = RowSource::file(opened.map_err(|error| ApiError::BadFile {
        rule: error.to_string(),
        rows: Vec::new(),
        total: 0,
    })?);
    let options = ImportOptions {
        dataset,
        recorded_by: caller.name().to_owned(),
        skip_invalid,
        started,
    };
    let outcome = run_import(
        &api.store,
        &options,
        rows,
        std::sync::Arc::new(|_, _, _| {}),
    )
    .await
    .map_err(api_error)?;
    let summary = &outcome.summary;
    api.metrics.appended(
        "actor",
        usize::try_from(summary.actors_registered).unwrap_or(usize::MAX),
    );
    api.metrics.appended(
        "incident",
        usize::try_from(summary.events_appended - summary.actors_registered).unwrap_or(usize::MAX),
    );
    let caught_up = match summary.last_position {
        None => true,
        Some(position) => {
            let checkpoints = api.checkpoint_watch();
            wait_until_applied_woken(
                api.store.pool(),
                &[position],
                api.read_your_writes,
                Some(&checkpoints),
                Some(&api.projections_reading("incident")),
            )
            .await
            .is_ok()
        }
    };
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(ImportIncidentsPayload {
        run_id: summary.run,
        read: count(summary.read),
        new: count(summary.new),
        corrected: count(summary.corrected),
        retracted: count(summary.retracted),
        retractions_withheld: summary.retractions_withheld,
        restored: count(summary.restored),
        unchanged: count(summary.unchanged),
        skipped: count(summary.skipped),
        rejected: count(summary.rejected),
        actors_registered: count(summary.actors_registered),
        events_appended: count(summary.events_appended),
        seconds: summary.seconds,
        rows_per_second: summary.rows_per_second(),
        rejected_rows: outcome
            .rejected
            .iter()
            .take(MAX_LISTED_ROWS)
            .map(RejectedRow::from)
            .collect(),
        caught_up,
    })
}

/// An import's refusal as the API reports it.
fn api_error(error: ImportError) -> ApiError {
    match error {
        ImportError::BadRows { rows } => ApiError::BadFile {
            rule: format!(
                "{} bad row(s); nothing was imported (skipInvalid imports the valid rows)",
                rows.len()
            ),
            total: rows.len(),
            rows: rows
                .into_iter()
                .take(MAX_LISTED_ROWS)
                .map(|r| (r.line, r.column, r.rule))
                .collect(),
        },
        error @ ImportError::Conflict { .. } => ApiError::ConcurrentChange(error.to_string()),
        ImportError::BadFile(error) => ApiError::BadFile {
            rule: error.to_string(),
            rows: Vec::new(),
            total: 0,
        },
        error @ ImportError::NotAnIncident { .. } => ApiError::BadFile {
            rule: error.to_string(),
            rows: Vec::new(),
            total: 0,
        },
        error @ (ImportError::Unreadable { .. }
        | ImportError::Unencodable(_)
        | ImportError::Interrupted(_)
        | ImportError::Store(_)) => ApiError::internal(error),
    }
}
