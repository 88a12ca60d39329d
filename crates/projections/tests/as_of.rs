//! The as-of property: what the live read models answer "as known at recorded time T" equals
//! what read models replayed from the events recorded up to T answer now.
//!
//! A seeded random history of more than 10,000 events (incidents reported, casualties revised,
//! claims, verification changes, retractions, restores, merges; negotiations; troop levels and
//! retracted estimates) goes through the domain's command handler, so every event is one the
//! model decided. The live generations follow the whole log; then, for several T (random ones
//! between the first and last recorded times, exactly at an event's recorded time, just before
//! one), every query function of the read models is asked with `as_of = Some(T)` of the live
//! generation and without `as_of` of a replay up to T (`sitrep_projections::replay`), and the
//! whole answers must be equal. Replays must leave the live generations untouched.
//!
//! The seed is printed and can be set with `SITREP_AS_OF_SEED`; events with
//! `SITREP_AS_OF_EVENTS` (default 10,000).

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{catch_up_fully, day, meta, setup};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sitrep_domain::handler::{CommandHandler, HandlerError};
use sitrep_domain::model::actor::{Actor, ActorCommand, RegisterActor};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, Incident, IncidentCommand, IncidentFacts,
    MergeIncident, RecordClaim, ReportIncident, RestoreIncident, RetractIncident, RetractionKind,
    ReviseCasualties, SetVerification, TargetCategory, VerificationStatus,
};
use sitrep_domain::model::negotiation::{
    Negotiation, NegotiationCommand, NegotiationStatus, OpenNegotiation, Participant,
    RecordSession, SessionLevel, SetNegotiationStatus, StatePosition,
};
use sitrep_domain::model::troops::{
    deployment_stream_id, CountQualifier, CountScope, EstablishDeployment, ReportTroopLevel,
    RetractEstimate, SourceType, TroopCommand, TroopDeployment,
};
use sitrep_domain::model::values::{CountryCode, EventTime, Place, Source, UncertainCount};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_domain::model::Aggregate;
use sitrep_domain::store::EventStore;
use sitrep_projections::actor_queries::{actor_list, ActorFilter};
use sitrep_projections::checksum::live_checksum;
use sitrep_projections::generation::Generation;
use sitrep_projections::incident_queries::{
    incident_by_id, incident_list, incident_stats, incidents_of_actors, IncidentFilter,
    StatsDimension, TimeBucket,
};
use sitrep_projections::negotiation_queries::{
    agreements_of, milestones_of, negotiation_by_id, negotiation_count, negotiation_list,
    positions_of, sessions_of, working_groups_of, NegotiationFilter,
};
use sitrep_projections::replay::{self, Bound, ReplayKind};
use sitrep_projections::troop_queries::{
    troop_levels, troop_series, SeriesOptions, TroopLevelFilter,
};
use sitrep_projections::{Projection, Projector};
use uuid::Uuid;

const COUNTRIES: [&str; 6] = ["IRQ", "SYR", "JOR", "ISR", "LBN", "YEM"];
const DEFAULT_SEED: u64 = 0x5174_7265_7006;
const DEFAULT_EVENTS: usize = 10_000;
/// Writers recording the history at once.
const LANES: usize = 8;

/// Everything the history generator has created so far.
#[derive(Default)]
struct World {
    actors: Vec<Uuid>,
    incidents: Vec<Uuid>,
    negotiations: Vec<Uuid>,
    /// Each deployment with the estimates reported for it.
    deployments: Vec<(Uuid, Vec<Uuid>)>,
    /// Events appended.
    events: usize,
    /// Commands the model refused (state did not allow them): nothing appended.
    refused: usize,
}

fn country(code: &str) -> CountryCode {
    CountryCode::new(code).expect("country")
}

/// An id drawn from the seeded RNG, so that a seed repeats the same history.
fn random_id(rng: &mut StdRng) -> Uuid {
    Uuid::from_u128(rng.gen())
}

fn random_day(rng: &mut StdRng) -> NaiveDate {
    day("2023-10-01") + Duration::days(rng.gen_range(0..400))
}

fn random_count(rng: &mut StdRng) -> UncertainCount {
    let low = rng.gen_range(0..20);
    let best = low + rng.gen_range(0..10);
    UncertainCount::range(low, best, best + rng.gen_range(0..10))
}

