//! sitrep's data in and out of the formats analysts already use.
//!
//! - Imports of ACLED and UCDP GED exports: every row becomes an incident with its external
//!   reference (`acled:<event_id_cnty>`, `ucdp:<id>`); a newer export of the same dataset is
//!   *synced*: changed rows become correction events, rows gone from the file's coverage become
//!   retractions, unchanged rows nothing.
//! - Exports of incidents as CSV, GeoJSON and ACLED's own columns.
//!
//! An imported incident's stream id is derived from its external reference
//! ([`incident_id_for`]), so a row always lands in the same stream, whichever database or
//! process imports it.

pub mod acled;
pub mod acled_columns;
mod cell;
pub mod countries;
pub mod csv_file;
pub mod dataset_file;
pub mod export;
pub mod import;
pub mod record;
pub mod rejected_file;
pub mod sync;
mod two_threads;
pub mod ucdp;

use sitrep_domain::model::incident::ExternalRef;
use uuid::Uuid;

/// The namespace of the UUIDv5 stream ids of imported incidents.
pub const IMPORTED_INCIDENT_NAMESPACE: Uuid =
    Uuid::from_u128(0x5e1c_0b2a_6d1f_4c3e_9a7b_1d2e_3f40_5a61);

/// The stream id of the incident imported from the external row `reference`
/// (`acled:IRQ38819`): UUIDv5 of the reference in [`IMPORTED_INCIDENT_NAMESPACE`].
pub fn incident_id_for(reference: &ExternalRef) -> Uuid {
    Uuid::new_v5(&IMPORTED_INCIDENT_NAMESPACE, reference.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_reference_always_gives_the_same_stream() {
        let a = ExternalRef::new("acled:IRQ38819").unwrap();
        let b = ExternalRef::new("acled:IRQ38820").unwrap();
        assert_eq!(incident_id_for(&a), incident_id_for(&a.clone()));
        assert_ne!(incident_id_for(&a), incident_id_for(&b));
        assert_eq!(incident_id_for(&a).get_version_num(), 5);
    }
}
