//! Helpers shared by the projections' tests: a database, commands of the real model, and a
//! projector that has applied everything committed.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::NaiveDate;
use sitrep_domain::handler::{CommandHandler, CommandMeta};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, Incident, IncidentCommand, IncidentFacts,
    MergeIncident, ReportIncident, RestoreIncident, RetractIncident, RetractionKind,
    ReviseCasualties,
};
use sitrep_domain::model::values::{CountryCode, EventTime, Place, UncertainCount};
use sitrep_domain::model::vocab::{EventType, SubEventType};
use sitrep_domain::store::EventStore;
use sitrep_projections::generation::Generation;
use sitrep_projections::incidents::IncidentsProjection;
use sitrep_projections::Projector;
use sitrep_testkit::TestDb;
use uuid::Uuid;

pub async fn setup(pool_size: u32) -> (TestDb, EventStore, CommandHandler) {
    let db = TestDb::with_pool_size(&sitrep_domain::MIGRATOR, pool_size).await;
    let store = EventStore::new(db.pool.clone());
    let handler = CommandHandler::new(store.clone());
    (db, store, handler)
}

pub fn projector(store: &EventStore) -> Projector {
    Projector::new(store.clone(), Arc::new(IncidentsProjection::default()))
}

pub fn meta() -> CommandMeta {
    CommandMeta::by("analyst")
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

/// A report of an attack on `date` in `country` with `killed` dead.
pub fn report(date: &str, country: &str, killed: u32) -> IncidentCommand {
    IncidentCommand::ReportIncident(ReportIncident {
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
            attributes: Default::default(),
        },
        actors: Vec::new(),
        sources: Vec::new(),
    })
}

/// The same with a claimant.
pub fn claimed_report(date: &str, country: &str, claimant: Uuid) -> IncidentCommand {
    let IncidentCommand::ReportIncident(mut report) = report(date, country, 0) else {
        unreachable!("report() makes a report")
    };
    report.actors.push(ActorInvolvement {
        actor: claimant,
        role: ActorRole::Claimant,
        attribution: AttributionStatus::Claimed,
        source: None,
    });
    IncidentCommand::ReportIncident(report)
}

pub fn revise_injuries(injured: u32) -> IncidentCommand {
    IncidentCommand::ReviseCasualties(ReviseCasualties {
        fatalities: None,
        injuries: Some(UncertainCount::exactly(injured)),
        source: None,
        reason: "later count".into(),
    })
}

pub fn retract() -> IncidentCommand {
    IncidentCommand::RetractIncident(RetractIncident {
        kind: RetractionKind::FalseReport,
        reason: "did not happen".into(),
    })
}

pub fn restore() -> IncidentCommand {
    IncidentCommand::RestoreIncident(RestoreIncident {
        reason: "confirmed after all".into(),
    })
}

pub fn merge_into(into: Uuid) -> IncidentCommand {
    IncidentCommand::MergeIncident(MergeIncident {
        into,
        reason: "duplicate".into(),
    })
}

/// Runs `command` on incident `id`.
pub async fn run(handler: &CommandHandler, id: Uuid, command: IncidentCommand) -> i64 {
    let executed = handler
        .execute::<Incident>(id, &command, &meta())
        .await
        .expect("command");
    executed.positions[0]
}

/// Applies everything in the log to `generation`, waiting out events other tests' open
/// transactions hold back (the feed's horizon is cluster-wide).
pub async fn catch_up_fully(
    projector: &Projector,
    store: &EventStore,
    generation: &mut Generation,
) {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .expect("count");
    for _ in 0..2000 {
        projector.catch_up(generation).await.expect("catch up");
        if generation.events_applied >= total {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "projection did not catch up: {} of {total}",
        generation.events_applied
    );
}
