//! The negotiations read model from a known sequence: the Iraq-U.S. Higher Military Commission
//! opened, sessions held, working groups formed, positions stated, a timeline milestone
//! committed to and postponed, an agreement recorded, the talks suspended; now, as known at
//! earlier recorded times, and rebuilt.

mod common;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use common::*;
use sitrep_domain::handler::CommandHandler;
use sitrep_domain::model::negotiation::{
    AgreementStage, AgreementStatus, AgreementType, CommitTimeline, FormWorkingGroup,
    MilestoneStatus, Negotiation, NegotiationCommand, NegotiationStatus, OpenNegotiation,
    Participant, RecordAgreement, RecordSession, SessionLevel, SetMilestoneStatus,
    SetNegotiationStatus, StatePosition,
};
use sitrep_domain::model::values::{CountryCode, DatePrecision, EventTime, Place, Source};
use sitrep_domain::store::EventStore;
use sitrep_projections::checksum::checksum;
use sitrep_projections::negotiations::NegotiationsProjection;
use sitrep_projections::Projector;
use uuid::Uuid;

const FIRST_SESSION: Uuid = Uuid::from_u128(0x2_0001);
const GROUP_SESSION: Uuid = Uuid::from_u128(0x2_0002);
const ISIS_GROUP: Uuid = Uuid::from_u128(0x3_0001);
const OPERATIONS_GROUP: Uuid = Uuid::from_u128(0x3_0002);
const MISSION_END: Uuid = Uuid::from_u128(0x4_0001);
const JOINT_STATEMENT: Uuid = Uuid::from_u128(0x5_0001);

fn month(start: &str, end: &str) -> EventTime {
    EventTime::span(day(start), day(end), DatePrecision::Month)
}

fn on(date: &str) -> EventTime {
    EventTime::day(day(date))
}

/// Runs `command` on negotiation `id`; returns when it was recorded.
async fn run(
    handler: &CommandHandler,
    id: Uuid,
    command: impl Into<NegotiationCommand>,
) -> DateTime<Utc> {
    handler
        .execute::<Negotiation>(id, &command.into(), &meta())
        .await
        .expect("command")
        .recorded_at
}

fn session(id: Uuid, held: &str, level: SessionLevel, group: Option<Uuid>) -> RecordSession {
    let mut venue = Place::country(CountryCode::new("IRQ").expect("country"));
    venue.admin1 = Some("Baghdad".into());
    RecordSession {
        session_id: id,
        held: on(held),
        venue: Some(venue),
        level,
        working_group: group,
        participants: vec![Participant::named("Mohammed Shia al-Sudani")],
        summary: None,
        outcome: None,
        sources: vec![Source::named("Office of the Prime Minister of Iraq")],
    }
}

fn group(id: Uuid, name: &str) -> FormWorkingGroup {
    FormWorkingGroup {
        group_id: id,
        name: name.into(),
        mandate: format!("Assess {name}"),
        members: vec![Participant::named("Iraqi Joint Operations Command")],
        formed_on: Some(on("2024-01-27")),
    }
}

fn position(party: &str, text: &str, stated: &str) -> StatePosition {
    StatePosition {
        party: party.into(),
        position: text.into(),
        stated_on: on(stated),
        source: Source::named("Reuters"),
    }
}

/// The negotiation's row as known at `t` (now when `None`).
type Row = (
    String,
    Option<String>,
    Vec<String>,
    i32,
    i32,
    i32,
    i32,
    i32,
    Option<NaiveDate>,
    i32,
    Option<NaiveDate>,
);

/// The rows of `table` current at `$2` (now when it is NULL).
fn as_of(table: &str) -> String {
    format!(
        "({table}.recorded_to IS NULL AND $2::timestamptz IS NULL \
          OR {table}.recorded_from <= $2 AND ({table}.recorded_to IS NULL OR {table}.recorded_to > $2))"
    )
}

async fn row(store: &EventStore, schema: &str, id: Uuid, t: Option<DateTime<Utc>>) -> Row {
    sqlx::query_as(&format!(
        "SELECT status, status_reason, parties, session_count, working_group_count, \
                position_count, milestone_count, open_milestone_count, next_milestone_due, \
                agreement_count, last_session_date \
           FROM {schema}.negotiation_versions v WHERE negotiation_id = $1 AND {}",
        as_of("v")
    ))
    .bind(id)
    .bind(t)
    .fetch_one(store.pool())
    .await
    .expect("row")
}

/// Sessions in order: (id, level, working group).
async fn sessions(
    store: &EventStore,
    schema: &str,
    id: Uuid,
    t: Option<DateTime<Utc>>,
) -> Vec<(Uuid, String, Option<Uuid>, Option<String>)> {
    sqlx::query_as(&format!(
        "SELECT session_id, level, working_group_id, venue_admin1 \
           FROM {schema}.negotiation_sessions s WHERE negotiation_id = $1 AND {} \
          ORDER BY held_start, stream_version",
        as_of("s")
    ))
    .bind(id)
    .bind(t)
    .fetch_all(store.pool())
    .await
    .expect("sessions")
}

