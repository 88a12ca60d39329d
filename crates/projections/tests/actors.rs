//! The actors and sites read model from a known sequence of events: actors with aliases, a
//! rename and affiliations (one ended, one retracted); sites amended and retired; incidents
//! claimed, retracted, merged and restored, and the incident counts per actor they leave.

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use common::*;
use sitrep_domain::handler::CommandHandler;
use sitrep_domain::model::actor::{
    Actor, ActorCommand, AffiliationRelation, EndAffiliation, RecordAffiliation, RegisterActor,
    RenameActor, RetractAffiliation,
};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, IncidentCommand, RecordClaim, WithdrawClaim,
};
use sitrep_domain::model::site::{
    AmendSite, RegisterSite, RetireSite, Site, SiteCommand, SiteKind,
};
use sitrep_domain::model::values::{Coordinates, CountryCode, GeoPrecision};
use sitrep_domain::model::vocab::ActorType;
use sitrep_domain::store::EventStore;
use sitrep_projections::actor_queries::involvements_at;
use sitrep_projections::actors::ActorsProjection;
use sitrep_projections::checksum::checksum;
use sitrep_projections::Projector;
use uuid::Uuid;

fn code(c: &str) -> CountryCode {
    CountryCode::new(c).expect("country")
}

async fn actor(handler: &CommandHandler, id: Uuid, command: ActorCommand) -> i64 {
    handler
        .execute::<Actor>(id, &command, &meta())
        .await
        .expect("actor command")
        .positions[0]
}

async fn site(handler: &CommandHandler, id: Uuid, command: SiteCommand) -> i64 {
    handler
        .execute::<Site>(id, &command, &meta())
        .await
        .expect("site command")
        .positions[0]
}

fn register(name: &str, actor_type: ActorType, country: &str, aliases: &[&str]) -> ActorCommand {
    ActorCommand::RegisterActor(RegisterActor {
        name: name.into(),
        actor_type,
        country: Some(code(country)),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        description: None,
    })
}

fn affiliate(
    affiliation_id: Uuid,
    related_actor: Uuid,
    relation: AffiliationRelation,
    from: Option<NaiveDate>,
) -> ActorCommand {
    ActorCommand::RecordAffiliation(RecordAffiliation {
        affiliation_id,
        related_actor,
        relation,
        from,
        until: None,
        source: None,
    })
}

fn involvement(actor: Uuid, role: ActorRole, attribution: AttributionStatus) -> ActorInvolvement {
    ActorInvolvement {
        actor,
        role,
        attribution,
        source: None,
    }
}

/// A report of an attack in Iraq naming `actors`.
fn report_naming(date: &str, actors: Vec<ActorInvolvement>) -> IncidentCommand {
    let IncidentCommand::ReportIncident(mut report) = report(date, "IRQ", 0) else {
        unreachable!("report() makes a report")
    };
    report.actors = actors;
    IncidentCommand::ReportIncident(report)
}

fn claim(
    actor: Uuid,
    role: ActorRole,
    attribution: AttributionStatus,
    reason: Option<&str>,
) -> IncidentCommand {
    IncidentCommand::RecordClaim(RecordClaim {
        actor,
        role,
        attribution,
        source: None,
        reason: reason.map(str::to_owned),
    })
}

fn at(latitude: f64, longitude: f64) -> Coordinates {
    Coordinates {
        latitude,
        longitude,
    }
}

async fn recorded_at(store: &EventStore, position: i64) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT recorded_at FROM events WHERE position = $1")
        .bind(position)
        .fetch_one(store.pool())
        .await
        .expect("recorded_at")
}

/// Every actor's counts: (actor, incidents, claimed), ordered by actor.
async fn counts(store: &EventStore, schema: &str) -> Vec<(Uuid, i32, i32)> {
    sqlx::query_as(&format!(
        "SELECT actor_id, incidents, claimed FROM {schema}.actor_incident_counts ORDER BY actor_id"
    ))
    .fetch_all(store.pool())
    .await
    .expect("counts")
}

fn sorted(mut rows: Vec<(Uuid, i32, i32)>) -> Vec<(Uuid, i32, i32)> {
    rows.sort();
    rows
}

