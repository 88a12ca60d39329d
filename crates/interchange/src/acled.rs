//! ACLED's standard export read into incidents, column by column as the mapping table of
//! [`crate::acled_columns`] says, each value checked by a rule that names its column.
//!
//! Required: every column of [`ACLED_COLUMNS`] except [`OPTIONAL_COLUMNS`] (columns ACLED added
//! in 2021-2022, absent from older exports). Other columns are ignored and listed in
//! [`DatasetFile::unmapped_columns`].

use std::collections::BTreeMap;
use std::io::Read;

use chrono::Datelike;
use sitrep_domain::model::incident::{ActorRole, IncidentFacts, MAX_ITEMS};
use sitrep_domain::model::values::{
    CountryCode, DatePrecision, EventTime, GeoPrecision, Place, UncertainCount,
};
use sitrep_domain::model::vocab::{check_event_types, ActorType, EventType, SubEventType};

use crate::acled_columns::ACLED_COLUMNS;
use crate::cell::{rule_of, sources, Cell};
use crate::countries;
use crate::csv_file::{Column, CsvFile, CsvRecord, FileError};
use crate::dataset_file::{check_facts, unmapped, DatasetFile, DatasetRows};
use crate::record::{Dataset, ImportedRow, NamedActor, RowError};

/// Columns an ACLED file may lack: read as empty.
pub const OPTIONAL_COLUMNS: [&str; 3] = ["disorder_type", "civilian_targeting", "tags"];

/// Columns whose value is kept as an attribute of the same name, when not empty.
const ATTRIBUTE_COLUMNS: [&str; 9] = [
    "disorder_type",
    "inter1",
    "inter2",
    "interaction",
    "civilian_targeting",
    "region",
    "country",
    "source_scale",
    "timestamp",
];

/// Reads an ACLED export whole: every row mapped to an incident or rejected with its rule.
pub fn read(reader: impl Read) -> Result<DatasetFile, FileError> {
    open(reader)?.read_all()
}

/// Opens an ACLED export: its header checked, its rows read a batch at a time.
pub fn open<R: Read>(reader: R) -> Result<DatasetRows<R>, FileError> {
    let required: Vec<&'static str> = ACLED_COLUMNS
        .into_iter()
        .filter(|c| !OPTIONAL_COLUMNS.contains(c))
        .collect();
    let file = CsvFile::open(reader, "an ACLED export", &required)?;
    let columns = Columns::of(&file);
    let unmapped = unmapped(file.header(), |c| ACLED_COLUMNS.contains(&c));
    let id = columns.event_id_cnty;
    Ok(DatasetRows::new(
        Dataset::Acled,
        file,
        id,
        unmapped,
        Box::new(move |record| columns.map(record)),
    ))
}

/// Where each of ACLED's columns is in the file.
struct Columns {
    event_id_cnty: Column<'static>,
    event_date: Column<'static>,
    year: Column<'static>,
    time_precision: Column<'static>,
    event_type: Column<'static>,
    sub_event_type: Column<'static>,
    actor1: Column<'static>,
    assoc_actor_1: Column<'static>,
    inter1: Column<'static>,
    actor2: Column<'static>,
    assoc_actor_2: Column<'static>,
    inter2: Column<'static>,
    iso: Column<'static>,
    admin1: Column<'static>,
    admin2: Column<'static>,
    admin3: Column<'static>,
    location: Column<'static>,
    latitude: Column<'static>,
    longitude: Column<'static>,
    geo_precision: Column<'static>,
    source: Column<'static>,
    notes: Column<'static>,
    fatalities: Column<'static>,
    tags: Column<'static>,
    attributes: Vec<Column<'static>>,
}

