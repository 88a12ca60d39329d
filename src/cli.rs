//! The command line: `sitrep serve`, `sitrep migrate`, `sitrep verify`, `sitrep schema`,
//! `sitrep demo`, `sitrep rebuild`, `sitrep replay`, `sitrep token`, `sitrep export events`,
//! `sitrep export incidents`, `sitrep import events`, `sitrep import acled`, `sitrep import ucdp`.
//! Every flag can also be set by the environment variable named in its help.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use sitrep_domain::model::values::CountryCode;
use sitrep_domain::model::vocab::EventType;
use sitrep_interchange::export::selection;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "sitrep",
    version,
    about = "An event-sourced conflict-incident tracker"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (GraphQL at /graphql, health at /healthz).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Check the event log's hash links and seals, whole or over a range of positions; exit
    /// code 2 when broken.
    Verify(VerifyArgs),
    /// Print the GraphQL schema (SDL), as checked in at schema.graphql.
    Schema,
    /// Load a small, true story from the January 2024 news through the domain's commands
    /// (migrating first); running it again appends nothing.
    Demo,
    /// Rebuild read models from the start of the event log beside the live ones, then switch
    /// to them (blue/green); prints each one's checksum.
    Rebuild(RebuildArgs),
    /// Build read models as known at a recorded time (only the events recorded until then) into
    /// schemas of their own, never live, and print each one's checksum.
    Replay(ReplayArgs),
    /// Issue, revoke and list the API's bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write data out of sitrep.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Load data into sitrep.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The first position to check (default: the start of the log). The event before each
    /// stream's first one in the range is still read to check the link to it.
    #[arg(long)]
    pub from: Option<i64>,
    /// The last position to check (default: the end of the log). Seals overlapping the range
    /// are checked over their whole run.
    #[arg(long)]
    pub to: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write the event log in feed order, one JSON object per event and line, with every
    /// column needed to reproduce it (seals are not exported: `import events` seals the copy).
    Events(ExportEventsArgs),
    /// Write the incidents a filter selects (active ones, now or as known at --as-of) as CSV,
    /// GeoJSON or ACLED's columns, oldest first, as the read models show them.
    Incidents(ExportIncidentsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ExportEventsArgs {
    /// Only events at this position or after it. An export that starts in the middle of
    /// streams cannot be imported into an empty database.
    #[arg(long)]
    pub from: Option<i64>,
    /// Only events at this position or before it (each stream's events up to there, so such
    /// an export can be imported).
    #[arg(long)]
    pub to: Option<i64>,
    /// The file format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write to this file (written beside it first, then renamed) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ExportIncidentsArgs {
    /// csv: one row per incident with sitrep's fields; geojson: a FeatureCollection, one
    /// feature per incident; acled: ACLED's 31 columns (imports back as the same incidents).
    #[arg(long, value_enum, default_value_t = IncidentFormat::Csv)]
    pub format: IncidentFormat,
    /// Only incidents in this country (ISO 3166 alpha-3, e.g. IRQ); repeat for several.
    #[arg(long = "country", value_name = "ISO3", value_parser = selection::parse_country)]
    pub countries: Vec<CountryCode>,
    /// Only incidents in this first-level division, spelled as recorded; repeat for several.
    #[arg(long, value_name = "NAME", value_parser = selection::parse_admin1)]
    pub admin1: Vec<String>,
    /// Only incidents of this ACLED event type ("Battles", "Explosions/Remote violence", or
    /// explosions_remote_violence); repeat for several.
    #[arg(long = "event-type", value_name = "TYPE", value_parser = selection::parse_event_type)]
    pub event_types: Vec<EventType>,
    /// Only incidents whose span of days ends on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = selection::parse_date)]
    pub from: Option<NaiveDate>,
    /// Only incidents whose span of days starts on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = selection::parse_date)]
    pub to: Option<NaiveDate>,
    /// Only incidents involving this actor (its id), in any role.
    #[arg(long, value_name = "UUID", value_parser = selection::parse_actor)]
    pub actor: Option<Uuid>,
    /// The incidents as known at this recorded time (RFC 3339: 2024-01-28T12:00:00Z).
    #[arg(long = "as-of", value_name = "T", value_parser = selection::parse_as_of)]
    pub as_of: Option<DateTime<Utc>>,
    /// Write to this file (written beside it first, then renamed) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// How exported incidents are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IncidentFormat {
    Csv,
    Geojson,
    Acled,
}

/// How exported events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines: one JSON object per event and line.
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load a file written by `sitrep export events` into an empty database (no events, no
    /// seals), checking every line (hash links, consecutive versions) in one transaction: a
    /// bad line fails the import with its number and loads nothing. Seals the copy afterwards.
    Events(ImportEventsArgs),
    /// Import an ACLED export (CSV with ACLED's standard columns) and keep it in sync: new rows
    /// become incidents, changed rows corrections ("source revision"), rows gone from the
    /// file's countries and dates retractions ("removed by source"), unchanged rows nothing.
    /// All in one transaction, or nothing.
    Acled(ImportDatasetArgs),
    /// Import a UCDP GED export (CSV, codebook 19.1 or later) the same way.
    Ucdp(ImportDatasetArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportDatasetArgs {
    /// The CSV file (UTF-8).
    pub file: PathBuf,
    /// Import the valid rows when some are bad, and write the bad ones to --rejected
    /// (without it, any bad row stops the import and nothing is imported).
    #[arg(long, env = "SITREP_IMPORT_SKIP_INVALID")]
    pub skip_invalid: bool,
    /// Where --skip-invalid writes the rejected rows: the file's header and each rejected row
    /// as it was, with two more columns, sitrep_line and sitrep_error. Default: FILE with
    /// `.rejected.csv` added.
    #[arg(long, env = "SITREP_IMPORT_REJECTED", value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    /// The author recorded on every event the import appends.
    #[arg(
        long,
        env = "SITREP_IMPORT_RECORDED_BY",
        default_value = "import",
        value_name = "NAME"
    )]
    pub recorded_by: String,
}

#[derive(Debug, Clone, Args)]
pub struct ImportEventsArgs {
    /// The file to load (`-`: stdin).
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it (it is shown this once; only its digest is stored).
    Issue {
        /// viewer (queries), recorder (viewer + mutations), auditor (viewer + audit queries)
        /// or admin (everything).
        #[arg(long, value_parser = ["viewer", "recorder", "auditor", "admin"])]
        role: String,
        /// Who holds it; recorded as the author of every event recorded with it.
        #[arg(long)]
        name: String,
    },
    /// Revoke the live token of this name; requests presenting it are refused from then on.
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// List every token issued (never the tokens themselves).
    List,
}

#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    /// The projection to rebuild (e.g. `incidents`); all of them when left out.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The recorded time to replay until (inclusive), RFC 3339 with an offset:
    /// 2024-01-28T12:00:00Z.
    #[arg(long, value_name = "T", value_parser = crate::replay::parse_until)]
    pub until: chrono::DateTime<chrono::Utc>,
    /// The projection to replay (e.g. `incidents`); all of them when left out.
    #[arg(long)]
    pub projection: Option<String>,
    /// Keep the replayed schemas (`rm_replay_<name>_<n>`) for querying; without it they are
    /// dropped once checksummed.
    #[arg(long)]
    pub keep: bool,
}

