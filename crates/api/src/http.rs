//! The axum router: `POST/GET /graphql` and `GET /healthz`.

use async_graphql_axum::GraphQL;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sitrep_domain::store::EventStore;

use crate::schema::build_schema_for;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    pub store: EventStore,
}

/// The whole HTTP surface of sitrep.
pub fn router(state: AppState) -> Router {
    let schema = build_schema_for(state.store.clone());
    Router::new()
        .route("/healthz", get(healthz))
        .route_service("/graphql", GraphQL::new(schema))
        .with_state(state)
}

/// 200 when the database answers, 503 otherwise; the body says which.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match sqlx::query("SELECT 1").execute(state.store.pool()).await {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}
