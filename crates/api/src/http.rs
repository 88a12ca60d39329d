//! The axum router: `/graphql` (GraphQL over HTTP, see [`crate::graphql_http`], and GraphiQL for
//! a browser; subscriptions over WebSocket), `/healthz`, `/readyz`, `/metrics` and the incident
//! exports (`/export/incidents.geojson`, `.csv`, `.acled.csv`, see [`crate::exports`]); every
//! request passes [`crate::request_log::observe`].

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::GraphQLProtocol;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts as _, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::{json, Value};
use sitrep_domain::store::EventStore;
use sitrep_interchange::export::ExportFormat;
use sitrep_projections::status::statuses;
use tokio::sync::{watch, Semaphore};

use crate::auth::{AccessPolicy, Caller, OperationClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::exports::{export_incidents, ExportServer, MAX_CONCURRENT_EXPORTS};
use crate::graphql_http::{self, MediaType, Rejection, MAX_BODY_BYTES, MAX_UPLOAD_BYTES};
use crate::metrics::Metrics;
use crate::request_log::observe;
use crate::schema::{build_schema, SitrepSchema};
use crate::token_cache::TokenCache;
use crate::websocket::{serve_connection, TimedExecutor};

/// A read model further behind than this makes the server not ready.
pub const READY_MAX_LAG: Duration = Duration::from_secs(30);

/// What the server is built from: the store and its settings.
#[derive(Clone)]
pub struct AppState {
    pub store: EventStore,
    /// Who may do what without a token.
    pub access: AccessPolicy,
    /// A GraphQL request running longer than this is stopped (`TIMEOUT`).
    pub request_timeout: Duration,
    /// The same for an upload (a multipart request: an import of a whole file).
    pub upload_timeout: Duration,
    /// Becomes true when the server shuts down: open subscriptions are closed then.
    pub shutdown: watch::Receiver<bool>,
    /// How long a mutation waits for the read models to apply its events (read-your-writes);
    /// zero answers at once (`caughtUp` then says whether they happened to have applied them).
    pub read_your_writes: Duration,
}

impl AppState {
    /// The server over `store` with the default settings: anonymous reads allowed, 30 s per
    /// request.
    pub fn new(store: EventStore) -> Self {
        Self {
            store,
            access: AccessPolicy::default(),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(900),
            shutdown: watch::channel(false).1,
            read_your_writes: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
struct Served {
    store: EventStore,
    tokens: TokenCache,
    metrics: Metrics,
    schema: SitrepSchema,
    request_timeout: Duration,
    upload_timeout: Duration,
    shutdown: watch::Receiver<bool>,
    access: AccessPolicy,
    /// The exports streaming now.
    exports: Arc<Semaphore>,
    /// The uploads (imports) being read or run now.
    uploads: Arc<Semaphore>,
}

/// The most uploads (each up to [`MAX_UPLOAD_BYTES`], an import each) a server reads and runs at
/// once; more are answered 503, so that uploads cannot take the server's memory.
pub const MAX_CONCURRENT_UPLOADS: usize = 2;

/// The whole HTTP surface of sitrep.
pub fn router(state: AppState) -> Router {
    let mut context = ApiContext::new(state.store.clone());
    context.access = state.access;
    context.read_your_writes = state.read_your_writes;
    let metrics = context.metrics.clone();
    let served = Served {
        tokens: TokenCache::new(state.store.clone()),
        store: state.store,
        metrics: metrics.clone(),
        schema: build_schema(context),
        request_timeout: state.request_timeout,
        upload_timeout: state.upload_timeout,
        shutdown: state.shutdown,
        access: state.access,
        exports: Arc::new(Semaphore::new(MAX_CONCURRENT_EXPORTS)),
        uploads: Arc::new(Semaphore::new(MAX_CONCURRENT_UPLOADS)),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/graphql", get(graphql).post(graphql))
        .route("/metrics", get(metrics_text))
        .route("/export/incidents.geojson", get(export_geojson))
        .route("/export/incidents.csv", get(export_csv))
        .route("/export/incidents.acled.csv", get(export_acled))
        .with_state(served)
        .layer(middleware::from_fn_with_state(metrics, observe))
}

/// GraphiQL for a browser (a GET that accepts HTML), subscriptions for a WebSocket upgrade,
/// GraphQL over HTTP otherwise.
async fn graphql(State(served): State<Served>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        let (mut parts, _) = request.into_parts();
        return subscriptions(served, &mut parts).await;
    }
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if request.method() == Method::GET && wants_html {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    let (parts, body) = request.into_parts();
    let Some(media_type) = graphql_http::negotiate(&parts.headers) else {
        return Rejection::new(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "sitrep answers GraphQL as application/graphql-response+json or application/json",
        )
        .into_response();
    };
    let multipart = graphql_http::is_multipart(&parts.method, &parts.headers);
    // An upload is read only for a caller allowed to record (uploads serve imports, and a large
    // body is not read for anyone else), and only while fewer than MAX_CONCURRENT_UPLOADS run;
    // the permit is held until the request is answered.
    let mut _upload_permit = None;
    let early_caller = if multipart {
        match graphql_http::caller(&served.tokens, &parts.headers).await {
            Ok(Caller::Anonymous) => {
                return Rejection::with_error(
                    StatusCode::UNAUTHORIZED,
                    media_type,
                    ApiError::Unauthenticated(
                        "a bearer token is needed to upload a file".to_owned(),
                    ),
                )
                .into_response()
            }
            Ok(caller) => {
                if let Err(error) = served.access.authorize(&caller, OperationClass::Record) {
                    return Rejection::with_error(StatusCode::FORBIDDEN, media_type, error)
                        .into_response();
                }
                match served.uploads.clone().try_acquire_owned() {
                    Ok(permit) => _upload_permit = Some(permit),
                    Err(_) => {
                        return Rejection::with_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            media_type,
                            ApiError::Unavailable(format!(
                                "an upload slot ({MAX_CONCURRENT_UPLOADS} run at once)"
                            )),
                        )
                        .into_response()
                    }
                }
                Some(caller)
            }
            Err(rejection) => return rejection.into_response(),
        }
    } else {
        None
    };
    let limit = if multipart {
        MAX_UPLOAD_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let too_large = error
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, message) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a request body may hold at most {limit} bytes"),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read".to_owned(),
                )
            };
            return Rejection::new(status, media_type, message).into_response();
        }
    };
    let caller = match early_caller {
        Some(caller) => caller,
        None => match graphql_http::caller(&served.tokens, &parts.headers).await {
            Ok(caller) => caller,
            Err(rejection) => return rejection.into_response(),
        },
    };
    let request = if multipart {
        graphql_http::read_multipart_request(&parts.headers, &bytes).await
    } else {
        graphql_http::read_request(&parts.method, parts.uri.query(), &parts.headers, &bytes)
    };
    let request = match request {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    // An import of a file runs as long as the file needs, within its own limit; a multipart
    // request without a file is an ordinary request.
    let timeout = if multipart && !request.uploads.is_empty() {
        served.upload_timeout
    } else {
        served.request_timeout
    };
    graphql_http::execute(
        &served.schema,
        &parts.method,
        request,
        caller,
        media_type,
        timeout,
    )
    .await
}

async fn export_geojson(State(served): State<Served>, request: Request) -> Response {
    export(served, ExportFormat::GeoJson, request).await
}

async fn export_csv(State(served): State<Served>, request: Request) -> Response {
    export(served, ExportFormat::Csv, request).await
}

async fn export_acled(State(served): State<Served>, request: Request) -> Response {
    export(served, ExportFormat::Acled, request).await
}

/// The incidents as a file of `format` (see [`crate::exports`]).
async fn export(served: Served, format: ExportFormat, request: Request) -> Response {
    let server = ExportServer {
        pool: served.store.pool(),
        tokens: &served.tokens,
        access: served.access,
        running: &served.exports,
    };
    export_incidents(server, format, request.headers(), request.uri().query()).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// GraphQL subscriptions over a WebSocket, in either protocol (`graphql-transport-ws` or the
/// legacy `graphql-ws`, chosen by `Sec-WebSocket-Protocol`). The caller is named by the
/// upgrade request's `Authorization` header or by the `connection_init` payload
/// (`{"Authorization": "Bearer <token>"}`); a bad token closes the connection. A message may
/// hold at most [`MAX_BODY_BYTES`], a connection at most
/// [`crate::subscriptions::MAX_PER_CONNECTION`] subscriptions. Queries and mutations sent over
/// the socket have the request timeout; a revoked token's connection and every connection at
/// shutdown are closed (see [`crate::websocket`]).
async fn subscriptions(served: Served, parts: &mut Parts) -> Response {
    let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let protocol = match GraphQLProtocol::from_request_parts(parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (
                status,
                "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
            )
                .into_response()
        }
    };
    let header_caller = match graphql_http::caller(&served.tokens, &parts.headers).await {
        Ok(caller) => caller,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| {
            serve_connection(
                socket,
                TimedExecutor::new(served.schema, served.request_timeout),
                protocol,
                served.tokens,
                header_caller,
                served.shutdown,
            )
        })
}

/// The Prometheus text exposition; the read models' lags are read now (left out, with a warning
/// in the log, when the database does not answer).
async fn metrics_text(State(served): State<Served>) -> Response {
    let projections = statuses(served.store.pool()).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "metrics: cannot read the read models' status");
        Vec::new()
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        served.metrics.render(&projections),
    )
        .into_response()
}

