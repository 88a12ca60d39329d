//! Output objects for values several read models show the same way: a span of days with its
//! precision, and a figure known within a range. (The inputs for these values are in
//! [`crate::inputs`].)

use async_graphql::SimpleObject;
use chrono::NaiveDate;

use crate::vocab::{from_stored, DatePrecision};

/// A day or a span of days, and how precisely it is known.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct DateSpan {
    /// The first day.
    pub start: NaiveDate,
    /// The last day (the same as `start` for one day).
    pub end: NaiveDate,
    /// How precisely the span is known; null where the read model does not keep it.
    pub precision: Option<DatePrecision>,
}

impl DateSpan {
    /// The span from `start` to `end` with the stored precision name `precision` (`month`).
    pub fn new(start: NaiveDate, end: NaiveDate, precision: Option<&str>) -> Self {
        Self {
            start,
            end,
            precision: precision
                .and_then(from_stored::<sitrep_domain::model::values::DatePrecision>)
                .map(Into::into),
        }
    }

    /// The span, when both ends are known.
    pub fn maybe(
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        precision: Option<&str>,
    ) -> Option<Self> {
        Some(Self::new(start?, end?, precision))
    }
}

/// A figure known within a range (`low <= best <= high`), and the words of the source.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The lowest figure the source allows.
    pub low: i32,
    /// The figure given, or the most likely one.
    pub best: i32,
    /// The highest figure the source allows.
    pub high: i32,
    /// What the source said ("about 2,500").
    pub words: Option<String>,
}

impl Figure {
    /// The figure of stored counts (saturating at the largest `Int`).
    pub fn new(low: i64, best: i64, high: i64, words: Option<String>) -> Self {
        let int = |n: i64| i32::try_from(n).unwrap_or(if n < 0 { 0 } else { i32::MAX });
        Self {
            low: int(low),
            best: int(best),
            high: int(high),
            words,
        }
    }
}
