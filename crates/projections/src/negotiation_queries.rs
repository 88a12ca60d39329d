//! The questions asked of the negotiations read model (see [`crate::negotiations`]): a filtered,
//! keyset-paginated list of processes, one process, and the parts of many processes at once
//! (sessions, working groups, positions, milestones, agreements), each now or as known at a
//! recorded time.
//!
//! The parts are read for a whole set of negotiations in one statement each (`= ANY($2)`), so
//! that an API listing N negotiations with their agreements runs the same number of statements
//! whatever N is. Every value a client gives travels as a bind parameter; the only text put
//! into the SQL is the generation's schema name, checked to be one.
//!
//! "Now" is `recorded_to IS NULL`; "as known at T" is
//! `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, on every table.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::negotiation::Participant;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ProjectionError;

/// The read model's name (the `projection` of its generations).
pub const PROJECTION: &str = "negotiations";

/// Which negotiations to list. Fields left empty or `None` do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NegotiationFilter {
    /// Stored status names (`active`, `suspended`, `concluded`, `collapsed`).
    pub statuses: Vec<String>,
    /// A party or mediator by name, compared as the domain compares names (without regard to
    /// case or spacing).
    pub party: Option<String>,
    /// A registered actor taking part as a party or mediator.
    pub actor: Option<Uuid>,
}

/// Where a page of the list starts: after this negotiation (newest opened first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiationCursor {
    pub opened_start: NaiveDate,
    pub negotiation_id: Uuid,
}

/// A negotiation as one version of it shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NegotiationItem {
    pub negotiation_id: Uuid,
    /// The stream version this row shows (the version a client gives as `expectedVersion`).
    pub stream_version: i64,
    /// `active`, `suspended`, `concluded` or `collapsed`.
    pub status: String,
    /// The reason given for the latest status change.
    pub status_reason: Option<String>,
    pub title: Option<String>,
    pub topic: Option<String>,
    pub opened_start: Option<NaiveDate>,
    pub opened_end: Option<NaiveDate>,
    /// The stored name of the opening date's precision (`day`).
    pub opened_precision: Option<String>,
    pub parties: Vec<Participant>,
    pub mediators: Vec<Participant>,
    pub actor_ids: Vec<Uuid>,
    pub session_count: i32,
    pub working_group_count: i32,
    pub position_count: i32,
    pub milestone_count: i32,
    /// Milestones still outstanding (pending or postponed).
    pub open_milestone_count: i32,
    /// The earliest due date of those.
    pub next_milestone_due: Option<NaiveDate>,
    pub agreement_count: i32,
    /// The end of the latest session held.
    pub last_session_date: Option<NaiveDate>,
    /// When the version shown was recorded.
    pub recorded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct NegotiationRow {
    negotiation_id: Uuid,
    stream_version: i64,
    status: String,
    status_reason: Option<String>,
    title: Option<String>,
    topic: Option<String>,
    opened_start: Option<NaiveDate>,
    opened_end: Option<NaiveDate>,
    opened_precision: Option<String>,
    parties: String,
    mediators: String,
    actor_ids: Vec<Uuid>,
    session_count: i32,
    working_group_count: i32,
    position_count: i32,
    milestone_count: i32,
    open_milestone_count: i32,
    next_milestone_due: Option<NaiveDate>,
    agreement_count: i32,
    last_session_date: Option<NaiveDate>,
    recorded_at: DateTime<Utc>,
}

impl NegotiationRow {
    fn into_item(self) -> Result<NegotiationItem, ProjectionError> {
        let id = self.negotiation_id;
        let people = |json: &str| -> Result<Vec<Participant>, ProjectionError> {
            serde_json::from_str(json).map_err(|source| ProjectionError::CorruptState {
                projection: PROJECTION,
                id,
                source,
            })
        };
        Ok(NegotiationItem {
            negotiation_id: id,
            stream_version: self.stream_version,
            status: self.status,
            status_reason: self.status_reason,
            title: self.title,
            topic: self.topic,
            opened_start: self.opened_start,
            opened_end: self.opened_end,
            opened_precision: self.opened_precision,
            parties: people(&self.parties)?,
            mediators: people(&self.mediators)?,
            actor_ids: self.actor_ids,
            session_count: self.session_count,
            working_group_count: self.working_group_count,
            position_count: self.position_count,
            milestone_count: self.milestone_count,
            open_milestone_count: self.open_milestone_count,
            next_milestone_due: self.next_milestone_due,
            agreement_count: self.agreement_count,
            last_session_date: self.last_session_date,
            recorded_at: self.recorded_at,
        })
    }
}

