//! The troop-levels read model from a known sequence: U.S. troops in Iraq as the DMDC report
//! (0) and official statements (about 2,500) disagree, a media figure retracted, a drawdown
//! announced and completed, a later estimate; now, as known at earlier recorded times, and
//! rebuilt.

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use common::*;
use sitrep_domain::handler::CommandHandler;
use sitrep_domain::model::troops::{
    deployment_stream_id, AnnounceTroopChange, ChangeKind, CompleteTroopChange, CountQualifier,
    CountScope, EstablishDeployment, ReportTroopLevel, RetractEstimate, SourceType, TroopCommand,
    TroopDeployment, TroopEstimate,
};
use sitrep_domain::model::values::{CountryCode, DatePrecision, EventTime, Source, UncertainCount};
use sitrep_domain::store::EventStore;
use sitrep_projections::checksum::checksum;
use sitrep_projections::troops::TroopsProjection;
use sitrep_projections::Projector;
use uuid::Uuid;

const DMDC: Uuid = Uuid::from_u128(0x1_0001);
const STATEMENT: Uuid = Uuid::from_u128(0x1_0002);
const MEDIA: Uuid = Uuid::from_u128(0x1_0003);
const LATER: Uuid = Uuid::from_u128(0x1_0004);
const DRAWDOWN: Uuid = Uuid::from_u128(0x2_0001);

fn country(code: &str) -> CountryCode {
    CountryCode::new(code).expect("country")
}

fn month(start: &str, end: &str) -> EventTime {
    EventTime::span(day(start), day(end), DatePrecision::Month)
}

fn about(n: u32, words: &str) -> UncertainCount {
    let mut count = UncertainCount::exactly(n);
    count.words = Some(words.into());
    count
}

fn report(
    estimate_id: Uuid,
    as_of: EventTime,
    count: UncertainCount,
    qualifier: CountQualifier,
    source: &str,
    source_type: SourceType,
) -> TroopCommand {
    TroopCommand::ReportTroopLevel(ReportTroopLevel {
        estimate_id,
        as_of,
        count,
        qualifier,
        scope: CountScope::Unknown,
        source: Source::named(source),
        source_type,
    })
}

/// Runs `command` on deployment `id`; returns when it was recorded.
async fn run(handler: &CommandHandler, id: Uuid, command: TroopCommand) -> DateTime<Utc> {
    handler
        .execute::<TroopDeployment>(id, &command, &meta())
        .await
        .expect("command")
        .recorded_at
}

/// Establishes the deployment of U.S. troops in Iraq for `mission`; returns its stream id.
async fn establish_us_in_iraq(handler: &CommandHandler, mission: &str) -> Uuid {
    let (usa, irq) = (country("USA"), country("IRQ"));
    let id = deployment_stream_id(&usa, &irq, mission);
    run(
        handler,
        id,
        TroopCommand::EstablishDeployment(EstablishDeployment {
            deploying: usa,
            host: irq,
            mission: mission.into(),
        }),
    )
    .await;
    id
}

/// The deployment's current level as known at `t` (now when `None`): (estimate, best, as-of
/// end, source type, the competing estimates' ids best first, and their count).
type Level = (
    Option<Uuid>,
    Option<i64>,
    Option<NaiveDate>,
    Option<String>,
    Vec<Uuid>,
    i32,
);

async fn level(store: &EventStore, schema: &str, id: Uuid, t: Option<DateTime<Utc>>) -> Level {
    let (estimate, best, as_of, source_type, competing, count): (
        Option<Uuid>,
        Option<i64>,
        Option<NaiveDate>,
        Option<String>,
        String,
        i32,
    ) = sqlx::query_as(&format!(
        "SELECT current_estimate_id, current_best, current_as_of_end, current_source_type, \
                competing::text, competing_count \
           FROM {schema}.troop_deployment_versions \
          WHERE deployment_id = $1 AND CASE WHEN $2::timestamptz IS NULL THEN recorded_to IS NULL \
                ELSE recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2) END"
    ))
    .bind(id)
    .bind(t)
    .fetch_one(store.pool())
    .await
    .expect("level");
    let competing: Vec<TroopEstimate> = serde_json::from_str(&competing).expect("competing");
    (
        estimate,
        best,
        as_of,
        source_type,
        competing.iter().map(|e| e.estimate_id).collect(),
        count,
    )
}

/// A point of the series: (kind, id, date, best, retracted, change status).
type Point = (String, Uuid, NaiveDate, i64, bool, Option<String>);

