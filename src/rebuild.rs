//! `sitrep rebuild [NAME]`: rebuilds read models from the start of the event log into new
//! generations beside the live ones and switches to them once they have caught up, then prints
//! each one's checksum (two rebuilds of the same log print the same checksums).

use std::sync::Arc;

use sitrep_domain::store::EventStore;
use sitrep_projections::checksum::checksum;
use sitrep_projections::{Projection, ProjectionError, Projector};

pub async fn run(store: &EventStore, name: Option<&str>) -> anyhow::Result<()> {
    let chosen: Vec<Arc<dyn Projection>> = sitrep_projections::all()
        .into_iter()
        .filter(|p| name.is_none_or(|n| n == p.name()))
        .collect();
    if chosen.is_empty() {
        return Err(ProjectionError::Unknown(name.unwrap_or_default().to_owned()).into());
    }
    for projection in chosen {
        let projector = Projector::new(store.clone(), projection.clone());
        let live = projector.rebuild().await?;
        let sum = checksum(store.pool(), projection.as_ref(), &live).await?;
        println!(
            "{}: generation {} live, {} events applied, {} rows, checksum {}",
            projection.name(),
            live.generation,
            live.events_applied,
            sum.rows,
            sum.digest
        );
    }
    Ok(())
}