/// The columns of a [`NegotiationRow`]. Parties and mediators with their actor ids, and the
/// opening date's precision, are read from the stored state (the domain's `Negotiation`), which
/// the version's own columns keep only as names.
const NEGOTIATION_COLUMNS: &str = "v.negotiation_id, v.stream_version, v.status, \
    v.status_reason, v.title, v.topic, v.opened_start, v.opened_end, \
    v.state->'details'->'opened_on'->>'precision' AS opened_precision, \
    coalesce((v.state->'details'->'parties')::text, '[]') AS parties, \
    coalesce((v.state->'details'->'mediators')::text, '[]') AS mediators, \
    v.actor_ids, v.session_count, v.working_group_count, v.position_count, v.milestone_count, \
    v.open_milestone_count, v.next_milestone_due, v.agreement_count, v.last_session_date, \
    v.recorded_from AS recorded_at";

/// A session held.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionItem {
    pub negotiation_id: Uuid,
    pub session_id: Uuid,
    pub held_start: NaiveDate,
    pub held_end: NaiveDate,
    pub held_precision: String,
    /// `leaders`, `ministers`, `military`, `technical` or `working_group`.
    pub level: String,
    pub working_group_id: Option<Uuid>,
    pub venue_country: Option<String>,
    pub venue_admin1: Option<String>,
    pub venue_location: Option<String>,
    pub venue_site: Option<Uuid>,
    pub participants: Vec<String>,
    pub summary: Option<String>,
    pub outcome: Option<String>,
    /// The sources' names.
    pub sources: Vec<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A working group formed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WorkingGroupItem {
    pub negotiation_id: Uuid,
    pub group_id: Uuid,
    pub name: String,
    pub mandate: String,
    pub members: Vec<String>,
    pub member_actor_ids: Vec<Uuid>,
    pub formed_start: Option<NaiveDate>,
    pub formed_end: Option<NaiveDate>,
    pub recorded_at: DateTime<Utc>,
}

/// A position stated.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PositionItem {
    pub negotiation_id: Uuid,
    /// The version of the negotiation that recorded it (positions have no id of their own).
    pub stream_version: i64,
    /// The party or mediator as the negotiation registered it.
    pub party: String,
    pub party_actor_id: Option<Uuid>,
    pub statement: String,
    pub stated_start: NaiveDate,
    pub stated_end: NaiveDate,
    pub stated_precision: String,
    pub source_name: String,
    pub source_url: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A timeline milestone as one version of it shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MilestoneItem {
    pub negotiation_id: Uuid,
    pub milestone_id: Uuid,
    pub description: String,
    /// The due date now (moved by postponements).
    pub due_start: NaiveDate,
    pub due_end: NaiveDate,
    pub due_precision: String,
    /// The end of the due date first committed to.
    pub committed_due_end: NaiveDate,
    pub committed_on_start: NaiveDate,
    pub committed_on_end: NaiveDate,
    pub source_name: String,
    /// `pending`, `met`, `missed`, `postponed` or `cancelled`.
    pub status: String,
    pub status_reason: Option<String>,
    pub status_effective_start: Option<NaiveDate>,
    pub status_effective_end: Option<NaiveDate>,
    /// When this version (the commitment or the latest status change) was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// An agreement reached.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgreementItem {
    pub negotiation_id: Uuid,
    pub agreement_id: Uuid,
    pub name: String,
    /// `signed`, `initialled` or `unilateral`.
    pub status: String,
    pub agreement_type: String,
    pub stage: String,
    pub signed_start: NaiveDate,
    pub signed_end: NaiveDate,
    pub provisions: Vec<String>,
    /// The sources' names.
    pub sources: Vec<String>,
    pub recorded_at: DateTime<Utc>,
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

/// A name as the domain compares names: lower case, single spaces.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The WHERE conditions of the filter (bound as $2..$4), only those set.
fn filter_sql(f: &NegotiationFilter) -> String {
    let mut conditions = vec!["v.status <> 'not_opened'", "v.opened_start IS NOT NULL"];
    if !f.statuses.is_empty() {
        conditions.push("v.status = ANY($2::text[])");
    }
    if f.party.is_some() {
        conditions.push(
            "EXISTS (SELECT 1 FROM unnest(v.parties || v.mediators) AS p(name) \
                      WHERE lower(regexp_replace(btrim(p.name), '\\s+', ' ', 'g')) = $3::text)",
        );
    }
    if f.actor.is_some() {
        conditions.push("v.actor_ids @> ARRAY[$4::uuid]");
    }
    // Every parameter is named once with its type, used or not.
    conditions.push("(($2::text[], $3::text, $4::uuid) IS NOT NULL OR true)");
    conditions.join(" AND ")
}

/// Binds the as-of time and the filter as $1..$4.
macro_rules! bind_filter {
    ($query:expr, $as_of:expr, $f:expr) => {
        $query
            .bind($as_of)
            .bind(&$f.statuses)
            .bind($f.party.as_deref().map(name_key))
            .bind($f.actor)
    };
}

/// A page of the negotiations `filter` selects in generation `schema`, newest opened first
/// (by the day they opened, then id), after `after`, now or as known at `as_of`.
/// Keyset-paginated: the cost of a page does not grow with how deep it is.
pub async fn negotiation_list(
    pool: &PgPool,
    schema: &str,
    filter: &NegotiationFilter,
    first: u32,
    after: Option<NegotiationCursor>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<NegotiationItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {NEGOTIATION_COLUMNS} \
           FROM {schema}.negotiation_versions v \
          WHERE {time} AND {filter} AND {keyset} \
          ORDER BY v.opened_start DESC, v.negotiation_id DESC \
          LIMIT $7",
        time = time_sql(as_of, "v"),
        filter = filter_sql(filter),
        keyset = match after {
            Some(_) => "(v.opened_start, v.negotiation_id) < ($5::date, $6::uuid)",
            None => "(($5::date, $6::uuid) IS NULL OR true)",
        },
    );
    let rows: Vec<NegotiationRow> = bind_filter!(sqlx::query_as(&sql), as_of, filter)
        .bind(after.map(|c| c.opened_start))
        .bind(after.map(|c| c.negotiation_id))
        .bind(i64::from(first))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(NegotiationRow::into_item).collect()
}

