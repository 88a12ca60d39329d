//! The sync of a dataset file with the log, as pure planning (no I/O): given the rows of a
//! file, the current state of the incident streams they name, the registered actors and the
//! dataset's other incidents, it decides what to append so that the log says what the file
//! says, and nothing when it already does. [`crate::import`] loads the inputs and appends the
//! plan; this module only decides.
//!
//! Per row (identity: the stream [`crate::incident_id_for`] of its external reference):
//! - no stream: `IncidentReported`, with `ActorRegistered` for every actor no registered actor
//!   is known as (name or alias, case aside), registered once per run and reused;
//! - the stream's last import digest ([`StreamState::last_import_row`]) equals the row's
//!   ([`row_digest`]): unchanged, nothing (an analyst's later corrections are left alone);
//! - otherwise the row is diffed against the *current* state and the differences are recorded
//!   with the reason [`SOURCE_REVISION`]: `IncidentAmended` (the fields that differ),
//!   `CasualtiesRevised`, `ClaimWithdrawn` / `ClaimRecorded` for (actor, role) pairs gone from
//!   or new in the row, `SourceAttached` for new sources; an incident retracted because the
//!   source had removed it is restored first. Retracted for another reason, or merged: left
//!   alone, counted as skipped. A diff that finds nothing appends nothing.
//! - Incidents of the dataset in the file's [`Coverage`] (per country, the span of its rows' start
//!   dates) that the file no longer has are
//!   retracted ([`RetractionKind::RemovedBySource`], reason [`REMOVED_BY_SOURCE`]).
//!
//! What a dataset does not say is never overwritten by a source revision: the means, the
//! target category, the injuries and the site of the place (no dataset maps them), UCDP's
//! notes, tags and third admin level (UCDP has none), external references other than the row's own, claims in
//! roles the datasets do not use (claimant, suspected, associated) and sources (sources are
//! only ever added).
//!
//! Every event is decided by the aggregate ([`Aggregate::decide`], then [`Aggregate::apply`]
//! before the next command), never built by hand, so the domain's rules hold; a row the domain
//! refuses becomes a [`RowError`].

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sitrep_domain::model::actor::{Actor, ActorCommand, ActorEvent, RegisterActor};
use sitrep_domain::model::incident::{
    ActorInvolvement, ActorRole, AmendIncident, AttachSource, AttributionStatus, ExternalRef,
    Incident, IncidentAmendment, IncidentCommand, IncidentEvent, IncidentFacts, IncidentStatus,
    RecordClaim, ReportIncident, RestoreIncident, RetractIncident, RetractionKind,
    ReviseCasualties, WithdrawClaim,
};
use sitrep_domain::model::values::Source;
use sitrep_domain::model::vocab::ActorType;
use sitrep_domain::model::{Aggregate, DomainError};
use uuid::Uuid;

use crate::incident_id_for;
use crate::record::{Dataset, ImportedRow, NamedActor, RowError};

/// The reason of every correction an import records.
pub const SOURCE_REVISION: &str = "source revision";
/// The reason of the retraction of an incident the dataset no longer has.
pub const REMOVED_BY_SOURCE: &str = "removed by source";

/// The roles the datasets fill (ACLED's actor1/2 and associated actors, UCDP's sides): the
/// only involvements a source revision withdraws.
const DATASET_ROLES: [ActorRole; 4] = [
    ActorRole::Perpetrator,
    ActorRole::Target,
    ActorRole::PerpetratorAssociate,
    ActorRole::TargetAssociate,
];

/// How often the planner reports progress, in rows.
const PROGRESS_EVERY: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// An incident stream as the log holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamState {
    /// The fold of the stream's events. It may be left empty (the default) when
    /// `last_import_row` is the digest of the stream's row: the plan does not look at it then.
    pub incident: Incident,
    /// The stream's version (0: no stream).
    pub version: u64,
    /// The `import.row` digest in the metadata of the last event an import appended to the
    /// stream; `None` when no import did, or when that event carried none (a retraction).
    pub last_import_row: Option<String>,
}