/// The latest position of each party: (party, statement).
async fn latest_positions(
    store: &EventStore,
    schema: &str,
    id: Uuid,
    t: Option<DateTime<Utc>>,
) -> Vec<(String, String)> {
    sqlx::query_as(&format!(
        "SELECT DISTINCT ON (party) party, statement \
           FROM {schema}.negotiation_positions p WHERE negotiation_id = $1 AND {} \
          ORDER BY party, stated_end DESC, stream_version DESC",
        as_of("p")
    ))
    .bind(id)
    .bind(t)
    .fetch_all(store.pool())
    .await
    .expect("positions")
}

/// The milestones: (id, status, due end, first committed due end, effective end).
async fn milestones(
    store: &EventStore,
    schema: &str,
    id: Uuid,
    t: Option<DateTime<Utc>>,
) -> Vec<(Uuid, String, NaiveDate, NaiveDate, Option<NaiveDate>)> {
    sqlx::query_as(&format!(
        "SELECT milestone_id, status, due_end, committed_due_end, status_effective_end \
           FROM {schema}.negotiation_milestone_versions m WHERE negotiation_id = $1 AND {} \
          ORDER BY due_end, milestone_id",
        as_of("m")
    ))
    .bind(id)
    .bind(t)
    .fetch_all(store.pool())
    .await
    .expect("milestones")
}

