//! One field of a dataset row and the rules for reading it (a number, a code in a range, a
//! date, a `;`-separated list, a name): every failure is a [`RowError`] naming the row's line,
//! the column and the rule, so that a rejected row says exactly what to fix.

use chrono::{NaiveDate, NaiveTime};
use sitrep_domain::model::incident::{ExternalRef, MAX_ITEMS};
use sitrep_domain::model::values::{check_text, Coordinates, Source, MAX_NAME};

use crate::csv_file::{Column, CsvRecord};
use crate::record::RowError;

/// The most items a list cell may hold (before repeats are dropped): bounds the work of
/// dropping repeats in a hostile file.
pub(crate) const MAX_LIST_ITEMS: usize = 200;

/// The value of one column in one row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell<'a> {
    pub line: u64,
    pub column: &'a str,
    /// As written in the file.
    pub raw: &'a str,
}

impl<'a> Cell<'a> {
    /// The value of `column` in `record`.
    pub fn of(record: &'a CsvRecord<'_>, column: Column<'a>) -> Self {
        Self {
            line: record.line,
            column: column.name,
            raw: record.get(column),
        }
    }

    /// A [`RowError`] about this cell.
    pub fn error(&self, rule: impl Into<String>) -> RowError {
        RowError {
            line: self.line,
            column: self.column.to_owned(),
            rule: rule.into(),
        }
    }

    /// The value without surrounding spaces; `None` when that leaves nothing.
    pub fn text(&self) -> Option<&'a str> {
        Some(self.raw.trim()).filter(|t| !t.is_empty())
    }

    /// [`Cell::text`], required.
    pub fn required(&self) -> Result<&'a str, RowError> {
        self.text().ok_or_else(|| self.error("must not be empty"))
    }

    /// `dataset:<this value>` as an external reference (`acled:IRQ38819`).
    pub fn external_ref(&self, dataset: &str) -> Result<ExternalRef, RowError> {
        let reference = ExternalRef(format!("{dataset}:{}", self.required()?));
        reference.validate().map_err(|e| self.error(rule_of(e)))?;
        Ok(reference)
    }

    /// The value shown in a message: quoted, cut at 40 characters.
    pub fn shown(&self) -> String {
        shown(self.raw)
    }

    /// A whole number of type `T` (no sign for an unsigned type, no decimals).
    pub fn number<T: std::str::FromStr>(&self, what: &str) -> Result<T, RowError> {
        let text = self.required()?;
        text.parse()
            .map_err(|_| self.error(format!("{} is not {what}", self.shown())))
    }

    /// A code from `min` to `max`, as `u8`.
    pub fn code(&self, min: u8, max: u8) -> Result<u8, RowError> {
        let text = self.required()?;
        match text.parse::<u8>() {
            Ok(code) if (min..=max).contains(&code) => Ok(code),
            _ => Err(self.error(format!(
                "{} is not a code from {min} to {max}",
                self.shown()
            ))),
        }
    }

    /// A count of people: a whole number from 0 to `u32::MAX`.
    pub fn count(&self) -> Result<u32, RowError> {
        self.number("a whole number of at least 0 (at most 4294967295)")
    }

    /// A decimal number from `min` to `max` (degrees of latitude or longitude); `None` when
    /// empty.
    pub fn degrees(&self, min: f64, max: f64) -> Result<Option<f64>, RowError> {
        let Some(text) = self.text() else {
            return Ok(None);
        };
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() && (min..=max).contains(&value) => Ok(Some(value)),
            Ok(value) if value.is_finite() => Err(self.error(format!(
                "{} is out of range: must be between {min} and {max}",
                self.shown()
            ))),
            _ => Err(self.error(format!(
                "{} is not a number (decimal degrees between {min} and {max})",
                self.shown()
            ))),
        }
    }

    /// A date written `YYYY-MM-DD`; with `time_allowed`, a time of day may follow after `T` or
    /// a space (`2013-01-03T00:00:00Z`, UCDP 23.1) and is dropped.
    pub fn date(&self, time_allowed: bool) -> Result<NaiveDate, RowError> {
        let text = self.required()?;
        let (day, time) = match text.split_once(['T', ' ']) {
            Some((day, time)) if time_allowed => (day, Some(time)),
            _ => (text, None),
        };
        let time_ok = time.is_none_or(|t| {
            NaiveTime::parse_from_str(t.strip_suffix('Z').unwrap_or(t), "%H:%M:%S%.f").is_ok()
        });
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(date) if time_ok && day.len() == 10 => Ok(date),
            _ => Err(self.error(format!(
                "{} is not a date written YYYY-MM-DD{}",
                self.shown(),
                if time_allowed {
                    " (a time after it is allowed)"
                } else {
                    ""
                }
            ))),
        }
    }

    /// The items of a `;`-separated list (ACLED writes `"; "`, UCDP `";"`), trimmed, empty
    /// items dropped, an item repeating an earlier one (ignoring case) dropped; each item a
    /// name ([`Cell::check_name`]), at most [`MAX_LIST_ITEMS`] items.
    pub fn list(&self) -> Result<Vec<&'a str>, RowError> {
        if memchr::memchr_iter(b';', self.raw.as_bytes()).count() >= MAX_LIST_ITEMS {
            return Err(self.error(format!("has more than {MAX_LIST_ITEMS} items")));
        }
        let mut items: Vec<&'a str> = Vec::new();
        for item in self.raw.split(';').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            self.check_name(item)?;
            if !items.iter().any(|earlier| same_name(earlier, item)) {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// Checks `name` (an item of this cell) as the domain checks a name: not blank, at most
    /// [`MAX_NAME`] characters, no control characters.
    pub fn check_name(&self, name: &str) -> Result<(), RowError> {
        check_text(self.column, name, MAX_NAME)
            .map_err(|e| self.error(format!("{}: {}", shown(name), rule_of(e))))
    }
}

