//! The questions the API asks of the actors read model ([`crate::actors`]): a filtered,
//! keyset-paginated list of actors and of sites, actors and sites by id, an actor's
//! affiliations, the actors of incidents with their roles and attributions, and the incident
//! counts per actor; now or as known at a recorded time.
//!
//! Every function that takes many ids answers them all with one statement, so that the API's
//! batch loaders run a fixed number of statements whatever the number of ids. Values a client
//! gives travel as bind parameters; only the generation's schema name (checked) and constant
//! fragments go into the SQL text. "Now" is each key's current row (`recorded_to IS NULL`), "as
//! of T" the row whose recorded span contains T.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::incident_queries::check_schema;

/// Which versions count: the current ones, or those visible at the recorded time `$1`.
fn time_sql(as_of: Option<DateTime<Utc>>) -> &'static str {
    match as_of {
        None => "$1::timestamptz IS NULL AND v.recorded_to IS NULL",
        Some(_) => "v.recorded_from <= $1 AND (v.recorded_to IS NULL OR v.recorded_to > $1)",
    }
}

// ---------------------------------------------------------------------------------------------
// Actors

/// An actor as one version of `actor_versions` shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ActorItem {
    pub actor_id: Uuid,
    pub stream_version: i64,
    pub name: String,
    /// The stored name (`militia_groups`).
    pub actor_type: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
    pub aliases: Vec<String>,
    /// When the version shown was recorded.
    pub recorded_at: DateTime<Utc>,
}

const ACTOR_COLUMNS: &str = "v.actor_id, v.stream_version, v.name, v.actor_type, v.country, \
    v.description, v.aliases, v.recorded_from AS recorded_at";

/// Which actors to list. Fields left empty or `None` do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActorFilter {
    /// Part of the name or of an alias, any case (matched against the trimmed, lower-cased
    /// spellings the read model keeps).
    pub search: Option<String>,
    /// Stored names of actor types (`militia_groups`).
    pub actor_types: Vec<String>,
    /// ISO 3166 alpha-3 codes.
    pub countries: Vec<String>,
}

/// Where a page of a list sorted by name ends: after this name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCursor {
    pub name: String,
    pub id: Uuid,
}

/// A page of the actors `filter` selects in generation `schema`, by name (then id), after
/// `after`, at most `limit`, now or as known at `as_of`.
pub async fn actor_list(
    pool: &PgPool,
    schema: &str,
    filter: &ActorFilter,
    limit: u32,
    after: Option<&NameCursor>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<ActorItem>, ProjectionError> {
    check_schema(schema)?;
    let mut conditions = vec![time_sql(as_of), "v.name IS NOT NULL"];
    if filter.search.is_some() {
        conditions
            .push("EXISTS (SELECT 1 FROM unnest(v.names) AS n(name) WHERE strpos(n.name, $2) > 0)");
    }
    if !filter.actor_types.is_empty() {
        conditions.push("v.actor_type = ANY($3)");
    }
    if !filter.countries.is_empty() {
        conditions.push("v.country = ANY($4)");
    }
    if after.is_some() {
        conditions.push("(v.name, v.actor_id) > ($5, $6)");
    }
    // Every parameter is named once with its type, used or not.
    conditions.push("(($2::text, $3::text[], $4::text[], $5::text, $6::uuid) IS NOT NULL OR true)");
    let sql = format!(
        "SELECT {ACTOR_COLUMNS} FROM {schema}.actor_versions v WHERE {} \
          ORDER BY v.name, v.actor_id LIMIT $7",
        conditions.join(" AND ")
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(filter.search.as_deref().map(search_text))
        .bind(&filter.actor_types)
        .bind(&filter.countries)
        .bind(after.map(|c| c.name.as_str()))
        .bind(after.map(|c| c.id))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
}

/// The actors `ids` in generation `schema`, now or as known at `as_of` (those not known then
/// are left out); one statement, on any executor (a pool, or an export's snapshot).
pub async fn actors_by_ids(
    executor: impl sqlx::PgExecutor<'_>,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<ActorItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {ACTOR_COLUMNS} FROM {schema}.actor_versions v \
          WHERE v.actor_id = ANY($2) AND {time} AND v.name IS NOT NULL",
        time = time_sql(as_of),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(ids)
        .fetch_all(executor)
        .await?)
}

/// One version of an affiliation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AffiliationItem {
    pub actor_id: Uuid,
    pub affiliation_id: Uuid,
    pub related_actor: Uuid,
    /// The stored name (`member_of`).
    pub relation: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
}

/// The affiliations of the actors `actor_ids` (not retracted), now or as known at `as_of`,
/// by actor, then first day (open first), then id; one statement.
pub async fn affiliations_of(
    pool: &PgPool,
    schema: &str,
    actor_ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<AffiliationItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT v.actor_id, v.affiliation_id, v.related_actor, v.relation, v.valid_from, \
                v.valid_until, v.recorded_from AS recorded_at \
           FROM {schema}.affiliation_versions v \
          WHERE v.actor_id = ANY($2) AND {time} \
          ORDER BY v.actor_id, v.valid_from NULLS FIRST, v.affiliation_id",
        time = time_sql(as_of),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(actor_ids)
        .fetch_all(pool)
        .await?)
}

/// An actor's part in an incident.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InvolvementItem {
    pub incident_id: Uuid,
    /// The recorded time the involvement was asked at.
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    /// Stored names (`perpetrator`, `claimed`).
    pub role: String,
    pub attribution: String,
}

