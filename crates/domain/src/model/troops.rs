//! The TroopDeployment aggregate: one country's troops in another for one mission (U.S. / Iraq /
//! Operation Inherent Resolve), as sources report their numbers and as changes are announced and
//! carried out.
//!
//! Sources disagree about troop levels, and not by mistake: the U.S. Defense Manpower Data
//! Center's quarterly reports showed 0 U.S. troops in Iraq in 2023-25 because troops on
//! contingency deployments are not counted, while official statements said "about 2,500". So
//! every estimate is kept as reported, with its date, qualifier, scope and type of source; a
//! later estimate never overwrites an earlier one, and one found wrong is retracted (kept, with
//! the reason, but no longer counted). [`TroopDeployment::current_level`] chooses one estimate
//! by a documented rule ([`current_estimate`]) and [`TroopDeployment::competing_estimates`]
//! keeps the others that describe the same time visible.
//!
//! The deployment is established by an explicit first command ([`EstablishDeployment`]) rather
//! than by its first report: its identity (deploying country, host country, mission) is then
//! stated once and checked once, reports do not repeat it, and a report sent to a stream that
//! was never established is refused instead of silently starting a deployment with no identity.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::aggregate::{Aggregate, DomainEvent, Reference};
use super::error::DomainError;
use super::values::{
    check_optional_text, check_reason, check_text, named, CountryCode, EventTime, Source,
    UncertainCount, MAX_NAME, MAX_TEXT,
};

/// How the source qualified its figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountQualifier {
    /// "About 2,500".
    About,
    /// "At least 900".
    AtLeast,
    /// "Up to 3,000".
    UpTo,
    /// One figure given as exact (a count must then be one figure).
    Exactly,
}

/// Which personnel a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountScope {
    /// Active-duty military only (as the DMDC quarterly reports).
    ActiveDutyOnly,
    /// All military personnel, whatever their status or deployment.
    AllPersonnel,
    /// Military personnel and contractors.
    IncludingContractors,
    /// The source does not say.
    Unknown,
}

/// What kind of source a figure comes from; it decides between figures of the same date (see
/// [`SourceType::priority`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    /// A periodic official publication (the DMDC quarterly personnel reports).
    OfficialReport,
    /// A statement by an official (a ministry, a spokesperson, a commander).
    OfficialStatement,
    /// Media reporting.
    Media,
    /// A research institute's estimate (IISS Military Balance).
    ResearchEstimate,
}

impl SourceType {
    /// How much a figure of this kind is trusted against another of the same date: higher wins.
    ///
    /// Official statement (4) > official report (3) > research estimate (2) > media (1).
    /// Statements come first because the official reports count only part of the force: the
    /// DMDC reports leave out personnel on contingency (temporary) deployments, which is why
    /// they show 0 U.S. troops in Iraq while the government states about 2,500 are there; a
    /// statement is the government's own figure for the force actually deployed. Reports
    /// still beat outside estimates, which are mostly built from official figures and lag
    /// them. Research estimates beat media, which relay unnamed officials and round figures.
    pub fn priority(self) -> u8 {
        match self {
            Self::OfficialStatement => 4,
            Self::OfficialReport => 3,
            Self::ResearchEstimate => 2,
            Self::Media => 1,
        }
    }
}

/// Which way an announced change moves troops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Fewer troops: a drawdown or a full withdrawal.
    Withdrawal,
    /// More troops: a deployment or reinforcement.
    Arrival,
}

/// Where an announced change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TroopChangeStatus {
    Announced,
    Completed,
    Cancelled,
}

/// A timeline milestone of a Negotiation aggregate that a troop change carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneRef {
    /// The Negotiation aggregate's id.
    pub negotiation: Uuid,
    /// The milestone's id within it.
    pub milestone: Uuid,
}

/// A command to the TroopDeployment aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum TroopCommand {
    EstablishDeployment(EstablishDeployment),
    ReportTroopLevel(ReportTroopLevel),
    RetractEstimate(RetractEstimate),
    AnnounceTroopChange(AnnounceTroopChange),
    CompleteTroopChange(CompleteTroopChange),
    CancelTroopChange(CancelTroopChange),
}

macro_rules! command_from {
    ($($command:ident),* $(,)?) => {
        $(impl From<$command> for TroopCommand {
            fn from(command: $command) -> Self {
                Self::$command(command)
            }
        })*
    };
}

command_from!(
    EstablishDeployment,
    ReportTroopLevel,
    RetractEstimate,
    AnnounceTroopChange,
    CompleteTroopChange,
    CancelTroopChange,
);

/// Establishes the deployment: who deploys, where, for which mission. Refused on one
/// established already. One stream per (deploying, host, mission): the stream id must be
/// [`deployment_stream_id`] of the three (checked by [`Aggregate::check_identity`]), so that a
/// second stream for the same deployment cannot be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct EstablishDeployment {
    pub deploying: CountryCode,
    /// Must differ from the deploying country.
    pub host: CountryCode,
    /// "Operation Inherent Resolve".
    pub mission: String,
}

/// Records one source's troop level as of a date. Never replaces another estimate; the id must
/// be new.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTroopLevel {
    pub estimate_id: Uuid,
    /// The date the figure describes (not the date it was published).
    pub as_of: EventTime,
    pub count: UncertainCount,
    /// `exactly` needs one figure: `count.low = count.best = count.high`.
    pub qualifier: CountQualifier,
    pub scope: CountScope,
    pub source: Source,
    pub source_type: SourceType,
}

/// Marks an estimate as wrong, with a reason. It stays in the history but no longer counts.
/// Retracting a retracted estimate is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct RetractEstimate {
    pub estimate_id: Uuid,
    pub reason: String,
}