async fn execute<A: Aggregate>(
    handler: &CommandHandler,
    world: &mut World,
    id: Uuid,
    command: &A::Command,
) -> bool {
    match handler.execute::<A>(id, command, &meta()).await {
        Ok(executed) => {
            world.events += executed.positions.len();
            true
        }
        Err(HandlerError::Rejected(_)) => {
            world.refused += 1;
            false
        }
        Err(other) => panic!("command on {id}: {other}"),
    }
}

fn report(rng: &mut StdRng, world: &World) -> IncidentCommand {
    let mut actors = Vec::new();
    if !world.actors.is_empty() && rng.gen_bool(0.4) {
        actors.push(ActorInvolvement {
            actor: *world.actors.choose(rng).expect("an actor"),
            role: ActorRole::Claimant,
            attribution: AttributionStatus::Claimed,
            source: None,
        });
    }
    let facts = IncidentFacts {
        time: EventTime::day(random_day(rng)),
        place: Place::country(country(COUNTRIES.choose(rng).expect("a country"))),
        event_type: EventType::ExplosionsRemoteViolence,
        sub_event_type: SubEventType::AirDroneStrike,
        means: Vec::new(),
        target_category: rng
            .gen_bool(0.5)
            .then_some(TargetCategory::ForeignMilitaryBase),
        fatalities: random_count(rng),
        injuries: rng.gen_bool(0.3).then(|| random_count(rng)),
        notes: None,
        tags: Vec::new(),
        external_refs: Vec::new(),
        attributes: Default::default(),
    };
    IncidentCommand::ReportIncident(ReportIncident {
        facts,
        actors,
        sources: vec![Source::named("Reuters")],
    })
}

/// One random command on an existing incident (or a new report when there is none).
fn incident_command(rng: &mut StdRng, world: &World) -> (Uuid, IncidentCommand) {
    let Some(&id) = world.incidents.choose(rng) else {
        return (random_id(rng), report(rng, world));
    };
    let command = match rng.gen_range(0..100) {
        0..=34 => IncidentCommand::ReviseCasualties(ReviseCasualties {
            fatalities: Some(random_count(rng)),
            injuries: rng.gen_bool(0.3).then(|| random_count(rng)),
            source: None,
            reason: "later count".into(),
        }),
        35..=54 => {
            let actor = *world.actors.choose(rng).expect("an actor");
            let (role, attribution) = if rng.gen_bool(0.5) {
                (ActorRole::Claimant, AttributionStatus::Claimed)
            } else {
                (
                    ActorRole::Suspected,
                    *[
                        AttributionStatus::Suspected,
                        AttributionStatus::AttributedBySource,
                    ]
                    .choose(rng)
                    .expect("a status"),
                )
            };
            IncidentCommand::RecordClaim(RecordClaim {
                actor,
                role,
                attribution,
                source: None,
                reason: Some("new reporting".into()),
            })
        }
        55..=72 => IncidentCommand::SetVerification(SetVerification {
            status: *[
                VerificationStatus::Unverified,
                VerificationStatus::Verified,
                VerificationStatus::Disputed,
            ]
            .choose(rng)
            .expect("a status"),
            reason: "checked".into(),
        }),
        73..=84 => IncidentCommand::RetractIncident(RetractIncident {
            kind: RetractionKind::FalseReport,
            reason: "did not happen".into(),
        }),
        85..=95 => IncidentCommand::RestoreIncident(RestoreIncident {
            reason: "confirmed after all".into(),
        }),
        _ => IncidentCommand::MergeIncident(MergeIncident {
            into: *world.incidents.choose(rng).expect("an incident"),
            reason: "duplicate".into(),
        }),
    };
    (id, command)
}

fn negotiation_command(rng: &mut StdRng, world: &World) -> (Uuid, NegotiationCommand) {
    let existing = world.negotiations.choose(rng).copied();
    match existing {
        Some(id) if world.negotiations.len() >= 4 || rng.gen_bool(0.8) => {
            let on = EventTime::day(random_day(rng));
            let command = match rng.gen_range(0..3) {
                0 => NegotiationCommand::RecordSession(RecordSession {
                    session_id: random_id(rng),
                    held: on,
                    venue: None,
                    level: SessionLevel::Military,
                    working_group: None,
                    participants: vec![Participant::named("Iraq")],
                    summary: None,
                    outcome: None,
                    sources: vec![Source::named("Reuters")],
                }),
                1 => NegotiationCommand::StatePosition(StatePosition {
                    party: (*["Iraq", "United States"].choose(rng).expect("a party")).into(),
                    position: format!("position {}", rng.gen_range(0..1000)),
                    stated_on: on,
                    source: Source::named("Reuters"),
                }),
                _ => NegotiationCommand::SetNegotiationStatus(SetNegotiationStatus {
                    status: *[NegotiationStatus::Active, NegotiationStatus::Suspended]
                        .choose(rng)
                        .expect("a status"),
                    reason: "talks moved".into(),
                    effective_on: None,
                }),
            };
            (id, command)
        }
        _ => (
            random_id(rng),
            NegotiationCommand::OpenNegotiation(OpenNegotiation {
                title: format!("Talks {}", world.negotiations.len()),
                topic: "The coalition mission".into(),
                parties: vec![
                    Participant::named("Iraq"),
                    Participant::named("United States"),
                ],
                mediators: Vec::new(),
                opened_on: EventTime::day(random_day(rng)),
            }),
        ),
    }
}

