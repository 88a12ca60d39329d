//! What happens around every HTTP request: it gets a request id (the client's `x-request-id`
//! when it sent a sane one, else a new one, echoed in the response), runs inside a `tracing`
//! span that carries the id, is logged once when answered (route, status, time), and is counted
//! in the [`Metrics`].
//!
//! The id is also kept in a task-local, so that an internal error deep in a resolver is logged
//! under, and reported to the client with, the same id ([`current_request_id`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::metrics::Metrics;

/// The header a request id travels in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is answering, if it is answering one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Spawns `future` as a task that keeps the request id (and the span) of the request spawning
/// it: the batch loaders' tasks, whose internal errors must carry the id of their request.
pub fn spawn_in_request(
    future: futures::future::BoxFuture<'static, ()>,
) -> tokio::task::JoinHandle<()> {
    let span = tracing::Span::current();
    match current_request_id() {
        Some(id) => tokio::spawn(REQUEST_ID.scope(id, future.instrument(span))),
        None => tokio::spawn(future.instrument(span)),
    }
}

/// The middleware: id, span, log line, metrics.
pub async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| sane_id(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    // The route's pattern, never the raw path, so that the metrics' labels stay few.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    // Only the methods the server answers become labels: any other counts as `other`, so that
    // made-up methods cannot grow the metrics without bound.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    metrics.request(&route, method, status, took);
    span.in_scope(|| {
        tracing::info!(status, took_ms = took.as_secs_f64() * 1000.0, "answered");
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// A client's request id is kept only when it is short and plain.
fn sane_id(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_client_ids_are_kept() {
        assert!(sane_id("3f6c-01_a.b"));
        assert!(!sane_id(""));
        assert!(!sane_id("a b"));
        assert!(!sane_id(&"x".repeat(101)));
    }
}
