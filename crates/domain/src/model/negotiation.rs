//! The Negotiation aggregate: one process of talks between parties (the Iraq-U.S. talks on the
//! future of the Global Coalition mission), from its opening to its conclusion or collapse.
//!
//! A negotiation records what happens in it: sessions held (at what level, where, with whom),
//! working groups formed, positions the parties state, timeline commitments (milestones with due
//! dates) and how each milestone fared, agreements reached (typed and staged as in PA-X), and the
//! changes of its own status.
//!
//! Parties, mediators and participants are [`Participant`]s: a name, required, and the id of an
//! Actor aggregate when the actor is registered, so that a party can be named before it is.
//! Names are compared without regard to case or spacing.
//!
//! What the status allows (every command but [`NegotiationCommand::OpenNegotiation`] needs an
//! opened negotiation):
//!
//! | command                 | active | suspended | concluded / collapsed |
//! |-------------------------|--------|-----------|-----------------------|
//! | record a session        | yes    | no        | no                    |
//! | form a working group    | yes    | no        | no                    |
//! | commit to a timeline    | yes    | no        | no                    |
//! | record an agreement     | yes    | no        | no                    |
//! | state a position        | yes    | yes       | no                    |
//! | set a milestone status  | yes    | yes       | yes                   |
//! | set the status          | any other status | any other status | only back to active (reopen) |
//!
//! Parties keep stating positions while talks are suspended, and a timeline agreed in talks is
//! carried out (or not) after the talks concluded, which is why milestones can change status in
//! every status. A concluded or collapsed negotiation is reopened by setting it active again
//! (talks resumed); it cannot go from concluded to collapsed or suspended without being reopened.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::aggregate::{Aggregate, DomainEvent, Reference};
use super::error::DomainError;
use super::values::{
    check_each, check_optional_text, check_reason, check_text, EventTime, Place, Source, MAX_NAME,
    MAX_TEXT,
};

/// A party, mediator, member or participant: a name, and the Actor aggregate's id once the
/// actor is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Uuid>,
}

impl Participant {
    /// A participant known by name only.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            actor: None,
        }
    }

    /// A participant registered as the Actor `actor`.
    pub fn actor(name: impl Into<String>, actor: Uuid) -> Self {
        Self {
            name: name.into(),
            actor: Some(actor),
        }
    }

    /// Whether this participant is called `name` (ignoring case and spacing).
    pub fn is_named(&self, name: &str) -> bool {
        name_key(&self.name) == name_key(name)
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        check_text("name", &self.name, MAX_NAME)
    }
}

/// The level a session is held at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLevel {
    /// Heads of state or government.
    Leaders,
    Ministers,
    /// Military commanders or commissions.
    Military,
    /// Experts and officials.
    Technical,
    /// One of the negotiation's working groups.
    WorkingGroup,
}

/// Where a negotiation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegotiationStatus {
    /// Talks are going on (the status of a newly opened negotiation).
    Active,
    /// Talks are paused and expected to resume.
    Suspended,
    /// Talks ended with their outcome.
    Concluded,
    /// Talks broke down without an outcome.
    Collapsed,
}

impl NegotiationStatus {
    /// The stored name (`active`, `suspended`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Concluded => "concluded",
            Self::Collapsed => "collapsed",
        }
    }

    /// Whether the talks are over (concluded or collapsed).
    pub fn is_over(self) -> bool {
        matches!(self, Self::Concluded | Self::Collapsed)
    }
}

/// How a timeline milestone fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneStatus {
    /// Not yet due, or not yet known to be met (the status of a new milestone).
    Pending,
    Met,
    Missed,
    /// Moved to a later date.
    Postponed,
    /// Dropped by the parties.
    Cancelled,
}

impl MilestoneStatus {
    /// The stored name (`pending`, `met`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Met => "met",
            Self::Missed => "missed",
            Self::Postponed => "postponed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// How an agreement was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementStatus {
    /// Signed by the parties.
    Signed,
    /// Initialled: agreed text, not yet signed.
    Initialled,
    /// Declared by one party (PA-X records unilateral declarations as agreements).
    Unilateral,
}

/// PA-X's agreement type (`Agtp`): the nature of the agreement and of the conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementType {
    /// About an intrastate conflict, between parties within the state.
    Intrastate,
    /// Between states, about an interstate conflict.
    Interstate,
    /// Between states, about intrastate conflicts.
    InterstateIntrastate,
    /// About a local part of an intrastate conflict.
    IntrastateLocal,
}

impl AgreementType {
    /// The type PA-X codes `code` in `Agtp` (`Intra`, `Inter`, `InterIntra`, `IntraLocal`).
    pub fn from_pax(code: &str) -> Option<Self> {
        match code {
            "Intra" => Some(Self::Intrastate),
            "Inter" => Some(Self::Interstate),
            "InterIntra" => Some(Self::InterstateIntrastate),
            "IntraLocal" => Some(Self::IntrastateLocal),
            _ => None,
        }
    }
}

/// PA-X's stage of an agreement in its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementStage {
    /// Pre-negotiation or process: agreeing to talk and how.
    PreNegotiation,
    /// Framework or substantive agreement on some of the issues.
    FrameworkSubstantivePartial,
    /// Framework or substantive agreement on all the main issues.
    FrameworkSubstantiveComprehensive,
    /// Implementing or renegotiating an earlier agreement.
    Implementation,
    /// Renewing an earlier agreement as it stands.
    Renewal,
    /// Ceasefire or related.
    Ceasefire,
    Other,
}

/// A command to the Negotiation aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum NegotiationCommand {
    OpenNegotiation(OpenNegotiation),
    RecordSession(RecordSession),
    FormWorkingGroup(FormWorkingGroup),
    StatePosition(StatePosition),
    CommitTimeline(CommitTimeline),
    SetMilestoneStatus(SetMilestoneStatus),
    RecordAgreement(RecordAgreement),
    SetNegotiationStatus(SetNegotiationStatus),
}

macro_rules! command_from {
    ($($command:ident),* $(,)?) => {
        $(impl From<$command> for NegotiationCommand {
            fn from(command: $command) -> Self {
                Self::$command(command)
            }
        })*
    };
}

command_from!(
    OpenNegotiation,
    RecordSession,
    FormWorkingGroup,
    StatePosition,
    CommitTimeline,
    SetMilestoneStatus,
    RecordAgreement,
    SetNegotiationStatus,
);

/// Opens a negotiation (it starts active). Refused on a negotiation opened already.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenNegotiation {
    pub title: String,
    /// What the talks are about.
    pub topic: String,
    /// At least two, each named once.
    pub parties: Vec<Participant>,
    /// Mediators and other third parties; none of them also a party.
    pub mediators: Vec<Participant>,
    pub opened_on: EventTime,
}

/// Records a session held. Only while the negotiation is active; the session id must be new.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSession {
    pub session_id: Uuid,
    /// When it was held; it must not end before the negotiation opened.
    pub held: EventTime,
    pub venue: Option<Place>,
    pub level: SessionLevel,
    /// The working group meeting: required when the level is `working_group` (and then a
    /// group formed in this negotiation), absent otherwise.
    pub working_group: Option<Uuid>,
    pub participants: Vec<Participant>,
    pub summary: Option<String>,
    pub outcome: Option<String>,
    pub sources: Vec<Source>,
}

/// Forms a working group. Only while the negotiation is active; id and name must be new.
#[derive(Debug, Clone, PartialEq)]
pub struct FormWorkingGroup {
    pub group_id: Uuid,
    pub name: String,
    /// What it is to work on ("the threat from ISIS").
    pub mandate: String,
    pub members: Vec<Participant>,
    pub formed_on: Option<EventTime>,
}

/// Records a position a party or mediator stated. Allowed while the negotiation is active or
/// suspended.
#[derive(Debug, Clone, PartialEq)]
pub struct StatePosition {
    /// The name of one of the negotiation's parties or mediators.
    pub party: String,
    pub position: String,
    pub stated_on: EventTime,
    pub source: Source,
}