/// The registered actors by name and alias, case aside (as the Actor aggregate compares names).
#[derive(Debug, Clone, Default)]
pub struct ActorDirectory {
    by_name: HashMap<String, Uuid>,
}

impl ActorDirectory {
    /// The directory of `actors` (id and state); an actor not registered yet is left out. When
    /// two actors are known by one name, the first one given keeps it.
    pub fn of<'a>(actors: impl IntoIterator<Item = (Uuid, &'a Actor)>) -> Self {
        let mut directory = Self::default();
        for (id, actor) in actors {
            if let Some(profile) = actor.profile() {
                directory.add(&profile.name, id);
                for alias in &profile.aliases {
                    directory.add(alias, id);
                }
            }
        }
        directory
    }

    /// Knows `id` by `name` too, unless another actor has that name already.
    pub fn add(&mut self, name: &str, id: Uuid) {
        self.by_name.entry(name_key(name)).or_insert(id);
    }

    /// The actor known as `name` (case and surrounding spaces aside).
    pub fn find(&self, name: &str) -> Option<Uuid> {
        self.by_name.get(&name_key(name)).copied()
    }
}

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// What a file covers: for each country it has rows of, the span of those rows' start dates
/// (none for a file without rows: it covers nothing).
/// An incident of the dataset inside it that the file lacks was removed by the source; one
/// outside it is simply not in this extract. The span is per country, so that a file of one
/// country's month and another's years does not claim the first country's years.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Country (alpha-3) -> the earliest and latest start date of its rows.
    pub spans: HashMap<String, (NaiveDate, NaiveDate)>,
}

impl Coverage {
    /// Covers `row` too.
    pub fn add(&mut self, row: &ImportedRow) {
        let start = row.facts.time.start;
        let country = row.facts.place.country.as_str();
        match self.spans.get_mut(country) {
            Some((from, to)) => {
                *from = (*from).min(start);
                *to = (*to).max(start);
            }
            None => {
                self.spans.insert(country.to_owned(), (start, start));
            }
        }
    }

    /// Whether an incident with `facts` lies inside: its country's span holds its start date.
    pub fn holds(&self, facts: &IncidentFacts) -> bool {
        self.spans
            .get(facts.place.country.as_str())
            .is_some_and(|(from, to)| (*from..=*to).contains(&facts.time.start))
    }
}

/// Everything the plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct SyncInput<'a> {
    pub dataset: Dataset,
    /// The run's id: new actors' ids are derived from it.
    pub run: Uuid,
    /// The file's valid rows, each external reference once ([`unique_rows`]).
    pub rows: &'a [ImportedRow],
    /// The rows' digests ([`row_digests`]), in the same order.
    pub digests: &'a [String],
    /// The states of the streams the rows name that exist.
    pub streams: &'a HashMap<Uuid, StreamState>,
    pub actors: &'a ActorDirectory,
    /// The dataset's other incidents (streams an import of this dataset created that no row
    /// names): the candidates for retraction.
    pub others: &'a HashMap<Uuid, StreamState>,
    /// Streams of rows the file has but that were rejected (with `--skip-invalid`): not gone.
    pub kept: &'a HashSet<Uuid>,
    /// Whether incidents the file lacks are retracted; false when a rejected row names no
    /// incident (it may be any of them).
    pub retract: bool,
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

/// What to append, stream by stream, and what it amounts to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncPlan {
    /// Actors to register (new streams), in the order the rows first named them.
    pub registrations: Vec<ActorRegistration>,
    /// Incident streams to append to, in row order, then the retractions.
    pub changes: Vec<IncidentChange>,
    pub counts: SyncCounts,
    /// Rows the domain refused (their events are not in the plan).
    pub rejected: Vec<RowError>,
}

/// A new actor.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorRegistration {
    pub actor: Uuid,
    pub event: ActorEvent,
    /// The digest of the row that first named it.
    pub row: String,
}

/// The events to append to one incident stream.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentChange {
    pub incident: Uuid,
    /// The version the plan was made at (0: a new stream).
    pub expected_version: u64,
    pub events: Vec<IncidentEvent>,
    /// The digest of the row the events come from; `None` for a retraction.
    pub row: Option<String>,
    pub outcome: Outcome,
}

