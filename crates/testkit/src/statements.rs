//! Counting the SQL statements a piece of work runs, for the tests that pin how many round trips
//! a request or a command costs (no N+1 queries, no needless reads).
//!
//! sqlx reports each statement it runs as a `tracing` event of target `sqlx::query`, on the
//! thread that awaits it, when the connection logs its statements: [`logging_pool`] makes such a
//! pool on a test database (the test database's own pool does not log).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{ConnectOptions, PgPool};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::TestDb;

/// A pool of up to `max_connections` on `db` whose connections report every statement (at
/// `Debug`; slow ones too, under the same target: the test database's own options report none),
/// for [`counting_statements`].
pub async fn logging_pool(db: &TestDb, max_connections: u32) -> PgPool {
    let options = db
        .pool
        .connect_options()
        .as_ref()
        .clone()
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(60));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .expect("connect to the test database")
}

/// What `work` answers and how many SQL statements it ran on logging connections, counted on
/// this thread: run it on a current-thread runtime (the default of `#[tokio::test]`) so that the
/// tasks it awaits are counted too.
pub async fn counting_statements<T>(work: impl Future<Output = T>) -> (T, usize) {
    counting(None, work).await
}

/// The same, counting only the statements whose text contains `text`.
pub async fn counting_statements_with<T>(
    text: &'static str,
    work: impl Future<Output = T>,
) -> (T, usize) {
    counting(Some(text), work).await
}

async fn counting<T>(text: Option<&'static str>, work: impl Future<Output = T>) -> (T, usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let layer = StatementCount {
        count: count.clone(),
        text,
    };
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let answer = work.await;
    drop(guard);
    (answer, count.load(Ordering::SeqCst))
}

/// A `tracing` layer counting sqlx's statement events (those containing `text`, when given).
struct StatementCount {
    count: Arc<AtomicUsize>,
    text: Option<&'static str>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCount {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let counted = match self.text {
            None => true,
            Some(text) => {
                let mut statement = StatementText::default();
                event.record(&mut statement);
                statement.0.contains(text)
            }
        };
        if counted {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The text of a statement event: sqlx puts a short statement whole in `summary` and a long
/// one's first words there and the whole in `db.statement`.
#[derive(Default)]
struct StatementText(String);

impl Visit for StatementText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.0.push_str(value);
            self.0.push('\n');
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "summary" | "db.statement") {
            self.0.push_str(&format!("{value:?}"));
            self.0.push('\n');
        }
    }
}
