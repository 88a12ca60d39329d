//! The lock file beside the data folder: held (an exclusive `flock`) while a cluster is being
//! initialised and started, or stopped, so two processes doing so on the same folder at once
//! take turns instead of racing `initdb` or `pg_ctl`. The lock is released when dropped, or
//! by the kernel when the process dies.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::ClusterError;
use crate::user::RunAs;

/// How long to wait for another process to finish starting or stopping the cluster.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// An exclusive lock on the lock file, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _lock: Flock<File>,
}

/// Take the lock on `path` (creating the file), waiting up to `timeout` for another holder.
pub(crate) async fn acquire(
    path: &Path,
    run_as: &RunAs,
    timeout: Duration,
) -> Result<DirLock, ClusterError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| ClusterError::io("cannot open the lock file", path, e))?;
    run_as.chown(path)?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(DirLock { _lock: lock }),
            Err((back, Errno::EWOULDBLOCK)) => file = back,
            Err((_, errno)) => {
                return Err(ClusterError::io("cannot lock", path, errno.into()));
            }
        }
        if started.elapsed() >= timeout {
            return Err(ClusterError::LockTimeout {
                path: path.to_path_buf(),
                waited: timeout,
            });
        }
        if !told {
            tracing::info!(lock = %path.display(), "waiting for another process starting or stopping this cluster");
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
