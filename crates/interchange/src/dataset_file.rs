//! A dataset file read whole: the rows that map to valid incidents and the rows rejected, each
//! rejected row with its fields as written (for `--skip-invalid`'s file of rejected rows) and
//! why. The importer validates every row before it appends anything, so the readers return
//! everything at once rather than a stream.
//!
//! [`read`] picks the reader of a [`Dataset`]; the readers themselves are [`crate::acled`] and
//! [`crate::ucdp`].

use std::collections::HashMap;
use std::io::Read;

use sitrep_domain::model::incident::{IncidentFacts, MAX_ATTRIBUTE_NAME};
use sitrep_domain::model::DomainError;

use csv::StringRecord;

use crate::csv_file::{Column, CsvFile, CsvRecord, FileError};
use crate::record::{Dataset, ImportedRow, RowError};
use crate::two_threads::map_in_halves;

/// A dataset file, read and checked row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFile {
    pub dataset: Dataset,
    /// The header as the file writes it (the first line of a file of rejected rows).
    pub header: Vec<String>,
    /// The rows that are valid incidents, in file order.
    pub rows: Vec<ImportedRow>,
    /// The rows that are not, in file order.
    pub rejected: Vec<RejectedRow>,
    /// Columns of the file that the format does not map (kept nowhere), in header order.
    pub unmapped_columns: Vec<String>,
}

impl DatasetFile {
    /// Rows read: valid and rejected.
    pub fn row_count(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }
}

/// A row that is not a valid incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Its fields as written, in the header's order.
    pub fields: Vec<String>,
    /// The first rule it breaks.
    pub error: RowError,
}

/// Reads `reader` as a file of `dataset`.
pub fn read(dataset: Dataset, reader: impl Read) -> Result<DatasetFile, FileError> {
    match dataset {
        Dataset::Acled => crate::acled::read(reader),
        Dataset::Ucdp => crate::ucdp::read(reader),
    }
}

/// How many records are read before they are mapped, half of them on a second thread.
const RECORDS_PER_BATCH: usize = 2048;

/// Reads every record of `file` with `map`, sorting rows into valid and rejected. A row whose
/// id (`id_column`) an earlier row of the file has, valid or not, is rejected: one row per event.
///
/// Records are read in batches of [`RECORDS_PER_BATCH`]; each batch is mapped on two threads
/// (mapping, not parsing, is most of a reader's time), then its rows are sorted in file order.
pub(crate) fn read_rows<R: Read>(
    dataset: Dataset,
    mut file: CsvFile<R>,
    id_column: Column<'static>,
    unmapped_columns: Vec<String>,
    map: impl Fn(&CsvRecord<'_>) -> Result<ImportedRow, RowError> + Sync,
) -> Result<DatasetFile, FileError> {
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<(u64, StringRecord)> = Vec::with_capacity(RECORDS_PER_BATCH);
    loop {
        batch.clear();
        while batch.len() < RECORDS_PER_BATCH {
            match file.next_record()? {
                Some(record) => batch.push((record.line, record.to_owned_record())),
                None => break,
            }
        }
        if batch.is_empty() {
            break;
        }
        let mapped = map_in_halves(&batch, 64, |(line, record)| {
            map(&CsvRecord::new(*line, record))
        });
        for ((line, record), mapped) in batch.iter().zip(mapped) {
            let record = CsvRecord::new(*line, record);
            let id = record.get(id_column).trim();
            let first = match seen.get(id) {
                Some(&first) => Some(first),
                None if id.is_empty() => None,
                None => {
                    seen.insert(id.to_owned(), record.line);
                    None
                }
            };
            let mapped = mapped.and_then(|row| match first {
                Some(first) => Err(RowError {
                    line: row.line,
                    column: id_column.name.to_owned(),
                    rule: format!(
                        "{id} is already the id of the row on line {first} (one row per event)"
                    ),
                }),
                None => Ok(row),
            });
            match mapped {
                Ok(row) => rows.push(row),
                Err(error) => rejected.push(RejectedRow {
                    line: record.line,
                    fields: record.fields(),
                    error,
                }),
            }
        }
    }
    Ok(DatasetFile {
        dataset,
        header: file.header().to_vec(),
        rows,
        rejected,
        unmapped_columns,
    })
}

/// The columns of `header` not in `known`.
pub(crate) fn unmapped(header: &[String], known: impl Fn(&str) -> bool) -> Vec<String> {
    header.iter().filter(|c| !known(c)).cloned().collect()
}

/// Runs the domain's own check of `facts` (read from the row on `line`), naming in an error the
/// column that the failing field comes from (`column_of` a field path such as
/// `place.coordinates.latitude`). The path stays in the rule when it says more than the column.
pub(crate) fn check_facts(
    line: u64,
    facts: &IncidentFacts,
    column_of: impl Fn(&str) -> String,
) -> Result<(), RowError> {
    facts.validate().map_err(|error| match error {
        DomainError::Invalid { field, rule } => {
            let column = column_of(&field);
            let rule = if field == column {
                rule
            } else {
                format!("{field}: {rule}")
            };
            RowError { line, column, rule }
        }
        other => RowError {
            line,
            column: String::new(),
            rule: other.to_string(),
        },
    })
}

/// Whether `name` can be an attribute's name: lower-case letters, digits and `_`, starting with
/// a letter, at most [`MAX_ATTRIBUTE_NAME`] characters (the domain's rule).
pub(crate) fn is_attribute_name(name: &str) -> bool {
    name.len() <= MAX_ATTRIBUTE_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Inputs a reader must survive: every cut of a good file and random damage to it.
#[cfg(test)]
pub(crate) fn assert_no_input_panics(
    good: &[u8],
    read: impl Fn(&[u8]) -> Result<DatasetFile, FileError>,
) {
    let check = |bytes: &[u8]| {
        // Whatever the reader says, what it accepts is valid.
        if let Ok(file) = read(bytes) {
            for row in &file.rows {
                assert!(row.facts.validate().is_ok(), "{row:?}");
            }
        }
    };
    for cut in 0..=good.len() {
        check(&good[..cut]);
    }
    let damage: [&[u8]; 16] = [
        b",",
        b"\"",
        b"\n",
        b"\r",
        b"\xFF",
        b"\xE9",
        b"\xEF\xBB\xBF",
        b"99999999999999999999999",
        b"-1",
        b"0",
        b";",
        b" ",
        b"NaN",
        b"1e999",
        b"\x00",
        b"",
    ];
    let mut seed = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    for _ in 0..3000 {
        let mut bytes = good.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = next() % bytes.len().max(1);
            let end = (at + next() % 3).min(bytes.len());
            bytes.splice(at..end, damage[next() % damage.len()].iter().copied());
        }
        check(&bytes);
    }
}
