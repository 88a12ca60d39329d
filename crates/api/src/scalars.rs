//! Scalars beyond GraphQL's own: `BigInt` for 64-bit counts and positions (GraphQL's `Int` is
//! 32-bit), the opaque cursor of the incident list, and `FeedCursor`, a place in the event feed.

use async_graphql::connection::CursorType;
use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use sitrep_projections::incident_queries::ListCursor;
use uuid::Uuid;

/// A 64-bit signed integer: global positions in the event log, counts and sums that may pass
/// 2^31. Written as a JSON number; read from a number or a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigInt(pub i64);

/// A 64-bit signed integer: global positions in the event log, and counts and sums that may
/// pass 2^31 (GraphQL's `Int` is 32-bit). Written as a JSON number (JavaScript clients lose
/// precision above 2^53); read from a number or a decimal string (`"4294967296"`).
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom("must be a whole number within 64 bits")),
            Value::String(s) => s
                .parse()
                .map(BigInt)
                .map_err(|_| InputValueError::custom("must be a whole number within 64 bits")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// A place in the ordered feed of events, just past one event: opaque to clients. Every event
/// a subscription or the event log hands out carries one; give it back as `after` to go on
/// from there, without missing or repeating an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor(pub sitrep_domain::store::FeedCursor);

/// A place in the ordered feed of events, just past one event: an opaque string. Every event
/// a subscription hands out carries one (`cursor`); give it back as `after` to go on from
/// there without missing or repeating an event.
#[Scalar(name = "FeedCursor")]
impl ScalarType for FeedCursor {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(FeedCursor)
                .map_err(|_| InputValueError::custom("not a cursor of the event feed")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// As the cursor of the event log's connection (`events`): the same opaque text.
impl CursorType for FeedCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        s.parse().map(FeedCursor).map_err(|_| InvalidCursor)
    }

    fn encode_cursor(&self) -> String {
        self.0.to_string()
    }
}

/// Where a page of the incident list ends: opaque to clients (base64 of the day the last
/// incident started and its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentCursor(pub ListCursor);

impl CursorType for IncidentCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
        let (day, id) = text.split_once('/').ok_or(InvalidCursor)?;
        Ok(Self(ListCursor {
            valid_start: NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| InvalidCursor)?,
            incident_id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        }))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}/{}", self.0.valid_start, self.0.incident_id))
    }
}

/// A page read with one item more than it holds (`limit + 1`): the page, and whether there is a
/// next one (the extra item, dropped).
pub fn page_of<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let has_next = items.len() > limit;
    items.truncate(limit);
    (items, has_next)
}

/// A cursor this server did not hand out.
#[derive(Debug, thiserror::Error)]
#[error("not a cursor of this list")]
pub struct InvalidCursor;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = IncidentCursor(ListCursor {
            valid_start: NaiveDate::from_ymd_opt(2024, 1, 28).unwrap(),
            incident_id: Uuid::from_u128(42),
        });
        let text = cursor.encode_cursor();
        assert_eq!(IncidentCursor::decode_cursor(&text).unwrap(), cursor);
        assert!(IncidentCursor::decode_cursor("not-base64!").is_err());
        assert!(IncidentCursor::decode_cursor(&URL_SAFE_NO_PAD.encode("2024-01-28")).is_err());
    }
}
