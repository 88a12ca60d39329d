//! The CSV layer the dataset readers share ([`crate::acled`], [`crate::ucdp`]): a header checked
//! against a format's required columns, then records as UTF-8 text, each with the line it starts
//! on, from any [`std::io::Read`] (a file for the command line, an upload for GraphQL).
//!
//! What is wrong with the file as a whole is a [`FileError`] and stops the read: a missing or
//! duplicate column, bytes that are not UTF-8, a record with the wrong number of fields, a quote
//! never closed, a last record cut short. What is wrong with one row's values is the format
//! reader's business ([`crate::record::RowError`]).
//!
//! The `csv` crate (1.x) is lenient where an import must not be: it ends a record silently at
//! the end of the input inside an open quote (a file cut in a quoted field); it takes text after
//! a closing quote into the field (so a quote missing makes one record of two, often with the
//! right number of fields); and its record positions count a CRLF line's end in the next record
//! and blank lines in the record after them. So the bytes also go through [`Watch`], a copy of
//! `csv-core`'s state machine for the default dialect that keeps the line each record starts on,
//! the first quote closed with text after it, and a quote still open at the end.

use std::collections::VecDeque;
use std::io::Read;

use csv::{ByteRecord, StringRecord};

/// Why a file cannot be read as a dataset file. Nothing of such a file is imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The input failed (a disk or network error), not its content.
    #[error("the file could not be read: {0}")]
    Read(#[source] std::io::Error),
    /// No header line.
    #[error("the file is empty: it has no header line")]
    Empty,
    /// The header lacks columns the format requires.
    #[error(
        "line 1: the header lacks {} required column{} of {dataset} ({}): is this {dataset}?",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    )]
    MissingColumns {
        /// The format's name with its article ("an ACLED export", "a UCDP GED file").
        dataset: &'static str,
        missing: Vec<String>,
    },
    /// Two columns of the header have the same name.
    #[error(
        "line 1: the column \"{name}\" appears twice in the header (columns {first} and {second})"
    )]
    DuplicateColumn {
        name: String,
        /// 1-based positions of the two columns.
        first: usize,
        second: usize,
    },
    /// A field holds bytes that are not UTF-8 (a Latin-1 or Windows-1252 export).
    #[error("line {line}, column {column}: not UTF-8 (the file must be UTF-8)")]
    NotUtf8 { line: u64, column: String },
    /// A record with more or fewer fields than the header.
    #[error("line {line}: {found} fields where the header has {expected}")]
    FieldCount {
        line: u64,
        expected: usize,
        found: usize,
    },
    /// A record spanning several lines with the wrong number of fields: likely a quote opened
    /// and not closed where it should have been, so that the record swallowed the lines after
    /// it.
    #[error(
        "line {line}: the record runs to line {last_line} and has {found} fields where the header has {expected} (a broken quote?)"
    )]
    RecordRunsOn {
        line: u64,
        last_line: u64,
        expected: usize,
        found: usize,
    },
    /// A quoted field whose closing quote is followed by more text: a quote missing (the field
    /// then runs on to the next quote, swallowing the lines between), or a quote inside a quoted
    /// field not doubled.
    #[error(
        "line {line}: a broken quote: the quoted field opened here is closed on line {closed_on} by a quote followed by more text (a quote missing, or a quote inside the field not doubled)"
    )]
    BrokenQuote { line: u64, closed_on: u64 },
    /// A quote opened and never closed before the end of the file.
    #[error(
        "line {line}: a quote opened here is never closed before the end of the file (a broken quote or a truncated file)"
    )]
    UnclosedQuote { line: u64 },
    /// The last record has too few fields and no line end: the file was cut short.
    #[error(
        "line {line}: the file is truncated: its last record has {found} of {expected} fields and no line end"
    )]
    Truncated {
        line: u64,
        expected: usize,
        found: usize,
    },
}

impl From<csv::Error> for FileError {
    fn from(error: csv::Error) -> Self {
        match error.into_kind() {
            csv::ErrorKind::Io(e) => Self::Read(e),
            // With flexible records and byte records, the reader reports nothing else; should it
            // one day, the file still cannot be read.
            other => Self::Read(std::io::Error::other(format!("{other:?}"))),
        }
    }
}

/// A column of a format, where the file has it (`None`: an optional column the file lacks,
/// read as empty).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column<'n> {
    pub name: &'n str,
    index: Option<usize>,
}

impl<'n> Column<'n> {
    /// The column `name` at `index` of the header (0-based).
    pub fn at(name: &'n str, index: usize) -> Self {
        Self {
            name,
            index: Some(index),
        }
    }
}