impl Columns {
    fn of<R: Read>(file: &CsvFile<R>) -> Self {
        let c = |name| file.column(name);
        Self {
            event_id_cnty: c("event_id_cnty"),
            event_date: c("event_date"),
            year: c("year"),
            time_precision: c("time_precision"),
            event_type: c("event_type"),
            sub_event_type: c("sub_event_type"),
            actor1: c("actor1"),
            assoc_actor_1: c("assoc_actor_1"),
            inter1: c("inter1"),
            actor2: c("actor2"),
            assoc_actor_2: c("assoc_actor_2"),
            inter2: c("inter2"),
            iso: c("iso"),
            admin1: c("admin1"),
            admin2: c("admin2"),
            admin3: c("admin3"),
            location: c("location"),
            latitude: c("latitude"),
            longitude: c("longitude"),
            geo_precision: c("geo_precision"),
            source: c("source"),
            notes: c("notes"),
            fatalities: c("fatalities"),
            tags: c("tags"),
            attributes: ATTRIBUTE_COLUMNS.into_iter().map(c).collect(),
        }
    }

    /// The row `record` as an incident, or the first rule it breaks.
    fn map(&self, record: &CsvRecord<'_>) -> Result<ImportedRow, RowError> {
        let cell = |column| Cell::of(record, column);
        let id = cell(self.event_id_cnty);
        let external_ref = id.external_ref("acled")?;
        let time = self.time(record)?;
        let (event_type, sub_event_type) = self.event_types(record)?;
        let actors = self.actors(record)?;
        let place = self.place(record)?;
        let sources = sources(cell(self.source))?;
        let notes_cell = cell(self.notes);
        let notes = notes_cell.text().map(|_| notes_cell.raw.to_owned());
        let fatalities = UncertainCount::exactly(cell(self.fatalities).count()?);
        let tags = cell(self.tags)
            .list()?
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut attributes = BTreeMap::new();
        for &column in &self.attributes {
            if let Some(value) = cell(column).text() {
                attributes.insert(column.name.to_owned(), value.to_owned());
            }
        }
        let facts = IncidentFacts {
            time,
            place,
            event_type,
            sub_event_type,
            means: Vec::new(),
            target_category: None,
            fatalities,
            injuries: None,
            notes,
            tags,
            external_refs: vec![external_ref.clone()],
            attributes,
        };
        check_facts(record.line, &facts, column_of)?;
        Ok(ImportedRow {
            line: record.line,
            external_ref,
            facts,
            actors,
            sources,
        })
    }

    /// `event_date` with `time_precision`; `year` must be the date's year.
    fn time(&self, record: &CsvRecord<'_>) -> Result<EventTime, RowError> {
        let date = Cell::of(record, self.event_date).date(false)?;
        let year_cell = Cell::of(record, self.year);
        let year: i32 = year_cell.number("a year")?;
        if year != date.year() {
            return Err(year_cell.error(format!("{year} is not the year of event_date {date}")));
        }
        let precision_cell = Cell::of(record, self.time_precision);
        let precision = DatePrecision::from_acled(precision_cell.code(1, 3)?)
            .ok_or_else(|| precision_cell.error("is not a time precision"))?;
        Ok(EventTime::span(date, date, precision))
    }

    /// `event_type` and `sub_event_type` by ACLED's labels; the sub-event type must be one of
    /// the event type's.
    fn event_types(&self, record: &CsvRecord<'_>) -> Result<(EventType, SubEventType), RowError> {
        let type_cell = Cell::of(record, self.event_type);
        let label = type_cell.required()?;
        let event_type = EventType::from_label(label).ok_or_else(|| {
            type_cell.error(format!(
                "{} is not an ACLED event type ({})",
                type_cell.shown(),
                EventType::ALL.map(EventType::label).join(", ")
            ))
        })?;
        let sub_cell = Cell::of(record, self.sub_event_type);
        let label = sub_cell.required()?;
        let sub_event_type = SubEventType::from_label(label).ok_or_else(|| {
            sub_cell.error(format!(
                "{} is not an ACLED sub-event type",
                sub_cell.shown()
            ))
        })?;
        check_event_types(event_type, sub_event_type).map_err(|e| sub_cell.error(rule_of(e)))?;
        Ok((event_type, sub_event_type))
    }

