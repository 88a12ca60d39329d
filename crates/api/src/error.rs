//! The API's errors, each with the stable code clients branch on (`extensions.code`).
//!
//! | code | when | extensions |
//! |---|---|---|
//! | `BAD_USER_INPUT` | an input breaks a rule | `field` (a path into the input), `rule` |
//! | `BAD_USER_INPUT` | an uploaded file, or rows of it, cannot be imported (`importIncidents`) | `field` (`file`), `rule`, `rejectedRows` (at most 50: `line`, `column`, `rule`), `rejectedTotal` |
//! | `CONFLICT` | `expectedVersion` is not the stream's version | `expectedVersion`, `actualVersion` |
//! | `CONFLICT` | another writer changed what an import read; nothing was recorded: retry | |
//! | `INVALID_STATE` | the record's current state refuses the change (amending a retracted incident) | `rule` |
//! | `ALREADY_EXISTS` | a command that creates a record names one that exists | |
//! | `NOT_FOUND` | no such record | |
//! | `UNAUTHENTICATED` | the operation needs a bearer token and the request has none (or a dead one) | |
//! | `FORBIDDEN` | the token's role does not allow the operation | |
//! | `BAD_REQUEST` | the HTTP request cannot be read as a GraphQL request, or names no operation of its document | |
//! | `TIMEOUT` | the request ran longer than the server allows | |
//! | `UNAVAILABLE` | a read model is not built yet; try again | |
//! | `INTERNAL_SERVER_ERROR` | anything else: logged with a request id, which is all the client sees | `requestId` |
//!
//! async-graphql itself answers malformed requests with `GRAPHQL_PARSE_FAILED` and
//! `GRAPHQL_VALIDATION_FAILED`.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions as _, Response, ServerError, ServerResult, ValidationResult, Variables,
};
use futures::stream::BoxStream;
use futures::StreamExt as _;
use sitrep_domain::handler::HandlerError;
use sitrep_domain::model::DomainError;
use sitrep_domain::store::StoreError;
use sitrep_projections::ProjectionError;
use uuid::Uuid;

use crate::request_log::current_request_id;

/// The most rejected rows an error lists (`rejectedTotal` says how many there were).
pub const MAX_LISTED_ROWS: usize = 50;

/// Why a request was not answered.
///
/// It has no `Display` on purpose: async-graphql turns any `Display` error into a GraphQL error
/// without extensions, so `?` on an `ApiError` must go through the `From` below, which adds the
/// code and the details.
#[derive(Debug)]
pub enum ApiError {
    BadUserInput {
        field: String,
        rule: String,
    },
    /// A file that cannot be imported, or rows of it (`rows` at most [`MAX_LISTED_ROWS`]
    /// of `total`, each line, column and rule).
    BadFile {
        rule: String,
        rows: Vec<(u64, String, String)>,
        total: usize,
    },
    Conflict {
        expected: u64,
        actual: u64,
    },
    /// Another writer changed what the request read: nothing was recorded; retry.
    ConcurrentChange(String),
    InvalidState {
        rule: String,
    },
    AlreadyExists {
        what: String,
    },
    NotFound {
        what: String,
    },
    Unavailable(String),
    Unauthenticated(String),
    Forbidden(String),
    Timeout(String),
    /// Logged, never shown: the client sees only the request id.
    Internal(String),
}

