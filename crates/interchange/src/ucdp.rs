//! UCDP's Georeferenced Event Dataset (GED, codebook 19.1 or later) read into incidents (import
//! only; the mapping of issue #7's design):
//!
//! | UCDP column | incident |
//! |---|---|
//! | `id` | `external_refs = ["ucdp:<id>"]` |
//! | `type_of_violence` | 1 (state-based), 2 (non-state): Battles / Armed clash; 3 (one-sided): Violence against civilians / Attack; also `attributes.type_of_violence` |
//! | `side_a`, `side_b` | actors in the roles `perpetrator`, `target`; a new actor's type: "Government of ..." state forces, "Civilians" civilians, otherwise rebel forces (type 1) or militia groups (types 2, 3): a heuristic, UCDP gives no actor types |
//! | `date_start`, `date_end` (`YYYY-MM-DD`, 23.1 adds `T00:00:00Z`), `date_prec` | `time`, precision `DatePrecision::from_ucdp` (a span of several days with `date_prec` 1 gets `days`) |
//! | `country` | `place.country` by name ([`crate::countries::by_name`]) |
//! | `adm_1`, `adm_2`, `where_coordinates` | `place.admin1`, `place.admin2`, `place.location` |
//! | `latitude`, `longitude`, `where_prec` | `place.coordinates`, `place.precision` (`GeoPrecision::from_ucdp`) |
//! | `low`, `best`, `high` | `fatalities` (see below) |
//! | `source_office` (`;`-separated) | one source each; when empty `source_original`'s; when both are empty one source "UCDP GED" |
//! | every other column (`deaths_a`, `source_headline`, `dyad_name`, `year`, ...) | `attributes` of the same name when not empty, line breaks replaced by spaces |
//!
//! Fatalities: UCDP's figures should hold `low <= best <= high`, and the domain requires it, but
//! real GED rows do not always (101 of the 16,566 Syria rows of 2016-2019: `low` above `best` or
//! `high` below it, `best` being what the deaths by side add up to). Such a row is accepted: its
//! range is widened to hold `best` (`low = min(low, best)`, `high = max(high, best)`) and the
//! figure the file wrote is kept in `attributes.low` or `attributes.high`.
//!
//! Required columns: [`REQUIRED_COLUMNS`]. Columns whose names cannot be attribute names, and
//! the `sitrep_line` / `sitrep_error` columns of a file of rejected rows, are ignored and listed
//! in [`DatasetFile::unmapped_columns`].

use std::collections::BTreeMap;
use std::io::Read;

use sitrep_domain::model::incident::{ActorRole, IncidentFacts};
use sitrep_domain::model::values::{
    CountryCode, DatePrecision, EventTime, GeoPrecision, Place, Source, UncertainCount,
};
use sitrep_domain::model::vocab::{ActorType, EventType, SubEventType};

use crate::cell::{coordinates, rule_of, sources, Cell};
use crate::countries;
use crate::csv_file::{Column, CsvFile, CsvRecord, FileError};
use crate::dataset_file::{check_facts, is_attribute_name, unmapped, DatasetFile, DatasetRows};
use crate::record::{Dataset, ImportedRow, NamedActor, RowError};

/// The columns a GED file must have (those of codebook 19.1 the mapping reads).
pub const REQUIRED_COLUMNS: [&str; 23] = [
    "id",
    "type_of_violence",
    "side_a",
    "side_b",
    "source_office",
    "source_original",
    "where_prec",
    "where_coordinates",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "country",
    "date_prec",
    "date_start",
    "date_end",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "low",
    "best",
    "high",
];

/// Columns mapped to fields of their own, not kept as attributes (`type_of_violence` is both).
const FIELD_COLUMNS: [&str; 17] = [
    "id",
    "side_a",
    "side_b",
    "source_office",
    "where_prec",
    "where_coordinates",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "country",
    "date_prec",
    "date_start",
    "date_end",
    "low",
    "best",
    "high",
];

/// Deaths by side: whole numbers, kept as attributes.
const DEATHS_COLUMNS: [&str; 4] = ["deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown"];

/// The source of a row that names none.
pub const DEFAULT_SOURCE: &str = "UCDP GED";

