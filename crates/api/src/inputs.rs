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
    /// The first day (or the only one).
    pub start: NaiveDate,
    /// Left out: the same day as `start`.
    pub end: Option<NaiveDate>,
    /// How precisely the day or span is known: `DAY` only for a single day; left out: `DAY`.
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
    /// The first-level administrative division: the province or governorate ("Al Anbar");
    /// at most 300 characters.
    pub admin1: Option<String>,
    /// The second-level administrative division: the district; at most 300 characters.
    pub admin2: Option<String>,
    /// The third-level administrative division: the sub-district; at most 300 characters.
    pub admin3: Option<String>,
    /// The named place: a town, a village, a base ("Ain al-Asad"); at most 300 characters.
    pub location: Option<String>,
    /// The point, when known; required when `precision` is `EXACT` or `NEAR`.
    pub coordinates: Option<CoordinatesInput>,
    /// How precisely the place is known.
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
    /// Degrees north, -90 to 90 (negative: south).
    pub latitude: f64,
    /// Degrees east, -180 to 180 (negative: west).
    pub longitude: f64,
}

/// A figure, or a range of figures (low <= best <= high); give `best` alone for one figure.
#[derive(InputObject)]
pub struct CountInput {
    /// The lowest figure the source allows: 0 or more, not above `best`; left out: `best`.
    pub low: Option<i32>,
    /// The figure given, or the most likely one: 0 or more.
    pub best: i32,
    /// The highest figure the source allows: not below `best`; left out: `best`.
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
    /// Who or what reports it (a news agency, a ministry, a dataset: "Reuters"); not blank, at
    /// most 300 characters.
    pub name: String,
    /// Where it can be read: an `http://` or `https://` address without spaces, at most 2048
    /// characters.
    pub url: Option<String>,
    /// When the source was published.
    pub published_at: Option<DateTime<Utc>>,
    /// How widely the source reports (ACLED's source scale).
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
