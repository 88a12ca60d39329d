//! Broken dataset files: each fault gives the right error, with its line and column. The files
//! are built here, in a temporary folder, from made-up rows in ACLED's shape and (when
//! `SITREP_SHARED_DATA` is set) from the first rows of a real ACLED export: bad coordinates, a
//! missing column, a broken quote, a truncated file, Latin-1 bytes, another format's header.

mod shared_data;

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use sitrep_interchange::csv_file::FileError;
use sitrep_interchange::dataset_file::DatasetFile;
use sitrep_interchange::{acled, ucdp};

const HEADER: &str = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp";

/// Made-up rows in ACLED's shape (no real ACLED row is committed).
const ROWS: [&str; 4] = [
    "TST1,2022-03-02,2022,1,Political violence,Battles,Armed clash,Rebels A,,2,Military Forces of X,,1,12,,368,Middle East,Iraq,Duhok,Zakho,,Village Y,37.1,43.2,2,Paper One,National,\"Made up, for a test.\",3,,1650000000",
    "TST2,2022-03-03,2022,1,Demonstrations,Protests,Peaceful protest,Protesters (Iraq),,6,,,0,60,,368,Middle East,Iraq,Baghdad,Baghdad,,Baghdad,33.3,44.4,1,Paper Two,National,\"Made up, a protest.\",0,,1650000001",
    "TST3,2022-03-04,2022,2,Political violence,Explosions/Remote violence,Air/drone strike,Military Forces of X,,1,Rebels A,,2,12,,760,Middle East,Syria,Aleppo,Azaz,,Village Z,36.5,37.1,1,Paper One; Paper Two,Other,\"Made up, a strike.\",1,,1650000002",
    "TST4,2022-03-05,2022,1,Political violence,Violence against civilians,Attack,Rebels A,,2,Civilians (Syria),,7,27,,760,Middle East,Syria,Idlib,Idlib,,Idlib,35.9,36.6,1,Paper Two,Other,\"Made up, an attack.\",2,,1650000003",
];

/// A test file in the temporary folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        // Tests run in parallel threads of one process: a number of its own for each file.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sitrep-bad-files-{}-{}-{name}.csv",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, bytes).unwrap();
        Self(path)
    }

    fn read_acled(&self) -> Result<DatasetFile, FileError> {
        acled::read(File::open(&self.0).unwrap())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A file's lines: the header and the records (one line each), and the line end.
#[derive(Clone)]
struct Lines {
    lines: Vec<String>,
    end: &'static str,
}

impl Lines {
    fn made_up() -> Self {
        let mut lines = vec![HEADER.to_owned()];
        lines.extend(ROWS.iter().map(|r| (*r).to_owned()));
        Self { lines, end: "\n" }
    }

    /// The header and the first rows of a real ACLED export, if the shared data is there.
    fn real() -> Option<Self> {
        let path = shared_data::file("acled/acled_events_2022H1_global_9000.csv")?;
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<String> = text.split("\r\n").take(6).map(str::to_owned).collect();
        // One line each: rows whose notes hold a line break would not do.
        for line in &lines {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes());
            assert_eq!(reader.records().next().unwrap().unwrap().len(), 31);
        }
        Some(Self { lines, end: "\r\n" })
    }

    fn bytes(&self) -> Vec<u8> {
        self.lines
            .iter()
            .flat_map(|l| [l.as_bytes(), self.end.as_bytes()].concat())
            .collect()
    }

    /// The file with `column` of data line `row` (1-based: the line after the header is 1) set
    /// to `value`, written back as CSV.
    fn with_field(&self, row: usize, column: &str, value: &str) -> Vec<u8> {
        let index = HEADER.split(',').position(|c| c == column).unwrap();
        let mut lines = self.clone();
        lines.lines[row] = rewrite(&lines.lines[row], |fields| fields[index] = value.to_owned());
        lines.bytes()
    }

    /// The file without `column`.
    fn without_column(&self, column: &str) -> Vec<u8> {
        let index = HEADER.split(',').position(|c| c == column).unwrap();
        let mut lines = self.clone();
        for line in &mut lines.lines {
            *line = rewrite(line, |fields| {
                fields.remove(index);
            });
        }
        lines.bytes()
    }
}

/// `line` (one CSV record) with its fields changed by `change`.
fn rewrite(line: &str, change: impl FnOnce(&mut Vec<String>)) -> String {
    let mut fields: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    change(&mut fields);
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(&fields).unwrap();
    String::from_utf8(writer.into_inner().unwrap())
        .unwrap()
        .trim_end()
        .to_owned()
}

/// Byte offset in `bytes` of the start of data line `row` (1-based) of `lines`.
fn offset_of_row(lines: &Lines, row: usize) -> usize {
    lines.lines[..row]
        .iter()
        .map(|l| l.len() + lines.end.len())
        .sum()
}

