//! Runs a number of clients against the clock and counts their operations and latencies, and
//! interleaves the sides of a comparison so that a drift of the machine's speed (the disk's fsync
//! time varies a lot here) falls on all sides alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each side's time is cut into slices of about this length (at least [`MIN_ROUNDS`] of them);
/// the sides take turns slice by slice. A longer run takes more turns, not longer ones.
const SLICE_SECONDS: u64 = 3;

/// The fewest slices a side's time is cut into.
const MIN_ROUNDS: u32 = 3;

/// What one scenario measured for the store and for both baselines.
pub struct Comparison {
    pub scenario: String,
    pub clients: usize,
    pub unit: &'static str,
    pub sitrep: Measured,
    /// Raw inserts into a table shaped and indexed like `events`.
    pub keyed: Measured,
    /// Raw inserts into a table with a primary key only.
    pub bare: Measured,
}

/// Throughput and latency of one side.
#[derive(Clone)]
pub struct Measured {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

pub const TABLE_HEADER: &str = "| scenario | clients | sitrep | raw, same table | sitrep / raw same table | raw, primary key only | sitrep / raw PK only | sitrep p50 / p99 | raw same table p50 / p99 |\n|---|---|---|---|---|---|---|---|---|";

impl Comparison {
    pub fn print(&self) {
        let ratio = |raw: &Measured| 100.0 * self.sitrep.per_second / raw.per_second;
        println!(
            "| {} | {} | {:.0} {u}/s | {:.0} {u}/s | {:.0}% | {:.0} {u}/s | {:.0}% | {} | {} |",
            self.scenario,
            self.clients,
            self.sitrep.per_second,
            self.keyed.per_second,
            ratio(&self.keyed),
            self.bare.per_second,
            ratio(&self.bare),
            self.sitrep.latencies(),
            self.keyed.latencies(),
            u = self.unit,
        );
    }
}

impl Measured {
    pub fn latencies(&self) -> String {
        if self.p50.is_zero() {
            return "–".into();
        }
        format!("{} / {}", ms(self.p50), ms(self.p99))
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The latencies of the operations one side completed in the measured time.
#[derive(Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    units_per_op: u64,
}

impl Samples {
    fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.units_per_op = other.units_per_op;
    }

    /// Throughput over `duration` of measured time, and latency percentiles.
    fn measured(mut self, duration: Duration) -> Measured {
        self.latencies.sort_unstable();
        let pick = |q: f64| {
            self.latencies
                .get(((self.latencies.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Measured {
            per_second: self.latencies.len() as f64 * self.units_per_op as f64
                / duration.as_secs_f64(),
            p50: pick(0.5),
            p99: pick(0.99),
        }
    }
}

/// Runs `clients` copies of `op` (each given its client number and a call counter of its own)
/// for `warmup` and then `duration`; each call does `units_per_op` units of work.
pub async fn run_clients<F, Fut>(
    clients: usize,
    warmup: Duration,
    duration: Duration,
    units_per_op: u64,
    op: F,
) -> anyhow::Result<Samples>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    op(client, n).await?;
                    n += 1;
                    if began >= measure_from {
                        latencies.push(began.elapsed());
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut samples = Samples {
        latencies: Vec::new(),
        units_per_op,
    };
    for task in tasks {
        samples.latencies.extend(task.await??);
    }
    Ok(samples)
}

/// Measures three sides for `duration` each, taking turns in slices of about [`SLICE_SECONDS`]
/// (a one-second warm-up before each side's first slice, a short one before the others).
pub async fn interleave<A, FA, B, FB, C, FC>(
    clients: usize,
    duration: Duration,
    units_per_op: u64,
    (a, b, c): (A, B, C),
) -> anyhow::Result<(Measured, Measured, Measured)>
where
    A: Fn(usize, u64) -> FA + Send + Sync + 'static,
    FA: Future<Output = anyhow::Result<()>> + Send + 'static,
    B: Fn(usize, u64) -> FB + Send + Sync + 'static,
    FB: Future<Output = anyhow::Result<()>> + Send + 'static,
    C: Fn(usize, u64) -> FC + Send + Sync + 'static,
    FC: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let sides = [side(a), side(b), side(c)];
    let [a, b, c]: [Measured; 3] = interleave_sides(clients, duration, units_per_op, &sides)
        .await?
        .try_into()
        .map_err(|_| anyhow::anyhow!("three sides measured, three figures expected"))?;
    Ok((a, b, c))
}

/// One side of a comparison: an operation, given its client number and call counter.
pub type Side = Arc<dyn Fn(usize, u64) -> SideOp + Send + Sync>;

/// One call of a [`Side`].
pub type SideOp = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// `op` as a [`Side`].
pub fn side<F, Fut>(op: F) -> Side
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move |client, n| Box::pin(op(client, n)))
}

/// Measures each of `sides` for `duration`, taking turns in slices of about [`SLICE_SECONDS`]
/// (a one-second warm-up before each side's first slice, a short one before the others): the
/// figures in the order of `sides`.
pub async fn interleave_sides(
    clients: usize,
    duration: Duration,
    units_per_op: u64,
    sides: &[Side],
) -> anyhow::Result<Vec<Measured>> {
    let rounds = u32::try_from(duration.as_secs() / SLICE_SECONDS)
        .unwrap_or(u32::MAX)
        .max(MIN_ROUNDS);
    let slice = duration / rounds;
    let mut samples: Vec<Samples> = sides.iter().map(|_| Samples::default()).collect();
    for round in 0..rounds {
        let warmup = if round == 0 {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(200)
        };
        for (side, samples) in sides.iter().zip(&mut samples) {
            let side = side.clone();
            let op = move |client, n| side(client, n);
            samples.merge(run_clients(clients, warmup, slice, units_per_op, op).await?);
        }
    }
    let measured = slice * rounds;
    Ok(samples
        .into_iter()
        .map(|samples| samples.measured(measured))
        .collect())
}

impl Measured {
    /// Operations timed one by one over `elapsed`: their rate and latency percentiles.
    pub fn from_latencies(latencies: Vec<Duration>, elapsed: Duration) -> Self {
        let n = latencies.len() as u64;
        let samples = Samples {
            latencies,
            units_per_op: 1,
        };
        let mut measured = samples.measured(elapsed);
        measured.per_second = n as f64 / elapsed.as_secs_f64();
        measured
    }

    /// A single timed run of `units` units of work, with no per-operation latencies.
    pub fn rate(units: u64, elapsed: Duration) -> Self {
        Self {
            per_second: units as f64 / elapsed.as_secs_f64(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        }
    }
}

impl Default for Measured {
    fn default() -> Self {
        Self::rate(0, Duration::from_secs(1))
    }
}
