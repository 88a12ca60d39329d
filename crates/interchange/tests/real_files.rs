//! The sync on the real extracts in `SITREP_SHARED_DATA` (skipped, saying so, when it is not
//! set): ACLED's old Argentina snapshot then the newer export's Argentina rows; a revision of the
//! old snapshot made here; every real file into a fresh database, its incidents, deaths and
//! event types against what this test reads from the CSV itself.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use common::*;
use sitrep_domain::model::incident::ExternalRef;
use sitrep_domain::model::vocab::EventType;
use sitrep_domain::store::EventStore;
use sitrep_interchange::dataset_file;
use sitrep_interchange::import::{run_import, FileRows, ImportOutcome};
use sitrep_interchange::incident_id_for;
use sitrep_interchange::record::Dataset;
use uuid::Uuid;

const ARGENTINA_OLD: &str = "acled/acled_events_argentina_2022-06_old_dummy.csv";
const ACLED_GLOBAL: &str = "acled/acled_events_2022H1_global_9000.csv";

/// The file's header and records, as the `csv` crate reads them (independently of sitrep's
/// readers).
fn records(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(path).expect("open the CSV");
    let header = reader.headers().expect("header").clone();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("records");
    (header, records)
}

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn write_csv(path: &Path, header: &csv::StringRecord, records: &[csv::StringRecord]) {
    let mut writer = csv::Writer::from_path(path).expect("create the CSV");
    writer.write_record(header).expect("header");
    for record in records {
        writer.write_record(record).expect("record");
    }
    writer.flush().expect("flush");
}

