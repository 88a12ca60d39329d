//! The UCDP GED reader on real GED files: the committed 20-row fixture (always) and the shared
//! files (`$SITREP_SHARED_DATA/ucdp`: Syria 2016-2019 in codebook 19.1, a 1,000-row sample of
//! 23.1). Every row is valid, and counts, fatality sums, event types and each row's fields equal
//! what the file says, computed here with the `csv` crate alone.

mod shared_data;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;

use sitrep_domain::model::incident::ActorRole;
use sitrep_domain::model::values::{DatePrecision, GeoPrecision, Source, UncertainCount};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_interchange::countries;
use sitrep_interchange::dataset_file::DatasetFile;
use sitrep_interchange::record::ImportedRow;
use sitrep_interchange::ucdp;

type Record = HashMap<String, String>;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ucdp_ged_v23_20.csv")
}

fn read(path: &PathBuf) -> DatasetFile {
    let file = ucdp::read(File::open(path).unwrap()).unwrap();
    assert!(
        file.rejected.is_empty(),
        "{}: {} rejected, first: {:?}",
        path.display(),
        file.rejected.len(),
        file.rejected.first().map(|r| r.error.to_string())
    );
    assert!(file.unmapped_columns.is_empty());
    file
}

fn row_of<'a>(file: &'a DatasetFile, id: &str) -> &'a ImportedRow {
    file.rows
        .iter()
        .find(|r| r.external_ref.id() == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

fn some(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn number(r: &Record, column: &str) -> u32 {
    r[column].parse().unwrap()
}

/// Checks every field of `row` against the file's `record`.
fn assert_row_is_record(row: &ImportedRow, r: &Record) {
    let id = &r["id"];
    let f = &row.facts;
    assert_eq!(row.external_ref.as_str(), format!("ucdp:{id}"));
    assert_eq!(f.time.start.to_string(), r["date_start"][..10], "{id}");
    assert_eq!(f.time.end.to_string(), r["date_end"][..10], "{id}");
    let precision = match (r["date_prec"].as_str(), f.time.start == f.time.end) {
        ("1", true) => DatePrecision::Day,
        ("1", false) | ("2", _) => DatePrecision::Days,
        ("3", _) => DatePrecision::Week,
        ("4", _) => DatePrecision::Month,
        _ => DatePrecision::Year,
    };
    assert_eq!(f.time.precision, precision, "{id}");
    let (event_type, sub_event_type) = match r["type_of_violence"].as_str() {
        "3" => (EventType::ViolenceAgainstCivilians, SubEventType::Attack),
        _ => (EventType::Battles, SubEventType::ArmedClash),
    };
    assert_eq!(
        (f.event_type, f.sub_event_type),
        (event_type, sub_event_type),
        "{id}"
    );
    assert_eq!(
        Some(f.place.country.as_str()),
        countries::by_name(&r["country"]).map(|c| c.alpha3),
        "{id}"
    );
    assert_eq!(f.place.admin1, some(&r["adm_1"]), "{id}");
    assert_eq!(f.place.admin2, some(&r["adm_2"]), "{id}");
    assert_eq!(f.place.location, some(&r["where_coordinates"]), "{id}");
    let point = f.place.coordinates.unwrap();
    assert_eq!(
        point.latitude,
        r["latitude"].parse::<f64>().unwrap(),
        "{id}"
    );
    assert_eq!(
        point.longitude,
        r["longitude"].parse::<f64>().unwrap(),
        "{id}"
    );
    let where_prec: usize = r["where_prec"].parse().unwrap();
    let geo = [
        GeoPrecision::Exact,
        GeoPrecision::Near,
        GeoPrecision::Admin2,
        GeoPrecision::Admin1,
        GeoPrecision::Region,
        GeoPrecision::Country,
        GeoPrecision::WaterOrAir,
    ][where_prec - 1];
    assert_eq!(f.place.precision, geo, "{id}");
    let (low, best, high) = (number(r, "low"), number(r, "best"), number(r, "high"));
    assert_eq!(
        f.fatalities,
        UncertainCount::range(low.min(best), best, high.max(best)),
        "{id}"
    );
    let actors: Vec<_> = row
        .actors
        .iter()
        .map(|a| (a.name.as_str(), a.role))
        .collect();
    assert_eq!(
        actors,
        [
            (r["side_a"].as_str(), ActorRole::Perpetrator),
            (r["side_b"].as_str(), ActorRole::Target)
        ],
        "{id}"
    );
    // Sources: the offices, else the original sources, else UCDP; each once.
    let list = |column: &str| {
        let mut names: Vec<String> = Vec::new();
        for name in r[column]
            .split(';')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.to_owned());
            }
        }
        names
    };
    let mut sources = list("source_office");
    if sources.is_empty() {
        sources = list("source_original");
    }
    if sources.is_empty() {
        sources = vec!["UCDP GED".to_owned()];
    }
    let mapped: Vec<String> = row.sources.iter().map(|s| s.name.clone()).collect();
    assert_eq!(mapped, sources, "{id}");
    // Attributes: every other column when not empty, on one line; the figures out of order.
    let fields = [
        "id",
        "side_a",
        "side_b",
        "source_office",
        "where_prec",
        "where_coordinates",
        "adm_1",
        "adm_2",
        "latitude",
        "longitude",
        "country",
        "date_prec",
        "date_start",
        "date_end",
        "low",
        "best",
        "high",
    ];
    let mut attributes: BTreeMap<String, String> = r
        .iter()
        .filter(|(c, v)| !fields.contains(&c.as_str()) && !v.trim().is_empty())
        .map(|(c, v)| {
            (
                c.clone(),
                v.trim().replace("\r\n", " ").replace(['\r', '\n'], " "),
            )
        })
        .collect();
    if low > best {
        attributes.insert("low".into(), r["low"].clone());
    }
    if high < best {
        attributes.insert("high".into(), r["high"].clone());
    }
    assert_eq!(f.attributes, attributes, "{id}");
}

