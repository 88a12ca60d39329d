//! The sync's decisions, on a log kept in memory: every case of the design (new, unchanged,
//! corrected, retracted, restored, skipped, repeated, refused).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use sitrep_domain::model::actor::{Actor, ActorEvent};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, ExternalRef, Incident, IncidentAmendment,
    IncidentEvent, IncidentFacts, IncidentStatus, RetractionKind,
};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_domain::model::Aggregate;
use uuid::Uuid;

use super::*;

const RUN: Uuid = Uuid::from_u128(0xabc);

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn named(name: &str, role: ActorRole, actor_type: ActorType) -> NamedActor {
    NamedActor {
        name: name.into(),
        role,
        actor_type,
    }
}

/// An ACLED-like row of Argentina, June 2022.
fn row(line: u64, id: &str, day: &str) -> ImportedRow {
    let external_ref = ExternalRef::new(&format!("acled:{id}")).unwrap();
    ImportedRow {
        line,
        external_ref: external_ref.clone(),
        facts: IncidentFacts {
            time: EventTime::day(date(day)),
            place: Place {
                admin1: Some("Buenos Aires".into()),
                location: Some("La Plata".into()),
                coordinates: Some(Coordinates {
                    latitude: -34.92,
                    longitude: -57.95,
                }),
                precision: GeoPrecision::Exact,
                ..Place::country(CountryCode::new("ARG").unwrap())
            },
            event_type: EventType::Protests,
            sub_event_type: SubEventType::PeacefulProtest,
            means: vec![],
            target_category: None,
            fatalities: UncertainCount::exactly(0),
            injuries: None,
            notes: Some("Teachers protested for higher wages.".into()),
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

fn id_of(row: &ImportedRow) -> Uuid {
    crate::incident_id_for(&row.external_ref)
}

/// The log as far as the sync cares: incident streams with their events and the import digest
/// of their last import event, and actors.
#[derive(Default)]
struct Log {
    incidents: HashMap<Uuid, (Vec<IncidentEvent>, Option<String>)>,
    actors: Vec<(Uuid, Actor)>,
}

impl Log {
    fn state(&self, id: Uuid) -> StreamState {
        let (events, last) = &self.incidents[&id];
        StreamState {
            incident: Incident::fold(events),
            version: events.len() as u64,
            last_import_row: last.clone(),
        }
    }

    /// Plans `rows` as the runner does: dedupe, states of the named streams, the others.
    fn plan(&self, rows: Vec<ImportedRow>, kept: &HashSet<Uuid>) -> SyncPlan {
        let (rows, repeated) = unique_rows(Dataset::Acled, rows);
        assert!(repeated.is_empty(), "{repeated:?}");
        self.plan_unique(Dataset::Acled, &rows, kept)
    }

    fn plan_unique(
        &self,
        dataset: Dataset,
        rows: &[ImportedRow],
        kept: &HashSet<Uuid>,
    ) -> SyncPlan {
        let named: HashSet<Uuid> = rows.iter().map(id_of).collect();
        let streams = named
            .iter()
            .filter(|id| self.incidents.contains_key(id))
            .map(|id| (*id, self.state(*id)))
            .collect();
        let others = self
            .incidents
            .keys()
            .filter(|id| !named.contains(id))
            .map(|id| (*id, self.state(*id)))
            .collect();
        let actors = ActorDirectory::of(self.actors.iter().map(|(id, a)| (*id, a)));
        let mut reported = Vec::new();
        let digests = row_digests(rows);
        let plan = plan(
            &SyncInput {
                dataset,
                run: RUN,
                rows,
                digests: &digests,
                streams: &streams,
                actors: &actors,
                others: &others,
                kept,
                retract: true,
            },
            &mut |done| reported.push(done),
        );
        assert_eq!(
            reported.last(),
            Some(&rows.len()),
            "progress ends at every row"
        );
        plan
    }

    /// Appends what `plan` decided, as the runner would.
    fn append(&mut self, plan: &SyncPlan) {
        for registration in &plan.registrations {
            let mut actor = Actor::default();
            actor.apply(&registration.event);
            self.actors.push((registration.actor, actor));
        }
        for change in &plan.changes {
            let entry = self.incidents.entry(change.incident).or_default();
            assert_eq!(entry.0.len() as u64, change.expected_version);
            entry.0.extend(change.events.iter().cloned());
            entry.1.clone_from(&change.row);
        }
    }

    /// An analyst's event (no import metadata: the last import digest stays).
    fn analyst(&mut self, id: Uuid, event: IncidentEvent) {
        self.incidents.get_mut(&id).unwrap().0.push(event);
    }
}

fn synced(rows: Vec<ImportedRow>) -> Log {
    let mut log = Log::default();
    let plan = log.plan(rows, &HashSet::new());
    assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
    log.append(&plan);
    log
}

fn event_types(plan: &SyncPlan) -> Vec<&'static str> {
    plan.changes
        .iter()
        .flat_map(|c| &c.events)
        .map(|e| match e {
            IncidentEvent::IncidentReported { .. } => "IncidentReported",
            IncidentEvent::IncidentAmended { .. } => "IncidentAmended",
            IncidentEvent::CasualtiesRevised { .. } => "CasualtiesRevised",
            IncidentEvent::ClaimRecorded { .. } => "ClaimRecorded",
            IncidentEvent::ClaimChanged { .. } => "ClaimChanged",
            IncidentEvent::ClaimWithdrawn { .. } => "ClaimWithdrawn",
            IncidentEvent::SourceAttached { .. } => "SourceAttached",
            IncidentEvent::VerificationChanged { .. } => "VerificationChanged",
            IncidentEvent::IncidentRetracted { .. } => "IncidentRetracted",
            IncidentEvent::IncidentRestored { .. } => "IncidentRestored",
            IncidentEvent::IncidentMerged { .. } => "IncidentMerged",
        })
        .collect()
}

#[test]
fn new_rows_are_reported_and_their_actors_registered_once() {
    let log = Log::default();
    let a = row(2, "ARG1", "2022-06-01");
    let mut b = row(3, "ARG2", "2022-06-02");
    // The same actor spelled in another case is the same actor.
    b.actors[0].name = "PROTESTERS (ARGENTINA)".into();
    let plan = log.plan(vec![a.clone(), b.clone()], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentReported", "IncidentReported"]);
    assert_eq!(plan.registrations.len(), 2, "{:?}", plan.registrations);
    assert_eq!(
        plan.counts,
        SyncCounts {
            new: 2,
            actors_registered: 2,
            events: 4,
            ..SyncCounts::default()
        }
    );
    let protesters = plan.registrations[0].actor;
    assert!(matches!(
        &plan.registrations[0].event,
        ActorEvent::ActorRegistered { name, actor_type: ActorType::Protesters, .. }
            if name == "Protesters (Argentina)"
    ));
    assert_eq!(plan.registrations[0].row, row_digest(&a));
    for change in &plan.changes {
        assert_eq!(change.expected_version, 0);
        assert_eq!(change.outcome, Outcome::New);
        let IncidentEvent::IncidentReported {
            actors, sources, ..
        } = &change.events[0]
        else {
            panic!("not a report: {:?}", change.events);
        };
        assert_eq!(actors[0].actor, protesters);
        assert_eq!(actors[0].attribution, AttributionStatus::AttributedBySource);
        assert_eq!(sources, &[Source::named("Clarin")]);
    }
    assert_eq!(
        plan.changes[1].row.as_deref(),
        Some(row_digest(&b).as_str())
    );
}

#[test]
fn registered_actors_are_found_by_name_or_alias_ignoring_case() {
    let mut log = Log::default();
    let police = Uuid::from_u128(77);
    let mut actor = Actor::default();
    actor.apply(&ActorEvent::ActorRegistered {
        name: "Argentine Federal Police".into(),
        actor_type: ActorType::StateForces,
        country: None,
        aliases: vec!["police forces of argentina (2019-)".into()],
        description: None,
    });
    log.actors.push((police, actor));
    let plan = log.plan(vec![row(2, "ARG1", "2022-06-01")], &HashSet::new());
    assert_eq!(plan.registrations.len(), 1, "only the protesters are new");
    let IncidentEvent::IncidentReported { actors, .. } = &plan.changes[0].events[0] else {
        panic!()
    };
    assert_eq!(actors[1].actor, police);
    assert_eq!(actors[1].role, ActorRole::Target);
}

#[test]
fn the_same_rows_again_are_unchanged() {
    let rows = vec![row(2, "ARG1", "2022-06-01"), row(3, "ARG2", "2022-06-02")];
    let log = synced(rows.clone());
    let plan = log.plan(rows, &HashSet::new());
    assert!(plan.changes.is_empty() && plan.registrations.is_empty());
    assert_eq!(
        plan.counts,
        SyncCounts {
            unchanged: 2,
            ..SyncCounts::default()
        }
    );
}

#[test]
fn an_unchanged_row_leaves_the_analysts_corrections_alone() {
    let a = row(2, "ARG1", "2022-06-01");
    let mut log = synced(vec![a.clone()]);
    log.analyst(
        id_of(&a),
        IncidentEvent::IncidentAmended {
            changes: IncidentAmendment {
                notes: Some(Some("Checked with the union: about 2,000 teachers.".into())),
                ..IncidentAmendment::default()
            },
            reason: "union figures".into(),
        },
    );
    let plan = log.plan(vec![a], &HashSet::new());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.counts.unchanged, 1);
}

#[test]
fn changed_fatalities_are_a_casualty_revision() {
    let a = row(2, "ARG1", "2022-06-01");
    let log = synced(vec![a.clone(), row(3, "ARG2", "2022-06-02")]);
    let mut revised = a.clone();
    revised.facts.fatalities = UncertainCount::exactly(2);
    let plan = log.plan(
        vec![revised.clone(), row(3, "ARG2", "2022-06-02")],
        &HashSet::new(),
    );
    assert_eq!(event_types(&plan), ["CasualtiesRevised"]);
    let change = &plan.changes[0];
    assert_eq!(
        (change.expected_version, change.outcome),
        (1, Outcome::Corrected)
    );
    assert_eq!(change.row.as_deref(), Some(row_digest(&revised).as_str()));
    assert_eq!(
        change.events[0],
        IncidentEvent::CasualtiesRevised {
            fatalities: Some(UncertainCount::exactly(2)),
            injuries: None,
            source: None,
            reason: SOURCE_REVISION.into(),
        }
    );
    assert_eq!(
        plan.counts,
        SyncCounts {
            corrected: 1,
            unchanged: 1,
            events: 1,
            ..SyncCounts::default()
        }
    );
}

#[test]
fn a_changed_actor_is_a_withdrawn_and_a_recorded_claim() {
    let a = row(2, "ARG1", "2022-06-01");
    let mut log = synced(vec![a.clone()]);
    let police = log
        .actors
        .iter()
        .find(|(_, actor)| actor.profile().unwrap().name.starts_with("Police"))
        .unwrap()
        .0;
    let mut revised = a.clone();
    revised.actors[1] = named(
        "Gendarmerie of Argentina",
        ActorRole::Target,
        ActorType::StateForces,
    );
    let plan = log.plan(vec![revised.clone()], &HashSet::new());
    assert_eq!(event_types(&plan), ["ClaimWithdrawn", "ClaimRecorded"]);
    assert_eq!(plan.registrations.len(), 1);
    let gendarmerie = plan.registrations[0].actor;
    assert_eq!(
        plan.changes[0].events,
        vec![
            IncidentEvent::ClaimWithdrawn {
                actor: police,
                role: ActorRole::Target,
                reason: SOURCE_REVISION.into(),
            },
            IncidentEvent::ClaimRecorded {
                actor: gendarmerie,
                role: ActorRole::Target,
                attribution: AttributionStatus::AttributedBySource,
                source: None,
                reason: Some(SOURCE_REVISION.into()),
            },
        ]
    );
    log.append(&plan);
    let state = log.state(id_of(&a));
    let targets: Vec<Uuid> = state
        .incident
        .actors()
        .iter()
        .filter(|i| i.role == ActorRole::Target)
        .map(|i| i.actor)
        .collect();
    assert_eq!(targets, [gendarmerie]);
    assert!(log.plan(vec![revised], &HashSet::new()).changes.is_empty());
}

#[test]
fn changed_notes_and_attributes_are_one_amendment_of_only_those_fields() {
    let a = row(2, "ARG1", "2022-06-01");
    let log = synced(vec![a.clone()]);
    let mut revised = a.clone();
    revised.facts.notes = Some("Teachers and students protested for higher wages.".into());
    revised
        .facts
        .attributes
        .insert("timestamp".into(), "1658179999".into());
    revised.sources.push(Source::named("Pagina 12"));
    let plan = log.plan(vec![revised.clone()], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentAmended", "SourceAttached"]);
    assert_eq!(
        plan.changes[0].events[0],
        IncidentEvent::IncidentAmended {
            changes: IncidentAmendment {
                notes: Some(revised.facts.notes.clone()),
                attributes: Some(revised.facts.attributes.clone()),
                ..IncidentAmendment::default()
            },
            reason: SOURCE_REVISION.into(),
        }
    );
}

#[test]
fn rows_gone_inside_the_coverage_are_retracted_and_outside_it_not() {
    let kept = row(2, "ARG1", "2022-06-10");
    let gone = row(3, "ARG2", "2022-06-15");
    let earlier = row(4, "ARG3", "2022-05-20");
    let mut elsewhere = row(5, "CHL1", "2022-06-12");
    elsewhere.facts.place.country = CountryCode::new("CHL").unwrap();
    let later = row(6, "ARG4", "2022-06-20");
    let log = synced(vec![
        kept.clone(),
        gone.clone(),
        earlier.clone(),
        elsewhere.clone(),
        later.clone(),
    ]);
    // The new file: Argentina from 06-10 to 06-20, without ARG2.
    let plan = log.plan(vec![kept, later], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentRetracted"]);
    let change = &plan.changes[0];
    assert_eq!(change.incident, id_of(&gone));
    assert_eq!(
        (change.row.as_ref(), change.outcome),
        (None, Outcome::Retracted)
    );
    assert_eq!(
        change.events[0],
        IncidentEvent::IncidentRetracted {
            kind: RetractionKind::RemovedBySource,
            reason: REMOVED_BY_SOURCE.into(),
        }
    );
    assert_eq!((plan.counts.retracted, plan.counts.unchanged), (1, 2));
}

#[test]
fn each_country_is_covered_only_over_the_span_of_its_own_rows() {
    let chile = |line, id, day| {
        let mut r = row(line, id, day);
        r.facts.place.country = CountryCode::new("CHL").unwrap();
        r
    };
    let june = row(2, "ARG1", "2022-06-10");
    let january = row(3, "ARG2", "2022-01-15");
    let (chile_2020, chile_2022, chile_2023) = (
        chile(4, "CHL1", "2020-01-05"),
        chile(5, "CHL2", "2022-03-01"),
        chile(6, "CHL3", "2023-12-20"),
    );
    let log = synced(vec![
        june.clone(),
        january,
        chile_2020.clone(),
        chile_2022.clone(),
        chile_2023.clone(),
    ]);
    // Argentina's June and Chile's 2020-2023: Argentina's January stays, though it lies in
    // Chile's span; Chile's 2022 row, gone inside Chile's span, is retracted.
    let plan = log.plan(vec![june, chile_2020, chile_2023], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentRetracted"]);
    assert_eq!(plan.changes[0].incident, id_of(&chile_2022));
}

#[test]
fn a_file_with_no_valid_rows_retracts_nothing() {
    let log = synced(vec![row(2, "ARG1", "2022-06-10")]);
    let plan = log.plan(vec![], &HashSet::new());
    assert_eq!(plan, SyncPlan::default());
}

#[test]
fn a_rejected_row_of_the_file_is_not_gone() {
    let a = row(2, "ARG1", "2022-06-10");
    let b = row(3, "ARG2", "2022-06-10");
    let log = synced(vec![a.clone(), b.clone()]);
    let plan = log.plan(vec![a.clone()], &HashSet::from([id_of(&b)]));
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    let plan = log.plan(vec![a], &HashSet::new());
    assert_eq!(
        event_types(&plan),
        ["IncidentRetracted"],
        "gone when not kept"
    );
}

#[test]
fn a_row_back_after_its_removal_is_restored_with_its_corrections() {
    let a = row(2, "ARG1", "2022-06-10");
    let b = row(3, "ARG2", "2022-06-10");
    let mut log = synced(vec![a.clone(), b.clone()]);
    let retraction = log.plan(vec![a.clone()], &HashSet::new());
    assert_eq!(event_types(&retraction), ["IncidentRetracted"]);
    log.append(&retraction);

    // Back unchanged: only restored.
    let plan = log.plan(vec![a.clone(), b.clone()], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentRestored"]);
    assert_eq!(plan.changes[0].outcome, Outcome::Restored);
    assert_eq!(plan.counts.restored, 1);

    // Back with more fatalities: restored, then revised.
    let mut revised = b.clone();
    revised.facts.fatalities = UncertainCount::exactly(1);
    let plan = log.plan(vec![a, revised], &HashSet::new());
    assert_eq!(
        event_types(&plan),
        ["IncidentRestored", "CasualtiesRevised"]
    );
    assert_eq!(
        plan.changes[0].events[0],
        IncidentEvent::IncidentRestored {
            reason: SOURCE_REVISION.into()
        }
    );
    log.append(&plan);
    let state = log.state(id_of(&b));
    assert!(state.incident.is_current());
    assert_eq!(state.incident.facts().unwrap().fatalities.best, 1);
}

#[test]
fn incidents_an_analyst_retracted_or_merged_are_skipped() {
    let a = row(2, "ARG1", "2022-06-10");
    let b = row(3, "ARG2", "2022-06-11");
    let mut log = synced(vec![a.clone(), b.clone()]);
    log.analyst(
        id_of(&a),
        IncidentEvent::IncidentRetracted {
            kind: RetractionKind::Duplicate,
            reason: "reported twice".into(),
        },
    );
    log.analyst(
        id_of(&b),
        IncidentEvent::IncidentMerged {
            into: id_of(&a),
            reason: "same protest".into(),
        },
    );
    let mut revised_a = a.clone();
    revised_a.facts.fatalities = UncertainCount::exactly(3);
    let mut revised_b = b.clone();
    revised_b.facts.notes = None;
    let plan = log.plan(vec![revised_a, revised_b], &HashSet::new());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.counts.skipped, 2);
    assert!(matches!(
        log.state(id_of(&a)).incident.status(),
        IncidentStatus::Retracted {
            kind: RetractionKind::Duplicate
        }
    ));
    // Nor are they retracted when gone.
    let plan = log.plan(vec![row(4, "ARG3", "2022-06-10")], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentReported"]);
}

#[test]
fn a_revision_keeps_what_the_dataset_does_not_say() {
    let a = row(2, "ARG1", "2022-06-10");
    let mut log = synced(vec![a.clone()]);
    let claimant = Uuid::from_u128(99);
    let site = Uuid::from_u128(98);
    let mut place = a.facts.place.clone();
    place.site = Some(site);
    log.analyst(
        id_of(&a),
        IncidentEvent::IncidentAmended {
            changes: IncidentAmendment {
                place: Some(place),
                injuries: Some(Some(UncertainCount::exactly(4))),
                external_refs: Some(vec![
                    a.external_ref.clone(),
                    ExternalRef::new("desk:la-plata-1").unwrap(),
                ]),
                ..IncidentAmendment::default()
            },
            reason: "desk check".into(),
        },
    );
    log.analyst(
        id_of(&a),
        IncidentEvent::ClaimRecorded {
            actor: claimant,
            role: ActorRole::Claimant,
            attribution: AttributionStatus::Claimed,
            source: None,
            reason: None,
        },
    );
    let mut revised = a.clone();
    revised.facts.fatalities = UncertainCount::exactly(1);
    revised.facts.place.location = Some("Ensenada".into());
    let plan = log.plan(vec![revised], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentAmended", "CasualtiesRevised"]);
    log.append(&plan);
    let state = log.state(id_of(&a));
    let facts = state.incident.facts().unwrap();
    assert_eq!(facts.place.location.as_deref(), Some("Ensenada"));
    assert_eq!(facts.place.site, Some(site));
    assert_eq!(facts.injuries, Some(UncertainCount::exactly(4)));
    assert_eq!(facts.external_refs.len(), 2);
    assert!(state.incident.actors().contains(&ActorInvolvement {
        actor: claimant,
        role: ActorRole::Claimant,
        attribution: AttributionStatus::Claimed,
        source: None,
    }));
}

#[test]
fn a_ucdp_revision_keeps_the_analysts_notes_tags_and_admin3() {
    let mut a = row(2, "1", "2017-03-01");
    a.external_ref = ExternalRef::new("ucdp:1").unwrap();
    a.facts.external_refs = vec![a.external_ref.clone()];
    a.facts.notes = None;
    // UCDP has no third admin level: the analyst's stays.
    a.facts.place.admin3 = None;
    let mut analysts_place = a.facts.place.clone();
    analysts_place.admin3 = Some("Al-Mayadin subdistrict".into());
    let mut log = Log::default();
    let plan = log.plan_unique(Dataset::Ucdp, std::slice::from_ref(&a), &HashSet::new());
    log.append(&plan);
    log.analyst(
        id_of(&a),
        IncidentEvent::IncidentAmended {
            changes: IncidentAmendment {
                notes: Some(Some("Also in ACLED as SYR1234.".into())),
                tags: Some(vec!["checked".into()]),
                place: Some(analysts_place),
                ..IncidentAmendment::default()
            },
            reason: "cross-checked".into(),
        },
    );
    let mut revised = a.clone();
    revised.facts.fatalities = UncertainCount::range(3, 4, 9);
    let plan = log.plan_unique(
        Dataset::Ucdp,
        std::slice::from_ref(&revised),
        &HashSet::new(),
    );
    assert_eq!(event_types(&plan), ["CasualtiesRevised"]);

    // A revision of the place keeps the analyst's admin3 too.
    revised.facts.place.admin2 = Some("Deir ez-Zor district".into());
    let plan = log.plan_unique(Dataset::Ucdp, &[revised], &HashSet::new());
    assert_eq!(event_types(&plan), ["IncidentAmended", "CasualtiesRevised"]);
    let IncidentEvent::IncidentAmended { changes, .. } = &plan.changes[0].events[0] else {
        panic!("{plan:?}")
    };
    let place = changes.place.as_ref().expect("the place changed");
    assert_eq!(place.admin3.as_deref(), Some("Al-Mayadin subdistrict"));
}

#[test]
fn a_repeated_external_reference_is_a_bad_row() {
    let a = row(2, "ARG1", "2022-06-10");
    let mut again = row(9, "ARG1", "2022-06-11");
    again.facts.fatalities = UncertainCount::exactly(1);
    let (unique, repeated) = unique_rows(
        Dataset::Acled,
        vec![a.clone(), row(3, "ARG2", "2022-06-10"), again],
    );
    assert_eq!(unique.len(), 2);
    assert_eq!(unique[0], a);
    assert_eq!(
        repeated,
        vec![RowError {
            line: 9,
            column: "event_id_cnty".into(),
            rule: "repeats line 2 (acled:ARG1)".into(),
        }]
    );
}

#[test]
fn a_row_the_domain_refuses_is_rejected_and_registers_nothing() {
    let mut bad = row(4, "ARG9", "2022-06-10");
    bad.actors.push(named(
        &"x".repeat(301),
        ActorRole::TargetAssociate,
        ActorType::Civilians,
    ));
    // Two associates that are one actor: recorded once.
    let mut twice = row(5, "ARG8", "2022-06-10");
    twice.actors.push(named(
        "Teachers (Argentina)",
        ActorRole::PerpetratorAssociate,
        ActorType::Protesters,
    ));
    twice.actors.push(named(
        "teachers (argentina)",
        ActorRole::PerpetratorAssociate,
        ActorType::Protesters,
    ));
    let plan = Log::default().plan(vec![bad, twice], &HashSet::new());
    assert_eq!(plan.rejected.len(), 1);
    assert_eq!(plan.rejected[0].line, 4);
    assert_eq!(plan.rejected[0].column, "actors.name");
    assert_eq!(plan.counts.new, 1);
    assert_eq!(plan.registrations.len(), 3, "{:?}", plan.registrations);
    let IncidentEvent::IncidentReported { actors, .. } = &plan.changes[0].events[0] else {
        panic!()
    };
    assert_eq!(actors.len(), 3);
}

#[test]
fn the_digest_is_the_mapped_content_not_the_line() {
    let a = row(2, "ARG1", "2022-06-10");
    let mut moved = a.clone();
    moved.line = 400;
    assert_eq!(row_digest(&a), row_digest(&moved));
    assert_eq!(row_digest(&a).len(), 64);
    let mut changed = a.clone();
    changed.sources[0] = Source::named("Clarín");
    assert_ne!(row_digest(&a), row_digest(&changed));
    let mut other_role = a.clone();
    other_role.actors[1].role = ActorRole::TargetAssociate;
    assert_ne!(row_digest(&a), row_digest(&other_role));
}

/// A row's digest is stored with its incident and compared with the next import's: its bytes
/// must not change from one version of sitrep to the next, or every row of a re-import would
/// look revised. This is the digest the earlier versions stored for this row.
#[test]
fn the_digest_of_a_row_is_what_earlier_versions_stored() {
    assert_eq!(
        row_digest(&row(2, "ARG1", "2022-06-10")),
        "5092a8dc988997bd1533c98813ed60800bd52b0baee07011ac55dfd2794db0ec"
    );
}
