//! Whether the store links a batch itself, with a recorded time taken by this machine's clock
//! (`append_stamped.sql`), or leaves the linking to the database: not for a while after the
//! database refused such a time, so that a clock running ahead of the database's (or more than
//! five seconds behind it) costs one refused statement a minute rather than one per batch.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long batches are linked in the database after a refused recorded time.
pub(crate) const PAUSE: Duration = Duration::from_secs(60);

/// When the database last refused a recorded time the store took.
#[derive(Debug, Default)]
pub(crate) struct StampPause {
    refused_at: Mutex<Option<Instant>>,
}

impl StampPause {
    /// Whether the store may take a batch's recorded time itself now.
    pub fn allows(&self) -> bool {
        let refused_at = self
            .refused_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        refused_at.is_none_or(|at| at.elapsed() >= PAUSE)
    }

    /// The database refused a recorded time the store took: batches are linked in the database
    /// for the next [`PAUSE`]. Said in the log once a pause, not once a batch.
    pub fn refused(&self) {
        let mut refused_at = self
            .refused_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let pausing = refused_at.is_some_and(|at| at.elapsed() < PAUSE);
        *refused_at = Some(Instant::now());
        if !pausing {
            tracing::warn!(
                pause_seconds = PAUSE.as_secs(),
                "the database refused a recorded time taken by this machine's clock (ahead of \
                 the database's, or more than 5 s behind it): batches are linked in the \
                 database for a while"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_pauses_the_stamps() {
        let pause = StampPause::default();
        assert!(pause.allows());
        pause.refused();
        assert!(!pause.allows());
        pause.refused();
        assert!(!pause.allows());
        // Once the pause is over, the store stamps again.
        *pause.refused_at.lock().expect("lock") = Instant::now().checked_sub(PAUSE);
        assert!(pause.allows());
    }
}