/// An actor's name and aliases as known at `t` (`None`: now).
async fn actor_as_of(
    store: &EventStore,
    schema: &str,
    id: Uuid,
    t: Option<DateTime<Utc>>,
) -> (String, Vec<String>) {
    sqlx::query_as(&format!(
        "SELECT name, aliases FROM {schema}.actor_versions \
          WHERE actor_id = $1 AND CASE WHEN $2::timestamptz IS NULL THEN recorded_to IS NULL \
                ELSE recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2) END"
    ))
    .bind(id)
    .bind(t)
    .fetch_one(store.pool())
    .await
    .expect("actor version")
}

/// The current actors known by `spelling` (any case).
async fn actors_called(store: &EventStore, schema: &str, spelling: &str) -> Vec<Uuid> {
    sqlx::query_scalar(&format!(
        "SELECT actor_id FROM {schema}.actor_versions \
          WHERE recorded_to IS NULL AND names @> ARRAY[lower($1)] ORDER BY actor_id"
    ))
    .bind(spelling)
    .fetch_all(store.pool())
    .await
    .expect("lookup")
}

/// The members of `umbrella` as known at `t` (`None`: now), whose membership held on `on`
/// (`None`: ever): (member, from, until), ordered by member.
async fn members(
    store: &EventStore,
    schema: &str,
    umbrella: Uuid,
    t: Option<DateTime<Utc>>,
    on: Option<NaiveDate>,
) -> Vec<(Uuid, Option<NaiveDate>, Option<NaiveDate>)> {
    sqlx::query_as(&format!(
        "SELECT actor_id, valid_from, valid_until FROM {schema}.affiliation_versions \
          WHERE related_actor = $1 AND relation = 'member_of' \
            AND CASE WHEN $2::timestamptz IS NULL THEN recorded_to IS NULL \
                ELSE recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2) END \
            AND ($3::date IS NULL OR ((valid_from IS NULL OR valid_from <= $3) \
                                      AND (valid_until IS NULL OR valid_until >= $3))) \
          ORDER BY actor_id"
    ))
    .bind(umbrella)
    .bind(t)
    .bind(on)
    .fetch_all(store.pool())
    .await
    .expect("members")
}

type SiteView = (
    String,
    Option<String>,
    Vec<String>,
    bool,
    Option<f64>,
    Option<String>,
);

/// A site's name, admin1, aliases, retired, latitude and kind as known at `t` (`None`: now).
async fn site_as_of(
    store: &EventStore,
    schema: &str,
    id: Uuid,
    t: Option<DateTime<Utc>>,
) -> SiteView {
    sqlx::query_as(&format!(
        "SELECT name, admin1, aliases, retired, latitude, kind FROM {schema}.site_versions \
          WHERE site_id = $1 AND CASE WHEN $2::timestamptz IS NULL THEN recorded_to IS NULL \
                ELSE recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2) END"
    ))
    .bind(id)
    .bind(t)
    .fetch_one(store.pool())
    .await
    .expect("site version")
}