/// The deployment's series as known at `t`, in date order.
async fn series(store: &EventStore, schema: &str, id: Uuid, t: DateTime<Utc>) -> Vec<Point> {
    sqlx::query_as(&format!(
        "SELECT kind, point_id, date, best, retracted, change_status \
           FROM {schema}.troop_level_points \
          WHERE deployment_id = $1 AND recorded_from <= $2 \
            AND (recorded_to IS NULL OR recorded_to > $2) \
          ORDER BY date, kind, point_id"
    ))
    .bind(id)
    .bind(t)
    .fetch_all(store.pool())
    .await
    .expect("series")
}

fn point(
    kind: &str,
    id: Uuid,
    date: &str,
    best: i64,
    retracted: bool,
    status: Option<&str>,
) -> Point {
    (
        kind.into(),
        id,
        day(date),
        best,
        retracted,
        status.map(Into::into),
    )
}

#[tokio::test]
async fn the_current_level_competing_estimates_and_the_series_as_known_over_time() {
    let (_db, store, handler) = setup(5).await;
    let mission = "Operation Inherent Resolve";
    let id = establish_us_in_iraq(&handler, mission).await;
    // The DMDC quarterly report (0: contingency deployments not counted) and the official
    // statements (about 2,500) describe the same month; the statement wins by source priority.
    run(
        &handler,
        id,
        report(
            DMDC,
            EventTime::day(day("2023-12-31")),
            UncertainCount::exactly(0),
            CountQualifier::Exactly,
            "Defense Manpower Data Center",
            SourceType::OfficialReport,
        ),
    )
    .await;
    run(
        &handler,
        id,
        report(
            STATEMENT,
            month("2023-12-01", "2023-12-31"),
            about(2_500, "about 2,500"),
            CountQualifier::About,
            "U.S. Department of Defense",
            SourceType::OfficialStatement,
        ),
    )
    .await;
    let media_reported = run(
        &handler,
        id,
        report(
            MEDIA,
            month("2023-12-01", "2023-12-31"),
            about(3_000, "some 3,000"),
            CountQualifier::About,
            "A newspaper",
            SourceType::Media,
        ),
    )
    .await;
    run(
        &handler,
        id,
        TroopCommand::RetractEstimate(RetractEstimate {
            estimate_id: MEDIA,
            reason: "Counted contractors twice".into(),
        }),
    )
    .await;
    let announced = run(
        &handler,
        id,
        TroopCommand::AnnounceTroopChange(AnnounceTroopChange {
            change_id: DRAWDOWN,
            kind: ChangeKind::Withdrawal,
            target: about(2_000, "up to 2,000"),
            by: month("2025-09-01", "2025-09-30"),
            announced_on: EventTime::day(day("2024-09-27")),
            milestone: None,
            source: Source::named("U.S. Department of Defense"),
            source_type: SourceType::OfficialStatement,
        }),
    )
    .await;
    let completed = run(
        &handler,
        id,
        TroopCommand::CompleteTroopChange(CompleteTroopChange {
            change_id: DRAWDOWN,
            completed: month("2025-09-01", "2025-09-30"),
            source: Source::named("Iraqi Ministry of Defence"),
            source_type: SourceType::OfficialStatement,
            notes: None,
        }),
    )
    .await;
    let later = run(
        &handler,
        id,
        report(
            LATER,
            month("2025-10-01", "2025-10-31"),
            about(2_000, "about 2,000"),
            CountQualifier::About,
            "U.S. Department of Defense",
            SourceType::OfficialStatement,
        ),
    )
    .await;

    let projector = Projector::new(store.clone(), Arc::new(TroopsProjection)).with_page_size(3);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    let schema = live.schema.clone();

    // Now: the later statement, nothing competing with it (no other estimate reaches October
    // 2025).
    assert_eq!(
        level(&store, &schema, id, None).await,
        (
            Some(LATER),
            Some(2_000),
            Some(day("2025-10-31")),
            Some("official_statement".into()),
            vec![],
            0
        )
    );
    let row: (String, String, String, i32, i32, i32, Option<NaiveDate>) = sqlx::query_as(&format!(
        "SELECT deploying, host, mission, estimate_count, retracted_count, \
                    pending_change_count, next_change_by \
               FROM {schema}.troop_deployment_versions \
              WHERE deployment_id = $1 AND recorded_to IS NULL"
    ))
    .bind(id)
    .fetch_one(store.pool())
    .await
    .expect("row");
    assert_eq!(
        row,
        ("USA".into(), "IRQ".into(), mission.into(), 4, 1, 0, None)
    );

    // As known before the later estimate: the statement's 2,500 beside the report's 0.
    assert_eq!(
        level(&store, &schema, id, Some(completed)).await,
        (
            Some(STATEMENT),
            Some(2_500),
            Some(day("2023-12-31")),
            Some("official_statement".into()),
            vec![DMDC],
            1
        )
    );
    // Before the media figure was retracted it competed too, ranked below the report.
    assert_eq!(
        level(&store, &schema, id, Some(media_reported)).await.4,
        vec![DMDC, MEDIA]
    );
    let announced_row: (i32, Option<NaiveDate>) = sqlx::query_as(&format!(
        "SELECT pending_change_count, next_change_by FROM {schema}.troop_deployment_versions \
          WHERE deployment_id = $1 AND recorded_from <= $2 \
            AND (recorded_to IS NULL OR recorded_to > $2)"
    ))
    .bind(id)
    .bind(announced)
    .fetch_one(store.pool())
    .await
    .expect("announced");
    assert_eq!(announced_row, (1, Some(day("2025-09-30"))));

    // The series now: every estimate (the retracted one flagged), the drawdown as planned
    // (completed) and as completed, the later estimate.
    let now = series(&store, &schema, id, later).await;
    assert_eq!(
        now,
        vec![
            point("estimate", DMDC, "2023-12-31", 0, false, None),
            point("estimate", STATEMENT, "2023-12-31", 2_500, false, None),
            point("estimate", MEDIA, "2023-12-31", 3_000, true, None),
            point(
                "completed",
                DRAWDOWN,
                "2025-09-30",
                2_000,
                false,
                Some("completed")
            ),
            point(
                "planned",
                DRAWDOWN,
                "2025-09-30",
                2_000,
                false,
                Some("completed")
            ),
            point("estimate", LATER, "2025-10-31", 2_000, false, None),
        ]
    );
    // The series as known when the drawdown was announced: planned only, the media figure
    // retracted already.
    assert_eq!(
        series(&store, &schema, id, announced).await,
        vec![
            point("estimate", DMDC, "2023-12-31", 0, false, None),
            point("estimate", STATEMENT, "2023-12-31", 2_500, false, None),
            point("estimate", MEDIA, "2023-12-31", 3_000, true, None),
            point(
                "planned",
                DRAWDOWN,
                "2025-09-30",
                2_000,
                false,
                Some("announced")
            ),
        ]
    );
    // And before the retraction: the media figure still counted.
    let before_retraction = series(&store, &schema, id, media_reported).await;
    assert_eq!(
        before_retraction,
        vec![
            point("estimate", DMDC, "2023-12-31", 0, false, None),
            point("estimate", STATEMENT, "2023-12-31", 2_500, false, None),
            point("estimate", MEDIA, "2023-12-31", 3_000, false, None),
        ]
    );

    // One version per event; a point version per report, retraction, announcement and
    // completion (two for the completion: the planned point's and the completed one).
    let counts: (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {schema}.troop_deployment_versions), \
                (SELECT count(*) FROM {schema}.troop_level_points), \
                (SELECT count(*) FROM {schema}.troop_level_points WHERE recorded_to IS NULL)"
    ))
    .fetch_one(store.pool())
    .await
    .expect("counts");
    assert_eq!(counts, (8, 8, 6));

    // Built a page at a time or rebuilt from scratch: the same rows.
    let incremental = checksum(store.pool(), &TroopsProjection, &live)
        .await
        .expect("checksum");
    let rebuilt = Projector::new(store.clone(), Arc::new(TroopsProjection))
        .rebuild()
        .await
        .expect("rebuild");
    let from_scratch = checksum(store.pool(), &TroopsProjection, &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(incremental, from_scratch);
    assert_eq!(incremental.rows, 16);
}

