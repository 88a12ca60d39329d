//! One GraphQL WebSocket connection (either protocol), with what async-graphql's transport does
//! not do by itself:
//!
//! - **A time limit** for queries and mutations sent over the socket, the same as over HTTP
//!   ([`TimedExecutor`]); subscriptions run for as long as the client listens.
//! - **Revocation**: the connection of a token that is revoked is closed with `4403 Forbidden`
//!   as soon as the revocation is heard (`NOTIFY sitrep_tokens`; the server reads the revoked
//!   tokens once per revocation, see [`crate::token_cache`]), so a revoked token's
//!   subscriptions stop at once, not when the client next reconnects.
//! - **Shutdown**: open connections are closed with `1001 Going Away` when the server stops.
//!
//! Both closes send a close frame the client can read: the socket's sending half is shared
//! between the GraphQL transport and this module, which takes it back to close.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::BoxStream;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::sync::{watch, Mutex};

use crate::auth::{operation_type, Caller};
use crate::graphql_http::{self, timed_out};
use crate::subscriptions::ConnectionSubscriptions;
use crate::token_cache::{RevokedTokens, TokenCache};
use crate::tokens::TokenHolder;

/// The close code of a connection whose token was revoked (graphql-transport-ws's `Forbidden`).
pub const CLOSE_REVOKED: u16 = 4403;
/// The close code of a connection the server closes because it shuts down.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// An executor whose single-answer operations (queries and mutations) are stopped with
/// `TIMEOUT` after `timeout`; subscriptions are passed through untimed.
#[derive(Clone)]
pub struct TimedExecutor<E> {
    inner: E,
    timeout: Duration,
}

impl<E: Executor> TimedExecutor<E> {
    pub fn new(inner: E, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
}

impl<E: Executor> Executor for TimedExecutor<E> {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let timeout = self.timeout;
        let answer = self.inner.execute(request);
        async move {
            tokio::time::timeout(timeout, answer)
                .await
                .unwrap_or_else(|_| timed_out(timeout))
        }
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let operation_name = request.operation_name.clone();
        // A document that does not parse fails at once in the executor: not a subscription.
        let subscription = request.parsed_query().is_ok_and(|document| {
            operation_type(document, operation_name.as_deref()) == Some(OperationType::Subscription)
        });
        let mut answers = self.inner.execute_stream(request, session_data);
        if subscription {
            return answers;
        }
        let timeout = self.timeout;
        futures::stream::once(async move {
            match tokio::time::timeout(timeout, answers.next()).await {
                Ok(answer) => answer,
                Err(_) => Some(timed_out(timeout)),
            }
        })
        .filter_map(std::future::ready)
        .boxed()
    }
}

/// What the connection knows about its caller: `None` until `connection_init` names one.
type CallerCell = watch::Sender<Option<Caller>>;

/// Serves GraphQL over `socket` until the client leaves, the caller's token is revoked or the
/// server shuts down. `header_caller` is the upgrade request's caller, used when the
/// `connection_init` payload names no token.
pub async fn serve_connection<E: Executor>(
    socket: WebSocket,
    executor: TimedExecutor<E>,
    protocol: GraphQLProtocol,
    tokens: TokenCache,
    header_caller: Caller,
    mut shutdown: watch::Receiver<bool>,
) {
    // Subscribed before `connection_init`, so a revocation during it is seen too.
    let revoked_tokens = tokens.revoked_tokens();
    let (caller_cell, caller) = watch::channel(None);
    let (sending, receiving) = socket.split();
    let sending = Arc::new(Mutex::new(sending));
    let transport_sink =
        futures::sink::unfold(sending.clone(), |sending, message: Message| async {
            sending.lock().await.send(message).await?;
            Ok::<_, axum::Error>(sending)
        });
    let init_tokens = tokens.clone();
    let connection = GraphQLWebSocket::new_with_pair(transport_sink, receiving, executor, protocol)
        .on_connection_init(move |payload| init(payload, init_tokens, header_caller, caller_cell))
        .serve();
    let close = tokio::select! {
        () = connection => None,
        () = revoked(&tokens, revoked_tokens, caller) => Some(CloseFrame {
            code: CLOSE_REVOKED,
            reason: "Forbidden: the token was revoked".into(),
        }),
        () = shutting_down(&mut shutdown) => Some(CloseFrame {
            code: CLOSE_GOING_AWAY,
            reason: "the server is shutting down".into(),
        }),
    };
    // The transport is dropped by now (with its subscriptions): the sending half is ours.
    if let Some(frame) = close {
        let mut sending = sending.lock().await;
        // The client may be gone already: nothing to tell it then.
        let _ = sending.send(Message::Close(Some(frame))).await;
        let _ = sending.close().await;
    }
}

/// Returns when the server shuts down; never, when nothing can tell it to (the sender is gone).
async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The connection's data after `connection_init`: the caller named by the payload's token,
/// else the upgrade request's; a bad token refuses the connection.
async fn init(
    payload: Value,
    tokens: TokenCache,
    header_caller: Caller,
    caller_cell: CallerCell,
) -> async_graphql::Result<Data> {
    let caller = match init_token(&payload) {
        Some(token) => graphql_http::caller_of_token(&tokens, token)
            .await
            .map_err(|e| async_graphql::Error::new(e.message()))?,
        None => header_caller,
    };
    caller_cell.send_replace(Some(caller.clone()));
    let mut data = Data::default();
    data.insert(caller);
    data.insert(ConnectionSubscriptions::default());
    Ok(data)
}

