//! The negotiation mutations: one per command of the domain's negotiation aggregate. Each runs
//! the command through [`commands::execute`] (the domain validates before anything is
//! appended; `expectedVersion`, `idempotencyKey` and read-your-writes as for every aggregate)
//! and answers with the negotiation as the negotiations read model now shows it.
//!
//! Inputs mirror the domain's commands field for field, and by name, so that the domain's field
//! paths in errors are paths into the input (`input.parties[1].actor`). A new negotiation,
//! session, working group, milestone or agreement may be given its id by the client; left out,
//! the id follows from the `idempotencyKey` when there is one (so that a retry records the same
//! thing), else the server picks one. The payload's `itemId` says which id the recorded part
//! got.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::negotiation::{
    self as domain, Negotiation as NegotiationAggregate, NegotiationCommand, Participant,
};
use uuid::Uuid;

use crate::commands::{self, key_namespaces, new_id, CommandOptions, CommandOutcome};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::inputs::{EventTimeInput, PlaceInput, SourceInput};
use crate::negotiation_vocab::{
    AgreementStage, AgreementStatus, AgreementType, MilestoneStatus, NegotiationStatus,
    SessionLevel,
};
use crate::negotiations::{find_negotiation, Negotiation};

/// The negotiation mutations.
#[derive(Default)]
pub struct NegotiationMutation;

#[Object]
impl NegotiationMutation {
    /// Opens a negotiation between at least two parties; it starts active. `negotiationId`
    /// may be chosen by the client (so that a retry cannot open it twice); otherwise it
    /// follows from `idempotencyKey`, or the server picks one.
    async fn open_negotiation(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The new negotiation: its title, topic, parties, mediators and opening date."
        )]
        input: OpenNegotiationInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let command = domain::OpenNegotiation {
            title: input.title,
            topic: input.topic,
            parties: participants(input.parties),
            mediators: participants(input.mediators.unwrap_or_default()),
            opened_on: input.opened_on.into_domain(),
        };
        // A retry must land on the same negotiation: its id follows from the key.
        let outcome = commands::execute_new::<NegotiationAggregate>(
            ctx,
            input.negotiation_id,
            &key_namespaces::NEGOTIATION,
            "open/",
            &command.into(),
            &input.options,
        )
        .await?;
        Ok(NegotiationPayload::from(outcome))
    }

    /// Records a session held. Only while the negotiation is active.
    async fn record_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation and the session held.")] input: RecordSessionInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let id = input.negotiation_id;
        let session_id = part_id(ctx, input.session_id, id, "session", &input.options);
        let command = domain::RecordSession {
            session_id,
            held: input.held.into_domain(),
            venue: input.venue.map(PlaceInput::into_domain),
            level: input.level.into(),
            working_group: input.working_group,
            participants: participants(input.participants.unwrap_or_default()),
            summary: input.summary,
            outcome: input.outcome,
            sources: sources(input.sources),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(session_id)).await?)
    }

    /// Forms a working group (the expert working groups of a military commission). Only while
    /// the negotiation is active; its name must be new in the negotiation.
    async fn form_working_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation and the working group formed.")]
        input: FormWorkingGroupInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let id = input.negotiation_id;
        let group_id = part_id(ctx, input.group_id, id, "working group", &input.options);
        let command = domain::FormWorkingGroup {
            group_id,
            name: input.name,
            mandate: input.mandate,
            members: participants(input.members.unwrap_or_default()),
            formed_on: input.formed_on.map(EventTimeInput::into_domain),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(group_id)).await?)
    }

    /// Records a position a party or mediator stated. Allowed while the negotiation is active
    /// or suspended.
    async fn state_position(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation, the party or mediator, and what it said.")]
        input: StatePositionInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let command = domain::StatePosition {
            party: input.party,
            position: input.position,
            stated_on: input.stated_on.into_domain(),
            source: input.source.into_domain(),
        };
        Ok(execute(
            ctx,
            input.negotiation_id,
            command.into(),
            &input.options,
            None,
        )
        .await?)
    }

    /// Records a timeline commitment: a milestone with its due date (a phased drawdown). Only
    /// while the negotiation is active; the milestone starts pending.
    async fn commit_timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation and the milestone committed to.")]
        input: CommitTimelineInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let id = input.negotiation_id;
        let milestone_id = part_id(ctx, input.milestone_id, id, "milestone", &input.options);
        let command = domain::CommitTimeline {
            milestone_id,
            description: input.description,
            due: input.due.into_domain(),
            committed_on: input.committed_on.into_domain(),
            source: input.source.into_domain(),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(milestone_id)).await?)
    }

    /// Changes a milestone's status, with a reason (met, missed, postponed to a new due date,
    /// cancelled). Allowed in every status of the negotiation.
    async fn set_milestone_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation, the milestone, its new status and why.")]
        input: SetMilestoneStatusInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let command = domain::SetMilestoneStatus {
            milestone_id: input.milestone_id,
            status: input.status.into(),
            reason: input.reason,
            effective_on: input.effective_on.map(EventTimeInput::into_domain),
            new_due: input.new_due.map(EventTimeInput::into_domain),
        };
        let milestone = Some(input.milestone_id);
        Ok(execute(
            ctx,
            input.negotiation_id,
            command.into(),
            &input.options,
            milestone,
        )
        .await?)
    }

    /// Records an agreement reached. Only while the negotiation is active.
    async fn record_agreement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation and the agreement reached.")] input: RecordAgreementInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let id = input.negotiation_id;
        let agreement_id = part_id(ctx, input.agreement_id, id, "agreement", &input.options);
        let command = domain::RecordAgreement {
            agreement_id,
            name: input.name,
            status: input.status.into(),
            agreement_type: input.agreement_type.into(),
            stage: input.stage.into(),
            signed_on: input.signed_on.into_domain(),
            provisions: input.provisions.unwrap_or_default(),
            sources: sources(input.sources),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(agreement_id)).await?)
    }

    /// Changes the negotiation's status, with a reason (suspends, concludes or collapses the
    /// talks; setting a concluded or collapsed negotiation active reopens it).
    async fn set_negotiation_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation, its new status and why.")]
        input: SetNegotiationStatusInput,
    ) -> async_graphql::Result<NegotiationPayload> {
        let command = domain::SetNegotiationStatus {
            status: input.status.into(),
            reason: input.reason,
            effective_on: input.effective_on.map(EventTimeInput::into_domain),
        };
        Ok(execute(
            ctx,
            input.negotiation_id,
            command.into(),
            &input.options,
            None,
        )
        .await?)
    }
}

