//! `sitrep-bench`: measures the event store beside raw PostgreSQL doing the same work, in one run
//! on one database, and prints a Markdown table for BENCHMARKS.md.
//!
//! Run: `cargo run --release -p sitrep-bench -- [--seconds 10] [--feed-events 1000000]`
//! (uses `DATABASE_URL`, else the embedded test cluster).
//!
//! - [`workload`]: the event store's scenarios: single appends, batches, the feed read;
//! - [`projections`]: the read models' scenarios: rebuild, dashboard queries, lag;
//! - [`api`]: the API's scenarios over HTTP against a `sitrep serve` of its own;
//! - [`audit`]: the audit's scenarios: statistics as of a past time, folding a stream, verify;
//! - [`bulk`]: the importers' write: many new streams in one transaction (`append_batch_in`);
//! - [`import`]: the dataset imports end to end, on the ACLED-shaped SIGACTS file ([`sigacts`])
//!   and UCDP's Syria file;
//! - [`raw`]: the baseline: the same rows through plain SQL, no store;
//! - [`measure`]: running clients for a fixed time and counting what they did.

/// mimalloc rather than the system allocator: projecting pages allocates and frees many small
/// values, which glibc's allocator spent about half the projector's time on (measured with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod api;
mod audit;
mod bulk;
mod import;
mod measure;
mod projections;
mod raw;
mod sigacts;
mod workload;

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

