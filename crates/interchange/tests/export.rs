//! Incident exports on a real database: incidents recorded through the domain's command
//! handler, the read models caught up, then exported as CSV, GeoJSON and ACLED columns and
//! parsed back (the `csv` crate, `serde_json`) to compare with what was recorded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt as _;
use serde_json::{json, Value};
use sitrep_domain::handler::{CommandHandler, CommandMeta};
use sitrep_domain::model::actor::{Actor, ActorCommand, RegisterActor};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AmendIncident, AttributionStatus, ExternalRef, Incident,
    IncidentAmendment, IncidentCommand, IncidentFacts, Means, ReportIncident, RetractIncident,
    RetractionKind, ReviseCasualties, TargetCategory,
};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, DatePrecision, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_domain::store::EventStore;
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_interchange::export::fields::FIELDS;
use sitrep_interchange::export::selection::{parse_country, parse_event_type};
use sitrep_interchange::export::{Export, ExportError, ExportFilter, ExportFormat, ExportRequest};
use sitrep_projections::actors::ActorsProjection;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::{Projection, Projector};
use sitrep_testkit::TestDb;
use uuid::Uuid;

struct Fixture {
    _db: TestDb,
    store: EventStore,
    handler: CommandHandler,
}

async fn fixture() -> Fixture {
    let db = TestDb::with_pool_size(&sitrep_domain::MIGRATOR, 12).await;
    let store = EventStore::new(db.pool.clone());
    let handler = CommandHandler::new(store.clone());
    Fixture {
        _db: db,
        store,
        handler,
    }
}

impl Fixture {
    fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    async fn register(&self, name: &str, actor_type: ActorType) -> Uuid {
        let id = Uuid::new_v4();
        let command = ActorCommand::RegisterActor(RegisterActor {
            name: name.to_owned(),
            actor_type,
            country: None,
            aliases: Vec::new(),
            description: None,
        });
        self.handler
            .execute::<Actor>(id, &command, &CommandMeta::by("analyst"))
            .await
            .expect("register actor");
        id
    }

    /// Runs `command` on incident `id`; the recorded time of its event.
    async fn run(&self, id: Uuid, command: IncidentCommand) -> DateTime<Utc> {
        self.handler
            .execute::<Incident>(id, &command, &CommandMeta::by("analyst"))
            .await
            .expect("incident command")
            .recorded_at
    }

