//! The incident mutations: one per command of the domain's incident aggregate. Each runs the
//! command through the domain's [`CommandHandler`] (which validates before it appends, checks
//! `expectedVersion`, and replays a retried `idempotencyKey`), then waits for the read models to
//! apply the new events (read-your-writes) and answers with the incident as the incidents read
//! model now shows it.
//!
//! Inputs mirror the domain's commands field for field; the domain checks every rule, and its
//! field paths come back as paths into the input (`input.facts.place.coordinates.latitude`).

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::incident::{
    self as domain, ExternalRef, Incident as IncidentAggregate, IncidentCommand, IncidentFacts,
};
use sitrep_projections::status::LiveCheckpoints;
use uuid::Uuid;

use crate::commands::{self, key_namespaces, CommandOptions, CommandOutcome};
use crate::error::ApiError;
use crate::incidents::{find_incident, find_incident_in, pool, Incident, INCIDENTS};
use crate::inputs::{CountInput, EventTimeInput, PlaceInput, SourceInput};
use crate::vocab::{
    ActorRole, AttributionStatus, EventType, Means, RetractionKind, SubEventType, TargetCategory,
    VerificationStatus,
};

/// The incident mutations.
#[derive(Default)]
pub struct IncidentMutation;

#[Object]
impl IncidentMutation {
    /// Records a new incident (`incidentId` may be chosen by the client, so that a retry cannot
    /// report it twice; otherwise the server picks one). The actors and the site it names must
    /// be registered (`BAD_USER_INPUT` otherwise); an incident id reported already is refused
    /// with `ALREADY_EXISTS`.
    async fn report_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new incident: its facts, the actors involved and the sources.")]
        input: ReportIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::ReportIncident {
            facts: input.facts.into_domain("input.facts")?,
            actors: input
                .actors
                .unwrap_or_default()
                .into_iter()
                .map(ActorInvolvementInput::into_domain)
                .collect(),
            sources: input
                .sources
                .unwrap_or_default()
                .into_iter()
                .map(SourceInput::into_domain)
                .collect(),
        };
        // A retry must land on the same incident: its id follows from the key.
        let outcome = commands::execute_new::<IncidentAggregate>(
            ctx,
            input.incident_id,
            &key_namespaces::INCIDENT,
            "",
            &command.into(),
            &input.options,
        )
        .await?;
        Ok(IncidentPayload::from(outcome))
    }

    /// Corrects some of an incident's facts, with a reason. Only the fields given change; the
    /// event records only those that differ from the current facts. Refused with
    /// `INVALID_STATE` when every field given equals the current facts, and on a retracted or
    /// merged incident.
    async fn amend_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident, the facts to correct and why.")] input: AmendIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::AmendIncident {
            changes: input.changes.into_domain("input.changes")?,
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Revises the casualty figures, with a reason (and the source of the new figures). Refused
    /// with `INVALID_STATE` when the incident has these figures already, and on a retracted or
    /// merged incident.
    async fn revise_casualties(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident, the new figures and why.")] input: ReviseCasualtiesInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::ReviseCasualties {
            fatalities: input
                .fatalities
                .map(|c| c.into_domain("input.fatalities"))
                .transpose()?,
            injuries: input
                .injuries
                .map(|c| c.into_domain("input.injuries"))
                .transpose()?,
            source: input.source.map(SourceInput::into_domain),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Records an actor's part in an incident (a claim, an attribution, a suspicion, a target),
    /// or changes how it is known (with a reason). Refused with `INVALID_STATE` when exactly
    /// this part is recorded already, and on a retracted or merged incident.
    async fn record_claim(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident, the actor and its part.")] input: RecordClaimInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RecordClaim {
            actor: input.actor,
            role: input.role.into(),
            attribution: input.attribution.into(),
            source: input.source.map(SourceInput::into_domain),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Withdraws an actor's part in an incident (a source revised who took part), with a
    /// reason. Refused with `INVALID_STATE` when the incident does not record this actor in this
    /// role, and on a retracted or merged incident.
    async fn withdraw_claim(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident, the actor, its part and why.")] input: WithdrawClaimInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::WithdrawClaim {
            actor: input.actor,
            role: input.role.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Adds a source to an incident. Refused with `INVALID_STATE` when the incident has an
    /// identical source already, and on a retracted or merged incident.
    async fn attach_source(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident and the source.")] input: AttachSourceInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::AttachSource {
            source: input.source.into_domain(),
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Changes whether an incident is verified, with a reason. Refused with `INVALID_STATE`
    /// when the incident has this status already, and on a retracted or merged incident.
    async fn set_verification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident, its new verification status and why.")]
        input: SetVerificationInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::SetVerification {
            status: input.status.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Takes an incident out of current views, with a kind and a reason; its history stays and
    /// `restoreIncident` brings it back. Refused with `INVALID_STATE` on a retracted or merged
    /// incident.
    async fn retract_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident and why it is retracted.")] input: RetractIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RetractIncident {
            kind: input.kind.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Brings a retracted incident back, with a reason. Refused with `INVALID_STATE` unless the
    /// incident is retracted.
    async fn restore_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The retracted incident and why it is restored.")]
        input: RestoreIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RestoreIncident {
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Merges a duplicate incident into another, with a reason. Final: the duplicate leaves
    /// current views and refuses every later mutation. Only the duplicate must be active
    /// (`INVALID_STATE` otherwise); the other must be another recorded incident
    /// (`BAD_USER_INPUT` otherwise). Nothing moves to the surviving incident: give it the
    /// duplicate's sources and actors with `attachSource` and `recordClaim`.
    async fn merge_incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The duplicate, the incident it is merged into, and why.")]
        input: MergeIncidentsInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::MergeIncident {
            into: input.into,
            reason: input.reason,
        };
        Ok(execute(ctx, input.duplicate_id, command.into(), &input.options).await?)
    }
}

/// Runs `command` on incident `id` and answers with the payload.
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: IncidentCommand,
    options: &CommandOptions,
) -> Result<IncidentPayload, ApiError> {
    let outcome = commands::execute::<IncidentAggregate>(ctx, id, &command, options).await?;
    Ok(IncidentPayload::from(outcome))
}

/// What every incident mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct IncidentPayload {
    /// The incident changed (or reported).
    pub incident_id: Uuid,
    /// The incident's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    /// When the events were recorded (give it as `asOf` to read what was known then).
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `incident` may not show it yet.
    pub caught_up: bool,
    /// Where the wait saw the change applied (see [`CommandOutcome::applied_in`]).
    #[graphql(skip)]
    pub applied_in: Option<Arc<LiveCheckpoints>>,
}

impl From<CommandOutcome> for IncidentPayload {
    fn from(outcome: CommandOutcome) -> Self {
        let caught_up = outcome.caught_up();
        Self {
            incident_id: outcome.stream_id,
            version: outcome.version,
            event_ids: outcome.event_ids,
            recorded_at: outcome.recorded_at,
            replayed: outcome.replayed,
            caught_up,
            applied_in: outcome.applied_in,
        }
    }
}

#[ComplexObject]
impl IncidentPayload {
    /// The incident as the incidents read model shows it now (null if it is not there yet).
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        let applied_in = self
            .applied_in
            .as_deref()
            .and_then(|reading| reading.schema_of(INCIDENTS));
        Ok(match applied_in {
            Some(schema) => find_incident_in(pool(ctx)?, schema, self.incident_id).await?,
            None => find_incident(pool(ctx)?, self.incident_id, None).await?,
        })
    }
}

/// A new incident.
#[derive(InputObject)]
pub struct ReportIncidentInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry reports the same incident), else picked by the server.
    pub incident_id: Option<Uuid>,
    /// What happened, where and when, and its toll.
    pub facts: IncidentFactsInput,
    /// The actors involved, each with its part (at most 100; an actor holds each role once).
    pub actors: Option<Vec<ActorInvolvementInput>>,
    /// Where the report comes from (at most 100, no identical source twice).
    pub sources: Option<Vec<SourceInput>>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Corrections of an incident's facts, and why.
