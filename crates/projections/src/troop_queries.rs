//! The questions asked of the troop-levels read model (see [`crate::troops`]): the current level
//! of each deployment with the competing estimates beside it, and the time series of levels
//! for step charts, each now or as known at a recorded time.
//!
//! The current level is the one the projection stored, chosen by the domain's rule
//! ([`sitrep_domain::model::troops::current_estimate`]: the latest `as_of`, then the source
//! type's priority, then recorded later); these queries never choose again. Every value a
//! client gives travels as a bind parameter; the only text put into the SQL is the
//! generation's schema name, checked to be one.
//!
//! "Now" is `recorded_to IS NULL`; "as known at T" is
//! `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, on either table.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::troops::{SourceType, TroopEstimate};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ProjectionError;

/// The read model's name (the `projection` of its generations).
pub const PROJECTION: &str = "troops";

/// Which deployments to read. Fields left empty do not filter; a list selects any of its
/// values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TroopLevelFilter {
    /// ISO 3166 alpha-3 codes of deploying countries.
    pub deploying: Vec<String>,
    /// ISO 3166 alpha-3 codes of host countries.
    pub hosts: Vec<String>,
    /// Missions, compared as the domain compares them (without regard to case or spacing).
    pub missions: Vec<String>,
    pub deployment_ids: Vec<Uuid>,
}

/// The level a deployment's current estimate gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentLevel {
    pub estimate_id: Uuid,
    pub low: i64,
    pub best: i64,
    pub high: i64,
    pub words: Option<String>,
    /// Stored names (`about`, `all_personnel`, `official_statement`, `month`).
    pub qualifier: String,
    pub scope: String,
    pub as_of_start: NaiveDate,
    pub as_of_end: NaiveDate,
    pub precision: String,
    /// The source's name.
    pub source: String,
    pub source_type: String,
}

/// A deployment as one version of it shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TroopLevelItem {
    pub deployment_id: Uuid,
    /// The stream version this row shows (the version a client gives as `expectedVersion`).
    pub stream_version: i64,
    pub deploying: Option<String>,
    pub host: Option<String>,
    pub mission: Option<String>,
    /// None while no estimate counts.
    pub current: Option<CurrentLevel>,
    /// The live estimates describing the same time that the current one was preferred to,
    /// best ranked first.
    pub competing: Vec<TroopEstimate>,
    /// Estimates ever reported (retracted ones included).
    pub estimate_count: i32,
    pub retracted_count: i32,
    /// Announced changes not yet completed or cancelled.
    pub pending_change_count: i32,
    /// The earliest date one of those is due by.
    pub next_change_by: Option<NaiveDate>,
    /// When the version shown was recorded.
    pub recorded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TroopLevelRow {
    deployment_id: Uuid,
    stream_version: i64,
    deploying: Option<String>,
    host: Option<String>,
    mission: Option<String>,
    current_estimate_id: Option<Uuid>,
    current_low: Option<i64>,
    current_best: Option<i64>,
    current_high: Option<i64>,
    current_words: Option<String>,
    current_qualifier: Option<String>,
    current_scope: Option<String>,
    current_as_of_start: Option<NaiveDate>,
    current_as_of_end: Option<NaiveDate>,
    current_precision: Option<String>,
    current_source: Option<String>,
    current_source_type: Option<String>,
    competing: String,
    estimate_count: i32,
    retracted_count: i32,
    pending_change_count: i32,
    next_change_by: Option<NaiveDate>,
    recorded_at: DateTime<Utc>,
}

impl TroopLevelRow {
    fn into_item(self) -> Result<TroopLevelItem, ProjectionError> {
        let competing = serde_json::from_str(&self.competing).map_err(|source| {
            ProjectionError::CorruptState {
                projection: PROJECTION,
                id: self.deployment_id,
                source,
            }
        })?;
        // The projection writes every current column or none.
        let current = match (
            self.current_estimate_id,
            self.current_low,
            self.current_best,
            self.current_high,
            self.current_as_of_start,
            self.current_as_of_end,
        ) {
            (Some(estimate_id), Some(low), Some(best), Some(high), Some(start), Some(end)) => {
                Some(CurrentLevel {
                    estimate_id,
                    low,
                    best,
                    high,
                    words: self.current_words,
                    qualifier: self.current_qualifier.unwrap_or_default(),
                    scope: self.current_scope.unwrap_or_default(),
                    as_of_start: start,
                    as_of_end: end,
                    precision: self.current_precision.unwrap_or_default(),
                    source: self.current_source.unwrap_or_default(),
                    source_type: self.current_source_type.unwrap_or_default(),
                })
            }
            _ => None,
        };
        Ok(TroopLevelItem {
            deployment_id: self.deployment_id,
            stream_version: self.stream_version,
            deploying: self.deploying,
            host: self.host,
            mission: self.mission,
            current,
            competing,
            estimate_count: self.estimate_count,
            retracted_count: self.retracted_count,
            pending_change_count: self.pending_change_count,
            next_change_by: self.next_change_by,
            recorded_at: self.recorded_at,
        })
    }
}

