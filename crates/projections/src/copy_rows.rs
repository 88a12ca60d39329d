//! Rows in PostgreSQL's COPY text format, for the read models' bulk inserts.
//!
//! A page can hold thousands of new rows; `COPY … FROM STDIN` takes them in one stream at a
//! fraction of the server's cost of an `INSERT … SELECT FROM unnest(…)` over one array per
//! column. Values are written in their text input form and escaped as the format requires
//! (backslash, tab, newline, carriage return); `\N` is NULL.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;

/// Rows being written for one `COPY … FROM STDIN`.
#[derive(Default)]
pub(crate) struct CopyRows {
    text: String,
    /// Whether the current row has a column yet.
    in_row: bool,
    rows: u64,
}

/// A value that has a COPY text form.
pub(crate) trait CopyValue {
    fn write(&self, out: &mut String);
}

impl CopyRows {
    /// The next column of the current row.
    pub fn column(&mut self, value: &impl CopyValue) -> &mut Self {
        if self.in_row {
            self.text.push('\t');
        }
        self.in_row = true;
        value.write(&mut self.text);
        self
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.in_row = false;
        self.rows += 1;
    }

    /// Sends the rows with `statement` (`COPY <table> (<columns>) FROM STDIN`, one of the read
    /// model's constants) on `conn`; returns the number of rows stored.
    pub async fn send(
        self,
        conn: &mut PgConnection,
        statement: &str,
    ) -> Result<u64, ProjectionError> {
        if self.rows == 0 {
            return Ok(0);
        }
        let mut copy = conn.copy_in_raw(statement).await?;
        if let Err(error) = copy.send(self.text.into_bytes()).await {
            // The connection must leave the COPY state before it can report anything else.
            copy.abort(error.to_string()).await?;
            return Err(error.into());
        }
        Ok(copy.finish().await?)
    }
}

/// Escapes `text` into `out` as a COPY text column.
fn escaped(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

impl CopyValue for str {
    fn write(&self, out: &mut String) {
        escaped(self, out);
    }
}

impl CopyValue for String {
    fn write(&self, out: &mut String) {
        escaped(self, out);
    }
}

impl<T: CopyValue> CopyValue for Option<T> {
    fn write(&self, out: &mut String) {
        match self {
            Some(value) => value.write(out),
            None => out.push_str("\\N"),
        }
    }
}

impl<T: CopyValue + ?Sized> CopyValue for &T {
    fn write(&self, out: &mut String) {
        (**self).write(out);
    }
}

macro_rules! displayed {
    ($($t:ty),*) => {$(
        impl CopyValue for $t {
            fn write(&self, out: &mut String) {
                // Writing to a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

// Their `Display` forms are PostgreSQL input forms and never need escaping.
displayed!(i32, i64, Uuid);

impl CopyValue for f64 {
    fn write(&self, out: &mut String) {
        // Rust prints the shortest text that reads back as the same number; PostgreSQL reads
        // it back exactly (`extra_float_digits` does not apply to input).
        if self.is_finite() {
            let _ = write!(out, "{self}");
        } else if self.is_nan() {
            out.push_str("NaN");
        } else if *self > 0.0 {
            out.push_str("Infinity");
        } else {
            out.push_str("-Infinity");
        }
    }
}

impl CopyValue for DateTime<Utc> {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.format("%Y-%m-%d %H:%M:%S%.6f+00"));
    }
}

impl CopyValue for NaiveDate {
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.format("%Y-%m-%d"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_escaped_and_nulls_marked() {
        let mut rows = CopyRows::default();
        rows.column(&"a\tb\\c\nd\re")
            .column(&None::<i32>)
            .column(&Some(7i64))
            .column(&1.5f64);
        rows.end_row();
        assert_eq!(rows.text, "a\\tb\\\\c\\nd\\re\t\\N\t7\t1.5\n");
        assert_eq!(rows.rows, 1);
    }

    #[test]
    fn times_and_dates_use_input_forms() {
        let at = DateTime::parse_from_rfc3339("2024-01-28T05:30:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut rows = CopyRows::default();
        rows.column(&at)
            .column(&NaiveDate::from_ymd_opt(2023, 10, 17).unwrap());
        rows.end_row();
        assert_eq!(rows.text, "2024-01-28 05:30:00.123456+00\t2023-10-17\n");
    }
}
