//! sitrep's HTTP surface: one GraphQL endpoint for dashboards, recorders and auditors, and the
//! health check that deployments probe.
//!
//! - [`schema`]: the GraphQL schema (its SDL is checked in as `schema.graphql`);
//! - [`http`]: the axum router that serves it.

pub mod http;
pub mod schema;

pub use http::{router, AppState};
pub use schema::{build_schema, SitrepSchema};
