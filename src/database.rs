//! Which PostgreSQL sitrep runs on: the one `DATABASE_URL` names, or else a private cluster that
//! sitrep starts from the installed PostgreSQL binaries in its data folder and stops on exit.
//! Either way the migrations run before anything else.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sitrep_domain::store::EventStore;
use sitrep_embedded_pg::{Cluster, ClusterConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::cli::DatabaseArgs;

/// The database sitrep stores its events in, once opened and migrated.
pub struct Database {
    store: EventStore,
    /// The embedded cluster, when sitrep started one.
    cluster: Option<Cluster>,
}

/// The database sitrep uses inside its embedded cluster.
const EMBEDDED_DATABASE: &str = "sitrep";

impl Database {
    pub async fn open(args: &DatabaseArgs) -> anyhow::Result<Self> {
        if let Some(url) = args.database_url.as_deref().filter(|u| !u.is_empty()) {
            let options = PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid PostgreSQL URL")?;
            let store = connect_and_migrate(args, options).await?;
            return Ok(Self {
                store,
                cluster: None,
            });
        }
        let (options, cluster) = start_embedded(args).await?;
        match connect_and_migrate(args, options).await {
            Ok(store) => Ok(Self {
                store,
                cluster: Some(cluster),
            }),
            Err(error) => {
                // Leave no cluster running that nothing will use.
                if cluster.started_here() {
                    if let Err(stop) = cluster.stop().await {
                        tracing::warn!(%stop, "cannot stop the embedded PostgreSQL cluster");
                    }
                }
                Err(error)
            }
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Closes the pool and stops the embedded cluster if sitrep started it.
    pub async fn close(self) -> anyhow::Result<()> {
        self.store.pool().close().await;
        if let Some(cluster) = self.cluster {
            if cluster.started_here() {
                cluster
                    .stop()
                    .await
                    .context("cannot stop the embedded PostgreSQL cluster")?;
            }
        }
        Ok(())
    }
}

/// A pooled connection idle for this long is pinged before it is handed out (a lost connection
/// is then replaced rather than failing a statement); one back sooner is used as it is.
///
/// sqlx's default pings every connection on every acquire: a lone `Sync` and a wait for the
/// server's answer, one more round trip for each statement run on the pool. Under load (a
/// server's mutations, its projectors' pages) connections go back and forth within
/// milliseconds, and that round trip was as many as the statements themselves.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// The pool's settings: at most `max_connections`, a connection pinged before use only when it
/// has been idle for [`PING_WHEN_IDLE_FOR`] (sqlx pings it on every acquire by default).
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|connection, pooled| {
            Box::pin(async move {
                if pooled.idle_for >= PING_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A pool on `options`, migrated, and the store on it.
async fn connect_and_migrate(
    args: &DatabaseArgs,
    options: PgConnectOptions,
) -> anyhow::Result<EventStore> {
    let pool = pool_options(args.db_max_connections)
        .connect_with(options.log_statements(tracing::log::LevelFilter::Debug))
        .await
        .context("cannot connect to PostgreSQL")?;
    sitrep_domain::MIGRATOR
        .run(&pool)
        .await
        .context("cannot apply the database migrations")?;
    Ok(EventStore::new(pool))
}

/// Starts (or joins) the embedded cluster and makes sure sitrep's database exists in it.
async fn start_embedded(args: &DatabaseArgs) -> anyhow::Result<(PgConnectOptions, Cluster)> {
    let data_dir = args
        .data_dir
        .clone()
        .map_or_else(sitrep_embedded_pg::default_data_dir, |dir| {
            dir.join("postgres")
        });
    let mut config = ClusterConfig::new(data_dir.clone());
    config.bin_dir = args.pg_bin_dir.clone();
    tracing::info!(data_dir = %data_dir.display(), "no DATABASE_URL: using the embedded PostgreSQL cluster");
    let cluster = Cluster::start(config).await.with_context(|| {
        format!(
            "cannot start the embedded PostgreSQL cluster in {}",
            data_dir.display()
        )
    })?;
    let mut admin = PgConnection::connect_with(&cluster.connect_options())
        .await
        .context("cannot connect to the embedded cluster")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(EMBEDDED_DATABASE)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {EMBEDDED_DATABASE}"))
            .execute(&mut admin)
            .await
            .context("cannot create sitrep's database in the embedded cluster")?;
    }
    admin.close().await.ok();
    Ok((cluster.connect_options_for(EMBEDDED_DATABASE), cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn backend_pid(pool: &sqlx::PgPool) -> Result<i32, sqlx::Error> {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
    }

    /// A connection cut while it sat idle in the pool (a database restart, a proxy's timeout)
    /// is found dead by the ping before use and replaced: the caller never sees it.
    #[tokio::test]
    async fn a_connection_cut_while_idle_is_replaced_before_use() {
        let db = sitrep_testkit::TestDb::new(&sitrep_domain::MIGRATOR).await;
        let pool = pool_options(1).connect(&db.url()).await.expect("connect");
        let first = backend_pid(&pool).await.expect("first statement");
        tokio::time::sleep(PING_WHEN_IDLE_FOR + Duration::from_millis(200)).await;
        let cut: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(first)
            .fetch_one(&db.pool)
            .await
            .expect("terminate");
        assert!(cut);
        let second = backend_pid(&pool)
            .await
            .expect("the statement after the cut runs on a new connection");
        assert_ne!(first, second);
    }
}