/// The live troop-levels generation's checkpoint as stored, and the events it counts.
async fn stored_checkpoint(store: &EventStore) -> (sitrep_domain::store::FeedCursor, i64) {
    let stored = sitrep_projections::generation::live(store.pool(), "troops")
        .await
        .expect("read")
        .expect("live");
    (stored.cursor, stored.events_applied)
}

/// `count` incidents reported in Iraq, each a stream of its own: a log troop levels pass over.
/// The troop levels' lag (`events_behind` of their status).
async fn troops_behind(store: &EventStore) -> i64 {
    let statuses = sitrep_projections::status::statuses(store.pool())
        .await
        .expect("statuses");
    statuses
        .iter()
        .find(|s| s.projection == "troops")
        .map(|s| s.events_behind)
        .expect("the troop levels' status")
}

async fn report_incidents(handler: &CommandHandler, count: u32) {
    for n in 0..count {
        common::run(
            handler,
            Uuid::new_v4(),
            common::report("2024-01-20", "IRQ", n),
        )
        .await;
    }
}

#[tokio::test]
async fn a_log_of_incidents_is_passed_over_without_waking_anyone() {
    let (_db, store, handler) = setup(5).await;
    report_incidents(&handler, 7).await;
    let mut applied = sqlx::postgres::PgListener::connect_with(store.pool())
        .await
        .expect("listener");
    applied
        .listen(sitrep_projections::status::APPLIED_CHANNEL)
        .await
        .expect("listen");

    // Pages of 3 incident events: the checkpoint moves past each, nothing is written, and no
    // waiter is woken (none waits for troop levels to show an incident).
    let projector = Projector::new(store.clone(), Arc::new(TroopsProjection)).with_page_size(3);
    let mut live = projector.live_generation().await.expect("live");
    assert_eq!(
        troops_behind(&store).await,
        0,
        "incidents are no lag of the troop levels"
    );
    catch_up_fully(&projector, &store, &mut live).await;
    assert_eq!(live.events_applied, 7);
    assert_eq!(live.cursor, store.feed_head().await.expect("head"));
    assert_eq!(
        stored_checkpoint(&store).await,
        (live.cursor, 7),
        "the checkpoint is stored"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), applied.recv())
            .await
            .is_err(),
        "a page with no troop event notified"
    );

    // A troop event is applied, and its page wakes the waiters.
    establish_us_in_iraq(&handler, "Operation Inherent Resolve").await;
    report_incidents(&handler, 2).await;
    assert_eq!(troops_behind(&store).await, 1);
    catch_up_fully(&projector, &store, &mut live).await;
    assert_eq!(troops_behind(&store).await, 0);
    assert_eq!(live.events_applied, 10);
    tokio::time::timeout(std::time::Duration::from_secs(10), applied.recv())
        .await
        .expect("woken within 10 s")
        .expect("a notification");
    let rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {}.troop_deployment_versions",
        live.schema
    ))
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(rows, 1);
}