async fn count_rows(store: &EventStore, schema: &str, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.{table}"))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn actors_sites_affiliations_and_incident_counts() {
    let (_db, store, handler) = setup(5).await;
    let (iri, kh, nujaba, us) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let (kh_in_iri, nujaba_in_iri, kh_with_nujaba) =
        (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (al_asad, tower22) = (Uuid::new_v4(), Uuid::new_v4());
    let [inc1, inc2, inc3, inc4, inc5] = [(); 5].map(|()| Uuid::new_v4());
    use ActorRole as R;
    use AttributionStatus as A;

    // Phase 1: the actors, their affiliations, the sites, the incidents as first reported.
    actor(
        &handler,
        iri,
        register(
            "Islamic Resistance in Iraq",
            ActorType::MilitiaGroups,
            "IRQ",
            &["IRI", "al-Muqawama al-Islamiya fi al-Iraq"],
        ),
    )
    .await;
    let kh_registered = actor(
        &handler,
        kh,
        register(
            "Kataib Hezbollah",
            ActorType::MilitiaGroups,
            "IRQ",
            &["KH", "Hezbollah Brigades"],
        ),
    )
    .await;
    actor(
        &handler,
        nujaba,
        register(
            "Harakat al-Nujaba",
            ActorType::MilitiaGroups,
            "IRQ",
            &["Nujaba"],
        ),
    )
    .await;
    actor(
        &handler,
        us,
        register(
            "Military Forces of the United States",
            ActorType::StateForces,
            "USA",
            &["US forces"],
        ),
    )
    .await;
    let since = Some(day("2023-10-17"));
    actor(
        &handler,
        kh,
        affiliate(kh_in_iri, iri, AffiliationRelation::MemberOf, since),
    )
    .await;
    actor(
        &handler,
        nujaba,
        affiliate(nujaba_in_iri, iri, AffiliationRelation::MemberOf, since),
    )
    .await;
    actor(
        &handler,
        kh,
        affiliate(
            kh_with_nujaba,
            nujaba,
            AffiliationRelation::AlliedWith,
            None,
        ),
    )
    .await;

    let al_asad_registered = site(
        &handler,
        al_asad,
        SiteCommand::RegisterSite(RegisterSite {
            name: "Al Asad".into(),
            kind: SiteKind::AirBase,
            country: code("IRQ"),
            admin1: None,
            coordinates: Some(at(33.7856, 42.4412)),
            precision: GeoPrecision::Exact,
            aliases: vec!["Ain al-Asad".into()],
            operated_by: vec![code("IRQ"), code("USA")],
            description: None,
            source: None,
        }),
    )
    .await;
    site(
        &handler,
        tower22,
        SiteCommand::RegisterSite(RegisterSite {
            name: "Tower 22".into(),
            kind: SiteKind::Outpost,
            country: code("JOR"),
            admin1: None,
            coordinates: Some(at(33.32, 38.70)),
            precision: GeoPrecision::Near,
            aliases: vec!["T22".into()],
            operated_by: vec![code("USA")],
            description: None,
            source: None,
        }),
    )
    .await;

    // inc1: claimed by the IRI, which a source also names as perpetrator; US forces targeted.
    run(
        &handler,
        inc1,
        report_naming(
            "2024-01-20",
            vec![
                involvement(iri, R::Claimant, A::Claimed),
                involvement(iri, R::Perpetrator, A::AttributedBySource),
                involvement(us, R::Target, A::Unknown),
            ],
        ),
    )
    .await;
    // inc2: claimed by the IRI, to be retracted.
    run(
        &handler,
        inc2,
        report_naming(
            "2024-01-21",
            vec![
                involvement(iri, R::Claimant, A::Claimed),
                involvement(us, R::Target, A::Unknown),
            ],
        ),
    )
    .await;
    // inc3: claimed by the IRI, KH associated; a duplicate of inc1, to be merged.
    run(
        &handler,
        inc3,
        report_naming(
            "2024-01-20",
            vec![
                involvement(iri, R::Claimant, A::Claimed),
                involvement(kh, R::Associated, A::Unknown),
            ],
        ),
    )
    .await;
    // inc4: reported without actors; the IRI claims it later, KH is suspected.
    run(&handler, inc4, report_naming("2024-01-22", Vec::new())).await;
    run(&handler, inc4, claim(iri, R::Claimant, A::Claimed, None)).await;
    run(&handler, inc4, claim(kh, R::Suspected, A::Suspected, None)).await;
    // inc5: KH suspected as perpetrator.
    run(
        &handler,
        inc5,
        report_naming(
            "2024-01-23",
            vec![involvement(kh, R::Perpetrator, A::Suspected)],
        ),
    )
    .await;

    // Small pages: folds continue across page boundaries and across catch-ups.
    let projector = Projector::new(store.clone(), Arc::new(ActorsProjection)).with_page_size(3);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    let schema = live.schema.clone();
    assert_eq!(
        counts(&store, &schema).await,
        sorted(vec![(iri, 4, 4), (kh, 3, 0), (nujaba, 0, 0), (us, 2, 0)])
    );

    // Phase 2a: a retraction, a merge, and inc4 retracted for now.
    run(&handler, inc2, retract()).await;
    run(&handler, inc3, merge_into(inc1)).await;
    run(&handler, inc4, retract()).await;
    catch_up_fully(&projector, &store, &mut live).await;
    assert_eq!(
        counts(&store, &schema).await,
        sorted(vec![(iri, 1, 1), (kh, 1, 0), (nujaba, 0, 0), (us, 1, 0)])
    );

    // Phase 2b: inc4 restored; KH's involvement in inc5 firmed up; KH renamed; affiliations
    // ended and retracted; Al Asad amended, Tower 22 retired.
    run(&handler, inc4, restore()).await;
    run(
        &handler,
        inc5,
        claim(
            kh,
            R::Perpetrator,
            A::AttributedBySource,
            Some("named by officials"),
        ),
    )
    .await;
    let before_rename = actor(
        &handler,
        nujaba,
        ActorCommand::EndAffiliation(EndAffiliation {
            affiliation_id: nujaba_in_iri,
            until: day("2024-06-30"),
            reason: "left the umbrella (example)".into(),
            source: None,
        }),
    )
    .await;
    let renamed = actor(
        &handler,
        kh,
        ActorCommand::RenameActor(RenameActor {
            name: "Kata'ib Hezbollah".into(),
            reason: "standard transliteration".into(),
        }),
    )
    .await;
    let before_retraction = recorded_at(&store, renamed).await;
    actor(
        &handler,
        kh,
        ActorCommand::RetractAffiliation(RetractAffiliation {
            affiliation_id: kh_with_nujaba,
            reason: "recorded in error".into(),
        }),
    )
    .await;
    let amended = site(
        &handler,
        al_asad,
        SiteCommand::AmendSite(AmendSite {
            name: Some("Al Asad Air Base".into()),
            admin1: Some("Al Anbar".into()),
            reason: "full name and province".into(),
            ..AmendSite::default()
        }),
    )
    .await;
    let retired = site(
        &handler,
        tower22,
        SiteCommand::RetireSite(RetireSite {
            retired_on: None,
            reason: "closed (example)".into(),
        }),
    )
    .await;
    catch_up_fully(&projector, &store, &mut live).await;

    // The counts: the IRI claimed inc1 and inc4 (inc2 retracted, inc3 merged); KH is in inc4
    // and inc5; US forces were targeted in inc1 only now; Nujaba in none.
    assert_eq!(
        counts(&store, &schema).await,
        sorted(vec![(iri, 2, 2), (kh, 2, 0), (nujaba, 0, 0), (us, 1, 0)])
    );
    let statuses: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "SELECT incident_id, status FROM {schema}.incident_statuses ORDER BY incident_id"
    ))
    .fetch_all(store.pool())
    .await
    .expect("statuses");
    let mut expected: Vec<(Uuid, String)> = vec![
        (inc1, "active".into()),
        (inc2, "retracted".into()),
        (inc3, "merged".into()),
        (inc4, "active".into()),
        (inc5, "active".into()),
    ];
    expected.sort();
    assert_eq!(statuses, expected);
    let links: Vec<(Uuid, Uuid, String, bool)> = sqlx::query_as(&format!(
        "SELECT incident_id, actor_id, role, counted FROM {schema}.incident_actor_links \
          ORDER BY incident_id, actor_id, role"
    ))
    .fetch_all(store.pool())
    .await
    .expect("links");
    let mut expected: Vec<(Uuid, Uuid, String, bool)> = vec![
        (inc1, iri, "claimant".into(), true),
        (inc1, iri, "perpetrator".into(), true),
        (inc1, us, "target".into(), true),
        (inc2, iri, "claimant".into(), false),
        (inc2, us, "target".into(), false),
        (inc3, iri, "claimant".into(), false),
        (inc3, kh, "associated".into(), false),
        (inc4, iri, "claimant".into(), true),
        (inc4, kh, "suspected".into(), true),
        (inc5, kh, "perpetrator".into(), true),
    ];
    expected.sort();
    assert_eq!(links, expected);

    // Each involvement by recorded time: KH suspected in inc5 as reported, attributed by a
    // source once the claim changed.
    let inc5_versions: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT recorded_at FROM events WHERE stream_id = $1 ORDER BY stream_version",
    )
    .bind(inc5)
    .fetch_all(store.pool())
    .await
    .expect("inc5's versions");
    assert_eq!(inc5_versions.len(), 2);
    let involvements = involvements_at(
        store.pool(),
        &schema,
        &[
            (inc5, inc5_versions[0]),
            (inc5, inc5_versions[1]),
            (inc1, inc5_versions[1]),
        ],
    )
    .await
    .expect("involvements");
    let seen: Vec<(Uuid, DateTime<Utc>, Uuid, &str, &str)> = involvements
        .iter()
        .map(|i| {
            (
                i.incident_id,
                i.at,
                i.actor_id,
                i.role.as_str(),
                i.attribution.as_str(),
            )
        })
        .collect();
    let mut expected = vec![
        (inc5, inc5_versions[0], kh, "perpetrator", "suspected"),
        (
            inc5,
            inc5_versions[1],
            kh,
            "perpetrator",
            "attributed_by_source",
        ),
        (inc1, inc5_versions[1], iri, "claimant", "claimed"),
        (
            inc1,
            inc5_versions[1],
            iri,
            "perpetrator",
            "attributed_by_source",
        ),
        (inc1, inc5_versions[1], us, "target", "unknown"),
    ];
    expected.sort_by_key(|e| (e.0, e.1, e.3, e.2));
    assert_eq!(seen, expected);

    // KH now, and as known before its rename.
    assert_eq!(
        actor_as_of(&store, &schema, kh, None).await,
        (
            "Kata'ib Hezbollah".into(),
            vec![
                "KH".into(),
                "Hezbollah Brigades".into(),
                "Kataib Hezbollah".into()
            ]
        )
    );
    assert_eq!(
        actor_as_of(
            &store,
            &schema,
            kh,
            Some(recorded_at(&store, before_rename).await)
        )
        .await,
        (
            "Kataib Hezbollah".into(),
            vec!["KH".into(), "Hezbollah Brigades".into()]
        )
    );
    assert_eq!(
        actor_as_of(
            &store,
            &schema,
            kh,
            Some(recorded_at(&store, kh_registered).await)
        )
        .await
        .0,
        "Kataib Hezbollah"
    );
    // Any spelling, any case, finds the actor; the old name is an alias now.
    assert_eq!(actors_called(&store, &schema, "kh").await, vec![kh]);
    assert_eq!(
        actors_called(&store, &schema, "KATAIB HEZBOLLAH").await,
        vec![kh]
    );
    assert_eq!(actors_called(&store, &schema, "IRI").await, vec![iri]);
    assert!(actors_called(&store, &schema, "Hezbollah").await.is_empty());
    // Every actor event left a version: 1 (IRI) + 5 (KH) + 3 (Nujaba) + 1 (US).
    assert_eq!(count_rows(&store, &schema, "actor_versions").await, 10);

    // The IRI's members: both, Nujaba's membership ended; on a date after it ended, KH only.
    let mut both = vec![(kh, since, None), (nujaba, since, Some(day("2024-06-30")))];
    both.sort();
    assert_eq!(members(&store, &schema, iri, None, None).await, both);
    assert_eq!(
        members(&store, &schema, iri, None, Some(day("2024-08-01"))).await,
        vec![(kh, since, None)]
    );
    assert!(members(&store, &schema, iri, None, Some(day("2023-10-16")))
        .await
        .is_empty());
    // As known before the end was recorded, Nujaba's membership was open.
    let mut open = vec![(kh, since, None), (nujaba, since, None)];
    open.sort();
    assert_eq!(
        members(
            &store,
            &schema,
            iri,
            Some(recorded_at(&store, before_rename - 1).await),
            None
        )
        .await,
        open
    );
    // The retracted alliance is gone now, but was known before its retraction.
    let alliance = |t: Option<DateTime<Utc>>| {
        let store = store.clone();
        let schema = schema.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT count(*) FROM {schema}.affiliation_versions \
                  WHERE affiliation_id = $1 AND CASE WHEN $2::timestamptz IS NULL \
                        THEN recorded_to IS NULL ELSE recorded_from <= $2 \
                        AND (recorded_to IS NULL OR recorded_to > $2) END"
            ))
            .bind(kh_with_nujaba)
            .bind(t)
            .fetch_one(store.pool())
            .await
            .expect("alliance")
        }
    };
    assert_eq!(alliance(None).await, 0);
    assert_eq!(alliance(Some(before_retraction)).await, 1);
    // Versions: KH in IRI (1), Nujaba in IRI (2: recorded, ended), the alliance (1).
    assert_eq!(count_rows(&store, &schema, "affiliation_versions").await, 4);

    // The sites now and before their changes.
    assert_eq!(
        site_as_of(&store, &schema, al_asad, None).await,
        (
            "Al Asad Air Base".into(),
            Some("Al Anbar".into()),
            vec!["Ain al-Asad".into(), "Al Asad".into()],
            false,
            Some(33.7856),
            Some("air_base".into())
        )
    );
    assert_eq!(
        site_as_of(
            &store,
            &schema,
            al_asad,
            Some(recorded_at(&store, amended - 1).await)
        )
        .await,
        (
            "Al Asad".into(),
            None,
            vec!["Ain al-Asad".into()],
            false,
            Some(33.7856),
            Some("air_base".into())
        )
    );
    assert_eq!(
        site_as_of(
            &store,
            &schema,
            al_asad,
            Some(recorded_at(&store, al_asad_registered).await)
        )
        .await
        .0,
        "Al Asad"
    );
    assert!(site_as_of(&store, &schema, tower22, None).await.3);
    assert!(
        !site_as_of(
            &store,
            &schema,
            tower22,
            Some(recorded_at(&store, retired - 1).await)
        )
        .await
        .3
    );
    let called_t22: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT site_id FROM {schema}.site_versions \
          WHERE recorded_to IS NULL AND names @> ARRAY['t22']"
    ))
    .fetch_all(store.pool())
    .await
    .expect("site lookup");
    assert_eq!(called_t22, vec![tower22]);
    assert_eq!(count_rows(&store, &schema, "site_versions").await, 4);

    // Rebuilt from scratch with large pages, the read model is the same, row for row.
    let before = checksum(store.pool(), projector.projection(), &live)
        .await
        .expect("checksum");
    let rebuilder = Projector::new(store.clone(), Arc::new(ActorsProjection));
    let mut rebuilt = rebuilder.rebuild().await.expect("rebuild");
    catch_up_fully(&rebuilder, &store, &mut rebuilt).await;
    assert_ne!(rebuilt.generation, live.generation);
    let after = checksum(store.pool(), rebuilder.projection(), &rebuilt)
        .await
        .expect("checksum");
    // 10 actor + 4 affiliation + 4 site versions, 5 statuses, 10 links, 11 involvement
    // versions, 4 counts.
    assert_eq!(before.rows, 48);
    assert_eq!(before, after);
    // The rebuilt generation got its query indexes once it had caught up.
    for generation in [&live, &rebuilt] {
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes \
              WHERE schemaname = $1 AND indexname LIKE '%names' ORDER BY indexname",
        )
        .bind(&generation.schema)
        .fetch_all(store.pool())
        .await
        .expect("indexes");
        assert_eq!(
            indexes,
            vec![
                "actor_versions_current_names",
                "site_versions_current_names"
            ]
        );
    }
}

