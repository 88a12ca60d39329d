//! The command handler on a real database: load, decide, append; optimistic concurrency,
//! idempotency keys, refusals that append nothing.
//!
//! The aggregate here is a small tally defined for these tests, so that they test the handler's
//! rules and not one aggregate's; the model's own tests cover the real aggregates.

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use common::{count_events, store, store_with_pool};
use serde::{Deserialize, Serialize};
use sitrep_domain::handler::{CommandHandler, CommandMeta, HandlerError};
use sitrep_domain::model::values::EventTime;
use sitrep_domain::model::{Aggregate, DomainError, DomainEvent};
use sitrep_domain::store::{EventStore, StreamRange, StreamRef};
use sitrep_testkit::statements::{counting_statements, logging_pool};
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq)]
struct Tally {
    opened: bool,
    total: u32,
}

#[derive(Debug)]
enum TallyCommand {
    Open { on: NaiveDate },
    Add { n: u32, reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum TallyEvent {
    TallyOpened { on: EventTime },
    TallyAdded { n: u32, reason: String },
}

impl DomainEvent for TallyEvent {
    fn reason(&self) -> Option<&str> {
        match self {
            Self::TallyAdded { reason, .. } => Some(reason),
            Self::TallyOpened { .. } => None,
        }
    }

    fn valid_time(&self) -> Option<&EventTime> {
        match self {
            Self::TallyOpened { on } => Some(on),
            Self::TallyAdded { .. } => None,
        }
    }
}

impl Aggregate for Tally {
    const STREAM_TYPE: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;

    fn decide(&self, command: &TallyCommand) -> Result<Vec<TallyEvent>, DomainError> {
        match command {
            TallyCommand::Open { on } => {
                if self.opened {
                    return Err(DomainError::AlreadyExists { what: "tally" });
                }
                Ok(vec![TallyEvent::TallyOpened {
                    on: EventTime::day(*on),
                }])
            }
            TallyCommand::Add { n, reason } => {
                if *n == 0 {
                    return Err(DomainError::invalid("n", "must be at least 1"));
                }
                if !self.opened {
                    return Err(DomainError::NotFound { what: "tally" });
                }
                Ok(vec![TallyEvent::TallyAdded {
                    n: *n,
                    reason: reason.clone(),
                }])
            }
        }
    }

    fn apply(&mut self, event: &TallyEvent) {
        match event {
            TallyEvent::TallyOpened { .. } => self.opened = true,
            TallyEvent::TallyAdded { n, .. } => self.total += n,
        }
    }
}

fn open() -> TallyCommand {
    TallyCommand::Open {
        on: NaiveDate::from_ymd_opt(2024, 1, 27).expect("a date"),
    }
}

fn add(n: u32) -> TallyCommand {
    TallyCommand::Add {
        n,
        reason: format!("add {n}"),
    }
}

#[tokio::test]
async fn a_command_appends_its_events_and_returns_the_new_state() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    let meta = CommandMeta::by("analyst");

    let opened = handler
        .execute::<Tally>(id, &open(), &meta)
        .await
        .expect("open");
    assert_eq!(opened.version, 1);
    assert!(!opened.replayed);
    let added = handler
        .execute::<Tally>(id, &add(3), &meta)
        .await
        .expect("add");
    assert_eq!(added.version, 2);
    assert_eq!(added.state.total, 3);

    let loaded = handler
        .load::<Tally>(id, StreamRange::All)
        .await
        .expect("load");
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.state, added.state);

    // The store's columns come from the events: valid time, reason, who.
    let stored = store.read_stream(id, StreamRange::All).await.expect("read");
    let valid = stored[0].valid_time.as_ref().expect("valid time");
    assert_eq!(valid.from.to_rfc3339(), "2024-01-27T00:00:00+00:00");
    assert_eq!(valid.precision.as_deref(), Some("day"));
    assert_eq!(stored[1].reason.as_deref(), Some("add 3"));
    assert_eq!(stored[1].recorded_by, "analyst");
    assert_eq!(stored[1].stream.stream_type, "tally");
}

