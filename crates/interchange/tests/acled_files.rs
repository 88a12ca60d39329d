//! The ACLED reader on ACLED's real exports (`$SITREP_SHARED_DATA/acled`): every row is valid,
//! and what the mapped rows say (counts, fatalities, event types, each row's fields) equals
//! what the file says, computed here with the `csv` crate alone.

mod shared_data;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;

use sitrep_domain::model::incident::ActorRole;
use sitrep_domain::model::values::{DatePrecision, GeoPrecision};
use sitrep_domain::model::vocab::ActorType;
use sitrep_interchange::acled;
use sitrep_interchange::countries;
use sitrep_interchange::record::ImportedRow;

const FILES: [(&str, usize); 3] = [
    ("acled/acled_events_2022H1_global_9000.csv", 9000),
    ("acled/acled_events_2022H1_iraq_syria.csv", 528),
    ("acled/acled_events_argentina_2022-06_old_dummy.csv", 326),
];

type Record = HashMap<String, String>;

/// `; `-separated items, as this test reads ACLED's lists.
fn items(text: &str) -> Vec<String> {
    text.split("; ")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn some(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// Checks every field of `row` against the file's `record`.
fn assert_row_is_record(row: &ImportedRow, r: &Record) {
    let id = &r["event_id_cnty"];
    let f = &row.facts;
    assert_eq!(row.external_ref.as_str(), format!("acled:{id}"));
    assert_eq!(f.external_refs, std::slice::from_ref(&row.external_ref));
    assert_eq!(f.time.start.to_string(), r["event_date"], "{id}");
    assert_eq!(f.time.end, f.time.start, "{id}");
    let precision = match r["time_precision"].as_str() {
        "1" => DatePrecision::Day,
        "2" => DatePrecision::Week,
        _ => DatePrecision::Month,
    };
    assert_eq!(f.time.precision, precision, "{id}");
    assert_eq!(f.event_type.label(), r["event_type"], "{id}");
    assert_eq!(f.sub_event_type.label(), r["sub_event_type"], "{id}");
    let numeric: u16 = r["iso"].parse().unwrap();
    assert_eq!(
        Some(f.place.country.as_str()),
        countries::by_numeric(numeric).map(|c| c.alpha3),
        "{id}"
    );
    assert_eq!(f.place.admin1, some(&r["admin1"]), "{id}");
    assert_eq!(f.place.admin2, some(&r["admin2"]), "{id}");
    assert_eq!(f.place.admin3, some(&r["admin3"]), "{id}");
    assert_eq!(f.place.location, some(&r["location"]), "{id}");
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
    let geo = match r["geo_precision"].as_str() {
        "1" => GeoPrecision::Exact,
        "2" => GeoPrecision::Near,
        _ => GeoPrecision::Admin1,
    };
    assert_eq!(f.place.precision, geo, "{id}");
    assert_eq!(f.fatalities.best.to_string(), r["fatalities"], "{id}");
    assert_eq!(
        (f.fatalities.low, f.fatalities.high),
        (f.fatalities.best, f.fatalities.best)
    );
    assert_eq!(f.notes, some(&r["notes"]), "{id}");
    assert_eq!(f.tags, items(&r["tags"]), "{id}");
    let sources: Vec<String> = row.sources.iter().map(|s| s.name.clone()).collect();
    assert_eq!(sources, items(&r["source"]), "{id}");
    // Attributes: the table's columns without a field of their own, when not empty.
    let attributes: BTreeMap<String, String> = [
        "disorder_type",
        "inter1",
        "inter2",
        "interaction",
        "civilian_targeting",
        "region",
        "country",
        "source_scale",
        "timestamp",
    ]
    .into_iter()
    .filter(|c| !r[*c].is_empty())
    .map(|c| (c.to_owned(), r[c].clone()))
    .collect();
    assert_eq!(f.attributes, attributes, "{id}");
    // Actors: actor1, its associates, actor2, its associates, typed by inter1 / inter2.
    let mut actors = Vec::new();
    for (actor, assoc, inter, role, assoc_role) in [
        (
            "actor1",
            "assoc_actor_1",
            "inter1",
            ActorRole::Perpetrator,
            ActorRole::PerpetratorAssociate,
        ),
        (
            "actor2",
            "assoc_actor_2",
            "inter2",
            ActorRole::Target,
            ActorRole::TargetAssociate,
        ),
    ] {
        let code: u8 = r[inter].parse().unwrap();
        if code == 0 {
            continue;
        }
        let actor_type = ActorType::from_inter_code(code).unwrap();
        actors.push((r[actor].clone(), role, actor_type));
        for name in items(&r[assoc]) {
            actors.push((name, assoc_role, actor_type));
        }
    }
    let mapped: Vec<_> = row
        .actors
        .iter()
        .map(|a| (a.name.clone(), a.role, a.actor_type))
        .collect();
    assert_eq!(mapped, actors, "{id}");
}

#[test]
fn every_real_acled_file_reads_whole_and_as_the_file_says() {
    for (relative, expected_rows) in FILES {
        let Some(path) = shared_data::file(relative) else {
            return;
        };
        let records = shared_data::records(&path);
        assert_eq!(records.len(), expected_rows, "{relative}");
        let file = acled::read(File::open(&path).unwrap()).unwrap();
        assert!(
            file.rejected.is_empty(),
            "{relative}: {} rejected, first: {:?}",
            file.rejected.len(),
            file.rejected.first().map(|r| r.error.to_string())
        );
        assert!(file.unmapped_columns.is_empty(), "{relative}");
        assert_eq!(file.rows.len(), records.len(), "{relative}");

        // Totals, computed from the file and from the mapped rows.
        let fatalities: u64 = records
            .iter()
            .map(|r| r["fatalities"].parse::<u64>().unwrap())
            .sum();
        let mapped: u64 = file
            .rows
            .iter()
            .map(|r| u64::from(r.facts.fatalities.best))
            .sum();
        assert_eq!(mapped, fatalities, "{relative}");
        let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_sub_type: BTreeMap<String, usize> = BTreeMap::new();
        for r in &records {
            *by_type.entry(r["event_type"].clone()).or_default() += 1;
            *by_sub_type.entry(r["sub_event_type"].clone()).or_default() += 1;
        }
        let mut mapped_by_type: BTreeMap<String, usize> = BTreeMap::new();
        let mut mapped_by_sub_type: BTreeMap<String, usize> = BTreeMap::new();
        for row in &file.rows {
            *mapped_by_type
                .entry(row.facts.event_type.label().to_owned())
                .or_default() += 1;
            *mapped_by_sub_type
                .entry(row.facts.sub_event_type.label().to_owned())
                .or_default() += 1;
        }
        assert_eq!(mapped_by_type, by_type, "{relative}");
        assert_eq!(mapped_by_sub_type, by_sub_type, "{relative}");
        eprintln!(
            "{relative}: {} rows, {fatalities} fatalities, {by_type:?}",
            records.len()
        );

        // Row by row, field by field, and each row on the line the file has it on.
        let mut line = 2;
        for (row, record) in file.rows.iter().zip(&records) {
            assert_row_is_record(row, record);
            assert_eq!(row.line, line, "{}", record["event_id_cnty"]);
            line += 1 + record
                .values()
                .map(|v| v.matches('\n').count() as u64)
                .sum::<u64>();
        }
    }
}

/// One row with associated actors and two sources, looked at by hand (the first such row of
/// the Argentina snapshot; its values are read from the file, not copied here).
#[test]
fn a_row_with_associated_actors_and_two_sources() {
    let Some(path) = shared_data::file("acled/acled_events_argentina_2022-06_old_dummy.csv") else {
        return;
    };
    let records = shared_data::records(&path);
    let file = acled::read(File::open(&path).unwrap()).unwrap();
    let (index, record) = records
        .iter()
        .enumerate()
        .find(|(_, r)| r["assoc_actor_1"].contains("; ") && items(&r["source"]).len() == 2)
        .expect("the snapshot has a row with several associated actors and two sources");
    let row = &file.rows[index];
    assert_row_is_record(row, record);
    let associates = items(&record["assoc_actor_1"]);
    assert!(associates.len() >= 2);
    assert_eq!(
        row.actors.len(),
        1 + associates.len() + usize::from(!record["actor2"].is_empty())
    );
    assert_eq!(row.actors[0].name, record["actor1"]);
    assert_eq!(row.actors[0].role, ActorRole::Perpetrator);
    for (actor, name) in row.actors[1..].iter().zip(&associates) {
        assert_eq!(&actor.name, name);
        assert_eq!(actor.role, ActorRole::PerpetratorAssociate);
        assert_eq!(actor.actor_type, row.actors[0].actor_type);
    }
    assert_eq!(row.sources.len(), 2);
    assert_eq!(
        format!("{}; {}", row.sources[0].name, row.sources[1].name),
        record["source"]
    );
    assert_eq!(row.facts.place.country.as_str(), "ARG");
}

/// Reading and mapping speed, in a release build:
/// `cargo test --release -p sitrep-interchange --test acled_files -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run it in a release build"]
fn read_speed() {
    let Some(path) = shared_data::file(FILES[0].0) else {
        return;
    };
    shared_data::measure("ACLED global 9000", &path, 20, |bytes| {
        acled::read(bytes).unwrap()
    });
}