/// A leading troop-levels projector is not woken by the incidents its own process records: it
/// reads the feed when it polls (every 250 ms) and passes over them then, not after each append.
/// Its feed reads are counted (the store logs its statements) while 40 incidents are reported.
#[tokio::test]
async fn a_leading_projector_sleeps_through_appends_of_other_stream_types() {
    use sitrep_testkit::statements::{counting_statements_with, logging_pool};
    use std::time::{Duration, Instant};

    let db = sitrep_testkit::TestDb::new(&sitrep_domain::MIGRATOR).await;
    let store = EventStore::new(logging_pool(&db, 5).await);
    let handler = CommandHandler::new(store.clone());
    let projector = Projector::new(store.clone(), Arc::new(TroopsProjection));
    projector.live_generation().await.expect("live");
    let began = Instant::now();
    let ((), feed_reads) =
        counting_statements_with("stream_type = ANY($4::text[]) AS wanted", async {
            let leading = tokio::spawn(async move {
                let _ = projector.run(std::future::pending()).await;
            });
            // Leading and caught up with the empty log.
            tokio::time::sleep(Duration::from_millis(100)).await;
            report_incidents(&handler, 40).await;
            leading.abort();
        })
        .await;
    let elapsed = began.elapsed();
    // Its first read, one per poll, one per second's look at the live generation, and one
    // more for a poll under way at the end.
    let most = 2 + elapsed.as_millis() / 250 + elapsed.as_millis() / 1000;
    assert!(
        (feed_reads as u128) <= most,
        "{feed_reads} feed reads in {elapsed:?} while 40 incidents were reported"
    );
}

/// Passing over a page is guarded as applying one is: a projector whose checkpoint was moved
/// by another (a rival during a take-over) is fenced, and the checkpoint it found stays.
#[tokio::test]
async fn a_stale_projector_passing_over_incidents_is_fenced() {
    let (_db, store, handler) = setup(5).await;
    report_incidents(&handler, 4).await;
    let projector = Projector::new(store.clone(), Arc::new(TroopsProjection)).with_page_size(2);
    let stale = projector.live_generation().await.expect("live");
    let mut current = stale.clone();
    catch_up_fully(&projector, &store, &mut current).await;
    assert_eq!(current.events_applied, 4);

    let mut stale = stale;
    let outcome = projector.catch_up(&mut stale).await;
    assert!(
        matches!(
            outcome,
            Err(sitrep_projections::ProjectionError::Fenced { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(
        stored_checkpoint(&store).await,
        (current.cursor, 4),
        "the checkpoint another moved stays where it was"
    );
}