/// 200 when the database answers, 503 otherwise; the body says which.
async fn healthz(State(served): State<Served>) -> (StatusCode, Json<Value>) {
    match sqlx::query("SELECT 1").execute(served.store.pool()).await {
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

/// 200 when the database answers and every read model is live and within [`READY_MAX_LAG`] of
/// the log; 503 otherwise, naming the read models that lag or are not built yet.
async fn readyz(State(served): State<Served>) -> (StatusCode, Json<Value>) {
    let statuses = match statuses(served.store.pool()).await {
        Ok(statuses) => statuses,
        Err(error) => {
            tracing::warn!(%error, "readiness check: database unreachable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            );
        }
    };
    // A read model with no live generation yet (a server just started) is not ready either.
    let missing = sitrep_projections::all()
        .into_iter()
        .filter(|projection| !statuses.iter().any(|s| s.projection == projection.name()))
        .map(|projection| json!({ "projection": projection.name(), "live": false }));
    let lagging: Vec<Value> = statuses
        .iter()
        .filter(|s| s.seconds_behind > READY_MAX_LAG.as_secs_f64())
        .map(|s| {
            json!({
                "projection": s.projection,
                "eventsBehind": s.events_behind,
                "secondsBehind": s.seconds_behind,
            })
        })
        .chain(missing)
        .collect();
    if lagging.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "catching up", "lagging": lagging })),
        )
    }
}
