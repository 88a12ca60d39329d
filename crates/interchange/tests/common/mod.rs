//! Helpers of the interchange tests: a migrated database with its store, hand-made ACLED-like
//! rows, the incidents read model caught up, and counts of the log.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sitrep_domain::model::incident::{ActorRole, ExternalRef, IncidentFacts};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_domain::store::EventStore;
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_interchange::import::{run_import, FileRows, ImportError, ImportOptions, ImportOutcome};
use sitrep_interchange::record::{Dataset, ImportedRow, NamedActor, RowError};
use sitrep_projections::generation::Generation;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::Projector;
use sitrep_testkit::TestDb;

pub async fn setup() -> (TestDb, EventStore) {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(db.pool.clone());
    (db, store)
}

pub fn options(dataset: Dataset, skip_invalid: bool) -> ImportOptions {
    ImportOptions {
        dataset,
        recorded_by: "import-test".into(),
        skip_invalid,
        started: Instant::now(),
    }
}

/// Imports `rows` (all valid) of ACLED.
pub async fn import(store: &EventStore, rows: &[ImportedRow]) -> ImportOutcome {
    import_results(store, rows.iter().cloned().map(Ok).collect(), false)
        .await
        .expect("import")
}

pub async fn import_results(
    store: &EventStore,
    rows: Vec<Result<ImportedRow, RowError>>,
    skip_invalid: bool,
) -> Result<ImportOutcome, ImportError> {
    let file = FileRows {
        rows,
        ..FileRows::default()
    };
    run_import(
        store,
        &options(Dataset::Acled, skip_invalid),
        file,
        std::sync::Arc::new(|_, _, _| {}),
    )
    .await
}

pub fn named(name: &str, role: ActorRole, actor_type: ActorType) -> NamedActor {
    NamedActor {
        name: name.into(),
        role,
        actor_type,
    }
}

/// An ACLED-like protest in Argentina on `day` (June 2022), at `line`.
pub fn row(line: u64, id: &str, day: u32) -> ImportedRow {
    let external_ref = ExternalRef::new(&format!("acled:{id}")).expect("ref");
    ImportedRow {
        line,
        external_ref: external_ref.clone(),
        facts: IncidentFacts {
            time: EventTime::day(chrono::NaiveDate::from_ymd_opt(2022, 6, day).expect("day")),
            place: Place {
                admin1: Some("Buenos Aires".into()),
                location: Some("La Plata".into()),
                coordinates: Some(Coordinates {
                    latitude: -34.92,
                    longitude: -57.95,
                }),
                precision: GeoPrecision::Exact,
                ..Place::country(CountryCode::new("ARG").expect("ARG"))
            },
            event_type: EventType::Protests,
            sub_event_type: SubEventType::PeacefulProtest,
            means: vec![],
            target_category: None,
            fatalities: UncertainCount::exactly(0),
            injuries: None,
            notes: Some(format!("Protest {id}.")),
            tags: vec![],
            external_refs: vec![external_ref],
            attributes: BTreeMap::from([("inter1".to_owned(), "6".to_owned())]),
        },
        actors: vec![
            named(
                "Protesters (Argentina)",
                ActorRole::Perpetrator,
                ActorType::Protesters,
            ),
            named(
                "Police Forces of Argentina (2019-)",
                ActorRole::Target,
                ActorType::StateForces,
            ),
        ],
        sources: vec![Source::named("Clarin")],
    }
}

/// Events in the log, by type, as `(type, count)` sorted by type.
pub async fn events_by_type(store: &EventStore) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY event_type",
    )
    .fetch_all(store.pool())
    .await
    .expect("count by type")
}

pub async fn event_count(store: &EventStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count")
}

/// The incidents read model, caught up with everything committed.
pub async fn incidents_caught_up(store: &EventStore) -> Generation {
    let projector = Projector::new(store.clone(), Arc::new(IncidentsProjection::default()));
    let mut live = projector.live_generation().await.expect("live generation");
    let total = event_count(store).await;
    for _ in 0..2000 {
        projector.catch_up(&mut live).await.expect("catch up");
        if live.events_applied >= total {
            return live;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the incidents read model did not catch up");
}

/// Both read models an export reads (incidents and actors), caught up with the whole log.
pub async fn read_models_caught_up(store: &EventStore) {
    let total = event_count(store).await;
    let projections: [Arc<dyn sitrep_projections::projection::Projection>; 2] = [
        Arc::new(IncidentsProjection::default()),
        Arc::new(sitrep_projections::actors::ActorsProjection),
    ];
    for projection in projections {
        let projector = Projector::new(store.clone(), projection);
        let mut generation = projector.live_generation().await.expect("live");
        let mut tries = 0;
        while generation.events_applied < total {
            projector.catch_up(&mut generation).await.expect("catch up");
            tries += 1;
            assert!(tries < 2000, "the read models did not catch up");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

/// `SITREP_SHARED_DATA`, when it is set and the folder exists; otherwise says the test is
/// skipped.
pub fn shared_data() -> Option<std::path::PathBuf> {
    match std::env::var_os("SITREP_SHARED_DATA").map(std::path::PathBuf::from) {
        Some(path) if path.is_dir() => Some(path),
        _ => {
            eprintln!("skipped: SITREP_SHARED_DATA not set");
            None
        }
    }
}

/// A made-up file of `rows` attacks in Iraq, 2004-2007, among 60 actors.
pub fn made_up_file(rows: usize) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows * 600));
    writer.write_record(ACLED_COLUMNS).expect("header");
    let start = chrono::NaiveDate::from_ymd_opt(2004, 1, 1).expect("date");
    for n in 0..rows {
        let date = start + chrono::Days::new((n % 1300) as u64);
        let id = format!("IRQ{n}");
        let actor1 = format!("Insurgent Group {} (Iraq)", n % 40);
        let actor2 = format!("Military Forces {} (Iraq)", n % 20);
        let latitude = format!("{:.4}", 30.0 + (n % 500) as f64 / 100.0);
        let longitude = format!("{:.4}", 40.0 + (n % 700) as f64 / 100.0);
        let fatalities = (n % 7).to_string();
        let notes = format!(
            "On {date}, a made-up attack number {n} with small arms and an IED near a \
             checkpoint; this text only gives the row the size of a real note, about two \
             hundred characters long."
        );
        let date = date.to_string();
        let year = date[..4].to_owned();
        writer
            .write_record([
                id.as_str(),
                &date,
                &year,
                "1",
                "Political violence",
                "Battles",
                "Armed clash",
                &actor1,
                "",
                "2",
                &actor2,
                "",
                "1",
                "12",
                "",
                "368",
                "Middle East",
                "Iraq",
                "Baghdad",
                "Baghdad",
                "",
                "Baghdad",
                &latitude,
                &longitude,
                "1",
                "Made-up Wire; Made-up Daily",
                "National",
                &notes,
                &fatalities,
                "",
                "1655000000",
            ])
            .expect("row");
    }
    writer.into_inner().expect("flush")
}
