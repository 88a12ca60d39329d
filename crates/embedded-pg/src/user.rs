//! Who PostgreSQL runs as, and running its programs as that user.
//!
//! PostgreSQL refuses to run as root. When this process is root, `initdb` and `pg_ctl` (and so
//! the server) run as an unprivileged user instead: the owner of an existing data folder when
//! that is not root (so a folder keeps its user), else `postgres`, else `nobody`. The files
//! the server needs are chowned to that user, and the folders above the data folder must be
//! searchable by it (this is checked, never changed: a data folder under `/root` is refused
//! with a clear error). The root process itself can still connect to the server's socket.
//! Otherwise everything runs as the current user.

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use nix::unistd::{Gid, Uid, User};

use crate::error::ClusterError;

/// The user PostgreSQL's programs run as.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    /// The user's name (or uid, when it has no passwd entry).
    pub(crate) name: String,
    uid: Uid,
    gid: Gid,
    /// Whether programs are started with this uid/gid (this process is root), or simply as
    /// this process's user.
    switch_user: bool,
}

/// What a finished program printed, and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    /// Its standard output followed by its standard error.
    pub(crate) text: String,
}

impl RunAs {
    /// The user to run PostgreSQL as for the cluster in `data_dir`.
    pub(crate) fn choose(data_dir: &Path) -> Result<RunAs, ClusterError> {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            let name = User::from_uid(euid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| euid.to_string());
            return Ok(RunAs {
                name,
                uid: euid,
                gid: nix::unistd::getegid(),
                switch_user: false,
            });
        }
        // An existing cluster keeps the user that owns it.
        if let Ok(meta) = std::fs::metadata(data_dir) {
            if meta.uid() != 0 {
                let uid = Uid::from_raw(meta.uid());
                let (name, gid) = match User::from_uid(uid).ok().flatten() {
                    Some(user) => (user.name, user.gid),
                    None => (uid.to_string(), Gid::from_raw(meta.gid())),
                };
                return Ok(RunAs {
                    name,
                    uid,
                    gid,
                    switch_user: true,
                });
            }
        }
        for name in ["postgres", "nobody"] {
            if let Some(user) = User::from_name(name).ok().flatten() {
                if !user.uid.is_root() {
                    return Ok(RunAs {
                        name: user.name,
                        uid: user.uid,
                        gid: user.gid,
                        switch_user: true,
                    });
                }
            }
        }
        Err(ClusterError::NoUnprivilegedUser)
    }

    /// Whether programs run as another user than this process's (this process is root).
    pub(crate) fn switches_user(&self) -> bool {
        self.switch_user
    }

    /// The user's uid.
    pub(crate) fn uid(&self) -> Uid {
        self.uid
    }

    /// Give `path` to the user, when programs run as another user; otherwise leave it be.
    pub(crate) fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if !self.switch_user {
            return Ok(());
        }
        nix::unistd::chown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| ClusterError::io("cannot change the owner of", path, e.into()))
    }

    /// Check that the user can enter every folder above `data_dir` (which must be absolute and
    /// free of symlinks). Only needed when switching user: otherwise this process made them.
    pub(crate) fn check_reachable(&self, data_dir: &Path) -> Result<(), ClusterError> {
        if !self.switch_user {
            return Ok(());
        }
        for dir in data_dir.ancestors().skip(1) {
            let meta =
                std::fs::metadata(dir).map_err(|e| ClusterError::io("cannot inspect", dir, e))?;
            let mode = meta.permissions().mode();
            // Programs started with a uid lose their supplementary groups, so only the owner,
            // the primary group and "other" bits count.
            let bit = if meta.uid() == self.uid.as_raw() {
                0o100
            } else if meta.gid() == self.gid.as_raw() {
                0o010
            } else {
                0o001
            };
            if mode & bit == 0 {
                return Err(ClusterError::NotTraversable {
                    data_dir: data_dir.to_path_buf(),
                    blocked: dir.to_path_buf(),
                    mode: mode & 0o7777,
                    user: self.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Run `program` with `args` as the user, with `home` as `HOME`, in `/`, in a process
    /// group of its own (so a Ctrl-C at sitrep's terminal does not reach the server), and
    /// collect what it prints.
    pub(crate) async fn run(
        &self,
        program: &Path,
        args: &[&OsStr],
        home: &Path,
    ) -> Result<Output, ClusterError> {
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .current_dir("/")
            .env("HOME", home)
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGHOSTADDR")
            .env_remove("PGPORT")
            .env_remove("PGUSER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if self.switch_user {
            // std clears the supplementary groups when dropping root this way.
            command
                .uid(self.uid.as_raw())
                .gid(self.gid.as_raw())
                .env("USER", &self.name)
                .env("LOGNAME", &self.name);
        }
        tracing::debug!(?command, user = %self.name, "running");
        let output = tokio::process::Command::from(command)
            .output()
            .await
            .map_err(|e| ClusterError::io("cannot run", program, e))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(Output {
            status: output.status,
            text,
        })
    }
}

/// Create the missing folders above `dir` (not `dir` itself). When `readable` is set, the
/// folders created get mode 0755 whatever the umask, so another user can pass through them.
pub(crate) fn create_parents(dir: &Path, readable: bool) -> Result<(), ClusterError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let missing: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .map(Path::to_path_buf)
        .collect();
    for dir in missing.iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            // Another process made it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ClusterError::io("cannot create", dir, e)),
        }
        if readable {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| ClusterError::io("cannot set the permissions of", dir, e))?;
        }
    }
    Ok(())
}
