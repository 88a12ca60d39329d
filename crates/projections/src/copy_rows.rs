//! Rows in PostgreSQL's COPY text format, for the read models' bulk inserts.
//!
//! A page can hold thousands of new rows; `COPY … FROM STDIN` takes them in one stream at a
//! fraction of the server's cost of an `INSERT … SELECT FROM unnest(…)` over one array per
//! column. Values are written in their text input form and escaped as the format requires
//! (backslash, tab, newline, carriage return); `\N` is NULL. [`CopyStream`] sends them in
//! chunks while the caller goes on writing.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::postgres::PgCopyIn;
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

    /// The size of the rows written so far, in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }
}

/// A `COPY … FROM STDIN` in progress: rows are sent in chunks as they are written, so the
/// server stores one chunk while the caller prepares the next.
pub(crate) struct CopyStream<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    rows: CopyRows,
    sent: u64,
}

/// Rows are sent once this many bytes of them are waiting.
const CHUNK_BYTES: usize = 256 * 1024;

impl<'c> CopyStream<'c> {
    /// Starts `statement` (`COPY <table> (<columns>) FROM STDIN`, one of the read model's
    /// constants) on `conn`.
    pub async fn start(
        conn: &'c mut PgConnection,
        statement: &str,
    ) -> Result<Self, ProjectionError> {
        Ok(Self {
            copy: conn.copy_in_raw(statement).await?,
            rows: CopyRows::default(),
            sent: 0,
        })
    }

    /// Where the next rows are written.
    pub fn rows(&mut self) -> &mut CopyRows {
        &mut self.rows
    }

    /// Sends the rows written so far when they fill a chunk.
    pub async fn flush_full(&mut self) -> Result<(), ProjectionError> {
        if self.rows.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ProjectionError> {
        let rows = std::mem::take(&mut self.rows);
        self.sent += rows.rows;
        self.copy.send(rows.text.into_bytes()).await?;
        Ok(())
    }

    /// Sends the rest and ends the COPY; returns the number of rows stored. (Dropping the
    /// stream instead aborts the COPY, and with it the transaction.)
    pub async fn finish(mut self) -> Result<u64, ProjectionError> {
        if self.rows.rows > 0 {
            self.flush().await?;
        }
        let stored = self.copy.finish().await?;
        debug_assert_eq!(stored, self.sent);
        Ok(stored)
    }
}

/// Escapes `text` into `out` as a COPY text column.
fn escaped(text: &str, out: &mut String) {
    if !text
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(text);
        return;
    }
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
        // ISO 8601 in UTC (`2024-01-28T05:30:00.123456Z`), which `timestamptz` reads as is.
        out.push_str(&self.to_rfc3339_opts(SecondsFormat::Micros, true));
    }
}

impl CopyValue for NaiveDate {
    fn write(&self, out: &mut String) {
        // `Display` is ISO 8601 (`2023-10-17`).
        let _ = write!(out, "{self}");
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
        assert_eq!(rows.text, "2024-01-28T05:30:00.123456Z\t2023-10-17\n");
    }
}
