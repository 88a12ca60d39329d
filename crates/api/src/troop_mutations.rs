//! The troop mutations: one per command of the domain's troop-deployment aggregate. Each runs
//! the command through [`commands::execute`] (the domain validates before anything is
//! appended; `expectedVersion`, `idempotencyKey` and read-your-writes as for every aggregate)
//! and answers with the deployment's troop level as the troop-levels read model now shows it.
//!
//! A deployment's stream id is not chosen: it is derived from the deploying country, the host
//! country and the mission (`deployment_stream_id` of the domain, which refuses any other id),
//! so `establishDeployment` takes the three and answers with the id, which the other
//! mutations take (`troopDeploymentId` gives it too). A new estimate or change may be given
//! its id by the client; left out, the id follows from the `idempotencyKey` when there is one
//! (so that a retry records the same thing), else the server picks one.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::troops::{
    self as domain, deployment_stream_id, MilestoneRef, TroopCommand, TroopDeployment,
};
use sitrep_domain::model::values::CountryCode;
use uuid::Uuid;

use crate::commands::{self, key_namespaces, new_id, CommandOptions, CommandOutcome};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::inputs::{CountInput, EventTimeInput, SourceInput};
use crate::troop_vocab::{CountQualifier, CountScope, TroopChangeKind, TroopSourceType};
use crate::troops::{find_troop_level, TroopLevel};

/// The troop mutations.
#[derive(Default)]
pub struct TroopMutation;

#[Object]
impl TroopMutation {
    /// Establishes a deployment: who deploys where, for which mission. Its id is derived from
    /// the three (one stream per deployment); refused when it is established already.
    async fn establish_deployment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deploying country, the host country and the mission.")]
        input: EstablishDeploymentInput,
    ) -> async_graphql::Result<TroopPayload> {
        // The domain checks the codes and the mission.
        let command = domain::EstablishDeployment {
            deploying: CountryCode(input.deploying),
            host: CountryCode(input.host),
            mission: input.mission,
        };
        let id = deployment_stream_id(&command.deploying, &command.host, &command.mission);
        Ok(execute(ctx, id, command.into(), &input.options, None).await?)
    }

    /// Records one source's troop level as of a date. Never replaces another estimate: the
    /// current level is chosen among all of them.
    async fn report_troop_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment and the source's estimate.")] input: ReportTroopLevelInput,
    ) -> async_graphql::Result<TroopPayload> {
        let id = input.deployment_id;
        let estimate_id = part_id(ctx, input.estimate_id, id, "estimate", &input.options);
        let command = domain::ReportTroopLevel {
            estimate_id,
            as_of: input.as_of.into_domain(),
            count: input.count.into_domain("input.count")?,
            qualifier: input.qualifier.into(),
            scope: input.scope.into(),
            source: input.source.into_domain(),
            source_type: input.source_type.into(),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(estimate_id)).await?)
    }

    /// Marks an estimate as wrong, with a reason: it stays in the history but no longer
    /// counts.
    async fn retract_estimate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment, the estimate and why it is wrong.")]
        input: RetractEstimateInput,
    ) -> async_graphql::Result<TroopPayload> {
        let command = domain::RetractEstimate {
            estimate_id: input.estimate_id,
            reason: input.reason,
        };
        let item = Some(input.estimate_id);
        Ok(execute(
            ctx,
            input.deployment_id,
            command.into(),
            &input.options,
            item,
        )
        .await?)
    }

    /// Records a planned change of the troop level (a phased drawdown), with the level it is to
    /// reach and when.
    async fn announce_troop_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment and the planned change.")] input: AnnounceTroopChangeInput,
    ) -> async_graphql::Result<TroopPayload> {
        let id = input.deployment_id;
        let change_id = part_id(ctx, input.change_id, id, "change", &input.options);
        let command = domain::AnnounceTroopChange {
            change_id,
            kind: input.kind.into(),
            target: input.target.into_domain("input.target")?,
            by: input.by.into_domain(),
            announced_on: input.announced_on.into_domain(),
            milestone: input.milestone.map(|m| MilestoneRef {
                negotiation: m.negotiation,
                milestone: m.milestone,
            }),
            source: input.source.into_domain(),
            source_type: input.source_type.into(),
        };
        Ok(execute(ctx, id, command.into(), &input.options, Some(change_id)).await?)
    }

    /// Records that an announced change was carried out (the level reached is reported as an
    /// estimate, as sources report it).
    async fn complete_troop_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment, the announced change and its completion.")]
        input: CompleteTroopChangeInput,
    ) -> async_graphql::Result<TroopPayload> {
        let command = domain::CompleteTroopChange {
            change_id: input.change_id,
            completed: input.completed.into_domain(),
            source: input.source.into_domain(),
            source_type: input.source_type.into(),
            notes: input.notes,
        };
        let item = Some(input.change_id);
        Ok(execute(
            ctx,
            input.deployment_id,
            command.into(),
            &input.options,
            item,
        )
        .await?)
    }

    /// Records that an announced change was called off, with a reason.
    async fn cancel_troop_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment, the announced change and why it was called off.")] input: CancelTroopChangeInput,
    ) -> async_graphql::Result<TroopPayload> {
        let command = domain::CancelTroopChange {
            change_id: input.change_id,
            reason: input.reason,
            cancelled_on: input.cancelled_on.map(EventTimeInput::into_domain),
        };
        let item = Some(input.change_id);
        Ok(execute(
            ctx,
            input.deployment_id,
            command.into(),
            &input.options,
            item,
        )
        .await?)
    }
}