/// Reads `path` with the reader and with the `csv` crate, and compares them whole.
fn assert_file_is_read_as_written(
    path: &PathBuf,
    expected_rows: usize,
) -> (DatasetFile, Vec<Record>) {
    let records = shared_data::records(path);
    assert_eq!(records.len(), expected_rows);
    let file = read(path);
    assert_eq!(file.rows.len(), records.len());
    for (row, record) in file.rows.iter().zip(&records) {
        assert_row_is_record(row, record);
    }
    let by_type = |types: &mut dyn Iterator<Item = EventType>| {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for t in types {
            *counts.entry(t.label()).or_default() += 1;
        }
        counts
    };
    let from_file = by_type(&mut records.iter().map(|r| {
        if r["type_of_violence"] == "3" {
            EventType::ViolenceAgainstCivilians
        } else {
            EventType::Battles
        }
    }));
    assert_eq!(
        by_type(&mut file.rows.iter().map(|r| r.facts.event_type)),
        from_file
    );
    eprintln!("{}: {} rows, {from_file:?}", path.display(), records.len());
    (file, records)
}

/// The sums of `low`, `best`, `high` of the file, and of the mapped rows: the range as stored,
/// and the figures as the file wrote them (the stored ones, or the attribute keeping a figure
/// out of order).
fn sums(file: &DatasetFile, records: &[Record]) -> ([u64; 3], [u64; 3], [u64; 3]) {
    let of_file =
        ["low", "best", "high"].map(|c| records.iter().map(|r| u64::from(number(r, c))).sum());
    let widened = [
        records
            .iter()
            .map(|r| u64::from(number(r, "low").min(number(r, "best"))))
            .sum(),
        of_file[1],
        records
            .iter()
            .map(|r| u64::from(number(r, "high").max(number(r, "best"))))
            .sum(),
    ];
    let stored = [
        file.rows
            .iter()
            .map(|r| u64::from(r.facts.fatalities.low))
            .sum(),
        file.rows
            .iter()
            .map(|r| u64::from(r.facts.fatalities.best))
            .sum(),
        file.rows
            .iter()
            .map(|r| u64::from(r.facts.fatalities.high))
            .sum(),
    ];
    let written = |row: &ImportedRow, name: &str, stored: u32| -> u64 {
        row.facts
            .attributes
            .get(name)
            .map_or(u64::from(stored), |v| v.parse().unwrap())
    };
    let as_written = [
        file.rows
            .iter()
            .map(|r| written(r, "low", r.facts.fatalities.low))
            .sum(),
        stored[1],
        file.rows
            .iter()
            .map(|r| written(r, "high", r.facts.fatalities.high))
            .sum(),
    ];
    assert_eq!(stored, widened);
    assert_eq!(as_written, of_file);
    (of_file, stored, as_written)
}

#[test]
fn the_committed_fixture_reads_whole() {
    let (file, records) = assert_file_is_read_as_written(&fixture(), 20);
    let (of_file, stored, _) = sums(&file, &records);
    // The fixture holds a row whose low is above its best: the stored range differs.
    assert!(stored[0] < of_file[0], "{stored:?} {of_file:?}");
    assert_eq!(file.header.len(), 49);
}