/// The id of a new part (`what`) of negotiation `negotiation`: the client's, else one that
/// follows from the idempotency key (a retry names the same part), else a new one.
fn part_id(
    ctx: &Context<'_>,
    given: Option<Uuid>,
    negotiation: Uuid,
    what: &str,
    options: &CommandOptions,
) -> Uuid {
    let scope = format!("{negotiation}/{what}/");
    new_id(ctx, given, &key_namespaces::NEGOTIATION, &scope, options)
}

fn participants(inputs: Vec<ParticipantInput>) -> Vec<Participant> {
    inputs
        .into_iter()
        .map(|p| Participant {
            name: p.name,
            actor: p.actor,
        })
        .collect()
}

fn sources(inputs: Option<Vec<SourceInput>>) -> Vec<sitrep_domain::model::values::Source> {
    inputs
        .unwrap_or_default()
        .into_iter()
        .map(SourceInput::into_domain)
        .collect()
}

/// Runs `command` on negotiation `id` and answers with the payload (`item`: the id of the
/// part the command records or changes).
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: NegotiationCommand,
    options: &CommandOptions,
    item: Option<Uuid>,
) -> Result<NegotiationPayload, ApiError> {
    let outcome = commands::execute::<NegotiationAggregate>(ctx, id, &command, options).await?;
    Ok(NegotiationPayload {
        item_id: item,
        ..NegotiationPayload::from(outcome)
    })
}

/// What every negotiation mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct NegotiationPayload {
    /// The negotiation changed.
    pub negotiation_id: Uuid,
    /// The id of the session, working group, milestone or agreement recorded or changed (the
    /// client's, or the one the server chose); null for the other mutations.
    pub item_id: Option<Uuid>,
    /// The negotiation's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    /// When the change was recorded (give it as `asOf` to read what was known then).
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `negotiation` may not show it yet.
    pub caught_up: bool,
}

impl From<CommandOutcome> for NegotiationPayload {
    fn from(outcome: CommandOutcome) -> Self {
        let caught_up = outcome.caught_up();
        Self {
            negotiation_id: outcome.stream_id,
            item_id: None,
            version: outcome.version,
            event_ids: outcome.event_ids,
            recorded_at: outcome.recorded_at,
            replayed: outcome.replayed,
            caught_up,
        }
    }
}

