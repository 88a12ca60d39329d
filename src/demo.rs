//! `sitrep demo`: loads a small, true story from the January 2024 news, so that a new
//! installation has something real to look at.
//!
//! The story: the Islamic Resistance in Iraq's drone, rocket and missile attacks on U.S. forces
//! at Al Asad Air Base, Erbil Air Base and Tower 22 in Jordan (October 2023 to January 2024),
//! with the Tower 22 casualty count corrected after the first reports; the Iraq–U.S. Higher
//! Military Commission talks on the future of the coalition mission; and the U.S. troop levels
//! in Iraq and Syria. Coordinates marked `Near` are approximate. The sources are named, without
//! addresses.
//!
//! Every fact goes in as the command a user would send, through the [`CommandHandler`] (the
//! same validation, the same events); nothing is written around it.
//!
//! Running it again is safe: the stream ids (and the ids of the affiliation, session, working
//! groups and estimates inside them) are fixed, and every command carries its own idempotency
//! key (`demo:<what>`), so a second run finds each command's first result (`replayed`) and
//! appends nothing. All the demo's events share one fixed correlation id ([`CORRELATION_ID`]).

use std::fmt;

use anyhow::Context as _;
use chrono::NaiveDate;
use sitrep_domain::handler::{CommandHandler, CommandMeta};
use sitrep_domain::model::actor::{
    Actor, ActorCommand, AffiliationRelation, RecordAffiliation, RegisterActor,
};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AttributionStatus, Incident, IncidentCommand, IncidentFacts,
    Means, RecordClaim, ReportIncident, ReviseCasualties, SetVerification, TargetCategory,
    VerificationStatus,
};
use sitrep_domain::model::negotiation::{
    FormWorkingGroup, Negotiation, OpenNegotiation, Participant, RecordSession, SessionLevel,
    StatePosition,
};
use sitrep_domain::model::site::{RegisterSite, Site, SiteCommand, SiteKind};
use sitrep_domain::model::troops::{
    deployment_stream_id, CountQualifier, CountScope, EstablishDeployment, ReportTroopLevel,
    SourceType, TroopDeployment,
};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, DatePrecision, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};
use sitrep_domain::model::Aggregate;
use sitrep_domain::store::EventStore;
use uuid::Uuid;

/// Who the demo's events are recorded by.
const RECORDED_BY: &str = "sitrep demo";

/// The demo's fixed ids: `5173d3e0-0000-8000-8000-00000000XXXX` (version 8, "custom").
const fn demo_id(n: u128) -> Uuid {
    Uuid::from_u128(0x5173_d3e0_0000_8000_8000_0000_0000_0000 | n)
}

/// The correlation id of every event the demo appends.
pub const CORRELATION_ID: Uuid = demo_id(0x0001);

// Actors, and Kata'ib Hezbollah's membership of the Islamic Resistance in Iraq.
const IRI: Uuid = demo_id(0x0101);
const KATAIB_HEZBOLLAH: Uuid = demo_id(0x0102);
const US_FORCES: Uuid = demo_id(0x0103);
const GOVERNMENT_OF_IRAQ: Uuid = demo_id(0x0104);
const KH_MEMBER_OF_IRI: Uuid = demo_id(0x0111);

// Incidents.
const AL_ASAD_DRONE_2023_10_17: Uuid = demo_id(0x0301);
const ERBIL_DRONE_2023_12_25: Uuid = demo_id(0x0302);
const AL_ASAD_MISSILES_2024_01_20: Uuid = demo_id(0x0303);
const TOWER_22_DRONE_2024_01_28: Uuid = demo_id(0x0304);

// The negotiation, its first session and its working groups.
const HMC_TALKS: Uuid = demo_id(0x0401);
const HMC_FIRST_SESSION: Uuid = demo_id(0x0411);
const GROUP_ISIS: Uuid = demo_id(0x0421);
const GROUP_OPERATIONS: Uuid = demo_id(0x0422);
const GROUP_CAPABILITIES: Uuid = demo_id(0x0423);

// Troop deployments and their estimates.
const US_IN_IRAQ_JANUARY_2024: Uuid = demo_id(0x0511);
const US_IN_SYRIA_JANUARY_2024: Uuid = demo_id(0x0512);

const DOD: &str = "U.S. Department of Defense";
const REUTERS: &str = "Reuters";
const OPERATION_INHERENT_RESOLVE: &str = "Operation Inherent Resolve";

