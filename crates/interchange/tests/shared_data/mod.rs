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
