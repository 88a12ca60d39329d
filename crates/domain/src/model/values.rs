//! The value types every aggregate shares: time with precision, place with precision, uncertain
//! counts and sources, and the text rules of free-text fields.
//!
//! Values are plain data with public fields (commands and events carry them, serde stores them);
//! `validate` checks a value's own rules and names the offending field relative to the value, so
//! a command checks `place` with `place.validate().map_err(|e| e.within("place"))`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::countries;
use super::error::DomainError;

/// The longest free text a field takes (notes, summaries, quotes), in characters.
pub const MAX_TEXT: usize = 10_000;
/// The longest name or label a field takes, in characters.
pub const MAX_NAME: usize = 300;

/// Checks a required text field: not blank, at most `max` characters, no control characters
/// other than new lines and tabs.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be blank"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// [`check_text`] for an optional field: absent is fine, present must pass.
pub fn check_optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| check_text(field, v, max))
}

/// Checks every item of a list with `check`, naming the failing item `field[i]`.
pub fn check_each<T>(
    field: &str,
    items: &[T],
    check: impl Fn(&T) -> Result<(), DomainError>,
) -> Result<(), DomainError> {
    for (i, item) in items.iter().enumerate() {
        check(item).map_err(|e| match e {
            DomainError::Invalid { field: inner, rule } if inner.is_empty() => {
                DomainError::invalid(format!("{field}[{i}]"), rule)
            }
            other => other.within(&format!("{field}[{i}]")),
        })?;
    }
    Ok(())
}

/// How precisely a date or span is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    /// The exact day.
    Day,
    /// Within a few days (2-6).
    Days,
    /// Within a week.
    Week,
    /// Within a month.
    Month,
    /// Within a year, or vaguer.
    Year,
}

impl DatePrecision {
    /// ACLED's `time_precision`: 1 the day, 2 the week, 3 the month.
    pub fn from_acled(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Day),
            2 => Some(Self::Week),
            3 => Some(Self::Month),
            _ => None,
        }
    }

    /// UCDP GED's `date_prec`: 1 the day, 2 2-6 days, 3 the week, 4 the month, 5 longer.
    pub fn from_ucdp(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Day),
            2 => Some(Self::Days),
            3 => Some(Self::Week),
            4 => Some(Self::Month),
            5 => Some(Self::Year),
            _ => None,
        }
    }

    /// The stored name (`day`, `days`, ...), as in payloads and the store's valid time.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Days => "days",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// When something happened in the world: a day, or a span of days (both ends included), with
/// how precisely the source knew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTime {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub precision: DatePrecision,
}

impl EventTime {
    /// One day, known exactly.
    pub fn day(date: NaiveDate) -> Self {
        Self {
            start: date,
            end: date,
            precision: DatePrecision::Day,
        }
    }

    /// A span with a precision (not yet validated).
    pub fn span(start: NaiveDate, end: NaiveDate, precision: DatePrecision) -> Self {
        Self {
            start,
            end,
            precision,
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if self.end < self.start {
            return Err(DomainError::invalid(
                "end",
                format!(
                    "must not be before the start ({} is before {})",
                    self.end, self.start
                ),
            ));
        }
        if self.precision == DatePrecision::Day && self.end != self.start {
            return Err(DomainError::invalid(
                "precision",
                "a span of several days cannot have the precision of one day",
            ));
        }
        Ok(())
    }
}

/// An ISO 3166-1 alpha-3 country code (`IRQ`, `SYR`, `USA`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CountryCode(pub String);

impl CountryCode {
    /// `code`, if it is a valid alpha-3 code.
    pub fn new(code: &str) -> Result<Self, DomainError> {
        let code = Self(code.to_owned());
        code.validate()?;
        Ok(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if countries::is_alpha3(&self.0) {
            Ok(())
        } else {
            Err(DomainError::invalid(
                "",
                format!(
                    "\"{}\" is not an ISO 3166-1 alpha-3 country code (three upper-case letters, e.g. IRQ)",
                    self.0
                ),
            ))
        }
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    pub fn validate(&self) -> Result<(), DomainError> {
        if !self.latitude.is_finite() || !(-90.0..=90.0).contains(&self.latitude) {
            return Err(DomainError::invalid(
                "latitude",
                "must be a number between -90 and 90",
            ));
        }
        if !self.longitude.is_finite() || !(-180.0..=180.0).contains(&self.longitude) {
            return Err(DomainError::invalid(
                "longitude",
                "must be a number between -180 and 180",
            ));
        }
        Ok(())
    }
}

/// How precisely a place is known (ACLED `geo_precision`, UCDP `where_prec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoPrecision {
    /// The exact location.
    Exact,
    /// Near the location (within about 25 km).
    Near,
    /// Only the second-order administrative division (district).
    Admin2,
    /// Only the first-order administrative division (province, governorate).
    Admin1,
    /// Only a region larger than a province, or a line (a road, a front).
    Region,
    /// Only the country.
    Country,
    /// International waters or air space.
    WaterOrAir,
}

impl GeoPrecision {
    /// ACLED's `geo_precision`: 1 the exact place, 2 near it, 3 only the province or region.
    pub fn from_acled(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Exact),
            2 => Some(Self::Near),
            3 => Some(Self::Admin1),
            _ => None,
        }
    }

