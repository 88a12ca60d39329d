//! [`Cluster`]: initialising, starting, reusing, reaching and stopping one embedded cluster.
//!
//! [`Cluster::start`] takes the lock beside the data folder, then: runs `initdb` when the
//! folder holds no cluster (`PG_VERSION`); reuses the server when `pg_ctl status` says one is
//! running on the folder (reading where it listens from `postmaster.pid`); otherwise writes
//! `sitrep.conf` and runs `pg_ctl start -w`. Either way it then waits until the server accepts
//! a connection. Dropping a [`Cluster`] leaves the server running; [`Cluster::stop`] stops it.

use std::ffi::OsStr;
use std::fs::DirBuilder;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection};

use crate::binaries::PgBinaries;
use crate::config::ClusterConfig;
use crate::error::ClusterError;
use crate::layout::{Layout, PORT};
use crate::lock::{self, LOCK_TIMEOUT};
use crate::pidfile::{self, PidFile};
use crate::settings;
use crate::user::{self, Output, RunAs};

/// How long a started or found server has to accept a first connection.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `pg_ctl` waits for the server to start or stop (`-t`, seconds).
const PG_CTL_WAIT_SECS: &str = "120";
/// How long to wait for a server found shutting down to finish.
const STOPPING_TIMEOUT: Duration = Duration::from_secs(60);
/// A server log bigger than this is moved to `<log>.old` before the server starts.
const LOG_ROTATE_BYTES: u64 = 16 * 1024 * 1024;
/// How many lines of the server log a start error shows.
const LOG_TAIL_LINES: usize = 40;

/// A running embedded PostgreSQL cluster.
#[derive(Debug)]
pub struct Cluster {
    layout: Layout,
    /// Where the server's socket is (from `postmaster.pid` for a server found running).
    socket_dir: PathBuf,
    port: u16,
    superuser: String,
    binaries: PgBinaries,
    run_as: RunAs,
    started_here: bool,
}