/// The actors of each incident `keys.0` as known at recorded time `keys.1` (give the recorded
/// time of the incident version shown to get that version's actors), by incident, role and
/// actor; one statement.
pub async fn involvements_at(
    pool: &PgPool,
    schema: &str,
    keys: &[(Uuid, DateTime<Utc>)],
) -> Result<Vec<InvolvementItem>, ProjectionError> {
    check_schema(schema)?;
    let incidents: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let times: Vec<DateTime<Utc>> = keys.iter().map(|k| k.1).collect();
    let sql = format!(
        "SELECT k.incident_id, k.at, v.actor_id, v.role, v.attribution \
           FROM unnest($1::uuid[], $2::timestamptz[]) AS k(incident_id, at) \
           JOIN {schema}.involvement_versions v \
             ON v.incident_id = k.incident_id AND v.recorded_from <= k.at \
            AND (v.recorded_to IS NULL OR v.recorded_to > k.at) \
          ORDER BY k.incident_id, k.at, v.role, v.actor_id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(&incidents)
        .bind(&times)
        .fetch_all(pool)
        .await?)
}

/// How many active incidents involve an actor (any role), and how many it claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentCounts {
    pub actor_id: Uuid,
    pub incidents: i64,
    pub claimed: i64,
}

/// The current incident counts of the actors `actor_ids` (the read model keeps them current
/// only: for counts as known at an earlier time see
/// [`crate::incident_queries::incident_counts_as_of`]); one statement. Actors without a row
/// are left out.
pub async fn incident_counts(
    pool: &PgPool,
    schema: &str,
    actor_ids: &[Uuid],
) -> Result<Vec<IncidentCounts>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT actor_id, incidents::int8 AS incidents, claimed::int8 AS claimed \
           FROM {schema}.actor_incident_counts WHERE actor_id = ANY($1)"
    );
    Ok(sqlx::query_as(&sql).bind(actor_ids).fetch_all(pool).await?)
}

// ---------------------------------------------------------------------------------------------
// Sites

/// A site as one version of `site_versions` shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SiteItem {
    pub site_id: Uuid,
    pub stream_version: i64,
    pub name: String,
    /// The stored name (`air_base`).
    pub kind: Option<String>,
    pub country: Option<String>,
    pub admin1: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The stored name (`exact`).
    pub precision: Option<String>,
    pub description: Option<String>,
    pub aliases: Vec<String>,
    pub operated_by: Vec<String>,
    pub retired: bool,
    pub recorded_at: DateTime<Utc>,
}

const SITE_COLUMNS: &str = "v.site_id, v.stream_version, v.name, v.kind, v.country, v.admin1, \
    v.latitude, v.longitude, v.precision, v.description, v.aliases, v.operated_by, v.retired, \
    v.recorded_from AS recorded_at";

/// Which sites to list. Fields left empty or `None` do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteFilter {
    /// Part of the name or of an alias, any case.
    pub search: Option<String>,
    /// ISO 3166 alpha-3 codes.
    pub countries: Vec<String>,
    /// Stored names of kinds (`air_base`).
    pub kinds: Vec<String>,
    /// Whether retired sites are listed (`None`: both).
    pub retired: Option<bool>,
    /// West, south, east, north in degrees: sites with coordinates inside.
    pub bounding_box: Option<[f64; 4]>,
}

/// A page of the sites `filter` selects in generation `schema`, by name (then id), after
/// `after`, at most `limit`, now or as known at `as_of`.
pub async fn site_list(
    pool: &PgPool,
    schema: &str,
    filter: &SiteFilter,
    limit: u32,
    after: Option<&NameCursor>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<SiteItem>, ProjectionError> {
    check_schema(schema)?;
    let mut conditions = vec![time_sql(as_of), "v.name IS NOT NULL"];
    if filter.search.is_some() {
        conditions
            .push("EXISTS (SELECT 1 FROM unnest(v.names) AS n(name) WHERE strpos(n.name, $2) > 0)");
    }
    if !filter.countries.is_empty() {
        conditions.push("v.country = ANY($3)");
    }
    if !filter.kinds.is_empty() {
        conditions.push("v.kind = ANY($4)");
    }
    if filter.retired.is_some() {
        conditions.push("v.retired = $5");
    }
    if filter.bounding_box.is_some() {
        conditions
            .push("v.longitude BETWEEN $6[1] AND $6[3] AND v.latitude BETWEEN $6[2] AND $6[4]");
    }
    if after.is_some() {
        conditions.push("(v.name, v.site_id) > ($7, $8)");
    }
    conditions.push(
        "(($2::text, $3::text[], $4::text[], $5::bool, $6::float8[], $7::text, $8::uuid) \
           IS NOT NULL OR true)",
    );
    let sql = format!(
        "SELECT {SITE_COLUMNS} FROM {schema}.site_versions v WHERE {} \
          ORDER BY v.name, v.site_id LIMIT $9",
        conditions.join(" AND ")
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(filter.search.as_deref().map(search_text))
        .bind(&filter.countries)
        .bind(&filter.kinds)
        .bind(filter.retired)
        .bind(filter.bounding_box.map(|b| b.to_vec()))
        .bind(after.map(|c| c.name.as_str()))
        .bind(after.map(|c| c.id))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
}

/// The sites `ids` in generation `schema`, now or as known at `as_of` (those not known then
/// are left out); one statement.
pub async fn sites_by_ids(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<SiteItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {SITE_COLUMNS} FROM {schema}.site_versions v \
          WHERE v.site_id = ANY($2) AND {time} AND v.name IS NOT NULL",
        time = time_sql(as_of),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(ids)
        .fetch_all(pool)
        .await?)
}

/// A search text as the read model keeps spellings: trimmed and lower-cased.
fn search_text(text: &str) -> String {
    text.trim().to_lowercase()
}