/// A dataset file opened: its header checked, its records read one at a time.
pub(crate) struct CsvFile<R: Read> {
    csv: csv::Reader<Watch<R>>,
    header: Vec<String>,
    record: StringRecord,
}

/// One record of a [`CsvFile`]: UTF-8 fields and the line it starts on.
pub(crate) struct CsvRecord<'a> {
    pub line: u64,
    record: &'a StringRecord,
}

impl<R: Read> CsvFile<R> {
    /// Opens `reader` and checks its header: it has every column of `required` (named in
    /// [`FileError::MissingColumns`] with `dataset`), no column twice, UTF-8 names. A UTF-8 byte
    /// order mark before the header is skipped.
    pub fn open(
        reader: R,
        dataset: &'static str,
        required: &[&'static str],
    ) -> Result<Self, FileError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Watch::new(reader));
        let mut raw = ByteRecord::new();
        if !csv.read_byte_record(&mut raw)? {
            return Err(FileError::Empty);
        }
        let line = csv.get_mut().next_record_line().unwrap_or(1);
        let header = text_of(raw, line, |i| format!("#{}", i + 1))?;
        let mut names: Vec<String> = header.iter().map(|n| n.trim().to_owned()).collect();
        if let Some(first) = names.first_mut() {
            // csv-core strips a byte order mark only when it arrives whole in one read.
            if let Some(rest) = first.strip_prefix('\u{feff}') {
                *first = rest.trim().to_owned();
            }
        }
        for (i, name) in names.iter().enumerate() {
            if let Some(j) = names[..i].iter().position(|earlier| earlier == name) {
                return Err(FileError::DuplicateColumn {
                    name: name.clone(),
                    first: j + 1,
                    second: i + 1,
                });
            }
        }
        let missing: Vec<String> = required
            .iter()
            .filter(|r| !names.iter().any(|n| n == *r))
            .map(|r| (*r).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingColumns { dataset, missing });
        }
        Ok(Self {
            csv,
            header: names,
            record: StringRecord::new(),
        })
    }

    /// The column names as the header writes them (trimmed).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The column `name` (`index` none when the file lacks it).
    pub fn column(&self, name: &'static str) -> Column<'static> {
        Column {
            name,
            index: self.header.iter().position(|n| n == name),
        }
    }

    /// The next record, `None` at the end of the file; an error for a record that breaks the
    /// file's structure (see [`FileError`]).
    pub fn next_record(&mut self) -> Result<Option<CsvRecord<'_>>, FileError> {
        let mut raw = std::mem::take(&mut self.record).into_byte_record();
        let more = self.csv.read_byte_record(&mut raw)?;
        if !more {
            if let Some(line) = self.csv.get_ref().open_quote_line() {
                return Err(FileError::UnclosedQuote { line });
            }
            return Ok(None);
        }
        if let Some((line, closed_on)) = self.csv.get_ref().broken_quote {
            return Err(FileError::BrokenQuote { line, closed_on });
        }
        let fallback = raw.position().map_or(0, csv::Position::line);
        let line = self.csv.get_mut().next_record_line().unwrap_or(fallback);
        let expected = self.header.len();
        if raw.len() != expected {
            return Err(self.structure_error(&raw, line));
        }
        let header = &self.header;
        self.record = text_of(raw, line, |i| {
            header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{}", i + 1))
        })?;
        Ok(Some(CsvRecord {
            line,
            record: &self.record,
        }))
    }

    /// The error of `raw`, a record starting on `line` with the wrong number of fields.
    fn structure_error(&self, raw: &ByteRecord, line: u64) -> FileError {
        let expected = self.header.len();
        let found = raw.len();
        let watch = self.csv.get_ref();
        let is_last = watch.at_end() && self.csv.position().byte() == watch.bytes;
        if is_last {
            if let Some(quote_line) = watch.open_quote_line() {
                return FileError::UnclosedQuote { line: quote_line };
            }
            if found < expected && !watch.ends_with_line_end() {
                return FileError::Truncated {
                    line,
                    expected,
                    found,
                };
            }
        }
        let inner_lines = raw.iter().flatten().filter(|&&b| b == b'\n').count() as u64;
        if inner_lines > 0 {
            FileError::RecordRunsOn {
                line,
                last_line: line + inner_lines,
                expected,
                found,
            }
        } else {
            FileError::FieldCount {
                line,
                expected,
                found,
            }
        }
    }
}

impl<'a> CsvRecord<'a> {
    /// The record `record`, which starts on `line` (one [`CsvFile::next_record`] gave and the
    /// caller kept).
    pub fn new(line: u64, record: &'a StringRecord) -> Self {
        Self { line, record }
    }

