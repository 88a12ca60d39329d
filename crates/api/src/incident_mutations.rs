//! The incident mutations: one per command of the domain's incident aggregate. Each runs the
//! command through the domain's [`CommandHandler`] (which validates before it appends, checks
//! `expectedVersion`, and replays a retried `idempotencyKey`), then waits for the read models to
//! apply the new events (read-your-writes) and answers with the incident as the incidents read
//! model now shows it.
//!
//! Inputs mirror the domain's commands field for field; the domain checks every rule, and its
//! field paths come back as paths into the input (`input.facts.place.coordinates.latitude`).

use async_graphql::{ComplexObject, Context, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::incident::{
    self as domain, ExternalRef, Incident as IncidentAggregate, IncidentCommand, IncidentFacts,
};
use uuid::Uuid;

use crate::commands::{self, CommandOptions, CommandOutcome};
use crate::error::ApiError;
use crate::incidents::{find_incident, pool, Incident};
use crate::inputs::{CountInput, EventTimeInput, PlaceInput, SourceInput};
use crate::vocab::{
    ActorRole, AttributionStatus, EventType, Means, RetractionKind, SubEventType, TargetCategory,
    VerificationStatus,
};

/// The namespace of incident ids derived from a report's idempotency key.
const REPORT_KEY_NAMESPACE: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0001);

/// The incident mutations.
#[derive(Default)]
pub struct IncidentMutation;

#[Object]
impl IncidentMutation {
    /// Records a new incident (`incidentId` may be chosen by the client, so that a retry cannot
    /// report it twice; otherwise the server picks one).
    async fn report_incident(
        &self,
        ctx: &Context<'_>,
        input: ReportIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let id = match (input.incident_id, &input.options.idempotency_key) {
            (Some(id), _) => id,
            // A retry must land on the same incident: its id follows from the key.
            (None, Some(key)) => Uuid::new_v5(&REPORT_KEY_NAMESPACE, key.as_bytes()),
            (None, None) => Uuid::now_v7(),
        };
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
        Ok(execute(ctx, id, command.into(), &input.options).await?)
    }

    /// Corrects some of an incident's facts, with a reason. Only the fields given change; the
    /// event records only those that differ from the current facts.
    async fn amend_incident(
        &self,
        ctx: &Context<'_>,
        input: AmendIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::AmendIncident {
            changes: input.changes.into_domain("input.changes")?,
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Revises the casualty figures, with a reason (and the source of the new figures).
    async fn revise_casualties(
        &self,
        ctx: &Context<'_>,
        input: ReviseCasualtiesInput,
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
    /// or changes how it is known (with a reason).
    async fn record_claim(
        &self,
        ctx: &Context<'_>,
        input: RecordClaimInput,
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

    /// Adds a source to an incident.
    async fn attach_source(
        &self,
        ctx: &Context<'_>,
        input: AttachSourceInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::AttachSource {
            source: input.source.into_domain(),
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Changes whether an incident is verified, with a reason.
    async fn set_verification(
        &self,
        ctx: &Context<'_>,
        input: SetVerificationInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::SetVerification {
            status: input.status.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Takes an incident out of current views, with a kind and a reason; its history stays.
    async fn retract_incident(
        &self,
        ctx: &Context<'_>,
        input: RetractIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RetractIncident {
            kind: input.kind.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Brings a retracted incident back, with a reason.
    async fn restore_incident(
        &self,
        ctx: &Context<'_>,
        input: RestoreIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RestoreIncident {
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Merges a duplicate incident into another, with a reason. Final.
    async fn merge_incidents(
        &self,
        ctx: &Context<'_>,
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
    pub incident_id: Uuid,
    /// The incident's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `incident` may not show it yet.
    pub caught_up: bool,
}

impl From<CommandOutcome> for IncidentPayload {
    fn from(outcome: CommandOutcome) -> Self {
        Self {
            incident_id: outcome.stream_id,
            version: outcome.version,
            event_ids: outcome.event_ids,
            recorded_at: outcome.recorded_at,
            replayed: outcome.replayed,
            caught_up: outcome.caught_up,
        }
    }
}

#[ComplexObject]
impl IncidentPayload {
    /// The incident as the incidents read model shows it now (null if it is not there yet).
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        Ok(find_incident(pool(ctx)?, self.incident_id, None).await?)
    }
}

/// A new incident.
#[derive(InputObject)]
pub struct ReportIncidentInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry reports the same incident), else picked by the server.
    pub incident_id: Option<Uuid>,
    pub facts: IncidentFactsInput,
    pub actors: Option<Vec<ActorInvolvementInput>>,
    pub sources: Option<Vec<SourceInput>>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct AmendIncidentInput {
    pub incident_id: Uuid,
    pub changes: IncidentAmendmentInput,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Facts to correct. A field left out stays as it is; `null` clears one that may be empty
/// (`targetCategory`, `injuries`, `notes`).
#[derive(InputObject)]
pub struct IncidentAmendmentInput {
    pub time: Option<EventTimeInput>,
    pub place: Option<PlaceInput>,
    pub event_type: Option<EventType>,
    pub sub_event_type: Option<SubEventType>,
    pub means: Option<Vec<Means>>,
    pub target_category: MaybeUndefined<TargetCategory>,
    pub fatalities: Option<CountInput>,
    pub injuries: MaybeUndefined<CountInput>,
    pub notes: MaybeUndefined<String>,
    pub tags: Option<Vec<String>>,
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

#[derive(InputObject)]
pub struct ReviseCasualtiesInput {
    pub incident_id: Uuid,
    /// Left out: unchanged.
    pub fatalities: Option<CountInput>,
    /// Left out: unchanged.
    pub injuries: Option<CountInput>,
    pub source: Option<SourceInput>,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RecordClaimInput {
    pub incident_id: Uuid,
    pub actor: Uuid,
    pub role: ActorRole,
    pub attribution: AttributionStatus,
    pub source: Option<SourceInput>,
    /// Needed to change how a recorded part is known.
    pub reason: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct AttachSourceInput {
    pub incident_id: Uuid,
    pub source: SourceInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct SetVerificationInput {
    pub incident_id: Uuid,
    pub status: VerificationStatus,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RetractIncidentInput {
    pub incident_id: Uuid,
    pub kind: RetractionKind,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RestoreIncidentInput {
    pub incident_id: Uuid,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct MergeIncidentsInput {
    /// The duplicate, which is folded into `into` and leaves current views.
    pub duplicate_id: Uuid,
    /// The incident that stays.
    pub into: Uuid,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// What happened, where and when, and its toll.
#[derive(InputObject)]
pub struct IncidentFactsInput {
    pub time: EventTimeInput,
    pub place: PlaceInput,
    pub event_type: EventType,
    /// Must belong to `eventType` (ACLED's table).
    pub sub_event_type: SubEventType,
    pub means: Option<Vec<Means>>,
    pub target_category: Option<TargetCategory>,
    pub fatalities: CountInput,
    /// Left out when no figure is known (not the same as zero).
    pub injuries: Option<CountInput>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    /// The same incident in other datasets (`acled:IRQ12345`).
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
        })
    }
}

/// An actor's part in an incident.
#[derive(InputObject)]
pub struct ActorInvolvementInput {
    /// A registered actor's id.
    pub actor: Uuid,
    pub role: ActorRole,
    pub attribution: AttributionStatus,
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
