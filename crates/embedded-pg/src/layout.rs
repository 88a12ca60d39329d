//! Where a cluster's files go, given its data folder `<dir>/<name>`:
//!
//! - `<dir>/<name>.lock`: the lock held while starting or stopping;
//! - `<dir>/<name>.log`: the server log (`pg_ctl -l`);
//! - the socket directory, mode 0700, owned by the server's user: `<dir>/<name>.run/` when
//!   the socket path `<that>/.s.PGSQL.5432` fits in a Unix socket address (107 bytes on
//!   Linux, 103 on macOS) and the path has only plain characters (`A-Z a-z 0-9 / . _ - + @`),
//!   else `/tmp/sitrep-pg-<hash of the data folder path>/`.
//!
//! The server listens on no TCP port, so port 5432 only names the socket file; the directory
//! is private, so it never clashes with another server's socket.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::ClusterError;
use crate::user::RunAs;

/// The port in the socket file's name, `.s.PGSQL.5432`.
pub(crate) const PORT: u16 = 5432;

/// The longest socket path the system takes (the size of `sun_path` less its final NUL).
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(crate) const MAX_SOCKET_PATH: usize = 103;
#[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// Where the fallback socket directories go.
const SHORT_SOCKET_ROOT: &str = "/tmp";

/// The paths of one cluster's files.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) data_dir: PathBuf,
    pub(crate) lock_file: PathBuf,
    pub(crate) log_file: PathBuf,
    pub(crate) socket_dir: PathBuf,
    /// Whether `socket_dir` is the short fallback under `/tmp`, not beside the data folder.
    pub(crate) socket_in_tmp: bool,
}

impl Layout {
    /// The layout for the data folder `data_dir` (absolute, with a final component).
    pub(crate) fn for_data_dir(data_dir: &Path) -> Result<Layout, ClusterError> {
        let name = data_dir
            .file_name()
            .ok_or_else(|| ClusterError::InvalidConfig {
                reason: format!("the data folder {} has no name", data_dir.display()),
            })?
            .to_string_lossy()
            .into_owned();
        let beside = |suffix: &str| data_dir.with_file_name(format!("{name}{suffix}"));
        let preferred = beside(".run");
        let (socket_dir, socket_in_tmp) = if usable_socket_dir(&preferred) {
            (preferred, false)
        } else {
            let short = short_socket_dir(data_dir);
            if !fits(&short) {
                return Err(ClusterError::SocketPathTooLong {
                    path: socket_file(&short),
                    max: MAX_SOCKET_PATH,
                });
            }
            (short, true)
        };
        Ok(Layout {
            data_dir: data_dir.to_path_buf(),
            lock_file: beside(".lock"),
            log_file: beside(".log"),
            socket_dir,
            socket_in_tmp,
        })
    }

    /// Create the socket directory if needed and make sure it is a private directory (mode
    /// 0700) of the server's user. A directory found owned by someone else is taken over only
    /// when it is beside the data folder, or was left by root; under `/tmp` it is refused.
    pub(crate) fn prepare_socket_dir(&self, run_as: &RunAs) -> Result<(), ClusterError> {
        let dir = &self.socket_dir;
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ClusterError::io("cannot create", dir, e)),
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| ClusterError::io("cannot inspect", dir, e))?;
        if !meta.is_dir() {
            return Err(ClusterError::UnsafeSocketDir {
                path: dir.clone(),
                reason: "it is not a directory".to_string(),
            });
        }
        if meta.uid() != run_as.uid().as_raw() {
            let takeover = run_as.switches_user() && (!self.socket_in_tmp || meta.uid() == 0);
            if !takeover {
                return Err(ClusterError::UnsafeSocketDir {
                    path: dir.clone(),
                    reason: format!(
                        "it belongs to uid {}, not to `{}` who runs PostgreSQL; remove it",
                        meta.uid(),
                        run_as.name
                    ),
                });
            }
            run_as.chown(dir)?;
        }
        if meta.permissions().mode() & 0o7777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| ClusterError::io("cannot set the permissions of", dir, e))?;
        }
        Ok(())
    }
}

/// The socket file PostgreSQL makes in `dir`.
pub(crate) fn socket_file(dir: &Path) -> PathBuf {
    dir.join(format!(".s.PGSQL.{PORT}"))
}

fn fits(dir: &Path) -> bool {
    socket_file(dir).as_os_str().len() <= MAX_SOCKET_PATH
}

/// Short enough, and plain enough to pass through `pg_ctl`'s shell command and PostgreSQL's
/// list syntax for `unix_socket_directories` unquoted.
fn usable_socket_dir(dir: &Path) -> bool {
    fits(dir)
        && dir.to_str().is_some_and(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+@".contains(c))
        })
}

/// `/tmp/sitrep-pg-<16 hex digits>`, from a stable hash of the data folder's path.
fn short_socket_dir(data_dir: &Path) -> PathBuf {
    let hash = fnv1a64(data_dir.as_os_str().as_encoded_bytes());
    Path::new(SHORT_SOCKET_ROOT).join(format!("sitrep-pg-{hash:016x}"))
}

/// FNV-1a, 64 bits: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_keep_the_socket_beside_the_data_dir() {
        let layout = Layout::for_data_dir(Path::new("/var/lib/sitrep/postgres")).unwrap();
        assert_eq!(layout.socket_dir, Path::new("/var/lib/sitrep/postgres.run"));
        assert_eq!(layout.lock_file, Path::new("/var/lib/sitrep/postgres.lock"));
        assert_eq!(layout.log_file, Path::new("/var/lib/sitrep/postgres.log"));
        assert!(!layout.socket_in_tmp);
    }

    #[test]
    fn long_paths_fall_back_to_a_stable_short_dir() {
        let long = PathBuf::from(format!("/srv/{}/postgres", "x".repeat(120)));
        let a = Layout::for_data_dir(&long).unwrap();
        let b = Layout::for_data_dir(&long).unwrap();
        assert!(a.socket_in_tmp);
        assert_eq!(a.socket_dir, b.socket_dir);
        assert!(a.socket_dir.starts_with("/tmp"));
        assert!(socket_file(&a.socket_dir).as_os_str().len() <= MAX_SOCKET_PATH);
        let other = Layout::for_data_dir(Path::new(&format!("{}2", long.display()))).unwrap();
        assert_ne!(a.socket_dir, other.socket_dir);
    }

    #[test]
    fn odd_characters_fall_back_too() {
        let layout = Layout::for_data_dir(Path::new("/home/a b/postgres")).unwrap();
        assert!(layout.socket_in_tmp);
    }

    #[test]
    fn fnv_is_the_reference_function() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