#[derive(Debug, Parser)]
#[command(about = "Benchmark sitrep's event store against raw PostgreSQL")]
struct Args {
    /// Seconds each write scenario runs (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Events in the log for the feed read.
    #[arg(long, default_value_t = 1_000_000)]
    feed_events: u64,
    /// Client counts for single-event appends.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    clients: Vec<usize>,
    /// Client counts for batch appends.
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    batch_clients: Vec<usize>,
    /// Only these scenarios (single, batch, feed, rebuild, queries, lag, api_writes,
    /// api_queries, as_of, state_at, verify, bulk_append, import_acled, import_ucdp); all when
    /// empty.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Incident events in the log for the projections' scenarios.
    #[arg(long, default_value_t = 1_000_000)]
    projection_events: u64,
    /// Concurrent writers while the projection lag is sampled.
    #[arg(long, default_value_t = 16)]
    lag_writers: usize,
    /// Runs of each dashboard query.
    #[arg(long, default_value_t = 200)]
    query_repeats: u32,
    /// Events in the hash-linked log that `verify` checks.
    #[arg(long, default_value_t = 1_000_000)]
    verify_events: u64,
    /// New streams (one event each) in the bulk append's transaction: an ACLED-sized file.
    #[arg(long, default_value_t = 162_852)]
    bulk_streams: u64,
    /// The folder of real conflict data (`../shared/data`) the import scenarios read.
    #[arg(long, env = "SITREP_SHARED_DATA")]
    shared_data: Option<std::path::PathBuf>,
    /// The `sitrep` binary the API scenarios start (default: beside this one).
    #[arg(long)]
    sitrep_bin: Option<std::path::PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The library crates' own logs (a rebuild's phases, say), when SITREP_LOG asks for them.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SITREP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let server = sitrep_testkit::server_options().await;
    let name = format!("sitrep_bench_{}", std::process::id());
    let mut admin = PgConnection::connect_with(&server)
        .await
        .context("connect to PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(40)
        .connect_with(server.clone().database(&name))
        .await?;
    sitrep_domain::MIGRATOR.run(&pool).await?;
    raw::create_tables(&pool).await?;

    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&pool)
        .await?;
    let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&pool)
        .await?;
    println!(
        "# sitrep-bench, {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("server: {version}; synchronous_commit = {sync}");
    println!(
        "payload: {} bytes of JSON",
        workload::payload(0).to_string().len()
    );

    let run = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let duration = Duration::from_secs(args.seconds);
    if run("single") || run("batch") || run("feed") {
        println!();
        println!("{}", measure::TABLE_HEADER);
    }
    if run("single") {
        for &clients in &args.clients {
            workload::single_new_streams(&pool, clients, duration)
                .await?
                .print();
            workload::single_existing_streams(&pool, clients, duration)
                .await?
                .print();
        }
    }
    if run("batch") {
        for &clients in &args.batch_clients {
            workload::batches(&pool, clients, duration).await?.print();
        }
    }
    if run("feed") {
        workload::feed_read(&pool, args.feed_events).await?.print();
    }

    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;

    // The audit's folds and verification, on a database of their own whose log is hash-linked
    // (the projections' fill writes placeholder hashes).
    if run("state_at") || run("verify") {
        let db = sitrep_testkit::TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 10).await;
        println!();
        println!("{}", projections::TABLE_HEADER);
        if run("state_at") {
            audit::fold_stream(&db.pool, args.query_repeats)
                .await?
                .print();
        }
        if run("verify") {
            audit::verify(&db.pool, args.verify_events).await?.print();
        }
    }

    // The importers' bulk write, on a database of its own (an empty log, as for a first import).
    if run("bulk_append") {
        let db = sitrep_testkit::TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 4).await;
        raw::create_tables(&db.pool).await?;
        println!();
        println!("{}", projections::TABLE_HEADER);
        bulk::bulk_append(&db.pool, args.bulk_streams)
            .await?
            .print();
    }

    // The dataset imports, each on a database of its own (an empty log, as for a first import).
    for (scenario, dataset) in [
        ("import_acled", sitrep_interchange::record::Dataset::Acled),
        ("import_ucdp", sitrep_interchange::record::Dataset::Ucdp),
    ] {
        if !run(scenario) {
            continue;
        }
        let Some(data) = args.shared_data.clone() else {
            println!("({scenario} skipped: give --shared-data or SITREP_SHARED_DATA)");
            continue;
        };
        let folder = std::env::temp_dir().join(format!("sitrep-bench-{}", std::process::id()));
        std::fs::create_dir_all(&folder)?;
        let path = match dataset {
            sitrep_interchange::record::Dataset::Acled => {
                let path = folder.join("sigacts_as_acled.csv");
                sigacts::write_acled_file(&data.join("sigacts/sigacts_iraq_2004-2007.csv"), &path)?;
                path
            }
            sitrep_interchange::record::Dataset::Ucdp => {
                data.join("ucdp/ucdp_ged_syria_2016-2019.csv")
            }
        };
        let db = sitrep_testkit::TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 8).await;
        raw::create_tables(&db.pool).await?;
        println!();
        println!("{}", projections::TABLE_HEADER);
        for figure in import::import(&db.pool, dataset, &path).await? {
            figure.print();
        }
        std::fs::remove_dir_all(&folder)?;
    }

    // The API's mutations, on a database of their own that only real domain events reach.
    if run("api_writes") {
        let bin = api::sitrep_bin(args.sitrep_bin.clone())?;
        let db = sitrep_testkit::TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 40).await;
        raw::create_tables(&db.pool).await?;
        raw::create_read_model(&db.pool).await?;
        println!();
        println!("{}", measure::TABLE_HEADER);
        let mut floors = Vec::new();
        for (waits, flags) in [
            (true, &[][..]),
            (false, &["--read-your-writes-ms", "0"][..]),
        ] {
            let server = api::ServerProcess::start(&bin, &db.url(), flags).await?;
            for &clients in &args.clients {
                let (comparison, floor) =
                    api::writes(&db.pool, &server, waits, clients, duration).await?;
                comparison.print();
                floors.extend(floor);
            }
            api::print_memory(&server, "after the mutations")?;
        }
        println!();
        println!("{}", api::ReportFloor::HEADER);
        for floor in &floors {
            floor.print();
        }
    }

    // The read models' scenarios, on a log of real incident events of their own.
    if run("rebuild") || run("queries") || run("lag") || run("api_queries") || run("as_of") {
        let name = format!("sitrep_bench_{}_projections", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(40)
            .connect_with(server.clone().database(&name))
            .await?;
        sitrep_domain::MIGRATOR.run(&pool).await?;
        println!();
        println!("{}", projections::TABLE_HEADER);
        projections::fill(&pool, args.projection_events).await?;
        for figure in projections::rebuild(&pool, args.projection_events).await? {
            figure.print();
        }
        if run("queries") {
            for figure in projections::queries(&pool, args.query_repeats).await? {
                figure.print();
            }
        }
        if run("as_of") {
            audit::stats_as_of(&pool, args.query_repeats).await?.print();
        }
        if run("api_queries") {
            let bin = api::sitrep_bin(args.sitrep_bin.clone())?;
            let url = sitrep_testkit::database_url(&name).await;
            let server = api::ServerProcess::start(&bin, &url, &[]).await?;
            for figure in api::queries(&pool, &server, args.query_repeats).await? {
                figure.print();
            }
            api::print_memory(&server, "after the queries")?;
        }
        if run("lag") {
            projections::lag(&pool, args.lag_writers, duration)
                .await?
                .print();
        }
        pool.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}