/// What happened to a row's incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    New,
    Corrected,
    /// Brought back after the source had removed it (and corrected, if the row differs).
    Restored,
    /// Removed by the source.
    Retracted,
}

/// What a plan does, counted. Each row is one of new, corrected, restored, unchanged or
/// skipped; retracted counts incidents the file no longer has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub new: u64,
    pub corrected: u64,
    pub restored: u64,
    pub retracted: u64,
    pub unchanged: u64,
    /// Rows whose incident an analyst retracted or merged: left alone.
    pub skipped: u64,
    pub actors_registered: u64,
    /// Every event of the plan (actors and incidents).
    pub events: u64,
}

/// The digest of a mapped row: hex SHA-256 of its canonical content (the external reference,
/// the facts, the actors with their roles and types, the sources, as serde writes them to
/// JSON; the line is not content). Two rows with the same digest map to the same incident.
pub fn row_digest(row: &ImportedRow) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        actors: Vec<CanonicalActor<'a>>,
        external_ref: &'a ExternalRef,
        facts: &'a IncidentFacts,
        sources: &'a [Source],
    }
    #[derive(Serialize)]
    struct CanonicalActor<'a> {
        actor_type: ActorType,
        name: &'a str,
        role: ActorRole,
    }
    let canonical = Canonical {
        actors: row
            .actors
            .iter()
            .map(|a| CanonicalActor {
                actor_type: a.actor_type,
                name: &a.name,
                role: a.role,
            })
            .collect(),
        external_ref: &row.external_ref,
        facts: &row.facts,
        sources: &row.sources,
    };
    // The text is written whole and then hashed in one go: serde_json writes it in many small
    // pieces, each of which would otherwise be a call into the hasher.
    let mut text = Vec::with_capacity(1024);
    // Serialising plain data into a vector cannot fail; should it, the digest still differs
    // from every real one, so the row is diffed rather than skipped.
    if serde_json::to_writer(&mut text, &canonical).is_err() {
        text.extend_from_slice(b"\0unserialisable");
    }
    hex::encode(Sha256::digest(&text))
}

/// The digests of `rows`, in order; a large file's on two threads, half each.
pub fn row_digests(rows: &[ImportedRow]) -> Vec<String> {
    crate::two_threads::map_in_halves(rows, 1024, row_digest)
}

/// The file's column that holds a row's id in the dataset.
pub fn id_column(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Acled => "event_id_cnty",
        Dataset::Ucdp => "id",
    }
}

/// The external references of a file's rows seen so far, each with the line of its first row:
/// a later row with a reference an earlier one has is rejected ("repeats line N").
#[derive(Debug, Default)]
pub struct FirstRows {
    first_line: HashMap<ExternalRef, u64>,
}

impl FirstRows {
    /// `row` if no earlier row has its reference, else why it is rejected.
    pub fn admit(&mut self, dataset: Dataset, row: ImportedRow) -> Result<ImportedRow, RowError> {
        match self.first_line.get(&row.external_ref) {
            Some(line) => Err(RowError {
                line: row.line,
                column: id_column(dataset).to_owned(),
                rule: format!("repeats line {line} ({})", row.external_ref),
            }),
            None => {
                self.first_line.insert(row.external_ref.clone(), row.line);
                Ok(row)
            }
        }
    }
}

/// `rows` with each external reference once ([`FirstRows`]), and the rows rejected.
pub fn unique_rows(dataset: Dataset, rows: Vec<ImportedRow>) -> (Vec<ImportedRow>, Vec<RowError>) {
    let mut first = FirstRows::default();
    let mut unique = Vec::with_capacity(rows.len());
    let mut repeated = Vec::new();
    for row in rows {
        match first.admit(dataset, row) {
            Ok(row) => unique.push(row),
            Err(error) => repeated.push(error),
        }
    }
    (unique, repeated)
}