    /// The record, owned (to map it on another thread).
    pub fn to_owned_record(&self) -> StringRecord {
        self.record.clone()
    }

    /// The value of `column` as written (empty for a column the file lacks).
    pub fn get(&self, column: Column<'_>) -> &str {
        column
            .index
            .and_then(|i| self.record.get(i))
            .unwrap_or_default()
    }

    /// Every field as written, in the header's order (for the file of rejected rows).
    pub fn fields(&self) -> Vec<String> {
        self.record.iter().map(str::to_owned).collect()
    }
}

/// `raw` as text, or [`FileError::NotUtf8`] naming the field (by `column_name` of its index) and
/// the line of the first byte that is not UTF-8 (`line` is the record's first line).
fn text_of(
    raw: ByteRecord,
    line: u64,
    column_name: impl Fn(usize) -> String,
) -> Result<StringRecord, FileError> {
    StringRecord::from_byte_record(raw).map_err(|e| {
        let (field, valid_up_to) = (e.utf8_error().field(), e.utf8_error().valid_up_to());
        let raw = e.into_byte_record();
        let newlines = |bytes: &[u8]| bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let before: u64 = raw.iter().take(field).map(newlines).sum();
        let within = raw
            .get(field)
            .map_or(0, |f| newlines(f.get(..valid_up_to).unwrap_or(f)));
        FileError::NotUtf8 {
            line: line + before + within,
            column: column_name(field),
        }
    })
}

/// The states of `csv-core`'s reader for the default dialect (`,`, `"` doubled to escape, any
/// of CR, LF, CRLF ending a record), folded to what tells records, fields and quotes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records: line ends are skipped.
    StartRecord,
    StartField,
    /// In an unquoted field (a quote there is a character like any other).
    InField,
    InQuotedField,
    /// After a quote in a quoted field: a second quote is an escaped quote, anything else ends
    /// the quoted part.
    AfterQuote,
}

/// The input, passed through to the CSV reader while its bytes go through `csv-core`'s state
/// machine: the line each record starts on (queued until the reader yields the record), the
/// line of a quote still open, whether the input ends with a line end.
struct Watch<R> {
    inner: R,
    state: State,
    /// The line of the next byte (1-based).
    line: u64,
    /// The line the current quoted field opened on.
    quote_line: u64,
    /// The lines of the records seen but not yet yielded by the CSV reader.
    record_lines: VecDeque<u64>,
    /// Bytes passed through so far (0 until the first read).
    bytes: u64,
    last_byte: Option<u8>,
    ended: bool,
    /// The first quoted field closed by a quote followed by more text: the lines of its opening
    /// and of that quote.
    broken_quote: Option<(u64, u64)>,
}

impl<R> Watch<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            state: State::StartRecord,
            line: 1,
            quote_line: 0,
            record_lines: VecDeque::new(),
            bytes: 0,
            last_byte: None,
            ended: false,
            broken_quote: None,
        }
    }

    /// The line of the oldest record not yet taken.
    fn next_record_line(&mut self) -> Option<u64> {
        self.record_lines.pop_front()
    }

    fn at_end(&self) -> bool {
        self.ended
    }

    fn ends_with_line_end(&self) -> bool {
        matches!(self.last_byte, Some(b'\n' | b'\r'))
    }

    /// At the end of the input, the line of a quote opened and never closed.
    fn open_quote_line(&self) -> Option<u64> {
        (self.ended && self.state == State::InQuotedField).then_some(self.quote_line)
    }

    fn scan(&mut self, bytes: &[u8]) {
        // As csv-core: a byte order mark is skipped when the first read brings it whole.
        let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if self.bytes == 0 => {
                self.bytes += 3;
                rest
            }
            _ => bytes,
        };
        self.bytes += bytes.len() as u64;
        let mut rest = bytes;
        while let Some((&b, after)) = rest.split_first() {
            // Inside a field only a few bytes matter: jump to the next of them.
            let skip = match self.state {
                State::InQuotedField => memchr::memchr2(b'"', b'\n', rest),
                State::InField => memchr::memchr3(b',', b'\n', b'\r', rest),
                _ => Some(0),
            };
            let Some(skip) = skip else {
                // None in the rest of this chunk: the state holds to its end.
                break;
            };
            if skip > 0 {
                rest = rest.get(skip..).unwrap_or_default();
                continue;
            }
            self.step(b);
            rest = after;
        }
        if let Some(&last) = bytes.last() {
            self.last_byte = Some(last);
        }
    }
}