/// Reads a UCDP GED file whole: every row mapped to an incident or rejected with its rule.
pub fn read(reader: impl Read) -> Result<DatasetFile, FileError> {
    open(reader)?.read_all()
}

/// Opens a UCDP GED file: its header checked, its rows read a batch at a time.
pub fn open<R: Read>(reader: R) -> Result<DatasetRows<R>, FileError> {
    let file = CsvFile::open(reader, "a UCDP GED file", &REQUIRED_COLUMNS)?;
    let columns = Columns::of(&file);
    let unmapped = unmapped(file.header(), |c| {
        FIELD_COLUMNS.contains(&c) || is_attribute_column(c)
    });
    let id = columns.id;
    Ok(DatasetRows::new(
        Dataset::Ucdp,
        file,
        id,
        unmapped,
        Box::new(move |record| columns.map(record)),
    ))
}

/// Where each column the mapping reads is in the file.
struct Columns {
    id: Column<'static>,
    type_of_violence: Column<'static>,
    side_a: Column<'static>,
    side_b: Column<'static>,
    source_office: Column<'static>,
    source_original: Column<'static>,
    where_prec: Column<'static>,
    where_coordinates: Column<'static>,
    adm_1: Column<'static>,
    adm_2: Column<'static>,
    latitude: Column<'static>,
    longitude: Column<'static>,
    country: Column<'static>,
    date_prec: Column<'static>,
    date_start: Column<'static>,
    date_end: Column<'static>,
    low: Column<'static>,
    best: Column<'static>,
    high: Column<'static>,
    deaths: Vec<Column<'static>>,
    /// Every other column (by name and index of the header).
    attributes: Vec<(String, usize)>,
}

impl Columns {
    fn of<R: Read>(file: &CsvFile<R>) -> Self {
        let c = |name| file.column(name);
        let attributes = file
            .header()
            .iter()
            .enumerate()
            .filter(|(_, name)| is_attribute_column(name))
            .map(|(i, name)| (name.clone(), i))
            .collect();
        Self {
            id: c("id"),
            type_of_violence: c("type_of_violence"),
            side_a: c("side_a"),
            side_b: c("side_b"),
            source_office: c("source_office"),
            source_original: c("source_original"),
            where_prec: c("where_prec"),
            where_coordinates: c("where_coordinates"),
            adm_1: c("adm_1"),
            adm_2: c("adm_2"),
            latitude: c("latitude"),
            longitude: c("longitude"),
            country: c("country"),
            date_prec: c("date_prec"),
            date_start: c("date_start"),
            date_end: c("date_end"),
            low: c("low"),
            best: c("best"),
            high: c("high"),
            deaths: DEATHS_COLUMNS.into_iter().map(c).collect(),
            attributes,
        }
    }

    /// The row `record` as an incident, or the first rule it breaks.
    fn map(&self, record: &CsvRecord<'_>) -> Result<ImportedRow, RowError> {
        let cell = |column| Cell::of(record, column);
        let id = cell(self.id);
        let external_ref = id.external_ref("ucdp")?;
        let violence = cell(self.type_of_violence).code(1, 3)?;
        let (event_type, sub_event_type) = if violence == 3 {
            (EventType::ViolenceAgainstCivilians, SubEventType::Attack)
        } else {
            (EventType::Battles, SubEventType::ArmedClash)
        };
        let actors = vec![
            side(cell(self.side_a), ActorRole::Perpetrator, violence)?,
            side(cell(self.side_b), ActorRole::Target, violence)?,
        ];
        for &column in &self.deaths {
            cell(column).count()?;
        }
        let mut attributes = BTreeMap::new();
        for (name, index) in &self.attributes {
            if let Some(value) = cell(Column::at(name, *index)).text() {
                attributes.insert(name.clone(), one_line(value));
            }
        }
        let fatalities = self.fatalities(record, &mut attributes)?;
        let facts = IncidentFacts {
            time: self.time(record)?,
            place: self.place(record)?,
            event_type,
            sub_event_type,
            means: Vec::new(),
            target_category: None,
            fatalities,
            injuries: None,
            notes: None,
            tags: Vec::new(),
            external_refs: vec![external_ref.clone()],
            attributes,
        };
        check_facts(record.line, &facts, column_of)?;
        Ok(ImportedRow {
            line: record.line,
            external_ref,
            facts,
            actors,
            sources: self.sources(record)?,
        })
    }

