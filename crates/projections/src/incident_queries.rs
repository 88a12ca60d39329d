//! The questions dashboards ask of the incidents read model: a filtered, keyset-paginated list
//! and grouped statistics, now or as known at a recorded time.
//!
//! The SQL is assembled from fixed fragments chosen by typed options (a dimension, a bucket, a
//! filter that is set or not); every value a client gives travels as a bind parameter. Both
//! queries read the live generation's `incident_versions` (see [`crate::incidents`]): "now" is
//! the current row of each incident, "as of T" the row whose recorded span contains T; either
//! way only active incidents count.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ProjectionError;

/// What to count or list. Every field left empty or `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    /// Incidents whose span of days overlaps `[from, to]`.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// ISO 3166 alpha-3 codes.
    pub countries: Vec<String>,
    pub admin1: Vec<String>,
    /// Stored names (`explosions_remote_violence`).
    pub event_types: Vec<String>,
    pub sub_event_types: Vec<String>,
    pub target_categories: Vec<String>,
    /// Involving this actor in any role.
    pub actor: Option<Uuid>,
    /// Claimed by this actor.
    pub claimant: Option<Uuid>,
    pub site: Option<Uuid>,
    pub verification: Vec<String>,
    pub geo_precision: Vec<String>,
    /// West, south, east, north in degrees.
    pub bounding_box: Option<[f64; 4]>,
}

/// What statistics are grouped by, besides the time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsDimension {
    Country,
    Admin1,
    EventType,
    SubEventType,
    /// Every actor involved, in any role (an incident counts once per actor).
    Actor,
    /// The claimants (an incident counts once per claimant; unclaimed ones under none).
    Claimant,
    TargetCategory,
}

impl StatsDimension {
    /// The expression grouped by, and the join it needs.
    fn sql(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Country => ("v.country", None),
            Self::Admin1 => ("v.admin1", None),
            Self::EventType => ("v.event_type", None),
            Self::SubEventType => ("v.sub_event_type", None),
            Self::Actor => (
                "actor.id::text",
                Some("LEFT JOIN LATERAL unnest(v.actor_ids) AS actor(id) ON true"),
            ),
            Self::Claimant => (
                "claimant.id::text",
                Some("LEFT JOIN LATERAL unnest(v.claimant_ids) AS claimant(id) ON true"),
            ),
            Self::TargetCategory => ("v.target_category", None),
        }
    }
}

/// The time buckets of statistics: by the day an incident started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBucket {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl TimeBucket {
    fn sql(self) -> &'static str {
        match self {
            Self::Day => "v.valid_start",
            Self::Week => "date_trunc('week', v.valid_start)::date",
            Self::Month => "date_trunc('month', v.valid_start)::date",
        }
    }
}

/// One group of the statistics.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatsRow {
    /// The first day of the bucket, when bucketed.
    pub bucket: Option<NaiveDate>,
    /// The group's keys, in the order of the dimensions asked for.
    pub keys: Vec<Option<String>>,
    pub incidents: i64,
    pub fatalities_low: i64,
    pub fatalities_best: i64,
    pub fatalities_high: i64,
}

/// One incident of the list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentListItem {
    pub incident_id: Uuid,
    pub stream_version: i64,
    pub valid_start: Option<NaiveDate>,
    pub valid_end: Option<NaiveDate>,
    pub country: Option<String>,
    pub admin1: Option<String>,
    pub location: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub event_type: Option<String>,
    pub sub_event_type: Option<String>,
    pub date_precision: Option<String>,
    pub geo_precision: Option<String>,
    pub target_category: Option<String>,
    pub site_id: Option<Uuid>,
    pub fatalities_low: Option<i32>,
    pub fatalities_best: Option<i32>,
    pub fatalities_high: Option<i32>,
    pub verification: String,
    /// `active`, `retracted` or `merged` (lists show only active incidents).
    pub status: String,
    pub merged_into: Option<Uuid>,
    pub actor_ids: Vec<Uuid>,
    pub claimant_ids: Vec<Uuid>,
    pub tags: Vec<String>,
    pub external_refs: Vec<String>,
    /// When the version shown was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The columns of an [`IncidentListItem`].