async fn troop_step(rng: &mut StdRng, lane: usize, handler: &CommandHandler, world: &mut World) {
    if world.deployments.len() < 3 && (world.deployments.is_empty() || rng.gen_bool(0.1)) {
        let host = COUNTRIES[world.deployments.len() % COUNTRIES.len()];
        let mission = format!("Mission {lane}.{}", world.deployments.len());
        let id = deployment_stream_id(&country("USA"), &country(host), &mission);
        let command = TroopCommand::EstablishDeployment(EstablishDeployment {
            deploying: country("USA"),
            host: country(host),
            mission,
        });
        if execute::<TroopDeployment>(handler, world, id, &command).await {
            world.deployments.push((id, Vec::new()));
        }
        return;
    }
    let index = rng.gen_range(0..world.deployments.len());
    let (id, estimates) = world.deployments[index].clone();
    if !estimates.is_empty() && rng.gen_bool(0.2) {
        let command = TroopCommand::RetractEstimate(RetractEstimate {
            estimate_id: *estimates.choose(rng).expect("an estimate"),
            reason: "withdrawn by the source".into(),
        });
        execute::<TroopDeployment>(handler, world, id, &command).await;
        return;
    }
    let estimate_id = random_id(rng);
    let command = TroopCommand::ReportTroopLevel(ReportTroopLevel {
        estimate_id,
        as_of: EventTime::day(random_day(rng)),
        count: UncertainCount::exactly(rng.gen_range(0..3000)),
        qualifier: CountQualifier::About,
        scope: CountScope::Unknown,
        source: Source::named("U.S. Department of Defense"),
        source_type: *[
            SourceType::OfficialReport,
            SourceType::OfficialStatement,
            SourceType::Media,
            SourceType::ResearchEstimate,
        ]
        .choose(rng)
        .expect("a source type"),
    });
    if execute::<TroopDeployment>(handler, world, id, &command).await {
        world.deployments[index].1.push(estimate_id);
    }
}

/// Registers the actors every lane may name in claims.
async fn register_actors(handler: &CommandHandler) -> World {
    let mut world = World::default();
    for n in 0..25 {
        let id = Uuid::from_u128(0xAC70_0000 + n as u128);
        let command = ActorCommand::RegisterActor(RegisterActor {
            name: format!("Armed group {n}"),
            actor_type: ActorType::MilitiaGroups,
            country: Some(country(COUNTRIES[n % COUNTRIES.len()])),
            aliases: Vec::new(),
            description: None,
        });
        if execute::<Actor>(handler, &mut world, id, &command).await {
            world.actors.push(id);
        }
    }
    world
}

/// One writer's random history of at least `events` events on streams of its own (`lane`
/// names its deployments), through the command handler.
async fn record_lane(
    handler: CommandHandler,
    mut rng: StdRng,
    lane: usize,
    actors: Vec<Uuid>,
    events: usize,
) -> World {
    let mut world = World {
        actors,
        ..World::default()
    };
    let rng = &mut rng;
    while world.events < events {
        match rng.gen_range(0..100) {
            0..=24 => {
                let id = random_id(rng);
                let command = report(rng, &world);
                if execute::<Incident>(&handler, &mut world, id, &command).await {
                    world.incidents.push(id);
                }
            }
            25..=79 => {
                let (id, command) = incident_command(rng, &world);
                let new = matches!(command, IncidentCommand::ReportIncident(_));
                if execute::<Incident>(&handler, &mut world, id, &command).await && new {
                    world.incidents.push(id);
                }
            }
            80..=89 => {
                let (id, command) = negotiation_command(rng, &world);
                let new = matches!(command, NegotiationCommand::OpenNegotiation(_));
                if execute::<Negotiation>(&handler, &mut world, id, &command).await && new {
                    world.negotiations.push(id);
                }
            }
            _ => troop_step(rng, lane, &handler, &mut world).await,
        }
    }
    world
}