impl ApiError {
    /// A rule broken by the input at `field` (a GraphQL path such as `input.facts.place`).
    pub fn bad_input(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    /// What the client reads in `message`.
    pub fn message(&self) -> String {
        match self {
            Self::BadUserInput { field, rule } => format!("invalid {field}: {rule}"),
            Self::BadFile { rule, .. } => format!("invalid file: {rule}"),
            Self::ConcurrentChange(why) => why.clone(),
            Self::Conflict { expected, actual } => {
                format!("version conflict: expected version {expected}, the record is at {actual}")
            }
            Self::InvalidState { rule } => rule.clone(),
            Self::AlreadyExists { what } => format!("{what} exists already"),
            Self::NotFound { what } => format!("{what} not found"),
            Self::Unavailable(what) => format!("{what} is not available yet; try again shortly"),
            Self::Unauthenticated(why) | Self::Forbidden(why) | Self::Timeout(why) => why.clone(),
            Self::Internal(detail) => format!("internal error: {detail}"),
        }
    }

    /// The stable code of `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput { .. } | Self::BadFile { .. } => "BAD_USER_INPUT",
            Self::Conflict { .. } | Self::ConcurrentChange(_) => "CONFLICT",
            Self::InvalidState { .. } => "INVALID_STATE",
            Self::AlreadyExists { .. } => "ALREADY_EXISTS",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Timeout(_) => "TIMEOUT",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl ApiError {
    /// The error as a request-level GraphQL error (no path, no location), for checks that run
    /// before execution.
    pub fn into_server_error(self) -> ServerError {
        let error = async_graphql::Error::from(self);
        let mut server_error = ServerError::new(error.message, None);
        server_error.extensions = error.extensions;
        server_error
    }
}

/// The domain's field paths are snake_case paths into the command (`facts.sub_event_type`);
/// clients know the input's camelCase names (`input.facts.subEventType`).
fn input_path(domain_path: &str) -> String {
    let camel: Vec<String> = domain_path
        .split('.')
        .map(|segment| {
            let mut out = String::with_capacity(segment.len());
            let mut upper = false;
            for c in segment.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect();
    format!("input.{}", camel.join("."))
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { field, rule } => Self::BadUserInput {
                field: input_path(&field),
                rule,
            },
            DomainError::InvalidState { rule } => Self::InvalidState { rule },
            DomainError::NotFound { what } => Self::NotFound {
                what: what.to_owned(),
            },
            DomainError::AlreadyExists { what } => Self::AlreadyExists {
                what: what.to_owned(),
            },
        }
    }
}

impl From<HandlerError> for ApiError {
    fn from(error: HandlerError) -> Self {
        match error {
            HandlerError::Rejected(error) => error.into(),
            HandlerError::Conflict {
                expected, actual, ..
            } => Self::Conflict { expected, actual },
            HandlerError::KeyReused { .. } => Self::bad_input(
                "input.idempotencyKey",
                "was already used for a different request",
            ),
            HandlerError::WrongStreamType { requested, .. } => Self::NotFound {
                what: requested.to_owned(),
            },
            error @ (HandlerError::Unreadable { .. }
            | HandlerError::Unencodable(_)
            | HandlerError::Store(_)) => Self::internal(error),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        Self::internal(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(error)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        if let ApiError::Internal(detail) = &error {
            let request_id = current_request_id().unwrap_or_else(|| Uuid::new_v4().to_string());
            tracing::error!(%request_id, error = %detail, "internal error answering a request");
            return async_graphql::Error::new(format!(
                "internal server error (request id {request_id})"
            ))
            .extend_with(|_, e| {
                e.set("code", "INTERNAL_SERVER_ERROR");
                e.set("requestId", request_id.as_str());
            });
        }
        async_graphql::Error::new(error.message()).extend_with(|_, e| {
            e.set("code", error.code());
            match &error {
                ApiError::BadUserInput { field, rule } => {
                    e.set("field", field.as_str());
                    e.set("rule", rule.as_str());
                }
                ApiError::BadFile { rule, rows, total } => {
                    e.set("field", "file");
                    e.set("rule", rule.as_str());
                    let listed: Vec<async_graphql::Value> = rows
                        .iter()
                        .map(|(line, column, rule)| {
                            let mut row = async_graphql::indexmap::IndexMap::new();
                            row.insert(async_graphql::Name::new("line"), (*line).into());
                            row.insert(async_graphql::Name::new("column"), column.as_str().into());
                            row.insert(async_graphql::Name::new("rule"), rule.as_str().into());
                            async_graphql::Value::Object(row)
                        })
                        .collect();
                    e.set("rejectedRows", async_graphql::Value::List(listed));
                    e.set("rejectedTotal", *total as u64);
                }
                ApiError::Conflict { expected, actual } => {
                    e.set("expectedVersion", *expected);
                    e.set("actualVersion", *actual);
                }
                ApiError::InvalidState { rule } => e.set("rule", rule.as_str()),
                _ => {}
            }
        })
    }
}

/// Gives the errors async-graphql raises itself their stable codes: `GRAPHQL_PARSE_FAILED` for
/// a document that does not parse, `GRAPHQL_VALIDATION_FAILED` for one that does not fit the
/// schema (an unknown field, a value of the wrong type), `BAD_USER_INPUT` for an argument that
/// fails to convert while a field runs (`Failed to parse …`). Any other error that reaches the
/// response without a code is a bug of ours: it is logged and answered as
/// `INTERNAL_SERVER_ERROR`, so that every error a client sees has a code.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        code_field_errors(&mut response.errors);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                code_field_errors(&mut response.errors);
                response
            })
            .boxed()
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, "GRAPHQL_VALIDATION_FAILED"))
                .collect()
        })
    }
}

/// Gives the errors of an executed operation that have no code one: `BAD_USER_INPUT` for an
/// argument that failed to convert, else (a bug of ours) `INTERNAL_SERVER_ERROR`, logged.
fn code_field_errors(errors: &mut [ServerError]) {
    for error in errors {
        if has_code(error) {
            continue;
        }
        let code = if error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value")
        {
            "BAD_USER_INPUT"
        } else {
            tracing::error!(message = %error.message, path = ?error.path, "an error without a code");
            "INTERNAL_SERVER_ERROR"
        };
        *error = with_code(std::mem::replace(error, ServerError::new("", None)), code);
    }
}

/// Gives the errors async-graphql raises about the request as a whole after validation (an
/// unknown operation name, a missing one among several operations) the code `BAD_REQUEST`.
pub fn code_request_errors(errors: &mut [ServerError]) {
    for error in errors {
        if !has_code(error) {
            *error = with_code(
                std::mem::replace(error, ServerError::new("", None)),
                "BAD_REQUEST",
            );
        }
    }
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

/// `error` with `code` unless it has one.
fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let mut extensions = error.extensions.take().unwrap_or_default();
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths_become_input_paths() {
        assert_eq!(
            input_path("facts.place.coordinates.latitude"),
            "input.facts.place.coordinates.latitude"
        );
        assert_eq!(
            input_path("facts.sub_event_type"),
            "input.facts.subEventType"
        );
        assert_eq!(input_path("sources[1].url"), "input.sources[1].url");
    }
}