/// The plan that brings the log in line with `input`'s rows. `progress` is told how many rows
/// were planned, every few thousand and at the end.
pub fn plan(input: &SyncInput<'_>, progress: &mut dyn FnMut(usize)) -> SyncPlan {
    let mut chunks = ChunkedPlan::new(input.dataset, input.run, input.actors.clone());
    // Digests that do not match the rows one for one are not trusted: computed again.
    let digests = if input.digests.len() == input.rows.len() {
        std::borrow::Cow::Borrowed(input.digests)
    } else {
        std::borrow::Cow::Owned(row_digests(input.rows))
    };
    let mut plan = SyncPlan::default();
    let mut done = 0;
    while done < input.rows.len() {
        let end = (done + PROGRESS_EVERY).min(input.rows.len());
        plan.extend(chunks.rows(&input.rows[done..end], &digests[done..end], input.streams));
        done = end;
        progress(done);
    }
    progress(input.rows.len());
    let (last, counts) = chunks.finish(input.others, input.kept, input.retract);
    plan.extend(last);
    plan.counts = counts;
    plan
}

impl SyncPlan {
    /// Adds `later`'s registrations, changes and rejected rows after this plan's (counts are
    /// left alone: [`ChunkedPlan::finish`] gives them).
    pub fn extend(&mut self, later: SyncPlan) {
        self.registrations.extend(later.registrations);
        self.changes.extend(later.changes);
        self.rejected.extend(later.rejected);
    }
}

/// The plan of [`plan`], made a few rows at a time as they are read, so that an importer can
/// append the first rows' events while it reads and plans the next. A chunk's registrations
/// are the actors its rows name first (a later chunk reuses them); the retractions come with
/// [`ChunkedPlan::finish`], when every row is known. Each row of the file is given once, in
/// file order, each external reference once ([`unique_rows`]).
pub struct ChunkedPlan {
    planner: Planner,
    /// Events planned so far.
    events: u64,
}

impl ChunkedPlan {
    /// A plan for an import of `dataset` by `run` (new actors' ids are derived from it), with
    /// `actors` registered before it.
    pub fn new(dataset: Dataset, run: Uuid, actors: ActorDirectory) -> Self {
        Self {
            planner: Planner {
                dataset,
                run,
                actors,
                new_actors: HashMap::new(),
                plan: SyncPlan::default(),
                coverage: Coverage::default(),
                named: HashSet::new(),
            },
            events: 0,
        }
    }

    /// The plan of the next `rows` (with their [`row_digests`], computed again when they do
    /// not match the rows one for one; `streams`: the states of the streams they name that
    /// exist), in order: their registrations, changes and rejected rows. Counts stay with the
    /// planner.
    pub fn rows(
        &mut self,
        rows: &[ImportedRow],
        digests: &[String],
        streams: &HashMap<Uuid, StreamState>,
    ) -> SyncPlan {
        let digests = if digests.len() == rows.len() {
            std::borrow::Cow::Borrowed(digests)
        } else {
            std::borrow::Cow::Owned(row_digests(rows))
        };
        for (row, digest) in rows.iter().zip(digests.iter()) {
            self.planner.row(row, digest, streams);
        }
        self.take()
    }

    /// The retractions, when `retract`: incidents of `others` (the dataset's incidents no row
    /// names, folded) inside the coverage of every row given, that the file lacks and that are
    /// not `kept` (rows the file has but that were rejected); and the counts of the whole plan.
    pub fn finish(
        mut self,
        others: &HashMap<Uuid, StreamState>,
        kept: &HashSet<Uuid>,
        retract: bool,
    ) -> (SyncPlan, SyncCounts) {
        if retract {
            self.planner.retractions(others, kept);
        }
        let last = self.take();
        let mut counts = self.planner.plan.counts;
        counts.events = self.events;
        (last, counts)
    }

    /// What was planned since the last call, counted, leaving the counts.
    fn take(&mut self) -> SyncPlan {
        let plan = &mut self.planner.plan;
        let taken = SyncPlan {
            registrations: std::mem::take(&mut plan.registrations),
            changes: std::mem::take(&mut plan.changes),
            counts: SyncCounts::default(),
            rejected: std::mem::take(&mut plan.rejected),
        };
        plan.counts.actors_registered += taken.registrations.len() as u64;
        self.events += taken.registrations.len() as u64
            + taken
                .changes
                .iter()
                .map(|c| c.events.len() as u64)
                .sum::<u64>();
        taken
    }
}