/// Records a timeline commitment: a milestone with its due date (a phased drawdown). Only while
/// the negotiation is active; the milestone id must be new. The milestone starts pending.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitTimeline {
    pub milestone_id: Uuid,
    pub description: String,
    /// When it is due; it must not end before the commitment was made.
    pub due: EventTime,
    /// When the parties committed to it.
    pub committed_on: EventTime,
    pub source: Source,
}

/// Changes a milestone's status, with a reason. Allowed in every status of the negotiation
/// (timelines are carried out after talks conclude). Setting the status it has is refused,
/// except postponing a postponed milestone again to a new date.
#[derive(Debug, Clone, PartialEq)]
pub struct SetMilestoneStatus {
    pub milestone_id: Uuid,
    pub status: MilestoneStatus,
    pub reason: String,
    /// When it changed in the world (met on, postponed on).
    pub effective_on: Option<EventTime>,
    /// The new due date of a postponed milestone, ending after the current one; only with
    /// `postponed` (which may also leave the new date open).
    pub new_due: Option<EventTime>,
}

/// Records an agreement reached. Only while the negotiation is active; the id must be new.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordAgreement {
    pub agreement_id: Uuid,
    pub name: String,
    pub status: AgreementStatus,
    pub agreement_type: AgreementType,
    pub stage: AgreementStage,
    pub signed_on: EventTime,
    pub provisions: Vec<String>,
    pub sources: Vec<Source>,
}

/// Changes the negotiation's status, with a reason. Setting the status it has is refused; a
/// concluded or collapsed negotiation can only be set active again (reopened).
#[derive(Debug, Clone, PartialEq)]
pub struct SetNegotiationStatus {
    pub status: NegotiationStatus,
    pub reason: String,
    /// When it changed in the world.
    pub effective_on: Option<EventTime>,
}

/// What happened to a negotiation. The variant names are the stored event types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum NegotiationEvent {
    NegotiationOpened {
        title: String,
        topic: String,
        parties: Vec<Participant>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mediators: Vec<Participant>,
        opened_on: EventTime,
    },
    SessionRecorded {
        session_id: Uuid,
        held: EventTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        venue: Option<Place>,
        level: SessionLevel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        working_group: Option<Uuid>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        participants: Vec<Participant>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<Source>,
    },
    WorkingGroupFormed {
        group_id: Uuid,
        name: String,
        mandate: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<Participant>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        formed_on: Option<EventTime>,
    },
    /// `party` is the negotiation's party or mediator as registered (with its actor id).
    PositionStated {
        party: Participant,
        position: String,
        stated_on: EventTime,
        source: Source,
    },
    TimelineCommitted {
        milestone_id: Uuid,
        description: String,
        due: EventTime,
        committed_on: EventTime,
        source: Source,
    },
    MilestoneStatusChanged {
        milestone_id: Uuid,
        status: MilestoneStatus,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        effective_on: Option<EventTime>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_due: Option<EventTime>,
    },
    AgreementRecorded {
        agreement_id: Uuid,
        name: String,
        status: AgreementStatus,
        agreement_type: AgreementType,
        stage: AgreementStage,
        signed_on: EventTime,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        provisions: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<Source>,
    },
    NegotiationStatusChanged {
        status: NegotiationStatus,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        effective_on: Option<EventTime>,
    },
}

impl DomainEvent for NegotiationEvent {
    fn reason(&self) -> Option<&str> {
        match self {
            Self::MilestoneStatusChanged { reason, .. }
            | Self::NegotiationStatusChanged { reason, .. } => Some(reason),
            _ => None,
        }
    }

    fn valid_time(&self) -> Option<&EventTime> {
        match self {
            Self::NegotiationOpened { opened_on, .. } => Some(opened_on),
            Self::SessionRecorded { held, .. } => Some(held),
            Self::WorkingGroupFormed { formed_on, .. } => formed_on.as_ref(),
            Self::PositionStated { stated_on, .. } => Some(stated_on),
            Self::TimelineCommitted { committed_on, .. } => Some(committed_on),
            Self::MilestoneStatusChanged { effective_on, .. }
            | Self::NegotiationStatusChanged { effective_on, .. } => effective_on.as_ref(),
            Self::AgreementRecorded { signed_on, .. } => Some(signed_on),
        }
    }
}

/// What an opened negotiation is: its title, topic, parties and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegotiationDetails {
    pub title: String,
    pub topic: String,
    pub parties: Vec<Participant>,
    pub mediators: Vec<Participant>,
    pub opened_on: EventTime,
    pub status: NegotiationStatus,
    /// The reason given for the latest status change (none while it has never changed).
    pub status_reason: Option<String>,
}

/// A session held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: Uuid,
    pub held: EventTime,
    pub venue: Option<Place>,
    pub level: SessionLevel,
    pub working_group: Option<Uuid>,
    pub participants: Vec<Participant>,
    pub summary: Option<String>,
    pub outcome: Option<String>,
    pub sources: Vec<Source>,
}

/// A working group formed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkingGroup {
    pub group_id: Uuid,
    pub name: String,
    pub mandate: String,
    pub members: Vec<Participant>,
    pub formed_on: Option<EventTime>,
}

/// A position stated by a party or mediator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub party: Participant,
    pub position: String,
    pub stated_on: EventTime,
    pub source: Source,
}

/// A timeline milestone and how it fares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    pub milestone_id: Uuid,
    pub description: String,
    /// The due date now (moved by postponements).
    pub due: EventTime,
    /// The due date first committed to.
    pub committed_due: EventTime,
    pub committed_on: EventTime,
    pub source: Source,
    pub status: MilestoneStatus,
    /// The reason given for the latest status change.
    pub status_reason: Option<String>,
}

/// An agreement reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub agreement_id: Uuid,
    pub name: String,
    pub status: AgreementStatus,
    pub agreement_type: AgreementType,
    pub stage: AgreementStage,
    pub signed_on: EventTime,
    pub provisions: Vec<String>,
    pub sources: Vec<Source>,
}

/// A negotiation: the fold of its events. Empty (not opened) until `NegotiationOpened`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Negotiation {
    details: Option<NegotiationDetails>,
    sessions: Vec<Session>,
    working_groups: Vec<WorkingGroup>,
    positions: Vec<Position>,
    milestones: Vec<Milestone>,
    agreements: Vec<Agreement>,
}

impl Negotiation {
    /// Title, topic, parties and status; none until the negotiation is opened.
    pub fn details(&self) -> Option<&NegotiationDetails> {
        self.details.as_ref()
    }

    /// The current status; none until the negotiation is opened.
    pub fn status(&self) -> Option<NegotiationStatus> {
        self.details.as_ref().map(|d| d.status)
    }