#[tokio::test]
async fn an_unnamed_incident_changes_no_count_and_counts_survive_a_page_per_event() {
    let (_db, store, handler) = setup(5).await;
    let iri = Uuid::new_v4();
    actor(
        &handler,
        iri,
        register(
            "Islamic Resistance in Iraq",
            ActorType::MilitiaGroups,
            "IRQ",
            &[],
        ),
    )
    .await;
    let (claimed, unnamed) = (Uuid::new_v4(), Uuid::new_v4());
    run(
        &handler,
        claimed,
        report_naming(
            "2024-02-01",
            vec![involvement(
                iri,
                ActorRole::Claimant,
                AttributionStatus::Claimed,
            )],
        ),
    )
    .await;
    run(&handler, unnamed, report_naming("2024-02-02", Vec::new())).await;
    run(&handler, unnamed, retract()).await;
    // Reported, retracted and restored across single-event pages.
    run(&handler, claimed, retract()).await;
    run(&handler, claimed, restore()).await;

    let projector = Projector::new(store.clone(), Arc::new(ActorsProjection)).with_page_size(1);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    assert_eq!(counts(&store, &live.schema).await, vec![(iri, 1, 1)]);
    assert_eq!(
        count_rows(&store, &live.schema, "incident_actor_links").await,
        1
    );
    assert_eq!(
        count_rows(&store, &live.schema, "incident_statuses").await,
        2
    );
}