    /// Both read models an export reads, caught up with everything in the log.
    async fn catch_up(&self) {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(self.pool())
            .await
            .expect("count");
        let projections: [Arc<dyn Projection>; 2] = [
            Arc::new(IncidentsProjection::default()),
            Arc::new(ActorsProjection),
        ];
        for projection in projections {
            let projector = Projector::new(self.store.clone(), projection);
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

    async fn export(
        &self,
        format: ExportFormat,
        filter: ExportFilter,
        as_of: Option<DateTime<Utc>>,
    ) -> String {
        let request = ExportRequest {
            format,
            filter,
            as_of,
        };
        let mut export = Export::start(self.pool(), &request).await.expect("start");
        let mut out = Vec::new();
        while let Some(chunk) = export.next_chunk().await.expect("chunk") {
            out.extend(chunk);
        }
        String::from_utf8(out).expect("UTF-8")
    }

    /// The version and the recorded time of the last event of stream `id`.
    async fn last_event(&self, id: Uuid) -> (i64, DateTime<Utc>) {
        sqlx::query_as(
            "SELECT stream_version, recorded_at FROM events WHERE stream_id = $1 \
              ORDER BY stream_version DESC LIMIT 1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await
        .expect("last event")
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a day")
}

/// A report of a strike on `date` in `country` with `killed` dead and nothing else known.
fn report(date: &str, country: &str, killed: u32) -> ReportIncident {
    ReportIncident {
        facts: IncidentFacts {
            time: EventTime::day(day(date)),
            place: Place::country(CountryCode::new(country).expect("country")),
            event_type: EventType::ExplosionsRemoteViolence,
            sub_event_type: SubEventType::AirDroneStrike,
            means: Vec::new(),
            target_category: None,
            fatalities: UncertainCount::exactly(killed),
            injuries: None,
            notes: None,
            tags: Vec::new(),
            external_refs: Vec::new(),
            attributes: BTreeMap::new(),
        },
        actors: Vec::new(),
        sources: Vec::new(),
    }
}

fn involvement(actor: Uuid, role: ActorRole) -> ActorInvolvement {
    ActorInvolvement {
        actor,
        role,
        attribution: if role == ActorRole::Claimant {
            AttributionStatus::Claimed
        } else {
            AttributionStatus::AttributedBySource
        },
        source: None,
    }
}

/// The records of a CSV export by column name, and its header.
fn parse_csv(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let records = reader
        .records()
        .map(|record| {
            let record = record.expect("a record");
            assert_eq!(record.len(), header.len(), "a record has every column");
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, records)
}

fn ids_of(records: &[BTreeMap<String, String>]) -> Vec<String> {
    records.iter().map(|r| r["id"].clone()).collect()
}

/// A recorded time as the exports write it.
fn written(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[tokio::test]
async fn csv_and_geojson_hold_the_incidents_as_recorded() {
    let f = fixture().await;
    let resistance = f
        .register("Islamic Resistance in Iraq", ActorType::MilitiaGroups)
        .await;
    let kataib = f
        .register("Kataib Hezbollah", ActorType::MilitiaGroups)
        .await;
    let us_forces = f
        .register(
            "Military Forces of the United States",
            ActorType::ForeignOthers,
        )
        .await;

    // Tower 22: every field an export writes, a note that needs quoting.
    let tower22 = Uuid::new_v4();
    let mut attack = report("2024-01-28", "JOR", 3);
    attack.facts.place = Place {
        country: CountryCode::new("JOR").expect("JOR"),
        admin1: Some("Al Mafraq".into()),
        admin2: Some("Ar Ruwayshid".into()),
        admin3: Some("Rukban".into()),
        location: Some("Tower 22".into()),
        coordinates: Some(Coordinates {
            latitude: 33.3152,
            longitude: 38.7033,
        }),
        precision: GeoPrecision::Exact,
        site: None,
    };
    attack.facts.means = vec![Means::OneWayDrone];
    attack.facts.target_category = Some(TargetCategory::ForeignMilitaryBase);
    attack.facts.injuries = Some(UncertainCount::range(34, 40, 47));
    attack.facts.notes = Some("A drone struck \"Tower 22\", near al-Tanf;\nthree killed.".into());
    attack.facts.tags = vec!["tower-22".into(), "one-way drone".into()];
    attack.facts.external_refs = vec![ExternalRef::new("acled:JOR2987").expect("ref")];
    attack.facts.attributes = [("source_scale".to_owned(), "International".to_owned())].into();
    attack.actors = vec![
        involvement(resistance, ActorRole::Perpetrator),
        involvement(resistance, ActorRole::Claimant),
        involvement(us_forces, ActorRole::Target),
        involvement(kataib, ActorRole::Suspected),
    ];
    attack.sources = vec![
        Source {
            url: Some("https://www.centcom.mil/".into()),
            ..Source::named("CENTCOM")
        },
        Source::named("Reuters"),
    ];
    f.run(tower22, attack.into()).await;
    f.run(
        tower22,
        ReviseCasualties {
            fatalities: None,
            injuries: Some(UncertainCount::range(40, 47, 60)),
            source: None,
            reason: "CENTCOM's later count".into(),
        }
        .into(),
    )
    .await;

    // A clash known only by its country: no coordinates.
    let clash = Uuid::new_v4();
    let mut battle = report("2024-01-20", "IRQ", 0);
    battle.facts.event_type = EventType::Battles;
    battle.facts.sub_event_type = SubEventType::ArmedClash;
    f.run(clash, battle.into()).await;

    // Retracted: not exported.
    let retracted = Uuid::new_v4();
    f.run(retracted, report("2024-01-25", "SYR", 1).into())
        .await;
    f.run(
        retracted,
        RetractIncident {
            kind: RetractionKind::FalseReport,
            reason: "did not happen".into(),
        }
        .into(),
    )
    .await;
    f.catch_up().await;

    let (tower22_version, tower22_at) = f.last_event(tower22).await;
    let (clash_version, clash_at) = f.last_event(clash).await;

    // CSV: the header, then the incidents by the day they started.
    let text = f
        .export(ExportFormat::Csv, ExportFilter::default(), None)
        .await;
    let (header, records) = parse_csv(&text);
    assert_eq!(header, FIELDS);
    assert_eq!(ids_of(&records), [clash.to_string(), tower22.to_string()]);
    let expected_tower22: BTreeMap<&str, String> = [
        ("id", tower22.to_string()),
        ("external_refs", "acled:JOR2987".into()),
        ("date_start", "2024-01-28".into()),
        ("date_end", "2024-01-28".into()),
        ("date_precision", "day".into()),
        ("event_type", "Explosions/Remote violence".into()),
        ("sub_event_type", "Air/drone strike".into()),
        ("means", "one_way_drone".into()),
        ("target_category", "foreign_military_base".into()),
        ("country", "JOR".into()),
        ("admin1", "Al Mafraq".into()),
        ("admin2", "Ar Ruwayshid".into()),
        ("admin3", "Rukban".into()),
        ("location", "Tower 22".into()),
        ("latitude", "33.3152".into()),
        ("longitude", "38.7033".into()),
        ("geo_precision", "exact".into()),
        ("site", String::new()),
        ("fatalities_low", "3".into()),
        ("fatalities_best", "3".into()),
        ("fatalities_high", "3".into()),
        ("injuries_low", "40".into()),
        ("injuries_best", "47".into()),
        ("injuries_high", "60".into()),
        ("verification", "unverified".into()),
        ("perpetrators", "Islamic Resistance in Iraq".into()),
        ("targets", "Military Forces of the United States".into()),
        ("claimants", "Islamic Resistance in Iraq".into()),
        ("other_actors", "Kataib Hezbollah".into()),
        ("sources", "CENTCOM; Reuters".into()),
        (
            "notes",
            "A drone struck \"Tower 22\", near al-Tanf;\nthree killed.".into(),
        ),
        ("tags", "tower-22; one-way drone".into()),
        ("attributes", r#"{"source_scale":"International"}"#.into()),
        ("version", tower22_version.to_string()),
        ("last_recorded_at", written(tower22_at)),
    ]
    .into();
    for (column, want) in &expected_tower22 {
        assert_eq!(&records[1][*column], want, "tower 22, column {column}");
    }
    assert_eq!(records[0]["latitude"], "");
    assert_eq!(records[0]["injuries_best"], "");
    assert_eq!(records[0]["perpetrators"], "");
    assert_eq!(records[0]["event_type"], "Battles");
    assert_eq!(records[0]["version"], clash_version.to_string());
    assert_eq!(records[0]["last_recorded_at"], written(clash_at));
    // RFC 4180: records end with CRLF.
    assert!(text.starts_with("id,external_refs,") && text.ends_with("\r\n"));

    // GeoJSON: the same incidents as features; lists as arrays, numbers as numbers.
    let text = f
        .export(ExportFormat::GeoJson, ExportFilter::default(), None)
        .await;
    let collection: Value = serde_json::from_str(&text).expect("GeoJSON is JSON");
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().expect("features");
    assert_eq!(features.len(), 2);
    assert_eq!(features[0]["type"], "Feature");
    assert_eq!(features[0]["id"], clash.to_string());
    assert_eq!(features[0]["geometry"], Value::Null, "no coordinates");
    assert_eq!(features[0]["properties"]["latitude"], Value::Null);
    assert_eq!(features[0]["properties"]["perpetrators"], json!([]));
    assert_eq!(features[0]["properties"]["injuries_best"], Value::Null);
    let feature = &features[1];
    assert_eq!(feature["id"], tower22.to_string());
    assert_eq!(
        feature["geometry"],
        json!({ "type": "Point", "coordinates": [38.7033, 33.3152] })
    );
    let properties = feature["properties"].as_object().expect("properties");
    assert_eq!(
        properties
            .keys()
            .map(String::as_str)
            .collect::<HashSet<_>>(),
        FIELDS.into_iter().collect::<HashSet<_>>()
    );
    assert_eq!(properties["latitude"], json!(33.3152));
    assert_eq!(properties["injuries_best"], json!(47));
    assert_eq!(properties["fatalities_low"], json!(3));
    assert_eq!(properties["sources"], json!(["CENTCOM", "Reuters"]));
    assert_eq!(properties["tags"], json!(["tower-22", "one-way drone"]));
    assert_eq!(properties["means"], json!(["one_way_drone"]));
    assert_eq!(
        properties["claimants"],
        json!(["Islamic Resistance in Iraq"])
    );
    assert_eq!(properties["other_actors"], json!(["Kataib Hezbollah"]));
    assert_eq!(
        properties["attributes"],
        json!({ "source_scale": "International" })
    );
    assert_eq!(properties["version"], json!(tower22_version));
    assert_eq!(properties["last_recorded_at"], json!(written(tower22_at)));
    assert_eq!(
        properties["notes"],
        json!("A drone struck \"Tower 22\", near al-Tanf;\nthree killed.")
    );
    assert_eq!(properties["site"], Value::Null);
}

#[tokio::test]
async fn filters_and_as_of_select_what_was_known() {
    let f = fixture().await;
    let militia = f.register("Militia A", ActorType::MilitiaGroups).await;
    let anbar = Uuid::new_v4();
    let mut r = report("2024-01-10", "IRQ", 2);
    r.facts.event_type = EventType::Battles;
    r.facts.sub_event_type = SubEventType::ArmedClash;
    r.facts.place.admin1 = Some("Al Anbar".into());
    r.facts.notes = Some("first report".into());
    r.actors = vec![involvement(militia, ActorRole::Perpetrator)];
    f.run(anbar, r.into()).await;
    let deir = Uuid::new_v4();
    let mut r = report("2024-01-15", "SYR", 1);
    r.facts.place.admin1 = Some("Deir ez-Zor".into());
    f.run(deir, r.into()).await;
    let jordan = Uuid::new_v4();
    let t = f.run(jordan, report("2024-02-01", "JOR", 3).into()).await;

    // After T: the Anbar clash is corrected and another incident is reported.
    f.run(
        anbar,
        AmendIncident {
            changes: IncidentAmendment {
                notes: Some(Some("corrected report".into())),
                time: Some(EventTime::span(
                    day("2024-01-09"),
                    day("2024-01-10"),
                    DatePrecision::Days,
                )),
                ..IncidentAmendment::default()
            },
            reason: "a second source".into(),
        }
        .into(),
    )
    .await;
    f.run(
        anbar,
        ReviseCasualties {
            fatalities: Some(UncertainCount::range(2, 4, 5)),
            injuries: None,
            source: None,
            reason: "hospital figures".into(),
        }
        .into(),
    )
    .await;
    let later = Uuid::new_v4();
    f.run(later, report("2024-01-12", "IRQ", 0).into()).await;
    f.catch_up().await;

    let select = |filter: ExportFilter, as_of: Option<DateTime<Utc>>| {
        let f = &f;
        async move {
            let text = f.export(ExportFormat::Csv, filter, as_of).await;
            parse_csv(&text).1
        }
    };
    let country = |code: &str| parse_country(code).expect("country");

    // Now: the corrected values, and the later report.
    let iraq = ExportFilter {
        countries: vec![country("IRQ")],
        ..ExportFilter::default()
    };
    let now = select(iraq.clone(), None).await;
    assert_eq!(ids_of(&now), [anbar.to_string(), later.to_string()]);
    assert_eq!(now[0]["notes"], "corrected report");
    assert_eq!(now[0]["date_start"], "2024-01-09");
    assert_eq!(now[0]["date_precision"], "days");
    assert_eq!(now[0]["fatalities_best"], "4");
    assert_eq!(now[0]["version"], "3");

    // As known at T: the first report's values; the later report is absent.
    let then = select(iraq.clone(), Some(t)).await;
    assert_eq!(ids_of(&then), [anbar.to_string()]);
    assert_eq!(then[0]["notes"], "first report");
    assert_eq!(then[0]["date_start"], "2024-01-10");
    assert_eq!(then[0]["fatalities_best"], "2");
    assert_eq!(then[0]["version"], "1");
    assert_eq!(then[0]["perpetrators"], "Militia A");
    // Before anything was recorded: nothing.
    let before = select(iraq, Some(t - chrono::Duration::days(1))).await;
    assert!(before.is_empty());

    // Each filter, and the order by start day.
    let two_countries = ExportFilter {
        countries: vec![country("IRQ"), country("SYR")],
        ..ExportFilter::default()
    };
    assert_eq!(
        ids_of(&select(two_countries, None).await),
        [anbar.to_string(), later.to_string(), deir.to_string()]
    );
    let explosions = ExportFilter {
        event_types: vec![parse_event_type("Explosions/Remote violence").expect("type")],
        ..ExportFilter::default()
    };
    assert_eq!(
        ids_of(&select(explosions, None).await),
        [later.to_string(), deir.to_string(), jordan.to_string()]
    );
    let since = ExportFilter {
        from: Some(day("2024-01-14")),
        ..ExportFilter::default()
    };
    assert_eq!(
        ids_of(&select(since, None).await),
        [deir.to_string(), jordan.to_string()]
    );
    let until = ExportFilter {
        to: Some(day("2024-01-12")),
        ..ExportFilter::default()
    };
    assert_eq!(
        ids_of(&select(until, None).await),
        [anbar.to_string(), later.to_string()]
    );
    let anbar_only = ExportFilter {
        admin1: vec!["Al Anbar".into()],
        ..ExportFilter::default()
    };
    assert_eq!(ids_of(&select(anbar_only, None).await), [anbar.to_string()]);
    let by_actor = ExportFilter {
        actor: Some(militia),
        ..ExportFilter::default()
    };
    assert_eq!(ids_of(&select(by_actor, None).await), [anbar.to_string()]);
}

#[tokio::test]
async fn many_incidents_export_across_pages_in_order_once_each_in_one_snapshot() {
    let f = fixture().await;
    const INCIDENTS: usize = 2_500;
    // 2,500 incidents over 40 days: many share a day, so pages break between incidents of the
    // same day, ordered by id.
    let ids: Vec<Uuid> = (0..INCIDENTS).map(|_| Uuid::new_v4()).collect();
    let commands = ids.iter().enumerate().map(|(i, id)| {
        let date = day("2024-01-01") + chrono::Duration::days((i % 40) as i64);
        let command: IncidentCommand = report(&date.to_string(), "IRQ", (i % 7) as u32).into();
        (*id, command)
    });
    futures::stream::iter(commands)
        .for_each_concurrent(8, |(id, command)| {
            let f = &f;
            async move {
                f.run(id, command).await;
            }
        })
        .await;
    f.catch_up().await;

    let request = ExportRequest {
        format: ExportFormat::Csv,
        filter: ExportFilter::default(),
        as_of: None,
    };
    let mut export = Export::start(f.pool(), &request).await.expect("start");
    let mut text = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = export.next_chunk().await.expect("chunk") {
        chunks += 1;
        text.extend(chunk);
        if chunks == 2 {
            // After the first page: a new incident, and an exported one moved to the end. The
            // export reads one snapshot, so neither shows.
            f.run(Uuid::new_v4(), report("2024-03-01", "IRQ", 0).into())
                .await;
            let first: Uuid = {
                let (_, records) = parse_csv(std::str::from_utf8(&text).expect("UTF-8"));
                records[0]["id"].parse().expect("an id")
            };
            f.run(
                first,
                AmendIncident {
                    changes: IncidentAmendment {
                        time: Some(EventTime::day(day("2024-03-02"))),
                        ..IncidentAmendment::default()
                    },
                    reason: "the date was wrong".into(),
                }
                .into(),
            )
            .await;
            f.catch_up().await;
        }
    }
    // The header, three pages of at most 1,000.
    assert_eq!(chunks, 4);
    assert_eq!(export.incidents_written(), INCIDENTS as u64);
    let (_, records) = parse_csv(std::str::from_utf8(&text).expect("UTF-8"));
    assert_eq!(records.len(), INCIDENTS);
    let keys: Vec<(String, Uuid)> = records
        .iter()
        .map(|r| (r["date_start"].clone(), r["id"].parse().expect("an id")))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "in order of start day, then id, without repeats"
    );
    let exported: HashSet<Uuid> = keys.iter().map(|k| k.1).collect();
    assert_eq!(exported, ids.iter().copied().collect::<HashSet<_>>());

    // The same as GeoJSON in pages of 700, streamed: one valid collection.
    let export = Export::start_with_page_size(
        f.pool(),
        &ExportRequest {
            format: ExportFormat::GeoJson,
            ..request
        },
        700,
    )
    .await
    .expect("start");
    let chunks: Vec<Vec<u8>> = export
        .into_stream()
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    // The opening, four pages, the closing.
    assert_eq!(chunks.len(), 6);
    let collection: Value = serde_json::from_slice(&chunks.concat()).expect("JSON");
    let features = collection["features"].as_array().expect("features");
    // Now: the new incident too.
    assert_eq!(features.len(), INCIDENTS + 1);
    let unique: HashSet<&str> = features
        .iter()
        .map(|f| f["id"].as_str().expect("id"))
        .collect();
    assert_eq!(unique.len(), INCIDENTS + 1);
}

#[tokio::test]
async fn the_acled_format_writes_acleds_columns() {
    let f = fixture().await;
    let pkk = f
        .register("PKK: Kurdistan Workers Party", ActorType::RebelForces)
        .await;
    let hpg = f
        .register("HPG: People's Defence Forces", ActorType::RebelForces)
        .await;
    let turkey = f
        .register(
            "Military Forces of Turkey (2016-)",
            ActorType::ForeignOthers,
        )
        .await;
    let government = f
        .register("Government of Turkey (2016-)", ActorType::ForeignOthers)
        .await;
    let imported = Uuid::new_v4();
    let mut row = report("2022-06-13", "IRQ", 1);
    row.facts.event_type = EventType::Battles;
    row.facts.sub_event_type = SubEventType::ArmedClash;
    row.facts.place = Place {
        country: CountryCode::new("IRQ").expect("IRQ"),
        admin1: Some("Duhok".into()),
        admin2: Some("Al Amadiya".into()),
        admin3: Some("Barwari Bala".into()),
        location: Some("Gire Cudi".into()),
        coordinates: Some(Coordinates {
            latitude: 37.1459,
            longitude: 43.5907,
        }),
        precision: GeoPrecision::Near,
        site: None,
    };
    row.facts.notes = Some("On 13 June 2022, PKK militants attacked Turkish soldiers.".into());
    row.facts.external_refs = vec![ExternalRef::new("acled:IRQ38819").expect("ref")];
    row.facts.attributes = [
        ("disorder_type", "Political violence"),
        ("inter1", "2"),
        ("inter2", "8"),
        ("interaction", "28"),
        ("region", "Middle East"),
        ("country", "Iraq"),
        ("source_scale", "Other"),
        ("timestamp", "1655834276"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    row.actors = vec![
        involvement(pkk, ActorRole::Perpetrator),
        involvement(hpg, ActorRole::PerpetratorAssociate),
        involvement(turkey, ActorRole::Target),
        involvement(government, ActorRole::TargetAssociate),
    ];
    row.sources = vec![Source::named("People's Defense Forces")];
    f.run(imported, row.into()).await;

    // Recorded in sitrep: the inter codes come from the actors' registered types.
    let native = Uuid::new_v4();
    let mut strike = report("2022-06-20", "SYR", 0);
    strike.actors = vec![
        involvement(turkey, ActorRole::Perpetrator),
        involvement(pkk, ActorRole::Target),
    ];
    f.run(native, strike.into()).await;
    f.catch_up().await;

    let text = f
        .export(ExportFormat::Acled, ExportFilter::default(), None)
        .await;
    let (header, records) = parse_csv(&text);
    assert_eq!(header, ACLED_COLUMNS);
    assert_eq!(records.len(), 2);
    let expected = [
        "IRQ38819",
        "2022-06-13",
        "2022",
        "1",
        "Political violence",
        "Battles",
        "Armed clash",
        "PKK: Kurdistan Workers Party",
        "HPG: People's Defence Forces",
        "2",
        "Military Forces of Turkey (2016-)",
        "Government of Turkey (2016-)",
        "8",
        "28",
        "",
        "368",
        "Middle East",
        "Iraq",
        "Duhok",
        "Al Amadiya",
        "Barwari Bala",
        "Gire Cudi",
        "37.1459",
        "43.5907",
        "2",
        "People's Defense Forces",
        "Other",
        "On 13 June 2022, PKK militants attacked Turkish soldiers.",
        "1",
        "",
        "1655834276",
    ];
    for (column, want) in ACLED_COLUMNS.iter().zip(expected) {
        assert_eq!(records[0][*column], want, "column {column}");
    }
    let (_, native_at) = f.last_event(native).await;
    let native_row = &records[1];
    assert_eq!(native_row["event_id_cnty"], format!("SITREP-{native}"));
    assert_eq!(native_row["actor1"], "Military Forces of Turkey (2016-)");
    assert_eq!(native_row["inter1"], "8");
    assert_eq!(native_row["inter2"], "2");
    assert_eq!(native_row["interaction"], "28");
    assert_eq!(native_row["disorder_type"], "Political violence");
    assert_eq!(native_row["iso"], "760");
    assert_eq!(native_row["country"], "Syria");
    assert_eq!(native_row["geo_precision"], "3");
    assert_eq!(native_row["latitude"], "");
    assert_eq!(native_row["timestamp"], native_at.timestamp().to_string());
}

#[tokio::test]
async fn bad_requests_and_missing_read_models_are_refused_before_anything_is_written() {
    let f = fixture().await;
    let backwards = ExportRequest {
        format: ExportFormat::Csv,
        filter: ExportFilter {
            from: Some(day("2024-02-01")),
            to: Some(day("2024-01-01")),
            ..ExportFilter::default()
        },
        as_of: None,
    };
    match Export::start(f.pool(), &backwards).await {
        Err(ExportError::BadParameter { field, .. }) => assert_eq!(field, "to"),
        Err(other) => panic!("expected a bad parameter, got {other}"),
        Ok(_) => panic!("expected a bad parameter"),
    }
    // No read model built yet.
    let request = ExportRequest {
        format: ExportFormat::GeoJson,
        filter: ExportFilter::default(),
        as_of: None,
    };
    match Export::start(f.pool(), &request).await {
        Err(ExportError::Unavailable(what)) => assert_eq!(what, "the incidents read model"),
        Err(other) => panic!("expected unavailable, got {other}"),
        Ok(_) => panic!("expected unavailable"),
    }
    // Built and empty: an empty collection.
    f.catch_up().await;
    let text = f
        .export(ExportFormat::GeoJson, ExportFilter::default(), None)
        .await;
    let collection: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        collection,
        json!({ "type": "FeatureCollection", "features": [] })
    );
    let text = f
        .export(ExportFormat::Acled, ExportFilter::default(), None)
        .await;
    assert_eq!(text, format!("{}\r\n", ACLED_COLUMNS.join(",")));
}

#[tokio::test]
async fn actors_the_actors_read_model_does_not_know_yet_are_named_from_the_log() {
    let f = fixture().await;
    let early = f.register("Militia A", ActorType::MilitiaGroups).await;
    f.run(Uuid::new_v4(), report("2024-01-10", "IRQ", 1).into())
        .await;
    f.catch_up().await;
    // Registered and named after both read models caught up; only the incidents' is caught up
    // again, so the actors read model does not know the new actor.
    let late = f.register("Militia B", ActorType::RebelForces).await;
    let mut r = report("2024-01-12", "IRQ", 2);
    r.actors = vec![
        involvement(early, ActorRole::Perpetrator),
        involvement(late, ActorRole::Target),
    ];
    f.run(Uuid::new_v4(), r.into()).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(f.pool())
        .await
        .expect("count");
    let projector = Projector::new(
        f.store.clone(),
        Arc::new(IncidentsProjection::default()) as Arc<dyn Projection>,
    );
    let mut generation = projector.live_generation().await.expect("live");
    while generation.events_applied < total {
        projector.catch_up(&mut generation).await.expect("catch up");
    }

    let text = f
        .export(ExportFormat::Acled, ExportFilter::default(), None)
        .await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let at = |name: &str| header.iter().position(|c| c == name).expect(name);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2);
    let named = &rows[1];
    assert_eq!(&named[at("actor1")], "Militia A");
    assert_eq!(&named[at("actor2")], "Militia B");
    // The inter code of an actor recorded in sitrep comes from its registered type.
    assert_eq!(&named[at("inter2")], "2");
}