/// A row with a span of days (a week's precision), no office and an original source, looked at
/// by hand: UCDP 21300, Angola, May 1989.
#[test]
fn a_row_with_a_date_span() {
    let file = read(&fixture());
    let row = row_of(&file, "21300");
    let f = &row.facts;
    assert_eq!(row.line, 3);
    assert_eq!(
        (f.time.start.to_string(), f.time.end.to_string()),
        ("1989-05-10".into(), "1989-05-16".into())
    );
    assert_eq!(f.time.precision, DatePrecision::Week);
    assert_eq!(f.place.country.as_str(), "AGO");
    assert_eq!(f.place.admin1.as_deref(), Some("Lunda Sul province"));
    assert_eq!(f.place.admin2, None);
    assert_eq!(f.place.location.as_deref(), Some("Lunda Sul province"));
    assert_eq!(f.place.precision, GeoPrecision::Admin1);
    let point = f.place.coordinates.unwrap();
    assert_eq!((point.latitude, point.longitude), (-9.65, 20.4));
    assert_eq!(
        (f.event_type, f.sub_event_type),
        (EventType::Battles, SubEventType::ArmedClash)
    );
    assert_eq!(f.fatalities, UncertainCount::range(14, 14, 14));
    assert_eq!(row.sources, [Source::named("army statement")]);
    let actors: Vec<_> = row
        .actors
        .iter()
        .map(|a| (a.name.as_str(), a.role, a.actor_type))
        .collect();
    assert_eq!(
        actors,
        [
            (
                "Government of Angola",
                ActorRole::Perpetrator,
                ActorType::StateForces
            ),
            ("UNITA", ActorRole::Target, ActorType::RebelForces)
        ]
    );
    let a = &f.attributes;
    assert_eq!(a["relid"], "ANG-1989-1-7-62.3");
    assert_eq!(a["dyad_name"], "Government of Angola - UNITA");
    assert_eq!(a["deaths_b"], "14");
    assert_eq!(a["number_of_sources"], "-1");
    assert_eq!(a["type_of_violence"], "1");
    assert_eq!(a["gwnoa"], "540");
    assert!(!a.contains_key("gwnob") && !a.contains_key("source_office"));
    assert!(a["source_article"].starts_with("Reuters 1989-05-17 \"ANGOLAN UNITA REBELS"));

    // One-sided violence; a row naming no source; figures out of order.
    let one_sided = row_of(&file, "370730");
    assert_eq!(
        one_sided.facts.event_type,
        EventType::ViolenceAgainstCivilians
    );
    assert_eq!(one_sided.actors[1].actor_type, ActorType::Civilians);
    let unsourced = row_of(&file, "52588");
    assert_eq!(unsourced.sources, [Source::named("UCDP GED")]);
    assert_eq!(
        unsourced.facts.attributes["source_article"],
        "Militant succumbs to injuries in Pakistan forces' custody in tribal area 23 December 2010 BBC Monitoring"
    );
    let out_of_order = row_of(&file, "236880");
    assert_eq!(
        out_of_order.facts.fatalities,
        UncertainCount::range(2, 2, 3)
    );
    assert_eq!(out_of_order.facts.attributes["low"], "3");
}

#[test]
fn the_syria_file_reads_whole_with_the_published_sums() {
    let Some(path) = shared_data::file("ucdp/ucdp_ged_syria_2016-2019.csv") else {
        return;
    };
    let (file, records) = assert_file_is_read_as_written(&path, 16_566);
    let (of_file, stored, as_written) = sums(&file, &records);
    // The sums the data's README gives, from the file and from the mapped rows.
    assert_eq!(of_file, [104_929, 112_337, 119_020]);
    assert_eq!(as_written, [104_929, 112_337, 119_020]);
    eprintln!("stored ranges (widened to hold best): low, best, high = {stored:?}");
    let widened = file
        .rows
        .iter()
        .filter(|r| {
            r.facts.attributes.contains_key("low") || r.facts.attributes.contains_key("high")
        })
        .count();
    assert_eq!(widened, 101);
    assert_eq!(
        records
            .iter()
            .filter(|r| r["date_start"] != r["date_end"])
            .count(),
        file.rows
            .iter()
            .filter(|r| r.facts.time.start != r.facts.time.end)
            .count()
    );
    // A span of three months, known to the year (date_prec 5).
    let span = row_of(&file, "219264");
    assert_eq!(span.facts.time.start.to_string(), "2016-01-01");
    assert_eq!(span.facts.time.end.to_string(), "2016-04-01");
    assert_eq!(span.facts.time.precision, DatePrecision::Year);
    assert_eq!(span.facts.place.precision, GeoPrecision::Admin2);
    assert_eq!(span.facts.fatalities, UncertainCount::range(16, 16, 16));
    assert_eq!(span.facts.attributes["deaths_b"], "16");
    // Codebook 19.1 has gwnob but no gwnoa.
    assert!(file.header.iter().any(|c| c == "gwnob") && !file.header.iter().any(|c| c == "gwnoa"));
}

#[test]
fn the_v23_sample_reads_whole() {
    let Some(path) = shared_data::file("ucdp/ucdp_ged_v23_sample_1000.csv") else {
        return;
    };
    let (file, records) = assert_file_is_read_as_written(&path, 1000);
    let (of_file, _, as_written) = sums(&file, &records);
    assert_eq!(as_written, of_file);
    let countries: std::collections::BTreeSet<&str> = file
        .rows
        .iter()
        .map(|r| r.facts.place.country.as_str())
        .collect();
    assert!(countries.len() > 50, "{countries:?}");
}

/// Reading and mapping speed, in a release build:
/// `cargo test --release -p sitrep-interchange --test ucdp_files -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run it in a release build"]
fn read_speed() {
    let Some(path) = shared_data::file("ucdp/ucdp_ged_syria_2016-2019.csv") else {
        return;
    };
    shared_data::measure("UCDP Syria 2016-2019", &path, 10, |bytes| {
        ucdp::read(bytes).unwrap()
    });
}
