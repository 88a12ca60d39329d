//! CSV exports: a header, then one record per incident, RFC 4180 (fields quoted when they hold
//! a comma, a quote or a line break; records ended by CRLF), written by the `csv` crate. The
//! CSV format's records are [`super::fields`] rendered as cells; the ACLED format
//! ([`super::format_acled`]) writes its own records through the same functions.

use csv::{Terminator, WriterBuilder};

use super::exported::ExportedIncident;
use super::fields::{field_values, FIELDS};
use super::ExportError;

/// The header record `columns`, as bytes.
pub fn header(columns: &[&str]) -> Result<Vec<u8>, ExportError> {
    let mut writer = writer();
    writer.write_record(columns)?;
    finish(writer)
}

/// One record per incident, made by `record`, as bytes.
pub fn records<R, F>(incidents: &[ExportedIncident], record: F) -> Result<Vec<u8>, ExportError>
where
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
    F: Fn(&ExportedIncident) -> R,
{
    let mut writer = writer();
    for incident in incidents {
        writer.write_record(record(incident))?;
    }
    finish(writer)
}

/// The CSV format's record of `incident`: [`FIELDS`] as cells.
pub fn record(incident: &ExportedIncident) -> Vec<String> {
    field_values(incident)
        .iter()
        .map(|value| value.csv_cell())
        .collect()
}

/// The CSV format's header.
pub fn csv_header() -> Result<Vec<u8>, ExportError> {
    header(&FIELDS)
}

fn writer() -> csv::Writer<Vec<u8>> {
    WriterBuilder::new()
        .terminator(Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ExportError> {
    writer
        .into_inner()
        .map_err(|error| ExportError::Write(error.error().to_string()))
}