struct Planner {
    dataset: Dataset,
    run: Uuid,
    /// The actors registered before the run.
    actors: ActorDirectory,
    /// Actors registered by this run, by name key.
    new_actors: HashMap<String, Uuid>,
    plan: SyncPlan,
    /// The coverage of the rows planned so far.
    coverage: Coverage,
    /// The streams of the rows planned so far.
    named: HashSet<Uuid>,
}

/// A row's actors resolved to ids, with the registrations that needs (kept only if the row
/// goes into the plan).
struct Resolved {
    involvements: Vec<ActorInvolvement>,
    registrations: Vec<(String, ActorRegistration)>,
}

impl Planner {
    fn row(&mut self, row: &ImportedRow, digest: &str, streams: &HashMap<Uuid, StreamState>) {
        let id = incident_id_for(&row.external_ref);
        self.named.insert(id);
        self.coverage.add(row);
        let digest = digest.to_owned();
        let outcome = match streams.get(&id).filter(|s| s.version > 0) {
            None => self.report(id, row, digest),
            Some(state) => self.revise(id, state, row, digest),
        };
        match outcome {
            Ok(RowPlan::Change(change, registrations)) => {
                match change.outcome {
                    Outcome::New => self.plan.counts.new += 1,
                    Outcome::Corrected => self.plan.counts.corrected += 1,
                    Outcome::Restored => self.plan.counts.restored += 1,
                    Outcome::Retracted => self.plan.counts.retracted += 1,
                }
                for (key, registration) in registrations {
                    self.new_actors.insert(key, registration.actor);
                    self.plan.registrations.push(registration);
                }
                self.plan.changes.push(change);
            }
            Ok(RowPlan::Unchanged) => self.plan.counts.unchanged += 1,
            Ok(RowPlan::Skipped) => self.plan.counts.skipped += 1,
            Err(error) => self.plan.rejected.push(row_error(row.line, error)),
        }
    }

    /// A row with no stream yet: the report of a new incident.
    fn report(&self, id: Uuid, row: &ImportedRow, digest: String) -> Result<RowPlan, DomainError> {
        let resolved = self.resolve(&row.actors, &digest)?;
        let command = IncidentCommand::ReportIncident(ReportIncident {
            facts: row.facts.clone(),
            actors: resolved.involvements,
            sources: row.sources.clone(),
        });
        let events = Incident::default().decide(&command)?;
        Ok(RowPlan::Change(
            IncidentChange {
                incident: id,
                expected_version: 0,
                events,
                row: Some(digest),
                outcome: Outcome::New,
            },
            resolved.registrations,
        ))
    }

    /// A row whose incident exists: nothing when the last import brought this very row,
    /// otherwise the corrections that make the current state say what the row says.
    fn revise(
        &self,
        id: Uuid,
        state: &StreamState,
        row: &ImportedRow,
        digest: String,
    ) -> Result<RowPlan, DomainError> {
        if state.last_import_row.as_deref() == Some(digest.as_str()) {
            return Ok(RowPlan::Unchanged);
        }
        let mut incident = state.incident.clone();
        let mut events = Vec::new();
        let restored = match incident.status() {
            IncidentStatus::Active => false,
            IncidentStatus::Retracted {
                kind: RetractionKind::RemovedBySource,
            } => {
                let restore = IncidentCommand::RestoreIncident(RestoreIncident {
                    reason: SOURCE_REVISION.to_owned(),
                });
                decide_into(&mut incident, &restore, &mut events)?;
                true
            }
            IncidentStatus::Retracted { .. }
            | IncidentStatus::Merged { .. }
            | IncidentStatus::NotReported => return Ok(RowPlan::Skipped),
        };
        let resolved = self.resolve(&row.actors, &digest)?;
        for command in corrections(self.dataset, &incident, row, &resolved.involvements) {
            decide_into(&mut incident, &command, &mut events)?;
        }
        if events.is_empty() {
            return Ok(RowPlan::Unchanged);
        }
        Ok(RowPlan::Change(
            IncidentChange {
                incident: id,
                expected_version: state.version,
                events,
                row: Some(digest),
                outcome: if restored {
                    Outcome::Restored
                } else {
                    Outcome::Corrected
                },
            },
            resolved.registrations,
        ))
    }