    /// Sessions in the order they were recorded.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    pub fn working_groups(&self) -> &[WorkingGroup] {
        &self.working_groups
    }

    /// Positions in the order they were recorded.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    pub fn milestones(&self) -> &[Milestone] {
        &self.milestones
    }

    /// The milestone `id`, if committed to in this negotiation.
    pub fn milestone(&self, id: Uuid) -> Option<&Milestone> {
        self.milestones.iter().find(|m| m.milestone_id == id)
    }

    pub fn agreements(&self) -> &[Agreement] {
        &self.agreements
    }

    /// The details, or `NotFound` when the negotiation is not opened.
    fn opened(&self) -> Result<&NegotiationDetails, DomainError> {
        self.details.as_ref().ok_or(DomainError::NotFound {
            what: "negotiation",
        })
    }

    /// The details, when the status lets `doing` happen (see the module's table).
    fn allowing(&self, doing: &str, allowed: Allowed) -> Result<&NegotiationDetails, DomainError> {
        let details = self.opened()?;
        let status = details.status;
        let refused = match allowed {
            Allowed::WhileActive => status != NegotiationStatus::Active,
            Allowed::UnlessOver => status.is_over(),
        };
        if !refused {
            return Ok(details);
        }
        Err(DomainError::state(if status.is_over() {
            format!(
                "negotiation is {}: reopen it (set its status to active) before {doing}",
                status.as_str()
            )
        } else {
            format!(
                "negotiation is {}: resume it (set its status to active) before {doing}",
                status.as_str()
            )
        }))
    }

    fn open(&self, c: &OpenNegotiation) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_text("title", &c.title, MAX_NAME)?;
        check_text("topic", &c.topic, MAX_TEXT)?;
        check_each("parties", &c.parties, Participant::validate)?;
        if c.parties.len() < 2 {
            return Err(DomainError::invalid(
                "parties",
                "must name at least two parties",
            ));
        }
        check_each("mediators", &c.mediators, Participant::validate)?;
        check_distinct(&[("parties", &c.parties), ("mediators", &c.mediators)])?;
        c.opened_on.validate().map_err(|e| e.within("opened_on"))?;
        if self.details.is_some() {
            return Err(DomainError::AlreadyExists {
                what: "negotiation",
            });
        }
        Ok(vec![NegotiationEvent::NegotiationOpened {
            title: c.title.clone(),
            topic: c.topic.clone(),
            parties: c.parties.clone(),
            mediators: c.mediators.clone(),
            opened_on: c.opened_on.clone(),
        }])
    }

    fn record_session(&self, c: &RecordSession) -> Result<Vec<NegotiationEvent>, DomainError> {
        c.held.validate().map_err(|e| e.within("held"))?;
        if let Some(venue) = &c.venue {
            venue.validate().map_err(|e| e.within("venue"))?;
        }
        check_session_level(c.level, c.working_group)?;
        check_each("participants", &c.participants, Participant::validate)?;
        check_distinct(&[("participants", &c.participants)])?;
        check_optional_text("summary", c.summary.as_deref(), MAX_TEXT)?;
        check_optional_text("outcome", c.outcome.as_deref(), MAX_TEXT)?;
        check_each("sources", &c.sources, Source::validate)?;

        let details = self.allowing("recording a session", Allowed::WhileActive)?;
        if self.sessions.iter().any(|s| s.session_id == c.session_id) {
            return Err(DomainError::AlreadyExists { what: "session" });
        }
        if let Some(group) = c.working_group {
            if !self.working_groups.iter().any(|g| g.group_id == group) {
                return Err(DomainError::invalid(
                    "working_group",
                    format!("must be a working group formed in this negotiation (none has the id {group})"),
                ));
            }
        }
        if c.held.end < details.opened_on.start {
            return Err(DomainError::invalid(
                "held",
                format!(
                    "must not end before the negotiation opened ({} is before {})",
                    c.held.end, details.opened_on.start
                ),
            ));
        }
        Ok(vec![NegotiationEvent::SessionRecorded {
            session_id: c.session_id,
            held: c.held.clone(),
            venue: c.venue.clone(),
            level: c.level,
            working_group: c.working_group,
            participants: c.participants.clone(),
            summary: c.summary.clone(),
            outcome: c.outcome.clone(),
            sources: c.sources.clone(),
        }])
    }

    fn form_working_group(
        &self,
        c: &FormWorkingGroup,
    ) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_text("name", &c.name, MAX_NAME)?;
        check_text("mandate", &c.mandate, MAX_TEXT)?;
        check_each("members", &c.members, Participant::validate)?;
        check_distinct(&[("members", &c.members)])?;
        if let Some(formed_on) = &c.formed_on {
            formed_on.validate().map_err(|e| e.within("formed_on"))?;
        }

        self.allowing("forming a working group", Allowed::WhileActive)?;
        if self.working_groups.iter().any(|g| g.group_id == c.group_id) {
            return Err(DomainError::AlreadyExists {
                what: "working group",
            });
        }
        if let Some(same) = self
            .working_groups
            .iter()
            .find(|g| name_key(&g.name) == name_key(&c.name))
        {
            return Err(DomainError::invalid(
                "name",
                format!(
                    "must differ from the names of the other working groups (\"{}\" exists already)",
                    same.name
                ),
            ));
        }
        Ok(vec![NegotiationEvent::WorkingGroupFormed {
            group_id: c.group_id,
            name: c.name.clone(),
            mandate: c.mandate.clone(),
            members: c.members.clone(),
            formed_on: c.formed_on.clone(),
        }])
    }

    fn state_position(&self, c: &StatePosition) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_text("party", &c.party, MAX_NAME)?;
        check_text("position", &c.position, MAX_TEXT)?;
        c.stated_on.validate().map_err(|e| e.within("stated_on"))?;
        c.source.validate().map_err(|e| e.within("source"))?;

        let details = self.allowing("stating a position", Allowed::UnlessOver)?;
        let party = details
            .parties
            .iter()
            .chain(&details.mediators)
            .find(|p| p.is_named(&c.party))
            .ok_or_else(|| {
                let names: Vec<&str> = details
                    .parties
                    .iter()
                    .chain(&details.mediators)
                    .map(|p| p.name.as_str())
                    .collect();
                DomainError::invalid(
                    "party",
                    format!(
                        "must be one of the negotiation's parties or mediators ({}), not \"{}\"",
                        names.join(", "),
                        c.party
                    ),
                )
            })?;
        Ok(vec![NegotiationEvent::PositionStated {
            party: party.clone(),
            position: c.position.clone(),
            stated_on: c.stated_on.clone(),
            source: c.source.clone(),
        }])
    }

    fn commit_timeline(&self, c: &CommitTimeline) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_text("description", &c.description, MAX_TEXT)?;
        c.due.validate().map_err(|e| e.within("due"))?;
        c.committed_on
            .validate()
            .map_err(|e| e.within("committed_on"))?;
        if c.due.end < c.committed_on.start {
            return Err(DomainError::invalid(
                "due",
                format!(
                    "must not end before the commitment was made ({} is before {})",
                    c.due.end, c.committed_on.start
                ),
            ));
        }
        c.source.validate().map_err(|e| e.within("source"))?;

        self.allowing("committing to a timeline", Allowed::WhileActive)?;
        if self.milestone(c.milestone_id).is_some() {
            return Err(DomainError::AlreadyExists { what: "milestone" });
        }
        Ok(vec![NegotiationEvent::TimelineCommitted {
            milestone_id: c.milestone_id,
            description: c.description.clone(),
            due: c.due.clone(),
            committed_on: c.committed_on.clone(),
            source: c.source.clone(),
        }])
    }

    fn set_milestone_status(
        &self,
        c: &SetMilestoneStatus,
    ) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_reason(&c.reason)?;
        if let Some(effective_on) = &c.effective_on {
            effective_on
                .validate()
                .map_err(|e| e.within("effective_on"))?;
        }
        if let Some(new_due) = &c.new_due {
            if c.status != MilestoneStatus::Postponed {
                return Err(DomainError::invalid(
                    "new_due",
                    "is only for a postponed milestone",
                ));
            }
            new_due.validate().map_err(|e| e.within("new_due"))?;
        }

        self.opened()?;
        let milestone = self
            .milestone(c.milestone_id)
            .ok_or(DomainError::NotFound { what: "milestone" })?;
        if milestone.status == c.status && c.new_due.is_none() {
            return Err(DomainError::state(format!(
                "milestone is already {}: nothing to change",
                c.status.as_str()
            )));
        }
        if let Some(new_due) = &c.new_due {
            if new_due.end <= milestone.due.end {
                return Err(DomainError::invalid(
                    "new_due",
                    format!(
                        "must end after the current due date (it ends {}, the current one {})",
                        new_due.end, milestone.due.end
                    ),
                ));
            }
        }
        Ok(vec![NegotiationEvent::MilestoneStatusChanged {
            milestone_id: c.milestone_id,
            status: c.status,
            reason: c.reason.clone(),
            effective_on: c.effective_on.clone(),
            new_due: c.new_due.clone(),
        }])
    }

    fn record_agreement(&self, c: &RecordAgreement) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_text("name", &c.name, MAX_NAME)?;
        c.signed_on.validate().map_err(|e| e.within("signed_on"))?;
        check_each("provisions", &c.provisions, |p| check_text("", p, MAX_TEXT))?;
        check_each("sources", &c.sources, Source::validate)?;

        self.allowing("recording an agreement", Allowed::WhileActive)?;
        if self
            .agreements
            .iter()
            .any(|a| a.agreement_id == c.agreement_id)
        {
            return Err(DomainError::AlreadyExists { what: "agreement" });
        }
        Ok(vec![NegotiationEvent::AgreementRecorded {
            agreement_id: c.agreement_id,
            name: c.name.clone(),
            status: c.status,
            agreement_type: c.agreement_type,
            stage: c.stage,
            signed_on: c.signed_on.clone(),
            provisions: c.provisions.clone(),
            sources: c.sources.clone(),
        }])
    }

    fn set_status(&self, c: &SetNegotiationStatus) -> Result<Vec<NegotiationEvent>, DomainError> {
        check_reason(&c.reason)?;
        if let Some(effective_on) = &c.effective_on {
            effective_on
                .validate()
                .map_err(|e| e.within("effective_on"))?;
        }

        let current = self.opened()?.status;
        if current == c.status {
            return Err(DomainError::state(format!(
                "negotiation is already {}: nothing to change",
                current.as_str()
            )));
        }
        if current.is_over() && c.status != NegotiationStatus::Active {
            return Err(DomainError::state(format!(
                "negotiation is {}: reopen it (set its status to active) before setting it {}",
                current.as_str(),
                c.status.as_str()
            )));
        }
        Ok(vec![NegotiationEvent::NegotiationStatusChanged {
            status: c.status,
            reason: c.reason.clone(),
            effective_on: c.effective_on.clone(),
        }])
    }

    fn apply_milestone_status(
        &mut self,
        id: Uuid,
        status: MilestoneStatus,
        reason: &str,
        new_due: Option<&EventTime>,
    ) {
        if let Some(m) = self.milestones.iter_mut().find(|m| m.milestone_id == id) {
            m.status = status;
            m.status_reason = Some(reason.to_owned());
            if let Some(due) = new_due {
                m.due = due.clone();
            }
        }
    }
}