/// Which PostgreSQL sitrep uses.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL to use. Unset: sitrep runs its own embedded cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// sitrep's data folder (the embedded cluster lives in <data-dir>/postgres).
    /// Default: /var/lib/sitrep as root, else ~/.local/share/sitrep.
    #[arg(long, env = "SITREP_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Folder of the PostgreSQL server binaries (initdb, pg_ctl, postgres). Default: found on
    /// PATH or under /usr/lib/postgresql.
    #[arg(long, env = "SITREP_PG_BIN_DIR", global = true)]
    pub pg_bin_dir: Option<PathBuf>,
    /// Largest number of database connections.
    #[arg(
        long,
        env = "SITREP_DB_MAX_CONNECTIONS",
        default_value_t = 20,
        global = true
    )]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SITREP_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// Whether requests without a bearer token may run queries and subscriptions (they may
    /// never record).
    #[arg(
        long,
        env = "SITREP_ANONYMOUS_READS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub anonymous_reads: bool,
    /// Milliseconds a mutation waits for the read models to apply its events before it answers
    /// (read-your-writes); 0 answers at once, and `caughtUp` says whether they had.
    #[arg(long, env = "SITREP_READ_YOUR_WRITES_MS", default_value_t = 5_000)]
    pub read_your_writes_ms: u64,
    /// Seconds a GraphQL request may run before it is stopped.
    #[arg(long, env = "SITREP_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds an upload (an `importIncidents` of a file up to 100 MiB) may run before it is
    /// stopped: an import is one transaction, stopped whole.
    #[arg(long, env = "SITREP_UPLOAD_TIMEOUT", default_value_t = 900)]
    pub upload_timeout: u64,
    /// Seconds between seals of the event feed (tamper evidence); 0 turns sealing off.
    #[arg(long, env = "SITREP_SEAL_INTERVAL", default_value_t = 60)]
    pub seal_interval: u64,
}