#[sqlx::test]
async fn a_withdrawn_claim_leaves_the_links_the_counts_and_the_current_involvements() {
    let (_db, store, handler) = setup(5).await;
    let (iri, kh) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, name) in [
        (iri, "Islamic Resistance in Iraq"),
        (kh, "Kata'ib Hezbollah"),
    ] {
        actor(
            &handler,
            id,
            register(name, ActorType::MilitiaGroups, "IRQ", &[]),
        )
        .await;
    }
    let incident = Uuid::new_v4();
    run(
        &handler,
        incident,
        report_naming(
            "2024-01-28",
            vec![
                involvement(iri, ActorRole::Claimant, AttributionStatus::Claimed),
                involvement(
                    kh,
                    ActorRole::PerpetratorAssociate,
                    AttributionStatus::AttributedBySource,
                ),
            ],
        ),
    )
    .await;
    let withdrawn = run(
        &handler,
        incident,
        IncidentCommand::WithdrawClaim(WithdrawClaim {
            actor: kh,
            role: ActorRole::PerpetratorAssociate,
            reason: "source revision".into(),
        }),
    )
    .await;

    let projector = Projector::new(store.clone(), Arc::new(ActorsProjection)).with_page_size(1);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    // Every registered actor has a count; the withdrawn one counts the incident no more.
    assert_eq!(
        counts(&store, &live.schema).await,
        sorted(vec![(iri, 1, 1), (kh, 0, 0)])
    );
    assert_eq!(
        count_rows(&store, &live.schema, "incident_actor_links").await,
        1
    );
    let after = recorded_at(&store, withdrawn).await;
    let before = after - chrono::TimeDelta::microseconds(1);
    let involvements = involvements_at(
        store.pool(),
        &live.schema,
        &[(incident, before), (incident, after)],
    )
    .await
    .expect("involvements");
    let seen: Vec<(DateTime<Utc>, Uuid, &str)> = involvements
        .iter()
        .map(|i| (i.at, i.actor_id, i.role.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (before, iri, "claimant"),
            (before, kh, "perpetrator_associate"),
            (after, iri, "claimant"),
        ]
    );

    // A build in one page agrees with the one built event by event.
    let rebuilder = Projector::new(store.clone(), Arc::new(ActorsProjection));
    let mut rebuilt = rebuilder.rebuild().await.expect("rebuild");
    catch_up_fully(&rebuilder, &store, &mut rebuilt).await;
    assert_eq!(
        checksum(store.pool(), rebuilder.projection(), &rebuilt)
            .await
            .expect("checksum"),
        checksum(store.pool(), projector.projection(), &live)
            .await
            .expect("checksum"),
    );
}