/// One point of a deployment's series, as one version of it shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TroopPointItem {
    pub deployment_id: Uuid,
    /// The estimate's id, or the change's (for `planned` and `completed`).
    pub point_id: Uuid,
    /// `estimate`, `planned` or `completed`.
    pub kind: String,
    /// The deployment's version that made this version of the point.
    pub stream_version: i64,
    /// The day the point stands for (the end of its span), and the span's start.
    pub date: NaiveDate,
    pub date_start: NaiveDate,
    pub date_precision: String,
    pub low: i64,
    pub best: i64,
    pub high: i64,
    pub words: Option<String>,
    /// Estimates only.
    pub qualifier: Option<String>,
    pub scope: Option<String>,
    pub source_name: String,
    pub source_type: String,
    /// An estimate retracted as wrong (listed only when withdrawn points are asked for).
    pub retracted: bool,
    /// Why it was retracted (estimate) or cancelled (planned change).
    pub reason: Option<String>,
    /// Changes only: `withdrawal` or `arrival`; `announced`, `completed` or `cancelled`.
    pub change_kind: Option<String>,
    pub change_status: Option<String>,
    pub milestone_negotiation: Option<Uuid>,
    pub milestone_id: Option<Uuid>,
    /// When this version of the point was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Whether the domain's rule picks this estimate among the live estimates of its date
    /// (the higher source priority, then recorded later): the points a step chart of the level
    /// follows. False for changes and retracted estimates.
    #[sqlx(skip)]
    pub preferred: bool,
}

/// The points of the series to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesOptions {
    /// Points dated on or after this day.
    pub from: Option<NaiveDate>,
    /// Points dated on or before this day.
    pub to: Option<NaiveDate>,
    /// Also the points a chart leaves out: retracted estimates, and planned changes completed
    /// or cancelled (a completion has a point of its own).
    pub include_withdrawn: bool,
}

/// Refuses anything but a generation's schema name: it goes into the SQL text.
fn check_schema(schema: &str) -> Result<(), ProjectionError> {
    if crate::generation::is_generation_schema(schema) {
        Ok(())
    } else {
        Err(ProjectionError::NotAGeneration(schema.to_owned()))
    }
}

/// The rows of table alias `t` that count: the current ones, or those visible at the recorded
/// time $1.
fn time_sql(as_of: Option<DateTime<Utc>>, t: &str) -> String {
    match as_of {
        None => format!("$1::timestamptz IS NULL AND {t}.recorded_to IS NULL"),
        Some(_) => {
            format!("{t}.recorded_from <= $1 AND ({t}.recorded_to IS NULL OR {t}.recorded_to > $1)")
        }
    }
}