    /// The row's actors as involvements (attributed by the source, each actor once per role),
    /// registering the ones no registered actor is known as.
    fn resolve(&self, actors: &[NamedActor], digest: &str) -> Result<Resolved, DomainError> {
        let mut resolved = Resolved {
            involvements: Vec::with_capacity(actors.len()),
            registrations: Vec::new(),
        };
        for named in actors {
            let key = name_key(&named.name);
            let known = self
                .actors
                .find(&named.name)
                .or_else(|| self.new_actors.get(&key).copied())
                .or_else(|| {
                    resolved
                        .registrations
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, r)| r.actor)
                });
            let actor = match known {
                Some(actor) => actor,
                None => {
                    let registration = self.register(named, digest)?;
                    let actor = registration.actor;
                    resolved.registrations.push((key, registration));
                    actor
                }
            };
            let involvement = ActorInvolvement {
                actor,
                role: named.role,
                attribution: AttributionStatus::AttributedBySource,
                source: None,
            };
            if !resolved
                .involvements
                .iter()
                .any(|i| i.actor == actor && i.role == named.role)
            {
                resolved.involvements.push(involvement);
            }
        }
        Ok(resolved)
    }

    /// The registration of an actor no one is known as `named.name` yet, decided by the Actor
    /// aggregate; its id is derived from the run and the name.
    fn register(&self, named: &NamedActor, digest: &str) -> Result<ActorRegistration, DomainError> {
        let command = ActorCommand::RegisterActor(RegisterActor {
            name: named.name.trim().to_owned(),
            actor_type: named.actor_type,
            country: None,
            aliases: Vec::new(),
            description: None,
        });
        let event = Actor::default()
            .decide(&command)
            .map_err(|e| e.within("actors"))?
            .into_iter()
            .next()
            .ok_or_else(|| DomainError::state("registering the actor decided no event"))?;
        Ok(ActorRegistration {
            actor: Uuid::new_v5(&self.run, name_key(&named.name).as_bytes()),
            event,
            row: digest.to_owned(),
        })
    }

    /// Retracts the dataset's active incidents of `others` inside the coverage of the rows
    /// planned that the file lacks (and that are not `kept`).
    fn retractions(&mut self, others: &HashMap<Uuid, StreamState>, kept: &HashSet<Uuid>) {
        let mut gone: Vec<(&Uuid, &StreamState)> = others
            .iter()
            .filter(|(id, state)| {
                !self.named.contains(id)
                    && !kept.contains(id)
                    && state.incident.is_current()
                    && state
                        .incident
                        .facts()
                        .is_some_and(|f| self.coverage.holds(f))
            })
            .collect();
        gone.sort_by_key(|(id, _)| **id);
        let retract = IncidentCommand::RetractIncident(RetractIncident {
            kind: RetractionKind::RemovedBySource,
            reason: REMOVED_BY_SOURCE.to_owned(),
        });
        for (id, state) in gone {
            // An active incident can always be retracted; were it refused, leaving it is safe.
            let Ok(events) = state.incident.decide(&retract) else {
                continue;
            };
            self.plan.counts.retracted += 1;
            self.plan.changes.push(IncidentChange {
                incident: *id,
                expected_version: state.version,
                events,
                row: None,
                outcome: Outcome::Retracted,
            });
        }
    }
}

enum RowPlan {
    Change(IncidentChange, Vec<(String, ActorRegistration)>),
    Unchanged,
    Skipped,
}

/// Decides `command` on `incident`, applies the events and adds them to `events`.
fn decide_into(
    incident: &mut Incident,
    command: &IncidentCommand,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), DomainError> {
    for event in incident.decide(command)? {
        incident.apply(&event);
        events.push(event);
    }
    Ok(())
}