const ITEM_COLUMNS: &str = "v.incident_id, v.stream_version, v.valid_start, v.valid_end, \
    v.country, v.admin1, v.location, v.latitude, v.longitude, v.event_type, v.sub_event_type, \
    v.date_precision, v.geo_precision, v.target_category, v.site_id, v.fatalities_low, \
    v.fatalities_best, v.fatalities_high, v.verification, v.status, v.merged_into, v.actor_ids, \
    v.claimant_ids, v.tags, v.external_refs, v.recorded_from AS recorded_at";

/// Where a page of a list starts: after this incident (in the list's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub valid_start: NaiveDate,
    pub incident_id: Uuid,
}

/// Refuses anything but a generation's schema name: it goes into the SQL text.
pub(crate) fn check_schema(schema: &str) -> Result<(), ProjectionError> {
    if crate::generation::is_generation_schema(schema) {
        Ok(())
    } else {
        Err(ProjectionError::NotAGeneration(schema.to_owned()))
    }
}

/// Which rows count: the current ones (the partial indexes cover exactly these), or those
/// visible at the recorded time $1.
fn time_sql(as_of: Option<DateTime<Utc>>) -> &'static str {
    match as_of {
        None => "$1::timestamptz IS NULL AND v.recorded_to IS NULL",
        Some(_) => "v.recorded_from <= $1 AND (v.recorded_to IS NULL OR v.recorded_to > $1)",
    }
}

/// The rest of the WHERE clause of both queries: only the conditions of the filter's fields that
/// are set (so that each query's plan can use the indexes that fit it); the values are always
/// bound as $2..$14.
fn filter_sql(f: &IncidentFilter) -> String {
    let mut conditions = vec!["v.status = 'active'"];
    let mut add = |set: bool, condition: &'static str| {
        if set {
            conditions.push(condition);
        }
    };
    add(f.from.is_some(), "v.valid_end >= $2::date");
    add(f.to.is_some(), "v.valid_start <= $3::date");
    add(!f.countries.is_empty(), "v.country = ANY($4::text[])");
    add(!f.admin1.is_empty(), "v.admin1 = ANY($5::text[])");
    add(!f.event_types.is_empty(), "v.event_type = ANY($6::text[])");
    add(
        !f.sub_event_types.is_empty(),
        "v.sub_event_type = ANY($7::text[])",
    );
    add(
        !f.target_categories.is_empty(),
        "v.target_category = ANY($8::text[])",
    );
    add(f.actor.is_some(), "v.actor_ids @> ARRAY[$9::uuid]");
    add(f.claimant.is_some(), "v.claimant_ids @> ARRAY[$10::uuid]");
    add(f.site.is_some(), "v.site_id = $11::uuid");
    add(
        !f.verification.is_empty(),
        "v.verification = ANY($12::text[])",
    );
    add(
        !f.geo_precision.is_empty(),
        "v.geo_precision = ANY($13::text[])",
    );
    add(
        f.bounding_box.is_some(),
        "v.longitude BETWEEN $14[1] AND $14[3] AND v.latitude BETWEEN $14[2] AND $14[4]",
    );
    // Every parameter is named once with its type, used or not.
    conditions.push(
        "(($2::date, $3::date, $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
           $9::uuid, $10::uuid, $11::uuid, $12::text[], $13::text[], $14::float8[]) IS NOT NULL \
          OR true)",
    );
    conditions.join(" AND ")
}