    /// `date_start` to `date_end`, with `date_prec`.
    fn time(&self, record: &CsvRecord<'_>) -> Result<EventTime, RowError> {
        let start = Cell::of(record, self.date_start).date(true)?;
        let end = Cell::of(record, self.date_end).date(true)?;
        let precision_cell = Cell::of(record, self.date_prec);
        let precision = match DatePrecision::from_ucdp(precision_cell.code(1, 5)?) {
            Some(DatePrecision::Day) if end != start => DatePrecision::Days,
            Some(precision) => precision,
            None => return Err(precision_cell.error("is not a date precision")),
        };
        Ok(EventTime::span(start, end, precision))
    }

    /// `country` by name, the admin columns, the point and `where_prec`.
    fn place(&self, record: &CsvRecord<'_>) -> Result<Place, RowError> {
        let cell = |column| Cell::of(record, column);
        let country_cell = cell(self.country);
        let name = country_cell.required()?;
        let country = countries::by_name(name).ok_or_else(|| {
            country_cell.error(format!(
                "{} is not a country name sitrep knows (ISO 3166-1 or UCDP's spelling)",
                country_cell.shown()
            ))
        })?;
        let country =
            CountryCode::new(country.alpha3).map_err(|e| country_cell.error(rule_of(e)))?;
        let precision_cell = cell(self.where_prec);
        let precision = GeoPrecision::from_ucdp(precision_cell.code(1, 7)?)
            .ok_or_else(|| precision_cell.error("is not a place precision"))?;
        let text = |column| cell(column).text().map(str::to_owned);
        Ok(Place {
            country,
            admin1: text(self.adm_1),
            admin2: text(self.adm_2),
            admin3: None,
            location: text(self.where_coordinates),
            coordinates: coordinates(cell(self.latitude), cell(self.longitude))?,
            precision,
            site: None,
        })
    }

    /// `low`, `best`, `high`, widened to hold `best` (the figures written kept in `attributes`).
    fn fatalities(
        &self,
        record: &CsvRecord<'_>,
        attributes: &mut BTreeMap<String, String>,
    ) -> Result<UncertainCount, RowError> {
        let (low_cell, high_cell) = (Cell::of(record, self.low), Cell::of(record, self.high));
        let (low, best, high) = (
            low_cell.count()?,
            Cell::of(record, self.best).count()?,
            high_cell.count()?,
        );
        if low > best {
            attributes.insert("low".to_owned(), low.to_string());
        }
        if high < best {
            attributes.insert("high".to_owned(), high.to_string());
        }
        Ok(UncertainCount::range(low.min(best), best, high.max(best)))
    }

    /// `source_office`'s sources; else `source_original`'s; else [`DEFAULT_SOURCE`].
    fn sources(&self, record: &CsvRecord<'_>) -> Result<Vec<Source>, RowError> {
        for column in [self.source_office, self.source_original] {
            let sources = sources(Cell::of(record, column))?;
            if !sources.is_empty() {
                return Ok(sources);
            }
        }
        Ok(vec![Source::named(DEFAULT_SOURCE)])
    }
}

/// The actor of `cell` (`side_a` or `side_b`) in `role`, typed by the heuristic of the module's
/// table.
fn side(cell: Cell<'_>, role: ActorRole, violence: u8) -> Result<NamedActor, RowError> {
    let name = cell.required()?;
    cell.check_name(name)?;
    let actor_type = if name.starts_with("Government of") {
        ActorType::StateForces
    } else if name == "Civilians" {
        ActorType::Civilians
    } else if violence == 1 {
        ActorType::RebelForces
    } else {
        ActorType::MilitiaGroups
    };
    Ok(NamedActor {
        name: name.to_owned(),
        role,
        actor_type,
    })
}

/// `value` on one line: each line break (CR, LF or CRLF) a space.
fn one_line(value: &str) -> String {
    if value.contains(['\r', '\n']) {
        value.replace("\r\n", " ").replace(['\r', '\n'], " ")
    } else {
        value.to_owned()
    }
}