/// The commands that make `incident` (active) say what `row` says, in the order they apply:
/// the amendment, the casualty revision, the withdrawn claims, the new claims, the new sources.
fn corrections(
    dataset: Dataset,
    incident: &Incident,
    row: &ImportedRow,
    involvements: &[ActorInvolvement],
) -> Vec<IncidentCommand> {
    let Some(current) = incident.facts() else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    let target = &row.facts;
    let mut place = target.place.clone();
    if place.site.is_none() {
        place.site = current.place.site;
    }
    if !dataset_maps_admin3(dataset) {
        place.admin3.clone_from(&current.place.admin3);
    }
    let owns_text = dataset_owns_notes_and_tags(dataset);
    let external_refs = (!current.external_refs.contains(&row.external_ref)).then(|| {
        let mut refs = current.external_refs.clone();
        refs.push(row.external_ref.clone());
        refs
    });
    let wanted = IncidentAmendment {
        time: Some(target.time.clone()),
        place: Some(place),
        event_type: Some(target.event_type),
        sub_event_type: Some(target.sub_event_type),
        notes: owns_text.then(|| target.notes.clone()),
        tags: owns_text.then(|| target.tags.clone()),
        external_refs,
        attributes: Some(target.attributes.clone()),
        ..IncidentAmendment::default()
    };
    let changes = wanted.changes_to(current);
    if !changes.is_empty() {
        commands.push(IncidentCommand::AmendIncident(AmendIncident {
            changes,
            reason: SOURCE_REVISION.to_owned(),
        }));
    }
    if target.fatalities != current.fatalities {
        commands.push(IncidentCommand::ReviseCasualties(ReviseCasualties {
            fatalities: Some(target.fatalities.clone()),
            injuries: None,
            source: None,
            reason: SOURCE_REVISION.to_owned(),
        }));
    }
    let in_row = |i: &ActorInvolvement| {
        involvements
            .iter()
            .any(|r| r.actor == i.actor && r.role == i.role)
    };
    for gone in incident
        .actors()
        .iter()
        .filter(|i| DATASET_ROLES.contains(&i.role) && !in_row(i))
    {
        commands.push(IncidentCommand::WithdrawClaim(WithdrawClaim {
            actor: gone.actor,
            role: gone.role,
            reason: SOURCE_REVISION.to_owned(),
        }));
    }
    for new in involvements.iter().filter(|r| {
        !incident
            .actors()
            .iter()
            .any(|i| i.actor == r.actor && i.role == r.role)
    }) {
        commands.push(IncidentCommand::RecordClaim(RecordClaim {
            actor: new.actor,
            role: new.role,
            attribution: new.attribution,
            source: new.source.clone(),
            reason: Some(SOURCE_REVISION.to_owned()),
        }));
    }
    for source in &row.sources {
        if !incident.sources().contains(source) {
            commands.push(IncidentCommand::AttachSource(AttachSource {
                source: source.clone(),
            }));
        }
    }
    commands
}

/// Whether the dataset fills the notes and the tags (ACLED does; UCDP has neither, so an
/// analyst's notes and tags on a UCDP incident stay through its revisions).
/// Whether the dataset has a column for the third admin level (UCDP stops at `adm_2`).
fn dataset_maps_admin3(dataset: Dataset) -> bool {
    match dataset {
        Dataset::Acled => true,
        Dataset::Ucdp => false,
    }
}

fn dataset_owns_notes_and_tags(dataset: Dataset) -> bool {
    match dataset {
        Dataset::Acled => true,
        Dataset::Ucdp => false,
    }
}

/// A domain refusal of the row at `line` as a row error: the field it names (a path into the
/// incident: `facts.place.coordinates`), or `incident` for a refusal by state.
fn row_error(line: u64, error: DomainError) -> RowError {
    match error {
        DomainError::Invalid { field, rule } => RowError {
            line,
            column: field,
            rule,
        },
        other => RowError {
            line,
            column: "incident".to_owned(),
            rule: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
