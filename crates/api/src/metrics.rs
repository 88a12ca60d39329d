//! Prometheus metrics, served at `/metrics` in the text exposition format (version 0.0.4):
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `sitrep_http_requests_total` | counter | `route`, `method`, `status` |
//! | `sitrep_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `sitrep_events_appended_total` | counter | `stream_type` |
//! | `sitrep_subscriptions_active` | gauge | |
//! | `sitrep_projection_position` | gauge | `projection` (read at scrape time) |
//! | `sitrep_projection_lag_events` | gauge | `projection` (read at scrape time) |
//! | `sitrep_projection_lag_seconds` | gauge | `projection` (read at scrape time) |
//!
//! A few counters and one histogram do not need a metrics library: they are kept here, behind
//! one mutex each, and written out in the text format. Each server has its own (tests run
//! several in one process).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_projections::status::ProjectionStatus;

/// Upper bounds (seconds) of the request-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metrics of one server.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (route, method, status) -> requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (route, method) -> durations.
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
    /// stream type -> events.
    appended: Mutex<BTreeMap<String, u64>>,
    subscriptions: AtomicI64,
}

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound of [`DURATION_BUCKETS`] (not cumulative here).
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if let Ok(mut requests) = self.inner.requests.lock() {
            *requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut durations) = self.inner.durations.lock() {
            let histogram = durations
                .entry((route.to_owned(), method.to_owned()))
                .or_default();
            let seconds = took.as_secs_f64();
            if let Some(bucket) = DURATION_BUCKETS.iter().position(|le| seconds <= *le) {
                histogram.buckets[bucket] += 1;
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// Counts events a mutation appended.
    pub fn appended(&self, stream_type: &str, events: usize) {
        if let Ok(mut appended) = self.inner.appended.lock() {
            *appended.entry(stream_type.to_owned()).or_default() +=
                u64::try_from(events).unwrap_or(u64::MAX);
        }
    }

    /// Counts a subscription as open until the guard is dropped.
    pub fn subscription_opened(&self) -> SubscriptionGuard {
        self.inner.subscriptions.fetch_add(1, Ordering::Relaxed);
        SubscriptionGuard(self.inner.clone())
    }

    /// The text exposition, with the read models' status as of now.
    pub fn render(&self, projections: &[ProjectionStatus]) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "sitrep_http_requests_total",
            "counter",
            "HTTP requests answered",
        );
        if let Ok(requests) = self.inner.requests.lock() {
            for ((route, method, status), count) in requests.iter() {
                let status = status.to_string();
                sample(
                    &mut out,
                    "sitrep_http_requests_total",
                    &[("route", route), ("method", method), ("status", &status)],
                    *count as f64,
                );
            }
        }
        family(
            &mut out,
            "sitrep_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request",
        );
        if let Ok(durations) = self.inner.durations.lock() {
            for ((route, method), histogram) in durations.iter() {
                let mut cumulative = 0;
                for (le, count) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
                    cumulative += count;
                    let le = le.to_string();
                    sample(
                        &mut out,
                        "sitrep_http_request_duration_seconds_bucket",
                        &[("route", route), ("method", method), ("le", &le)],
                        cumulative as f64,
                    );
                }
                let labels = [("route", route.as_str()), ("method", method.as_str())];
                sample(
                    &mut out,
                    "sitrep_http_request_duration_seconds_bucket",
                    &[labels[0], labels[1], ("le", "+Inf")],
                    histogram.count as f64,
                );
                sample(
                    &mut out,
                    "sitrep_http_request_duration_seconds_sum",
                    &labels,
                    histogram.sum,
                );
                sample(
                    &mut out,
                    "sitrep_http_request_duration_seconds_count",
                    &labels,
                    histogram.count as f64,
                );
            }
        }
        family(
            &mut out,
            "sitrep_events_appended_total",
            "counter",
            "Events appended by mutations of this server",
        );
        if let Ok(appended) = self.inner.appended.lock() {
            for (stream_type, count) in appended.iter() {
                sample(
                    &mut out,
                    "sitrep_events_appended_total",
                    &[("stream_type", stream_type)],
                    *count as f64,
                );
            }
        }
        family(
            &mut out,
            "sitrep_subscriptions_active",
            "gauge",
            "GraphQL subscriptions open on this server",
        );
        sample(
            &mut out,
            "sitrep_subscriptions_active",
            &[],
            self.inner.subscriptions.load(Ordering::Relaxed) as f64,
        );
        type Reading = fn(&ProjectionStatus) -> f64;
        let gauges: [(&str, &str, Reading); 3] = [
            (
                "sitrep_projection_position",
                "Global position of the last event the live read model applied",
                |s| s.position as f64,
            ),
            (
                "sitrep_projection_lag_events",
                "Events recorded that the live read model has not applied",
                |s| s.events_behind as f64,
            ),
            (
                "sitrep_projection_lag_seconds",
                "Age of the oldest event the live read model has not applied",
                |s| s.seconds_behind,
            ),
        ];
        for (name, help, reading) in gauges {
            family(&mut out, name, "gauge", help);
            for status in projections {
                sample(
                    &mut out,
                    name,
                    &[("projection", &status.projection)],
                    reading(status),
                );
            }
        }
        out
    }
}

/// Keeps a subscription counted as open.
pub struct SubscriptionGuard(Arc<Inner>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscriptions.fetch_sub(1, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_are_written_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.request("/graphql", "POST", 200, Duration::from_millis(3));
        metrics.request("/graphql", "POST", 200, Duration::from_millis(30));
        metrics.appended("incident", 2);
        let open = metrics.subscription_opened();
        let text = metrics.render(&[]);
        assert!(text.contains(
            "sitrep_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "sitrep_http_request_duration_seconds_bucket{route=\"/graphql\",method=\"POST\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "sitrep_http_request_duration_seconds_bucket{route=\"/graphql\",method=\"POST\",le=\"0.05\"} 2\n"
        ));
        assert!(text.contains("sitrep_events_appended_total{stream_type=\"incident\"} 2\n"));
        assert!(text.contains("sitrep_subscriptions_active 1\n"));
        drop(open);
        assert!(metrics
            .render(&[])
            .contains("sitrep_subscriptions_active 0\n"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