/// The id of a new estimate or change (`what`) of deployment `deployment`: the client's, else
/// one that follows from the idempotency key (a retry names the same one), else a new one.
fn part_id(
    ctx: &Context<'_>,
    given: Option<Uuid>,
    deployment: Uuid,
    what: &str,
    options: &CommandOptions,
) -> Uuid {
    let scope = format!("{deployment}/{what}/");
    new_id(ctx, given, &key_namespaces::TROOPS, &scope, options)
}

/// Runs `command` on deployment `id` and answers with the payload (`item`: the id of the
/// estimate or change the command records or changes).
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: TroopCommand,
    options: &CommandOptions,
    item: Option<Uuid>,
) -> Result<TroopPayload, ApiError> {
    let outcome = commands::execute::<TroopDeployment>(ctx, id, &command, options).await?;
    Ok(TroopPayload {
        item_id: item,
        ..TroopPayload::from(outcome)
    })
}

/// What every troop mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TroopPayload {
    /// The deployment changed.
    pub deployment_id: Uuid,
    /// The id of the estimate or change recorded or changed (the client's, or the one the
    /// server chose); null for `establishDeployment`.
    pub item_id: Option<Uuid>,
    /// The deployment's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    /// When the change was recorded (give it as `asOf` to read what was known then).
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `troopLevel` may not show it yet.
    pub caught_up: bool,
}

impl From<CommandOutcome> for TroopPayload {
    fn from(outcome: CommandOutcome) -> Self {
        let caught_up = outcome.caught_up();
        Self {
            deployment_id: outcome.stream_id,
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
impl TroopPayload {
    /// The deployment's troop level as the troop-levels read model shows it now (null if it is
    /// not there yet).
    async fn troop_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TroopLevel>> {
        let pool = ctx
            .data::<ApiContext>()
            .map_err(|e| ApiError::internal(e.message))?
            .store
            .pool();
        Ok(find_troop_level(pool, self.deployment_id, None).await?)
    }
}

/// A new deployment.
#[derive(InputObject)]
pub struct EstablishDeploymentInput {
    /// The deploying country, ISO 3166 alpha-3 (`USA`).
    pub deploying: String,
    /// The host country, ISO 3166 alpha-3 (`IRQ`); not the deploying one.
    pub host: String,
    /// The mission ("Operation Inherent Resolve").
    pub mission: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// One source's troop level.
#[derive(InputObject)]
pub struct ReportTroopLevelInput {
    /// The deployment (see `troopDeploymentId`).
    pub deployment_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub estimate_id: Option<Uuid>,
    /// The time the figure describes (not when it was published).
    pub as_of: EventTimeInput,
    /// The figure, or its range.
    pub count: CountInput,
    /// How the source qualified it; `EXACTLY` needs one figure.
    pub qualifier: CountQualifier,
    /// Which personnel it counts.
    #[graphql(default_with = "CountScope::Unknown")]
    pub scope: CountScope,
    /// Where the figure comes from.
    pub source: SourceInput,
    /// What kind of source that is.
    pub source_type: TroopSourceType,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An estimate found wrong.
#[derive(InputObject)]
pub struct RetractEstimateInput {
    /// The deployment.
    pub deployment_id: Uuid,
    /// The estimate, reported in this deployment and not retracted yet.
    pub estimate_id: Uuid,
    /// Why it is wrong.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A negotiation's timeline milestone.
#[derive(InputObject)]
pub struct MilestoneRefInput {
    /// The negotiation's id (it must exist).
    pub negotiation: Uuid,
    /// The milestone's id within it.
    pub milestone: Uuid,
}

/// A planned change of the troop level.
#[derive(InputObject)]
pub struct AnnounceTroopChangeInput {
    /// The deployment.
    pub deployment_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server.
    pub change_id: Option<Uuid>,
    /// Which way it moves troops.
    pub kind: TroopChangeKind,
    /// The level it is to reach.
    pub target: CountInput,
    /// When it is to be done; it must not end before the announcement.
    pub by: EventTimeInput,
    /// When it was announced.
    pub announced_on: EventTimeInput,
    /// The negotiation milestone it carries out, where there is one.
    pub milestone: Option<MilestoneRefInput>,
    /// Where the announcement comes from.
    pub source: SourceInput,
    /// What kind of source that is.
    pub source_type: TroopSourceType,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A change carried out.
#[derive(InputObject)]
pub struct CompleteTroopChangeInput {
    /// The deployment.
    pub deployment_id: Uuid,
    /// The change, announced and neither completed nor cancelled.
    pub change_id: Uuid,
    /// When it was completed; it must not end before the announcement.
    pub completed: EventTimeInput,
    /// Where the completion is reported.
    pub source: SourceInput,
    /// What kind of source that is.
    pub source_type: TroopSourceType,
    /// Anything else to know.
    pub notes: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A change called off.
#[derive(InputObject)]
pub struct CancelTroopChangeInput {
    /// The deployment.
    pub deployment_id: Uuid,
    /// The change, announced and neither completed nor cancelled.
    pub change_id: Uuid,
    /// Why it was called off.
    pub reason: String,
    /// When it was called off.
    pub cancelled_on: Option<EventTimeInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}