/// Binds the as-of time and the filter as $1..$14.
macro_rules! bind_filter {
    ($query:expr, $as_of:expr, $f:expr) => {
        $query
            .bind($as_of)
            .bind($f.from)
            .bind($f.to)
            .bind(&$f.countries)
            .bind(&$f.admin1)
            .bind(&$f.event_types)
            .bind(&$f.sub_event_types)
            .bind(&$f.target_categories)
            .bind($f.actor)
            .bind($f.claimant)
            .bind($f.site)
            .bind(&$f.verification)
            .bind(&$f.geo_precision)
            .bind($f.bounding_box.map(|b| b.to_vec()))
    };
}

/// Counts and fatality sums of the incidents `filter` selects in generation `schema`, grouped
/// by `group_by` and `bucket`, now or as known at `as_of`.
pub async fn incident_stats(
    pool: &PgPool,
    schema: &str,
    filter: &IncidentFilter,
    group_by: &[StatsDimension],
    bucket: Option<TimeBucket>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<StatsRow>, ProjectionError> {
    check_schema(schema)?;
    let mut keys: Vec<&str> = Vec::new();
    let mut joins: Vec<&str> = Vec::new();
    for dimension in group_by {
        let (key, join) = dimension.sql();
        keys.push(key);
        joins.extend(join);
    }
    let bucket_sql = bucket.map_or("NULL::date", TimeBucket::sql);
    let keys_sql = if keys.is_empty() {
        "ARRAY[]::text[]".to_owned()
    } else {
        format!("ARRAY[{}]::text[]", keys.join(", "))
    };
    let group_sql = std::iter::once(bucket_sql)
        .chain(keys.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    // `schema` is a generation's schema name (ours); every fragment is a constant above.
    let sql = format!(
        "SELECT {bucket_sql} AS bucket, {keys_sql} AS keys, count(*) AS incidents, \
                coalesce(sum(v.fatalities_low), 0)::int8 AS fatalities_low, \
                coalesce(sum(v.fatalities_best), 0)::int8 AS fatalities_best, \
                coalesce(sum(v.fatalities_high), 0)::int8 AS fatalities_high \
           FROM {schema}.incident_versions v {joins} \
          WHERE {time} AND {filter} \
          GROUP BY {group_sql} \
          ORDER BY {group_sql}",
        joins = joins.join(" "),
        time = time_sql(as_of),
        filter = filter_sql(filter),
    );
    Ok(bind_filter!(sqlx::query_as(&sql), as_of, filter)
        .fetch_all(pool)
        .await?)
}

/// A page of the incidents `filter` selects in generation `schema`, newest first (by the day
/// they started, then id), after `after`, now or as known at `as_of`. Keyset-paginated: the
/// cost of a page does not grow with how deep it is.
pub async fn incident_list(
    pool: &PgPool,
    schema: &str,
    filter: &IncidentFilter,
    first: u32,
    after: Option<ListCursor>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<IncidentListItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {ITEM_COLUMNS} \
           FROM {schema}.incident_versions v \
          WHERE {time} AND {filter} AND {keyset} \
          ORDER BY v.valid_start DESC, v.incident_id DESC \
          LIMIT $17",
        time = time_sql(as_of),
        filter = filter_sql(filter),
        keyset = match after {
            Some(_) => "(v.valid_start, v.incident_id) < ($15::date, $16::uuid)",
            None => "(($15::date, $16::uuid) IS NULL OR true)",
        },
    );
    let rows = bind_filter!(sqlx::query_as(&sql), as_of, filter)
        .bind(after.map(|c| c.valid_start))
        .bind(after.map(|c| c.incident_id))
        .bind(i64::from(first))
        .fetch_all(pool)
        .await?;
    Ok(rows)
}

/// One incident of a selection in start order: which, from when, and the version that is
/// selected (the current one, or the one known at the time asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentKey {
    pub incident_id: Uuid,
    pub valid_start: NaiveDate,
    pub stream_version: i64,
}

impl IncidentKey {
    /// Where the next page of the selection starts: after this incident.
    pub fn cursor(&self) -> ListCursor {
        ListCursor {
            valid_start: self.valid_start,
            incident_id: self.incident_id,
        }
    }
}