/// Returns once the connection's token is revoked: looked up once when the caller becomes
/// known, then watched in the server's set of revoked tokens (read once per revocation for
/// every connection); never returns for an anonymous caller.
async fn revoked(
    tokens: &TokenCache,
    mut revoked_tokens: watch::Receiver<RevokedTokens>,
    mut caller: watch::Receiver<Option<Caller>>,
) {
    let holder = loop {
        // `init` may fail (or never come): then the caller is never known.
        if caller.changed().await.is_err() {
            return std::future::pending().await;
        }
        let known = caller.borrow_and_update().clone();
        match known {
            Some(Caller::Token(holder)) => break holder,
            Some(Caller::Anonymous) => return std::future::pending().await,
            None => {}
        }
    };
    // Revoked between its lookup at `connection_init` and now (the set may not show it yet).
    if !still_live(tokens, &holder).await {
        return;
    }
    loop {
        if revoked_tokens
            .borrow_and_update()
            .contains(&holder.token_id)
        {
            return;
        }
        if revoked_tokens.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Whether `holder`'s token is live. The operations sent over the socket run as the caller
/// named at `connection_init`, so a revocation must not be missed: when the database cannot
/// say, it is asked again (every [`RECHECK_AFTER_ERROR`]) until it answers.
async fn still_live(tokens: &TokenCache, holder: &TokenHolder) -> bool {
    loop {
        match tokens.is_live(holder.token_id).await {
            Ok(live) => return live,
            Err(error) => {
                tracing::warn!(%error, token = %holder.name,
                    "cannot check a WebSocket's token; asking again");
                tokio::time::sleep(RECHECK_AFTER_ERROR).await;
            }
        }
    }
}

/// How long a connection waits before asking again whether its token is live, after the
/// database could not say.
const RECHECK_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The bearer token in a `connection_init` payload: `Authorization` (any case) as
/// `Bearer <token>`, at the top or under `headers`.
fn init_token(payload: &Value) -> Option<&str> {
    let value = authorization_in(payload).or_else(|| authorization_in(payload.get("headers")?))?;
    Some(
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim(),
    )
}

/// The `Authorization` entry (any case) of a JSON object.
fn authorization_in(object: &Value) -> Option<&str> {
    object.as_object()?.iter().find_map(|(key, value)| {
        key.eq_ignore_ascii_case("authorization")
            .then(|| value.as_str())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executor that answers after `delay`, once (a query) or forever (a stream).
    #[derive(Clone)]
    struct Slow {
        delay: Duration,
    }

    impl Executor for Slow {
        async fn execute(&self, _: Request) -> Response {
            tokio::time::sleep(self.delay).await;
            Response::new(async_graphql::Value::Null)
        }

        fn execute_stream(&self, _: Request, _: Option<Arc<Data>>) -> BoxStream<'static, Response> {
            let delay = self.delay;
            futures::stream::repeat(())
                .then(move |()| async move {
                    tokio::time::sleep(delay).await;
                    Response::new(async_graphql::Value::Boolean(true))
                })
                .boxed()
        }
    }

    fn timed(delay_ms: u64) -> TimedExecutor<Slow> {
        TimedExecutor::new(
            Slow {
                delay: Duration::from_millis(delay_ms),
            },
            Duration::from_millis(50),
        )
    }

    fn code(response: &Response) -> Option<String> {
        let error = response.errors.first()?;
        match error.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_query_or_mutation_over_the_socket_is_stopped_after_the_timeout() {
        for document in ["{ serverVersion }", "mutation { x }", "not graphql"] {
            let answers: Vec<Response> = timed(10_000)
                .execute_stream(Request::new(document), None)
                .collect()
                .await;
            assert_eq!(answers.len(), 1, "{document}");
            assert_eq!(code(&answers[0]).as_deref(), Some("TIMEOUT"), "{document}");
        }
        let answer = timed(10_000)
            .execute(Request::new("{ serverVersion }"))
            .await;
        assert_eq!(code(&answer).as_deref(), Some("TIMEOUT"));
    }

    #[tokio::test]
    async fn a_quick_query_is_answered_once() {
        let answers: Vec<Response> = timed(1)
            .execute_stream(Request::new("{ serverVersion }"), None)
            .collect()
            .await;
        assert_eq!(answers.len(), 1);
        assert!(answers[0].errors.is_empty());
    }

    #[tokio::test]
    async fn a_subscription_runs_past_the_timeout() {
        // Each answer takes longer than the timeout; the subscription is not stopped.
        let answers: Vec<Response> = timed(80)
            .execute_stream(
                Request::new("subscription { eventRecorded { eventId } }"),
                None,
            )
            .take(3)
            .collect()
            .await;
        assert_eq!(answers.len(), 3);
        assert!(answers.iter().all(|answer| answer.errors.is_empty()));
        // The operation is chosen by name among several.
        let document = "query Q { a } subscription S { b }";
        let named = |name: &str| Request::new(document).operation_name(name);
        let subscription: Vec<Response> = timed(80)
            .execute_stream(named("S"), None)
            .take(2)
            .collect()
            .await;
        assert!(subscription.iter().all(|answer| answer.errors.is_empty()));
        let query: Vec<Response> = timed(80).execute_stream(named("Q"), None).collect().await;
        assert_eq!(code(&query[0]).as_deref(), Some("TIMEOUT"));
    }

    #[test]
    fn the_token_is_found_in_the_init_payload() {
        let token = |payload: Value| init_token(&payload).map(str::to_owned);
        assert_eq!(
            token(serde_json::json!({ "Authorization": "Bearer sitrep_1" })).as_deref(),
            Some("sitrep_1")
        );
        assert_eq!(
            token(serde_json::json!({ "headers": { "authorization": "bearer sitrep_2" } }))
                .as_deref(),
            Some("sitrep_2")
        );
        assert_eq!(token(serde_json::json!({})), None);
    }
}
