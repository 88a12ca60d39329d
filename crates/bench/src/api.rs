//! The API's scenarios, end to end over HTTP against a `sitrep serve` process of its own (the
//! release binary beside this one), each beside raw PostgreSQL in the same run:
//!
//! - `reportIncident` mutations by 1, 4 and 16 clients, each a POST that validates, appends,
//!   waits until the read models have applied the event (read-your-writes) and answers with the
//!   incident as the read model shows it; beside single-row commits of raw PostgreSQL (a table
//!   shaped and indexed like `events`, and one with a primary key only), and beside raw
//!   PostgreSQL writing and reading the rows such a request needs at the least (the event, the
//!   read model's row committed apart, the row read back; and both rows in one statement);
//! - the dashboards' queries over HTTP at the size of the projections' log (the first page of
//!   incidents, the weekly statistics of attacks on coalition bases), beside the same SQL run
//!   directly on the read model;
//! - the server's resident memory: the peak over the whole run (`VmHWM`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{json, Value};
use sitrep_api::auth::Role;
use sitrep_api::tokens;
use sitrep_projections::incident_queries::{
    incident_list, incident_stats, IncidentFilter, StatsDimension, TimeBucket,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::measure::{interleave_sides, side, Comparison, Measured};
use crate::projections::{time, Figure};
use crate::raw::{self, RawTable};
use crate::workload::{payload, raw_single};

/// A `sitrep serve` of the benchmark's own, killed on drop.
pub struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    /// Starts `bin serve` on the database at `url` and waits until it is healthy.
    pub async fn start(bin: &Path, url: &str, args: &[&str]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("DATABASE_URL", url)
            .env("SITREP_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err()
        {
            anyhow::ensure!(Instant::now() < deadline, "sitrep serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// The server's resident memory now and at its peak, in MiB (`VmRSS`, `VmHWM`).
    pub fn memory_mib(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc status"))?;
            let kib: f64 = line
                .split_whitespace()
                .nth(1)
                .context("a number")?
                .parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The `sitrep` binary: `--sitrep-bin`, else beside this benchmark's own binary.
pub fn sitrep_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let bin = match given {
        Some(bin) => bin,
        None => std::env::current_exe()?.with_file_name("sitrep"),
    };
    anyhow::ensure!(
        bin.exists(),
        "{} not found: build it first (cargo build --release --workspace)",
        bin.display()
    );
    Ok(bin)
}

const REPORT: &str = "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { \
     version caughtUp incident { id version fatalities { best } } } }";

/// The body of the `n`th report: a rocket attack on Ain al-Asad air base.
fn report_body(n: u64) -> String {
    json!({
        "query": REPORT,
        "variables": { "input": { "facts": {
            "time": { "start": "2024-01-20" },
            "place": { "country": "IRQ", "admin1": "Al Anbar", "location": "Ain al-Asad Air Base",
                       "coordinates": { "latitude": 33.7856, "longitude": 42.4412 },
                       "precision": "EXACT" },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "SHELLING_ARTILLERY_MISSILE_ATTACK",
            "targetCategory": "FOREIGN_MILITARY_BASE",
            "fatalities": { "best": 0 },
            "notes": format!("Report {n:>8}: rockets struck near the base; no casualties reported."),
        }}}
    })
    .to_string()
}

/// The body of the `n`th report with an event type GraphQL does not know: refused while its
/// variables are checked, before any resolver runs, so before any SQL.
fn refused_body(n: u64) -> String {
    report_body(n).replacen("\"EXPLOSIONS_REMOTE_VIOLENCE\"", "\"NOT_AN_EVENT_TYPE\"", 1)
}

/// POSTs `body` and checks that the answer is a refusal with code `code`.
async fn post_refused(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
    code: &str,
) -> anyhow::Result<()> {
    let (_, answer) = send(client, url, token, body).await?;
    anyhow::ensure!(
        answer["errors"][0]["extensions"]["code"] == code,
        "the server did not refuse with {code}: {answer}"
    );
    Ok(())
}

/// POSTs `body` and checks that the answer has no errors.
async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
) -> anyhow::Result<()> {
    let (status, answer) = send(client, url, token, body).await?;
    anyhow::ensure!(
        status.is_success() && answer.get("errors").is_none(),
        "the server answered {status}: {answer}"
    );
    Ok(())
}

/// POSTs `body` as JSON with the bearer `token`: the answer's status and its JSON.
async fn send(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .await?;
    let status = response.status();
    Ok((status, serde_json::from_str(&response.text().await?)?))
}

/// `reportIncident` over HTTP by `clients` clients, beside raw single-row commits; `waits`
/// says whether `server` waits for the read models (read-your-writes) before it answers. When
/// it waits, also beside raw PostgreSQL writing and reading the same rows ([`ReportFloor`]).
pub async fn writes(
    pool: &PgPool,
    server: &ServerProcess,
    waits: bool,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<(Comparison, Option<ReportFloor>)> {
    let token = tokens::issue(pool, &format!("bench {clients} {waits}"), Role::Recorder)
        .await?
        .secret;
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", server.base);
    let (front_http, front_url, front_token) = (http.clone(), url.clone(), token.clone());
    let sitrep = move |client: usize, n: u64| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            post(
                &http,
                &url,
                &token,
                report_body(client as u64 * 1_000_000 + n),
            )
            .await
        }
    };
    let mut sides = vec![
        side(sitrep),
        side(raw_single(pool, RawTable::Keyed, None)),
        side(raw_single(pool, RawTable::PrimaryKeyOnly, None)),
    ];
    if waits {
        let read_model_options = pool
            .connect_options()
            .as_ref()
            .clone()
            .options([("synchronous_commit", "off")]);
        let read_model = PgPoolOptions::new()
            .max_connections(u32::try_from(clients)?)
            .connect_with(read_model_options)
            .await?;
        let durable = pool.clone();
        sides.push(side(move |_, n| {
            let (durable, read_model) = (durable.clone(), read_model.clone());
            async move {
                let mut durable = durable.acquire().await?;
                let mut read_model = read_model.acquire().await?;
                raw::report_floor(&mut durable, &mut read_model, &payload(n)).await
            }
        }));
        let pool = pool.clone();
        sides.push(side(move |_, n| {
            let pool = pool.clone();
            async move { raw::report_inline(&mut *pool.acquire().await?, &payload(n)).await }
        }));
        sides.push(side(move |client, n| {
            let (http, url, token) = (front_http.clone(), front_url.clone(), front_token.clone());
            async move {
                let body = refused_body(client as u64 * 1_000_000 + n);
                post_refused(&http, &url, &token, body, "GRAPHQL_VALIDATION_FAILED").await
            }
        }));
    }
    let mut measured = interleave_sides(clients, duration, 1, &sides)
        .await?
        .into_iter();
    let mut next = || {
        measured
            .next()
            .context("a side of the comparison was not measured")
    };
    let (sitrep, keyed, bare) = (next()?, next()?, next()?);
    let floor = if waits {
        Some(ReportFloor {
            clients,
            sitrep: sitrep.clone(),
            keyed: keyed.clone(),
            floor: next()?,
            inline: next()?,
            front: next()?,
        })
    } else {
        None
    };
    let comparison = Comparison {
        scenario: if waits {
            "reportIncident over HTTP, answered once the read models show it".into()
        } else {
            "reportIncident over HTTP, answered once appended (--read-your-writes-ms 0)".into()
        },
        clients,
        unit: "requests",
        sitrep,
        keyed,
        bare,
    };
    Ok((comparison, floor))
}

/// A read-your-writes `reportIncident` beside raw PostgreSQL writing and reading the same rows,
/// with no HTTP, GraphQL or store in between (measured in turns with the other sides).
pub struct ReportFloor {
    pub clients: usize,
    /// `reportIncident` over HTTP, answered once the read models show it.
    pub sitrep: Measured,
    /// Raw single-row commits into a table shaped and indexed like `events` (the target's
    /// baseline).
    pub keyed: Measured,
    /// The event's row committed, the read model's row committed apart (without waiting for
    /// the disk), the row read back: three statements ([`raw::report_floor`]).
    pub floor: Measured,
    /// Both rows in one statement and one commit, returning the read model's row
    /// ([`raw::report_inline`]).
    pub inline: Measured,
    /// The same request over HTTP with an event type GraphQL refuses while checking its
    /// variables: the HTTP and GraphQL front alone (parsing, bearer token, validation, the
    /// answer), with no resolver and no SQL.
    pub front: Measured,
}

impl ReportFloor {
    pub const HEADER: &'static str = "| clients | sitrep, read-your-writes | raw single-row commit | raw: event, read-model row apart, read back (3 statements) | raw: both rows in one statement | HTTP and GraphQL front alone (refused before any resolver) | 3 statements / single-row commit | one statement behind the front, estimated / single-row commit | sitrep / 3 statements |\n|---|---|---|---|---|---|---|---|---|";

    pub fn print(&self) {
        let share = |a: f64, b: &Measured| 100.0 * a / b.per_second;
        println!(
            "| {} | {:.0}/s | {:.0}/s | {:.0}/s (p50 / p99 {}) | {:.0}/s | {:.0}/s | {:.0}% | {:.0}% | {:.0}% |",
            self.clients,
            self.sitrep.per_second,
            self.keyed.per_second,
            self.floor.per_second,
            self.floor.latencies(),
            self.inline.per_second,
            self.front.per_second,
            share(self.floor.per_second, &self.keyed),
            share(self.inline_behind_front(), &self.keyed),
            share(self.sitrep.per_second, &self.floor),
        );
    }

    /// Requests per second of a server that writes both rows in one statement behind this HTTP
    /// and GraphQL front, estimated from the two measured apart: both saturate the same two
    /// cores, so their costs per request add up (the time of one request is the sum of the
    /// times per request of each).
    fn inline_behind_front(&self) -> f64 {
        1.0 / (1.0 / self.inline.per_second + 1.0 / self.front.per_second)
    }
}

const STATS: &str = "{ incidentStats(filter: { from: \"2023-10-17\", \
     targetCategories: [FOREIGN_MILITARY_BASE] }, groupBy: [CLAIMANT], bucket: WEEK) { \
     bucket keys incidents fatalities { best } } }";

const FIRST_PAGE: &str = "{ incidents(first: 50) { edges { cursor node { id startDate country \
     location eventType subEventType fatalities { best } } } pageInfo { hasNextPage } } }";

/// The dashboards' queries over HTTP, each beside the same SQL run directly on the live read
/// model (what the API adds: HTTP, GraphQL, JSON).
pub async fn queries(
    pool: &PgPool,
    server: &ServerProcess,
    repeats: u32,
) -> anyhow::Result<Vec<Figure>> {
    let token = tokens::issue(pool, "bench dashboard", Role::Viewer)
        .await?
        .secret;
    caught_up(pool).await?;
    let live = sitrep_projections::generation::live(pool, "incidents")
        .await?
        .context("no live incidents generation: run the rebuild first")?;
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", server.base);
    let over_http = |query: &'static str| {
        let (http, url, token) = (&http, &url, &token);
        move || async move { post(http, url, token, json!({ "query": query }).to_string()).await }
    };
    let headline = IncidentFilter {
        from: chrono::NaiveDate::from_ymd_opt(2023, 10, 17),
        target_categories: vec!["foreign_military_base".into()],
        ..IncidentFilter::default()
    };
    let stats = time(repeats, over_http(STATS)).await?;
    let raw_stats = time(repeats, || async {
        incident_stats(
            pool,
            &live.schema,
            &headline,
            &[StatsDimension::Claimant],
            Some(TimeBucket::Week),
            None,
        )
        .await
        .map(|_| ())
        .map_err(anyhow::Error::from)
    })
    .await?;
    let page = time(repeats, over_http(FIRST_PAGE)).await?;
    let all = IncidentFilter::default();
    let raw_page = time(repeats, || async {
        incident_list(pool, &live.schema, &all, 51, None, None)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    })
    .await?;
    Ok(vec![
        Figure {
            scenario: "over HTTP: weekly statistics of attacks on coalition bases by claimant \
                       (raw: the same SQL on the read model)"
                .into(),
            sitrep: stats,
            raw: raw_stats,
            unit: "queries",
        },
        Figure {
            scenario:
                "over HTTP: the first page of incidents (raw: the same SQL on the read model)"
                    .into(),
            sitrep: page,
            raw: raw_page,
            unit: "queries",
        },
    ])
}

/// Waits until the server's projectors have built every read model and caught up with the log
/// (the incidents one was rebuilt before; the others start from scratch), so that the queries
/// are timed on a quiet server, as dashboards meet it.
async fn caught_up(pool: &PgPool) -> anyhow::Result<()> {
    let projections = sitrep_projections::all().len();
    let deadline = Instant::now() + Duration::from_secs(1_800);
    loop {
        let statuses = sitrep_projections::status::statuses(pool).await?;
        if statuses.len() == projections && statuses.iter().all(|s| s.events_behind == 0) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the read models did not catch up"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Prints the server's memory.
pub fn print_memory(server: &ServerProcess, when: &str) -> anyhow::Result<()> {
    let (now, peak) = server.memory_mib()?;
    println!("server memory {when}: RSS {now:.0} MiB now, {peak:.0} MiB at peak (VmHWM)");
    Ok(())
}