    /// `actor1`, `assoc_actor_1`, `actor2`, `assoc_actor_2` in their roles, with the types of
    /// `inter1` and `inter2`.
    fn actors(&self, record: &CsvRecord<'_>) -> Result<Vec<NamedActor>, RowError> {
        let mut actors = Vec::new();
        for (actor, associates, inter, role, associate_role) in [
            (
                self.actor1,
                self.assoc_actor_1,
                self.inter1,
                ActorRole::Perpetrator,
                ActorRole::PerpetratorAssociate,
            ),
            (
                self.actor2,
                self.assoc_actor_2,
                self.inter2,
                ActorRole::Target,
                ActorRole::TargetAssociate,
            ),
        ] {
            let (actor, associates) = (Cell::of(record, actor), Cell::of(record, associates));
            let inter_cell = Cell::of(record, inter);
            let code = inter_cell.code(0, 8)?;
            let Some(actor_type) = ActorType::from_inter_code(code) else {
                // Inter code 0: no such actor.
                if actor.text().is_some() {
                    return Err(inter_cell.error(format!(
                        "is 0 (no actor) but {} names {}",
                        actor.column,
                        actor.shown()
                    )));
                }
                if associates.text().is_some() {
                    return Err(associates.error(format!(
                        "names actors but {} is 0 (no actor, no actor type to register them with)",
                        inter_cell.column
                    )));
                }
                continue;
            };
            let name = actor.text().ok_or_else(|| {
                actor.error(format!(
                    "must not be empty when {} is {code}",
                    inter_cell.column
                ))
            })?;
            actor.check_name(name)?;
            actors.push(NamedActor {
                name: name.to_owned(),
                role,
                actor_type,
            });
            for name in associates.list()? {
                actors.push(NamedActor {
                    name: name.to_owned(),
                    role: associate_role,
                    actor_type,
                });
            }
            if actors.len() > MAX_ITEMS {
                return Err(associates.error(format!(
                    "names too many actors: a row names at most {MAX_ITEMS}"
                )));
            }
        }
        Ok(actors)
    }

    /// `iso`, the admin columns, `location`, `latitude`, `longitude`, `geo_precision`.
    fn place(&self, record: &CsvRecord<'_>) -> Result<Place, RowError> {
        let cell = |column| Cell::of(record, column);
        let iso = cell(self.iso);
        let numeric: u16 = iso.number("an ISO 3166-1 numeric country code")?;
        let country = countries::by_numeric(numeric).ok_or_else(|| {
            iso.error(format!(
                "{numeric} is not an ISO 3166-1 numeric country code"
            ))
        })?;
        let country = CountryCode::new(country.alpha3).map_err(|e| iso.error(rule_of(e)))?;
        let precision_cell = cell(self.geo_precision);
        let precision = GeoPrecision::from_acled(precision_cell.code(1, 3)?)
            .ok_or_else(|| precision_cell.error("is not a geo precision"))?;
        let text = |column| cell(column).text().map(str::to_owned);
        Ok(Place {
            country,
            admin1: text(self.admin1),
            admin2: text(self.admin2),
            admin3: text(self.admin3),
            location: text(self.location),
            coordinates: crate::cell::coordinates(cell(self.latitude), cell(self.longitude))?,
            precision,
            site: None,
        })
    }
}

