//! How a mutation runs a command of the domain: the options every mutation input takes
//! (`expectedVersion`, `idempotencyKey`, `correlationId`), the one path from a command to the
//! command handler (which validates before it appends), and the read-your-writes wait after it.
//!
//! Every mutation of every aggregate goes through [`execute`], so the rules about who may
//! record, who is written down as the author and how long a mutation waits for the read models
//! live in one place.

use std::sync::Arc;

use async_graphql::{Context, InputObject};
use chrono::{DateTime, Utc};
use sitrep_domain::handler::{CommandMeta, Executed};
use sitrep_domain::model::aggregate::Aggregate;
use sitrep_projections::status::{wait_until_reached_woken, LiveCheckpoints};
use uuid::Uuid;

use crate::auth::{Caller, OperationClass};
use crate::context::ApiContext;
use crate::error::ApiError;

/// The namespaces of ids derived from an idempotency key (UUID v5 of the key), one per kind of
/// thing a mutation creates, so that one key given to two different mutations never derives
/// the same id. Fixed forever: a retry after an upgrade must derive the id its first request did.
pub mod key_namespaces {
    use uuid::Uuid;

    pub const INCIDENT: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0001);
    pub const ACTOR: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0002);
    pub const AFFILIATION: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0003);
    pub const SITE: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0004);
    /// Negotiations and the sessions, groups, milestones and agreements inside them (each
    /// under a prefix of its own).
    pub const NEGOTIATION: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0005);
    /// Troop estimates and changes (each under a prefix of its own).
    pub const TROOPS: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0006);

    pub const ALL: [Uuid; 6] = [INCIDENT, ACTOR, AFFILIATION, SITE, NEGOTIATION, TROOPS];
}

/// The id of something a mutation creates: the client's (`given`), else one derived from the
/// caller's idempotency key, else a fresh one (see [`derive_id`]).
pub fn new_id(
    ctx: &Context<'_>,
    given: Option<Uuid>,
    namespace: &Uuid,
    scope: &str,
    options: &CommandOptions,
) -> Uuid {
    let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
    derive_id(caller.name(), given, namespace, scope, options)
}

/// The id of something `author` creates: the client's (`given`), else one derived from the
/// idempotency key (UUID v5 in `namespace` of the author, `scope` and the key, so that a retry
/// by the same author lands on the same one, and another author's key of the same text on
/// another), else a fresh one. `scope` tells apart the things one namespace holds (the parts of
/// one negotiation, say); it is empty where the namespace holds one kind of thing.
pub fn derive_id(
    author: &str,
    given: Option<Uuid>,
    namespace: &Uuid,
    scope: &str,
    options: &CommandOptions,
) -> Uuid {
    match (given, &options.idempotency_key) {
        (Some(id), _) => id,
        // The author's and the scope's lengths first, so that no two (author, scope, key)
        // triples name alike (a key that looks like a scope cannot pass for one).
        (None, Some(key)) => Uuid::new_v5(
            namespace,
            format!("{}:{author}/{}:{scope}{key}", author.len(), scope.len()).as_bytes(),
        ),
        (None, None) => Uuid::now_v7(),
    }
}

/// Conditions every mutation accepts.
#[derive(InputObject, Default, Debug)]
pub struct CommandOptions {
    /// The version of the changed entity the client based the change on; a different version
    /// fails with `CONFLICT` (saying the actual one) and changes nothing.
    pub expected_version: Option<i32>,
    /// A key the client makes up for this request (at most 200 bytes): a retry with the same
    /// key returns the first answer and appends nothing. Keys are each token's own: another
    /// token's request with the same key is another request.
    pub idempotency_key: Option<String>,
    /// Ties this change to others of one piece of work (an import, an editor's session).
    pub correlation_id: Option<Uuid>,
}

impl CommandOptions {
    fn meta(&self, recorded_by: &str) -> Result<CommandMeta, ApiError> {
        let expected_version = self
            .expected_version
            .map(|v| {
                u64::try_from(v).map_err(|_| {
                    ApiError::bad_input("input.expectedVersion", "must not be negative")
                })
            })
            .transpose()?;
        Ok(CommandMeta {
            recorded_by: recorded_by.to_owned(),
            expected_version,
            idempotency_key: self.idempotency_key.clone(),
            correlation_id: self.correlation_id,
            causation_id: None,
        })
    }
}

/// What a command did, as every mutation's payload reports it.
#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// The stream (the entity's id) the command ran on.
    pub stream_id: Uuid,
    /// The entity's version after the command (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// The reading of the projections' checkpoints that showed the change applied (none when
    /// the wait ended first): the generations it names hold the change, so a payload reads
    /// its entity there without asking for the live generation again.
    pub applied_in: Option<Arc<LiveCheckpoints>>,
}

impl CommandOutcome {
    /// Whether the read models had applied the change before the answer.
    pub fn caught_up(&self) -> bool {
        self.applied_in.is_some()
    }
}

/// Runs `command` on the aggregate in stream `id`, then waits (at most the server's
/// read-your-writes wait) for the read models to apply what it appended.
pub async fn execute<A: Aggregate>(
    ctx: &Context<'_>,
    id: Uuid,
    command: &A::Command,
    options: &CommandOptions,
) -> Result<CommandOutcome, ApiError> {
    run::<A>(ctx, id, Stream::Named, command, options).await
}