/// A page of the incidents `filter` selects in generation `schema`, oldest first (by the day
/// they started, then id), after `after`, at most `limit`, now or as known at `as_of`: the
/// selection an export walks through. Keyset-paginated like [`incident_list`], on any executor
/// (an export reads every page in one snapshot).
pub async fn incident_keys(
    executor: impl sqlx::PgExecutor<'_>,
    schema: &str,
    filter: &IncidentFilter,
    limit: u32,
    after: Option<ListCursor>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<IncidentKey>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT v.incident_id, v.valid_start, v.stream_version \
           FROM {schema}.incident_versions v \
          WHERE {time} AND {filter} AND v.valid_start IS NOT NULL AND {keyset} \
          ORDER BY v.valid_start, v.incident_id \
          LIMIT $17",
        time = time_sql(as_of),
        filter = filter_sql(filter),
        keyset = match after {
            Some(_) => "(v.valid_start, v.incident_id) > ($15::date, $16::uuid)",
            None => "(($15::date, $16::uuid) IS NULL OR true)",
        },
    );
    Ok(bind_filter!(sqlx::query_as(&sql), as_of, filter)
        .bind(after.map(|c| c.valid_start))
        .bind(after.map(|c| c.incident_id))
        .bind(i64::from(limit))
        .fetch_all(executor)
        .await?)
}

/// One incident in generation `schema`, whatever its status (a retracted or merged incident
/// says so), now or as known at `as_of`; `None` when it was not known then.
pub async fn incident_by_id(
    pool: &PgPool,
    schema: &str,
    incident_id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<IncidentListItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM {schema}.incident_versions v \
          WHERE v.incident_id = $2 AND {time} AND v.status <> 'not_reported'",
        time = time_sql(as_of),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(incident_id)
        .fetch_optional(pool)
        .await?)
}

/// One incident of an actor's incidents.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ActorIncident {
    /// The actor it was asked for.
    pub key_actor_id: Uuid,
    #[sqlx(flatten)]
    pub incident: IncidentListItem,
}

/// The active incidents involving each of `actor_ids` (any role) in generation `schema`,
/// newest first, at most `limit` per actor, now or as known at `as_of`; one statement.
pub async fn incidents_of_actors(
    pool: &PgPool,
    schema: &str,
    actor_ids: &[Uuid],
    limit: u32,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<ActorIncident>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT a.actor_id AS key_actor_id, i.* \
           FROM unnest($2::uuid[]) AS a(actor_id) \
          CROSS JOIN LATERAL ( \
                SELECT {ITEM_COLUMNS} FROM {schema}.incident_versions v \
                 WHERE v.actor_ids @> ARRAY[a.actor_id] AND {time} AND v.status = 'active' \
                 ORDER BY v.valid_start DESC, v.incident_id DESC \
                 LIMIT $3) AS i \
          ORDER BY a.actor_id",
        time = time_sql(as_of),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(actor_ids)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
}

/// How many active incidents involve each of `actor_ids` (any role) and how many each claimed,
/// as known at `as_of`, counted from the incident versions of generation `schema` (the actors
/// read model keeps its counts current only); one statement, a row for every actor asked.
pub async fn incident_counts_as_of(
    pool: &PgPool,
    schema: &str,
    actor_ids: &[Uuid],
    as_of: DateTime<Utc>,
) -> Result<Vec<crate::actor_queries::IncidentCounts>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT a.actor_id, count(v.incident_id) AS incidents, \
                count(v.incident_id) FILTER (WHERE v.claimant_ids @> ARRAY[a.actor_id]) \
                    AS claimed \
           FROM unnest($2::uuid[]) AS a(actor_id) \
           LEFT JOIN {schema}.incident_versions v \
             ON v.actor_ids @> ARRAY[a.actor_id] AND {time} AND v.status = 'active' \
          GROUP BY a.actor_id",
        time = time_sql(Some(as_of)),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(actor_ids)
        .fetch_all(pool)
        .await?)
}
