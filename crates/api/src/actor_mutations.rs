//! The actor mutations: one per command of the domain's actor aggregate (`ActorCommand`). Each
//! runs through [`crate::commands::execute`] (the domain validates before anything is appended,
//! `expectedVersion` and `idempotencyKey` are honoured, the read models are waited for) and
//! answers with the actor as the actors read model then shows it.
//!
//! Inputs mirror the domain's commands field for field, so the domain's field paths come back
//! as paths into the input (`input.relatedActor`). The handler checks the rules that need the
//! actor's own id (`ActorCommand::check_for_actor`, through `Aggregate::check_identity`: an
//! actor is not affiliated with itself) and that a related actor exists.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::actor::{self as domain, Actor as ActorAggregate, ActorCommand};
use sitrep_domain::model::values::CountryCode;
use uuid::Uuid;

use crate::actor_vocab::{ActorType, AffiliationRelation};
use crate::actors::{find_actor, Actor};
use crate::commands::{self, key_namespaces, new_id, CommandOptions, CommandOutcome};
use crate::error::ApiError;
use crate::inputs::SourceInput;

/// The actor mutations.
#[derive(Default)]
pub struct ActorMutation;

#[Object]
impl ActorMutation {
    /// Registers a new actor (`actorId` may be chosen by the client; when left out it follows
    /// from `idempotencyKey` if there is one, else the server picks one). An actor id
    /// registered already is refused with `ALREADY_EXISTS`.
    async fn register_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new actor.")] input: RegisterActorInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::RegisterActor(domain::RegisterActor {
            name: input.name,
            actor_type: input.actor_type.into(),
            // The domain checks the code.
            country: input.country.map(CountryCode),
            aliases: input.aliases.unwrap_or_default(),
            description: input.description,
        });
        let outcome = commands::execute_new::<ActorAggregate>(
            ctx,
            input.actor_id,
            &key_namespaces::ACTOR,
            "",
            &command,
            &input.options,
        )
        .await?;
        Ok(ActorPayload::from(outcome))
    }

    /// Renames an actor, with a reason; the previous name becomes an alias (unless the two
    /// differ only in case), and an alias equal to the new name stops being one. Renaming to
    /// the current name is refused with `INVALID_STATE`.
    async fn rename_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, its new name and why.")] input: RenameActorInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::RenameActor(domain::RenameActor {
            name: input.name,
            reason: input.reason,
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Adds another name or spelling of an actor. Its name, or an alias it has (case aside),
    /// is refused with `INVALID_STATE`.
    async fn add_actor_alias(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor and the new alias.")] input: AddActorAliasInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::AddAlias(domain::AddActorAlias { alias: input.alias });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Removes an alias (matched case aside), with a reason. An alias the actor does not have
    /// is refused with `INVALID_STATE`.
    async fn remove_actor_alias(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, the alias and why.")] input: RemoveActorAliasInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::RemoveAlias(domain::RemoveActorAlias {
            alias: input.alias,
            reason: input.reason,
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Corrects an actor's type, with a reason. The type it has is refused with
    /// `INVALID_STATE`.
    async fn change_actor_type(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, its corrected type and why.")] input: ChangeActorTypeInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::ChangeActorType(domain::ChangeActorType {
            actor_type: input.actor_type.into(),
            reason: input.reason,
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Corrects an actor's country or description (the fields given), with a reason. Refused
    /// with `INVALID_STATE` when every field given equals the current one.
    async fn amend_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, the corrections and why.")] input: AmendActorInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::AmendActor(domain::AmendActor {
            country: input.country.map(CountryCode),
            description: input.description,
            reason: input.reason,
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Records how an actor stands to another one from a date on (`affiliationId` may be chosen
    /// by the client; when left out it follows from `idempotencyKey` if there is one, else the
    /// server picks one). Refused with `INVALID_STATE` when the id was used already, or an
    /// affiliation with the same related actor and relation overlaps the period.
    async fn record_affiliation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, the related actor, the relation and its period.")]
        input: RecordAffiliationInput,
    ) -> async_graphql::Result<ActorPayload> {
        let affiliation_id = new_id(
            ctx,
            input.affiliation_id,
            &key_namespaces::AFFILIATION,
            "",
            &input.options,
        );
        let command = ActorCommand::RecordAffiliation(domain::RecordAffiliation {
            affiliation_id,
            related_actor: input.related_actor,
            relation: input.relation.into(),
            from: input.from,
            until: input.until,
            source: input.source.map(SourceInput::into_domain),
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Records the last day an affiliation held, with a reason. Refused with `INVALID_STATE`
    /// when it has ended already, or is not one of the actor's (or was retracted).
    async fn end_affiliation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, the affiliation, its last day and why.")]
        input: EndAffiliationInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::EndAffiliation(domain::EndAffiliation {
            affiliation_id: input.affiliation_id,
            until: input.until,
            reason: input.reason,
            source: input.source.map(SourceInput::into_domain),
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }

    /// Withdraws an affiliation recorded in error (it never held), with a reason; its id stays
    /// used. Refused with `INVALID_STATE` when it is not one of the actor's (or was retracted
    /// already).
    async fn retract_affiliation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor, the affiliation and why.")] input: RetractAffiliationInput,
    ) -> async_graphql::Result<ActorPayload> {
        let command = ActorCommand::RetractAffiliation(domain::RetractAffiliation {
            affiliation_id: input.affiliation_id,
            reason: input.reason,
        });
        Ok(execute(ctx, input.actor_id, command, &input.options).await?)
    }
}

/// Runs `command` on actor `id` and answers with the payload.
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: ActorCommand,
    options: &CommandOptions,
) -> Result<ActorPayload, ApiError> {
    let outcome = commands::execute::<ActorAggregate>(ctx, id, &command, options).await?;
    Ok(ActorPayload::from(outcome))
}

/// What every actor mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ActorPayload {
    /// The actor changed (or registered).
    pub actor_id: Uuid,
    /// The actor's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    /// When the events were recorded.
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `actor` may not show it yet.
    pub caught_up: bool,
}

impl From<CommandOutcome> for ActorPayload {
    fn from(outcome: CommandOutcome) -> Self {
        let caught_up = outcome.caught_up();
        Self {
            actor_id: outcome.stream_id,
            version: outcome.version,
            event_ids: outcome.event_ids,
            recorded_at: outcome.recorded_at,
            replayed: outcome.replayed,
            caught_up,
        }
    }
}

#[ComplexObject]
impl ActorPayload {
    /// The actor as the actors read model shows it now (null if it is not there yet).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Actor>> {
        find_actor(ctx, self.actor_id, None).await
    }
}

/// A new actor.
#[derive(InputObject)]
pub struct RegisterActorInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry registers the same actor), else picked by the server.
    pub actor_id: Option<Uuid>,
    /// The name it is best known by ("Islamic Resistance in Iraq").
    pub name: String,
    /// ACLED's actor type.
    pub actor_type: ActorType,
    /// The country it is from or mainly active in (ISO 3166 alpha-3), if it has one.
    pub country: Option<String>,
    /// Other names and spellings: unique case aside, and not the name.
    pub aliases: Option<Vec<String>>,
    /// What it is, in a few words (at most 10,000 characters).
    pub description: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A new name for an actor.
#[derive(InputObject)]
pub struct RenameActorInput {
    /// The actor.
    pub actor_id: Uuid,
    /// The new name: not the current one; at most 300 characters.
    pub name: String,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Another name or spelling of an actor.
#[derive(InputObject)]
pub struct AddActorAliasInput {
    /// The actor.
    pub actor_id: Uuid,
    /// The new alias: neither the name nor an alias the actor has (case aside); at most 300
    /// characters.
    pub alias: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An alias to remove (matched case aside).
#[derive(InputObject)]
pub struct RemoveActorAliasInput {
    /// The actor.
    pub actor_id: Uuid,
    /// The alias to remove, matched case aside: one the actor has.
    pub alias: String,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A corrected actor type.
#[derive(InputObject)]
pub struct ChangeActorTypeInput {
    /// The actor.
    pub actor_id: Uuid,
    /// The corrected type: not the one the actor has.
    pub actor_type: ActorType,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Corrections of an actor's country or description: the fields given replace the current
/// ones, the others stay.
#[derive(InputObject)]
pub struct AmendActorInput {
    /// The actor.
    pub actor_id: Uuid,
    /// ISO 3166 alpha-3.
    pub country: Option<String>,
    /// What it is, in a few words (at most 10,000 characters).
    pub description: Option<String>,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// How an actor stands to another actor, from a date on.
#[derive(InputObject)]
pub struct RecordAffiliationInput {
    /// The affiliated actor.
    pub actor_id: Uuid,
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one, else
    /// picked by the server. Names the affiliation in later mutations.
    pub affiliation_id: Option<Uuid>,
    /// The other actor's id (a registered actor, not `actorId`).
    pub related_actor: Uuid,
    /// How `actorId` stands to `relatedActor`.
    pub relation: AffiliationRelation,
    /// The first day it held, if known (left out: since before any date known).
    pub from: Option<NaiveDate>,
    /// The last day it held, when it is already known to have ended (not before `from`).
    pub until: Option<NaiveDate>,
    /// Where the affiliation is reported.
    pub source: Option<SourceInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The last day an affiliation held.
#[derive(InputObject)]
pub struct EndAffiliationInput {
    /// The affiliated actor (the one the affiliation was recorded on).
    pub actor_id: Uuid,
    /// The affiliation: recorded on this actor, not retracted, not ended yet.
    pub affiliation_id: Uuid,
    /// Not before its first day.
    pub until: NaiveDate,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    /// Where the end is reported.
    pub source: Option<SourceInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// An affiliation recorded in error.
#[derive(InputObject)]
pub struct RetractAffiliationInput {
    /// The affiliated actor (the one the affiliation was recorded on).
    pub actor_id: Uuid,
    /// The affiliation: recorded on this actor and not retracted.
    pub affiliation_id: Uuid,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}