/// The ACLED column a field of [`IncidentFacts`] comes from (`place.coordinates.latitude` ->
/// `latitude`).
fn column_of(field: &str) -> String {
    let column = match field {
        f if f.starts_with("time.precision") => "time_precision",
        f if f.starts_with("time") => "event_date",
        f if f.starts_with("place.country") => "iso",
        f if f.starts_with("place.coordinates.longitude") => "longitude",
        f if f.starts_with("place.coordinates") => "latitude",
        f if f.starts_with("place.precision") => "geo_precision",
        f if f.starts_with("fatalities") => "fatalities",
        f if f.starts_with("tags") => "tags",
        f if f.starts_with("external_refs") => "event_id_cnty",
        f => {
            let name = f
                .strip_prefix("place.")
                .or_else(|| f.strip_prefix("attributes."))
                .unwrap_or(f);
            let name = name.split(['.', '[']).next().unwrap_or(name);
            if ACLED_COLUMNS.contains(&name) {
                name
            } else {
                f
            }
        }
    };
    column.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sitrep_domain::model::values::Source;

    const HEADER: &str = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp";

    /// A made-up row in ACLED's shape (no real ACLED row is committed).
    const ROW: &str = "TST1,2022-03-02,2022,1,Political violence,Battles,Armed clash,Rebels A,Group B; Group C,2,Military Forces of X,,1,12,,368,Middle East,Iraq,Duhok,Zakho,,Village Y,37.1,43.2,2,Paper One; Paper Two,National,\"Made up, for a test.\",3,tag one; tag two,1650000000";

    fn read_text(text: &str) -> DatasetFile {
        read(text.as_bytes()).unwrap()
    }

    /// The row with column `column` set to `value`.
    fn with(column: &str, value: &str) -> String {
        let index = HEADER.split(',').position(|c| c == column).unwrap();
        let mut fields: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(ROW.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        fields[index] = value.to_owned();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&fields).unwrap();
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    fn error_of(column: &str, value: &str) -> RowError {
        let file = read_text(&format!("{HEADER}\n{}", with(column, value)));
        assert!(file.rows.is_empty(), "{column}={value} was accepted");
        file.rejected[0].error.clone()
    }

    #[test]
    fn a_row_maps_by_the_table() {
        let file = read_text(&format!("{HEADER}\n{ROW}\n"));
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        let row = &file.rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.external_ref.as_str(), "acled:TST1");
        let f = &row.facts;
        assert_eq!(f.time.start.to_string(), "2022-03-02");
        assert_eq!(f.time.precision, DatePrecision::Day);
        assert_eq!(f.place.country.as_str(), "IRQ");
        assert_eq!(f.place.admin3, None);
        assert_eq!(f.place.precision, GeoPrecision::Near);
        assert_eq!(f.fatalities, UncertainCount::exactly(3));
        assert_eq!(f.tags, ["tag one", "tag two"]);
        assert_eq!(f.notes.as_deref(), Some("Made up, for a test."));
        assert_eq!(f.attributes["inter1"], "2");
        assert_eq!(f.attributes["interaction"], "12");
        assert!(!f.attributes.contains_key("civilian_targeting"));
        let actors: Vec<_> = row
            .actors
            .iter()
            .map(|a| (a.name.as_str(), a.role, a.actor_type))
            .collect();
        assert_eq!(
            actors,
            [
                ("Rebels A", ActorRole::Perpetrator, ActorType::RebelForces),
                (
                    "Group B",
                    ActorRole::PerpetratorAssociate,
                    ActorType::RebelForces
                ),
                (
                    "Group C",
                    ActorRole::PerpetratorAssociate,
                    ActorType::RebelForces
                ),
                (
                    "Military Forces of X",
                    ActorRole::Target,
                    ActorType::StateForces
                ),
            ]
        );
        assert_eq!(
            row.sources,
            [Source::named("Paper One"), Source::named("Paper Two")]
        );
    }

    #[test]
    fn every_rule_names_its_column() {
        let cases = [
            ("event_id_cnty", "", "must not be empty"),
            (
                "event_id_cnty",
                "TST 1",
                "must not be empty or contain spaces",
            ),
            ("event_date", "02/03/2022", "is not a date"),
            (
                "year",
                "2021",
                "2021 is not the year of event_date 2022-03-02",
            ),
            ("time_precision", "4", "is not a code from 1 to 3"),
            ("event_type", "Skirmish", "is not an ACLED event type"),
            (
                "sub_event_type",
                "Air/drone strike",
                "is not a sub-event type of \"Battles\"",
            ),
            ("sub_event_type", "Ambush", "is not an ACLED sub-event type"),
            ("inter1", "9", "is not a code from 0 to 8"),
            ("inter1", "0", "is 0 (no actor) but actor1 names"),
            ("actor1", "", "must not be empty when inter1 is 2"),
            ("inter2", "0", "is 0 (no actor) but actor2 names"),
            (
                "iso",
                "999",
                "999 is not an ISO 3166-1 numeric country code",
            ),
            ("iso", "IRQ", "is not an ISO 3166-1 numeric country code"),
            ("latitude", "123", "out of range"),
            ("latitude", "north", "is not a number"),
            ("longitude", "", "latitude and longitude"),
            ("geo_precision", "0", "is not a code from 1 to 3"),
            ("fatalities", "-1", "is not a whole number"),
            ("fatalities", "1.5", "is not a whole number"),
            ("fatalities", "99999999999", "is not a whole number"),
            ("notes", "\u{7}", "control characters"),
            ("admin1", "\u{1}x", "control characters"),
            ("source", "x\u{1}", "control characters"),
        ];
        for (column, value, rule) in cases {
            let error = error_of(column, value);
            assert_eq!(
                (error.line, error.column.as_str()),
                (2, column),
                "{column}={value:?}: {error}"
            );
            assert!(error.rule.contains(rule), "{column}={value:?}: {error}");
        }
        // An associated actor needs an actor type: inter 0 with no actor and associates.
        let row = with("actor2", "").replace(",,1,12,", ",Group D,0,12,");
        let file = read_text(&format!("{HEADER}\n{row}"));
        assert_eq!(file.rejected[0].error.column, "assoc_actor_2");
    }

    #[test]
    fn rejected_rows_keep_their_fields_and_later_rows_still_read() {
        let bad = with("latitude", "123");
        let second = ROW.replace("TST1", "TST2");
        let repeated = ROW.to_owned();
        let file = read_text(&format!("{HEADER}\r\n{bad}{second}\r\n{repeated}\r\n"));
        assert_eq!(file.rows.len(), 1);
        assert_eq!(file.rows[0].line, 3);
        assert_eq!(file.rejected.len(), 2);
        assert_eq!(file.rejected[0].line, 2);
        assert_eq!(file.rejected[0].fields.len(), 31);
        assert_eq!(file.rejected[0].fields[22], "123");
        // An id repeated is refused even when its first row was rejected.
        assert_eq!(file.rejected[1].line, 4);
        assert_eq!(file.rejected[1].error.column, "event_id_cnty");
    }

    #[test]
    fn optional_columns_may_be_missing_and_unknown_ones_are_listed() {
        let header = HEADER.replace(",disorder_type", "").replace(",tags", "") + ",iso3";
        let row = ROW
            .replace(",Political violence", "")
            .replace(",tag one; tag two", "")
            + ",IRQ";
        let file = read_text(&format!("{header}\n{row}\n"));
        assert!(file.rejected.is_empty(), "{:?}", file.rejected);
        assert!(file.rows[0].facts.tags.is_empty());
        assert_eq!(file.unmapped_columns, ["iso3"]);
    }

    #[test]
    fn no_input_panics() {
        let text = format!(
            "{HEADER}\r\n{ROW}\r\n{}\r\n{}",
            ROW.replace("TST1", "TST2"),
            with("notes", "two\nlines").replace("TST1", "TST3")
        );
        let file = read(text.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 3, "{:?}", file.rejected);
        crate::dataset_file::assert_no_input_panics(text.as_bytes(), |bytes| read(bytes));
    }

    #[test]
    fn domain_fields_map_back_to_columns() {
        assert_eq!(column_of("place.coordinates.latitude"), "latitude");
        assert_eq!(column_of("place.coordinates"), "latitude");
        assert_eq!(column_of("place.admin2"), "admin2");
        assert_eq!(column_of("time.end"), "event_date");
        assert_eq!(column_of("tags[2]"), "tags");
        assert_eq!(column_of("attributes.region"), "region");
        assert_eq!(column_of("attributes"), "attributes");
        assert_eq!(column_of("fatalities.low"), "fatalities");
    }
}