    /// UCDP GED's `where_prec` (1-7).
    pub fn from_ucdp(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Exact),
            2 => Some(Self::Near),
            3 => Some(Self::Admin2),
            4 => Some(Self::Admin1),
            5 => Some(Self::Region),
            6 => Some(Self::Country),
            7 => Some(Self::WaterOrAir),
            _ => None,
        }
    }
}

/// Where something happened, as precisely as it is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    pub precision: GeoPrecision,
    /// The site (an air base, a camp) this happened at, when known: a Site aggregate's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Uuid>,
}

impl Place {
    /// A place known only by its country.
    pub fn country(country: CountryCode) -> Self {
        Self {
            country,
            admin1: None,
            admin2: None,
            admin3: None,
            location: None,
            coordinates: None,
            precision: GeoPrecision::Country,
            site: None,
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        self.country.validate().map_err(|e| named("country", e))?;
        check_optional_text("admin1", self.admin1.as_deref(), MAX_NAME)?;
        check_optional_text("admin2", self.admin2.as_deref(), MAX_NAME)?;
        check_optional_text("admin3", self.admin3.as_deref(), MAX_NAME)?;
        check_optional_text("location", self.location.as_deref(), MAX_NAME)?;
        if let Some(c) = &self.coordinates {
            c.validate().map_err(|e| e.within("coordinates"))?;
        }
        if matches!(self.precision, GeoPrecision::Exact | GeoPrecision::Near)
            && self.coordinates.is_none()
        {
            return Err(DomainError::invalid(
                "coordinates",
                "are required when the precision is exact or near",
            ));
        }
        Ok(())
    }
}

/// An error about a value as a whole (its field left empty) named `field`.
pub(crate) fn named(field: &str, error: DomainError) -> DomainError {
    match error {
        DomainError::Invalid { field: inner, rule } if inner.is_empty() => {
            DomainError::invalid(field, rule)
        }
        other => other.within(field),
    }
}

/// A count that sources give as a range: low <= best <= high (UCDP's fatality figures; ACLED's
/// one conservative figure is low = best = high). `words` keeps what the source said ("dozens").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncertainCount {
    pub low: u32,
    pub best: u32,
    pub high: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<String>,
}

impl UncertainCount {
    /// One figure, known as such: low = best = high.
    pub fn exactly(n: u32) -> Self {
        Self {
            low: n,
            best: n,
            high: n,
            words: None,
        }
    }

    /// A range (not yet validated).
    pub fn range(low: u32, best: u32, high: u32) -> Self {
        Self {
            low,
            best,
            high,
            words: None,
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if self.low > self.best {
            return Err(DomainError::invalid(
                "low",
                format!("must not be above best ({} > {})", self.low, self.best),
            ));
        }
        if self.best > self.high {
            return Err(DomainError::invalid(
                "high",
                format!("must not be below best ({} < {})", self.high, self.best),
            ));
        }
        check_optional_text("words", self.words.as_deref(), MAX_NAME)
    }
}

/// How widely a source reports (ACLED's `source_scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceScale {
    Local,
    Subnational,
    National,
    Regional,
    International,
    NewMedia,
    Other,
}

/// Where a fact comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<SourceScale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

impl Source {
    /// A source known by its name only.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: None,
            published_at: None,
            scale: None,
            quote: None,
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        check_text("name", &self.name, MAX_NAME)?;
        if let Some(url) = &self.url {
            let well_formed = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
            if !well_formed {
                return Err(DomainError::invalid(
                    "url",
                    "must be an http:// or https:// address without spaces, at most 2048 characters",
                ));
            }
        }
        check_optional_text("quote", self.quote.as_deref(), MAX_TEXT)
    }
}

