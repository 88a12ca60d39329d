//! The export routes: `GET /export/incidents.geojson`, `/export/incidents.csv` and
//! `/export/incidents.acled.csv`, the incidents a filter selects as GeoJSON, CSV or ACLED's
//! columns (see `sitrep_interchange::export`), for dashboards and GIS tools that fetch a file.
//!
//! - Who may: the same as a GraphQL query (a bearer token of any role, or none when the server
//!   allows anonymous reads): 401 `UNAUTHENTICATED` (with `WWW-Authenticate`), 403 `FORBIDDEN`.
//! - Parameters: `country`, `admin1`, `eventType` (each may repeat), `from`, `to`, `actor`,
//!   `asOf`; a bad or unknown one is 400 `BAD_USER_INPUT` naming it.
//! - The body is streamed a page of incidents at a time from one snapshot, so an export of any
//!   size takes bounded memory; it holds one database connection while it streams, for as long
//!   as the client takes to read it (the GraphQL request timeout does not apply). So that
//!   exports cannot take every connection of the pool, a server runs at most
//!   [`MAX_CONCURRENT_EXPORTS`] at once; another is 503 `UNAVAILABLE` until one ends. An error
//!   after the first bytes (the database went away) cuts the body short, which the client sees
//!   as an incomplete transfer, and is logged.
//!
//! Errors before the body are JSON: `{"error": {"code", "message", "field"?}}`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt as _;
use serde_json::{json, Value};
use sitrep_interchange::export::{Export, ExportError, ExportFormat, ExportRequest};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::auth::{AccessPolicy, OperationClass};
use crate::error::ApiError;
use crate::graphql_http;
use crate::request_log::current_request_id;
use crate::token_cache::TokenCache;

/// How many exports a server streams at once.
pub const MAX_CONCURRENT_EXPORTS: usize = 4;

/// What an export request needs from the server.
pub struct ExportServer<'a> {
    pub pool: &'a PgPool,
    pub tokens: &'a TokenCache,
    pub access: AccessPolicy,
    /// One permit per export streaming now ([`MAX_CONCURRENT_EXPORTS`]).
    pub running: &'a Arc<Semaphore>,
}

/// Answers `GET` of the export of `format` with the query string `query`.
pub async fn export_incidents(
    server: ExportServer<'_>,
    format: ExportFormat,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response {
    let caller = match graphql_http::caller(server.tokens, headers).await {
        Ok(caller) => caller,
        Err(rejection) => {
            return error_response(
                rejection.status(),
                rejection.code(),
                rejection.message(),
                None,
            )
        }
    };
    if let Err(error) = server.access.authorize(&caller, OperationClass::Read) {
        return api_error_response(error);
    }
    let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    let request = match ExportRequest::from_query(format, pairs) {
        Ok(request) => request,
        Err(error) => return export_error_response(error),
    };
    // Held until the body is read to its end or dropped.
    let Ok(permit) = server.running.clone().try_acquire_owned() else {
        return api_error_response(ApiError::Unavailable(format!(
            "a server streams at most {MAX_CONCURRENT_EXPORTS} exports at once: another export"
        )));
    };
    let export = match Export::start(server.pool, &request).await {
        Ok(export) => export,
        Err(error) => return export_error_response(error),
    };
    let request_id = current_request_id();
    let body = export.into_stream().inspect_err(move |error| {
        let _running = &permit;
        tracing::error!(request_id = request_id.as_deref().unwrap_or(""), %error, "export cut short");
    });
    let disposition = format!("attachment; filename=\"{}\"", format.file_name());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The response of an export refused before its body.
fn export_error_response(error: ExportError) -> Response {
    match error {
        ExportError::BadParameter { field, message } => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!("invalid {field}: {message}"),
            Some(field),
        ),
        ExportError::Unavailable(what) => {
            api_error_response(ApiError::Unavailable(what.to_owned()))
        }
        other => api_error_response(ApiError::internal(other)),
    }
}

fn api_error_response(error: ApiError) -> Response {
    let status = match &error {
        ApiError::BadUserInput { .. } | ApiError::BadFile { .. } => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
        ApiError::Conflict { .. }
        | ApiError::ConcurrentChange(_)
        | ApiError::AlreadyExists { .. } => StatusCode::CONFLICT,
        ApiError::InvalidState { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Internal(detail) => {
            let request_id = current_request_id().unwrap_or_else(|| Uuid::new_v4().to_string());
            tracing::error!(%request_id, error = %detail, "internal error answering an export");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                format!("internal server error (request id {request_id})"),
                None,
            );
        }
    };
    let field = match &error {
        ApiError::BadUserInput { field, .. } => Some(field.clone()),
        _ => None,
    };
    error_response(status, error.code(), error.message(), field)
}

/// `{"error": {"code", "message", "field"?}}` with `status` (and `WWW-Authenticate` on 401).
fn error_response(
    status: StatusCode,
    code: &str,
    message: String,
    field: Option<String>,
) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let (Some(field), Value::Object(object)) = (field, &mut error) {
        object.insert("field".to_owned(), Value::String(field));
    }
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sitrep\""),
        );
    }
    response
}