/// Records a planned change of the troop level (a phased drawdown). The id must be new.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnounceTroopChange {
    pub change_id: Uuid,
    pub kind: ChangeKind,
    /// The level the change is to reach.
    pub target: UncertainCount,
    /// When the change is to be done; it must not end before the announcement.
    pub by: EventTime,
    pub announced_on: EventTime,
    /// The negotiation milestone it carries out, where there is one. That it exists is for the
    /// caller to check: this aggregate does not see the negotiation.
    pub milestone: Option<MilestoneRef>,
    pub source: Source,
    pub source_type: SourceType,
}

/// Records that an announced change was carried out. Only an announced change (not completed,
/// not cancelled); the completion must not end before the announcement. The level reached is
/// reported separately ([`ReportTroopLevel`]), as sources report it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompleteTroopChange {
    pub change_id: Uuid,
    pub completed: EventTime,
    pub source: Source,
    pub source_type: SourceType,
    pub notes: Option<String>,
}

/// Records that an announced change was called off, with a reason. Only an announced change
/// (not completed, not cancelled).
#[derive(Debug, Clone, PartialEq)]
pub struct CancelTroopChange {
    pub change_id: Uuid,
    pub reason: String,
    pub cancelled_on: Option<EventTime>,
}

/// What happened to a troop deployment. The variant names are the stored event types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum TroopEvent {
    DeploymentEstablished {
        deploying: CountryCode,
        host: CountryCode,
        mission: String,
    },
    TroopLevelReported {
        estimate_id: Uuid,
        as_of: EventTime,
        count: UncertainCount,
        qualifier: CountQualifier,
        scope: CountScope,
        source: Source,
        source_type: SourceType,
    },
    EstimateRetracted {
        estimate_id: Uuid,
        reason: String,
    },
    TroopChangeAnnounced {
        change_id: Uuid,
        kind: ChangeKind,
        target: UncertainCount,
        by: EventTime,
        announced_on: EventTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        milestone: Option<MilestoneRef>,
        source: Source,
        source_type: SourceType,
    },
    TroopChangeCompleted {
        change_id: Uuid,
        completed: EventTime,
        source: Source,
        source_type: SourceType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
    },
    TroopChangeCancelled {
        change_id: Uuid,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cancelled_on: Option<EventTime>,
    },
}

impl DomainEvent for TroopEvent {
    fn reason(&self) -> Option<&str> {
        match self {
            Self::EstimateRetracted { reason, .. } | Self::TroopChangeCancelled { reason, .. } => {
                Some(reason)
            }
            _ => None,
        }
    }

    fn valid_time(&self) -> Option<&EventTime> {
        match self {
            Self::TroopLevelReported { as_of, .. } => Some(as_of),
            Self::TroopChangeAnnounced { announced_on, .. } => Some(announced_on),
            Self::TroopChangeCompleted { completed, .. } => Some(completed),
            Self::TroopChangeCancelled { cancelled_on, .. } => cancelled_on.as_ref(),
            Self::DeploymentEstablished { .. } | Self::EstimateRetracted { .. } => None,
        }
    }
}

/// Who deploys where, for which mission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentIdentity {
    pub deploying: CountryCode,
    pub host: CountryCode,
    pub mission: String,
}

/// One source's troop level, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TroopEstimate {
    pub estimate_id: Uuid,
    pub as_of: EventTime,
    pub count: UncertainCount,
    pub qualifier: CountQualifier,
    pub scope: CountScope,
    pub source: Source,
    pub source_type: SourceType,
    /// Why it was retracted, if it was.
    pub retraction: Option<String>,
}

impl TroopEstimate {
    /// Whether it still counts (not retracted).
    pub fn is_live(&self) -> bool {
        self.retraction.is_none()
    }
}

/// An announced change and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TroopChange {
    pub change_id: Uuid,
    pub kind: ChangeKind,
    pub target: UncertainCount,
    pub by: EventTime,
    pub announced_on: EventTime,
    pub milestone: Option<MilestoneRef>,
    pub source: Source,
    pub source_type: SourceType,
    pub status: TroopChangeStatus,
    /// When it was completed, if it was.
    pub completed: Option<EventTime>,
    /// Why it was cancelled, if it was.
    pub cancellation: Option<String>,
}

/// The estimate that gives the current level among `estimates` (in the order they were
/// recorded), retracted ones left out. The rule, in order:
///
/// 1. the latest `as_of.end`: the estimate that can describe the latest day (a month-precise
///    "January 2024" ends on the 31st);
/// 2. then the higher [`SourceType::priority`] (official statement > official report >
///    research estimate > media);
/// 3. then the one recorded later.
///
/// Scope and qualifier do not take part: they are shown with the figure.
pub fn current_estimate<'a>(
    estimates: impl IntoIterator<Item = &'a TroopEstimate>,
) -> Option<&'a TroopEstimate> {
    estimates
        .into_iter()
        .enumerate()
        .filter(|(_, e)| e.is_live())
        .max_by_key(|(recorded, e)| rank(e, *recorded))
        .map(|(_, e)| e)
}

/// The ordering key of [`current_estimate`]'s rule.
fn rank(estimate: &TroopEstimate, recorded: usize) -> (NaiveDate, u8, usize) {
    (
        estimate.as_of.end,
        estimate.source_type.priority(),
        recorded,
    )
}

/// A troop deployment: the fold of its events. Empty until `DeploymentEstablished`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TroopDeployment {
    identity: Option<DeploymentIdentity>,
    estimates: Vec<TroopEstimate>,
    changes: Vec<TroopChange>,
}

impl TroopDeployment {
    /// Deploying country, host country and mission; none until established.
    pub fn identity(&self) -> Option<&DeploymentIdentity> {
        self.identity.as_ref()
    }

    /// Every estimate ever reported, retracted ones included, in the order recorded.
    pub fn estimates(&self) -> &[TroopEstimate] {
        &self.estimates
    }

