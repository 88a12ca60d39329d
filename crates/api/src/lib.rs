//! sitrep's HTTP surface: one GraphQL endpoint for dashboards, recorders and auditors, and the
//! health check that deployments probe.
//!
//! - [`schema`]: the GraphQL schema (its SDL is checked in as `schema.graphql`);
//! - [`auth`]: roles, who a request comes from, and the check before every operation;
//! - [`tokens`]: the bearer tokens (issued, revoked, stored hashed);
//!   [`token_cache`]: the live tokens a server remembers, forgotten on each revocation;
//! - [`commands`]: how a mutation runs a domain command (options, author, read-your-writes);
//! - [`inputs`]: inputs for values several aggregates share (time, place, count, source);
//! - [`context`]: what resolvers use (the store, the command handler, the read-your-writes wait);
//! - [`error`]: the errors and their stable codes (`extensions.code`);
//! - [`scalars`]: `BigInt` and the incident list's opaque cursor;
//! - [`vocab`]: the domain's vocabularies as GraphQL enums;
//! - [`status`]: the status of the read models (`projectionStatus`);
//! - `read_models`: where resolvers find a read model's live generation;
//! - [`integrity`]: `verifyIntegrity`, the audit query over the log's hash links and seals;
//! - [`projection_audit`]: `compareProjections`, each live read model beside a fresh build from
//!   the log (auditors and admins);
//! - [`incidents`]: the incident list, one incident, and the statistics;
//! - [`incident_mutations`]: one mutation per incident command;
//! - [`import_mutations`]: `importIncidents`, an ACLED or UCDP export uploaded and synced;
//! - [`graphql_http`]: GraphQL over HTTP (media types by `Accept`, status codes, bearer tokens);
//! - [`events`]: events of the log as GraphQL objects, and the filter that picks them;
//! - [`audit`]: the audit queries (`events`, `history`, `stateAt`), auditors and admins only;
//! - [`history`]: a stream's versions with the field-level changes each made, as GraphQL;
//! - [`subscriptions`]: `eventRecorded` and `incidentReported`, live from the ordered feed;
//! - [`websocket`]: one WebSocket connection: its time limit for queries and mutations, and its
//!   close when its token is revoked or the server stops;
//! - [`metrics`]: the Prometheus metrics at `/metrics`;
//! - [`request_log`]: request ids, the span and log line of each request, its metrics;
//! - [`actors`]: the actor list, one actor (affiliations, counts, incidents), an incident's
//!   actors; [`actor_mutations`]: one mutation per actor command;
//! - [`sites`]: the site list and one site; [`site_mutations`]: one mutation per site command;
//! - [`actor_vocab`]: the actors' and sites' vocabularies as GraphQL enums;
//! - [`loaders`]: the batch loaders of related objects (no N+1 queries);
//! - [`outputs`]: output objects for values several read models share (a span of days, a
//!   figure within a range);
//! - [`negotiation_vocab`]: the negotiation aggregate's vocabularies as GraphQL enums;
//! - [`negotiations`]: the negotiation list and one negotiation, with sessions, working groups,
//!   positions, milestones and agreements;
//! - [`negotiation_loader`]: the batched loading of those parts (no N+1 over a list);
//! - [`negotiation_mutations`]: one mutation per negotiation command;
//! - [`troop_vocab`]: the troop-deployment aggregate's vocabularies as GraphQL enums;
//! - [`troops`]: the current troop levels with their competing estimates, and their history as
//!   time series;
//! - [`troop_mutations`]: one mutation per troop-deployment command;
//! - [`wakers`]: `NOTIFY` turned into wake-ups shared by every request (feed, read models);
//! - [`exports`]: the incident exports over HTTP (GeoJSON, CSV, ACLED's columns), streamed;
//! - [`http`]: the axum router that serves it.

pub mod actor_mutations;
pub mod actor_vocab;
pub mod actors;
pub mod audit;
pub mod auth;
pub mod commands;
pub mod context;
pub mod error;
pub mod events;
pub mod exports;
pub mod graphql_http;
pub mod history;
pub mod http;
pub mod import_mutations;
pub mod incident_mutations;
pub mod incidents;
pub mod inputs;
pub mod integrity;
pub mod loaders;
pub mod metrics;
pub mod negotiation_loader;
pub mod negotiation_mutations;
pub mod negotiation_vocab;
pub mod negotiations;
pub mod outputs;
pub mod projection_audit;
mod read_models;
pub mod request_log;
pub mod scalars;
pub mod schema;
pub mod site_mutations;
pub mod sites;
pub mod status;
pub mod subscriptions;
pub mod token_cache;
pub mod tokens;
pub mod troop_mutations;
pub mod troop_vocab;
pub mod troops;
pub mod vocab;
pub mod wakers;
pub mod websocket;

pub use context::ApiContext;
pub use error::ApiError;
pub use http::{router, AppState};
pub use schema::{build_schema, build_schema_for, SitrepSchema};
