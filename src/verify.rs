//! `sitrep verify [--from N] [--to N]`: the integrity report of the event log, or of a range of
//! its positions (what the `verifyIntegrity` query answers), with exit code 2 when it is broken.

use std::process::ExitCode;

use sitrep_domain::store::{EventStore, PositionRange};

use crate::cli::VerifyArgs;

/// Verifies and prints the report: what was checked, then `intact` or where it is broken.
pub async fn run(store: &EventStore, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let range = PositionRange::new(args.from, args.to)?;
    let report = store.verify_range(range).await?;
    let over = match (range.from, range.to) {
        (None, None) => String::new(),
        (from, to) => format!(
            " in positions {} to {}",
            from.map_or("the start".to_owned(), |p| p.to_string()),
            to.map_or("the end".to_owned(), |p| p.to_string())
        ),
    };
    println!(
        "checked {} events and {} seals{over}",
        report.events_checked, report.seals_checked
    );
    Ok(match report.first_break {
        None => {
            println!("intact");
            ExitCode::SUCCESS
        }
        Some(broken) => {
            println!("BROKEN at position {}: {}", broken.position, broken.problem);
            ExitCode::from(2)
        }
    })
}