    /// The estimate `id`, if reported.
    pub fn estimate(&self, id: Uuid) -> Option<&TroopEstimate> {
        self.estimates.iter().find(|e| e.estimate_id == id)
    }

    /// The estimate chosen as the current level by [`current_estimate`]'s rule; none when no
    /// estimate counts.
    pub fn current_level(&self) -> Option<&TroopEstimate> {
        current_estimate(&self.estimates)
    }

    /// The other estimates that still count and describe the same time as the current one
    /// (their `as_of` reaches into the current one's), best ranked first: the figures the
    /// current level was preferred to, which a reader must see beside it.
    pub fn competing_estimates(&self) -> Vec<&TroopEstimate> {
        let Some(current) = self.current_level() else {
            return Vec::new();
        };
        let mut competing: Vec<(usize, &TroopEstimate)> = self
            .estimates
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.is_live()
                    && e.estimate_id != current.estimate_id
                    && e.as_of.end >= current.as_of.start
            })
            .collect();
        competing.sort_by_key(|(recorded, e)| std::cmp::Reverse(rank(e, *recorded)));
        competing.into_iter().map(|(_, e)| e).collect()
    }

    /// Every announced change, in the order announced.
    pub fn changes(&self) -> &[TroopChange] {
        &self.changes
    }

    /// The change `id`, if announced.
    pub fn change(&self, id: Uuid) -> Option<&TroopChange> {
        self.changes.iter().find(|c| c.change_id == id)
    }

    fn established(&self) -> Result<&DeploymentIdentity, DomainError> {
        self.identity.as_ref().ok_or(DomainError::NotFound {
            what: "troop deployment",
        })
    }

    /// The change `id` while it is still only announced.
    fn pending_change(&self, id: Uuid, doing: &str) -> Result<&TroopChange, DomainError> {
        let change = self.change(id).ok_or(DomainError::NotFound {
            what: "troop change",
        })?;
        match change.status {
            TroopChangeStatus::Announced => Ok(change),
            TroopChangeStatus::Completed => Err(DomainError::state(format!(
                "troop change is completed already: it cannot be {doing}; announce a new change instead"
            ))),
            TroopChangeStatus::Cancelled => Err(DomainError::state(format!(
                "troop change was cancelled: it cannot be {doing}; announce a new change instead"
            ))),
        }
    }

    fn establish(&self, c: &EstablishDeployment) -> Result<Vec<TroopEvent>, DomainError> {
        c.deploying.validate().map_err(|e| named("deploying", e))?;
        c.host.validate().map_err(|e| named("host", e))?;
        if c.host == c.deploying {
            return Err(DomainError::invalid(
                "host",
                "must differ from the deploying country",
            ));
        }
        check_text("mission", &c.mission, MAX_NAME)?;
        if self.identity.is_some() {
            return Err(DomainError::AlreadyExists {
                what: "troop deployment",
            });
        }
        Ok(vec![TroopEvent::DeploymentEstablished {
            deploying: c.deploying.clone(),
            host: c.host.clone(),
            mission: c.mission.clone(),
        }])
    }

    fn report(&self, c: &ReportTroopLevel) -> Result<Vec<TroopEvent>, DomainError> {
        c.as_of.validate().map_err(|e| e.within("as_of"))?;
        c.count.validate().map_err(|e| e.within("count"))?;
        if c.qualifier == CountQualifier::Exactly && c.count.low != c.count.high {
            return Err(DomainError::invalid(
                "qualifier",
                "cannot be exactly for a range: give one figure (count.low = count.best = count.high) or another qualifier",
            ));
        }
        c.source.validate().map_err(|e| e.within("source"))?;

        self.established()?;
        if self.estimate(c.estimate_id).is_some() {
            return Err(DomainError::AlreadyExists {
                what: "troop estimate",
            });
        }
        Ok(vec![TroopEvent::TroopLevelReported {
            estimate_id: c.estimate_id,
            as_of: c.as_of.clone(),
            count: c.count.clone(),
            qualifier: c.qualifier,
            scope: c.scope,
            source: c.source.clone(),
            source_type: c.source_type,
        }])
    }

    fn retract(&self, c: &RetractEstimate) -> Result<Vec<TroopEvent>, DomainError> {
        check_reason(&c.reason)?;

        self.established()?;
        let estimate = self.estimate(c.estimate_id).ok_or(DomainError::NotFound {
            what: "troop estimate",
        })?;
        if !estimate.is_live() {
            return Err(DomainError::state(
                "troop estimate is retracted already: nothing to change",
            ));
        }
        Ok(vec![TroopEvent::EstimateRetracted {
            estimate_id: c.estimate_id,
            reason: c.reason.clone(),
        }])
    }

    fn announce(&self, c: &AnnounceTroopChange) -> Result<Vec<TroopEvent>, DomainError> {
        c.target.validate().map_err(|e| e.within("target"))?;
        c.by.validate().map_err(|e| e.within("by"))?;
        c.announced_on
            .validate()
            .map_err(|e| e.within("announced_on"))?;
        if c.by.end < c.announced_on.start {
            return Err(DomainError::invalid(
                "by",
                format!(
                    "must not end before the announcement ({} is before {})",
                    c.by.end, c.announced_on.start
                ),
            ));
        }
        c.source.validate().map_err(|e| e.within("source"))?;

        self.established()?;
        if self.change(c.change_id).is_some() {
            return Err(DomainError::AlreadyExists {
                what: "troop change",
            });
        }
        Ok(vec![TroopEvent::TroopChangeAnnounced {
            change_id: c.change_id,
            kind: c.kind,
            target: c.target.clone(),
            by: c.by.clone(),
            announced_on: c.announced_on.clone(),
            milestone: c.milestone.clone(),
            source: c.source.clone(),
            source_type: c.source_type,
        }])
    }

    fn complete(&self, c: &CompleteTroopChange) -> Result<Vec<TroopEvent>, DomainError> {
        c.completed.validate().map_err(|e| e.within("completed"))?;
        c.source.validate().map_err(|e| e.within("source"))?;
        check_optional_text("notes", c.notes.as_deref(), MAX_TEXT)?;

        self.established()?;
        let change = self.pending_change(c.change_id, "completed")?;
        if c.completed.end < change.announced_on.start {
            return Err(DomainError::invalid(
                "completed",
                format!(
                    "must not end before the change was announced ({} is before {})",
                    c.completed.end, change.announced_on.start
                ),
            ));
        }
        Ok(vec![TroopEvent::TroopChangeCompleted {
            change_id: c.change_id,
            completed: c.completed.clone(),
            source: c.source.clone(),
            source_type: c.source_type,
            notes: c.notes.clone(),
        }])
    }

    fn cancel(&self, c: &CancelTroopChange) -> Result<Vec<TroopEvent>, DomainError> {
        check_reason(&c.reason)?;
        if let Some(on) = &c.cancelled_on {
            on.validate().map_err(|e| e.within("cancelled_on"))?;
        }

        self.established()?;
        self.pending_change(c.change_id, "cancelled")?;
        Ok(vec![TroopEvent::TroopChangeCancelled {
            change_id: c.change_id,
            reason: c.reason.clone(),
            cancelled_on: c.cancelled_on.clone(),
        }])
    }

    fn change_mut(&mut self, id: Uuid) -> Option<&mut TroopChange> {
        self.changes.iter_mut().find(|c| c.change_id == id)
    }
}