impl<R> Watch<R> {
    /// One byte through csv-core's states.
    fn step(&mut self, b: u8) {
        if self.state == State::StartRecord && !is_line_end(b) {
            self.record_lines.push_back(self.line);
            self.state = State::StartField;
        }
        self.state = match (self.state, b) {
            (State::StartRecord, _) => State::StartRecord,
            (State::StartField, b'"') => {
                self.quote_line = self.line;
                State::InQuotedField
            }
            (State::InQuotedField, b'"') => State::AfterQuote,
            (State::InQuotedField, _) => State::InQuotedField,
            (State::AfterQuote, b'"') => State::InQuotedField,
            (_, b',') => State::StartField,
            (_, b) if is_line_end(b) => State::StartRecord,
            (State::AfterQuote, _) => {
                self.broken_quote
                    .get_or_insert((self.quote_line, self.line));
                State::InField
            }
            _ => State::InField,
        };
        if b == b'\n' {
            self.line += 1;
        }
    }
}

fn is_line_end(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        match buf.get(..n) {
            Some(read) if n > 0 => self.scan(read),
            _ => self.ended = true,
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &[u8]) -> Result<CsvFile<&[u8]>, FileError> {
        CsvFile::open(text, "a test", &["a", "b"])
    }

    /// Every record's line and fields, or the first error.
    fn records(text: &[u8]) -> Result<Vec<(u64, Vec<String>)>, FileError> {
        let mut file = open(text)?;
        let mut out = Vec::new();
        while let Some(r) = file.next_record()? {
            out.push((r.line, r.fields()));
        }
        Ok(out)
    }

    fn row(line: u64, fields: &[&str]) -> (u64, Vec<String>) {
        (line, fields.iter().map(|f| (*f).to_owned()).collect())
    }

    #[test]
    fn records_carry_the_line_they_start_on_whatever_the_line_ends() {
        let expected = vec![
            row(2, &["1", "2"]),
            row(3, &["x\ny", "4"]),
            row(5, &["5", "6"]),
        ];
        assert_eq!(records(b"a,b\n1,2\n\"x\ny\",4\n5,6\n").unwrap(), expected);
        let crlf = vec![
            row(2, &["1", "2"]),
            row(3, &["x\r\ny", "4"]),
            row(5, &["5", "6"]),
        ];
        assert_eq!(
            records(b"a,b\r\n1,2\r\n\"x\r\ny\",4\r\n5,6\r\n").unwrap(),
            crlf
        );
        // Blank lines are skipped and counted; a last line without its line end is fine.
        assert_eq!(
            records(b"a,b\n\n1,2\n\n\n5,6").unwrap(),
            vec![row(3, &["1", "2"]), row(6, &["5", "6"])]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let file = open(b"\xEF\xBB\xBFa,b\n1,2\n").unwrap();
        assert_eq!(file.header(), ["a", "b"]);
        assert_eq!(
            records(b"\xEF\xBB\xBF\"a\",b\n1,2\n").unwrap(),
            vec![row(2, &["1", "2"])]
        );
        // Even when it arrives a byte at a time.
        let slow = OneByteAtATime(b"\xEF\xBB\xBFa,b\n1,2\n");
        let mut file = CsvFile::open(slow, "a test", &["a", "b"]).unwrap();
        assert_eq!(file.header(), ["a", "b"]);
        assert_eq!(file.next_record().unwrap().unwrap().line, 2);
    }

    struct OneByteAtATime(&'static [u8]);

    impl Read for OneByteAtATime {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn the_header_must_have_the_required_columns_once() {
        match open(b"a,c\n1,2\n") {
            Err(FileError::MissingColumns { missing, .. }) => assert_eq!(missing, ["b"]),
            other => panic!("{:?}", other.err()),
        }
        match open(b"a,b,a\n1,2,3\n") {
            Err(FileError::DuplicateColumn {
                name,
                first,
                second,
            }) => assert_eq!((name.as_str(), first, second), ("a", 1, 3)),
            other => panic!("{:?}", other.err()),
        }
        assert!(matches!(open(b""), Err(FileError::Empty)));
        assert!(matches!(open(b"\n\n"), Err(FileError::Empty)));
        let err = open(b"a,b\xFF\n").err().unwrap();
        assert_eq!(
            err.to_string(),
            "line 1, column #2: not UTF-8 (the file must be UTF-8)"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
        // Latin-1 "é" on the third line of a record that starts on line 2.
        let err = records(b"a,b\n1,\"x\ny\ncaf\xE9\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4, column b: not UTF-8 (the file must be UTF-8)"
        );
    }

    #[test]
    fn the_csv_crate_ends_an_open_quote_silently_and_the_watch_catches_it() {
        // What csv 1.x does by itself: a record ending inside a quote at the end of the input
        // is a record like any other.
        let mut lenient = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&b"a,b\n1,\"cut sho"[..]);
        let all: Vec<_> = lenient.records().collect();
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(all.len(), 2);
        // Here it is refused, with the line the quote opened on, whether or not the field
        // count happens to be right.
        assert!(matches!(
            records(b"a,b\n1,2\n3,\"cut\nsho").unwrap_err(),
            FileError::UnclosedQuote { line: 3 }
        ));
        assert!(matches!(
            records(b"a,b\n1,2\n\"cut\nsho").unwrap_err(),
            FileError::UnclosedQuote { line: 3 }
        ));
        assert!(matches!(
            records(b"a,b\n1,2\n3,\"cut\n").unwrap_err(),
            FileError::UnclosedQuote { line: 3 }
        ));
    }

    #[test]
    fn a_last_record_cut_short_is_a_truncated_file() {
        let err = records(b"a,b,c\n1,2,3\n4,5").unwrap_err();
        assert!(
            matches!(
                err,
                FileError::Truncated {
                    line: 3,
                    expected: 3,
                    found: 2
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 3: the file is truncated: its last record has 2 of 3 fields and no line end"
        );
        // With its line end, it is a record with too few fields.
        assert!(matches!(
            records(b"a,b,c\n1,2,3\n4,5\n").unwrap_err(),
            FileError::FieldCount {
                line: 3,
                expected: 3,
                found: 2
            }
        ));
    }

    #[test]
    fn a_quote_left_open_in_the_middle_is_a_broken_quote() {
        // The field opened on line 2 runs to the next quote, which csv takes for its closing
        // quote: a record of the right length that swallowed line 3. Text after a closing quote
        // gives it away.
        let text = b"a,b,c\n1,\"abc,2\n3,\"x\",4\n5,6,7\n";
        let mut lenient = csv::Reader::from_reader(&text[..]);
        let swallowed: Vec<_> = lenient.records().map(Result::unwrap).collect();
        assert_eq!(swallowed.len(), 2);
        assert_eq!(&swallowed[0][1], "abc,2\n3,x\"");
        let err = records(text).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::BrokenQuote {
                    line: 2,
                    closed_on: 3
                }
            ),
            "{err:?}"
        );
        // A quote not doubled inside a quoted field.
        assert!(matches!(
            records(b"a,b\n1,\"say \"hi\" now\"\n").unwrap_err(),
            FileError::BrokenQuote {
                line: 2,
                closed_on: 2
            }
        ));
        // A record over several lines with the wrong number of fields.
        assert!(matches!(
            records(b"a,b\n1,\"x\ny\",3\n").unwrap_err(),
            FileError::RecordRunsOn {
                line: 2,
                last_line: 3,
                expected: 2,
                found: 3
            }
        ));
        // Records with too many fields on one line.
        assert!(matches!(
            records(b"a,b\n1,2\n3,4,5\n6,7\n").unwrap_err(),
            FileError::FieldCount {
                line: 3,
                expected: 2,
                found: 3
            }
        ));
    }

    #[test]
    fn quotes_inside_unquoted_fields_and_escaped_quotes_are_text() {
        assert_eq!(
            records(b"a,b\n1x\"y,\"say \"\"hi\"\"\"\n").unwrap(),
            vec![row(2, &["1x\"y", "say \"hi\""])]
        );
    }

    /// Tiny deterministic generator (no dependency for a few thousand random inputs).
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn random_bytes_never_panic_and_the_watch_counts_records_as_csv_does() {
        let alphabet = b"ab,\"\n\r \xE9\xEF\xBB\xBF1";
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..3000 {
            let len = (next(&mut seed) % 60) as usize;
            let mut text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next(&mut seed) % alphabet.len() as u64) as usize])
                .collect();
            if next(&mut seed) % 4 == 0 {
                text.splice(0..0, *b"\xEF\xBB\xBF");
            }
            // Ours: no panic, whatever the bytes.
            let _ = records(&text);
            // The watch sees as many records as csv-core yields.
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(Watch::new(&text[..]));
            let mut raw = ByteRecord::new();
            let mut count = 0;
            while csv.read_byte_record(&mut raw).unwrap() {
                count += 1;
            }
            let mut watch = csv.into_inner();
            let mut seen = 0;
            while watch.next_record_line().is_some() {
                seen += 1;
            }
            assert_eq!(seen, count, "{:?}", String::from_utf8_lossy(&text));
        }
    }
}