#[derive(InputObject)]
pub struct AmendIncidentInput {
    /// The incident to correct.
    pub incident_id: Uuid,
    /// The facts to correct: at least one field (`BAD_USER_INPUT` otherwise).
    pub changes: IncidentAmendmentInput,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Facts to correct. A field left out stays as it is; `null` clears one that may be empty
/// (`targetCategory`, `injuries`, `notes`).
#[derive(InputObject)]
pub struct IncidentAmendmentInput {
    /// When it happened: the whole new span and precision.
    pub time: Option<EventTimeInput>,
    /// Where it happened: the whole new place.
    pub place: Option<PlaceInput>,
    /// ACLED's event type; the sub-event type (given here, or the current one) must belong
    /// to it.
    pub event_type: Option<EventType>,
    /// ACLED's sub-event type; it must belong to the event type (given here, or the current
    /// one).
    pub sub_event_type: Option<SubEventType>,
    /// What it was carried out with: the whole new list (no repeats; empty: not known).
    pub means: Option<Vec<Means>>,
    /// What it was aimed at; `null` clears it.
    pub target_category: MaybeUndefined<TargetCategory>,
    /// Deaths: the new figures (`reviseCasualties` does the same and records their source).
    pub fatalities: Option<CountInput>,
    /// Injuries: the new figures; `null` clears them (no figure known).
    pub injuries: MaybeUndefined<CountInput>,
    /// Free notes (at most 10,000 characters); `null` clears them.
    pub notes: MaybeUndefined<String>,
    /// The whole new list of tags: single-line labels without surrounding spaces, unique
    /// ignoring case, at most 50.
    pub tags: Option<Vec<String>>,
    /// The whole new list of references to the same incident in other datasets, each written
    /// `dataset:id` (`acled:IRQ38819`), no repeats.
    pub external_refs: Option<Vec<String>>,
}

impl IncidentAmendmentInput {
    fn into_domain(self, path: &str) -> Result<domain::IncidentAmendment, ApiError> {
        Ok(domain::IncidentAmendment {
            time: self.time.map(EventTimeInput::into_domain),
            place: self.place.map(PlaceInput::into_domain),
            event_type: self.event_type.map(Into::into),
            sub_event_type: self.sub_event_type.map(Into::into),
            means: self
                .means
                .map(|means| means.into_iter().map(Into::into).collect()),
            target_category: double_option(self.target_category).map(|c| c.map(Into::into)),
            fatalities: self
                .fatalities
                .map(|c| c.into_domain(&format!("{path}.fatalities")))
                .transpose()?,
            injuries: double_option(self.injuries)
                .map(|c| {
                    c.map(|c| c.into_domain(&format!("{path}.injuries")))
                        .transpose()
                })
                .transpose()?,
            notes: double_option(self.notes),
            tags: self.tags,
            external_refs: self
                .external_refs
                .map(|refs| refs.into_iter().map(ExternalRef).collect()),
            attributes: Default::default(),
        })
    }
}

/// Left out: `None`; `null`: `Some(None)`; a value: `Some(Some(value))`.
fn double_option<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

/// New casualty figures for an incident: at least one of `fatalities` and `injuries`
/// (`BAD_USER_INPUT` otherwise); a figure equal to the current one is not recorded.
#[derive(InputObject)]
pub struct ReviseCasualtiesInput {
    /// The incident.
    pub incident_id: Uuid,
    /// Left out: unchanged.
    pub fatalities: Option<CountInput>,
    /// Left out: unchanged.
    pub injuries: Option<CountInput>,
    /// Where the new figures come from; it joins the incident's sources.
    pub source: Option<SourceInput>,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An actor's part in an incident, recorded for the first time or known in a new way (a new
/// attribution or source replaces the recorded ones).
#[derive(InputObject)]
pub struct RecordClaimInput {
    /// The incident.
    pub incident_id: Uuid,
    /// The actor: a registered actor's id (`BAD_USER_INPUT` otherwise).
    pub actor: Uuid,
    /// Its part; an actor holds each role once, so naming a role it holds changes how that
    /// part is known.
    pub role: ActorRole,
    /// How the part is known; `CLAIMED` when the role is `CLAIMANT`.
    pub attribution: AttributionStatus,
    /// Where the attribution comes from.
    pub source: Option<SourceInput>,
    /// Why; needed to change how a recorded part is known (at most 10,000 characters).
    pub reason: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An actor's part in an incident to withdraw.
#[derive(InputObject)]
pub struct WithdrawClaimInput {
    /// The incident.
    pub incident_id: Uuid,
    /// The actor.
    pub actor: Uuid,
    /// The part it no longer has.
    pub role: ActorRole,
    /// Why (at most 10,000 characters).
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A source to add to an incident.
#[derive(InputObject)]
pub struct AttachSourceInput {
    /// The incident.
    pub incident_id: Uuid,
    /// The source: not identical to one the incident has.
    pub source: SourceInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An incident's new verification status, and why.
#[derive(InputObject)]
pub struct SetVerificationInput {
    /// The incident.
    pub incident_id: Uuid,
    /// The new status: not the one the incident has.
    pub status: VerificationStatus,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An incident to take out of current views, and why.
#[derive(InputObject)]
pub struct RetractIncidentInput {
    /// The incident to retract: an active one (neither retracted nor merged).
    pub incident_id: Uuid,
    /// Why, in a word: a duplicate, out of scope, or a false report.
    pub kind: RetractionKind,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A retracted incident to bring back, and why.
#[derive(InputObject)]
pub struct RestoreIncidentInput {
    /// The incident to restore: a retracted one.
    pub incident_id: Uuid,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A duplicate incident to merge into the one that stays, and why.
#[derive(InputObject)]
pub struct MergeIncidentsInput {
    /// The duplicate, which is folded into `into` and leaves current views.
    pub duplicate_id: Uuid,
    /// The incident that stays: another recorded incident.
    pub into: Uuid,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// What happened, where and when, and its toll.
#[derive(InputObject)]
pub struct IncidentFactsInput {
    /// When it happened: a day or a span of days, and how precisely that is known.
    pub time: EventTimeInput,
    /// Where it happened.
    pub place: PlaceInput,
    /// ACLED's event type.
    pub event_type: EventType,
    /// Must belong to `eventType` (ACLED's table).
    pub sub_event_type: SubEventType,
    /// What it was carried out with (no repeats); left out: not known.
    pub means: Option<Vec<Means>>,
    /// What it was aimed at, if known.
    pub target_category: Option<TargetCategory>,
    /// Deaths: one figure, or a range (`{best: 0}` for none).
    pub fatalities: CountInput,
    /// Left out when no figure is known (not the same as zero).
    pub injuries: Option<CountInput>,
    /// Free notes (at most 10,000 characters).
    pub notes: Option<String>,
    /// Free labels: single-line, without surrounding spaces, unique ignoring case, at most 50
    /// (of at most 300 characters each).
    pub tags: Option<Vec<String>>,
    /// The same incident in other datasets, each written `dataset:id` (`acled:IRQ12345`), no
    /// repeats.
    pub external_refs: Option<Vec<String>>,
}

impl IncidentFactsInput {
    fn into_domain(self, path: &str) -> Result<IncidentFacts, ApiError> {
        Ok(IncidentFacts {
            time: self.time.into_domain(),
            place: self.place.into_domain(),
            event_type: self.event_type.into(),
            sub_event_type: self.sub_event_type.into(),
            means: self
                .means
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            target_category: self.target_category.map(Into::into),
            fatalities: self.fatalities.into_domain(&format!("{path}.fatalities"))?,
            injuries: self
                .injuries
                .map(|c| c.into_domain(&format!("{path}.injuries")))
                .transpose()?,
            notes: self.notes,
            tags: self.tags.unwrap_or_default(),
            // The domain checks each reference's form.
            external_refs: self
                .external_refs
                .unwrap_or_default()
                .into_iter()
                .map(ExternalRef)
                .collect(),
            attributes: Default::default(),
        })
    }
}

/// An actor's part in an incident.
#[derive(InputObject)]
pub struct ActorInvolvementInput {
    /// A registered actor's id.
    pub actor: Uuid,
    /// Its part in the incident.
    pub role: ActorRole,
    /// How that part is known; `CLAIMED` when the role is `CLAIMANT`.
    pub attribution: AttributionStatus,
    /// Where the attribution comes from.
    pub source: Option<SourceInput>,
}

impl ActorInvolvementInput {
    fn into_domain(self) -> domain::ActorInvolvement {
        domain::ActorInvolvement {
            actor: self.actor,
            role: self.role.into(),
            attribution: self.attribution.into(),
            source: self.source.map(SourceInput::into_domain),
        }
    }
}
