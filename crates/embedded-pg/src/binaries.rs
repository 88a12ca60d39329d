//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) installed on the
//! machine, all three from one folder, and telling their version.
//!
//! The search order: the folder given explicitly (and nothing else when one is given); each
//! folder of `PATH` holding `initdb` (symlinks resolved, so `pg_ctl` and `postgres` come from
//! the folder `initdb` really lives in); `/usr/lib/postgresql/*/bin` (Debian/Ubuntu, highest
//! version first); `/usr/pgsql-*/bin` (RHEL, highest first); `/usr/local/pgsql/bin` (source
//! installs); `/opt/homebrew/opt/postgresql*/bin` and `/usr/local/opt/postgresql*/bin`
//! (Homebrew, highest first).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::ClusterError;

/// The programs that must all be in one folder.
const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A folder holding the PostgreSQL server binaries, and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    pub bin_dir: PathBuf,
    /// The version `postgres --version` reports, e.g. `15.20`.
    pub version: String,
}

impl PgBinaries {
    /// Find the binaries: in `override_dir` alone when it is given, else by the search order
    /// described in this module's documentation.
    pub fn discover(override_dir: Option<&Path>) -> Result<Self, ClusterError> {
        Self::discover_preferring(override_dir, None)
    }

    /// Like [`PgBinaries::discover`], but when searching (no `override_dir`), prefer the first
    /// folder whose major version is `major` (e.g. `"15"`), if there is one.
    pub fn discover_preferring(
        override_dir: Option<&Path>,
        major: Option<&str>,
    ) -> Result<Self, ClusterError> {
        if let Some(dir) = override_dir {
            return if has_all_programs(dir) {
                Self::in_dir(dir)
            } else {
                Err(ClusterError::BinariesNotFound {
                    searched: vec![dir.to_path_buf()],
                })
            };
        }
        let (found, searched) = candidates();
        if found.is_empty() {
            return Err(ClusterError::BinariesNotFound { searched });
        }
        let mut first = None;
        for dir in &found {
            let binaries = match Self::in_dir(dir) {
                Ok(binaries) => binaries,
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "skipping PostgreSQL binaries");
                    continue;
                }
            };
            if major.is_none_or(|m| binaries.major() == m) {
                return Ok(binaries);
            }
            first.get_or_insert(binaries);
        }
        first.ok_or(ClusterError::BinariesNotFound { searched })
    }

    /// The binaries in `dir`, with the version `postgres --version` reports.
    fn in_dir(dir: &Path) -> Result<Self, ClusterError> {
        let postgres = dir.join("postgres");
        let output = Command::new(&postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::io("cannot run", &postgres, e))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = parse_version(&text).ok_or_else(|| {
            ClusterError::io(
                "cannot tell the version of",
                &postgres,
                std::io::Error::other(format!("unexpected `--version` output {text:?}")),
            )
        })?;
        Ok(PgBinaries {
            bin_dir: dir.to_path_buf(),
            version,
        })
    }

    /// The major version: `15` for `15.20`, `9.6` for `9.6.24`.
    pub fn major(&self) -> &str {
        major_of(&self.version)
    }

    /// The path of `initdb`.
    pub fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    /// The path of `pg_ctl`.
    pub fn pg_ctl(&self) -> PathBuf {
        self.bin_dir.join("pg_ctl")
    }

    /// The path of `postgres`.
    pub fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }
}

/// The major version of a PostgreSQL version string: its first component from 10 on, its
/// first two before.
pub(crate) fn major_of(version: &str) -> &str {
    let leading_digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let first = leading_digits(version);
    match version[..first].parse::<u32>() {
        Ok(n) if n < 10 && version[first..].starts_with('.') => {
            let second = leading_digits(&version[first + 1..]);
            &version[..first + 1 + second]
        }
        Ok(_) => &version[..first],
        Err(_) => version,
    }
}

/// The version in `postgres --version` output such as
/// `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`.
fn parse_version(text: &str) -> Option<String> {
    let rest = match text.find("(PostgreSQL)") {
        Some(i) => &text[i + "(PostgreSQL)".len()..],
        None => text,
    };
    rest.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
}

/// The folders holding all three programs, in search order, and every folder looked in.
fn candidates() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut searched: Vec<PathBuf> = Vec::new();
    let mut consider = |dir: PathBuf, found: &mut Vec<PathBuf>| {
        if has_all_programs(&dir) && !found.contains(&dir) {
            found.push(dir.clone());
        }
        if !searched.contains(&dir) {
            searched.push(dir);
        }
    };

    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path).filter(|d| d.is_absolute()) {
            let initdb = dir.join("initdb");
            if is_executable(&initdb) {
                // Resolve symlinks: /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb.
                if let Some(real_dir) = std::fs::canonicalize(&initdb)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                {
                    consider(real_dir, &mut found);
                }
            }
            consider(dir, &mut found);
        }
    }
    for dir in versioned_dirs(Path::new("/usr/lib/postgresql"), "", "bin") {
        consider(dir, &mut found);
    }
    for dir in versioned_dirs(Path::new("/usr"), "pgsql-", "bin") {
        consider(dir, &mut found);
    }
    consider(PathBuf::from("/usr/local/pgsql/bin"), &mut found);
    for prefix in ["/opt/homebrew/opt", "/usr/local/opt"] {
        for dir in versioned_dirs(Path::new(prefix), "postgresql", "bin") {
            consider(dir, &mut found);
        }
    }
    (found, searched)
}

/// `<parent>/<prefix><version>/<sub>` for every entry of `parent` named `<prefix>...`, highest
/// version first (`postgresql@16` before `postgresql@15` before `postgresql`). When `parent`
/// does not exist the pattern itself is returned, so error messages show where was looked.
fn versioned_dirs(parent: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return vec![parent.join(format!("{prefix}*")).join(sub)];
    };
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let rest = name.strip_prefix(prefix)?;
            let version = version_key(rest.trim_start_matches('@'));
            if !prefix.is_empty() || !version.is_empty() {
                Some((version, entry.path().join(sub)))
            } else {
                None
            }
        })
        .collect();
    dirs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    dirs.into_iter().map(|(_, dir)| dir).collect()
}

/// `"9.6"` → `[9, 6]`; anything that is not a dotted number → `[]`.
fn version_key(text: &str) -> Vec<u32> {
    text.split('.')
        .map(str::parse::<u32>)
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

fn has_all_programs(dir: &Path) -> bool {
    PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_version_output() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n").as_deref(),
            Some("15.20")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17beta1\n").as_deref(),
            Some("17beta1")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 9.6.24\n").as_deref(),
            Some("9.6.24")
        );
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn major_versions() {
        assert_eq!(major_of("15.20"), "15");
        assert_eq!(major_of("9.6.24"), "9.6");
        assert_eq!(major_of("17beta1"), "17");
        assert_eq!(major_of("x"), "x");
        assert_eq!(major_of("16"), "16");
    }

    #[test]
    fn version_keys_order_numerically() {
        assert!(version_key("16") > version_key("9.6"));
        assert!(version_key("15") > version_key(""));
        assert_eq!(version_key("x"), Vec::<u32>::new());
    }
}