/// `latitude` and `longitude` as a point: both or neither.
pub(crate) fn coordinates(
    latitude: Cell<'_>,
    longitude: Cell<'_>,
) -> Result<Option<Coordinates>, RowError> {
    let together = |missing: &Cell<'_>, given: &Cell<'_>| {
        missing.error(format!(
            "must not be empty when {} is given (latitude and longitude go together)",
            given.column
        ))
    };
    match (
        latitude.degrees(-90.0, 90.0)?,
        longitude.degrees(-180.0, 180.0)?,
    ) {
        (Some(latitude), Some(longitude)) => Ok(Some(Coordinates {
            latitude,
            longitude,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(together(&longitude, &latitude)),
        (None, Some(_)) => Err(together(&latitude, &longitude)),
    }
}

/// The sources of `cell` (a `;`-separated list), one each (none for an empty cell).
pub(crate) fn sources(cell: Cell<'_>) -> Result<Vec<Source>, RowError> {
    let names = cell.list()?;
    if names.len() > MAX_ITEMS {
        return Err(cell.error(format!("names more than {MAX_ITEMS} sources")));
    }
    Ok(names.into_iter().map(Source::named).collect())
}

/// Whether two names are the same ignoring case (as the import matches actors and the domain
/// compares tags).
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// `value` quoted for a message, cut at 40 characters.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("\"{cut}...\"")
    } else {
        format!("\"{value}\"")
    }
}

/// The rule of a domain error, without its field.
pub(crate) fn rule_of(error: sitrep_domain::model::DomainError) -> String {
    match error {
        sitrep_domain::model::DomainError::Invalid { rule, .. } => rule,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(raw: &str) -> Cell<'_> {
        Cell {
            line: 7,
            column: "c",
            raw,
        }
    }

    #[test]
    fn numbers_and_codes_name_the_column_and_the_value() {
        assert_eq!(cell(" 3 ").code(1, 3), Ok(3));
        assert_eq!(
            cell("4").code(1, 3).unwrap_err().to_string(),
            "line 7, column c: \"4\" is not a code from 1 to 3"
        );
        assert_eq!(
            cell("").count().unwrap_err().to_string(),
            "line 7, column c: must not be empty"
        );
        for bad in ["-1", "1.5", "99999999999999999999", "x"] {
            assert!(cell(bad).count().is_err(), "{bad}");
        }
        assert_eq!(cell("4294967295").count(), Ok(u32::MAX));
    }

    #[test]
    fn degrees_must_be_finite_and_in_range() {
        assert_eq!(cell("-33.5").degrees(-90.0, 90.0), Ok(Some(-33.5)));
        assert_eq!(cell("").degrees(-90.0, 90.0), Ok(None));
        assert_eq!(
            cell("123").degrees(-90.0, 90.0).unwrap_err().rule,
            "\"123\" is out of range: must be between -90 and 90"
        );
        for bad in ["NaN", "inf", "1e999", "12,5", "north"] {
            assert!(cell(bad).degrees(-90.0, 90.0).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_iso_with_an_optional_time_where_allowed() {
        let day = NaiveDate::from_ymd_opt(2013, 1, 3).unwrap();
        assert_eq!(cell("2013-01-03").date(false), Ok(day));
        assert_eq!(cell("2013-01-03T00:00:00Z").date(true), Ok(day));
        assert_eq!(cell("2013-01-03 00:00:00.000").date(true), Ok(day));
        assert!(cell("2013-01-03T00:00:00Z").date(false).is_err());
        for bad in [
            "03/01/2013",
            "2013-02-30",
            "2013-1-3",
            "2013-01-03Tnoon",
            "",
        ] {
            assert!(cell(bad).date(true).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_are_trimmed_without_empty_or_repeated_items() {
        assert_eq!(cell("A; B;;b ; C;A").list().unwrap(), ["A", "B", "C"]);
        assert_eq!(cell("Émeutiers; émeutiers").list().unwrap().len(), 1);
        assert!(cell(" ; ").list().unwrap().is_empty());
        let many = "x;".repeat(MAX_LIST_ITEMS);
        assert!(cell(&many).list().is_err());
        let long = "x".repeat(MAX_NAME + 1);
        assert!(cell(&long).list().is_err());
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(shown(&long), format!("\"{}...\"", "x".repeat(40)));
    }
}
