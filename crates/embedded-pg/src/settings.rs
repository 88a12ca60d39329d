//! The server settings file `sitrep.conf` in the data folder, and the line in
//! `postgresql.conf` that includes it.
//!
//! Each time this crate starts the server it rewrites `sitrep.conf` with the configured
//! settings, followed by the ones it manages itself (`listen_addresses = ''`, `port`,
//! `unix_socket_directories`), so even a server started by hand with `pg_ctl start -D` opens
//! no TCP port. The same three are also given on the server's command line, which takes
//! precedence over every file (including `postgresql.auto.conf`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::ClusterError;
use crate::user::RunAs;

/// The settings file's name, in the data folder.
pub(crate) const CONF_FILE: &str = "sitrep.conf";

/// The line `postgresql.conf` needs (relative paths are relative to the including file).
const INCLUDE_LINE: &str = "include_if_exists = 'sitrep.conf'";

/// Settings this crate manages; the configuration may not set them.
const MANAGED: [&str; 3] = ["listen_addresses", "port", "unix_socket_directories"];

/// Check the configured settings, and render `sitrep.conf` with them and the managed ones.
pub(crate) fn render(
    settings: &[(String, String)],
    socket_dir: &Path,
    port: u16,
) -> Result<String, ClusterError> {
    let mut out = String::from(
        "# Written by sitrep each time it starts this cluster: edits here are overwritten.\n\
         # Configure sitrep instead, or use ALTER SYSTEM (postgresql.auto.conf).\n",
    );
    for (name, value) in settings {
        check_name(name)?;
        if MANAGED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ClusterError::InvalidConfig {
                reason: format!("the setting `{name}` is managed by sitrep and cannot be set"),
            });
        }
        out.push_str(&format!("{name} = {}\n", quote(name, value)?));
    }
    let socket_dir = socket_dir
        .to_str()
        .ok_or_else(|| ClusterError::InvalidConfig {
            reason: format!("the socket directory {} is not UTF-8", socket_dir.display()),
        })?;
    out.push_str("# Managed by sitrep: Unix socket only, in a private directory.\n");
    out.push_str("listen_addresses = ''\n");
    out.push_str(&format!("port = {port}\n"));
    out.push_str(&format!(
        "unix_socket_directories = {}\n",
        quote("unix_socket_directories", socket_dir)?
    ));
    Ok(out)
}

/// Check the configured settings without writing anything.
pub(crate) fn check(settings: &[(String, String)]) -> Result<(), ClusterError> {
    render(settings, Path::new("/"), 0).map(drop)
}

/// Write `sitrep.conf` into `data_dir`, and make sure `postgresql.conf` includes it.
pub(crate) fn install(data_dir: &Path, contents: &str, run_as: &RunAs) -> Result<(), ClusterError> {
    let conf = data_dir.join(CONF_FILE);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&conf)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(|e| ClusterError::io("cannot write", &conf, e))?;
    run_as.chown(&conf)?;

    let main = data_dir.join("postgresql.conf");
    let text =
        std::fs::read_to_string(&main).map_err(|e| ClusterError::io("cannot read", &main, e))?;
    if !text.lines().any(|l| l.trim() == INCLUDE_LINE) {
        let mut addition = String::new();
        if !text.is_empty() && !text.ends_with('\n') {
            addition.push('\n');
        }
        addition.push_str("\n# Added by sitrep: the settings it manages.\n");
        addition.push_str(INCLUDE_LINE);
        addition.push('\n');
        std::fs::OpenOptions::new()
            .append(true)
            .open(&main)
            .and_then(|mut f| f.write_all(addition.as_bytes()))
            .map_err(|e| ClusterError::io("cannot append to", &main, e))?;
    }
    Ok(())
}

/// A setting name: letters, digits, `_` and `.` (for extensions' settings), not starting with
/// a digit or `.`.
fn check_name(name: &str) -> Result<(), ClusterError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(ClusterError::InvalidConfig {
            reason: format!("`{name}` is not a PostgreSQL setting name"),
        })
    }
}

/// `value` as a quoted configuration-file string: PostgreSQL takes every kind of value
/// (numbers, booleans, units, lists) quoted, and unescapes `''` and `\\` inside quotes.
fn quote(name: &str, value: &str) -> Result<String, ClusterError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(ClusterError::InvalidConfig {
            reason: format!("the value of the setting `{name}` spans lines"),
        });
    }
    Ok(format!(
        "'{}'",
        value.replace('\\', "\\\\").replace('\'', "''")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_quoted_settings_then_managed_ones() {
        let settings = vec![
            ("work_mem".to_string(), "8MB".to_string()),
            ("search_path".to_string(), r"it's \here".to_string()),
        ];
        let text = render(&settings, Path::new("/var/lib/x.run"), 5432).unwrap();
        assert!(text.contains("work_mem = '8MB'\n"));
        assert!(text.contains(r"search_path = 'it''s \\here'"));
        let managed = text.find("listen_addresses = ''").unwrap();
        assert!(managed > text.find("work_mem").unwrap());
        assert!(text.contains("unix_socket_directories = '/var/lib/x.run'\n"));
        assert!(text.contains("port = 5432\n"));
    }

    #[test]
    fn refuses_bad_names_values_and_managed_settings() {
        let one = |n: &str, v: &str| check(&[(n.to_string(), v.to_string())]);
        assert!(one("work_mem", "1MB").is_ok());
        assert!(one("pg_stat_statements.max", "100").is_ok());
        assert!(one("", "x").is_err());
        assert!(one("a = b", "x").is_err());
        assert!(one("1x", "x").is_err());
        assert!(one("work_mem", "1MB\nlisten_addresses='*'").is_err());
        assert!(one("listen_addresses", "*").is_err());
        assert!(one("Port", "5433").is_err());
    }
}