#[ComplexObject]
impl NegotiationPayload {
    /// The negotiation as the negotiations read model shows it now (null if it is not there
    /// yet).
    async fn negotiation(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Negotiation>> {
        let pool = ctx
            .data::<ApiContext>()
            .map_err(|e| ApiError::internal(e.message))?
            .store
            .pool();
        Ok(find_negotiation(pool, self.negotiation_id, None).await?)
    }
}

/// A party, mediator, member or participant: a name, and the actor's id once it is
/// registered.
#[derive(InputObject)]
pub struct ParticipantInput {
    /// The name (compared without regard to case or spacing).
    pub name: String,
    /// A registered actor's id.
    pub actor: Option<Uuid>,
}

/// A new negotiation.
#[derive(InputObject)]
pub struct OpenNegotiationInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry opens the same negotiation), else picked by the server.
    pub negotiation_id: Option<Uuid>,
    /// What the process is called.
    pub title: String,
    /// What the talks are about.
    pub topic: String,
    /// At least two, each named once.
    pub parties: Vec<ParticipantInput>,
    /// Mediators and other third parties; none of them also a party.
    pub mediators: Option<Vec<ParticipantInput>>,
    /// When the talks opened.
    pub opened_on: EventTimeInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A session held.
#[derive(InputObject)]
pub struct RecordSessionInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub session_id: Option<Uuid>,
    /// When it was held; it must not end before the negotiation opened.
    pub held: EventTimeInput,
    /// Where it was held.
    pub venue: Option<PlaceInput>,
    /// The level it was held at.
    pub level: SessionLevel,
    /// The id of the working group meeting: required when the level is `WORKING_GROUP` (a
    /// group formed in this negotiation), left out otherwise.
    pub working_group: Option<Uuid>,
    /// Who took part, each named once.
    pub participants: Option<Vec<ParticipantInput>>,
    /// What happened.
    pub summary: Option<String>,
    /// What came of it.
    pub outcome: Option<String>,
    /// Where the facts come from.
    pub sources: Option<Vec<SourceInput>>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A working group formed.
#[derive(InputObject)]
pub struct FormWorkingGroupInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub group_id: Option<Uuid>,
    /// Its name, new in the negotiation.
    pub name: String,
    /// What it is to work on ("the threat from ISIS").
    pub mandate: String,
    /// Its members, each named once.
    pub members: Option<Vec<ParticipantInput>>,
    /// When it was formed.
    pub formed_on: Option<EventTimeInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A position stated.
#[derive(InputObject)]
pub struct StatePositionInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// The name of one of the negotiation's parties or mediators.
    pub party: String,
    /// What it said.
    pub position: String,
    /// When it said it.
    pub stated_on: EventTimeInput,
    /// Where the statement is reported.
    pub source: SourceInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A timeline commitment.
#[derive(InputObject)]
pub struct CommitTimelineInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub milestone_id: Option<Uuid>,
    /// What is to happen.
    pub description: String,
    /// When it is due; it must not end before the commitment was made.
    pub due: EventTimeInput,
    /// When the parties committed to it.
    pub committed_on: EventTimeInput,
    /// Where the commitment is reported.
    pub source: SourceInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A milestone's new status.
#[derive(InputObject)]
pub struct SetMilestoneStatusInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// The milestone, committed to in this negotiation.
    pub milestone_id: Uuid,
    /// The new status; setting the one it has is refused, except postponing a postponed
    /// milestone again to a new date.
    pub status: MilestoneStatus,
    /// Why it changed.
    pub reason: String,
    /// When it changed in the world (met on, postponed on).
    pub effective_on: Option<EventTimeInput>,
    /// The new due date of a postponed milestone, ending after the current one; only with
    /// `POSTPONED`.
    pub new_due: Option<EventTimeInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An agreement reached.
#[derive(InputObject)]
pub struct RecordAgreementInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub agreement_id: Option<Uuid>,
    /// Its name.
    pub name: String,
    /// How it was reached.
    pub status: AgreementStatus,
    /// PA-X's type.
    pub agreement_type: AgreementType,
    /// PA-X's stage.
    pub stage: AgreementStage,
    /// When it was signed.
    pub signed_on: EventTimeInput,
    /// What it provides, provision by provision.
    pub provisions: Option<Vec<String>>,
    /// Where it is reported.
    pub sources: Option<Vec<SourceInput>>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The negotiation's new status.
#[derive(InputObject)]
pub struct SetNegotiationStatusInput {
    /// The negotiation.
    pub negotiation_id: Uuid,
    /// The new status; setting the one it has is refused, and a concluded or collapsed
    /// negotiation can only be set active again (reopened).
    pub status: NegotiationStatus,
    /// Why it changed.
    pub reason: String,
    /// When it changed in the world.
    pub effective_on: Option<EventTimeInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}