/// The stream id of the deployment of `deploying` in `host` for `mission`, derived from the
/// three (the mission compared without case and surrounding or repeated spaces).
pub fn deployment_stream_id(deploying: &CountryCode, host: &CountryCode, mission: &str) -> Uuid {
    let mission = mission
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let digest = Sha256::digest(
        format!("sitrep troop deployment\0{deploying}\0{host}\0{mission}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl Aggregate for TroopDeployment {
    const STREAM_TYPE: &'static str = "troop_deployment";
    type Command = TroopCommand;
    type Event = TroopEvent;

    fn check_identity(stream_id: Uuid, command: &TroopCommand) -> Result<(), DomainError> {
        let TroopCommand::EstablishDeployment(c) = command else {
            return Ok(());
        };
        let expected = deployment_stream_id(&c.deploying, &c.host, &c.mission);
        if stream_id == expected {
            Ok(())
        } else {
            Err(DomainError::invalid(
                "deployment",
                format!(
                    "one stream per deployment: this one's stream id is {expected}, \
                     derived from the deploying country, the host country and the mission"
                ),
            ))
        }
    }

    fn references(command: &TroopCommand) -> Vec<Reference> {
        match command {
            TroopCommand::AnnounceTroopChange(c) => c
                .milestone
                .iter()
                .map(|m| Reference::new("milestone.negotiation", "negotiation", m.negotiation))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn decide(&self, command: &TroopCommand) -> Result<Vec<TroopEvent>, DomainError> {
        match command {
            TroopCommand::EstablishDeployment(c) => self.establish(c),
            TroopCommand::ReportTroopLevel(c) => self.report(c),
            TroopCommand::RetractEstimate(c) => self.retract(c),
            TroopCommand::AnnounceTroopChange(c) => self.announce(c),
            TroopCommand::CompleteTroopChange(c) => self.complete(c),
            TroopCommand::CancelTroopChange(c) => self.cancel(c),
        }
    }

    fn apply(&mut self, event: &TroopEvent) {
        match event.clone() {
            TroopEvent::DeploymentEstablished {
                deploying,
                host,
                mission,
            } => {
                self.identity = Some(DeploymentIdentity {
                    deploying,
                    host,
                    mission,
                });
            }
            TroopEvent::TroopLevelReported {
                estimate_id,
                as_of,
                count,
                qualifier,
                scope,
                source,
                source_type,
            } => self.estimates.push(TroopEstimate {
                estimate_id,
                as_of,
                count,
                qualifier,
                scope,
                source,
                source_type,
                retraction: None,
            }),
            TroopEvent::EstimateRetracted {
                estimate_id,
                reason,
            } => {
                if let Some(e) = self
                    .estimates
                    .iter_mut()
                    .find(|e| e.estimate_id == estimate_id)
                {
                    e.retraction = Some(reason);
                }
            }
            TroopEvent::TroopChangeAnnounced {
                change_id,
                kind,
                target,
                by,
                announced_on,
                milestone,
                source,
                source_type,
            } => self.changes.push(TroopChange {
                change_id,
                kind,
                target,
                by,
                announced_on,
                milestone,
                source,
                source_type,
                status: TroopChangeStatus::Announced,
                completed: None,
                cancellation: None,
            }),
            TroopEvent::TroopChangeCompleted {
                change_id,
                completed,
                ..
            } => {
                if let Some(change) = self.change_mut(change_id) {
                    change.status = TroopChangeStatus::Completed;
                    change.completed = Some(completed);
                }
            }
            TroopEvent::TroopChangeCancelled {
                change_id, reason, ..
            } => {
                if let Some(change) = self.change_mut(change_id) {
                    change.status = TroopChangeStatus::Cancelled;
                    change.cancellation = Some(reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::aggregate::encode;
    use crate::model::testing::{given, given_no_history};
    use crate::model::values::DatePrecision;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn day(s: &str) -> EventTime {
        EventTime::day(date(s))
    }

    fn month(start: &str, end: &str) -> EventTime {
        EventTime::span(date(start), date(end), DatePrecision::Month)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn country(code: &str) -> CountryCode {
        CountryCode::new(code).unwrap()
    }

    const DMDC: u128 = 0x1_0001;
    const STATEMENT: u128 = 0x1_0002;
    const DRAWDOWN: u128 = 0x2_0001;
    const NEGOTIATION: u128 = 0x3_0001;
    const MISSION_END: u128 = 0x3_0002;

    fn establish(host: &str) -> TroopCommand {
        TroopCommand::EstablishDeployment(EstablishDeployment {
            deploying: country("USA"),
            host: country(host),
            mission: "Operation Inherent Resolve".into(),
        })
    }

    fn established(host: &str) -> TroopEvent {
        TroopEvent::DeploymentEstablished {
            deploying: country("USA"),
            host: country(host),
            mission: "Operation Inherent Resolve".into(),
        }
    }

    /// The DMDC quarterly report: 0 active-duty U.S. personnel in Iraq.
    fn dmdc_report() -> ReportTroopLevel {
        ReportTroopLevel {
            estimate_id: id(DMDC),
            as_of: day("2023-12-31"),
            count: UncertainCount::exactly(0),
            qualifier: CountQualifier::Exactly,
            scope: CountScope::ActiveDutyOnly,
            source: Source::named("Defense Manpower Data Center"),
            source_type: SourceType::OfficialReport,
        }
    }

    /// Official statements: "about 2,500" U.S. troops in Iraq, January 2024.
    fn statement() -> ReportTroopLevel {
        let mut count = UncertainCount::exactly(2_500);
        count.words = Some("about 2,500".into());
        ReportTroopLevel {
            estimate_id: id(STATEMENT),
            as_of: month("2024-01-01", "2024-01-31"),
            count,
            qualifier: CountQualifier::About,
            scope: CountScope::Unknown,
            source: Source::named("U.S. Department of Defense"),
            source_type: SourceType::OfficialStatement,
        }
    }

    fn reported(c: ReportTroopLevel) -> TroopEvent {
        TroopEvent::TroopLevelReported {
            estimate_id: c.estimate_id,
            as_of: c.as_of,
            count: c.count,
            qualifier: c.qualifier,
            scope: c.scope,
            source: c.source,
            source_type: c.source_type,
        }
    }

    fn report(c: ReportTroopLevel) -> TroopCommand {
        TroopCommand::ReportTroopLevel(c)
    }

    /// A drawdown tied to the negotiation's milestone (the end of the coalition mission in
    /// federal Iraq by September 2025). The target figure is illustrative.
    fn drawdown() -> AnnounceTroopChange {
        let mut target = UncertainCount::range(1_500, 2_000, 2_000);
        target.words = Some("up to 2,000".into());
        AnnounceTroopChange {
            change_id: id(DRAWDOWN),
            kind: ChangeKind::Withdrawal,
            target,
            by: month("2025-09-01", "2025-09-30"),
            announced_on: day("2024-09-27"),
            milestone: Some(MilestoneRef {
                negotiation: id(NEGOTIATION),
                milestone: id(MISSION_END),
            }),
            source: Source::named("U.S. Department of Defense"),
            source_type: SourceType::OfficialStatement,
        }
    }

    fn announced() -> TroopEvent {
        let c = drawdown();
        TroopEvent::TroopChangeAnnounced {
            change_id: c.change_id,
            kind: c.kind,
            target: c.target,
            by: c.by,
            announced_on: c.announced_on,
            milestone: c.milestone,
            source: c.source,
            source_type: c.source_type,
        }
    }

    fn completion() -> CompleteTroopChange {
        CompleteTroopChange {
            change_id: id(DRAWDOWN),
            completed: month("2025-09-01", "2025-09-30"),
            source: Source::named("Iraqi Ministry of Defence"),
            source_type: SourceType::OfficialStatement,
            notes: Some("Advisers left Baghdad and Ain al-Asad".into()),
        }
    }

    fn completed() -> TroopEvent {
        let c = completion();
        TroopEvent::TroopChangeCompleted {
            change_id: c.change_id,
            completed: c.completed,
            source: c.source,
            source_type: c.source_type,
            notes: c.notes,
        }
    }

    fn cancelled() -> TroopEvent {
        TroopEvent::TroopChangeCancelled {
            change_id: id(DRAWDOWN),
            reason: "Plan reversed".into(),
            cancelled_on: None,
        }
    }

    fn retracted(estimate: u128) -> TroopEvent {
        TroopEvent::EstimateRetracted {
            estimate_id: id(estimate),
            reason: "Misread the table".into(),
        }
    }

    // --- establishing ---

    #[test]
    fn a_deployment_is_established_once() {
        let state = given_no_history::<TroopDeployment>()
            .when(establish("IRQ"))
            .then_events(vec![established("IRQ")]);
        let identity = state.identity().unwrap();
        assert_eq!(identity.host, country("IRQ"));
        assert_eq!(identity.mission, "Operation Inherent Resolve");
        assert_eq!(state.current_level(), None);

        given::<TroopDeployment>([established("IRQ")])
            .when(establish("IRQ"))
            .then_error(DomainError::AlreadyExists {
                what: "troop deployment",
            });
    }

    #[test]
    fn establishing_checks_every_field() {
        let with = |change: fn(&mut EstablishDeployment)| {
            let TroopCommand::EstablishDeployment(mut c) = establish("IRQ") else {
                unreachable!()
            };
            change(&mut c);
            given_no_history::<TroopDeployment>().when(TroopCommand::EstablishDeployment(c))
        };
        with(|c| c.deploying = CountryCode("US".into())).then_invalid("deploying");
        with(|c| c.host = CountryCode("irq".into())).then_invalid("host");
        with(|c| c.host = country("USA")).then_error(DomainError::invalid(
            "host",
            "must differ from the deploying country",
        ));
        with(|c| c.mission = " ".into()).then_invalid("mission");
    }

    #[test]
    fn commands_on_a_deployment_not_established_are_not_found() {
        let commands = [
            report(dmdc_report()),
            TroopCommand::RetractEstimate(RetractEstimate {
                estimate_id: id(DMDC),
                reason: "Wrong".into(),
            }),
            TroopCommand::AnnounceTroopChange(drawdown()),
            TroopCommand::CompleteTroopChange(completion()),
            TroopCommand::CancelTroopChange(CancelTroopChange {
                change_id: id(DRAWDOWN),
                reason: "Plan reversed".into(),
                cancelled_on: None,
            }),
        ];
        for command in commands {
            given_no_history::<TroopDeployment>()
                .when(command)
                .then_error(DomainError::NotFound {
                    what: "troop deployment",
                });
        }
    }

    // --- reports and the current level ---

    #[test]
    fn a_troop_level_is_reported() {
        let state = given::<TroopDeployment>([established("IRQ")])
            .when(report(dmdc_report()))
            .then_events(vec![reported(dmdc_report())]);
        assert_eq!(state.estimates().len(), 1);
        assert_eq!(state.current_level().unwrap().estimate_id, id(DMDC));
    }

    #[test]
    fn reporting_checks_every_field() {
        let with = |change: fn(&mut ReportTroopLevel)| {
            let mut c = statement();
            change(&mut c);
            given::<TroopDeployment>([established("IRQ")]).when(report(c))
        };
        with(|c| c.as_of = month("2024-01-31", "2024-01-01")).then_invalid("as_of.end");
        with(|c| {
            c.as_of = EventTime::span(date("2024-01-01"), date("2024-01-31"), DatePrecision::Day)
        })
        .then_invalid("as_of.precision");
        with(|c| c.count = UncertainCount::range(3_000, 2_500, 3_000)).then_invalid("count.low");
        with(|c| c.count = UncertainCount::range(2_000, 2_500, 2_400)).then_invalid("count.high");
        with(|c| c.count.words = Some(String::new())).then_invalid("count.words");
        with(|c| c.source.name = "\u{0}".into()).then_invalid("source.name");
        with(|c| {
            c.count = UncertainCount::range(2_000, 2_500, 3_000);
            c.qualifier = CountQualifier::Exactly;
        })
        .then_error(DomainError::invalid(
            "qualifier",
            "cannot be exactly for a range: give one figure (count.low = count.best = count.high) or another qualifier",
        ));
    }

    #[test]
    fn an_estimate_id_is_used_once() {
        given::<TroopDeployment>([established("IRQ"), reported(dmdc_report())])
            .when(report(dmdc_report()))
            .then_error(DomainError::AlreadyExists {
                what: "troop estimate",
            });
    }

    #[test]
    fn the_statement_of_january_2024_is_the_current_level_and_the_report_stays() {
        // Recorded in either order, the later as-of date wins: January 2024 ends after
        // 2023-12-31.
        for history in [
            vec![
                established("IRQ"),
                reported(dmdc_report()),
                reported(statement()),
            ],
            vec![
                established("IRQ"),
                reported(statement()),
                reported(dmdc_report()),
            ],
        ] {
            let given = given::<TroopDeployment>(history);
            let state = given.state();
            let current = state.current_level().unwrap();
            assert_eq!(current.estimate_id, id(STATEMENT));
            assert_eq!(current.count.best, 2_500);
            assert_eq!(current.qualifier, CountQualifier::About);
            // Both are kept; the report describes an earlier day, so it does not compete.
            assert_eq!(state.estimates().len(), 2);
            assert!(state.competing_estimates().is_empty());
        }
    }

    #[test]
    fn on_the_same_date_a_statement_beats_a_report_which_stays_visible() {
        let mut quarterly = dmdc_report();
        quarterly.as_of = day("2024-03-31");
        let mut march = statement();
        march.as_of = month("2024-03-01", "2024-03-31");
        let given =
            given::<TroopDeployment>([established("IRQ"), reported(march), reported(quarterly)]);
        let state = given.state();
        assert_eq!(state.current_level().unwrap().estimate_id, id(STATEMENT));
        let competing: Vec<Uuid> = state
            .competing_estimates()
            .iter()
            .map(|e| e.estimate_id)
            .collect();
        assert_eq!(competing, [id(DMDC)]);
    }

    #[test]
    fn the_rule_ranks_date_then_source_type_then_recording() {
        let estimate = |n: u128, as_of: EventTime, source_type: SourceType| TroopEstimate {
            estimate_id: id(n),
            as_of,
            count: UncertainCount::exactly(n as u32),
            qualifier: CountQualifier::About,
            scope: CountScope::Unknown,
            source: Source::named("source"),
            source_type,
            retraction: None,
        };
        let media_later = estimate(1, day("2024-02-01"), SourceType::Media);
        let statement = estimate(2, day("2024-01-31"), SourceType::OfficialStatement);
        let research = estimate(3, day("2024-01-31"), SourceType::ResearchEstimate);
        let statement_again = estimate(4, day("2024-01-31"), SourceType::OfficialStatement);

        let all = [statement.clone(), research.clone(), media_later.clone()];
        assert_eq!(current_estimate(&all), Some(&media_later));
        let same_day = [research.clone(), statement.clone()];
        assert_eq!(current_estimate(&same_day), Some(&statement));
        let ties = [statement.clone(), statement_again.clone()];
        assert_eq!(current_estimate(&ties), Some(&statement_again));
        let mut withdrawn = statement_again;
        withdrawn.retraction = Some("Wrong".into());
        assert_eq!(
            current_estimate(&[statement.clone(), withdrawn]),
            Some(&statement)
        );
        assert_eq!(current_estimate(&[]), None);
        assert!(SourceType::OfficialStatement.priority() > SourceType::OfficialReport.priority());
        assert!(SourceType::OfficialReport.priority() > SourceType::ResearchEstimate.priority());
        assert!(SourceType::ResearchEstimate.priority() > SourceType::Media.priority());
    }

    #[test]
    fn syria_is_its_own_deployment_at_about_900() {
        let mut syria = statement();
        syria.estimate_id = id(0x9_0001);
        syria.count = UncertainCount::exactly(900);
        syria.count.words = Some("about 900".into());
        let state = given::<TroopDeployment>([established("SYR")])
            .when(report(syria))
            .then_events(vec![TroopEvent::TroopLevelReported {
                estimate_id: id(0x9_0001),
                as_of: month("2024-01-01", "2024-01-31"),
                count: UncertainCount {
                    low: 900,
                    best: 900,
                    high: 900,
                    words: Some("about 900".into()),
                },
                qualifier: CountQualifier::About,
                scope: CountScope::Unknown,
                source: Source::named("U.S. Department of Defense"),
                source_type: SourceType::OfficialStatement,
            }]);
        assert_eq!(state.identity().unwrap().host, country("SYR"));
        assert_eq!(state.current_level().unwrap().count.best, 900);
    }

    // --- retraction ---

    #[test]
    fn a_retracted_estimate_is_kept_but_no_longer_counts() {
        let state = given::<TroopDeployment>([
            established("IRQ"),
            reported(dmdc_report()),
            reported(statement()),
        ])
        .when(TroopCommand::RetractEstimate(RetractEstimate {
            estimate_id: id(STATEMENT),
            reason: "Misread the table".into(),
        }))
        .then_events(vec![retracted(STATEMENT)]);
        assert_eq!(state.estimates().len(), 2);
        assert_eq!(
            state.estimate(id(STATEMENT)).unwrap().retraction.as_deref(),
            Some("Misread the table")
        );
        assert_eq!(state.current_level().unwrap().estimate_id, id(DMDC));
        assert!(state.competing_estimates().is_empty());
    }

    #[test]
    fn retracting_checks_the_reason_and_the_estimate() {
        let history = [established("IRQ"), reported(dmdc_report())];
        let retract = |estimate: u128, reason: &str| {
            TroopCommand::RetractEstimate(RetractEstimate {
                estimate_id: id(estimate),
                reason: reason.into(),
            })
        };
        given::<TroopDeployment>(history.clone())
            .when(retract(DMDC, " "))
            .then_invalid("reason");
        given::<TroopDeployment>(history.clone())
            .when(retract(STATEMENT, "Wrong"))
            .then_error(DomainError::NotFound {
                what: "troop estimate",
            });
        given::<TroopDeployment>([established("IRQ"), reported(dmdc_report()), retracted(DMDC)])
            .when(retract(DMDC, "Wrong"))
            .then_error(DomainError::state(
                "troop estimate is retracted already: nothing to change",
            ));
    }

    // --- changes ---

    #[test]
    fn a_drawdown_is_announced_for_a_negotiation_milestone() {
        let state = given::<TroopDeployment>([established("IRQ")])
            .when(TroopCommand::AnnounceTroopChange(drawdown()))
            .then_events(vec![announced()]);
        let change = state.change(id(DRAWDOWN)).unwrap();
        assert_eq!(change.status, TroopChangeStatus::Announced);
        assert_eq!(change.kind, ChangeKind::Withdrawal);
        assert_eq!(
            change.milestone.as_ref().unwrap().milestone,
            id(MISSION_END)
        );
    }

    #[test]
    fn announcing_checks_every_field_and_the_id() {
        let with = |change: fn(&mut AnnounceTroopChange)| {
            let mut c = drawdown();
            change(&mut c);
            given::<TroopDeployment>([established("IRQ")])
                .when(TroopCommand::AnnounceTroopChange(c))
        };
        with(|c| c.target = UncertainCount::range(3, 2, 2)).then_invalid("target.low");
        with(|c| c.by = month("2025-09-30", "2025-09-01")).then_invalid("by.end");
        with(|c| {
            c.announced_on =
                EventTime::span(date("2024-09-27"), date("2024-09-28"), DatePrecision::Day)
        })
        .then_invalid("announced_on.precision");
        with(|c| c.by = day("2024-09-01")).then_error(DomainError::invalid(
            "by",
            "must not end before the announcement (2024-09-01 is before 2024-09-27)",
        ));
        with(|c| c.source.url = Some("www.defense.gov".into())).then_invalid("source.url");
        given::<TroopDeployment>([established("IRQ"), announced()])
            .when(TroopCommand::AnnounceTroopChange(drawdown()))
            .then_error(DomainError::AlreadyExists {
                what: "troop change",
            });
    }

    #[test]
    fn an_announced_change_is_completed() {
        let state = given::<TroopDeployment>([established("IRQ"), announced()])
            .when(TroopCommand::CompleteTroopChange(completion()))
            .then_events(vec![completed()]);
        let change = state.change(id(DRAWDOWN)).unwrap();
        assert_eq!(change.status, TroopChangeStatus::Completed);
        assert_eq!(change.completed, Some(month("2025-09-01", "2025-09-30")));
    }

    #[test]
    fn completing_checks_fields_and_the_change() {
        let with = |change: fn(&mut CompleteTroopChange)| {
            let mut c = completion();
            change(&mut c);
            given::<TroopDeployment>([established("IRQ"), announced()])
                .when(TroopCommand::CompleteTroopChange(c))
        };
        with(|c| c.completed = month("2025-09-30", "2025-09-01")).then_invalid("completed.end");
        with(|c| c.source.name = String::new()).then_invalid("source.name");
        with(|c| c.notes = Some(" ".into())).then_invalid("notes");
        with(|c| c.completed = day("2024-09-26")).then_error(DomainError::invalid(
            "completed",
            "must not end before the change was announced (2024-09-26 is before 2024-09-27)",
        ));
        with(|c| c.change_id = id(0xdead)).then_error(DomainError::NotFound {
            what: "troop change",
        });
        given::<TroopDeployment>([established("IRQ"), announced(), completed()])
            .when(TroopCommand::CompleteTroopChange(completion()))
            .then_error(DomainError::state(
                "troop change is completed already: it cannot be completed; announce a new change instead",
            ));
        given::<TroopDeployment>([established("IRQ"), announced(), cancelled()])
            .when(TroopCommand::CompleteTroopChange(completion()))
            .then_error(DomainError::state(
                "troop change was cancelled: it cannot be completed; announce a new change instead",
            ));
    }

    #[test]
    fn an_announced_change_is_cancelled_with_a_reason() {
        let cancel = |reason: &str| {
            TroopCommand::CancelTroopChange(CancelTroopChange {
                change_id: id(DRAWDOWN),
                reason: reason.into(),
                cancelled_on: Some(day("2025-01-10")),
            })
        };
        let state = given::<TroopDeployment>([established("IRQ"), announced()])
            .when(cancel("Plan reversed"))
            .then_events(vec![TroopEvent::TroopChangeCancelled {
                change_id: id(DRAWDOWN),
                reason: "Plan reversed".into(),
                cancelled_on: Some(day("2025-01-10")),
            }]);
        let change = state.change(id(DRAWDOWN)).unwrap();
        assert_eq!(change.status, TroopChangeStatus::Cancelled);
        assert_eq!(change.cancellation.as_deref(), Some("Plan reversed"));

        given::<TroopDeployment>([established("IRQ"), announced()])
            .when(cancel(""))
            .then_invalid("reason");
        given::<TroopDeployment>([established("IRQ"), announced()])
            .when(TroopCommand::CancelTroopChange(CancelTroopChange {
                change_id: id(DRAWDOWN),
                reason: "Plan reversed".into(),
                cancelled_on: Some(month("2025-01-31", "2025-01-01")),
            }))
            .then_invalid("cancelled_on.end");
        given::<TroopDeployment>([established("IRQ"), announced(), completed()])
            .when(cancel("Plan reversed"))
            .then_invalid_state();
        given::<TroopDeployment>([established("IRQ"), announced(), cancelled()])
            .when(cancel("Plan reversed"))
            .then_invalid_state();
    }

    // --- fold, storage, metadata ---

    #[test]
    fn the_state_is_the_fold_of_the_whole_history() {
        let given = given::<TroopDeployment>([
            established("IRQ"),
            reported(dmdc_report()),
            reported(statement()),
            announced(),
            completed(),
            retracted(DMDC),
        ]);
        let state = given.state();
        assert_eq!(state.identity().unwrap().deploying, country("USA"));
        assert_eq!(state.estimates().len(), 2);
        assert!(!state.estimate(id(DMDC)).unwrap().is_live());
        assert_eq!(state.current_level().unwrap().estimate_id, id(STATEMENT));
        assert_eq!(state.changes().len(), 1);
        assert_eq!(state.changes()[0].status, TroopChangeStatus::Completed);
        assert!(TroopDeployment::default().identity().is_none());
    }

    #[test]
    fn events_are_stored_in_this_shape() {
        let encoded = encode(&reported(statement())).unwrap();
        assert_eq!(encoded.event_type, "TroopLevelReported");
        assert_eq!(encoded.schema_version, 1);
        assert_eq!(
            encoded.payload,
            json!({
                "estimate_id": "00000000-0000-0000-0000-000000010002",
                "as_of": {"start": "2024-01-01", "end": "2024-01-31", "precision": "month"},
                "count": {"low": 2500, "best": 2500, "high": 2500, "words": "about 2,500"},
                "qualifier": "about",
                "scope": "unknown",
                "source": {"name": "U.S. Department of Defense"},
                "source_type": "official_statement"
            })
        );

        let encoded = encode(&announced()).unwrap();
        assert_eq!(encoded.event_type, "TroopChangeAnnounced");
        assert_eq!(encoded.payload["kind"], json!("withdrawal"));
        assert_eq!(
            encoded.payload["milestone"],
            json!({
                "negotiation": "00000000-0000-0000-0000-000000030001",
                "milestone": "00000000-0000-0000-0000-000000030002"
            })
        );

        let encoded = encode(&established("IRQ")).unwrap();
        assert_eq!(
            encoded.payload,
            json!({"deploying": "USA", "host": "IRQ", "mission": "Operation Inherent Resolve"})
        );
    }

    #[test]
    fn events_say_when_they_happened_and_why() {
        assert_eq!(
            reported(statement()).valid_time(),
            Some(&month("2024-01-01", "2024-01-31"))
        );
        assert_eq!(announced().valid_time(), Some(&day("2024-09-27")));
        assert_eq!(
            completed().valid_time(),
            Some(&month("2025-09-01", "2025-09-30"))
        );
        assert_eq!(established("IRQ").valid_time(), None);
        assert_eq!(retracted(DMDC).reason(), Some("Misread the table"));
        assert_eq!(cancelled().reason(), Some("Plan reversed"));
        assert_eq!(completed().reason(), None);
    }

    #[test]
    fn a_deployment_has_one_stream_derived_from_who_where_and_why() {
        let (usa, irq) = (
            CountryCode::new("USA").unwrap(),
            CountryCode::new("IRQ").unwrap(),
        );
        let id = deployment_stream_id(&usa, &irq, "Operation Inherent Resolve");
        assert_eq!(
            id,
            deployment_stream_id(&usa, &irq, " operation  inherent resolve ")
        );
        assert_ne!(
            id,
            deployment_stream_id(&irq, &usa, "Operation Inherent Resolve")
        );
        let establish = TroopCommand::EstablishDeployment(EstablishDeployment {
            deploying: usa,
            host: irq,
            mission: "Operation Inherent Resolve".into(),
        });
        assert_eq!(TroopDeployment::check_identity(id, &establish), Ok(()));
        assert!(matches!(
            TroopDeployment::check_identity(Uuid::new_v4(), &establish),
            Err(DomainError::Invalid { field, .. }) if field == "deployment"
        ));
    }
}