/// Every actor's counts as a recount of the counted links gives them, for every actor with a
/// row of counts or a counted link: (actor, incidents, claimed), ordered by actor.
async fn recounted(store: &EventStore, schema: &str) -> Vec<(Uuid, i32, i32)> {
    sqlx::query_as(&format!(
        "SELECT coalesce(c.actor_id, r.actor_id), coalesce(r.incidents, 0), \
                coalesce(r.claimed, 0) \
           FROM {schema}.actor_incident_counts c \
           FULL JOIN (SELECT actor_id, count(DISTINCT incident_id)::int AS incidents, \
                             (count(DISTINCT incident_id) \
                                FILTER (WHERE role = 'claimant'))::int AS claimed \
                        FROM {schema}.incident_actor_links WHERE counted \
                       GROUP BY actor_id) r USING (actor_id) \
          ORDER BY 1"
    ))
    .fetch_all(store.pool())
    .await
    .expect("recount")
}

#[tokio::test]
async fn counts_go_up_and_down_as_a_recount_of_the_links_says() {
    let (_db, store, handler) = setup(5).await;
    let [a, b, c, d] = [(); 4].map(|()| Uuid::new_v4());
    for (id, name) in [(a, "Alpha"), (b, "Bravo"), (c, "Charlie")] {
        actor(
            &handler,
            id,
            register(name, ActorType::MilitiaGroups, "IRQ", &[]),
        )
        .await;
    }
    // An event a page, every page checked against a recount of the links.
    let projector = Projector::new(store.clone(), Arc::new(ActorsProjection)).with_page_size(1);
    let mut live = projector.live_generation().await.expect("live");
    let mut check = async |expected: Vec<(Uuid, i32, i32)>| {
        catch_up_fully(&projector, &store, &mut live).await;
        let counts = counts(&store, &live.schema).await;
        assert_eq!(counts, recounted(&store, &live.schema).await);
        assert_eq!(counts, sorted(expected));
    };
    check(vec![(a, 0, 0), (b, 0, 0), (c, 0, 0)]).await;

    use ActorRole as R;
    use AttributionStatus as A;
    let (inc1, inc2) = (Uuid::new_v4(), Uuid::new_v4());
    // Alpha in two roles of one incident counts it once, and once as its claimant.
    run(
        &handler,
        inc1,
        report_naming(
            "2024-01-10",
            vec![
                involvement(a, R::Perpetrator, A::AttributedBySource),
                involvement(a, R::Claimant, A::Claimed),
                involvement(b, R::Target, A::AttributedBySource),
            ],
        ),
    )
    .await;
    check(vec![(a, 1, 1), (b, 1, 0), (c, 0, 0)]).await;
    // An actor registered since has its row of zeros, then counts.
    actor(
        &handler,
        d,
        register("Delta", ActorType::MilitiaGroups, "IRQ", &[]),
    )
    .await;
    check(vec![(a, 1, 1), (b, 1, 0), (c, 0, 0), (d, 0, 0)]).await;
    run(
        &handler,
        inc2,
        report_naming(
            "2024-01-11",
            vec![
                involvement(a, R::Claimant, A::Claimed),
                involvement(c, R::Perpetrator, A::Suspected),
                involvement(d, R::Associated, A::Suspected),
            ],
        ),
    )
    .await;
    check(vec![(a, 2, 2), (b, 1, 0), (c, 1, 0), (d, 1, 0)]).await;
    run(&handler, inc1, claim(c, R::Claimant, A::Claimed, None)).await;
    check(vec![(a, 2, 2), (b, 1, 0), (c, 2, 1), (d, 1, 0)]).await;
    // A changed claim changes no count.
    run(
        &handler,
        inc2,
        claim(
            c,
            R::Perpetrator,
            A::AttributedBySource,
            Some("a source confirms it"),
        ),
    )
    .await;
    check(vec![(a, 2, 2), (b, 1, 0), (c, 2, 1), (d, 1, 0)]).await;
    // Alpha withdrawn as inc1's claimant is still its perpetrator.
    let withdraw = |actor, role| {
        IncidentCommand::WithdrawClaim(WithdrawClaim {
            actor,
            role,
            reason: "source revision".into(),
        })
    };
    run(&handler, inc1, withdraw(a, R::Claimant)).await;
    check(vec![(a, 2, 1), (b, 1, 0), (c, 2, 1), (d, 1, 0)]).await;
    run(&handler, inc2, retract()).await;
    check(vec![(a, 1, 0), (b, 1, 0), (c, 1, 1), (d, 0, 0)]).await;
    run(&handler, inc2, restore()).await;
    check(vec![(a, 2, 1), (b, 1, 0), (c, 2, 1), (d, 1, 0)]).await;
    run(&handler, inc1, withdraw(b, R::Target)).await;
    check(vec![(a, 2, 1), (b, 0, 0), (c, 2, 1), (d, 1, 0)]).await;
    run(&handler, inc2, merge_into(inc1)).await;
    let last = vec![(a, 1, 0), (b, 0, 0), (c, 1, 1), (d, 0, 0)];
    check(last.clone()).await;

    // Built in pages of three events, and in one page, the counts are the same.
    for page_size in [3, 1000] {
        let builder =
            Projector::new(store.clone(), Arc::new(ActorsProjection)).with_page_size(page_size);
        let mut built = builder.rebuild().await.expect("rebuild");
        catch_up_fully(&builder, &store, &mut built).await;
        assert_eq!(counts(&store, &built.schema).await, sorted(last.clone()));
        assert_eq!(recounted(&store, &built.schema).await, sorted(last.clone()));
    }
}