/// Which statuses let a command through (see the module's table).
#[derive(Debug, Clone, Copy)]
enum Allowed {
    WhileActive,
    UnlessOver,
}

/// A name as compared: lower case, single spaces.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Checks that no participant appears twice across `lists` (by name, or by actor id), naming
/// the later one.
fn check_distinct(lists: &[(&str, &[Participant])]) -> Result<(), DomainError> {
    let mut seen: Vec<&Participant> = Vec::new();
    for (field, list) in lists {
        for (i, p) in list.iter().enumerate() {
            if let Some(earlier) = seen.iter().find(|s| s.is_named(&p.name)) {
                return Err(DomainError::invalid(
                    format!("{field}[{i}].name"),
                    format!("must be named once (\"{}\" is named already)", earlier.name),
                ));
            }
            if let Some(actor) = p.actor {
                if let Some(earlier) = seen.iter().find(|s| s.actor == Some(actor)) {
                    return Err(DomainError::invalid(
                        format!("{field}[{i}].actor"),
                        format!(
                            "must appear once (actor {actor} is \"{}\" already)",
                            earlier.name
                        ),
                    ));
                }
            }
            seen.push(p);
        }
    }
    Ok(())
}

/// Checks that a working group is named exactly when the session is a working group's.
fn check_session_level(level: SessionLevel, group: Option<Uuid>) -> Result<(), DomainError> {
    match (level, group) {
        (SessionLevel::WorkingGroup, None) => Err(DomainError::invalid(
            "working_group",
            "is required when the level is working_group",
        )),
        (SessionLevel::WorkingGroup, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(DomainError::invalid(
            "working_group",
            "is only for sessions of level working_group",
        )),
    }
}

impl Aggregate for Negotiation {
    const STREAM_TYPE: &'static str = "negotiation";
    type Command = NegotiationCommand;
    type Event = NegotiationEvent;

    fn references(command: &NegotiationCommand) -> Vec<Reference> {
        let actors = |field: &str, people: &[Participant]| -> Vec<Reference> {
            people
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    p.actor
                        .map(|id| Reference::new(format!("{field}[{i}].actor"), "actor", id))
                })
                .collect()
        };
        match command {
            NegotiationCommand::OpenNegotiation(c) => {
                let mut refs = actors("parties", &c.parties);
                refs.extend(actors("mediators", &c.mediators));
                refs
            }
            NegotiationCommand::FormWorkingGroup(c) => actors("members", &c.members),
            NegotiationCommand::RecordSession(c) => {
                let mut refs = actors("participants", &c.participants);
                refs.extend(
                    c.venue
                        .as_ref()
                        .and_then(|v| v.site)
                        .map(|id| Reference::new("venue.site", "site", id)),
                );
                refs
            }
            _ => Vec::new(),
        }
    }

    fn decide(&self, command: &NegotiationCommand) -> Result<Vec<NegotiationEvent>, DomainError> {
        match command {
            NegotiationCommand::OpenNegotiation(c) => self.open(c),
            NegotiationCommand::RecordSession(c) => self.record_session(c),
            NegotiationCommand::FormWorkingGroup(c) => self.form_working_group(c),
            NegotiationCommand::StatePosition(c) => self.state_position(c),
            NegotiationCommand::CommitTimeline(c) => self.commit_timeline(c),
            NegotiationCommand::SetMilestoneStatus(c) => self.set_milestone_status(c),
            NegotiationCommand::RecordAgreement(c) => self.record_agreement(c),
            NegotiationCommand::SetNegotiationStatus(c) => self.set_status(c),
        }
    }

    fn apply(&mut self, event: &NegotiationEvent) {
        match event.clone() {
            NegotiationEvent::NegotiationOpened {
                title,
                topic,
                parties,
                mediators,
                opened_on,
            } => {
                self.details = Some(NegotiationDetails {
                    title,
                    topic,
                    parties,
                    mediators,
                    opened_on,
                    status: NegotiationStatus::Active,
                    status_reason: None,
                });
            }
            NegotiationEvent::SessionRecorded {
                session_id,
                held,
                venue,
                level,
                working_group,
                participants,
                summary,
                outcome,
                sources,
            } => self.sessions.push(Session {
                session_id,
                held,
                venue,
                level,
                working_group,
                participants,
                summary,
                outcome,
                sources,
            }),
            NegotiationEvent::WorkingGroupFormed {
                group_id,
                name,
                mandate,
                members,
                formed_on,
            } => self.working_groups.push(WorkingGroup {
                group_id,
                name,
                mandate,
                members,
                formed_on,
            }),
            NegotiationEvent::PositionStated {
                party,
                position,
                stated_on,
                source,
            } => self.positions.push(Position {
                party,
                position,
                stated_on,
                source,
            }),
            NegotiationEvent::TimelineCommitted {
                milestone_id,
                description,
                due,
                committed_on,
                source,
            } => self.milestones.push(Milestone {
                milestone_id,
                description,
                committed_due: due.clone(),
                due,
                committed_on,
                source,
                status: MilestoneStatus::Pending,
                status_reason: None,
            }),
            NegotiationEvent::MilestoneStatusChanged {
                milestone_id,
                status,
                reason,
                new_due,
                ..
            } => self.apply_milestone_status(milestone_id, status, &reason, new_due.as_ref()),
            NegotiationEvent::AgreementRecorded {
                agreement_id,
                name,
                status,
                agreement_type,
                stage,
                signed_on,
                provisions,
                sources,
            } => self.agreements.push(Agreement {
                agreement_id,
                name,
                status,
                agreement_type,
                stage,
                signed_on,
                provisions,
                sources,
            }),
            NegotiationEvent::NegotiationStatusChanged { status, reason, .. } => {
                if let Some(details) = &mut self.details {
                    details.status = status;
                    details.status_reason = Some(reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::model::aggregate::encode;
    use crate::model::testing::{given, given_no_history};
    use crate::model::values::{CountryCode, DatePrecision, GeoPrecision};

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day(s: &str) -> EventTime {
        EventTime::day(date(s))
    }

    fn span(start: &str, end: &str, precision: DatePrecision) -> EventTime {
        EventTime::span(date(start), date(end), precision)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    const IRAQ: u128 = 0x1_0001;
    const USA: u128 = 0x1_0002;
    const SESSION: u128 = 0x2_0001;
    const ISIS_GROUP: u128 = 0x3_0001;
    const OPERATIONS_GROUP: u128 = 0x3_0002;
    const CAPABILITIES_GROUP: u128 = 0x3_0003;
    const MISSION_END: u128 = 0x4_0001;
    const AGREEMENT: u128 = 0x5_0001;

    fn open_command() -> OpenNegotiation {
        OpenNegotiation {
            title: "Iraq-U.S. Higher Military Commission talks".into(),
            topic: "The future of the Global Coalition mission against ISIS in Iraq".into(),
            parties: vec![
                Participant::actor("Iraq", id(IRAQ)),
                Participant::actor("United States", id(USA)),
            ],
            mediators: vec![],
            opened_on: day("2024-01-25"),
        }
    }

    fn opened() -> NegotiationEvent {
        NegotiationEvent::NegotiationOpened {
            title: "Iraq-U.S. Higher Military Commission talks".into(),
            topic: "The future of the Global Coalition mission against ISIS in Iraq".into(),
            parties: vec![
                Participant::actor("Iraq", id(IRAQ)),
                Participant::actor("United States", id(USA)),
            ],
            mediators: vec![],
            opened_on: day("2024-01-25"),
        }
    }

    fn baghdad() -> Place {
        let mut place = Place::country(CountryCode::new("IRQ").unwrap());
        place.admin1 = Some("Baghdad".into());
        place.location = Some("Baghdad".into());
        place.precision = GeoPrecision::Admin1;
        place
    }

    fn session_command() -> RecordSession {
        RecordSession {
            session_id: id(SESSION),
            held: day("2024-01-27"),
            venue: Some(baghdad()),
            level: SessionLevel::Military,
            working_group: None,
            participants: vec![Participant::named("Mohammed Shia al-Sudani")],
            summary: Some(
                "First session of the Higher Military Commission, hosted by Prime Minister \
                 Mohammed Shia al-Sudani"
                    .into(),
            ),
            outcome: Some("Three working groups formed".into()),
            sources: vec![Source::named("Office of the Prime Minister of Iraq")],
        }
    }

    fn session_recorded() -> NegotiationEvent {
        let c = session_command();
        NegotiationEvent::SessionRecorded {
            session_id: c.session_id,
            held: c.held,
            venue: c.venue,
            level: c.level,
            working_group: c.working_group,
            participants: c.participants,
            summary: c.summary,
            outcome: c.outcome,
            sources: c.sources,
        }
    }

    fn group_command(group: u128, name: &str) -> FormWorkingGroup {
        FormWorkingGroup {
            group_id: id(group),
            name: name.into(),
            mandate: format!("Assess {}", name.to_lowercase()),
            members: vec![],
            formed_on: Some(day("2024-01-27")),
        }
    }

    fn group_formed(group: u128, name: &str) -> NegotiationEvent {
        NegotiationEvent::WorkingGroupFormed {
            group_id: id(group),
            name: name.into(),
            mandate: format!("Assess {}", name.to_lowercase()),
            members: vec![],
            formed_on: Some(day("2024-01-27")),
        }
    }

    fn groups_formed() -> Vec<NegotiationEvent> {
        vec![
            group_formed(ISIS_GROUP, "The threat from ISIS"),
            group_formed(OPERATIONS_GROUP, "Operational requirements and environment"),
            group_formed(
                CAPABILITIES_GROUP,
                "Strengthening the capabilities of the Iraqi security forces",
            ),
        ]
    }

    fn position_command() -> StatePosition {
        StatePosition {
            party: "Iraq".into(),
            position: "Asks for a timeline for a gradual, deliberate reduction of the \
                       coalition's advisers on Iraqi soil"
                .into(),
            stated_on: day("2024-01-25"),
            source: Source::named("Iraqi Ministry of Foreign Affairs"),
        }
    }

    fn timeline_command() -> CommitTimeline {
        CommitTimeline {
            milestone_id: id(MISSION_END),
            description: "End of the Global Coalition's military mission in federal Iraq".into(),
            due: span("2025-09-01", "2025-09-30", DatePrecision::Month),
            committed_on: day("2024-09-27"),
            source: Source::named("Joint statement of the United States and Iraq"),
        }
    }

    fn timeline_committed() -> NegotiationEvent {
        let c = timeline_command();
        NegotiationEvent::TimelineCommitted {
            milestone_id: c.milestone_id,
            description: c.description,
            due: c.due,
            committed_on: c.committed_on,
            source: c.source,
        }
    }

    fn agreement_command() -> RecordAgreement {
        RecordAgreement {
            agreement_id: id(AGREEMENT),
            name: "Joint statement on the end of the Global Coalition's military mission".into(),
            status: AgreementStatus::Signed,
            agreement_type: AgreementType::Interstate,
            stage: AgreementStage::FrameworkSubstantivePartial,
            signed_on: day("2024-09-27"),
            provisions: vec![
                "The coalition's military mission in federal Iraq ends by September 2025".into(),
                "The coalition operates from the Kurdistan Region until September 2026".into(),
            ],
            sources: vec![Source::named("U.S. Department of State")],
        }
    }

    fn agreement_recorded() -> NegotiationEvent {
        let c = agreement_command();
        NegotiationEvent::AgreementRecorded {
            agreement_id: c.agreement_id,
            name: c.name,
            status: c.status,
            agreement_type: c.agreement_type,
            stage: c.stage,
            signed_on: c.signed_on,
            provisions: c.provisions,
            sources: c.sources,
        }
    }

    fn status_changed(status: NegotiationStatus, reason: &str) -> NegotiationEvent {
        NegotiationEvent::NegotiationStatusChanged {
            status,
            reason: reason.into(),
            effective_on: None,
        }
    }

    fn set_status(status: NegotiationStatus, reason: &str) -> NegotiationCommand {
        NegotiationCommand::SetNegotiationStatus(SetNegotiationStatus {
            status,
            reason: reason.into(),
            effective_on: None,
        })
    }

    fn milestone_status(status: MilestoneStatus) -> SetMilestoneStatus {
        SetMilestoneStatus {
            milestone_id: id(MISSION_END),
            status,
            reason: "Announced by the Iraqi government".into(),
            effective_on: Some(span("2025-09-01", "2025-09-30", DatePrecision::Month)),
            new_due: None,
        }
    }

    fn suspended() -> NegotiationEvent {
        status_changed(NegotiationStatus::Suspended, "Talks paused after strikes")
    }

    fn concluded() -> NegotiationEvent {
        status_changed(NegotiationStatus::Concluded, "Joint statement issued")
    }

    fn open(command: OpenNegotiation) -> NegotiationCommand {
        command.into()
    }

    fn session(command: RecordSession) -> NegotiationCommand {
        command.into()
    }

    fn form(command: FormWorkingGroup) -> NegotiationCommand {
        command.into()
    }

    fn position(command: StatePosition) -> NegotiationCommand {
        command.into()
    }

    fn timeline(command: CommitTimeline) -> NegotiationCommand {
        command.into()
    }

    fn milestone(command: SetMilestoneStatus) -> NegotiationCommand {
        command.into()
    }

    fn agreement(command: RecordAgreement) -> NegotiationCommand {
        command.into()
    }

    // --- opening ---

    #[test]
    fn opening_a_negotiation_makes_it_active() {
        let state = given_no_history::<Negotiation>()
            .when(open(open_command()))
            .then_events(vec![opened()]);
        let details = state.details().unwrap();
        assert_eq!(details.title, "Iraq-U.S. Higher Military Commission talks");
        assert_eq!(details.parties.len(), 2);
        assert_eq!(state.status(), Some(NegotiationStatus::Active));
        assert_eq!(details.status_reason, None);
    }

    #[test]
    fn a_negotiation_is_opened_once() {
        given::<Negotiation>([opened()])
            .when(open(open_command()))
            .then_error(DomainError::AlreadyExists {
                what: "negotiation",
            });
    }

    #[test]
    fn opening_checks_every_field() {
        let with = |change: fn(&mut OpenNegotiation)| {
            let mut c = open_command();
            change(&mut c);
            given_no_history::<Negotiation>().when(open(c))
        };
        with(|c| c.title = " ".into()).then_invalid("title");
        with(|c| c.topic = String::new()).then_invalid("topic");
        with(|c| c.parties[1].name = "\u{7}".into()).then_invalid("parties[1].name");
        with(|c| c.mediators = vec![Participant::named("")]).then_invalid("mediators[0].name");
        with(|c| c.opened_on = span("2024-01-25", "2024-01-20", DatePrecision::Week))
            .then_invalid("opened_on.end");
        with(|c| c.parties.truncate(1)).then_error(DomainError::invalid(
            "parties",
            "must name at least two parties",
        ));
    }

    #[test]
    fn a_participant_is_named_once_among_parties_and_mediators() {
        let mut c = open_command();
        c.parties.push(Participant::named("  united   STATES "));
        given_no_history::<Negotiation>()
            .when(open(c))
            .then_error(DomainError::invalid(
                "parties[2].name",
                "must be named once (\"United States\" is named already)",
            ));

        let mut c = open_command();
        c.mediators = vec![Participant::named("iraq")];
        given_no_history::<Negotiation>()
            .when(open(c))
            .then_invalid("mediators[0].name");

        let mut c = open_command();
        c.mediators = vec![Participant::actor("Republic of Iraq", id(IRAQ))];
        given_no_history::<Negotiation>()
            .when(open(c))
            .then_error(DomainError::invalid(
                "mediators[0].actor",
                format!("must appear once (actor {} is \"Iraq\" already)", id(IRAQ)),
            ));
    }

    #[test]
    fn commands_on_a_negotiation_not_opened_are_not_found() {
        let not_found = DomainError::NotFound {
            what: "negotiation",
        };
        let commands = [
            session(session_command()),
            form(group_command(ISIS_GROUP, "The threat from ISIS")),
            position(position_command()),
            timeline(timeline_command()),
            milestone(milestone_status(MilestoneStatus::Met)),
            agreement(agreement_command()),
            set_status(NegotiationStatus::Suspended, "Paused"),
        ];
        for command in commands {
            given_no_history::<Negotiation>()
                .when(command)
                .then_error(not_found.clone());
        }
    }

    // --- sessions ---

    #[test]
    fn the_first_session_in_baghdad_is_recorded() {
        let state = given::<Negotiation>([opened()])
            .when(session(session_command()))
            .then_events(vec![session_recorded()]);
        assert_eq!(state.sessions().len(), 1);
        assert_eq!(state.sessions()[0].level, SessionLevel::Military);
        assert_eq!(state.sessions()[0].venue, Some(baghdad()));
    }

    #[test]
    fn a_working_group_session_names_a_group_of_the_negotiation() {
        let mut c = session_command();
        c.session_id = id(SESSION + 1);
        c.level = SessionLevel::WorkingGroup;
        c.working_group = Some(id(ISIS_GROUP));
        c.held = day("2024-02-11");
        let mut history = vec![opened()];
        history.extend(groups_formed());
        let events = given::<Negotiation>(history.clone())
            .when(session(c.clone()))
            .events();
        assert!(matches!(
            &events[..],
            [NegotiationEvent::SessionRecorded { working_group: Some(g), level: SessionLevel::WorkingGroup, .. }]
                if *g == id(ISIS_GROUP)
        ));

        c.working_group = Some(id(0xdead));
        given::<Negotiation>(history)
            .when(session(c))
            .then_error(DomainError::invalid(
                "working_group",
                format!(
                    "must be a working group formed in this negotiation (none has the id {})",
                    id(0xdead)
                ),
            ));
    }

    #[test]
    fn recording_a_session_checks_every_field() {
        let with = |change: fn(&mut RecordSession)| {
            let mut c = session_command();
            change(&mut c);
            given::<Negotiation>([opened()]).when(session(c))
        };
        with(|c| c.held = span("2024-01-27", "2024-01-26", DatePrecision::Days))
            .then_invalid("held.end");
        with(|c| c.venue.as_mut().unwrap().country = CountryCode("XX".into()))
            .then_invalid("venue.country");
        with(|c| c.level = SessionLevel::WorkingGroup).then_error(DomainError::invalid(
            "working_group",
            "is required when the level is working_group",
        ));
        with(|c| c.working_group = Some(id(ISIS_GROUP))).then_error(DomainError::invalid(
            "working_group",
            "is only for sessions of level working_group",
        ));
        with(|c| {
            c.participants
                .push(Participant::named("mohammed shia al-sudani"))
        })
        .then_invalid("participants[1].name");
        with(|c| c.summary = Some("   ".into())).then_invalid("summary");
        with(|c| c.outcome = Some("x".repeat(MAX_TEXT + 1))).then_invalid("outcome");
        with(|c| c.sources[0].url = Some("baghdad.example".into())).then_invalid("sources[0].url");
    }

    #[test]
    fn a_session_cannot_end_before_the_negotiation_opened() {
        let mut c = session_command();
        c.held = day("2024-01-24");
        given::<Negotiation>([opened()])
            .when(session(c))
            .then_error(DomainError::invalid(
                "held",
                "must not end before the negotiation opened (2024-01-24 is before 2024-01-25)",
            ));
    }

    #[test]
    fn a_session_id_is_used_once() {
        given::<Negotiation>([opened(), session_recorded()])
            .when(session(session_command()))
            .then_error(DomainError::AlreadyExists { what: "session" });
    }

    #[test]
    fn sessions_need_active_talks() {
        given::<Negotiation>([opened(), suspended()])
            .when(session(session_command()))
            .then_error(DomainError::state(
                "negotiation is suspended: resume it (set its status to active) before recording a session",
            ));
        given::<Negotiation>([opened(), concluded()])
            .when(session(session_command()))
            .then_error(DomainError::state(
                "negotiation is concluded: reopen it (set its status to active) before recording a session",
            ));
        given::<Negotiation>([
            opened(),
            status_changed(NegotiationStatus::Collapsed, "Walk-out"),
        ])
        .when(session(session_command()))
        .then_invalid_state();
    }

    // --- working groups ---

    #[test]
    fn the_three_working_groups_are_formed() {
        let mut state = given::<Negotiation>([opened()])
            .when(form(group_command(ISIS_GROUP, "The threat from ISIS")))
            .then_events(vec![group_formed(ISIS_GROUP, "The threat from ISIS")]);
        for (group, name) in [
            (OPERATIONS_GROUP, "Operational requirements and environment"),
            (
                CAPABILITIES_GROUP,
                "Strengthening the capabilities of the Iraqi security forces",
            ),
        ] {
            let events = state.decide(&form(group_command(group, name))).unwrap();
            assert_eq!(events, vec![group_formed(group, name)]);
            state.apply(&events[0]);
        }
        let names: Vec<&str> = state
            .working_groups()
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "The threat from ISIS",
                "Operational requirements and environment",
                "Strengthening the capabilities of the Iraqi security forces"
            ]
        );
    }

    #[test]
    fn working_groups_have_their_own_id_and_name() {
        let history = [opened(), group_formed(ISIS_GROUP, "The threat from ISIS")];
        given::<Negotiation>(history.clone())
            .when(form(group_command(ISIS_GROUP, "Another group")))
            .then_error(DomainError::AlreadyExists {
                what: "working group",
            });
        given::<Negotiation>(history)
            .when(form(group_command(OPERATIONS_GROUP, "the threat from  ISIS")))
            .then_error(DomainError::invalid(
                "name",
                "must differ from the names of the other working groups (\"The threat from ISIS\" exists already)",
            ));
    }

    #[test]
    fn forming_a_working_group_checks_every_field_and_the_status() {
        let with = |change: fn(&mut FormWorkingGroup)| {
            let mut c = group_command(ISIS_GROUP, "The threat from ISIS");
            change(&mut c);
            given::<Negotiation>([opened()]).when(form(c))
        };
        with(|c| c.name = String::new()).then_invalid("name");
        with(|c| c.mandate = " ".into()).then_invalid("mandate");
        with(|c| {
            c.members = vec![
                Participant::named("Iraqi Joint Operations Command"),
                Participant::named("iraqi joint operations command"),
            ]
        })
        .then_invalid("members[1].name");
        with(|c| {
            c.formed_on = Some(span("2024-01-27", "2024-01-29", DatePrecision::Day));
        })
        .then_invalid("formed_on.precision");
        given::<Negotiation>([opened(), suspended()])
            .when(form(group_command(ISIS_GROUP, "The threat from ISIS")))
            .then_invalid_state();
    }

    // --- positions ---

    #[test]
    fn iraqs_position_is_stated_by_a_party_spelled_as_registered() {
        let mut c = position_command();
        c.party = "IRAQ".into();
        let state = given::<Negotiation>([opened()])
            .when(position(c))
            .then_events(vec![NegotiationEvent::PositionStated {
                party: Participant::actor("Iraq", id(IRAQ)),
                position: position_command().position,
                stated_on: day("2024-01-25"),
                source: Source::named("Iraqi Ministry of Foreign Affairs"),
            }]);
        assert_eq!(state.positions()[0].party.name, "Iraq");
    }

    #[test]
    fn a_position_is_stated_by_a_party_or_a_mediator() {
        let mut c = position_command();
        c.party = "Iran".into();
        given::<Negotiation>([opened()])
            .when(position(c))
            .then_error(DomainError::invalid(
                "party",
                "must be one of the negotiation's parties or mediators (Iraq, United States), not \"Iran\"",
            ));

        let mut with_mediator = opened();
        if let NegotiationEvent::NegotiationOpened { mediators, .. } = &mut with_mediator {
            mediators.push(Participant::named("Global Coalition"));
        }
        let mut c = position_command();
        c.party = "global coalition".into();
        let events = given::<Negotiation>([with_mediator])
            .when(position(c))
            .events();
        assert!(matches!(
            &events[..],
            [NegotiationEvent::PositionStated { party, .. }] if *party == Participant::named("Global Coalition")
        ));
    }

    #[test]
    fn stating_a_position_checks_every_field() {
        let with = |change: fn(&mut StatePosition)| {
            let mut c = position_command();
            change(&mut c);
            given::<Negotiation>([opened()]).when(position(c))
        };
        with(|c| c.party = " ".into()).then_invalid("party");
        with(|c| c.position = String::new()).then_invalid("position");
        with(|c| c.stated_on = span("2024-01-25", "2024-01-01", DatePrecision::Month))
            .then_invalid("stated_on.end");
        with(|c| c.source.name = String::new()).then_invalid("source.name");
    }

    #[test]
    fn positions_are_stated_while_suspended_but_not_after_the_end() {
        let events = given::<Negotiation>([opened(), suspended()])
            .when(position(position_command()))
            .events();
        assert_eq!(events.len(), 1);
        given::<Negotiation>([opened(), concluded()])
            .when(position(position_command()))
            .then_error(DomainError::state(
                "negotiation is concluded: reopen it (set its status to active) before stating a position",
            ));
    }

    // --- timelines and milestones ---

    #[test]
    fn the_end_of_the_coalition_mission_is_committed_to() {
        let state = given::<Negotiation>([opened()])
            .when(timeline(timeline_command()))
            .then_events(vec![timeline_committed()]);
        let m = state.milestone(id(MISSION_END)).unwrap();
        assert_eq!(m.status, MilestoneStatus::Pending);
        assert_eq!(m.due, m.committed_due);
    }

    #[test]
    fn committing_to_a_timeline_checks_every_field_and_the_state() {
        let with = |change: fn(&mut CommitTimeline)| {
            let mut c = timeline_command();
            change(&mut c);
            given::<Negotiation>([opened()]).when(timeline(c))
        };
        with(|c| c.description = " ".into()).then_invalid("description");
        with(|c| c.due = span("2025-09-30", "2025-09-01", DatePrecision::Month))
            .then_invalid("due.end");
        with(|c| c.committed_on = span("2024-09-27", "2024-09-28", DatePrecision::Day))
            .then_invalid("committed_on.precision");
        with(|c| c.due = day("2024-09-01")).then_error(DomainError::invalid(
            "due",
            "must not end before the commitment was made (2024-09-01 is before 2024-09-27)",
        ));
        with(|c| c.source.quote = Some(String::new())).then_invalid("source.quote");
        given::<Negotiation>([opened(), timeline_committed()])
            .when(timeline(timeline_command()))
            .then_error(DomainError::AlreadyExists { what: "milestone" });
        given::<Negotiation>([opened(), suspended()])
            .when(timeline(timeline_command()))
            .then_invalid_state();
    }

    #[test]
    fn a_milestone_is_met_after_the_talks_concluded() {
        let state = given::<Negotiation>([opened(), timeline_committed(), concluded()])
            .when(milestone(milestone_status(MilestoneStatus::Met)))
            .then_events(vec![NegotiationEvent::MilestoneStatusChanged {
                milestone_id: id(MISSION_END),
                status: MilestoneStatus::Met,
                reason: "Announced by the Iraqi government".into(),
                effective_on: Some(span("2025-09-01", "2025-09-30", DatePrecision::Month)),
                new_due: None,
            }]);
        let m = state.milestone(id(MISSION_END)).unwrap();
        assert_eq!(m.status, MilestoneStatus::Met);
        assert_eq!(
            m.status_reason.as_deref(),
            Some("Announced by the Iraqi government")
        );
    }

    #[test]
    fn a_postponed_milestone_moves_its_due_date_later() {
        let mut c = milestone_status(MilestoneStatus::Postponed);
        c.new_due = Some(span("2025-12-01", "2025-12-31", DatePrecision::Month));
        let history = [opened(), timeline_committed()];
        let state = given::<Negotiation>(history.clone())
            .when(milestone(c.clone()))
            .then_events(vec![NegotiationEvent::MilestoneStatusChanged {
                milestone_id: id(MISSION_END),
                status: MilestoneStatus::Postponed,
                reason: c.reason.clone(),
                effective_on: c.effective_on.clone(),
                new_due: c.new_due.clone(),
            }]);
        let m = state.milestone(id(MISSION_END)).unwrap();
        assert_eq!(m.due.end, date("2025-12-31"));
        assert_eq!(m.committed_due.end, date("2025-09-30"));

        // Postponed again, to a later date still: a change.
        let mut again = c.clone();
        again.new_due = Some(day("2026-03-31"));
        let postponed = state.decide(&milestone(c.clone())).unwrap_err();
        assert!(matches!(postponed, DomainError::Invalid { field, .. } if field == "new_due"));
        assert_eq!(state.decide(&milestone(again)).unwrap().len(), 1);

        let mut earlier = c;
        earlier.new_due = Some(day("2025-06-30"));
        given::<Negotiation>(history)
            .when(milestone(earlier))
            .then_error(DomainError::invalid(
            "new_due",
            "must end after the current due date (it ends 2025-06-30, the current one 2025-09-30)",
        ));
    }

    #[test]
    fn setting_a_milestone_status_checks_fields_and_state() {
        let with = |change: fn(&mut SetMilestoneStatus)| {
            let mut c = milestone_status(MilestoneStatus::Met);
            change(&mut c);
            given::<Negotiation>([opened(), timeline_committed()]).when(milestone(c))
        };
        with(|c| c.reason = " ".into()).then_invalid("reason");
        with(|c| c.effective_on = Some(span("2025-09-30", "2025-09-01", DatePrecision::Month)))
            .then_invalid("effective_on.end");
        with(|c| c.new_due = Some(day("2025-12-31"))).then_error(DomainError::invalid(
            "new_due",
            "is only for a postponed milestone",
        ));
        with(|c| {
            c.status = MilestoneStatus::Postponed;
            c.new_due = Some(span("2025-12-31", "2025-12-01", DatePrecision::Month));
        })
        .then_invalid("new_due.end");
        with(|c| c.milestone_id = id(0xdead))
            .then_error(DomainError::NotFound { what: "milestone" });
        with(|c| c.status = MilestoneStatus::Pending).then_error(DomainError::state(
            "milestone is already pending: nothing to change",
        ));
    }

    // --- agreements ---

    #[test]
    fn an_agreement_is_recorded_with_its_pax_type_and_stage() {
        let state = given::<Negotiation>([opened()])
            .when(agreement(agreement_command()))
            .then_events(vec![agreement_recorded()]);
        assert_eq!(state.agreements().len(), 1);
        assert_eq!(state.agreements()[0].provisions.len(), 2);
    }

    #[test]
    fn recording_an_agreement_checks_every_field_and_the_state() {
        let with = |change: fn(&mut RecordAgreement)| {
            let mut c = agreement_command();
            change(&mut c);
            given::<Negotiation>([opened()]).when(agreement(c))
        };
        with(|c| c.name = "\t".into()).then_invalid("name");
        with(|c| c.signed_on = span("2024-09-27", "2024-09-26", DatePrecision::Days))
            .then_invalid("signed_on.end");
        with(|c| c.provisions[1] = " ".into())
            .then_error(DomainError::invalid("provisions[1]", "must not be blank"));
        with(|c| c.sources.push(Source::named(""))).then_invalid("sources[1].name");
        given::<Negotiation>([opened(), agreement_recorded()])
            .when(agreement(agreement_command()))
            .then_error(DomainError::AlreadyExists { what: "agreement" });
        given::<Negotiation>([opened(), suspended()])
            .when(agreement(agreement_command()))
            .then_error(DomainError::state(
                "negotiation is suspended: resume it (set its status to active) before recording an agreement",
            ));
    }

    // --- status ---

    #[test]
    fn talks_are_suspended_resumed_concluded_and_reopened() {
        let state = given::<Negotiation>([opened()])
            .when(set_status(
                NegotiationStatus::Suspended,
                "Talks paused after strikes",
            ))
            .then_events(vec![suspended()]);
        assert_eq!(state.status(), Some(NegotiationStatus::Suspended));
        assert_eq!(
            state.details().unwrap().status_reason.as_deref(),
            Some("Talks paused after strikes")
        );

        let mut c = SetNegotiationStatus {
            status: NegotiationStatus::Concluded,
            reason: "Joint statement issued".into(),
            effective_on: Some(day("2024-09-27")),
        };
        let state = given::<Negotiation>([opened(), suspended()])
            .when(NegotiationCommand::SetNegotiationStatus(c.clone()))
            .then_events(vec![NegotiationEvent::NegotiationStatusChanged {
                status: NegotiationStatus::Concluded,
                reason: "Joint statement issued".into(),
                effective_on: Some(day("2024-09-27")),
            }]);
        assert_eq!(state.status(), Some(NegotiationStatus::Concluded));

        c.status = NegotiationStatus::Active;
        c.reason = "Talks resume on the Kurdistan Region".into();
        let events = given::<Negotiation>([opened(), concluded()])
            .when(NegotiationCommand::SetNegotiationStatus(c))
            .events();
        assert!(matches!(
            &events[..],
            [NegotiationEvent::NegotiationStatusChanged {
                status: NegotiationStatus::Active,
                ..
            }]
        ));
    }

    #[test]
    fn a_status_change_must_change_something_and_reopen_ended_talks_first() {
        given::<Negotiation>([opened()])
            .when(set_status(NegotiationStatus::Active, "Still talking"))
            .then_error(DomainError::state(
                "negotiation is already active: nothing to change",
            ));
        given::<Negotiation>([opened(), concluded()])
            .when(set_status(NegotiationStatus::Collapsed, "Walk-out"))
            .then_error(DomainError::state(
                "negotiation is concluded: reopen it (set its status to active) before setting it collapsed",
            ));
        given::<Negotiation>([
            opened(),
            status_changed(NegotiationStatus::Collapsed, "Walk-out"),
        ])
        .when(set_status(NegotiationStatus::Suspended, "Paused"))
        .then_invalid_state();
    }

    #[test]
    fn setting_the_status_checks_its_fields() {
        given::<Negotiation>([opened()])
            .when(set_status(NegotiationStatus::Suspended, ""))
            .then_invalid("reason");
        given::<Negotiation>([opened()])
            .when(NegotiationCommand::SetNegotiationStatus(
                SetNegotiationStatus {
                    status: NegotiationStatus::Suspended,
                    reason: "Paused".into(),
                    effective_on: Some(span("2024-02-02", "2024-02-01", DatePrecision::Days)),
                },
            ))
            .then_invalid("effective_on.end");
    }

    // --- fold, storage, metadata ---

    #[test]
    fn the_state_is_the_fold_of_the_whole_history() {
        let mut history = vec![opened(), session_recorded()];
        history.extend(groups_formed());
        history.push(timeline_committed());
        history.push(agreement_recorded());
        history.push(concluded());
        history.push(NegotiationEvent::MilestoneStatusChanged {
            milestone_id: id(MISSION_END),
            status: MilestoneStatus::Missed,
            reason: "Deadline passed with advisers still in Baghdad".into(),
            effective_on: None,
            new_due: None,
        });
        let given = given::<Negotiation>(history);
        let state = given.state();
        assert_eq!(state.status(), Some(NegotiationStatus::Concluded));
        assert_eq!(state.sessions().len(), 1);
        assert_eq!(state.working_groups().len(), 3);
        assert_eq!(state.milestones().len(), 1);
        assert_eq!(state.milestones()[0].status, MilestoneStatus::Missed);
        assert_eq!(state.agreements()[0].agreement_id, id(AGREEMENT));
        assert!(state.positions().is_empty());
        assert!(Negotiation::default().details().is_none());
    }

    #[test]
    fn events_are_stored_in_this_shape() {
        let encoded = encode(&session_recorded()).unwrap();
        assert_eq!(encoded.event_type, "SessionRecorded");
        assert_eq!(encoded.schema_version, 1);
        assert_eq!(
            encoded.payload,
            json!({
                "session_id": "00000000-0000-0000-0000-000000020001",
                "held": {"start": "2024-01-27", "end": "2024-01-27", "precision": "day"},
                "venue": {
                    "country": "IRQ",
                    "admin1": "Baghdad",
                    "location": "Baghdad",
                    "precision": "admin1"
                },
                "level": "military",
                "participants": [{"name": "Mohammed Shia al-Sudani"}],
                "summary": "First session of the Higher Military Commission, hosted by Prime Minister Mohammed Shia al-Sudani",
                "outcome": "Three working groups formed",
                "sources": [{"name": "Office of the Prime Minister of Iraq"}]
            })
        );

        let encoded = encode(&agreement_recorded()).unwrap();
        assert_eq!(encoded.event_type, "AgreementRecorded");
        assert_eq!(encoded.payload["agreement_type"], json!("interstate"));
        assert_eq!(
            encoded.payload["stage"],
            json!("framework_substantive_partial")
        );
        assert_eq!(encoded.payload["status"], json!("signed"));

        let encoded = encode(&opened()).unwrap();
        assert_eq!(
            encoded.payload["parties"][0],
            json!({"name": "Iraq", "actor": "00000000-0000-0000-0000-000000010001"})
        );
        assert!(encoded.payload.get("mediators").is_none());
    }

    #[test]
    fn events_say_when_they_happened_and_why() {
        assert_eq!(opened().valid_time(), Some(&day("2024-01-25")));
        assert_eq!(session_recorded().valid_time(), Some(&day("2024-01-27")));
        assert_eq!(timeline_committed().valid_time(), Some(&day("2024-09-27")));
        assert_eq!(agreement_recorded().valid_time(), Some(&day("2024-09-27")));
        assert_eq!(suspended().valid_time(), None);
        assert_eq!(suspended().reason(), Some("Talks paused after strikes"));
        assert_eq!(session_recorded().reason(), None);
    }

    #[test]
    fn pax_agreement_type_codes_are_read() {
        assert_eq!(
            AgreementType::from_pax("InterIntra"),
            Some(AgreementType::InterstateIntrastate)
        );
        assert_eq!(
            AgreementType::from_pax("IntraLocal"),
            Some(AgreementType::IntrastateLocal)
        );
        assert_eq!(
            AgreementType::from_pax("Intra"),
            Some(AgreementType::Intrastate)
        );
        assert_eq!(
            AgreementType::from_pax("Inter"),
            Some(AgreementType::Interstate)
        );
        assert_eq!(AgreementType::from_pax("inter"), None);
    }
}
