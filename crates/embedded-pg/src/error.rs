//! The crate's error type: everything that can go wrong finding the PostgreSQL binaries, or
//! initialising, starting, reaching or stopping a cluster. Each message says what failed and,
//! where there is one, what to do about it.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

/// What went wrong managing the embedded cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No folder with `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in {}; install them \
         (Debian/Ubuntu: `apt-get install postgresql`, macOS: `brew install postgresql@15`) \
         or set DATABASE_URL to use an existing database",
        display_paths(.searched)
    )]
    BinariesNotFound {
        /// The folders that were looked in, in order.
        searched: Vec<PathBuf>,
    },

    /// Running as root, but there is no unprivileged user to run PostgreSQL as.
    #[error(
        "running as root, and PostgreSQL refuses to run as root, but neither a `postgres` nor a \
         `nobody` user exists to run it as; create one (e.g. `useradd --system postgres`), run \
         sitrep as an ordinary user, or set DATABASE_URL to use an existing database"
    )]
    NoUnprivilegedUser,

    /// The user PostgreSQL runs as cannot reach the data folder.
    #[error(
        "the data folder {} cannot be used: PostgreSQL runs as the user `{user}`, which cannot \
         enter {} (mode {mode:04o}); choose a data folder it can reach (e.g. under /var/lib) or \
         make that folder searchable by it",
        .data_dir.display(),
        .blocked.display()
    )]
    NotTraversable {
        /// The data folder asked for.
        data_dir: PathBuf,
        /// The folder on its path that the user cannot enter.
        blocked: PathBuf,
        /// That folder's permission bits.
        mode: u32,
        /// The user PostgreSQL would run as.
        user: String,
    },

    /// A file-system or process operation failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "cannot create".
        action: &'static str,
        /// The file, folder or program concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// `initdb` failed.
    #[error("initdb failed ({status}):\n{output}")]
    InitDb {
        /// initdb's exit status.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },

    /// `pg_ctl start` failed.
    #[error("PostgreSQL did not start ({status}); the end of its log:\n{log_tail}")]
    Start {
        /// pg_ctl's exit status.
        status: ExitStatus,
        /// pg_ctl's output and the last lines of the server log.
        log_tail: String,
    },

    /// `pg_ctl stop` failed.
    #[error("PostgreSQL did not stop ({status}):\n{output}")]
    Stop {
        /// pg_ctl's exit status.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },

    /// The server runs but did not accept a connection in time.
    #[error(
        "PostgreSQL is running but did not accept connections on {} within {}s: {last_error}",
        .socket_dir.display(),
        .waited.as_secs()
    )]
    NotReady {
        /// The socket directory that was tried.
        socket_dir: PathBuf,
        /// How long it was tried.
        waited: Duration,
        /// The last connection error.
        last_error: String,
    },

    /// Even the fallback socket directory gives a socket path too long for the system.
    #[error(
        "the Unix socket path {} is longer than the system allows ({max} bytes)",
        .path.display()
    )]
    SocketPathTooLong {
        /// The socket file path that was too long.
        path: PathBuf,
        /// The longest path allowed.
        max: usize,
    },

    /// The socket directory exists but is not a private directory of the server's user.
    #[error("the socket directory {} is unsafe: {reason}", .path.display())]
    UnsafeSocketDir {
        /// The socket directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The running server listens on no Unix socket (it was started by someone else).
    #[error(
        "the PostgreSQL server running on {} listens on no Unix socket; stop it \
         (`pg_ctl stop -D {}`) so sitrep can start it itself",
        .data_dir.display(),
        .data_dir.display()
    )]
    NoUnixSocket {
        /// The data folder.
        data_dir: PathBuf,
    },

    /// The data folder was created by another major version of PostgreSQL.
    #[error(
        "the data folder {} was created by PostgreSQL {data_version}, but the binaries found in \
         {} are version {binaries_version}; install PostgreSQL {data_version} or point sitrep \
         at its binaries",
        .data_dir.display(),
        .bin_dir.display()
    )]
    VersionMismatch {
        /// The data folder.
        data_dir: PathBuf,
        /// The major version in its `PG_VERSION`.
        data_version: String,
        /// The folder of the binaries found.
        bin_dir: PathBuf,
        /// Their version.
        binaries_version: String,
    },

    /// Another process held the lock beside the data folder for too long.
    #[error(
        "another process kept the lock {} for more than {}s while starting or stopping the cluster",
        .path.display(),
        .waited.as_secs()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long was waited.
        waited: Duration,
    },

    /// The configuration cannot be used as given.
    #[error("invalid embedded PostgreSQL configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
}

impl ClusterError {
    /// An [`ClusterError::Io`] error.
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        ClusterError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no folder".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
