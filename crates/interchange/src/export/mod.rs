//! Incident exports: the incidents a filter selects, now or as known at a recorded time, as CSV,
//! GeoJSON or ACLED's own columns, written a page at a time so that any number of incidents
//! streams through bounded memory.
//!
//! - [`selection`]: the filter and the time, from command-line flags or query parameters, checked;
//! - [`pages`]: the walk through the selection in keyset pages inside one snapshot, each
//!   incident's state folded from the log by the domain model;
//! - [`exported`]: an incident as every format sees it;
//! - [`fields`]: the fields the CSV and GeoJSON formats share;
//! - one module per format: [`format_csv`], [`format_geojson`], [`format_acled`].
//!
//! [`Export`] ties them together: [`Export::start`] checks that the read models are there
//! (so that an HTTP route can still answer with an error status), then [`Export::next_chunk`]
//! (or the stream of [`Export::into_stream`]) gives the bytes: the opening, a chunk per page,
//! the closing.

pub mod exported;
pub mod fields;
pub mod format_acled;
pub mod format_csv;
pub mod format_geojson;
pub mod pages;
pub mod selection;

use futures::Stream;
use sitrep_domain::model::CodecError;
use sitrep_projections::ProjectionError;
use sqlx::PgPool;
use uuid::Uuid;

use crate::acled_columns::ACLED_COLUMNS;
pub use exported::{ExportedActor, ExportedIncident};
use format_geojson::FeatureWriter;
use pages::Pages;
pub use selection::{ExportFilter, ExportRequest};

/// How many incidents a page holds.
pub const PAGE_SIZE: u32 = 1_000;

/// The formats of an incident export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per incident with sitrep's fields ([`fields::FIELDS`]).
    Csv,
    /// A GeoJSON FeatureCollection, one feature per incident.
    GeoJson,
    /// ACLED's 31 columns ([`ACLED_COLUMNS`]).
    Acled,
}

impl ExportFormat {
    /// The media type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv | Self::Acled => "text/csv; charset=utf-8",
            Self::GeoJson => "application/geo+json",
        }
    }

    /// The file name an HTTP download suggests.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Csv => "incidents.csv",
            Self::GeoJson => "incidents.geojson",
            Self::Acled => "incidents.acled.csv",
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A parameter of the request breaks a rule (nothing was read).
    #[error("{field}: {message}")]
    BadParameter { field: String, message: String },
    /// A read model the export reads is not built yet.
    #[error("{0} is not built yet: wait for the projectors (sitrep serve) or run sitrep rebuild")]
    Unavailable(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A stored event does not decode into the model.
    #[error("event at position {position} cannot be read: {source}")]
    Unreadable {
        position: i64,
        #[source]
        source: CodecError,
    },
    /// The read model and the log disagree about an incident (the log was tampered with, or
    /// the read model is broken: `sitrep verify`, `sitrep rebuild`).
    #[error("incident {incident}: {why}")]
    Inconsistent { incident: Uuid, why: String },
    /// A record could not be written.
    #[error("cannot write the export: {0}")]
    Write(String),
}

impl ExportError {
    pub fn bad_parameter(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadParameter {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<csv::Error> for ExportError {
    fn from(error: csv::Error) -> Self {
        Self::Write(error.to_string())
    }
}

/// Turns pages of incidents into the bytes of a format.
enum Encoder {
    Csv,
    GeoJson(FeatureWriter),
    Acled,
}

impl Encoder {
    fn new(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Csv => Self::Csv,
            ExportFormat::GeoJson => Self::GeoJson(FeatureWriter::default()),
            ExportFormat::Acled => Self::Acled,
        }
    }

    fn opening(&self) -> Result<Vec<u8>, ExportError> {
        match self {
            Self::Csv => format_csv::csv_header(),
            Self::GeoJson(_) => Ok(format_geojson::OPENING.to_vec()),
            Self::Acled => format_csv::header(&ACLED_COLUMNS),
        }
    }

    fn page(&mut self, incidents: &[ExportedIncident]) -> Result<Vec<u8>, ExportError> {
        match self {
            Self::Csv => format_csv::records(incidents, format_csv::record),
            Self::GeoJson(features) => features.features(incidents),
            Self::Acled => format_csv::records(incidents, format_acled::record),
        }
    }

    fn closing(&self) -> Vec<u8> {
        match self {
            Self::Csv | Self::Acled => Vec::new(),
            Self::GeoJson(_) => format_geojson::CLOSING.to_vec(),
        }
    }
}

/// Where an export stands.
enum Stage {
    Opening,
    Pages,
    Done,
}

/// An export under way.
pub struct Export {
    pages: Option<Pages>,
    encoder: Encoder,
    stage: Stage,
    written: u64,
}

impl Export {
    /// Starts the export `request` on `pool`: opens its snapshot and checks the read models are
    /// built. Nothing is written yet.
    pub async fn start(pool: &PgPool, request: &ExportRequest) -> Result<Self, ExportError> {
        Self::start_with_page_size(pool, request, PAGE_SIZE).await
    }

    /// The same with pages of `page_size` incidents.
    pub async fn start_with_page_size(
        pool: &PgPool,
        request: &ExportRequest,
        page_size: u32,
    ) -> Result<Self, ExportError> {
        request.filter.check()?;
        let pages = Pages::open(pool, request.filter.to_query(), request.as_of, page_size).await?;
        Ok(Self {
            pages: Some(pages),
            encoder: Encoder::new(request.format),
            stage: Stage::Opening,
            written: 0,
        })
    }

    /// The next bytes of the export (the opening, then a page, ..., then the closing); `None`
    /// once all are given.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ExportError> {
        loop {
            match self.stage {
                Stage::Opening => {
                    self.stage = Stage::Pages;
                    return self.encoder.opening().map(Some);
                }
                Stage::Pages => {
                    let Some(pages) = self.pages.as_mut() else {
                        self.stage = Stage::Done;
                        continue;
                    };
                    match pages.next().await? {
                        Some(page) => {
                            self.written += page.len() as u64;
                            return self.encoder.page(&page).map(Some);
                        }
                        None => {
                            if let Some(pages) = self.pages.take() {
                                pages.close().await?;
                            }
                            self.stage = Stage::Done;
                            let closing = self.encoder.closing();
                            if !closing.is_empty() {
                                return Ok(Some(closing));
                            }
                        }
                    }
                }
                Stage::Done => return Ok(None),
            }
        }
    }

    /// How many incidents have been given so far.
    pub fn incidents_written(&self) -> u64 {
        self.written
    }

    /// The export's bytes as a stream (for an HTTP body); it ends after the closing, or with
    /// the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<u8>, ExportError>> + Send + 'static {
        futures::stream::try_unfold(self, |mut export| async move {
            Ok(export.next_chunk().await?.map(|chunk| (chunk, export)))
        })
    }
}
