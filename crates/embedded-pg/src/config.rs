//! What a cluster is asked to be ([`ClusterConfig`]) and where its data lives by default
//! ([`default_data_dir`]). Plain data: nothing here touches the file system or runs anything.

use std::path::PathBuf;

/// How to set up and start an embedded cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The cluster's data folder (`PGDATA`). Created, and initialised with `initdb`, when it
    /// holds no cluster yet. Its parent also receives `<name>.lock`, `<name>.log` and, when the
    /// path is short enough, the socket directory `<name>.run/`.
    pub data_dir: PathBuf,
    /// The folder holding `initdb`, `pg_ctl` and `postgres`; `None` searches for them (see
    /// [`crate::PgBinaries::discover`]).
    pub bin_dir: Option<PathBuf>,
    /// The superuser role `initdb` creates, and the role connections use. Default `sitrep`.
    pub superuser: String,
    /// Extra server settings (`name`, `value`), e.g. `("shared_buffers", "256MB")`.
    ///
    /// They are written to `sitrep.conf` in the data folder, which `postgresql.conf` includes,
    /// each time this crate starts the server: they take effect on the next start, not on a
    /// server that is already running. `listen_addresses`, `port` and
    /// `unix_socket_directories` are managed by this crate and cannot be set here.
    pub settings: Vec<(String, String)>,
}

impl ClusterConfig {
    /// A configuration for the cluster in `data_dir`, with discovered binaries, the superuser
    /// `sitrep` and no extra settings.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ClusterConfig {
            data_dir: data_dir.into(),
            bin_dir: None,
            superuser: "sitrep".to_string(),
            settings: Vec::new(),
        }
    }

    /// Use the binaries in `bin_dir` instead of searching for them.
    pub fn with_bin_dir(mut self, bin_dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(bin_dir.into());
        self
    }

    /// Use `superuser` as the superuser role.
    pub fn with_superuser(mut self, superuser: impl Into<String>) -> Self {
        self.superuser = superuser.into();
        self
    }

    /// Add a server setting.
    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }
}

/// Where `sitrep serve` keeps its cluster when nothing else is said: as root
/// `/var/lib/sitrep/postgres`; otherwise `$XDG_DATA_HOME/sitrep/postgres`, with
/// `$XDG_DATA_HOME` defaulting to `~/.local/share`.
pub fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/sitrep/postgres");
    }
    user_data_home().join("sitrep").join("postgres")
}

/// `$XDG_DATA_HOME`, else `$HOME/.local/share`, else the home folder of the passwd entry, else
/// a per-user folder in the temporary directory.
fn user_data_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        // The XDG spec says relative values are invalid and to be ignored.
        if dir.is_absolute() {
            return dir;
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        });
    match home {
        Some(home) => home.join(".local").join("share"),
        None => std::env::temp_dir().join(format!("sitrep-{}", nix::unistd::geteuid())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_has_the_documented_defaults() {
        let config = ClusterConfig::new("/x/pg");
        assert_eq!(config.data_dir, PathBuf::from("/x/pg"));
        assert_eq!(config.bin_dir, None);
        assert_eq!(config.superuser, "sitrep");
        assert!(config.settings.is_empty());
    }

    #[test]
    fn default_data_dir_ends_in_sitrep_postgres() {
        let dir = default_data_dir();
        assert!(dir.is_absolute());
        assert!(dir.ends_with("sitrep/postgres"), "{}", dir.display());
    }
}
