//! An ACLED-shaped file of SIGACTS' size, for the import benchmark (issue #7): every row of the
//! declassified Iraq SIGACTS extract (`../shared/data/sigacts/`, 162,852 rows, 2004-2007: time,
//! event type, target, city) written as an ACLED export row, so that the import runs on the
//! volume and the messiness of a real dataset. The file is built in a temporary folder at each
//! run and never committed (the extract's terms do not allow redistribution).
//!
//! The mapping is plausible rather than exact, and says so in the rows: IEDs, mines and
//! car bombs are ACLED's remote explosives, mortars, rockets and indirect fire its shelling,
//! small arms and RPGs its armed clashes; the target becomes actor 2 (coalition forces, Iraqi
//! security forces, civilians; none when the cell is blank or garbled); the city its location
//! with the city's coordinates (or Iraq's centre at the precision of a region when no city is
//! named). The 4,826 rows without a time (header lines repeated inside the extract) take the
//! date of the row before them.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use sitrep_interchange::acled_columns::ACLED_COLUMNS;

/// Cities of the extract with their governorate and coordinates.
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("Baghdad", "Baghdad", 33.3152, 44.3661),
    ("Ramadi", "Al Anbar", 33.4258, 43.2992),
    ("Mosul", "Ninewa", 36.3400, 43.1300),
    ("Baqubah", "Diyala", 33.7500, 44.6333),
    ("Basrah", "Al Basrah", 30.5085, 47.7804),
    ("Fallujah", "Al Anbar", 33.3500, 43.7833),
    ("Abu Ghraib", "Baghdad", 33.2925, 44.0650),
    ("Samarra", "Salah al-Din", 34.1983, 43.8742),
    ("Kirkuk", "Kirkuk", 35.4681, 44.3922),
    ("Tall Afar", "Ninewa", 36.3792, 42.4483),
    ("Bayji", "Salah al-Din", 34.9311, 43.4869),
    ("Tikrit", "Salah al-Din", 34.6000, 43.6833),
    ("Hillah", "Babil", 32.4833, 44.4333),
    ("Karbala", "Karbala", 32.6160, 44.0249),
    ("Najaf", "Najaf", 32.0000, 44.3300),
    ("Kut", "Wasit", 32.5000, 45.8333),
    ("Balad", "Salah al-Din", 34.0142, 44.1456),
    ("Haditha", "Al Anbar", 34.1397, 42.3781),
    ("Hit", "Al Anbar", 33.6417, 42.8264),
    ("Iskandariyah", "Babil", 32.8931, 44.3539),
];

/// Writes the ACLED-shaped file built from the SIGACTS extract at `sigacts` to `out`; returns
/// the number of rows.
pub fn write_acled_file(sigacts: &Path, out: &Path) -> anyhow::Result<u64> {
    let mut reader =
        csv::Reader::from_path(sigacts).with_context(|| format!("read {}", sigacts.display()))?;
    let file = std::fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    writer.write_record(ACLED_COLUMNS)?;
    let mut last_date = String::from("2004-01-01");
    let mut rows = 0u64;
    for (index, record) in reader.records().enumerate() {
        let record = record?;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let time = field(0);
        if time.len() >= 10 && time.as_bytes()[4] == b'-' {
            last_date = time[..10].to_owned();
        }
        let kind = field(1);
        let (event_type, sub_event_type) = event_types(kind);
        let (actor2, inter2) = target(field(2));
        let city = CITIES.iter().find(|(name, ..)| *name == field(3));
        let (admin1, location, latitude, longitude, geo_precision) = match city {
            Some((name, admin1, lat, lon)) => (*admin1, *name, *lat, *lon, "1"),
            None => ("Baghdad", "Iraq", 33.2232, 43.6793, "3"),
        };
        let interaction = if inter2 == 0 {
            "30".to_owned()
        } else {
            format!("3{inter2}")
        };
        let notes = format!(
            "On {last_date}, {} against {} in {location} (SIGACTS).",
            if kind.is_empty() { "an attack" } else { kind },
            if actor2.is_empty() {
                "an unreported target"
            } else {
                actor2
            }
        );
        writer.write_record([
            format!("IRQS{}", index + 1).as_str(),
            &last_date,
            &last_date[..4],
            "1",
            "Political violence",
            event_type,
            sub_event_type,
            "Unidentified Armed Group (Iraq)",
            "",
            "3",
            actor2,
            "",
            &inter2.to_string(),
            &interaction,
            "",
            "368",
            "Middle East",
            "Iraq",
            admin1,
            "",
            "",
            location,
            &latitude.to_string(),
            &longitude.to_string(),
            geo_precision,
            "SIGACTS",
            "Other",
            &notes,
            "0",
            "",
            "1262304000",
        ])?;
        rows += 1;
    }
    writer.flush()?;
    let mut file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("write {}: {e}", out.display()))?;
    file.flush()?;
    // On disk before anything is timed: the import read it back while the kernel still wrote
    // its 55 MB out, competing with PostgreSQL's own writes.
    file.get_ref().sync_all()?;
    Ok(rows)
}

/// ACLED's event and sub-event type for a SIGACTS event type.
fn event_types(kind: &str) -> (&'static str, &'static str) {
    const REMOTE: &str = "Explosions/Remote violence";
    let kind = kind.to_ascii_lowercase();
    if kind.starts_with("svbied") || kind.contains("vest") {
        (REMOTE, "Suicide bomb")
    } else if kind.contains("ied") || kind.contains("mine") {
        (REMOTE, "Remote explosive/landmine/IED")
    } else if kind.contains("mortar") || kind.contains("rocket") || kind.contains("indirect") {
        (REMOTE, "Shelling/artillery/missile attack")
    } else if kind.contains("grenade") {
        (REMOTE, "Grenade")
    } else if kind.contains("chemical") {
        (REMOTE, "Chemical weapon")
    } else {
        ("Battles", "Armed clash")
    }
}

/// Actor 2 and its inter code for a SIGACTS target cell (often garbled: "Coalition     Baghdad").
fn target(cell: &str) -> (&'static str, u8) {
    let cell = cell.to_ascii_lowercase();
    if cell.contains("coalition") {
        ("Military Forces of the United States (2001-2009)", 8)
    } else if cell.contains("host nation") || cell.contains("iraqi security") {
        ("Military Forces of Iraq (2004-2014)", 1)
    } else if cell.contains("civilian") {
        ("Civilians (Iraq)", 7)
    } else {
        ("", 0)
    }
}