impl Cluster {
    /// Initialise the cluster if needed, start it unless it is running already, and wait until
    /// it accepts connections.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        if config.superuser.is_empty() {
            return Err(ClusterError::InvalidConfig {
                reason: "the superuser name is empty".to_string(),
            });
        }
        settings::check(&config.settings)?;
        let data_dir = absolute_data_dir(&config.data_dir)?;

        let data_version = read_pg_version(&data_dir);
        let binaries =
            PgBinaries::discover_preferring(config.bin_dir.as_deref(), data_version.as_deref())?;
        if let Some(data_version) = data_version {
            if data_version != binaries.major() {
                return Err(ClusterError::VersionMismatch {
                    data_dir,
                    data_version,
                    bin_dir: binaries.bin_dir,
                    binaries_version: binaries.version,
                });
            }
        }

        let run_as = RunAs::choose(&data_dir)?;
        user::create_parents(&data_dir, run_as.switches_user())?;
        let data_dir = canonical_data_dir(&data_dir)?;
        run_as.check_reachable(&data_dir)?;
        let layout = Layout::for_data_dir(&data_dir)?;
        tracing::debug!(
            data_dir = %data_dir.display(),
            bin_dir = %binaries.bin_dir.display(),
            version = %binaries.version,
            user = %run_as.name,
            "embedded PostgreSQL"
        );

        let _lock = lock::acquire(&layout.lock_file, &run_as, LOCK_TIMEOUT).await?;
        let mut cluster = Cluster {
            socket_dir: layout.socket_dir.clone(),
            layout,
            port: PORT,
            superuser: config.superuser,
            binaries,
            run_as,
            started_here: false,
        };

        let mut running = false;
        if cluster.data_dir().join("PG_VERSION").is_file() {
            if let Some(found) = cluster.running_server().await? {
                if found.as_ref().is_some_and(PidFile::stopping) {
                    cluster.wait_until_stopped().await?;
                } else {
                    cluster.reuse(found)?;
                    running = true;
                }
            }
        } else {
            cluster.initdb().await?;
        }
        if !running {
            cluster.start_server(&config.settings).await?;
            cluster.started_here = true;
        }
        cluster.wait_ready().await?;
        tracing::info!(
            data_dir = %cluster.data_dir().display(),
            socket_dir = %cluster.socket_dir.display(),
            started_here = cluster.started_here,
            "embedded PostgreSQL is ready"
        );
        Ok(cluster)
    }

    /// Connect options for the database `postgres` as the superuser, over the Unix socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.connect_options_for("postgres")
    }

    /// Connect options for `database` as the superuser, over the Unix socket.
    pub fn connect_options_for(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new_without_pgpass()
            .socket(&self.socket_dir)
            .port(self.port)
            .username(&self.superuser)
            .database(database)
            .ssl_mode(PgSslMode::Disable)
    }

    /// A `postgres://` URL for `database` (e.g. for a child process's `DATABASE_URL`).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{}@localhost/{}?host={}&port={}",
            percent_encode(&self.superuser),
            percent_encode(database),
            percent_encode(&self.socket_dir.to_string_lossy()),
            self.port
        )
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port in the socket file's name (no TCP port is open).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data folder (absolute, symlinks in its parents resolved).
    pub fn data_dir(&self) -> &Path {
        &self.layout.data_dir
    }

    /// The server's log file.
    pub fn log_file(&self) -> &Path {
        &self.layout.log_file
    }

    /// The superuser role connections use.
    pub fn superuser(&self) -> &str {
        &self.superuser
    }

    /// The binaries the cluster is managed with.
    pub fn binaries(&self) -> &PgBinaries {
        &self.binaries
    }

    /// The operating-system user the server runs as.
    pub fn os_user(&self) -> &str {
        &self.run_as.name
    }

    /// Whether this call started the server (`false`: it was already running and was reused).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Stop the server (`pg_ctl stop -m fast -w`), whoever started it. A server that is
    /// already stopped is not an error.
    pub async fn stop(self) -> Result<(), ClusterError> {
        let _lock = lock::acquire(&self.layout.lock_file, &self.run_as, LOCK_TIMEOUT).await?;
        tracing::info!(data_dir = %self.data_dir().display(), "stopping embedded PostgreSQL");
        let out = self
            .pg_ctl(&[
                "stop".as_ref(),
                "-D".as_ref(),
                self.data_dir().as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                PG_CTL_WAIT_SECS.as_ref(),
            ])
            .await?;
        if out.status.success() {
            tracing::info!(data_dir = %self.data_dir().display(), "embedded PostgreSQL stopped");
            self.tidy_socket_dir();
            return Ok(());
        }
        if self.running_server().await?.is_none() {
            tracing::info!(data_dir = %self.data_dir().display(), "embedded PostgreSQL was not running");
            return Ok(());
        }
        Err(ClusterError::Stop {
            status: out.status,
            output: out.text,
        })
    }

    /// Remove the socket directory when it is the fallback under `/tmp` and now empty, so
    /// stopped clusters leave nothing there.
    fn tidy_socket_dir(&self) {
        if self.layout.socket_in_tmp && self.socket_dir == self.layout.socket_dir {
            // Fails harmlessly when something is still inside.
            let _ = std::fs::remove_dir(&self.socket_dir);
        }
    }

    /// `initdb` the data folder, creating it (mode 0700, owned by the server's user).
    async fn initdb(&self) -> Result<(), ClusterError> {
        let data_dir = self.data_dir();
        tracing::info!(
            data_dir = %data_dir.display(),
            version = %self.binaries.version,
            user = %self.run_as.name,
            "initialising a new embedded PostgreSQL cluster"
        );
        match DirBuilder::new().mode(0o700).create(data_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ClusterError::io("cannot create", data_dir, e)),
        }
        let owner = std::fs::metadata(data_dir)
            .map_err(|e| ClusterError::io("cannot inspect", data_dir, e))?
            .uid();
        if owner != self.run_as.uid().as_raw() {
            self.run_as.chown(data_dir)?;
        }

        let initdb = self.binaries.initdb();
        let superuser = format!("--username={}", self.superuser);
        let base: [&OsStr; 5] = [
            "-D".as_ref(),
            data_dir.as_os_str(),
            superuser.as_ref(),
            "--auth=trust".as_ref(),
            "--encoding=UTF8".as_ref(),
        ];
        // C.UTF-8: byte-order sorting, but Unicode-aware upper/lower. Where the system lacks
        // that locale, plain C.
        let mut out = self
            .run_as_user(
                &initdb,
                &[&base[..], &["--locale=C.UTF-8".as_ref()]].concat(),
            )
            .await?;
        if !out.status.success() && out.text.contains("locale") {
            tracing::info!("the C.UTF-8 locale is unavailable; initialising with the C locale");
            out = self
                .run_as_user(&initdb, &[&base[..], &["--no-locale".as_ref()]].concat())
                .await?;
        }
        if !out.status.success() {
            return Err(ClusterError::InitDb {
                status: out.status,
                output: out.text,
            });
        }
        Ok(())
    }

    /// Write `sitrep.conf`, prepare the socket directory and log, and `pg_ctl start -w`.
    async fn start_server(&self, extra: &[(String, String)]) -> Result<(), ClusterError> {
        let layout = &self.layout;
        tracing::info!(
            data_dir = %layout.data_dir.display(),
            socket_dir = %layout.socket_dir.display(),
            log = %layout.log_file.display(),
            user = %self.run_as.name,
            "starting embedded PostgreSQL"
        );
        layout.prepare_socket_dir(&self.run_as)?;
        settings::install(
            &layout.data_dir,
            &settings::render(extra, &layout.socket_dir, PORT)?,
            &self.run_as,
        )?;
        self.prepare_log()?;
        // pg_ctl hands -o to the shell; the socket directory has only plain characters.
        let options = format!(
            "-c listen_addresses='' -p {PORT} -k '{}'",
            layout.socket_dir.display()
        );
        let out = self
            .pg_ctl(&[
                "start".as_ref(),
                "-D".as_ref(),
                layout.data_dir.as_os_str(),
                "-l".as_ref(),
                layout.log_file.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                PG_CTL_WAIT_SECS.as_ref(),
                "-o".as_ref(),
                options.as_ref(),
            ])
            .await?;
        if !out.status.success() {
            let mut log_tail = out.text;
            log_tail.push_str(&format!("--- {} ---\n", layout.log_file.display()));
            log_tail.push_str(&tail(&layout.log_file, LOG_TAIL_LINES));
            return Err(ClusterError::Start {
                status: out.status,
                log_tail,
            });
        }
        Ok(())
    }

    /// Create the log file for the server's user, moving a big one aside first.
    fn prepare_log(&self) -> Result<(), ClusterError> {
        let log = &self.layout.log_file;
        if std::fs::metadata(log).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
            let mut old = log.as_os_str().to_owned();
            old.push(".old");
            std::fs::rename(log, &old).map_err(|e| ClusterError::io("cannot rotate", log, e))?;
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(log)
            .map_err(|e| ClusterError::io("cannot create", log, e))?;
        self.run_as.chown(log)
    }

    /// Whether a server runs on the data folder (per `pg_ctl status`), and its
    /// `postmaster.pid` if readable. A `postmaster.pid` naming a live process that is not
    /// PostgreSQL (left by a crash, its pid since reused) is removed.
    async fn running_server(&self) -> Result<Option<Option<PidFile>>, ClusterError> {
        let out = self
            .pg_ctl(&[
                "status".as_ref(),
                "-D".as_ref(),
                self.data_dir().as_os_str(),
            ])
            .await?;
        if !out.status.success() {
            return Ok(None);
        }
        let found = pidfile::read(self.data_dir());
        if let Some(pid) = &found {
            if !pid_is_postgres(pid.pid) {
                let path = self.data_dir().join("postmaster.pid");
                tracing::warn!(
                    pid = pid.pid,
                    file = %path.display(),
                    "removing a stale postmaster.pid: its process is not PostgreSQL"
                );
                std::fs::remove_file(&path)
                    .map_err(|e| ClusterError::io("cannot remove", &path, e))?;
                return Ok(None);
            }
        }
        Ok(Some(found))
    }

    /// Take over a server found running: connect where its `postmaster.pid` says it listens.
    fn reuse(&mut self, found: Option<PidFile>) -> Result<(), ClusterError> {
        if let Some(pid) = found {
            let socket_dir = pid.socket_dir.ok_or_else(|| ClusterError::NoUnixSocket {
                data_dir: self.data_dir().to_path_buf(),
            })?;
            self.socket_dir = self.data_dir().join(socket_dir);
            self.port = pid.port.unwrap_or(PORT);
        }
        tracing::info!(
            data_dir = %self.data_dir().display(),
            socket_dir = %self.socket_dir.display(),
            "embedded PostgreSQL is already running; reusing it"
        );
        Ok(())
    }

    /// Wait for a server found shutting down to be gone.
    async fn wait_until_stopped(&self) -> Result<(), ClusterError> {
        tracing::info!(data_dir = %self.data_dir().display(), "waiting for embedded PostgreSQL to finish stopping");
        let started = Instant::now();
        while started.elapsed() < STOPPING_TIMEOUT {
            if self.running_server().await?.is_none() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Let `pg_ctl start` report what is wrong.
        Ok(())
    }

    /// Connect until the server answers, for up to [`READY_TIMEOUT`].
    async fn wait_ready(&self) -> Result<(), ClusterError> {
        let options = self.connect_options().disable_statement_logging();
        let started = Instant::now();
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(5),
                sqlx::PgConnection::connect_with(&options),
            )
            .await;
            let error = match attempt {
                Ok(Ok(conn)) => {
                    // A failed goodbye does not matter: the server answered.
                    let _ = conn.close().await;
                    return Ok(());
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the connection attempt timed out".to_string(),
            };
            if started.elapsed() >= READY_TIMEOUT {
                return Err(ClusterError::NotReady {
                    socket_dir: self.socket_dir.clone(),
                    waited: READY_TIMEOUT,
                    last_error: error,
                });
            }
            tracing::debug!(%error, "embedded PostgreSQL not ready yet");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn pg_ctl(&self, args: &[&OsStr]) -> Result<Output, ClusterError> {
        self.run_as_user(&self.binaries.pg_ctl(), args).await
    }

    /// Run a PostgreSQL program as the server's user, with the data folder's parent as `HOME`.
    async fn run_as_user(&self, program: &Path, args: &[&OsStr]) -> Result<Output, ClusterError> {
        let home = self.data_dir().parent().unwrap_or(Path::new("/"));
        self.run_as.run(program, args, home).await
    }
}

/// `data_dir` made absolute, refused when `pg_ctl` could not pass it through its shell command
/// (it double-quotes paths there).
fn absolute_data_dir(data_dir: &Path) -> Result<PathBuf, ClusterError> {
    let absolute = std::path::absolute(data_dir)
        .map_err(|e| ClusterError::io("cannot make absolute", data_dir, e))?;
    let text = absolute.to_string_lossy();
    if text.contains(['"', '$', '`', '\\', '\n', '\r']) {
        return Err(ClusterError::InvalidConfig {
            reason: format!(
                "the data folder {text:?} contains a character pg_ctl cannot handle (\" $ ` \\ or a newline)"
            ),
        });
    }
    if absolute.file_name().is_none() {
        return Err(ClusterError::InvalidConfig {
            reason: format!("the data folder {text:?} has no name"),
        });
    }
    Ok(absolute)
}

/// `data_dir` with its (existing) parent canonicalised: one cluster, one set of paths, however
/// it is reached.
fn canonical_data_dir(data_dir: &Path) -> Result<PathBuf, ClusterError> {
    let (Some(parent), Some(name)) = (data_dir.parent(), data_dir.file_name()) else {
        return Err(ClusterError::InvalidConfig {
            reason: format!("the data folder {} has no parent", data_dir.display()),
        });
    };
    let parent =
        std::fs::canonicalize(parent).map_err(|e| ClusterError::io("cannot resolve", parent, e))?;
    Ok(parent.join(name))
}

/// The major version in `<data_dir>/PG_VERSION`, if there is one.
fn read_pg_version(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("PG_VERSION"))
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether process `pid` is a PostgreSQL server (when that can be told: Linux's `/proc`).
fn pid_is_postgres(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => {
            let comm = comm.trim();
            comm.starts_with("postgres") || comm.starts_with("postmaster")
        }
        // No /proc, or the process is gone: do not second-guess pg_ctl.
        Err(_) => true,
    }
}

/// The last `lines` lines of the file at `path` (reading at most its last 64 KiB).
fn tail(path: &Path, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let mut out = all[all.len().saturating_sub(lines)..].join("\n");
            out.push('\n');
            out
        }
        Err(e) => format!("(cannot read the log: {e})\n"),
    }
}

/// Percent-encode everything but unreserved characters and `/`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_paths_readable() {
        assert_eq!(percent_encode("/var/lib/x.run"), "/var/lib/x.run");
        assert_eq!(percent_encode("a b@c"), "a%20b%40c");
    }

    #[test]
    fn data_dirs_pg_ctl_cannot_quote_are_refused() {
        assert!(absolute_data_dir(Path::new("/tmp/a\"b")).is_err());
        assert!(absolute_data_dir(Path::new("/tmp/$HOME")).is_err());
        assert!(absolute_data_dir(Path::new("/")).is_err());
        assert_eq!(
            absolute_data_dir(Path::new("/tmp/pg")).unwrap(),
            Path::new("/tmp/pg")
        );
    }

    #[test]
    fn this_process_is_not_postgres() {
        assert!(!pid_is_postgres(std::process::id() as i32) || !Path::new("/proc").exists());
    }
}