/// The GED column a field of [`IncidentFacts`] comes from.
fn column_of(field: &str) -> String {
    let column = match field {
        f if f.starts_with("time.precision") => "date_prec",
        f if f.starts_with("time.end") => "date_end",
        f if f.starts_with("time") => "date_start",
        f if f.starts_with("place.country") => "country",
        f if f.starts_with("place.admin1") => "adm_1",
        f if f.starts_with("place.admin2") => "adm_2",
        f if f.starts_with("place.location") => "where_coordinates",
        f if f.starts_with("place.coordinates.longitude") => "longitude",
        f if f.starts_with("place.coordinates") => "latitude",
        f if f.starts_with("place.precision") => "where_prec",
        f if f.starts_with("fatalities.low") => "low",
        f if f.starts_with("fatalities.high") => "high",
        f if f.starts_with("fatalities") => "best",
        f if f.starts_with("external_refs") => "id",
        f if f.starts_with("event_type") || f.starts_with("sub_event_type") => "type_of_violence",
        f => return f.strip_prefix("attributes.").unwrap_or(f).to_owned(),
    };
    column.to_owned()
}

/// Whether the column `name` goes to the attributes: not a column of a field, a possible
/// attribute name, and not one of the two columns sitrep adds to a file of rejected rows (a
/// corrected file of rejected rows is imported like the export it came from).
fn is_attribute_column(name: &str) -> bool {
    !FIELD_COLUMNS.contains(&name)
        && !crate::rejected_file::EXTRA_COLUMNS.contains(&name)
        && is_attribute_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,year,type_of_violence,side_a,side_b,number_of_sources,source_office,source_original,source_headline,where_prec,where_coordinates,adm_1,adm_2,latitude,longitude,country,date_prec,date_start,date_end,deaths_a,deaths_b,deaths_civilians,deaths_unknown,low,best,high";

    fn read_rows(rows: &[&str]) -> DatasetFile {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        read(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_span_with_day_precision_becomes_days_and_sides_get_types() {
        let file = read_rows(&[
            "1,2016,2,IS,SDF,2,SOHR;SOHR; VDC,,\"two\nlines\",1,X village,Y governorate,,35.1,38.2,Syria,1,2016-01-01,2016-01-03,1,2,0,0,3,3,4",
        ]);
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        let row = &file.rows[0];
        assert_eq!(row.facts.time.precision, DatePrecision::Days);
        assert_eq!(row.facts.place.country.as_str(), "SYR");
        assert_eq!(row.facts.place.admin2, None);
        assert_eq!(row.facts.attributes["source_headline"], "two lines");
        assert_eq!(row.facts.attributes["type_of_violence"], "2");
        assert_eq!(row.facts.attributes["deaths_b"], "2");
        assert_eq!(row.sources, [Source::named("SOHR"), Source::named("VDC")]);
        assert_eq!(row.actors[0].actor_type, ActorType::MilitiaGroups);
        assert_eq!(row.actors[1].role, ActorRole::Target);
    }

    #[test]
    fn the_columns_of_a_file_of_rejected_rows_are_not_attributes() {
        let text = format!(
            "{HEADER},sitrep_line,sitrep_error\n\
             1,2016,2,IS,SDF,2,SOHR,,h,1,X,Y,,35.1,38.2,Syria,1,2016-01-01,2016-01-01,1,2,0,0,3,3,4,7,fixed\n"
        );
        let file = read(text.as_bytes()).unwrap();
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        let attributes = &file.rows[0].facts.attributes;
        assert!(!attributes.contains_key("sitrep_line"), "{attributes:?}");
        assert!(!attributes.contains_key("sitrep_error"), "{attributes:?}");
        assert_eq!(file.unmapped_columns, ["sitrep_line", "sitrep_error"]);
    }

    #[test]
    fn sources_fall_back_to_the_original_then_to_ucdp() {
        let file = read_rows(&[
            "1,2016,3,Government of Syria,Civilians,1,,army; police,,4,Homs,Homs,,,,Syria,4,2016-01-01,2016-01-31,0,0,5,0,5,5,5",
            "2,2016,1,Government of Syria,Syrian insurgents,1,,,,6,Syria,,,,,Syria,1,2016-01-01,2016-01-01,1,1,0,0,2,2,2",
        ]);
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        let (a, b) = (&file.rows[0], &file.rows[1]);
        assert_eq!(a.sources, [Source::named("army"), Source::named("police")]);
        assert_eq!(a.facts.event_type, EventType::ViolenceAgainstCivilians);
        assert_eq!(a.actors[0].actor_type, ActorType::StateForces);
        assert_eq!(a.actors[1].actor_type, ActorType::Civilians);
        assert_eq!(a.facts.place.coordinates, None);
        assert_eq!(b.sources, [Source::named(DEFAULT_SOURCE)]);
        assert_eq!(b.actors[1].actor_type, ActorType::RebelForces);
    }

    #[test]
    fn figures_out_of_order_are_widened_and_kept() {
        let file = read_rows(&[
            "1,2016,1,Government of Syria,IS,1,SOHR,,,1,X,Y,,35.1,38.2,Syria,1,2016-01-01,2016-01-01,100,42,0,0,177,142,177",
            "2,2016,1,Government of Syria,IS,1,SOHR,,,1,X,Y,,35.1,38.2,Syria,1,2016-01-01,2016-01-01,2,14,0,0,2,16,2",
        ]);
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        let (a, b) = (&file.rows[0].facts, &file.rows[1].facts);
        assert_eq!(a.fatalities, UncertainCount::range(142, 142, 177));
        assert_eq!(a.attributes["low"], "177");
        assert!(!a.attributes.contains_key("high"));
        assert_eq!(b.fatalities, UncertainCount::range(2, 16, 16));
        assert_eq!(b.attributes["high"], "2");
    }

    #[test]
    fn every_rule_names_its_column() {
        let good = "1,2016,1,Government of Syria,IS,1,SOHR,,,1,X,Y,,35.1,38.2,Syria,1,2016-01-01,2016-01-01,1,1,0,0,2,2,2";
        let fields: Vec<&str> = good.split(',').collect();
        let cases = [
            ("id", "", "must not be empty"),
            ("type_of_violence", "4", "is not a code from 1 to 3"),
            ("side_a", "", "must not be empty"),
            ("where_prec", "8", "is not a code from 1 to 7"),
            ("latitude", "123", "out of range"),
            ("longitude", "-181", "out of range"),
            ("country", "Atlantis", "is not a country name"),
            ("date_prec", "0", "is not a code from 1 to 5"),
            ("date_start", "2016/01/01", "is not a date"),
            ("date_end", "2015-12-31", "must not be before the start"),
            ("deaths_a", "-1", "is not a whole number"),
            ("best", "x", "is not a whole number"),
            ("year", "\u{1}", "control characters"),
        ];
        for (column, value, rule) in cases {
            let index = HEADER.split(',').position(|c| c == column).unwrap();
            let mut row = fields.clone();
            row[index] = value;
            let file = read_rows(&[&row.join(",")]);
            assert!(file.rows.is_empty(), "{column}={value:?} was accepted");
            let error = &file.rejected[0].error;
            assert_eq!((error.line, error.column.as_str()), (2, column), "{error}");
            assert!(error.rule.contains(rule), "{column}={value:?}: {error}");
        }
    }

    #[test]
    fn no_input_panics() {
        let text = format!(
            "{HEADER}\r\n{}\r\n{}\r\n",
            "1,2016,1,Government of Syria,IS,1,SOHR;VDC,,\"a\nb\",1,X,Y,,35.1,38.2,Syria,1,2016-01-01,2016-01-01,1,1,0,0,2,2,2",
            "2,2016,3,IS,Civilians,1,,SOHR,,2,X,Y,Z,35.1,38.2,Syria,2,2016-01-01T00:00:00Z,2016-01-03T00:00:00Z,0,0,3,0,3,3,4"
        );
        let file = read(text.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 2, "{:?}", file.rejected);
        crate::dataset_file::assert_no_input_panics(text.as_bytes(), |bytes| read(bytes));
    }

    #[test]
    fn domain_fields_map_back_to_columns() {
        assert_eq!(column_of("time.end"), "date_end");
        assert_eq!(column_of("time.precision"), "date_prec");
        assert_eq!(column_of("place.location"), "where_coordinates");
        assert_eq!(column_of("place.coordinates"), "latitude");
        assert_eq!(column_of("fatalities.low"), "low");
        assert_eq!(column_of("attributes.dyad_name"), "dyad_name");
    }
}
