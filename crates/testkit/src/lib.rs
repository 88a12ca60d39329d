//! Test support: every test gets its own freshly migrated PostgreSQL database.
//!
//! Where the databases live:
//! - `DATABASE_URL` set: on that server (CI points it at the machine's PostgreSQL);
//! - otherwise: on sitrep's embedded cluster, started on first use from the installed PostgreSQL
//!   binaries in `$TMPDIR/sitrep-test-pg-$USER` and left running for the next test run
//!   (`pg_ctl stop -D $TMPDIR/sitrep-test-pg-$USER/postgres` stops it).
//!
//! A [`TestDb`] drops its database when it goes out of scope.

pub mod statements;

use std::path::PathBuf;
use std::str::FromStr;

use sitrep_embedded_pg::{Cluster, ClusterConfig};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

/// How tests reach the server their databases live on.
static SERVER: OnceCell<Server> = OnceCell::const_new();

#[derive(Clone)]
struct Server {
    options: PgConnectOptions,
    /// `DATABASE_URL` as given, when it was.
    url: Option<String>,
}

/// The data folder of the embedded test cluster.
pub fn embedded_test_data_dir() -> PathBuf {
    // One cluster per user, so two users' test runs never share (or fight over) a folder.
    let uid = std::env::var("USER").unwrap_or_else(|_| "user".into());
    std::env::temp_dir()
        .join(format!("sitrep-test-pg-{uid}"))
        .join("postgres")
}

/// Connect options for the server (database `postgres`), starting the embedded cluster if needed.
pub async fn server_options() -> PgConnectOptions {
    server().await.options
}

async fn server() -> Server {
    SERVER
        .get_or_init(|| async {
            match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => Server {
                    options: PgConnectOptions::from_str(&url)
                        .unwrap_or_else(|e| panic!("DATABASE_URL is not a PostgreSQL URL: {e}")),
                    url: Some(url),
                },
                _ => {
                    let cluster = Cluster::start(ClusterConfig::new(embedded_test_data_dir()))
                        .await
                        .unwrap_or_else(|e| panic!("cannot start the embedded test cluster: {e}"));
                    Server {
                        options: cluster.connect_options(),
                        url: None,
                    }
                }
            }
        })
        .await
        .clone()
}

/// A URL of database `name` on the test server, for a process of its own (`sitrep serve`).
pub async fn database_url(name: &str) -> String {
    url_of(&server().await, name)
}

fn url_of(server: &Server, name: &str) -> String {
    if let Some(url) = &server.url {
        return url_with_database(url, name);
    }
    let o = &server.options;
    let host = o
        .get_socket()
        .map_or_else(|| o.get_host().to_string(), |dir| dir.display().to_string());
    // The URL's host is a placeholder; `host=` names the server (or the socket folder).
    format!(
        "postgres://{}@localhost/{name}?host={host}&port={}",
        o.get_username(),
        o.get_port()
    )
}

/// `url` with its database replaced by `database`.
fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A fresh database for one test, migrated with the given migrator, dropped on drop.
pub struct TestDb {
    pub pool: PgPool,
    name: String,
    server: Server,
}

impl TestDb {
    /// A new database migrated with `migrator`; the pool allows `max_connections` connections.
    pub async fn with_pool_size(migrator: &Migrator, max_connections: u32) -> TestDb {
        let server = server().await;
        let name = format!("sitrep_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server.options)
            .await
            .expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let options = server
            .options
            .clone()
            .database(&name)
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .expect("connect to the test database");
        migrator
            .run(&pool)
            .await
            .expect("migrate the test database");
        TestDb { pool, name, server }
    }

    /// A new migrated database with a pool of 20 connections.
    pub async fn new(migrator: &Migrator) -> TestDb {
        Self::with_pool_size(migrator, 20).await
    }

    /// Connect options for this database (to open more connections, or hand it to a process).
    pub fn connect_options(&self) -> PgConnectOptions {
        self.server.options.clone().database(&self.name)
    }

    /// A URL for this database, for a child process's `DATABASE_URL`.
    pub fn url(&self) -> String {
        url_of(&self.server, &self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plan PostgreSQL gives `sql` once it is prepared (as `sqlx` does) and planned
    /// generically (as it is from its sixth run on), executed with `arguments` (SQL literals,
    /// one per parameter, of the types in `parameter_types`): `EXPLAIN`'s lines, joined.
    pub async fn generic_plan(&self, sql: &str, parameter_types: &str, arguments: &str) -> String {
        let mut conn = self.pool.acquire().await.expect("a connection");
        sqlx::query("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .expect("force generic plans");
        sqlx::query(&format!("PREPARE planned({parameter_types}) AS {sql}"))
            .execute(&mut *conn)
            .await
            .expect("prepare");
        let plan: Vec<String> =
            sqlx::query_scalar(&format!("EXPLAIN EXECUTE planned({arguments})"))
                .fetch_all(&mut *conn)
                .await
                .expect("explain");
        // The connection goes back to the pool: leave it as it was.
        sqlx::raw_sql("DEALLOCATE planned; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .expect("reset");
        plan.join("\n")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let server = self.server.options.clone();
        let pool = self.pool.clone();
        // Drop runs inside the test's runtime; a thread with its own runtime can block on the
        // cleanup without stalling it.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                // The pool's connections belong to the test's runtime, which waits for this
                // thread: FORCE ends them from the server side instead.
                drop(pool);
                if let Ok(mut admin) = PgConnection::connect_with(&server).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::query(&drop).execute(&mut admin).await.ok();
                }
            });
        });
        cleanup.join().ok();
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            url_with_database("postgres://u:p@127.0.0.1:5432/test?sslmode=disable", "x"),
            "postgres://u:p@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://h", "x"), "postgres://h/x");
    }
}