/// Records a random history of at least `events` events: `LANES` writers at once, each on
/// streams of its own with an RNG seeded from `seed` and its number (what each writes is
/// determined by the seed; how their commits interleave is not, and need not be: the property
/// holds for any order).
async fn record_history(handler: &CommandHandler, seed: u64, events: usize) -> World {
    let mut world = register_actors(handler).await;
    let lanes = (0..LANES).map(|lane| {
        let rng = StdRng::seed_from_u64(seed.wrapping_add(lane as u64 + 1));
        tokio::spawn(record_lane(
            handler.clone(),
            rng,
            lane,
            world.actors.clone(),
            events.div_ceil(LANES),
        ))
    });
    for lane in futures::future::join_all(lanes).await {
        let lane = lane.expect("lane");
        world.incidents.extend(lane.incidents);
        world.negotiations.extend(lane.negotiations);
        world.deployments.extend(lane.deployments);
        world.events += lane.events;
        world.refused += lane.refused;
    }
    world
}

/// Fails with the first difference between the two answers (and the seed).
fn same<T: PartialEq + Debug>(what: &str, seed: u64, t: DateTime<Utc>, live: &[T], replayed: &[T]) {
    if live == replayed {
        return;
    }
    let first = live
        .iter()
        .zip(replayed)
        .position(|(a, b)| a != b)
        .unwrap_or(live.len().min(replayed.len()));
    panic!(
        "seed {seed}, T {t}: {what} differs: {} rows as of T in the live model, {} replayed; \
         first difference at {first}:\n live:     {:?}\n replayed: {:?}",
        live.len(),
        replayed.len(),
        live.get(first),
        replayed.get(first),
    );
}

/// The schemas to ask: the live generation's with `as_of`, the replay's without.
struct Sides<'a> {
    live: &'a str,
    replayed: &'a str,
}