async fn import_file(store: &EventStore, dataset: Dataset, path: &Path) -> ImportOutcome {
    let file = dataset_file::read(dataset, std::fs::File::open(path).expect("open"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        file.rejected.is_empty(),
        "{}: rejected {:?}",
        path.display(),
        &file.rejected[..file.rejected.len().min(5)]
    );
    run_import(
        store,
        &options(dataset, false),
        FileRows::from(file),
        std::sync::Arc::new(|_, _, _| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Events of the run `run`, by type.
async fn run_events(store: &EventStore, run: Uuid) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT event_type, count(*) FROM events WHERE correlation_id = $1 GROUP BY event_type",
    )
    .bind(run)
    .fetch_all(store.pool())
    .await
    .expect("events of the run")
    .into_iter()
    .collect()
}

async fn retracted_streams(store: &EventStore, run: Uuid) -> HashSet<Uuid> {
    sqlx::query_scalar(
        "SELECT stream_id FROM events WHERE correlation_id = $1 AND event_type = 'IncidentRetracted'",
    )
    .bind(run)
    .fetch_all(store.pool())
    .await
    .expect("retracted streams")
    .into_iter()
    .collect()
}

fn acled_stream(id: &str) -> Uuid {
    incident_id_for(&ExternalRef::new(&format!("acled:{id}")).expect("ref"))
}

#[tokio::test]
async fn argentina_old_snapshot_then_the_newer_export() {
    let Some(data) = shared_data() else { return };
    let (_db, store) = setup().await;
    let old_path = data.join(ARGENTINA_OLD);
    let (header, old) = records(&old_path);
    let (global_header, global) = records(&data.join(ACLED_GLOBAL));
    let (id, date) = (
        column(&header, "event_id_cnty"),
        column(&header, "event_date"),
    );
    let country = column(&global_header, "country");
    let newer: Vec<csv::StringRecord> = global
        .into_iter()
        .filter(|r| &r[country] == "Argentina")
        .collect();
    let temp = tempfile::tempdir().expect("temp dir");
    let newer_path = temp.path().join("argentina_newer.csv");
    write_csv(&newer_path, &global_header, &newer);

    let first = import_file(&store, Dataset::Acled, &old_path).await.summary;
    assert_eq!(
        (first.read, first.new),
        (old.len() as u64, old.len() as u64)
    );

    // What the newer export says, computed from the two files.
    let newer_ids: HashSet<&str> = newer.iter().map(|r| &r[id]).collect();
    let from = newer
        .iter()
        .map(|r| &r[date])
        .min()
        .expect("rows")
        .to_owned();
    let to = newer
        .iter()
        .map(|r| &r[date])
        .max()
        .expect("rows")
        .to_owned();
    let in_both = old.iter().filter(|r| newer_ids.contains(&r[id])).count() as u64;
    let gone: HashSet<Uuid> = old
        .iter()
        .filter(|r| {
            !newer_ids.contains(&r[id]) && (from.as_str()..=to.as_str()).contains(&&r[date])
        })
        .map(|r| acled_stream(&r[id]))
        .collect();
    assert_eq!(in_both, 10, "the extracts share 10 rows");
    assert!(!gone.is_empty());

    let second = import_file(&store, Dataset::Acled, &newer_path)
        .await
        .summary;
    assert_eq!(second.unchanged, in_both, "{second:#?}");
    assert_eq!(second.new, newer.len() as u64 - in_both);
    assert_eq!((second.corrected, second.restored), (0, 0));
    assert_eq!(second.retracted, gone.len() as u64);
    assert_eq!(retracted_streams(&store, second.run).await, gone);

    let again = import_file(&store, Dataset::Acled, &newer_path)
        .await
        .summary;
    assert_eq!(again.events_appended, 0, "{again:#?}");
    assert_eq!(again.unchanged, newer.len() as u64);
}

#[tokio::test]
async fn a_revision_of_the_old_snapshot_gives_exactly_its_corrections() {
    let Some(data) = shared_data() else { return };
    let (_db, store) = setup().await;
    let old_path = data.join(ARGENTINA_OLD);
    let (header, old) = records(&old_path);
    import_file(&store, Dataset::Acled, &old_path).await;

    let (id, date) = (
        column(&header, "event_id_cnty"),
        column(&header, "event_date"),
    );
    let (fatalities, actor2) = (column(&header, "fatalities"), column(&header, "actor2"));
    // Rows strictly inside the snapshot's dates, so that the revision covers the same span.
    let first_day = old.iter().map(|r| r[date].to_owned()).min().expect("rows");
    let last_day = old.iter().map(|r| r[date].to_owned()).max().expect("rows");
    let inside: Vec<usize> = (0..old.len())
        .filter(|&i| old[i][date] > *first_day && old[i][date] < *last_day)
        .collect();
    let with_actor2: Vec<usize> = inside
        .iter()
        .copied()
        .filter(|&i| !old[i][actor2].is_empty())
        .take(2)
        .collect();
    let others: Vec<usize> = inside
        .iter()
        .copied()
        .filter(|i| !with_actor2.contains(i))
        .collect();
    let (revised_deaths, deleted) = (&others[0..3], &others[3..7]);
    assert_eq!(with_actor2.len(), 2, "two rows name an actor2");

    let mut revised = Vec::new();
    for (i, record) in old.iter().enumerate() {
        if deleted.contains(&i) {
            continue;
        }
        let mut fields: Vec<String> = record.iter().map(str::to_owned).collect();
        if revised_deaths.contains(&i) {
            let n: u32 = fields[fatalities].parse().expect("a count");
            fields[fatalities] = (n + 1).to_string();
        }
        if with_actor2.contains(&i) {
            fields[actor2] = "Sitrep Test Militia (Argentina)".to_owned();
        }
        revised.push(csv::StringRecord::from(fields));
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let revised_path = temp.path().join("argentina_revised.csv");
    write_csv(&revised_path, &header, &revised);

    let outcome = import_file(&store, Dataset::Acled, &revised_path)
        .await
        .summary;
    let events = run_events(&store, outcome.run).await;
    let expected: BTreeMap<String, i64> = [
        ("ActorRegistered", 1),
        ("CasualtiesRevised", 3),
        ("ClaimRecorded", 2),
        ("ClaimWithdrawn", 2),
        ("IncidentRetracted", 4),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(events, expected, "{outcome:#?}");
    assert_eq!(
        retracted_streams(&store, outcome.run).await,
        deleted.iter().map(|&i| acled_stream(&old[i][id])).collect()
    );
    assert_eq!((outcome.corrected, outcome.retracted), (5, 4));

    let again = import_file(&store, Dataset::Acled, &revised_path)
        .await
        .summary;
    assert_eq!(again.events_appended, 0, "{again:#?}");
}

/// What a file says, read here from the CSV: rows, deaths (best, low, high) as the file
/// writes them and as an incident holds them (UCDP's few rows with `best` outside `low..high`
/// widened to hold it, as the reader documents), and rows per event type (the stored
/// snake_case name).
struct Expected {
    rows: i64,
    deaths_written: (i64, i64, i64),
    deaths: (i64, i64, i64),
    by_type: BTreeMap<String, i64>,
}

fn expected(dataset: Dataset, path: &Path) -> Expected {
    let (header, records) = records(path);
    let mut by_type = BTreeMap::new();
    let mut deaths = (0, 0, 0);
    let mut deaths_written = (0, 0, 0);
    for record in &records {
        let event_type = match dataset {
            Dataset::Acled => {
                let label = &record[column(&header, "event_type")];
                EventType::from_label(label).unwrap_or_else(|| panic!("event type {label}"))
            }
            Dataset::Ucdp => match &record[column(&header, "type_of_violence")] {
                "3" => EventType::ViolenceAgainstCivilians,
                _ => EventType::Battles,
            },
        };
        let name = serde_json::to_value(event_type).expect("name");
        *by_type
            .entry(name.as_str().expect("a string").to_owned())
            .or_insert(0) += 1;
        let number =
            |name: &str| -> i64 { record[column(&header, name)].parse().expect("a count") };
        match dataset {
            Dataset::Acled => {
                let n = number("fatalities");
                deaths = (deaths.0 + n, deaths.1 + n, deaths.2 + n);
                deaths_written = deaths;
            }
            Dataset::Ucdp => {
                let (low, best, high) = (number("low"), number("best"), number("high"));
                deaths_written = (
                    deaths_written.0 + best,
                    deaths_written.1 + low,
                    deaths_written.2 + high,
                );
                deaths = (
                    deaths.0 + best,
                    deaths.1 + low.min(best),
                    deaths.2 + high.max(best),
                );
            }
        }
    }
    Expected {
        rows: records.len() as i64,
        deaths_written,
        deaths,
        by_type,
    }
}

#[tokio::test]
async fn every_real_file_imports_whole() {
    let Some(data) = shared_data() else { return };
    let files = [
        (Dataset::Acled, ACLED_GLOBAL),
        (Dataset::Acled, "acled/acled_events_2022H1_iraq_syria.csv"),
        (Dataset::Acled, ARGENTINA_OLD),
        (Dataset::Ucdp, "ucdp/ucdp_ged_syria_2016-2019.csv"),
        (Dataset::Ucdp, "ucdp/ucdp_ged_v23_sample_1000.csv"),
    ];
    for (dataset, name) in files {
        let path = data.join(name);
        let want = expected(dataset, &path);
        if name.contains("ucdp_ged_syria") {
            // The figures the data's README gives.
            assert_eq!(want.deaths_written, (112_337, 104_929, 119_020));
        }
        let (_db, store) = setup().await;
        let outcome = import_file(&store, dataset, &path).await.summary;
        assert_eq!(outcome.new as i64, want.rows, "{name}");
        eprintln!(
            "{name}: {} rows in {:.2} s ({:.0} rows/s)",
            outcome.read,
            outcome.seconds,
            outcome.rows_per_second()
        );
        let live = incidents_caught_up(&store).await;
        let (count, best, low, high): (i64, Option<i64>, Option<i64>, Option<i64>) =
            sqlx::query_as(&format!(
                "SELECT count(*), sum(fatalities_best), sum(fatalities_low), sum(fatalities_high) \
                   FROM {}.incident_versions WHERE recorded_to IS NULL AND status = 'active'",
                live.schema
            ))
            .fetch_one(store.pool())
            .await
            .expect("totals");
        assert_eq!(count, want.rows, "{name}");
        assert_eq!(
            (best.unwrap_or(0), low.unwrap_or(0), high.unwrap_or(0)),
            want.deaths,
            "{name}"
        );
        let by_type: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(&format!(
            "SELECT event_type, count(*) FROM {}.incident_versions \
              WHERE recorded_to IS NULL GROUP BY event_type",
            live.schema
        ))
        .fetch_all(store.pool())
        .await
        .expect("by type")
        .into_iter()
        .collect();
        let by_type: BTreeMap<String, i64> = by_type.into_iter().collect();
        assert_eq!(by_type, want.by_type, "{name}");
    }
}
