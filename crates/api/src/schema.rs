//! The GraphQL schema. Clients code against its SDL, `schema.graphql` at the workspace root,
//! which is generated from this module (`sitrep schema`) and checked by a test.

use async_graphql::connection::Connection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, MergedObject, Object, Result, Schema};
use sitrep_domain::store::EventStore;

use crate::actor_mutations::ActorMutation;
use crate::actors::{Actor, ActorQuery, NameCursorText};
use crate::audit::AuditQuery;
use crate::auth::AccessControl;
use crate::context::ApiContext;
use crate::error::{ApiError, ErrorCodes};
use crate::events::RecordedEvent;
use crate::history::HistoryLoader;
use crate::import_mutations::ImportMutation;
use crate::incident_mutations::IncidentMutation;
use crate::incidents::{Incident, IncidentQuery, IncidentTotal};
use crate::integrity::IntegrityQuery;
use crate::loaders::ReadModelLoader;
use crate::negotiation_loader::NegotiationLoader;
use crate::negotiation_mutations::NegotiationMutation;
use crate::negotiations::{Negotiation, NegotiationListCursor, NegotiationQuery, NegotiationTotal};
use crate::projection_audit::ProjectionAuditQuery;
use crate::request_log::spawn_in_request;
use crate::scalars::{BigInt, FeedCursor, IncidentCursor};
use crate::site_mutations::SiteMutation;
use crate::sites::{Site, SiteQuery};
use crate::status::StatusQuery;
use crate::subscriptions::SubscriptionRoot;
use crate::troop_mutations::TroopMutation;
use crate::troops::TroopQuery;

/// The schema type served at `/graphql`.
pub type SitrepSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The read side of the API.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    ServerQuery,
    StatusQuery,
    IncidentQuery,
    ActorQuery,
    SiteQuery,
    NegotiationQuery,
    TroopQuery,
    IntegrityQuery,
    AuditQuery,
    ProjectionAuditQuery,
);

/// The write side: one mutation per command of the domain.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    IncidentMutation,
    ActorMutation,
    SiteMutation,
    NegotiationMutation,
    TroopMutation,
    ImportMutation,
);

/// About the server and the log.
#[derive(Default)]
pub struct ServerQuery;

#[Object]
impl ServerQuery {
    /// The version of the sitrep server answering.
    async fn server_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The global position of the latest event stored (0 when the log is empty).
    async fn latest_position(&self, ctx: &Context<'_>) -> Result<BigInt> {
        let store = &ctx.data::<ApiContext>()?.store;
        Ok(BigInt(
            store.latest_position().await.map_err(ApiError::from)?,
        ))
    }
}

/// The schema with its data: the context, and the batch loaders of related objects (they batch
/// the keys a level of a query asks for and cache nothing, so no read-model data outlives the
/// batch it was loaded for; see [`crate::loaders`] and [`crate::negotiation_loader`]).
pub fn build_schema(context: ApiContext) -> SitrepSchema {
    let related = ReadModelLoader::new(context.store.pool().clone());
    let negotiation_parts = NegotiationLoader::new(context.store.pool().clone());
    let histories = HistoryLoader::new(context.store.clone());
    schema_builder()
        .data(DataLoader::new(histories, spawn_in_request))
        .data(DataLoader::new(related, spawn_in_request))
        .data(DataLoader::new(negotiation_parts, spawn_in_request))
        .data(context)
        .finish()
}

/// The schema over `store` with the default settings.
pub fn build_schema_for(store: EventStore) -> SitrepSchema {
    build_schema(ApiContext::new(store))
}

fn schema_builder() -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .extension(ErrorCodes)
    .extension(AccessControl)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    // The Relay connection types async-graphql generates take no description of their own (a
    // type's doc comment cannot reach them): they get one here. Their edges and `PageInfo`
    // come described by async-graphql.
    .override_output_type_description::<Connection<IncidentCursor, Incident, IncidentTotal>>(
        "A page of the incident list (`incidents`), with how many incidents the filter selects \
         in all (`totalCount`).",
    )
    .override_output_type_description::<Connection<FeedCursor, RecordedEvent>>(
        "A page of the event log (`events`), in feed order.",
    )
    .override_output_type_description::<Connection<NameCursorText, Actor>>(
        "A page of the actor list (`actors`), by name.",
    )
    .override_output_type_description::<Connection<NameCursorText, Site>>(
        "A page of the site list (`sites`), by name.",
    )
    .override_output_type_description::<
        Connection<NegotiationListCursor, Negotiation, NegotiationTotal>,
    >(
        "A page of the negotiation list (`negotiations`), with how many negotiations the \
         filter selects in all (`totalCount`).",
    )
}

/// How deep a query may nest.
pub const MAX_DEPTH: usize = 12;
/// How many fields a query may ask for in all, a paginated list's fields counted once per item
/// it may hold (`first`): `incidents(first: 500)` with 20 fields costs 10,000.
pub const MAX_COMPLEXITY: usize = 10_000;

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    without_data().sdl()
}

/// The schema with no data behind it: enough for its SDL and for introspection, nothing else.
pub fn without_data() -> SitrepSchema {
    schema_builder().finish()
}
