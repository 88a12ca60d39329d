//! GraphQL over HTTP, as the GraphQL-over-HTTP specification asks (checked by the
//! `graphql-http` server audit, `tests/graphql_http.rs`):
//!
//! - `GET /graphql?query=…&operationName=…&variables=<json>&extensions=<json>` for queries (a
//!   mutation by GET is refused with 405, `Allow: POST`); `POST /graphql` with an
//!   `application/json` body `{query, operationName, variables, extensions}` for anything.
//! - The response's media type follows `Accept`: `application/graphql-response+json` when the
//!   client accepts it, else `application/json` (also for `*/*` or no `Accept`); 406 when it
//!   accepts neither.
//! - Status codes: a request that cannot be read (a body that is not JSON, no `query`,
//!   `variables` that are not a map) gets 400 (415 for a body that is not JSON at all). Under
//!   `application/json` every GraphQL response is 200. Under `application/graphql-response+json`
//!   an error before execution (a document that does not parse or validate, variables that do
//!   not fit) is 400 with no `data` entry; 401 or 403 when access control refused the operation,
//!   504 when it ran out of time; a response with data is 200.
//! - `POST /graphql` as `multipart/form-data` by the GraphQL multipart request spec
//!   (`operations`, `map`, one file) for a mutation that takes an `Upload` (`importIncidents`),
//!   up to [`MAX_UPLOAD_BYTES`]; such a request without a bearer token is refused (401) before
//!   its body is read. Tokens travel in a header, never in cookies, so a cross-site form cannot
//!   send one (no CSRF through this simple content type).
//! - `Authorization: Bearer <token>` says who calls ([`crate::auth`]); a token that is unknown
//!   or revoked is refused with 401 before anything runs.

use std::time::Duration;

use async_graphql::{Executor, Response as GraphQlResponse, ServerError, Variables};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{operation_class, Caller, OperationClass};
use crate::error::{code_request_errors, ApiError};
use crate::token_cache::TokenCache;

/// The largest request body accepted (a GraphQL document with its variables).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The largest multipart request accepted (a GraphQL document with one uploaded file: an
/// import's CSV, `importIncidents`): 100 MiB, about 300,000 ACLED rows. Only multipart requests
/// may be this large; every other request keeps [`MAX_BODY_BYTES`].
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// The media types a GraphQL response can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes say what went wrong.
    GraphQlResponse,
    /// `application/json`: the legacy type; every GraphQL response is 200.
    Json,
}

impl MediaType {
    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphQlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }
}

/// The media type to answer in, from `Accept`; `None` when the client accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Some(MediaType::Json);
    };
    let accept = accept.to_str().ok()?;
    let mut accepted = Vec::new();
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if !refused {
            accepted.push(media);
        }
    }
    let accepts = |media: &str| accepted.iter().any(|a| a == media);
    if accepts("application/graphql-response+json") {
        Some(MediaType::GraphQlResponse)
    } else if accepts("application/json") || accepts("application/*") || accepts("*/*") {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// A request refused before it ran: the status, the media type to answer in, and why.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    media_type: MediaType,
    message: String,
    /// The error with its `extensions.code`, when it has one.
    error: Option<ApiError>,
}

impl Rejection {
    /// What the client is told.
    pub fn message(&self) -> String {
        match &self.error {
            Some(error) => error.message(),
            None => self.message.clone(),
        }
    }

    /// A refusal with `status` and the code of `error`.
    pub fn with_error(status: StatusCode, media_type: MediaType, error: ApiError) -> Self {
        Self {
            status,
            media_type,
            message: String::new(),
            error: Some(error),
        }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code of the refusal (`BAD_REQUEST` when it has no error of its own).
    pub fn code(&self) -> &'static str {
        self.error.as_ref().map_or("BAD_REQUEST", ApiError::code)
    }

    /// A refusal with `status` and the code `BAD_REQUEST`.
    pub fn new(status: StatusCode, media_type: MediaType, message: impl Into<String>) -> Self {
        Self {
            status,
            media_type,
            message: message.into(),
            error: None,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = self.status;
        let error = match self.error {
            Some(error) => error.into_server_error(),
            None => {
                let mut error = ServerError::new(self.message, None);
                code_request_errors(std::slice::from_mut(&mut error));
                error
            }
        };
        let mut response = request_error_response(status, self.media_type, vec![error]);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sitrep\""),
            );
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// Who calls: anonymous without `Authorization`, the token's holder with a live bearer token;
/// an error response otherwise.
pub async fn caller(tokens: &TokenCache, headers: &HeaderMap) -> Result<Caller, Rejection> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    // The scheme is case-insensitive (RFC 7235).
    let secret = authorization
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(secret) = secret else {
        return Err(unauthenticated(
            "the Authorization header must be `Bearer <token>`",
        ));
    };
    caller_of_token(tokens, secret).await
}

