//! The file of rejected rows that `sitrep import acled|ucdp --skip-invalid` writes: the input's
//! header with two more columns, `sitrep_line` and `sitrep_error`, then each rejected row as the
//! input has it, in line order, with its line and why it was rejected (several rules of one
//! row joined by `"; "`). Fixed, it can be imported as it is (the two extra columns are not
//! the dataset's and are ignored).
//!
//! A file read whole keeps the fields of the rows its reader rejects ([`DatasetFile::rejected`]);
//! any other rejected row (refused later by the domain while planning, or of a file read as it
//! was imported) is read again from the input.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};

use crate::csv_file::{CsvFile, FileError};
use crate::dataset_file::DatasetFile;
use crate::record::RowError;

/// The two columns added to the input's header.
pub const EXTRA_COLUMNS: [&str; 2] = ["sitrep_line", "sitrep_error"];

/// Why the file of rejected rows could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RejectedFileError {
    #[error("cannot write the rejected rows: {0}")]
    Write(#[from] csv::Error),
    #[error("cannot write the rejected rows: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read the rows again from the input: {0}")]
    Reread(#[from] FileError),
    #[error("the input has no row on line {0} any more (was it changed during the import?)")]
    MissingLine(u64),
}

/// What the file of rejected rows is made from: the input's header and the fields of the rows
/// its reader rejected.
#[derive(Debug, Clone, Default)]
pub struct RejectedRows {
    header: Vec<String>,
    fields: HashMap<u64, Vec<String>>,
}

impl RejectedRows {
    /// The header and the rejected rows of `file` (taken before it is imported).
    pub fn of(file: &DatasetFile) -> Self {
        Self {
            header: file.header.clone(),
            fields: file
                .rejected
                .iter()
                .map(|row| (row.line, row.fields.clone()))
                .collect(),
        }
    }

    /// The header of a file whose rejected rows are all read again from the input when written
    /// (a file read as it is imported keeps no rows).
    pub fn of_header(header: &[String]) -> Self {
        Self {
            header: header.to_vec(),
            fields: HashMap::new(),
        }
    }

    /// Writes the rows of `errors` to `out` (as above); rows the reader did not reject are read
    /// again from `input` (opened only if there are such rows). Returns how many rows it wrote.
    pub fn write<R: Read>(
        &self,
        errors: &[RowError],
        input: impl FnOnce() -> std::io::Result<R>,
        out: impl Write,
    ) -> Result<u64, RejectedFileError> {
        let mut by_line: BTreeMap<u64, Vec<&RowError>> = BTreeMap::new();
        for error in errors {
            by_line.entry(error.line).or_default().push(error);
        }
        let missing: HashSet<u64> = by_line
            .keys()
            .filter(|line| !self.fields.contains_key(line))
            .copied()
            .collect();
        let reread = if missing.is_empty() {
            HashMap::new()
        } else {
            fields_on_lines(input()?, &missing)?
        };
        let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
        csv.write_record(self.header.iter().map(String::as_str).chain(EXTRA_COLUMNS))?;
        let mut written = 0;
        for (line, errors) in by_line {
            let fields = self
                .fields
                .get(&line)
                .or_else(|| reread.get(&line))
                .ok_or(RejectedFileError::MissingLine(line))?;
            let why = errors
                .iter()
                .map(|e| format!("{}: {}", e.column, e.rule))
                .collect::<Vec<_>>()
                .join("; ");
            let line_text = line.to_string();
            csv.write_record(
                fields
                    .iter()
                    .map(String::as_str)
                    .chain([line_text.as_str(), why.as_str()]),
            )?;
            written += 1;
        }
        csv.flush()?;
        Ok(written)
    }
}

/// The fields of the records of `input` that start on `lines`.
fn fields_on_lines(
    input: impl Read,
    lines: &HashSet<u64>,
) -> Result<HashMap<u64, Vec<String>>, FileError> {
    let mut file = CsvFile::open(input, "a dataset", &[])?;
    let mut found = HashMap::with_capacity(lines.len());
    while let Some(record) = file.next_record()? {
        if lines.contains(&record.line) {
            found.insert(record.line, record.fields());
            if found.len() == lines.len() {
                break;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acled_columns::ACLED_COLUMNS;
    use crate::record::Dataset;

    /// A made-up ACLED file: three protests, the second with a latitude out of range.
    fn file() -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(ACLED_COLUMNS).unwrap();
        for (id, latitude) in [("ARG1", "-34.9"), ("ARG2", "-134.9"), ("ARG3", "-34.9")] {
            writer
                .write_record([
                    id,
                    "2022-06-01",
                    "2022",
                    "1",
                    "Demonstrations",
                    "Protests",
                    "Peaceful protest",
                    "Protesters (Argentina)",
                    "",
                    "6",
                    "",
                    "",
                    "0",
                    "60",
                    "",
                    "32",
                    "South America",
                    "Argentina",
                    "Buenos Aires",
                    "",
                    "",
                    "La Plata",
                    latitude,
                    "-57.9",
                    "1",
                    "Made-up Daily",
                    "National",
                    "Notes, with a comma\nand a line break.",
                    "0",
                    "",
                    "1655000000",
                ])
                .unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn rejected_rows_are_written_as_they_were_with_their_line_and_error() {
        let input = file();
        let read = crate::dataset_file::read(Dataset::Acled, input.as_bytes()).unwrap();
        assert_eq!(read.rejected.len(), 1);
        let rejected = RejectedRows::of(&read);
        let reader_error = read.rejected[0].error.clone();
        // A row the reader took but the domain refused (line 6: the third record; each
        // record spans two lines) is read again from the input.
        let refused = RowError {
            line: 6,
            column: "actors.name".into(),
            rule: "must be at most 300 characters".into(),
        };
        let mut out = Vec::new();
        let written = rejected
            .write(
                &[refused.clone(), reader_error.clone()],
                || Ok(input.as_bytes()),
                &mut out,
            )
            .unwrap();
        assert_eq!(written, 2);
        let mut back = csv::Reader::from_reader(out.as_slice());
        let header: Vec<String> = back.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header.len(), 33);
        assert_eq!(&header[31..], ["sitrep_line", "sitrep_error"]);
        let rows: Vec<csv::StringRecord> = back.records().map(Result::unwrap).collect();
        let original: Vec<csv::StringRecord> = csv::Reader::from_reader(input.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows[0].iter().take(31).collect::<Vec<_>>(),
            original[1].iter().collect::<Vec<_>>()
        );
        assert_eq!(&rows[0][31], reader_error.line.to_string());
        assert_eq!(
            &rows[0][32],
            format!("{}: {}", reader_error.column, reader_error.rule)
        );
        assert_eq!(
            rows[1].iter().take(31).collect::<Vec<_>>(),
            original[2].iter().collect::<Vec<_>>()
        );
        assert_eq!(&rows[1][31], "6");
        assert_eq!(&rows[1][32], "actors.name: must be at most 300 characters");
    }

    #[test]
    fn a_line_the_input_does_not_have_is_an_error() {
        let input = file();
        let read = crate::dataset_file::read(Dataset::Acled, input.as_bytes()).unwrap();
        let error = RowError {
            line: 99,
            column: "x".into(),
            rule: "y".into(),
        };
        let outcome = RejectedRows::of(&read).write(&[error], || Ok(input.as_bytes()), Vec::new());
        assert!(
            matches!(outcome, Err(RejectedFileError::MissingLine(99))),
            "{outcome:?}"
        );
    }
}