#[tokio::test]
async fn a_refused_command_appends_nothing() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    let meta = CommandMeta::by("analyst");

    let missing = handler.execute::<Tally>(id, &add(1), &meta).await;
    assert!(matches!(
        missing,
        Err(HandlerError::Rejected(DomainError::NotFound {
            what: "tally"
        }))
    ));
    handler
        .execute::<Tally>(id, &open(), &meta)
        .await
        .expect("open");
    let invalid = handler.execute::<Tally>(id, &add(0), &meta).await;
    match invalid {
        Err(HandlerError::Rejected(DomainError::Invalid { field, .. })) => assert_eq!(field, "n"),
        other => panic!("expected invalid n, got {other:?}"),
    }
    let again = handler.execute::<Tally>(id, &open(), &meta).await;
    assert!(matches!(
        again,
        Err(HandlerError::Rejected(DomainError::AlreadyExists { .. }))
    ));
    assert_eq!(count_events(&store).await, 1);
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_appends_nothing() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    let meta = CommandMeta::by("analyst");
    handler
        .execute::<Tally>(id, &open(), &meta)
        .await
        .expect("open");
    handler
        .execute::<Tally>(id, &add(1), &meta.clone().expecting(1))
        .await
        .expect("add at version 1");

    let stale = handler
        .execute::<Tally>(id, &add(5), &meta.clone().expecting(1))
        .await;
    match stale {
        Err(HandlerError::Conflict {
            stream_id,
            expected,
            actual,
        }) => {
            assert_eq!((stream_id, expected, actual), (id, 1, 2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(count_events(&store).await, 2);
}

#[tokio::test]
async fn a_retried_request_returns_the_first_result_and_appends_nothing() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    let meta = CommandMeta::by("analyst");
    handler
        .execute::<Tally>(id, &open(), &meta)
        .await
        .expect("open");

    let keyed = meta.clone().with_key("request-42");
    let first = handler
        .execute::<Tally>(id, &add(2), &keyed)
        .await
        .expect("first");
    // Another writer moves the stream on before the retry arrives.
    handler
        .execute::<Tally>(id, &add(10), &meta)
        .await
        .expect("other writer");
    let retry = handler
        .execute::<Tally>(id, &add(2), &keyed)
        .await
        .expect("retry");

    assert!(retry.replayed);
    assert_eq!(retry.version, first.version);
    assert_eq!(retry.event_ids, first.event_ids);
    assert_eq!(retry.positions, first.positions);
    assert_eq!(
        retry.feed_end, first.feed_end,
        "it waits for the first request's events"
    );
    assert_eq!(retry.events, first.events);
    assert_eq!(retry.state, first.state);
    assert_eq!(retry.state.total, 2);
    assert_eq!(count_events(&store).await, 3);
}

#[tokio::test]
async fn a_key_reused_for_another_command_or_stream_is_refused() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
    let meta = CommandMeta::by("analyst");
    for stream in [id, other] {
        handler
            .execute::<Tally>(stream, &open(), &meta)
            .await
            .expect("open");
    }
    let keyed = meta.clone().with_key("request-7");
    handler
        .execute::<Tally>(id, &add(2), &keyed)
        .await
        .expect("first");

    let other_command = handler.execute::<Tally>(id, &add(3), &keyed).await;
    assert!(
        matches!(other_command, Err(HandlerError::KeyReused { ref key }) if key == "request-7"),
        "{other_command:?}"
    );
    let other_stream = handler.execute::<Tally>(other, &add(2), &keyed).await;
    assert!(
        matches!(other_stream, Err(HandlerError::KeyReused { .. })),
        "{other_stream:?}"
    );
    let blank = handler
        .execute::<Tally>(id, &add(2), &meta.clone().with_key(" "))
        .await;
    assert!(matches!(
        blank,
        Err(HandlerError::Rejected(DomainError::Invalid { .. }))
    ));
    assert_eq!(count_events(&store).await, 3);
}

#[tokio::test]
async fn concurrent_commands_without_an_expected_version_all_land() {
    let (_db, store) = store_with_pool(10).await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    handler
        .execute::<Tally>(id, &open(), &CommandMeta::by("analyst"))
        .await
        .expect("open");

    let barrier = Arc::new(tokio::sync::Barrier::new(4));
    let tasks: Vec<_> = (1..=4)
        .map(|n| {
            let (handler, barrier) = (handler.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                handler
                    .execute::<Tally>(id, &add(n), &CommandMeta::by(format!("writer {n}")))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("every command lands");
    }
    let loaded = handler
        .load::<Tally>(id, StreamRange::All)
        .await
        .expect("load");
    assert_eq!(loaded.version, 5);
    assert_eq!(loaded.state.total, 1 + 2 + 3 + 4);
}

#[tokio::test]
async fn a_stream_of_another_type_is_not_loaded_as_this_aggregate() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let stream = StreamRef::new("incident", Uuid::new_v4());
    store
        .append(
            &stream,
            sitrep_domain::store::ExpectedVersion::NoStream,
            &[common::report(1)],
        )
        .await
        .expect("append");
    let wrong = handler
        .execute::<Tally>(stream.stream_id, &add(1), &CommandMeta::by("analyst"))
        .await;
    assert!(
        matches!(wrong, Err(HandlerError::WrongStreamType { ref actual, .. }) if actual == "incident"),
        "{wrong:?}"
    );
    assert_eq!(count_events(&store).await, 1);
}

/// A command on an id the caller has just made up is decided on the empty aggregate and
/// appended without reading the stream: one statement where the usual way runs two. Whenever
/// that does not simply work, it ends as the usual way does.
#[tokio::test]
async fn a_command_on_a_fresh_id_appends_unread_and_ends_as_the_usual_way_would() {
    let (db, store) = store().await;
    let handler = CommandHandler::new(EventStore::new(logging_pool(&db, 2).await));
    let meta = CommandMeta::by("analyst");

    let id = Uuid::now_v7();
    let (opened, statements) =
        counting_statements(handler.execute_on_fresh_id::<Tally>(id, &open(), &meta)).await;
    let opened = opened.expect("open");
    assert_eq!(
        (opened.version, opened.state.opened, statements),
        (1, true, 1)
    );
    assert_eq!(
        opened.state,
        handler
            .load::<Tally>(id, StreamRange::All)
            .await
            .expect("load")
            .state
    );
    let (usual, statements) =
        counting_statements(handler.execute::<Tally>(Uuid::now_v7(), &open(), &meta)).await;
    assert_eq!((usual.expect("open").version, statements), (1, 2));

    // The stream exists after all: what the usual way answers, and nothing appended.
    let before = count_events(&store).await;
    let again = handler
        .execute_on_fresh_id::<Tally>(id, &open(), &meta)
        .await;
    assert!(
        matches!(
            again,
            Err(HandlerError::Rejected(DomainError::AlreadyExists { .. }))
        ),
        "{again:?}"
    );
    let expecting_new = handler
        .execute_on_fresh_id::<Tally>(id, &add(1), &meta.clone().expecting(0))
        .await;
    assert!(
        matches!(
            expecting_new,
            Err(HandlerError::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ),
        "{expecting_new:?}"
    );
    assert_eq!(count_events(&store).await, before);
    // The empty aggregate refuses the command, the stored one takes it.
    let added = handler
        .execute_on_fresh_id::<Tally>(id, &add(2), &meta)
        .await
        .expect("add to the stored tally");
    assert_eq!((added.version, added.state.total), (2, 2));
    let nowhere = handler
        .execute_on_fresh_id::<Tally>(Uuid::now_v7(), &add(2), &meta)
        .await;
    assert!(
        matches!(
            nowhere,
            Err(HandlerError::Rejected(DomainError::NotFound { .. }))
        ),
        "{nowhere:?}"
    );
    // Another kind of stream under the id.
    let incident = StreamRef::new("incident", Uuid::now_v7());
    store
        .append(
            &incident,
            sitrep_domain::store::ExpectedVersion::NoStream,
            &[common::report(1)],
        )
        .await
        .expect("append");
    let wrong = handler
        .execute_on_fresh_id::<Tally>(incident.stream_id, &open(), &meta)
        .await;
    assert!(
        matches!(wrong, Err(HandlerError::WrongStreamType { ref actual, .. }) if actual == "incident"),
        "{wrong:?}"
    );
    assert_eq!(count_events(&store).await, before + 2);
}

mod real_aggregates {
    //! Identity and reference rules with the model's own aggregates.

    use super::*;
    use sitrep_domain::model::actor::AffiliationRelation;
    use sitrep_domain::model::actor::{Actor, ActorCommand, RecordAffiliation, RegisterActor};
    use sitrep_domain::model::incident::{
        ActorInvolvement, ActorRole, AttributionStatus, Incident, IncidentCommand, IncidentFacts,
        MergeIncident, ReportIncident,
    };
    use sitrep_domain::model::values::{CountryCode, Place, UncertainCount};
    use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};

    fn register(name: &str) -> ActorCommand {
        ActorCommand::RegisterActor(RegisterActor {
            name: name.into(),
            actor_type: ActorType::MilitiaGroups,
            country: Some(CountryCode::new("IRQ").expect("code")),
            aliases: Vec::new(),
            description: None,
        })
    }

    fn report(claimant: Uuid) -> IncidentCommand {
        IncidentCommand::ReportIncident(ReportIncident {
            facts: IncidentFacts {
                time: EventTime::day(NaiveDate::from_ymd_opt(2024, 1, 28).expect("date")),
                place: Place::country(CountryCode::new("JOR").expect("code")),
                event_type: EventType::ExplosionsRemoteViolence,
                sub_event_type: SubEventType::AirDroneStrike,
                means: Vec::new(),
                target_category: None,
                fatalities: UncertainCount::exactly(3),
                injuries: None,
                notes: None,
                tags: Vec::new(),
                external_refs: Vec::new(),
                attributes: Default::default(),
            },
            actors: vec![ActorInvolvement {
                actor: claimant,
                role: ActorRole::Claimant,
                attribution: AttributionStatus::Claimed,
                source: None,
            }],
            sources: Vec::new(),
        })
    }

    fn invalid_field(result: Result<impl std::fmt::Debug, HandlerError>) -> String {
        match result {
            Err(HandlerError::Rejected(DomainError::Invalid { field, .. })) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_command_naming_an_unrecorded_aggregate_is_refused() {
        let (_db, store) = store().await;
        let handler = CommandHandler::new(store.clone());
        let meta = CommandMeta::by("analyst");
        let (iri, incident) = (Uuid::new_v4(), Uuid::new_v4());

        let unknown = handler
            .execute::<Incident>(incident, &report(iri), &meta)
            .await;
        assert_eq!(invalid_field(unknown), "actors[0].actor");
        assert_eq!(count_events(&store).await, 0);

        // Registered as a site, not an actor: still refused.
        let site = StreamRef::new("site", iri);
        store
            .append(
                &site,
                sitrep_domain::store::ExpectedVersion::NoStream,
                &[common::report(1)],
            )
            .await
            .expect("a site stream");
        let wrong_kind = handler
            .execute::<Incident>(incident, &report(iri), &meta)
            .await;
        assert_eq!(invalid_field(wrong_kind), "actors[0].actor");

        let actor = Uuid::new_v4();
        handler
            .execute::<Actor>(actor, &register("Islamic Resistance in Iraq"), &meta)
            .await
            .expect("register");
        handler
            .execute::<Incident>(incident, &report(actor), &meta)
            .await
            .expect("report once the claimant is registered");
        assert_eq!(count_events(&store).await, 3);
    }

    #[tokio::test]
    async fn rules_about_the_aggregates_own_id_are_checked() {
        let (_db, store) = store().await;
        let handler = CommandHandler::new(store.clone());
        let meta = CommandMeta::by("analyst");
        let (actor, incident) = (Uuid::new_v4(), Uuid::new_v4());
        handler
            .execute::<Actor>(actor, &register("Kata'ib Hezbollah"), &meta)
            .await
            .expect("register");
        handler
            .execute::<Incident>(incident, &report(actor), &meta)
            .await
            .expect("report");

        let into_itself = handler
            .execute::<Incident>(
                incident,
                &IncidentCommand::MergeIncident(MergeIncident {
                    into: incident,
                    reason: "duplicate".into(),
                }),
                &meta,
            )
            .await;
        assert_eq!(invalid_field(into_itself), "into");

        let with_itself = handler
            .execute::<Actor>(
                actor,
                &ActorCommand::RecordAffiliation(RecordAffiliation {
                    affiliation_id: Uuid::new_v4(),
                    related_actor: actor,
                    relation: AffiliationRelation::MemberOf,
                    from: None,
                    until: None,
                    source: None,
                }),
                &meta,
            )
            .await;
        assert_eq!(invalid_field(with_itself), "related_actor");
        assert_eq!(count_events(&store).await, 2);
    }
}

#[tokio::test]
async fn idempotency_keys_are_each_authors_own() {
    let (_db, store) = store().await;
    let handler = CommandHandler::new(store.clone());
    let id = Uuid::new_v4();
    handler
        .execute::<Tally>(id, &open(), &CommandMeta::by("analyst"))
        .await
        .expect("open");

    let mine = CommandMeta::by("desk editor").with_key("request-1");
    let theirs = CommandMeta::by("field office").with_key("request-1");
    let first = handler
        .execute::<Tally>(id, &add(2), &mine)
        .await
        .expect("first");
    // The same key and the same command from another author: a request of its own, not a
    // replay of the first author's.
    let other = handler
        .execute::<Tally>(id, &add(2), &theirs)
        .await
        .expect("another author's key");
    assert!(!other.replayed);
    assert_ne!(other.event_ids, first.event_ids);
    assert_eq!(other.state.total, 4);
    // Each author's retry finds that author's first result.
    let retry = handler
        .execute::<Tally>(id, &add(2), &mine)
        .await
        .expect("retry");
    assert!(retry.replayed);
    assert_eq!(retry.event_ids, first.event_ids);
    assert_eq!(retry.state.total, 2);
    let their_retry = handler
        .execute::<Tally>(id, &add(2), &theirs)
        .await
        .expect("their retry");
    assert!(their_retry.replayed);
    assert_eq!(their_retry.event_ids, other.event_ids);
    assert_eq!(count_events(&store).await, 3);
}
