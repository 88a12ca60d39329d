//! The incidents read model from a known sequence of events: corrections, retractions,
//! restores and merges, now and as known at earlier recorded times.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use sitrep_domain::model::actor::{Actor, ActorCommand, RegisterActor};
use sitrep_domain::model::vocab::ActorType;
use uuid::Uuid;

/// The current, visible incidents: (id, injuries_best), ordered by id.
async fn current(
    store: &sitrep_domain::store::EventStore,
    schema: &str,
) -> Vec<(Uuid, Option<i32>)> {
    sqlx::query_as(&format!(
        "SELECT incident_id, injuries_best FROM {schema}.incident_versions \
          WHERE recorded_to IS NULL AND status = 'active' ORDER BY incident_id"
    ))
    .fetch_all(store.pool())
    .await
    .expect("current")
}

/// The incidents visible as known at `t`.
async fn as_of(
    store: &sitrep_domain::store::EventStore,
    schema: &str,
    t: DateTime<Utc>,
) -> Vec<(Uuid, Option<i32>)> {
    sqlx::query_as(&format!(
        "SELECT incident_id, injuries_best FROM {schema}.incident_versions \
          WHERE recorded_from <= $1 AND (recorded_to IS NULL OR recorded_to > $1) \
            AND status = 'active' ORDER BY incident_id"
    ))
    .bind(t)
    .fetch_all(store.pool())
    .await
    .expect("as of")
}

async fn recorded_at(store: &sitrep_domain::store::EventStore, position: i64) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT recorded_at FROM events WHERE position = $1")
        .bind(position)
        .fetch_one(store.pool())
        .await
        .expect("recorded_at")
}

#[tokio::test]
async fn the_view_follows_corrections_retractions_restores_and_merges() {
    let (_db, store, handler) = setup(5).await;
    let mut ids = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    ids.sort();
    let [tower22, false_report, duplicate] = ids;

    let reported = run(&handler, tower22, report("2024-01-28", "JOR", 3)).await;
    let revised = run(&handler, tower22, revise_injuries(40)).await;
    run(&handler, false_report, report("2024-01-29", "IRQ", 0)).await;
    let retracted = run(&handler, false_report, retract()).await;
    run(&handler, duplicate, report("2024-01-28", "JOR", 3)).await;
    let merged = run(&handler, duplicate, merge_into(tower22)).await;
    let restored = run(&handler, false_report, restore()).await;

    let projector = projector(&store);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    let schema = live.schema.clone();

    // Now: the revised Tower 22 attack and the restored report; the duplicate is merged away.
    let mut expected = vec![(tower22, Some(40)), (false_report, None)];
    expected.sort();
    assert_eq!(current(&store, &schema).await, expected);

    // As known before the revision: the first figure (no injuries known yet).
    assert_eq!(
        as_of(&store, &schema, recorded_at(&store, reported).await).await,
        vec![(tower22, None)]
    );
    assert_eq!(
        as_of(&store, &schema, recorded_at(&store, revised).await).await,
        vec![(tower22, Some(40))]
    );
    // While it was retracted the false report was not shown; the duplicate was shown until
    // its merge.
    let at_retraction = as_of(&store, &schema, recorded_at(&store, retracted).await).await;
    assert!(!at_retraction.iter().any(|(id, _)| *id == false_report));
    let before_merge = as_of(&store, &schema, recorded_at(&store, merged - 1).await).await;
    assert!(before_merge.iter().any(|(id, _)| *id == duplicate));
    let after_merge = as_of(&store, &schema, recorded_at(&store, merged).await).await;
    assert!(!after_merge.iter().any(|(id, _)| *id == duplicate));
    assert_eq!(
        as_of(&store, &schema, recorded_at(&store, restored).await).await,
        expected
    );

    // Every event left a version; the merged incident says where it went.
    let (versions, merged_into): (i64, Option<Uuid>) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {schema}.incident_versions), \
                (SELECT merged_into FROM {schema}.incident_versions \
                  WHERE incident_id = $1 AND recorded_to IS NULL)"
    ))
    .bind(duplicate)
    .fetch_one(store.pool())
    .await
    .expect("versions");
    assert_eq!(versions, 7);
    assert_eq!(merged_into, Some(tower22));
}

#[tokio::test]
async fn claimants_and_countries_are_columns_for_filters() {
    let (_db, store, handler) = setup(5).await;
    let iri = Uuid::new_v4();
    handler
        .execute::<Actor>(
            iri,
            &ActorCommand::RegisterActor(RegisterActor {
                name: "Islamic Resistance in Iraq".into(),
                actor_type: ActorType::MilitiaGroups,
                country: None,
                aliases: Vec::new(),
                description: None,
            }),
            &meta(),
        )
        .await
        .expect("actor");
    let attack = Uuid::new_v4();
    run(&handler, attack, claimed_report("2024-01-20", "IRQ", iri)).await;

    let projector = projector(&store);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    let row: (String, String, Vec<Uuid>, Vec<Uuid>, Option<String>) = sqlx::query_as(&format!(
        "SELECT country, sub_event_type, actor_ids, claimant_ids, date_precision \
           FROM {}.incident_versions WHERE incident_id = $1 AND recorded_to IS NULL",
        live.schema
    ))
    .bind(attack)
    .fetch_one(store.pool())
    .await
    .expect("row");
    assert_eq!(
        row,
        (
            "IRQ".into(),
            "air_drone_strike".into(),
            vec![iri],
            vec![iri],
            Some("day".into())
        )
    );
}

mod queries {
    //! The list and the statistics, on the live generation.