/// [`execute`] for a command that creates its stream, under the id [`new_id`] gives for
/// `given`, `namespace` and `scope`. When the server makes that id up (the client named none
/// and sent no idempotency key), no stored stream can hold it, and the handler appends without
/// reading the stream first ([`CommandHandler::execute_on_fresh_id`]).
///
/// [`CommandHandler::execute_on_fresh_id`]: sitrep_domain::handler::CommandHandler::execute_on_fresh_id
pub async fn execute_new<A: Aggregate>(
    ctx: &Context<'_>,
    given: Option<Uuid>,
    namespace: &Uuid,
    scope: &str,
    command: &A::Command,
    options: &CommandOptions,
) -> Result<CommandOutcome, ApiError> {
    let id = new_id(ctx, given, namespace, scope, options);
    let stream = match (given, &options.idempotency_key) {
        (None, None) => Stream::MadeUp,
        _ => Stream::Named,
    };
    run::<A>(ctx, id, stream, command, options).await
}

/// Where a command's stream id came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// The client's, or derived from its key: the stream may exist.
    Named,
    /// Made up by the server for this request ([`derive_id`]'s fresh UUID).
    MadeUp,
}

/// [`execute`] and [`execute_new`].
async fn run<A: Aggregate>(
    ctx: &Context<'_>,
    id: Uuid,
    stream: Stream,
    command: &A::Command,
    options: &CommandOptions,
) -> Result<CommandOutcome, ApiError> {
    let api = api_context(ctx)?;
    let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
    // Checked before the operation ran too (`AccessControl`); checked here again because this
    // is where a change is recorded, and the author recorded is the caller's token's name.
    api.access.authorize(caller, OperationClass::Record)?;
    let meta = options.meta(caller.name())?;
    let executed: Executed<A> = match stream {
        Stream::Named => api.handler.execute(id, command, &meta).await?,
        Stream::MadeUp => api.handler.execute_on_fresh_id(id, command, &meta).await?,
    };
    if !executed.replayed {
        api.metrics
            .appended(A::STREAM_TYPE, executed.event_ids.len());
    }
    let checkpoints = api.checkpoint_watch();
    let applied_in = wait_until_reached_woken(
        api.store.pool(),
        Some(executed.feed_end),
        api.read_your_writes,
        Some(&checkpoints),
        Some(&api.projections_reading(A::STREAM_TYPE)),
    )
    .await
    .ok();
    Ok(CommandOutcome {
        stream_id: id,
        version: i32::try_from(executed.version).unwrap_or(i32::MAX),
        event_ids: executed.event_ids,
        recorded_at: executed.recorded_at,
        replayed: executed.replayed,
        applied_in,
    })
}

/// The schema's data.
pub fn api_context<'a>(ctx: &Context<'a>) -> Result<&'a ApiContext, ApiError> {
    ctx.data::<ApiContext>()
        .map_err(|e| ApiError::internal(e.message))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::{derive_id, key_namespaces, CommandOptions};

    #[test]
    fn new_ids_are_the_clients_else_follow_from_the_authors_key_else_fresh() {
        let keyed = CommandOptions {
            idempotency_key: Some("tower-22".into()),
            ..CommandOptions::default()
        };
        let id = |author: &str, namespace: &Uuid, scope: &str, options: &CommandOptions| {
            derive_id(author, None, namespace, scope, options)
        };
        let given = Uuid::from_u128(7);
        assert_eq!(
            derive_id("desk", Some(given), &key_namespaces::INCIDENT, "", &keyed),
            given
        );
        let derived = id("desk", &key_namespaces::INCIDENT, "", &keyed);
        assert_eq!(derived, id("desk", &key_namespaces::INCIDENT, "", &keyed));
        assert_eq!(
            derived,
            Uuid::new_v5(&key_namespaces::INCIDENT, b"4:desk/0:tower-22"),
            "fixed forever: retries after an upgrade derive the same id"
        );
        assert_ne!(derived, id("field", &key_namespaces::INCIDENT, "", &keyed));
        assert_ne!(derived, id("desk", &key_namespaces::ACTOR, "", &keyed));
        assert_ne!(
            derived,
            id("desk", &key_namespaces::INCIDENT, "open/", &keyed)
        );
        // A key that looks like a scope does not pass for one.
        let scoped_key = CommandOptions {
            idempotency_key: Some("open/tower-22".into()),
            ..CommandOptions::default()
        };
        assert_ne!(
            id("desk", &key_namespaces::INCIDENT, "open/", &keyed),
            id("desk", &key_namespaces::INCIDENT, "", &scoped_key)
        );
        let fresh = CommandOptions::default();
        assert_ne!(
            id("desk", &key_namespaces::INCIDENT, "", &fresh),
            id("desk", &key_namespaces::INCIDENT, "", &fresh)
        );
    }

    #[test]
    fn every_kind_of_derived_id_has_a_namespace_of_its_own() {
        let mut namespaces = key_namespaces::ALL.to_vec();
        namespaces.sort();
        namespaces.dedup();
        assert_eq!(namespaces.len(), key_namespaces::ALL.len());
    }
}