/// A reason given for a change of earlier facts: required, not blank.
pub fn check_reason(reason: &str) -> Result<(), DomainError> {
    check_text("reason", reason, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_span_ending_before_it_starts_is_refused() {
        let t = EventTime::span(date("2024-01-27"), date("2024-01-20"), DatePrecision::Week);
        assert_eq!(
            t.validate().unwrap_err(),
            DomainError::invalid(
                "end",
                "must not be before the start (2024-01-20 is before 2024-01-27)"
            )
        );
        assert!(EventTime::day(date("2024-01-28")).validate().is_ok());
        let multi_day = EventTime::span(date("2024-01-20"), date("2024-01-27"), DatePrecision::Day);
        assert!(
            matches!(multi_day.validate(), Err(DomainError::Invalid { field, .. }) if field == "precision")
        );
    }

    #[test]
    fn precisions_map_from_acled_and_ucdp_codes() {
        assert_eq!(DatePrecision::from_acled(2), Some(DatePrecision::Week));
        assert_eq!(DatePrecision::from_ucdp(5), Some(DatePrecision::Year));
        assert_eq!(DatePrecision::from_acled(4), None);
        assert_eq!(GeoPrecision::from_ucdp(7), Some(GeoPrecision::WaterOrAir));
        assert_eq!(GeoPrecision::from_acled(3), Some(GeoPrecision::Admin1));
        assert_eq!(GeoPrecision::from_ucdp(0), None);
    }

    #[test]
    fn coordinates_out_of_range_are_named() {
        let mut place = Place::country(CountryCode::new("IRQ").unwrap());
        place.precision = GeoPrecision::Exact;
        assert!(
            matches!(place.validate(), Err(DomainError::Invalid { field, .. }) if field == "coordinates")
        );
        place.coordinates = Some(Coordinates {
            latitude: 91.0,
            longitude: 42.4,
        });
        assert!(
            matches!(place.validate(), Err(DomainError::Invalid { field, .. }) if field == "coordinates.latitude")
        );
        place.coordinates = Some(Coordinates {
            latitude: 33.8,
            longitude: f64::NAN,
        });
        assert!(
            matches!(place.validate(), Err(DomainError::Invalid { field, .. }) if field == "coordinates.longitude")
        );
        place.coordinates = Some(Coordinates {
            latitude: 33.8,
            longitude: 42.4,
        });
        assert!(place.validate().is_ok());
        place.country = CountryCode("IQ".into());
        assert!(
            matches!(place.validate(), Err(DomainError::Invalid { field, .. }) if field == "country")
        );
    }

    #[test]
    fn counts_must_be_ordered() {
        assert!(UncertainCount::range(1, 2, 3).validate().is_ok());
        assert!(UncertainCount::exactly(0).validate().is_ok());
        assert_eq!(
            UncertainCount::range(3, 2, 5).validate().unwrap_err(),
            DomainError::invalid("low", "must not be above best (3 > 2)")
        );
        assert_eq!(
            UncertainCount::range(1, 4, 3).validate().unwrap_err(),
            DomainError::invalid("high", "must not be below best (3 < 4)")
        );
    }

    #[test]
    fn sources_need_a_name_and_a_web_address() {
        assert!(Source::named("Reuters").validate().is_ok());
        assert!(
            matches!(Source::named("  ").validate(), Err(DomainError::Invalid { field, .. }) if field == "name")
        );
        let mut s = Source::named("Reuters");
        s.url = Some("ftp://example.org".into());
        assert!(matches!(s.validate(), Err(DomainError::Invalid { field, .. }) if field == "url"));
        s.url = Some("https://www.reuters.com/world/middle-east/".into());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn list_items_are_named_by_index() {
        let sources = vec![Source::named("AP"), Source::named("")];
        let err = check_each("sources", &sources, Source::validate).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field, .. } if field == "sources[1].name"));
    }

    #[test]
    fn text_rules() {
        assert!(check_text("notes", "a\nb", 10).is_ok());
        assert!(check_text("notes", "a\u{0}b", 10).is_err());
        assert!(check_text("notes", "abcdefghijk", 10).is_err());
        assert!(check_text("notes", " \t", 10).is_err());
    }
}
