//! A dataset file read row by row: the rows that map to valid incidents and the rows rejected,
//! each rejected row with its fields as written (for `--skip-invalid`'s file of rejected rows)
//! and why. [`open`] checks the header and gives the rows a batch at a time ([`DatasetRows`]),
//! so that an import writes the first rows while it reads the next; [`read`] reads a file
//! whole ([`DatasetFile`]).
//!
//! [`open`] picks the reader of a [`Dataset`]; the readers themselves are [`crate::acled`] and
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

/// Reads `reader` whole as a file of `dataset`.
pub fn read(dataset: Dataset, reader: impl Read) -> Result<DatasetFile, FileError> {
    open(dataset, reader)?.read_all()
}

/// Opens `reader` as a file of `dataset`: its header read and checked, its rows still to read.
pub fn open<R: Read>(dataset: Dataset, reader: R) -> Result<DatasetRows<R>, FileError> {
    match dataset {
        Dataset::Acled => crate::acled::open(reader),
        Dataset::Ucdp => crate::ucdp::open(reader),
    }
}

/// How many records are read before they are mapped, half of them on a second thread.
const RECORDS_PER_BATCH: usize = 2048;

/// Maps a record of a dataset's file to a valid incident, or says why not.
pub(crate) type RecordMap =
    Box<dyn Fn(&CsvRecord<'_>) -> Result<ImportedRow, RowError> + Send + Sync>;

/// A dataset file whose header is read and checked, its rows read a batch at a time
/// ([`DatasetRows::next_batch`]). A row whose id an earlier row of the file has, valid or not,
/// is rejected: one row per event.
pub struct DatasetRows<R: Read> {
    dataset: Dataset,
    file: CsvFile<R>,
    id_column: Column<'static>,
    unmapped_columns: Vec<String>,
    map: RecordMap,
    /// The ids of the rows read so far, with the line of each one's first row.
    seen: HashMap<String, u64>,
    /// The records of the batch being read.
    records: Vec<(u64, StringRecord)>,
}

/// Rows read together, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowBatch {
    /// The rows that are valid incidents.
    pub rows: Vec<ImportedRow>,
    /// The rows that are not.
    pub rejected: Vec<RejectedRow>,
}

impl<R: Read> DatasetRows<R> {
    /// The rows of `file` (its header checked), each record mapped by `map`; `id_column` holds a
    /// row's id, `unmapped_columns` are the header's columns the format does not map.
    pub(crate) fn new(
        dataset: Dataset,
        file: CsvFile<R>,
        id_column: Column<'static>,
        unmapped_columns: Vec<String>,
        map: RecordMap,
    ) -> Self {
        Self {
            dataset,
            file,
            id_column,
            unmapped_columns,
            map,
            seen: HashMap::new(),
            records: Vec::with_capacity(RECORDS_PER_BATCH),
        }
    }

    pub fn dataset(&self) -> Dataset {
        self.dataset
    }

    /// The header as the file writes it (trimmed).
    pub fn header(&self) -> &[String] {
        self.file.header()
    }

    /// Reads every row left.
    pub fn read_all(mut self) -> Result<DatasetFile, FileError> {
        let mut rows = Vec::new();
        let mut rejected = Vec::new();
        while let Some(batch) = self.next_batch()? {
            rows.extend(batch.rows);
            rejected.extend(batch.rejected);
        }
        Ok(DatasetFile {
            dataset: self.dataset,
            header: self.file.header().to_vec(),
            rows,
            rejected,
            unmapped_columns: self.unmapped_columns,
        })
    }

    /// The next rows of the file (up to [`RECORDS_PER_BATCH`]), sorted into valid and rejected;
    /// `None` at its end. The records are mapped on two threads (mapping, not parsing, is most
    /// of a reader's time). An error for a record that breaks the file's structure: the rows
    /// after it are not read.
    pub fn next_batch(&mut self) -> Result<Option<RowBatch>, FileError> {
        let batch = &mut self.records;
        batch.clear();
        while batch.len() < RECORDS_PER_BATCH {
            match self.file.next_record()? {
                Some(record) => batch.push((record.line, record.to_owned_record())),
                None => break,
            }
        }
        if batch.is_empty() {
            return Ok(None);
        }
        let map = &self.map;
        let mapped = map_in_halves(batch, 64, |(line, record)| {
            map(&CsvRecord::new(*line, record))
        });
        let mut read = RowBatch {
            rows: Vec::with_capacity(batch.len()),
            rejected: Vec::new(),
        };
        let (id_column, seen) = (self.id_column, &mut self.seen);
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
                Ok(row) => read.rows.push(row),
                Err(error) => read.rejected.push(RejectedRow {
                    line: record.line,
                    fields: record.fields(),
                    error,
                }),
            }
        }
        Ok(Some(read))
    }
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
