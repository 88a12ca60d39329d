//! Inputs for the values several aggregates share: a time span, a place, a point, a count, a
//! source. Each turns into the domain's value with `into_domain`; the domain checks every rule
//! when the command is decided, so these only convert (and refuse what cannot be converted,
//! such as a negative count).

use async_graphql::InputObject;
use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, Place, Source, UncertainCount,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::vocab::{DatePrecision, GeoPrecision, SourceScale};

/// When it happened: a day or a span of days, and how precisely that is known.
#[derive(InputObject)]
pub struct EventTimeInput {
    pub start: NaiveDate,
    /// Left out: the same day as `start`.
    pub end: Option<NaiveDate>,
    #[graphql(default_with = "DatePrecision::Day")]
    pub precision: DatePrecision,
}

impl EventTimeInput {
    pub(crate) fn into_domain(self) -> EventTime {
        EventTime {
            start: self.start,
            end: self.end.unwrap_or(self.start),
            precision: self.precision.into(),
        }
    }
}

/// Where it happened.
#[derive(InputObject)]
pub struct PlaceInput {
    /// ISO 3166 alpha-3 (`IRQ`).
    pub country: String,
    pub admin1: Option<String>,
    pub admin2: Option<String>,
    pub admin3: Option<String>,
    pub location: Option<String>,
    pub coordinates: Option<CoordinatesInput>,
    pub precision: GeoPrecision,
    /// The site (a base, a camp) it happened at: a registered site's id.
    pub site: Option<Uuid>,
}

impl PlaceInput {
    pub(crate) fn into_domain(self) -> Place {
        Place {
            // The domain checks the code.
            country: CountryCode(self.country),
            admin1: self.admin1,
            admin2: self.admin2,
            admin3: self.admin3,
            location: self.location,
            coordinates: self.coordinates.map(|c| Coordinates {
                latitude: c.latitude,
                longitude: c.longitude,
            }),
            precision: self.precision.into(),
            site: self.site,
        }
    }
}

/// A point in degrees (WGS 84).
#[derive(InputObject)]
pub struct CoordinatesInput {
    pub latitude: f64,
    pub longitude: f64,
}

/// A figure, or a range of figures (low <= best <= high); give `best` alone for one figure.
#[derive(InputObject)]
pub struct CountInput {
    pub low: Option<i32>,
    pub best: i32,
    pub high: Option<i32>,
    /// What the source said ("dozens").
    pub words: Option<String>,
}

impl CountInput {
    pub(crate) fn into_domain(self, path: &str) -> Result<UncertainCount, ApiError> {
        let count = |name: &str, value: i32| {
            u32::try_from(value)
                .map_err(|_| ApiError::bad_input(format!("{path}.{name}"), "must not be negative"))
        };
        let best = count("best", self.best)?;
        Ok(UncertainCount {
            low: self.low.map_or(Ok(best), |low| count("low", low))?,
            best,
            high: self.high.map_or(Ok(best), |high| count("high", high))?,
            words: self.words,
        })
    }
}

/// Where a fact comes from.
#[derive(InputObject)]
pub struct SourceInput {
    pub name: String,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub scale: Option<SourceScale>,
    /// The words of the source that support the fact.
    pub quote: Option<String>,
}

impl SourceInput {
    // The domain checks the name, the URL and the lengths.
    pub(crate) fn into_domain(self) -> Source {
        Source {
            name: self.name,
            url: self.url,
            published_at: self.published_at,
            scale: self.scale.map(Into::into),
            quote: self.quote,
        }
    }
}
