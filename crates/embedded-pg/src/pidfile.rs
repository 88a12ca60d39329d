//! Reading `postmaster.pid`, the file a running server keeps in its data folder: its pid, port,
//! socket directory and state. Used to find where a server this process did not start
//! listens, and whether it is shutting down.

use std::path::{Path, PathBuf};

/// What `postmaster.pid` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    /// The postmaster's pid.
    pub(crate) pid: i32,
    /// The port (line 4).
    pub(crate) port: Option<u16>,
    /// The first Unix socket directory (line 5); `None` when it listens on none.
    pub(crate) socket_dir: Option<PathBuf>,
    /// `starting`, `stopping`, `ready` or `standby` (line 8).
    pub(crate) status: Option<String>,
}

impl PidFile {
    /// Whether the server is shutting down.
    pub(crate) fn stopping(&self) -> bool {
        self.status.as_deref() == Some("stopping")
    }
}

/// Read `<data_dir>/postmaster.pid`; `None` when there is none (or it is unreadable or half
/// written).
pub(crate) fn read(data_dir: &Path) -> Option<PidFile> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<PidFile> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let pid = lines.first()?.parse::<i32>().ok()?;
    let port = lines.get(3).and_then(|l| l.parse::<u16>().ok());
    let socket_dir = lines
        .get(4)
        .filter(|l| !l.is_empty())
        .map(|l| PathBuf::from(*l));
    let status = lines
        .get(7)
        .filter(|l| !l.is_empty())
        .map(|l| l.to_string());
    Some(PidFile {
        pid,
        port,
        socket_dir,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_ready_server() {
        let text = "1234\n/var/lib/sitrep/postgres\n1732560000\n5432\n/var/lib/sitrep/postgres.run\n\n  5432001    131072\nready   \n";
        let pid = parse(text).unwrap();
        assert_eq!(pid.pid, 1234);
        assert_eq!(pid.port, Some(5432));
        assert_eq!(
            pid.socket_dir.as_deref(),
            Some(Path::new("/var/lib/sitrep/postgres.run"))
        );
        assert_eq!(pid.status.as_deref(), Some("ready"));
        assert!(!pid.stopping());
    }

    #[test]
    fn parses_a_server_without_socket() {
        let text = "99\n/d\n1\n5433\n\n*\n  1 2\nstopping\n";
        let pid = parse(text).unwrap();
        assert_eq!(pid.socket_dir, None);
        assert!(pid.stopping());
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("abc\n"), None);
    }
}
