//! The real dataset files of `../shared/data` for the reader tests: found through
//! `SITREP_SHARED_DATA` (the `data` folder's path, which `.ci/run` sets); when it is unset or the
//! folder is absent a test says it is skipped and passes, so a plain `cargo test` needs no data.

#![allow(dead_code)]

use std::path::PathBuf;

/// The path of `relative` (`acled/....csv`) in the shared data folder, or `None` after printing
/// why the calling test is skipped.
pub fn file(relative: &str) -> Option<PathBuf> {
    let Some(folder) = std::env::var_os("SITREP_SHARED_DATA").filter(|f| !f.is_empty()) else {
        eprintln!("skipped: SITREP_SHARED_DATA not set (the folder of the real dataset files)");
        return None;
    };
    let path = PathBuf::from(folder).join(relative);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipped: SITREP_SHARED_DATA not set to a folder holding {relative} ({} is absent)",
            path.display()
        );
        None
    }
}

/// Every record of the CSV file at `path`, by column name, parsed with the `csv` crate directly
/// (not with the reader under test).
pub fn records(path: &PathBuf) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The CPU time this thread has run, in seconds (Linux's `/proc/thread-self/schedstat`), or
/// the wall clock's time where that is not there: a measurement on a machine shared with other
/// work should not count the time others had the CPU.
pub fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(
            || {
                use std::sync::OnceLock;
                static START: OnceLock<std::time::Instant> = OnceLock::new();
                START
                    .get_or_init(std::time::Instant::now)
                    .elapsed()
                    .as_secs_f64()
            },
            |ns| ns as f64 / 1e9,
        )
}

/// Reads `path` `runs` times with `read` and prints rows/s of the fastest run and of the
/// first, in CPU time (dropping what was read is not counted).
pub fn measure(
    label: &str,
    path: &PathBuf,
    runs: usize,
    read: impl Fn(&[u8]) -> sitrep_interchange::dataset_file::DatasetFile,
) {
    let bytes = std::fs::read(path).unwrap();
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let start = cpu_seconds();
        let file = read(&bytes);
        times.push(cpu_seconds() - start);
        assert!(file.rejected.is_empty());
        rows = file.rows.len();
    }
    let best = times.iter().copied().fold(f64::MAX, f64::min);
    eprintln!(
        "{label}: {rows} rows read and mapped in {:.1} ms of CPU (fastest of {runs}; the first {:.1} ms): {:.0} rows/s ({:.0} for the first)",
        best * 1000.0,
        times[0] * 1000.0,
        rows as f64 / best,
        rows as f64 / times[0]
    );
}
