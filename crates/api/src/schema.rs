//! The GraphQL schema. Clients code against its SDL, `schema.graphql` at the workspace root,
//! which is generated from this module (`sitrep schema`) and checked by a test.

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Result, Schema};
use sitrep_domain::store::EventStore;

/// The schema type served at `/graphql`.
pub type SitrepSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// The read side of the API.
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The version of the sitrep server answering.
    async fn server_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The global position of the latest event stored (0 when the log is empty).
    async fn latest_position(&self, ctx: &Context<'_>) -> Result<i64> {
        let store = ctx.data::<EventStore>()?;
        Ok(store.latest_position().await?)
    }
}

/// The schema with its data: the event store.
pub fn build_schema(store: EventStore) -> SitrepSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .data(store)
        .finish()
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