    use super::*;
    use sitrep_domain::model::incident::{IncidentCommand, TargetCategory};
    use sitrep_projections::incident_queries::{
        incident_list, incident_stats, IncidentFilter, ListCursor, StatsDimension, TimeBucket,
    };

    async fn actor(handler: &sitrep_domain::handler::CommandHandler, name: &str) -> Uuid {
        let id = Uuid::new_v4();
        handler
            .execute::<Actor>(
                id,
                &ActorCommand::RegisterActor(RegisterActor {
                    name: name.into(),
                    actor_type: ActorType::MilitiaGroups,
                    country: None,
                    aliases: Vec::new(),
                    description: None,
                }),
                &meta(),
            )
            .await
            .expect("actor");
        id
    }

    /// An attack on a base hosting coalition troops, claimed by `claimant`, `killed` dead.
    fn attack(date: &str, claimant: Uuid, killed: u32) -> IncidentCommand {
        let IncidentCommand::ReportIncident(mut report) = claimed_report(date, "IRQ", claimant)
        else {
            unreachable!("claimed_report() makes a report")
        };
        report.facts.target_category = Some(TargetCategory::ForeignMilitaryBase);
        report.facts.fatalities = sitrep_domain::model::values::UncertainCount::exactly(killed);
        IncidentCommand::ReportIncident(report)
    }

    #[tokio::test]
    async fn attacks_on_coalition_bases_by_week_and_claimant() {
        let (_db, store, handler) = setup(5).await;
        let (iri, kh) = (
            actor(&handler, "Islamic Resistance in Iraq").await,
            actor(&handler, "Kata'ib Hezbollah").await,
        );
        // Week of 2023-10-16: two IRI claims (one before the period asked for).
        run(&handler, Uuid::new_v4(), attack("2023-10-15", iri, 0)).await;
        run(&handler, Uuid::new_v4(), attack("2023-10-17", iri, 0)).await;
        run(&handler, Uuid::new_v4(), attack("2023-10-18", iri, 1)).await;
        // Week of 2024-01-22: one KH claim, one IRI claim later revised, one retracted.
        run(&handler, Uuid::new_v4(), attack("2024-01-24", kh, 0)).await;
        let tower22 = Uuid::new_v4();
        let reported = run(&handler, tower22, attack("2024-01-28", iri, 1)).await;
        run(
            &handler,
            tower22,
            IncidentCommand::ReviseCasualties(sitrep_domain::model::incident::ReviseCasualties {
                fatalities: Some(sitrep_domain::model::values::UncertainCount::exactly(3)),
                injuries: None,
                source: None,
                reason: "Pentagon statement".into(),
            }),
        )
        .await;
        let false_report = Uuid::new_v4();
        run(&handler, false_report, attack("2024-01-27", iri, 0)).await;
        run(&handler, false_report, retract()).await;
        // Not an attack on a base: does not count.
        run(
            &handler,
            Uuid::new_v4(),
            claimed_report("2024-01-25", "IRQ", iri),
        )
        .await;

        let projector = projector(&store);
        let mut live = projector.live_generation().await.expect("live");
        catch_up_fully(&projector, &store, &mut live).await;

        let filter = IncidentFilter {
            from: Some(day("2023-10-17")),
            target_categories: vec!["foreign_military_base".into()],
            ..IncidentFilter::default()
        };
        let stats = incident_stats(
            store.pool(),
            &live.schema,
            &filter,
            &[StatsDimension::Claimant],
            Some(TimeBucket::Week),
            None,
        )
        .await
        .expect("stats");
        let iri_kh = [iri.to_string(), kh.to_string()];
        type Group = (Option<chrono::NaiveDate>, Vec<Option<String>>, i64, i64);
        let rows: Vec<Group> = stats
            .iter()
            .map(|r| (r.bucket, r.keys.clone(), r.incidents, r.fatalities_best))
            .collect();
        let week = |d: &str| Some(day(d));
        let mut expected = vec![
            (week("2023-10-16"), vec![Some(iri_kh[0].clone())], 2, 1),
            (week("2024-01-22"), vec![Some(iri_kh[0].clone())], 1, 3),
            (week("2024-01-22"), vec![Some(iri_kh[1].clone())], 1, 0),
        ];
        expected.sort();
        assert_eq!(rows, expected);

        // As known right after the first report of Tower 22: one dead, not three.
        let at_report = recorded_at(&store, reported).await;
        let before = incident_stats(
            store.pool(),
            &live.schema,
            &filter,
            &[StatsDimension::Claimant],
            Some(TimeBucket::Week),
            Some(at_report),
        )
        .await
        .expect("stats as of");
        let iri_recent = before
            .iter()
            .find(|r| r.bucket == week("2024-01-22") && r.keys == vec![Some(iri_kh[0].clone())])
            .expect("IRI's week");
        assert_eq!((iri_recent.incidents, iri_recent.fatalities_best), (1, 1));

        // The list, newest first, two at a time.
        let page = incident_list(store.pool(), &live.schema, &filter, 2, None, None)
            .await
            .expect("list");
        let days: Vec<_> = page.iter().map(|i| i.valid_start).collect();
        assert_eq!(days, vec![week("2024-01-28"), week("2024-01-24")]);
        let last = page.last().expect("a page");
        let next = incident_list(
            store.pool(),
            &live.schema,
            &filter,
            2,
            Some(ListCursor {
                valid_start: last.valid_start.expect("a day"),
                incident_id: last.incident_id,
            }),
            None,
        )
        .await
        .expect("next page");
        let days: Vec<_> = next.iter().map(|i| i.valid_start).collect();
        assert_eq!(days, vec![week("2023-10-18"), week("2023-10-17")]);
    }
}
