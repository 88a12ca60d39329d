//! Runs a number of clients against the clock and counts their operations and latencies.

use std::future::Future;
use std::time::{Duration, Instant};

/// What one scenario measured for the store and for the baseline.
pub struct Comparison {
    pub scenario: String,
    pub clients: usize,
    pub unit: &'static str,
    pub sitrep: Measured,
    pub raw: Measured,
}

/// Throughput and latency of one side.
pub struct Measured {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Comparison {
    pub fn print(&self) {
        println!(
            "| {} | {} | {:.0} {u}/s | {:.0} {u}/s | {:.0}% | {} / {} | {} / {} |",
            self.scenario,
            self.clients,
            self.sitrep.per_second,
            self.raw.per_second,
            100.0 * self.sitrep.per_second / self.raw.per_second,
            ms(self.sitrep.p50),
            ms(self.sitrep.p99),
            ms(self.raw.p50),
            ms(self.raw.p99),
            u = self.unit,
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `clients` copies of `op` (each given its client number and a call counter) for a
/// one-second warm-up and then `duration`, and reports units per second, where each call does
/// `units_per_op` units of work.
pub async fn run_clients<F, Fut>(
    clients: usize,
    duration: Duration,
    units_per_op: u64,
    op: F,
) -> anyhow::Result<Measured>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let warmup = Duration::from_secs(1);
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
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Measured {
        per_second: all.len() as f64 * units_per_op as f64 / duration.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
    })
}

impl Measured {
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
