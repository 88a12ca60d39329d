//! Which PostgreSQL sitrep runs on: the one `DATABASE_URL` names, or else a private cluster that
//! sitrep starts from the installed PostgreSQL binaries in its data folder and stops on exit.
//! Either way the migrations run before anything else.

use std::str::FromStr;

use anyhow::Context as _;
use sitrep_domain::store::EventStore;
use sitrep_embedded_pg::{Cluster, ClusterConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::cli::DatabaseArgs;

/// The database sitrep stores its events in, once opened and migrated.
pub struct Database {
    pool: PgPool,
    store: EventStore,
    /// The embedded cluster, when sitrep started one.
    cluster: Option<Cluster>,
}

/// The database sitrep uses inside its embedded cluster.
const EMBEDDED_DATABASE: &str = "sitrep";

impl Database {
    pub async fn open(args: &DatabaseArgs) -> anyhow::Result<Self> {
        let (options, cluster) = match args.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let options = PgConnectOptions::from_str(url)
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                (options, None)
            }
            None => {
                let (options, cluster) = start_embedded(args).await?;
                (options, Some(cluster))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(args.db_max_connections)
            .connect_with(options.log_statements(tracing::log::LevelFilter::Debug))
            .await
            .context("cannot connect to PostgreSQL")?;
        sitrep_domain::MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply the database migrations")?;
        let store = EventStore::new(pool.clone());
        Ok(Self {
            pool,
            store,
            cluster,
        })
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Closes the pool and stops the embedded cluster if sitrep started it.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
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