/// A mission as the domain compares missions: lower case, single spaces.
fn mission_key(mission: &str) -> String {
    mission
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The current level of each deployment `filter` selects in generation `schema`, with the
/// competing estimates, now or as known at `as_of`; by host country, deploying country and
/// mission. Deployments not yet established then are left out.
pub async fn troop_levels(
    pool: &PgPool,
    schema: &str,
    filter: &TroopLevelFilter,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TroopLevelItem>, ProjectionError> {
    check_schema(schema)?;
    let mut conditions = vec!["v.deploying IS NOT NULL".to_owned(), time_sql(as_of, "v")];
    let mut add = |set: bool, condition: &str| {
        if set {
            conditions.push(condition.to_owned());
        }
    };
    add(
        !filter.deploying.is_empty(),
        "v.deploying = ANY($2::text[])",
    );
    add(!filter.hosts.is_empty(), "v.host = ANY($3::text[])");
    add(
        !filter.missions.is_empty(),
        "lower(regexp_replace(btrim(v.mission), '\\s+', ' ', 'g')) = ANY($4::text[])",
    );
    add(
        !filter.deployment_ids.is_empty(),
        "v.deployment_id = ANY($5::uuid[])",
    );
    // Every parameter is named once with its type, used or not.
    conditions
        .push("(($2::text[], $3::text[], $4::text[], $5::uuid[]) IS NOT NULL OR true)".into());
    let sql = format!(
        "SELECT v.deployment_id, v.stream_version, v.deploying, v.host, v.mission, \
                v.current_estimate_id, v.current_low, v.current_best, v.current_high, \
                v.current_words, v.current_qualifier, v.current_scope, v.current_as_of_start, \
                v.current_as_of_end, v.current_precision, v.current_source, \
                v.current_source_type, v.competing::text AS competing, v.estimate_count, \
                v.retracted_count, v.pending_change_count, v.next_change_by, \
                v.recorded_from AS recorded_at \
           FROM {schema}.troop_deployment_versions v \
          WHERE {conditions} \
          ORDER BY v.host, v.deploying, v.mission, v.deployment_id",
        conditions = conditions.join(" AND "),
    );
    let missions: Vec<String> = filter.missions.iter().map(|m| mission_key(m)).collect();
    let rows: Vec<TroopLevelRow> = sqlx::query_as(&sql)
        .bind(as_of)
        .bind(&filter.deploying)
        .bind(&filter.hosts)
        .bind(&missions)
        .bind(&filter.deployment_ids)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(TroopLevelRow::into_item).collect()
}

/// The series of the deployments `ids` in generation `schema`, now or as known at `as_of`:
/// each deployment's points in date order (then as recorded; a plan before its completion,
/// which the same event records). Without
/// `options.include_withdrawn`, the points a chart shows, by the rule `troops.sql` documents:
/// no retracted estimate, and a planned change only while it is announced.
pub async fn troop_series(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    options: SeriesOptions,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TroopPointItem>, ProjectionError> {
    check_schema(schema)?;
    let mut conditions = vec!["p.deployment_id = ANY($2::uuid[])".to_owned()];
    conditions.push(time_sql(as_of, "p"));
    if !options.include_withdrawn {
        conditions.push(
            "NOT p.retracted AND (p.kind <> 'planned' OR p.change_status = 'announced')".into(),
        );
    }
    if options.from.is_some() {
        conditions.push("p.date >= $3::date".into());
    }
    if options.to.is_some() {
        conditions.push("p.date <= $4::date".into());
    }
    conditions.push("(($3::date, $4::date) IS NOT NULL OR true)".into());
    let sql = format!(
        "SELECT p.deployment_id, p.point_id, p.kind, p.stream_version, p.date, p.date_start, \
                p.date_precision, p.low, p.best, p.high, p.words, p.qualifier, p.scope, \
                p.source_name, p.source_type, p.retracted, p.reason, p.change_kind, \
                p.change_status, p.milestone_negotiation, p.milestone_id, \
                p.recorded_from AS recorded_at \
           FROM {schema}.troop_level_points p \
          WHERE {conditions} \
          ORDER BY p.deployment_id, p.date, p.stream_version, \
                   CASE p.kind WHEN 'estimate' THEN 0 WHEN 'planned' THEN 1 ELSE 2 END",
        conditions = conditions.join(" AND "),
    );
    let mut points: Vec<TroopPointItem> = sqlx::query_as(&sql)
        .bind(as_of)
        .bind(ids)
        .bind(options.from)
        .bind(options.to)
        .fetch_all(pool)
        .await?;
    mark_preferred(&mut points);
    Ok(points)
}

/// Marks, for each deployment and date, the live estimate the domain's rule prefers: the
/// higher [`SourceType::priority`], then the one recorded later (its version). Estimates of
/// one date tie on the rule's first criterion (`as_of.end`), so this is the rule itself.
fn mark_preferred(points: &mut [TroopPointItem]) {
    let priority = |p: &TroopPointItem| {
        serde_json::from_value::<SourceType>(serde_json::Value::String(p.source_type.clone()))
            .map_or(0, SourceType::priority)
    };
    let mut best: HashMap<(Uuid, NaiveDate), (u8, i64, usize)> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        if p.kind != "estimate" || p.retracted {
            continue;
        }
        let rank = (priority(p), p.stream_version, i);
        let entry = best.entry((p.deployment_id, p.date)).or_insert(rank);
        if rank > *entry {
            *entry = rank;
        }
    }
    for (_, _, i) in best.into_values() {
        if let Some(p) = points.get_mut(i) {
            p.preferred = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(date: &str, source_type: &str, version: i64) -> TroopPointItem {
        let day: NaiveDate = date.parse().unwrap();
        TroopPointItem {
            deployment_id: Uuid::from_u128(1),
            point_id: Uuid::from_u128(version as u128),
            kind: "estimate".into(),
            stream_version: version,
            date: day,
            date_start: day,
            date_precision: "day".into(),
            low: 0,
            best: 0,
            high: 0,
            words: None,
            qualifier: Some("about".into()),
            scope: Some("unknown".into()),
            source_name: "x".into(),
            source_type: source_type.into(),
            retracted: false,
            reason: None,
            change_kind: None,
            change_status: None,
            milestone_negotiation: None,
            milestone_id: None,
            recorded_at: DateTime::UNIX_EPOCH,
            preferred: false,
        }
    }

    #[test]
    fn the_preferred_estimate_of_a_date_follows_the_domains_rule() {
        let mut points = vec![
            estimate("2023-12-31", "official_report", 2),
            estimate("2023-12-31", "official_statement", 3),
            estimate("2023-12-31", "media", 4),
            estimate("2024-01-31", "media", 5),
            estimate("2024-01-31", "media", 6),
        ];
        mark_preferred(&mut points);
        let preferred: Vec<bool> = points.iter().map(|p| p.preferred).collect();
        assert_eq!(preferred, vec![false, true, false, false, true]);
    }

    #[test]
    fn missions_are_compared_as_the_domain_compares_them() {
        assert_eq!(
            mission_key(" Operation  Inherent Resolve"),
            "operation inherent resolve"
        );
    }
}
