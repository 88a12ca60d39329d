//! sitrep's embedded PostgreSQL: a private cluster that sitrep initialises and starts itself
//! from the PostgreSQL server binaries installed on the machine, in a data folder of its own.
//!
//! `sitrep serve` uses it when `DATABASE_URL` is not set, and the test kit uses it for test
//! databases. The cluster:
//!
//! - is created with `initdb` on first use (superuser [`ClusterConfig::superuser`], `trust`
//!   authentication, UTF-8) and reused on every later start: the data survives restarts;
//! - listens on a Unix socket only, in a private directory (mode 0700) beside the data folder
//!   (`<data_dir>.run/`), or under `/tmp` when that path would be too long for a socket; it
//!   never opens a TCP port (`listen_addresses = ''`);
//! - runs as an unprivileged user when sitrep runs as root (PostgreSQL refuses to run as root):
//!   the data folder's owner, else `postgres`, else `nobody`;
//! - is reused when it is already running (for example left behind by a killed process), and
//!   [`Cluster::started_here`] tells which happened;
//! - keeps running when a [`Cluster`] is dropped: only [`Cluster::stop`] stops it.
//!
//! Beside the data folder `<dir>/<name>` live `<dir>/<name>.lock` (a lock held while starting
//! or stopping, so two processes never race), `<dir>/<name>.log` (the server's log) and
//! `<dir>/<name>.run/` (the socket directory).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sitrep_embedded_pg::ClusterError> {
//! use sitrep_embedded_pg::{default_data_dir, Cluster, ClusterConfig};
//! let cluster = Cluster::start(ClusterConfig::new(default_data_dir())).await?;
//! let pool = sqlx::PgPool::connect_with(cluster.connect_options()).await;
//! # drop(pool);
//! cluster.stop().await?;
//! # Ok(()) }
//! ```

mod binaries;
mod cluster;
mod config;
mod error;
mod layout;
mod lock;
mod pidfile;
mod settings;
mod user;

pub use binaries::PgBinaries;
pub use cluster::Cluster;
pub use config::{default_data_dir, ClusterConfig};
pub use error::ClusterError;
