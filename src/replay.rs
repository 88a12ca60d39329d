//! `sitrep replay --until T [--projection NAME] [--keep]`: builds read models as sitrep knew
//! them at recorded time T (only the events recorded at or before T, in feed order) into
//! schemas of their own, and prints each one's checksum, so that two replays (on two copies of
//! the log, or before and after a suspected change) can be compared.
//!
//! A replay is never made live and never touches the live read models or the projectors'
//! checkpoints ([`sitrep_projections::replay`]). Without `--keep` its schema
//! (`rm_scratch_<name>_<n>`) is dropped once checksummed; with `--keep` it stays as
//! `rm_replay_<name>_<n>` for an auditor to query with SQL, until someone drops it
//! (`DROP SCHEMA rm_replay_<name>_<n> CASCADE`).

use chrono::{DateTime, FixedOffset, Utc};
use sitrep_domain::store::EventStore;
use sitrep_projections::replay::{self, Bound, ReplayKind};
use sitrep_projections::{Projection, ProjectionError};

/// Parses `--until`: an RFC 3339 time with its offset (`2024-01-28T12:00:00Z`).
pub fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    text.trim()
        .parse::<DateTime<FixedOffset>>()
        .map(|t| t.with_timezone(&Utc))
        .map_err(|error| {
            format!(
                "{error}: expected an RFC 3339 time with an offset, such as \
                 2024-01-28T12:00:00Z or 2024-01-28T15:00:00+03:00"
            )
        })
}

pub async fn run(
    store: &EventStore,
    until: DateTime<Utc>,
    name: Option<&str>,
    keep: bool,
) -> anyhow::Result<()> {
    let all = sitrep_projections::all();
    let chosen: Vec<&dyn Projection> = all
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| name.is_none_or(|n| n == p.name()))
        .collect();
    if chosen.is_empty() {
        return Err(ProjectionError::Unknown(name.unwrap_or_default().to_owned()).into());
    }
    let kind = if keep {
        ReplayKind::Kept
    } else {
        ReplayKind::Scratch
    };
    let replays = replay::build_many(store, &chosen, kind, Bound::RecordedUntil(until)).await?;
    let mut outcome = Ok(());
    for (projection, replayed) in chosen.iter().zip(&replays) {
        match replay::checksum(store.pool(), *projection, replayed).await {
            Ok(sum) => println!(
                "{}: schema {} ({}), {} events applied, {} rows, checksum {}",
                projection.name(),
                replayed.schema,
                if keep { "kept" } else { "dropped" },
                replayed.events_applied,
                sum.rows,
                sum.digest
            ),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    if !keep || outcome.is_err() {
        for replayed in &replays {
            replay::drop_schema(store.pool(), &replayed.schema).await?;
        }
    }
    outcome?;
    if replays.iter().any(|replayed| replayed.held_back) {
        anyhow::bail!(
            "incomplete: a transaction still open held events back from the replay (some may \
             have been recorded before {until}); run it again once that transaction has ended"
        );
    }
    Ok(())
}