/// How many negotiations `filter` selects in generation `schema`, now or as known at `as_of`.
pub async fn negotiation_count(
    pool: &PgPool,
    schema: &str,
    filter: &NegotiationFilter,
    as_of: Option<DateTime<Utc>>,
) -> Result<i64, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT count(*) FROM {schema}.negotiation_versions v WHERE {time} AND {filter}",
        time = time_sql(as_of, "v"),
        filter = filter_sql(filter),
    );
    Ok(bind_filter!(sqlx::query_scalar(&sql), as_of, filter)
        .fetch_one(pool)
        .await?)
}

/// Negotiation `id` in generation `schema`, whatever its status, now or as known at `as_of`;
/// `None` when it was not known (opened) then.
pub async fn negotiation_by_id(
    pool: &PgPool,
    schema: &str,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<NegotiationItem>, ProjectionError> {
    check_schema(schema)?;
    let sql = format!(
        "SELECT {NEGOTIATION_COLUMNS} FROM {schema}.negotiation_versions v \
          WHERE v.negotiation_id = $2 AND {time} AND v.status <> 'not_opened'",
        time = time_sql(as_of, "v"),
    );
    let row: Option<NegotiationRow> = sqlx::query_as(&sql)
        .bind(as_of)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(NegotiationRow::into_item).transpose()
}

/// The rows of `table` (alias `t`) that belong to `ids`, now or as known at `as_of`, in
/// `order`: one statement for any number of negotiations.
async fn parts<T>(
    pool: &PgPool,
    schema: &str,
    columns: &str,
    table: &str,
    order: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<T>, ProjectionError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    check_schema(schema)?;
    let sql = format!(
        "SELECT {columns}, t.recorded_from AS recorded_at FROM {schema}.{table} t \
          WHERE t.negotiation_id = ANY($2) AND {time} \
          ORDER BY t.negotiation_id, {order}",
        time = time_sql(as_of, "t"),
    );
    Ok(sqlx::query_as(&sql)
        .bind(as_of)
        .bind(ids)
        .fetch_all(pool)
        .await?)
}

/// The sessions of the negotiations `ids`, each negotiation's in the order they were held
/// (then recorded).
pub async fn sessions_of(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<SessionItem>, ProjectionError> {
    parts(
        pool,
        schema,
        "t.negotiation_id, t.session_id, t.held_start, t.held_end, t.held_precision, t.level, \
         t.working_group_id, t.venue_country, t.venue_admin1, t.venue_location, t.venue_site, \
         t.participants, t.summary, t.outcome, t.sources",
        "negotiation_sessions",
        "t.held_start, t.stream_version",
        ids,
        as_of,
    )
    .await
}

/// The working groups of the negotiations `ids`, in the order they were formed (recorded).
pub async fn working_groups_of(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<WorkingGroupItem>, ProjectionError> {
    parts(
        pool,
        schema,
        "t.negotiation_id, t.group_id, t.name, t.mandate, t.members, t.member_actor_ids, \
         t.formed_start, t.formed_end",
        "negotiation_working_groups",
        "t.stream_version",
        ids,
        as_of,
    )
    .await
}

/// Every position stated in the negotiations `ids`, in the order they were stated (by the
/// day, then as recorded).
pub async fn positions_of(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<PositionItem>, ProjectionError> {
    parts(
        pool,
        schema,
        "t.negotiation_id, t.stream_version, t.party, t.party_actor_id, t.statement, \
         t.stated_start, t.stated_end, t.stated_precision, t.source_name, t.source_url",
        "negotiation_positions",
        "t.stated_end, t.stream_version",
        ids,
        as_of,
    )
    .await
}

/// The latest position of each party among `positions` (one negotiation's): the one stated
/// on the latest day (the end of its span), then the one recorded later, as
/// `negotiations.sql` documents; in the order of the parties' names.
pub fn latest_positions(positions: &[PositionItem]) -> Vec<&PositionItem> {
    let mut latest: HashMap<(Uuid, &str), &PositionItem> = HashMap::new();
    for p in positions {
        let key = (p.negotiation_id, p.party.as_str());
        let newer = latest
            .get(&key)
            .is_none_or(|q| (p.stated_end, p.stream_version) > (q.stated_end, q.stream_version));
        if newer {
            latest.insert(key, p);
        }
    }
    let mut out: Vec<&PositionItem> = latest.into_values().collect();
    out.sort_by(|a, b| {
        (a.negotiation_id, &a.party, a.stream_version).cmp(&(
            b.negotiation_id,
            &b.party,
            b.stream_version,
        ))
    });
    out
}

/// The milestones of the negotiations `ids` as they stood, by due date.
pub async fn milestones_of(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<MilestoneItem>, ProjectionError> {
    parts(
        pool,
        schema,
        "t.negotiation_id, t.milestone_id, t.description, t.due_start, t.due_end, \
         t.due_precision, t.committed_due_end, t.committed_on_start, t.committed_on_end, \
         t.source_name, t.status, t.status_reason, t.status_effective_start, \
         t.status_effective_end",
        "negotiation_milestone_versions",
        "t.due_end, t.milestone_id",
        ids,
        as_of,
    )
    .await
}

/// The agreements of the negotiations `ids`, by the day they were signed.
pub async fn agreements_of(
    pool: &PgPool,
    schema: &str,
    ids: &[Uuid],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<AgreementItem>, ProjectionError> {
    parts(
        pool,
        schema,
        "t.negotiation_id, t.agreement_id, t.name, t.status, t.agreement_type, t.stage, \
         t.signed_start, t.signed_end, t.provisions, t.sources",
        "negotiation_agreements",
        "t.signed_start, t.agreement_id",
        ids,
        as_of,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(party: &str, stated: &str, version: i64) -> PositionItem {
        let day: NaiveDate = stated.parse().unwrap();
        PositionItem {
            negotiation_id: Uuid::from_u128(1),
            stream_version: version,
            party: party.into(),
            party_actor_id: None,
            statement: format!("{party} {version}"),
            stated_start: day,
            stated_end: day,
            stated_precision: "day".into(),
            source_name: "Reuters".into(),
            source_url: None,
            recorded_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_latest_position_of_a_party_is_the_latest_stated_then_the_latest_recorded() {
        let positions = [
            position("Iraq", "2024-01-25", 2),
            // Recorded later, but stated earlier.
            position("Iraq", "2024-01-20", 5),
            position("United States", "2024-01-26", 3),
            position("United States", "2024-01-26", 4),
        ];
        let latest: Vec<i64> = latest_positions(&positions)
            .iter()
            .map(|p| p.stream_version)
            .collect();
        assert_eq!(latest, vec![2, 4]);
    }

    #[test]
    fn names_are_compared_as_the_domain_compares_them() {
        assert_eq!(name_key("  United   States "), "united states");
    }

    #[test]
    fn only_generation_schemas_reach_the_sql() {
        assert!(check_schema("rm_negotiations_1").is_ok());
        assert!(check_schema("public; DROP TABLE events").is_err());
    }
}
