//! Which incidents an export writes: a filter (countries, first-level divisions, event types,
//! a span of days, an actor) and a recorded time (`asOf`), checked before anything is read. The
//! command line's flags and the HTTP routes' query parameters parse into the same
//! [`ExportRequest`] with the same rules, and name the parameter a rule refuses.

use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::values::CountryCode;
use sitrep_domain::model::vocab::{stored_name, EventType};
use sitrep_projections::incident_queries::IncidentFilter;
use uuid::Uuid;

use super::{ExportError, ExportFormat};

/// What to export and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub format: ExportFormat,
    pub filter: ExportFilter,
    /// Export the incidents as known at this recorded time; `None`: now.
    pub as_of: Option<DateTime<Utc>>,
}

/// Which active incidents to export. Every field left empty or `None` does not filter; a list
/// selects any of its values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportFilter {
    /// ISO 3166 alpha-3 codes.
    pub countries: Vec<CountryCode>,
    /// First-level administrative divisions, spelled as recorded.
    pub admin1: Vec<String>,
    pub event_types: Vec<EventType>,
    /// Incidents whose span of days ends on or after this day.
    pub from: Option<NaiveDate>,
    /// Incidents whose span of days starts on or before this day.
    pub to: Option<NaiveDate>,
    /// Involving this actor, in any role.
    pub actor: Option<Uuid>,
}

impl ExportFilter {
    /// Checks the rules that span fields: `from` not after `to`.
    pub fn check(&self) -> Result<(), ExportError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(ExportError::bad_parameter(
                    "to",
                    format!("must not be before from ({to} is before {from})"),
                ));
            }
        }
        Ok(())
    }

    /// The incidents read model's filter.
    pub fn to_query(&self) -> IncidentFilter {
        IncidentFilter {
            from: self.from,
            to: self.to,
            countries: self
                .countries
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            admin1: self.admin1.clone(),
            event_types: self.event_types.iter().map(stored_name).collect(),
            actor: self.actor,
            ..IncidentFilter::default()
        }
    }
}

impl ExportRequest {
    /// The request of an HTTP route of `format` with the query-string `pairs` (decoded):
    /// `country`, `admin1` and `eventType` (each may repeat), `from`, `to` (`YYYY-MM-DD`),
    /// `actor` (an actor's id) and `asOf` (RFC 3339). An unknown parameter, a bad value or a
    /// single-valued parameter given twice is refused, naming it.
    pub fn from_query<I, K, V>(format: ExportFormat, pairs: I) -> Result<Self, ExportError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut filter = ExportFilter::default();
        let mut as_of = None;
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            let bad = |message: String| ExportError::bad_parameter(name, message);
            match name {
                "country" => filter.countries.push(parse_country(value).map_err(bad)?),
                "admin1" => filter.admin1.push(parse_admin1(value).map_err(bad)?),
                "eventType" => filter
                    .event_types
                    .push(parse_event_type(value).map_err(bad)?),
                "from" => set_once(name, &mut filter.from, parse_date(value).map_err(bad)?)?,
                "to" => set_once(name, &mut filter.to, parse_date(value).map_err(bad)?)?,
                "actor" => set_once(name, &mut filter.actor, parse_actor(value).map_err(bad)?)?,
                "asOf" => set_once(name, &mut as_of, parse_as_of(value).map_err(bad)?)?,
                _ => {
                    return Err(ExportError::bad_parameter(
                        name,
                        "is not a parameter of the export (country, admin1, eventType, from, \
                         to, actor, asOf)",
                    ))
                }
            }
        }
        filter.check()?;
        Ok(Self {
            format,
            filter,
            as_of,
        })
    }
}