/// Every fault, on `lines` (made-up or real).
fn assert_faults_are_named(lines: &Lines) {
    let rows = lines.lines.len() - 1;
    let good = TempFile::new("good", &lines.bytes()).read_acled().unwrap();
    assert_eq!(
        (good.rows.len(), good.rejected.len()),
        (rows, 0),
        "{:?}",
        good.rejected
    );

    // Bad coordinates: that row rejected, naming its line and column; the others read.
    let file = TempFile::new("latitude", &lines.with_field(2, "latitude", "123"))
        .read_acled()
        .unwrap();
    assert_eq!(file.rows.len(), rows - 1);
    let rejected = &file.rejected[0];
    assert_eq!(
        (rejected.line, rejected.error.column.as_str()),
        (3, "latitude")
    );
    assert_eq!(
        rejected.error.to_string(),
        "line 3, column latitude: \"123\" is out of range: must be between -90 and 90"
    );
    assert_eq!(rejected.fields[22], "123");
    assert_eq!(rejected.fields.len(), 31);

    // A missing column.
    match TempFile::new("missing", &lines.without_column("latitude")).read_acled() {
        Err(FileError::MissingColumns { missing, .. }) => assert_eq!(missing, ["latitude"]),
        other => panic!("{:?}", other.map(|f| f.rows.len())),
    }

    // A duplicate column.
    let mut duplicated = lines.clone();
    duplicated.lines[0] = duplicated.lines[0].replacen("admin3", "admin2", 1);
    match TempFile::new("duplicate", &duplicated.bytes()).read_acled() {
        Err(FileError::DuplicateColumn {
            name,
            first,
            second,
        }) => {
            assert_eq!((name.as_str(), first, second), ("admin2", 20, 21));
        }
        other => panic!("{:?}", other.map(|f| f.rows.len())),
    }

    // A broken quote: the closing quote of row 2's notes removed; the field runs on into row
    // 3 and is closed by row 3's opening quote, with text after it.
    let mut broken = lines.clone();
    let notes_end = broken.lines[2].rfind("\",").unwrap();
    broken.lines[2].remove(notes_end);
    let err = TempFile::new("quote", &broken.bytes())
        .read_acled()
        .unwrap_err();
    assert!(
        matches!(
            err,
            FileError::BrokenQuote {
                line: 3,
                closed_on: 4
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("line 3: a broken quote"),
        "{err}"
    );

    // Truncated in the last row's notes: a quote never closed.
    let bytes = lines.bytes();
    let last_notes = offset_of_row(lines, rows) + lines.lines[rows].rfind(",\"").unwrap();
    let err = TempFile::new("cut-in-quote", &bytes[..last_notes + 10])
        .read_acled()
        .unwrap_err();
    let last_line = rows as u64 + 1;
    assert!(
        matches!(err, FileError::UnclosedQuote { line } if line == last_line),
        "{err:?}"
    );
    // Truncated after a field: the last record is short, and has no line end.
    let last_comma = bytes.iter().rposition(|&b| b == b',').unwrap();
    let err = TempFile::new("cut", &bytes[..last_comma])
        .read_acled()
        .unwrap_err();
    assert!(
        matches!(err, FileError::Truncated { line, expected: 31, found: 30 } if line == last_line),
        "{err:?}"
    );
    // Truncated inside the last field: a shorter number, undetectable as such, still a row.
    let cut = TempFile::new("cut-number", &bytes[..bytes.len() - lines.end.len() - 2])
        .read_acled()
        .unwrap();
    assert_eq!(cut.rows.len(), rows);

    // Latin-1 bytes ("café" written by a Windows export) in row 3's notes.
    let mut latin1 = lines.bytes();
    let at = offset_of_row(lines, 3) + lines.lines[3].rfind(",\"").unwrap() + 2;
    latin1.splice(at..at, b"caf\xE9 ".iter().copied());
    let err = TempFile::new("latin1", &latin1).read_acled().unwrap_err();
    assert!(
        matches!(&err, FileError::NotUtf8 { line: 4, column } if column == "notes"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "line 4, column notes: not UTF-8 (the file must be UTF-8)"
    );

    // A UTF-8 byte order mark is fine.
    let with_bom = [&b"\xEF\xBB\xBF"[..], &lines.bytes()].concat();
    let file = TempFile::new("bom", &with_bom).read_acled().unwrap();
    assert_eq!(file.rows.len(), rows);
    assert_eq!(file.header[0], "event_id_cnty");

    // An ACLED file given to the UCDP reader.
    match ucdp::read(&lines.bytes()[..]) {
        Err(FileError::MissingColumns { missing, .. }) => {
            assert!(missing.contains(&"id".to_owned()) && missing.contains(&"best".to_owned()));
        }
        other => panic!("{:?}", other.map(|f| f.rows.len())),
    }
}

#[test]
fn faults_in_made_up_rows_are_named() {
    assert_faults_are_named(&Lines::made_up());
}

#[test]
fn faults_in_real_acled_rows_are_named() {
    let Some(lines) = Lines::real() else {
        return;
    };
    assert_faults_are_named(&lines);
}

#[test]
fn a_ucdp_file_given_to_the_acled_reader_names_what_it_lacks() {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ucdp_ged_v23_20.csv");
    let err = acled::read(File::open(fixture).unwrap()).unwrap_err();
    let FileError::MissingColumns { missing, .. } = &err else {
        panic!("{err:?}");
    };
    // Of ACLED's 28 required columns, a GED file has year, country, region, latitude and
    // longitude.
    assert_eq!(missing.len(), 23);
    assert!(missing.contains(&"event_id_cnty".to_owned()));
    assert!(
        err.to_string()
            .ends_with("timestamp): is this an ACLED export?"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("line 1: the header lacks 23 required columns of an ACLED export (event_id_cnty, event_date,"),
        "{err}"
    );
}

#[test]
fn an_empty_file_and_a_file_with_only_a_header() {
    assert!(matches!(acled::read(&b""[..]), Err(FileError::Empty)));
    let file = acled::read(format!("{HEADER}\r\n").as_bytes()).unwrap();
    assert_eq!(file.row_count(), 0);
}