/// The holder of the bearer token `secret`, or why there is none.
pub async fn caller_of_token(tokens: &TokenCache, secret: &str) -> Result<Caller, Rejection> {
    match tokens.holder(secret).await {
        Ok(Some(holder)) => Ok(Caller::Token(holder)),
        Ok(None) => Err(unauthenticated("the bearer token is unknown or revoked")),
        Err(error) => Err(Rejection {
            error: Some(ApiError::internal(error)),
            ..Rejection::new(StatusCode::SERVICE_UNAVAILABLE, MediaType::Json, "")
        }),
    }
}

fn unauthenticated(why: &str) -> Rejection {
    Rejection {
        error: Some(ApiError::Unauthenticated(why.to_owned())),
        ..Rejection::new(StatusCode::UNAUTHORIZED, MediaType::Json, "")
    }
}

/// The body of a POST, or the parameters of a GET.
#[derive(Deserialize)]
struct Params {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<Value>,
    extensions: Option<Value>,
}

/// A GET's parameters, where `variables` and `extensions` are JSON text.
#[derive(Deserialize)]
struct QueryString {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// Reads the GraphQL request out of an HTTP request (its method, headers and body).
pub fn read_request(
    method: &Method,
    query_string: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<async_graphql::Request, Rejection> {
    let media_type = negotiate(headers).unwrap_or(MediaType::Json);
    let bad = |why: String| Rejection::new(StatusCode::BAD_REQUEST, media_type, why);
    let params = if method == Method::GET {
        let params: QueryString = query_string_params(query_string.unwrap_or_default())
            .map_err(|e| bad(format!("the query string cannot be read: {e}")))?;
        let json = |text: Option<String>, name: &str| {
            text.map(|text| serde_json::from_str::<Value>(&text))
                .transpose()
                .map_err(|e| bad(format!("`{name}` is not JSON: {e}")))
        };
        Params {
            query: params.query,
            operation_name: params.operation_name,
            variables: json(params.variables, "variables")?,
            extensions: json(params.extensions, "extensions")?,
        }
    } else {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let unsupported =
            |why: String| Rejection::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, media_type, why);
        match content_type.as_deref() {
            Some("application/json") => {}
            Some(other) => {
                return Err(unsupported(format!(
                    "a POST body must be application/json, not {other}"
                )))
            }
            None => {
                return Err(unsupported(
                    "a POST needs Content-Type: application/json".to_owned(),
                ))
            }
        }
        serde_json::from_slice::<Params>(body)
            .map_err(|e| bad(format!("the body is not a GraphQL request in JSON: {e}")))?
    };
    let Some(query) = params.query else {
        return Err(bad("the request has no `query`".to_owned()));
    };
    let variables = match params.variables {
        None | Some(Value::Null) => Variables::default(),
        Some(variables @ Value::Object(_)) => Variables::from_json(variables),
        Some(_) => return Err(bad("`variables` must be a map".to_owned())),
    };
    let mut request = async_graphql::Request::new(query).variables(variables);
    request.operation_name = params.operation_name;
    match params.extensions {
        None | Some(Value::Null) => {}
        Some(Value::Object(extensions)) => {
            for (name, value) in extensions {
                let value = async_graphql::Value::from_json(value)
                    .map_err(|e| bad(format!("`extensions` cannot be read: {e}")))?;
                request.extensions.insert(name, value);
            }
        }
        Some(_) => return Err(bad("`extensions` must be a map".to_owned())),
    }
    Ok(request)
}

/// Whether the request is a GraphQL multipart request (the GraphQL multipart request spec: a
/// POST of `multipart/form-data` with the parts `operations`, `map` and the files).
pub fn is_multipart(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}

/// Reads a GraphQL multipart request (`operations` as JSON, `map`, at most one file of at most
/// [`MAX_UPLOAD_BYTES`]); the file is kept in a temporary file for the resolver. Anything
/// malformed is a 400.
pub async fn read_multipart_request(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<async_graphql::Request, Rejection> {
    let media_type = negotiate(headers).unwrap_or(MediaType::Json);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(MAX_UPLOAD_BYTES)
        .max_num_files(1);
    async_graphql::http::receive_body(content_type, body.as_ref(), options)
        .await
        .map_err(|e| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                media_type,
                format!("the multipart request cannot be read: {e}"),
            )
        })
}