#[tokio::test]
async fn a_negotiation_now_and_as_known_before_its_suspension() {
    let (_db, store, handler) = setup(5).await;
    let id = Uuid::new_v4();

    run(
        &handler,
        id,
        OpenNegotiation {
            title: "Higher Military Commission".into(),
            topic: "The future of the Global Coalition mission in Iraq".into(),
            parties: vec![
                Participant::named("Iraq"),
                Participant::named("United States"),
            ],
            mediators: Vec::new(),
            opened_on: on("2024-01-25"),
        },
    )
    .await;
    let first_session = run(
        &handler,
        id,
        session(FIRST_SESSION, "2024-01-27", SessionLevel::Military, None),
    )
    .await;
    run(&handler, id, group(ISIS_GROUP, "the threat from ISIS")).await;
    run(
        &handler,
        id,
        group(OPERATIONS_GROUP, "operational requirements"),
    )
    .await;
    run(
        &handler,
        id,
        session(
            GROUP_SESSION,
            "2024-02-05",
            SessionLevel::WorkingGroup,
            Some(ISIS_GROUP),
        ),
    )
    .await;
    run(
        &handler,
        id,
        position("Iraq", "The coalition's mission must end", "2024-01-28"),
    )
    .await;
    let us_position = run(
        &handler,
        id,
        position(
            "United States",
            "A transition to bilateral security ties",
            "2024-01-30",
        ),
    )
    .await;
    run(
        &handler,
        id,
        position(
            "iraq",
            "The mission in federal Iraq ends by September 2025",
            "2024-08-01",
        ),
    )
    .await;
    run(
        &handler,
        id,
        CommitTimeline {
            milestone_id: MISSION_END,
            description: "End of the coalition's military mission in federal Iraq".into(),
            due: month("2025-09-01", "2025-09-30"),
            committed_on: on("2024-09-27"),
            source: Source::named("Joint statement"),
        },
    )
    .await;
    let agreed = run(
        &handler,
        id,
        RecordAgreement {
            agreement_id: JOINT_STATEMENT,
            name: "Joint statement on the end of the coalition mission".into(),
            status: AgreementStatus::Signed,
            agreement_type: AgreementType::Interstate,
            stage: AgreementStage::FrameworkSubstantivePartial,
            signed_on: on("2024-09-27"),
            provisions: vec![
                "The mission in federal Iraq ends by September 2025".into(),
                "The mission in the Kurdistan Region continues until September 2026".into(),
            ],
            sources: vec![Source::named("U.S. Department of Defense")],
        },
    )
    .await;
    let postponed = run(
        &handler,
        id,
        SetMilestoneStatus {
            milestone_id: MISSION_END,
            status: MilestoneStatus::Postponed,
            reason: "Advisers stay in Baghdad through the year".into(),
            effective_on: Some(month("2025-09-01", "2025-09-30")),
            new_due: Some(month("2025-12-01", "2025-12-31")),
        },
    )
    .await;
    run(
        &handler,
        id,
        SetNegotiationStatus {
            status: NegotiationStatus::Suspended,
            reason: "Talks paused after strikes".into(),
            effective_on: None,
        },
    )
    .await;

    let projector =
        Projector::new(store.clone(), Arc::new(NegotiationsProjection)).with_page_size(3);
    let mut live = projector.live_generation().await.expect("live");
    catch_up_fully(&projector, &store, &mut live).await;
    let schema = live.schema.clone();

    // Now: suspended, with everything it went through.
    let parties = vec!["Iraq".to_owned(), "United States".to_owned()];
    assert_eq!(
        row(&store, &schema, id, None).await,
        (
            "suspended".into(),
            Some("Talks paused after strikes".into()),
            parties.clone(),
            2,
            2,
            3,
            1,
            1,
            Some(day("2025-12-31")),
            1,
            Some(day("2024-02-05")),
        )
    );
    // As known before the suspension: active, the milestone postponed already.
    assert_eq!(
        row(&store, &schema, id, Some(postponed)).await,
        (
            "active".into(),
            None,
            parties.clone(),
            2,
            2,
            3,
            1,
            1,
            Some(day("2025-12-31")),
            1,
            Some(day("2024-02-05")),
        )
    );
    // As known when the agreement was recorded: the milestone due in September 2025.
    assert_eq!(
        row(&store, &schema, id, Some(agreed)).await.8,
        Some(day("2025-09-30"))
    );

    // Sessions in order, now and before the working group's session.
    let baghdad = Some("Baghdad".to_owned());
    assert_eq!(
        sessions(&store, &schema, id, None).await,
        vec![
            (FIRST_SESSION, "military".into(), None, baghdad.clone()),
            (
                GROUP_SESSION,
                "working_group".into(),
                Some(ISIS_GROUP),
                baghdad.clone()
            ),
        ]
    );
    assert_eq!(
        sessions(&store, &schema, id, Some(first_session)).await,
        vec![(FIRST_SESSION, "military".into(), None, baghdad)]
    );

    // The latest position of each party, now and before Iraq's second statement (the party
    // is named as registered, whatever the case the command used).
    assert_eq!(
        latest_positions(&store, &schema, id, None).await,
        vec![
            (
                "Iraq".into(),
                "The mission in federal Iraq ends by September 2025".into()
            ),
            (
                "United States".into(),
                "A transition to bilateral security ties".into()
            ),
        ]
    );
    assert_eq!(
        latest_positions(&store, &schema, id, Some(us_position)).await,
        vec![
            ("Iraq".into(), "The coalition's mission must end".into()),
            (
                "United States".into(),
                "A transition to bilateral security ties".into()
            ),
        ]
    );

    // The milestone: postponed now, pending as first committed to.
    assert_eq!(
        milestones(&store, &schema, id, None).await,
        vec![(
            MISSION_END,
            "postponed".into(),
            day("2025-12-31"),
            day("2025-09-30"),
            Some(day("2025-09-30"))
        )]
    );
    assert_eq!(
        milestones(&store, &schema, id, Some(agreed)).await,
        vec![(
            MISSION_END,
            "pending".into(),
            day("2025-09-30"),
            day("2025-09-30"),
            None
        )]
    );

    // Working groups and the agreement.
    let groups: Vec<(Uuid, String, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT group_id, name, members FROM {schema}.negotiation_working_groups \
          WHERE negotiation_id = $1 AND recorded_to IS NULL ORDER BY stream_version"
    ))
    .bind(id)
    .fetch_all(store.pool())
    .await
    .expect("groups");
    let members = vec!["Iraqi Joint Operations Command".to_owned()];
    assert_eq!(
        groups,
        vec![
            (ISIS_GROUP, "the threat from ISIS".into(), members.clone()),
            (OPERATIONS_GROUP, "operational requirements".into(), members),
        ]
    );
    let agreement: (Uuid, String, String, String, NaiveDate, i32) = sqlx::query_as(&format!(
        "SELECT agreement_id, status, agreement_type, stage, signed_start, \
                cardinality(provisions) \
           FROM {schema}.negotiation_agreements WHERE negotiation_id = $1"
    ))
    .bind(id)
    .fetch_one(store.pool())
    .await
    .expect("agreement");
    assert_eq!(
        agreement,
        (
            JOINT_STATEMENT,
            "signed".into(),
            "interstate".into(),
            "framework_substantive_partial".into(),
            day("2024-09-27"),
            2
        )
    );

    // One version per event; each child row once, the milestone twice.
    let counts: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {schema}.negotiation_versions), \
                (SELECT count(*) FROM {schema}.negotiation_sessions), \
                (SELECT count(*) FROM {schema}.negotiation_working_groups), \
                (SELECT count(*) FROM {schema}.negotiation_positions), \
                (SELECT count(*) FROM {schema}.negotiation_milestone_versions), \
                (SELECT count(*) FROM {schema}.negotiation_agreements)"
    ))
    .fetch_one(store.pool())
    .await
    .expect("counts");
    assert_eq!(counts, (12, 2, 2, 3, 2, 1));

    // Built a page at a time or rebuilt from scratch: the same rows.
    let incremental = checksum(store.pool(), &NegotiationsProjection, &live)
        .await
        .expect("checksum");
    let rebuilt = Projector::new(store.clone(), Arc::new(NegotiationsProjection))
        .rebuild()
        .await
        .expect("rebuild");
    let from_scratch = checksum(store.pool(), &NegotiationsProjection, &rebuilt)
        .await
        .expect("checksum");
    assert_eq!(incremental, from_scratch);
    assert_eq!(incremental.rows, 22);
}