/// A site of the story: registered once, then named by the incidents that happened there.
struct DemoSite {
    id: Uuid,
    name: &'static str,
    kind: SiteKind,
    country: &'static str,
    admin1: Option<&'static str>,
    latitude: f64,
    longitude: f64,
    precision: GeoPrecision,
    description: Option<&'static str>,
}

const AL_ASAD: DemoSite = DemoSite {
    id: demo_id(0x0201),
    name: "Al Asad Air Base",
    kind: SiteKind::AirBase,
    country: "IRQ",
    admin1: Some("Al Anbar"),
    latitude: 33.7856,
    longitude: 42.4412,
    precision: GeoPrecision::Exact,
    description: None,
};

const ERBIL_AIR_BASE: DemoSite = DemoSite {
    id: demo_id(0x0202),
    name: "Erbil Air Base",
    kind: SiteKind::AirBase,
    country: "IRQ",
    admin1: Some("Erbil"),
    latitude: 36.237,
    longitude: 43.963,
    precision: GeoPrecision::Near,
    description: None,
};

const TOWER_22: DemoSite = DemoSite {
    id: demo_id(0x0203),
    name: "Tower 22",
    kind: SiteKind::Outpost,
    country: "JOR",
    admin1: None,
    latitude: 33.32,
    longitude: 38.70,
    precision: GeoPrecision::Near,
    description: Some("Near the Syrian border."),
};

impl DemoSite {
    fn register(&self) -> RegisterSite {
        RegisterSite {
            name: self.name.to_owned(),
            kind: self.kind,
            country: country(self.country),
            admin1: self.admin1.map(str::to_owned),
            coordinates: Some(self.coordinates()),
            precision: self.precision,
            aliases: Vec::new(),
            operated_by: Vec::new(),
            description: self.description.map(str::to_owned),
            source: None,
        }
    }

    /// The place of something that happened at the site.
    fn place(&self) -> Place {
        Place {
            admin1: self.admin1.map(str::to_owned),
            location: Some(self.name.to_owned()),
            coordinates: Some(self.coordinates()),
            precision: self.precision,
            site: Some(self.id),
            ..Place::country(country(self.country))
        }
    }

    fn coordinates(&self) -> Coordinates {
        Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

/// Every stream the demo writes, with what it holds, in the order they are loaded.
fn streams() -> Vec<(&'static str, Uuid, &'static str)> {
    vec![
        (Actor::STREAM_TYPE, IRI, "Islamic Resistance in Iraq"),
        (Actor::STREAM_TYPE, KATAIB_HEZBOLLAH, "Kata'ib Hezbollah"),
        (Actor::STREAM_TYPE, US_FORCES, "United States armed forces"),
        (Actor::STREAM_TYPE, GOVERNMENT_OF_IRAQ, "Government of Iraq"),
        (Site::STREAM_TYPE, AL_ASAD.id, "Al Asad Air Base"),
        (Site::STREAM_TYPE, ERBIL_AIR_BASE.id, "Erbil Air Base"),
        (Site::STREAM_TYPE, TOWER_22.id, "Tower 22"),
        (
            Incident::STREAM_TYPE,
            AL_ASAD_DRONE_2023_10_17,
            "2023-10-17 drone attack on Al Asad Air Base",
        ),
        (
            Incident::STREAM_TYPE,
            ERBIL_DRONE_2023_12_25,
            "2023-12-25 drone attack on Erbil Air Base",
        ),
        (
            Incident::STREAM_TYPE,
            AL_ASAD_MISSILES_2024_01_20,
            "2024-01-20 missile and rocket attack on Al Asad Air Base",
        ),
        (
            Incident::STREAM_TYPE,
            TOWER_22_DRONE_2024_01_28,
            "2024-01-28 drone attack on Tower 22 (casualties revised)",
        ),
        (
            Negotiation::STREAM_TYPE,
            HMC_TALKS,
            "Iraq–U.S. Higher Military Commission talks",
        ),
        (
            TroopDeployment::STREAM_TYPE,
            us_in("IRQ"),
            "United States in Iraq",
        ),
        (
            TroopDeployment::STREAM_TYPE,
            us_in("SYR"),
            "United States in Syria",
        ),
    ]
}

/// What one stream type received in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub stream_type: &'static str,
    /// Events this run appended.
    pub appended: usize,
    /// Events an earlier run had appended already (the commands were replayed).
    pub already_there: usize,
}

/// What a run of the demo did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Per stream type, in the order loaded.
    pub tallies: Vec<Tally>,
}