fn query_string_params(query_string: &str) -> Result<QueryString, String> {
    let pairs = form_urlencoded::parse(query_string.as_bytes());
    let mut params = QueryString {
        query: None,
        operation_name: None,
        variables: None,
        extensions: None,
    };
    for (name, value) in pairs {
        let slot = match name.as_ref() {
            "query" => &mut params.query,
            "operationName" => &mut params.operation_name,
            "variables" => &mut params.variables,
            "extensions" => &mut params.extensions,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(format!("`{name}` is given twice"));
        }
    }
    Ok(params)
}

/// Runs `request` for `caller` and answers in `media_type`. A GET may only read.
pub async fn execute(
    executor: &impl Executor,
    method: &Method,
    mut request: async_graphql::Request,
    caller: Caller,
    media_type: MediaType,
    timeout: Duration,
) -> Response {
    if method == Method::GET {
        // A document that does not parse is answered by the execution below.
        let operation_name = request.operation_name.clone();
        if let Ok(document) = request.parsed_query() {
            if operation_class(document, operation_name.as_deref()) == Some(OperationClass::Record)
            {
                return Rejection::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    media_type,
                    "a mutation must be sent by POST",
                )
                .into_response();
            }
        }
    }
    let request = request.data(caller);
    let response = match tokio::time::timeout(timeout, executor.execute(request)).await {
        Ok(response) => response,
        Err(_) => timed_out(timeout),
    };
    let mut response = response;
    if is_request_error(&response) {
        code_request_errors(&mut response.errors);
    }
    graphql_response(response, media_type)
}

/// The answer to a request stopped after `timeout` (`TIMEOUT`), over HTTP or a WebSocket.
pub fn timed_out(timeout: Duration) -> GraphQlResponse {
    GraphQlResponse::from_errors(vec![ApiError::Timeout(format!(
        "the request ran longer than {} s and was stopped; a mutation may or may not have been \
         recorded (retry it with the same idempotencyKey)",
        timeout.as_secs()
    ))
    .into_server_error()])
}

/// Whether `response` is a request error: nothing was executed (every error is about the whole
/// request, none about a field).
fn is_request_error(response: &GraphQlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn error_code(error: &ServerError) -> Option<String> {
    let value = error.extensions.as_ref()?.get("code")?;
    match value {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// The HTTP response for a GraphQL response.
pub fn graphql_response(response: GraphQlResponse, media_type: MediaType) -> Response {
    if is_request_error(&response) {
        let status = match media_type {
            MediaType::Json => StatusCode::OK,
            MediaType::GraphQlResponse => {
                match response.errors.first().and_then(error_code).as_deref() {
                    Some("UNAUTHENTICATED") => StatusCode::UNAUTHORIZED,
                    Some("FORBIDDEN") => StatusCode::FORBIDDEN,
                    Some("TIMEOUT") => StatusCode::GATEWAY_TIMEOUT,
                    Some("INTERNAL_SERVER_ERROR") => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                }
            }
        };
        return request_error_response(status, media_type, response.errors);
    }
    json_response(StatusCode::OK, media_type, &response)
}

/// A response with only errors and no `data` entry.
pub fn request_error_response(
    status: StatusCode,
    media_type: MediaType,
    errors: Vec<ServerError>,
) -> Response {
    #[derive(Serialize)]
    struct Errors {
        errors: Vec<ServerError>,
    }
    json_response(status, media_type, &Errors { errors })
}

fn json_response(status: StatusCode, media_type: MediaType, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, Body::from(bytes)).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, media_type.header_value());
            response
        }
        Err(error) => {
            tracing::error!(%error, "a GraphQL response did not serialise");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    /// An executor that takes longer than any timeout the test sets.
    #[derive(Clone)]
    struct Sleeper;

    impl Executor for Sleeper {
        async fn execute(&self, _: async_graphql::Request) -> GraphQlResponse {
            tokio::time::sleep(Duration::from_secs(60)).await;
            GraphQlResponse::new(async_graphql::Value::Null)
        }

        fn execute_stream(
            &self,
            _: async_graphql::Request,
            _: Option<std::sync::Arc<async_graphql::Data>>,
        ) -> futures::stream::BoxStream<'static, GraphQlResponse> {
            Box::pin(futures::stream::empty())
        }
    }

    #[tokio::test]
    async fn a_request_that_runs_too_long_is_stopped_with_timeout() {
        let response = execute(
            &Sleeper,
            &Method::POST,
            async_graphql::Request::new("{ serverVersion }"),
            Caller::Anonymous,
            MediaType::GraphQlResponse,
            Duration::from_millis(50),
        )
        .await;
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT");
        assert!(body.get("data").is_none());
    }

    #[test]
    fn the_media_type_follows_accept() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept("application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(MediaType::GraphQlResponse)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(&accept("text/xml")), None);
    }
}