/// Asks every query of the read models on both sides and compares the whole answers.
async fn compare_all(
    store: &EventStore,
    world: &World,
    seed: u64,
    t: DateTime<Utc>,
    schemas: [Sides<'_>; 4],
) -> usize {
    // In the order of `sitrep_projections::all()`.
    let [incidents, negotiations, troops, actors] = schemas;
    let pool = store.pool();
    let at = Some(t);
    let mut compared = 0;

    // Incidents: the whole list, filtered lists, statistics, each incident by id.
    let mut filters = vec![IncidentFilter::default()];
    filters.push(IncidentFilter {
        countries: vec!["IRQ".into(), "SYR".into()],
        ..IncidentFilter::default()
    });
    filters.push(IncidentFilter {
        claimant: world.actors.first().copied(),
        ..IncidentFilter::default()
    });
    filters.push(IncidentFilter {
        verification: vec!["verified".into()],
        target_categories: vec!["foreign_military_base".into()],
        ..IncidentFilter::default()
    });
    for filter in &filters {
        let live = incident_list(pool, incidents.live, filter, 1_000_000, None, at)
            .await
            .expect("live list");
        let replayed = incident_list(pool, incidents.replayed, filter, 1_000_000, None, None)
            .await
            .expect("replayed list");
        same(
            &format!("incident list {filter:?}"),
            seed,
            t,
            &live,
            &replayed,
        );
        compared += live.len();
    }
    for (group_by, bucket) in [
        (vec![], None),
        (vec![StatsDimension::Country], Some(TimeBucket::Month)),
        (
            vec![StatsDimension::Claimant, StatsDimension::Actor],
            Some(TimeBucket::Week),
        ),
    ] {
        let filter = IncidentFilter::default();
        let live = incident_stats(pool, incidents.live, &filter, &group_by, bucket, at)
            .await
            .expect("live stats");
        let replayed = incident_stats(pool, incidents.replayed, &filter, &group_by, bucket, None)
            .await
            .expect("replayed stats");
        same(&format!("stats by {group_by:?}"), seed, t, &live, &replayed);
        compared += live.len();
    }
    // A sample of the incidents by id (every status; some not known yet at T).
    for id in world
        .incidents
        .iter()
        .step_by(world.incidents.len().div_ceil(300).max(1))
    {
        let live = incident_by_id(pool, incidents.live, *id, at)
            .await
            .expect("live incident");
        let replayed = incident_by_id(pool, incidents.replayed, *id, None)
            .await
            .expect("replayed incident");
        same("incident by id", seed, t, &[live], &[replayed]);
        compared += 1;
    }
    let live = incidents_of_actors(pool, incidents.live, &world.actors, 100_000, at)
        .await
        .expect("live incidents of actors");
    let replayed = incidents_of_actors(pool, incidents.replayed, &world.actors, 100_000, None)
        .await
        .expect("replayed incidents of actors");
    same("incidents of actors", seed, t, &live, &replayed);
    compared += live.len();

    // Negotiations: the list, its count, each one, and their parts.
    let filter = NegotiationFilter::default();
    let live = negotiation_list(pool, negotiations.live, &filter, 100_000, None, at)
        .await
        .expect("live negotiations");
    let replayed = negotiation_list(pool, negotiations.replayed, &filter, 100_000, None, None)
        .await
        .expect("replayed negotiations");
    same("negotiation list", seed, t, &live, &replayed);
    compared += live.len();
    let counts = (
        negotiation_count(pool, negotiations.live, &filter, at)
            .await
            .expect("live count"),
        negotiation_count(pool, negotiations.replayed, &filter, None)
            .await
            .expect("replayed count"),
    );
    same("negotiation count", seed, t, &[counts.0], &[counts.1]);
    for id in &world.negotiations {
        let live = negotiation_by_id(pool, negotiations.live, *id, at)
            .await
            .expect("live negotiation");
        let replayed = negotiation_by_id(pool, negotiations.replayed, *id, None)
            .await
            .expect("replayed negotiation");
        same("negotiation by id", seed, t, &[live], &[replayed]);
    }
    let ids = &world.negotiations;
    let (live, replayed) = (negotiations.live, negotiations.replayed);
    same(
        "sessions",
        seed,
        t,
        &sessions_of(pool, live, ids, at).await.expect("sessions"),
        &sessions_of(pool, replayed, ids, None)
            .await
            .expect("sessions"),
    );
    same(
        "positions",
        seed,
        t,
        &positions_of(pool, live, ids, at).await.expect("positions"),
        &positions_of(pool, replayed, ids, None)
            .await
            .expect("positions"),
    );
    same(
        "working groups",
        seed,
        t,
        &working_groups_of(pool, live, ids, at)
            .await
            .expect("groups"),
        &working_groups_of(pool, replayed, ids, None)
            .await
            .expect("groups"),
    );
    same(
        "milestones",
        seed,
        t,
        &milestones_of(pool, live, ids, at)
            .await
            .expect("milestones"),
        &milestones_of(pool, replayed, ids, None)
            .await
            .expect("milestones"),
    );
    same(
        "agreements",
        seed,
        t,
        &agreements_of(pool, live, ids, at)
            .await
            .expect("agreements"),
        &agreements_of(pool, replayed, ids, None)
            .await
            .expect("agreements"),
    );

    // Troops: the levels and the series, with and without withdrawn points.
    let filter = TroopLevelFilter::default();
    let live = troop_levels(pool, troops.live, &filter, at)
        .await
        .expect("live levels");
    let replayed = troop_levels(pool, troops.replayed, &filter, None)
        .await
        .expect("replayed levels");
    same("troop levels", seed, t, &live, &replayed);
    compared += live.len();
    let ids: Vec<Uuid> = world.deployments.iter().map(|(id, _)| *id).collect();
    for include_withdrawn in [false, true] {
        let options = SeriesOptions {
            include_withdrawn,
            ..SeriesOptions::default()
        };
        let live = troop_series(pool, troops.live, &ids, options, at)
            .await
            .expect("live series");
        let replayed = troop_series(pool, troops.replayed, &ids, options, None)
            .await
            .expect("replayed series");
        same(
            &format!("troop series {options:?}"),
            seed,
            t,
            &live,
            &replayed,
        );
        compared += live.len();
    }

    // Actors: the list.
    let filter = ActorFilter::default();
    let live = actor_list(pool, actors.live, &filter, 100_000, None, at)
        .await
        .expect("live actors");
    let replayed = actor_list(pool, actors.replayed, &filter, 100_000, None, None)
        .await
        .expect("replayed actors");
    same("actor list", seed, t, &live, &replayed);
    compared + live.len()
}

/// The live generations' rows in `projection_generations` (status, checkpoint, count).
async fn generations(store: &EventStore) -> Vec<(String, i32, String, String, i64, i64)> {
    sqlx::query_as(
        "SELECT projection, generation, status, cursor_tx::text, cursor_position, events_applied \
           FROM projection_generations ORDER BY projection, generation",
    )
    .fetch_all(store.pool())
    .await
    .expect("generations")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_answers_equal_replays_up_to_that_time() {
    let seed = std::env::var("SITREP_AS_OF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let events = std::env::var("SITREP_AS_OF_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_EVENTS);
    eprintln!("as-of property: seed {seed} (set SITREP_AS_OF_SEED to repeat), {events} events");
    let mut rng = StdRng::seed_from_u64(seed);
    let (_db, store, handler) = setup(LANES as u32 + 2).await;

    let started = std::time::Instant::now();
    let world = record_history(&handler, seed, events).await;
    eprintln!(
        "recorded {} events ({} commands refused by the model) in {:?}: {} incidents, {} \
         negotiations, {} deployments",
        world.events,
        world.refused,
        started.elapsed(),
        world.incidents.len(),
        world.negotiations.len(),
        world.deployments.len()
    );
    assert!(world.events >= events);

    // The live generations follow the whole log.
    let projections = sitrep_projections::all();
    let mut live: Vec<Generation> = Vec::new();
    for projection in &projections {
        let projector = Projector::new(store.clone(), projection.clone());
        let mut generation = projector.live_generation().await.expect("live");
        catch_up_fully(&projector, &store, &mut generation).await;
        live.push(generation);
    }
    let before_sums = live_sums(&store, &projections).await;
    let before_generations = generations(&store).await;
    eprintln!("live models built after {:?}", started.elapsed());

    // The times to look at: random ones, exactly at an event's recorded time, just before one,
    // the first and the last.
    let times: Vec<DateTime<Utc>> =
        sqlx::query_scalar("SELECT DISTINCT recorded_at FROM events ORDER BY recorded_at")
            .fetch_all(store.pool())
            .await
            .expect("times");
    let (first, last) = (times[0], times[times.len() - 1]);
    let span = (last - first).num_microseconds().expect("span");
    let mut ts: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    for _ in 0..2 {
        ts.insert(first + Duration::microseconds(rng.gen_range(0..=span)));
    }
    ts.insert(times[rng.gen_range(0..times.len())]);
    ts.insert(times[rng.gen_range(1..times.len())] - Duration::microseconds(1));
    ts.insert(last);

    for t in ts {
        let chosen: Vec<&dyn Projection> = projections.iter().map(|p| p.as_ref()).collect();
        let replays = replay::build_many(
            &store,
            &chosen,
            ReplayKind::Scratch,
            Bound::RecordedUntil(t),
        )
        .await
        .expect("replay");
        let expected_events = times_up_to(&store, t).await;
        for replayed in &replays {
            assert_eq!(
                replayed.events_applied, expected_events,
                "seed {seed}, T {t}"
            );
        }
        let side = |i: usize| Sides {
            live: &live[i].schema,
            replayed: &replays[i].schema,
        };
        let compared = compare_all(
            &store,
            &world,
            seed,
            t,
            [side(0), side(1), side(2), side(3)],
        )
        .await;
        eprintln!(
            "T {t}: {expected_events} events replayed, {compared} rows equal ({:?})",
            started.elapsed()
        );
        if t == last {
            // At the end every read model holds rows: equal answers were not empty ones.
            assert!(
                compared > 1_000,
                "seed {seed}: only {compared} rows compared at the last T"
            );
        }
        for replayed in &replays {
            replay::drop_schema(store.pool(), &replayed.schema)
                .await
                .expect("drop");
        }
    }

    // The replays left the live models and their checkpoints as they were.
    assert_eq!(live_sums(&store, &projections).await, before_sums);
    assert_eq!(generations(&store).await, before_generations);
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rm\\_scratch\\_%'",
    )
    .fetch_one(store.pool())
    .await
    .expect("schemas");
    assert_eq!(left, 0, "scratch schemas left behind");
}

/// The number of events recorded at or before `t`.
async fn times_up_to(store: &EventStore, t: DateTime<Utc>) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE recorded_at <= $1")
        .bind(t)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

async fn live_sums(store: &EventStore, projections: &[Arc<dyn Projection>]) -> Vec<String> {
    let mut sums = Vec::new();
    for projection in projections {
        let (_, sum) = live_checksum(store.pool(), projection.as_ref())
            .await
            .expect("checksum")
            .expect("a live generation");
        sums.push(sum.digest);
    }
    sums
}