impl Report {
    pub fn appended(&self) -> usize {
        self.tallies.iter().map(|t| t.appended).sum()
    }

    pub fn already_there(&self) -> usize {
        self.tallies.iter().map(|t| t.already_there).sum()
    }
}

/// Loads the story into `store` (migrated). Stops at the first refused command.
pub async fn load(store: EventStore) -> anyhow::Result<Report> {
    let mut loader = Loader {
        handler: CommandHandler::new(store),
        tallies: Vec::new(),
    };
    actors(&mut loader).await?;
    sites(&mut loader).await?;
    incidents(&mut loader).await?;
    negotiation(&mut loader).await?;
    troops(&mut loader).await?;
    Ok(Report {
        tallies: loader.tallies,
    })
}

/// Sends the demo's commands and counts what they appended.
struct Loader {
    handler: CommandHandler,
    tallies: Vec<Tally>,
}

impl Loader {
    /// Executes `command` on stream `stream` with the idempotency key `demo:<key>`.
    async fn send<A: Aggregate>(
        &mut self,
        stream: Uuid,
        key: &str,
        command: impl Into<A::Command>,
    ) -> anyhow::Result<()> {
        let key = format!("demo:{key}");
        let meta = CommandMeta::by(RECORDED_BY)
            .with_key(key.as_str())
            .correlated(CORRELATION_ID);
        let executed = self
            .handler
            .execute::<A>(stream, &command.into(), &meta)
            .await
            .with_context(|| format!("the demo's command {key} failed"))?;
        let i = match self
            .tallies
            .iter()
            .position(|t| t.stream_type == A::STREAM_TYPE)
        {
            Some(i) => i,
            None => {
                self.tallies.push(Tally {
                    stream_type: A::STREAM_TYPE,
                    appended: 0,
                    already_there: 0,
                });
                self.tallies.len() - 1
            }
        };
        let tally = &mut self.tallies[i];
        if executed.replayed {
            tally.already_there += executed.events.len();
        } else {
            tally.appended += executed.events.len();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The story, one aggregate type at a time

/// The militias, the forces they attacked and the Iraqi government; Kata'ib Hezbollah as a
/// member of the Islamic Resistance in Iraq.
async fn actors(l: &mut Loader) -> anyhow::Result<()> {
    let militia = ActorType::MilitiaGroups;
    let state = ActorType::StateForces;
    let iri = register_actor(
        "Islamic Resistance in Iraq",
        militia,
        "IRQ",
        &["IRI"],
        Some("An umbrella of Iran-aligned groups."),
    );
    l.send::<Actor>(IRI, "actor:iri:register", iri).await?;
    let kh = register_actor("Kata'ib Hezbollah", militia, "IRQ", &[], None);
    l.send::<Actor>(KATAIB_HEZBOLLAH, "actor:kataib-hezbollah:register", kh)
        .await?;
    let us = register_actor("United States armed forces", state, "USA", &[], None);
    l.send::<Actor>(US_FORCES, "actor:us-forces:register", us)
        .await?;
    let iraq = register_actor("Government of Iraq", state, "IRQ", &[], None);
    l.send::<Actor>(
        GOVERNMENT_OF_IRAQ,
        "actor:government-of-iraq:register",
        iraq,
    )
    .await?;

    let member_of_iri = ActorCommand::RecordAffiliation(RecordAffiliation {
        affiliation_id: KH_MEMBER_OF_IRI,
        related_actor: IRI,
        relation: AffiliationRelation::MemberOf,
        from: Some(date("2023-10-17")?),
        until: None,
        source: None,
    });
    l.send::<Actor>(
        KATAIB_HEZBOLLAH,
        "actor:kataib-hezbollah:member-of-iri",
        member_of_iri,
    )
    .await
}

fn register_actor(
    name: &str,
    actor_type: ActorType,
    code: &str,
    aliases: &[&str],
    description: Option<&str>,
) -> ActorCommand {
    ActorCommand::RegisterActor(RegisterActor {
        name: name.to_owned(),
        actor_type,
        country: Some(country(code)),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        description: description.map(str::to_owned),
    })
}

/// The bases that were attacked.
async fn sites(l: &mut Loader) -> anyhow::Result<()> {
    for (site, key) in [
        (&AL_ASAD, "site:al-asad:register"),
        (&ERBIL_AIR_BASE, "site:erbil-air-base:register"),
        (&TOWER_22, "site:tower-22:register"),
    ] {
        l.send::<Site>(site.id, key, SiteCommand::RegisterSite(site.register()))
            .await?;
    }
    Ok(())
}

/// The four attacks, Kata'ib Hezbollah named for Erbil by the U.S., and the Tower 22 count of
/// injured raised by the Pentagon.
async fn incidents(l: &mut Loader) -> anyhow::Result<()> {
    let al_asad_drone = IncidentFacts {
        notes: Some("One-way drone attack; minor injuries reported.".into()),
        ..attack_facts(
            day("2023-10-17")?,
            &AL_ASAD,
            SubEventType::AirDroneStrike,
            vec![Means::OneWayDrone],
        )
    };
    l.send::<Incident>(
        AL_ASAD_DRONE_2023_10_17,
        "incident:al-asad-2023-10-17:report",
        claimed_attack(al_asad_drone, DOD),
    )
    .await?;

    let erbil_drone = IncidentFacts {
        injuries: Some(UncertainCount::exactly(3)),
        notes: Some("One-way drone attack: 3 U.S. service members wounded, one critically.".into()),
        ..attack_facts(
            day("2023-12-25")?,
            &ERBIL_AIR_BASE,
            SubEventType::AirDroneStrike,
            vec![Means::OneWayDrone],
        )
    };
    l.send::<Incident>(
        ERBIL_DRONE_2023_12_25,
        "incident:erbil-2023-12-25:report",
        claimed_attack(erbil_drone, DOD),
    )
    .await?;
    let attributed = RecordClaim {
        actor: KATAIB_HEZBOLLAH,
        role: ActorRole::Perpetrator,
        attribution: AttributionStatus::AttributedBySource,
        source: Some(Source::named(DOD)),
        reason: Some("The U.S. attributed the attack to Kata'ib Hezbollah.".into()),
    };
    l.send::<Incident>(
        ERBIL_DRONE_2023_12_25,
        "incident:erbil-2023-12-25:attributed-to-kataib-hezbollah",
        attributed,
    )
    .await?;

    let al_asad_missiles = IncidentFacts {
        injuries: Some(UncertainCount {
            words: Some("several".into()),
            ..UncertainCount::exactly(3)
        }),
        notes: Some(
            "Ballistic missile and rocket attack: several U.S. personnel evaluated for traumatic brain injuries."
                .into(),
        ),
        ..attack_facts(
            day("2024-01-20")?,
            &AL_ASAD,
            SubEventType::ShellingArtilleryMissileAttack,
            vec![Means::Missile, Means::Rocket],
        )
    };
    l.send::<Incident>(
        AL_ASAD_MISSILES_2024_01_20,
        "incident:al-asad-2024-01-20:report",
        claimed_attack(al_asad_missiles, DOD),
    )
    .await?;

    tower_22(l).await
}

/// The deadliest attack: reported with the first figures, then corrected and verified.
async fn tower_22(l: &mut Loader) -> anyhow::Result<()> {
    let facts = IncidentFacts {
        fatalities: UncertainCount::exactly(3),
        injuries: Some(UncertainCount::exactly(34)),
        notes: Some(
            "One-way drone attack on an outpost in Jordan near the Syrian border: 3 U.S. soldiers killed, 34 injured as first reported."
                .into(),
        ),
        ..attack_facts(
            day("2024-01-28")?,
            &TOWER_22,
            SubEventType::AirDroneStrike,
            vec![Means::OneWayDrone],
        )
    };
    let stream = TOWER_22_DRONE_2024_01_28;
    l.send::<Incident>(
        stream,
        "incident:tower-22-2024-01-28:report",
        claimed_attack(facts, DOD),
    )
    .await?;
    let revised = ReviseCasualties {
        fatalities: None,
        injuries: Some(UncertainCount {
            words: Some("more than 40".into()),
            ..UncertainCount::exactly(40)
        }),
        source: Some(Source::named(DOD)),
        reason: "Pentagon raised the count of injured".into(),
    };
    l.send::<Incident>(
        stream,
        "incident:tower-22-2024-01-28:revise-injured",
        revised,
    )
    .await?;
    let verified = SetVerification {
        status: VerificationStatus::Verified,
        reason: "Attack and casualties confirmed by the U.S. Department of Defense".into(),
    };
    l.send::<Incident>(stream, "incident:tower-22-2024-01-28:verify", verified)
        .await
}

/// The facts every attack of the story shares: an explosion or remote violence at a foreign
/// military base, with no deaths and no known count of injured until the caller says otherwise.
fn attack_facts(
    time: EventTime,
    site: &DemoSite,
    sub_event_type: SubEventType,
    means: Vec<Means>,
) -> IncidentFacts {
    IncidentFacts {
        time,
        place: site.place(),
        event_type: EventType::ExplosionsRemoteViolence,
        sub_event_type,
        means,
        target_category: Some(TargetCategory::ForeignMilitaryBase),
        fatalities: UncertainCount::exactly(0),
        injuries: None,
        notes: None,
        tags: Vec::new(),
        external_refs: Vec::new(),
        attributes: Default::default(),
    }
}

/// A report of `facts` from `source`: aimed at U.S. forces, claimed by the Islamic Resistance
/// in Iraq.
fn claimed_attack(facts: IncidentFacts, source: &str) -> IncidentCommand {
    IncidentCommand::ReportIncident(ReportIncident {
        facts,
        actors: vec![
            ActorInvolvement {
                actor: US_FORCES,
                role: ActorRole::Target,
                attribution: AttributionStatus::AttributedBySource,
                source: None,
            },
            ActorInvolvement {
                actor: IRI,
                role: ActorRole::Claimant,
                attribution: AttributionStatus::Claimed,
                source: None,
            },
        ],
        sources: vec![Source::named(source)],
    })
}

/// The Higher Military Commission talks: opened, first session, its three working groups, and
/// Iraq's position.
async fn negotiation(l: &mut Loader) -> anyhow::Result<()> {
    let iraq = Participant::actor("Iraq", GOVERNMENT_OF_IRAQ);
    let united_states = Participant::actor("United States", US_FORCES);
    let open = OpenNegotiation {
        title: "Iraq–U.S. Higher Military Commission talks on the future of the coalition mission"
            .into(),
        topic: "A timeline to wind down the Global Coalition's mission.".into(),
        parties: vec![iraq.clone(), united_states.clone()],
        mediators: Vec::new(),
        opened_on: day("2024-01-25")?,
    };
    l.send::<Negotiation>(HMC_TALKS, "negotiation:hmc:open", open)
        .await?;

    let first_session = RecordSession {
        session_id: HMC_FIRST_SESSION,
        held: day("2024-01-27")?,
        venue: Some(Place {
            admin1: Some("Baghdad".into()),
            location: Some("Baghdad".into()),
            precision: GeoPrecision::Admin1,
            ..Place::country(country("IRQ"))
        }),
        level: SessionLevel::Military,
        working_group: None,
        participants: vec![
            iraq,
            united_states,
            Participant::named("Prime Minister Mohammed Shia al-Sudani"),
        ],
        summary: Some(
            "First session of the Higher Military Commission, hosted in Baghdad by Prime Minister Mohammed Shia al-Sudani."
                .into(),
        ),
        outcome: Some(
            "Three working groups formed: the threat from ISIS; operational requirements and environment; strengthening the capabilities of the Iraqi security forces."
                .into(),
        ),
        sources: vec![Source::named(REUTERS)],
    };
    l.send::<Negotiation>(HMC_TALKS, "negotiation:hmc:first-session", first_session)
        .await?;

    for (group_id, key, name, mandate) in [
        (
            GROUP_ISIS,
            "negotiation:hmc:working-group:isis",
            "Threat from ISIS",
            "The threat from ISIS.",
        ),
        (
            GROUP_OPERATIONS,
            "negotiation:hmc:working-group:operations",
            "Operational requirements and environment",
            "Operational requirements and environment.",
        ),
        (
            GROUP_CAPABILITIES,
            "negotiation:hmc:working-group:capabilities",
            "Capabilities of the Iraqi security forces",
            "Strengthening the capabilities of the Iraqi security forces.",
        ),
    ] {
        let group = FormWorkingGroup {
            group_id,
            name: name.into(),
            mandate: mandate.into(),
            members: Vec::new(),
            formed_on: Some(day("2024-01-27")?),
        };
        l.send::<Negotiation>(HMC_TALKS, key, group).await?;
    }

    // Stated around the opening and the first session; the day is not pinned down.
    let position = StatePosition {
        party: "Iraq".into(),
        position:
            "A timeline for a gradual, deliberate reduction of coalition advisers on Iraqi soil."
                .into(),
        stated_on: EventTime::span(
            date("2024-01-25")?,
            date("2024-01-27")?,
            DatePrecision::Days,
        ),
        source: Source::named(REUTERS),
    };
    l.send::<Negotiation>(HMC_TALKS, "negotiation:hmc:position:iraq", position)
        .await
}

/// U.S. troops in Iraq and in Syria for Operation Inherent Resolve, as officially stated for
/// January 2024.
async fn troops(l: &mut Loader) -> anyhow::Result<()> {
    let deployments = [
        ("IRQ", "iraq", US_IN_IRAQ_JANUARY_2024, 2_500, "about 2,500"),
        ("SYR", "syria", US_IN_SYRIA_JANUARY_2024, 900, "about 900"),
    ];
    for (host, slug, estimate_id, troops, words) in deployments {
        let stream = us_in(host);
        let establish = EstablishDeployment {
            deploying: country("USA"),
            host: country(host),
            mission: OPERATION_INHERENT_RESOLVE.into(),
        };
        let key = format!("troops:us-in-{slug}:establish");
        l.send::<TroopDeployment>(stream, &key, establish).await?;
        let level = ReportTroopLevel {
            estimate_id,
            as_of: EventTime::span(
                date("2024-01-01")?,
                date("2024-01-31")?,
                DatePrecision::Month,
            ),
            count: UncertainCount {
                words: Some(words.into()),
                ..UncertainCount::exactly(troops)
            },
            qualifier: CountQualifier::About,
            scope: CountScope::Unknown,
            source: Source::named(DOD),
            source_type: SourceType::OfficialStatement,
        };
        let key = format!("troops:us-in-{slug}:level-2024-01");
        l.send::<TroopDeployment>(stream, &key, level).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// The stream of the U.S. deployment in `host` for Operation Inherent Resolve (one stream per
/// deployment: its id is derived from the three).
fn us_in(host: &str) -> Uuid {
    deployment_stream_id(&country("USA"), &country(host), OPERATION_INHERENT_RESOLVE)
}

/// A country code, checked by the command that carries it.
fn country(code: &str) -> CountryCode {
    CountryCode(code.to_owned())
}

fn date(text: &str) -> anyhow::Result<NaiveDate> {
    text.parse()
        .with_context(|| format!("{text} is not a date (YYYY-MM-DD)"))
}

/// One day, known exactly.
fn day(text: &str) -> anyhow::Result<EventTime> {
    Ok(EventTime::day(date(text)?))
}

// ---------------------------------------------------------------------------------------------
// What the run prints

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sitrep demo: attacks on U.S. forces in Iraq and Jordan (October 2023 - January 2024),"
        )?;
        writeln!(
            f,
            "the Iraq–U.S. Higher Military Commission talks, and U.S. troop levels in Iraq and Syria."
        )?;
        writeln!(f)?;
        writeln!(f, "Events by stream type:")?;
        for t in &self.tallies {
            writeln!(
                f,
                "  {:<18} {:>3} appended, {:>3} already there",
                t.stream_type, t.appended, t.already_there
            )?;
        }
        writeln!(
            f,
            "  {:<18} {:>3} appended, {:>3} already there",
            "total",
            self.appended(),
            self.already_there()
        )?;
        if self.appended() == 0 {
            writeln!(
                f,
                "Nothing new: the story was loaded already (every command was a replay)."
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Streams:")?;
        for (stream_type, id, what) in streams() {
            writeln!(f, "  {stream_type:<18} {id}  {what}")?;
        }
        writeln!(f)?;
        writeln!(f, "Where to look:")?;
        writeln!(
            f,
            "  sitrep serve    GraphQL at http://127.0.0.1:4000/graphql (the default --listen), e.g."
        )?;
        writeln!(
            f,
            "                  curl -s http://127.0.0.1:4000/graphql -H 'content-type: application/json' \\"
        )?;
        writeln!(
            f,
            "                    -d '{{\"query\": \"{{ latestPosition }}\"}}'"
        )?;
        writeln!(
            f,
            "  sitrep verify   checks the event log's hash links and seals"
        )?;
        writeln!(f, "  the demo's events, in psql on sitrep's database:")?;
        writeln!(
            f,
            "    SELECT position, stream_type, event_type, recorded_at, reason FROM events \
             WHERE correlation_id = '{CORRELATION_ID}' ORDER BY position;"
        )
    }
}