fn set_once<T>(name: &str, slot: &mut Option<T>, value: T) -> Result<(), ExportError> {
    if slot.is_some() {
        return Err(ExportError::bad_parameter(
            name,
            "must be given at most once",
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// An ISO 3166-1 alpha-3 code (`IRQ`; lower case is taken as upper case).
pub fn parse_country(text: &str) -> Result<CountryCode, String> {
    CountryCode::new(&text.trim().to_ascii_uppercase()).map_err(|e| rule_of(e, text))
}

/// A first-level division's name, not blank.
pub fn parse_admin1(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be blank".to_owned());
    }
    Ok(text.to_owned())
}

/// An ACLED event type, by ACLED's label (`Explosions/Remote violence`) or sitrep's stored name
/// (`explosions_remote_violence`), ignoring case.
pub fn parse_event_type(text: &str) -> Result<EventType, String> {
    let text = text.trim();
    EventType::ALL
        .into_iter()
        .find(|t| t.label().eq_ignore_ascii_case(text) || stored_name(t).eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.label()).collect();
            format!(
                "\"{text}\" is not an ACLED event type ({})",
                known.join(", ")
            )
        })
}

/// A day, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("\"{text}\" is not a day written YYYY-MM-DD"))
}

/// An actor's id (a UUID).
pub fn parse_actor(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text.trim()).map_err(|_| format!("\"{text}\" is not an actor's id (a UUID)"))
}

/// A recorded time, RFC 3339 with an offset (`2024-01-28T12:00:00Z`).
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("\"{text}\" is not a time in RFC 3339 with an offset (2024-01-28T12:00:00Z)")
        })
}

fn rule_of(error: sitrep_domain::model::DomainError, text: &str) -> String {
    match error {
        sitrep_domain::model::DomainError::Invalid { rule, .. } => rule,
        other => format!("\"{text}\": {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ExportRequest, ExportError> {
        ExportRequest::from_query(ExportFormat::Csv, pairs.iter().copied())
    }

    fn field_of(error: ExportError) -> String {
        match error {
            ExportError::BadParameter { field, .. } => field,
            other => panic!("not a bad parameter: {other}"),
        }
    }

    #[test]
    fn query_parameters_parse_into_the_filter() {
        let request = query(&[
            ("country", "IRQ"),
            ("country", "syr"),
            ("admin1", "Al Anbar"),
            ("eventType", "Explosions/Remote violence"),
            ("eventType", "battles"),
            ("from", "2024-01-01"),
            ("to", "2024-01-31"),
            ("actor", "7b0c5f0e-4a8e-4f7e-9d8e-0b3c7f1e2a11"),
            ("asOf", "2024-02-01T12:00:00+01:00"),
        ])
        .unwrap();
        let f = &request.filter;
        assert_eq!(
            f.countries,
            vec![
                CountryCode::new("IRQ").unwrap(),
                CountryCode::new("SYR").unwrap()
            ]
        );
        assert_eq!(f.admin1, vec!["Al Anbar"]);
        assert_eq!(
            f.event_types,
            vec![EventType::ExplosionsRemoteViolence, EventType::Battles]
        );
        assert_eq!(f.from, Some(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()));
        assert_eq!(
            request.as_of.unwrap().to_rfc3339(),
            "2024-02-01T11:00:00+00:00"
        );
        let q = f.to_query();
        assert_eq!(q.event_types, vec!["explosions_remote_violence", "battles"]);
        assert_eq!(q.countries, vec!["IRQ", "SYR"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(
            field_of(query(&[("country", "Iraq")]).unwrap_err()),
            "country"
        );
        assert_eq!(
            field_of(query(&[("eventType", "Skirmish")]).unwrap_err()),
            "eventType"
        );
        assert_eq!(
            field_of(query(&[("from", "2024-13-01")]).unwrap_err()),
            "from"
        );
        assert_eq!(
            field_of(query(&[("asOf", "yesterday")]).unwrap_err()),
            "asOf"
        );
        assert_eq!(field_of(query(&[("actor", "x")]).unwrap_err()), "actor");
        assert_eq!(field_of(query(&[("bbox", "1,2,3,4")]).unwrap_err()), "bbox");
        assert_eq!(
            field_of(query(&[("from", "2024-01-01"), ("from", "2024-01-02")]).unwrap_err()),
            "from"
        );
        assert_eq!(
            field_of(query(&[("from", "2024-02-01"), ("to", "2024-01-01")]).unwrap_err()),
            "to"
        );
        assert!(query(&[]).is_ok());
    }
}
