//! The negotiations read model: each process of talks with its status, parties, sessions in
//! order, working groups, positions per party, milestones with their due dates and status, and
//! agreements, now and as known at any recorded time.
//!
//! - `negotiation_versions` holds one row per negotiation event: the negotiation as it stood
//!   after that event, from the event's recorded time (`recorded_from`) until the next event of
//!   the same negotiation was recorded (`recorded_to`, NULL for the current row): status,
//!   title, parties, counts, the next outstanding deadline, the latest session's date, and
//!   `state`, the whole aggregate, which the next page folds further events into without
//!   reading the stream again.
//! - `negotiation_sessions`, `negotiation_working_groups`, `negotiation_positions` and
//!   `negotiation_agreements` hold one row per session, group, stated position and agreement,
//!   so that lists (sessions in order, the latest position of each party, agreements across
//!   processes) are index scans rather than unpacking `state`. No event amends them today, so
//!   their `recorded_to` stays NULL; they carry it so that one predicate works on every table.
//! - `negotiation_milestone_versions` holds one row per version of each milestone: committed
//!   (pending), then each status change, which ends the previous row.
//!
//! "Now" is `recorded_to IS NULL`; "as known at T" is
//! `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, on every table.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use sitrep_domain::model::negotiation::{
    Agreement, Milestone, MilestoneStatus, Negotiation, NegotiationEvent, Participant, Position,
    Session, WorkingGroup,
};
use sitrep_domain::model::values::EventTime;
use sitrep_domain::model::Aggregate;
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::projection::{ChecksumTable, Projection};
use crate::rows::{
    array_literal, close_rows, decode_event, load_states, name, state_json, stream_ids, Versions,
};

/// The negotiations read model.
pub struct NegotiationsProjection;

const NAME: &str = "negotiations";

const DDL: &str = include_str!("negotiations.sql");

const TABLES: &[ChecksumTable] = &[
    ChecksumTable {
        name: "negotiation_versions",
        order_by: "negotiation_id, stream_version",
    },
    ChecksumTable {
        name: "negotiation_sessions",
        order_by: "negotiation_id, session_id, stream_version",
    },
    ChecksumTable {
        name: "negotiation_working_groups",
        order_by: "negotiation_id, group_id, stream_version",
    },
    ChecksumTable {
        name: "negotiation_positions",
        order_by: "negotiation_id, stream_version",
    },
    ChecksumTable {
        name: "negotiation_milestone_versions",
        order_by: "negotiation_id, milestone_id, stream_version",
    },
    ChecksumTable {
        name: "negotiation_agreements",
        order_by: "negotiation_id, agreement_id, stream_version",
    },
];

impl Projection for NegotiationsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static str {
        DDL
    }

    fn tables(&self) -> &'static [ChecksumTable] {
        TABLES
    }

    fn stream_types(&self) -> &'static [&'static str] {
        &[Negotiation::STREAM_TYPE]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }
}

/// Everything a page writes.
struct Page {
    versions: Versions<Uuid, VersionRow>,
    sessions: Versions<(Uuid, Uuid), SessionRow>,
    groups: Versions<(Uuid, Uuid), GroupRow>,
    positions: Versions<(Uuid, i64), PositionRow>,
    milestones: Versions<(Uuid, Uuid), MilestoneRow>,
    agreements: Versions<(Uuid, Uuid), AgreementRow>,
}

async fn apply(conn: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let negotiation_events: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream.stream_type == Negotiation::STREAM_TYPE)
        .collect();
    if negotiation_events.is_empty() {
        return Ok(());
    }
    let mut states = load_current(conn, &negotiation_events).await?;
    let mut page = Page {
        versions: Versions::new(),
        sessions: Versions::new(),
        groups: Versions::new(),
        positions: Versions::new(),
        milestones: Versions::new(),
        agreements: Versions::new(),
    };
    for stored in negotiation_events {
        let event: NegotiationEvent = decode_event(stored)?;
        let id = stored.stream.stream_id;
        let state = states.entry(id).or_default();
        state.apply(&event);
        let at = stored.recorded_at;
        page.versions
            .replace(id, at, VersionRow::new(stored, state)?);
        let origin = Origin::of(stored);
        match &event {
            NegotiationEvent::SessionRecorded { session_id, .. } => {
                if let Some(s) = state
                    .sessions()
                    .iter()
                    .find(|s| s.session_id == *session_id)
                {
                    let row = SessionRow::new(origin, s);
                    page.sessions.add((id, *session_id), row);
                }
            }
            NegotiationEvent::WorkingGroupFormed { group_id, .. } => {
                if let Some(g) = state
                    .working_groups()
                    .iter()
                    .find(|g| g.group_id == *group_id)
                {
                    page.groups.add((id, *group_id), GroupRow::new(origin, g));
                }
            }
            NegotiationEvent::PositionStated { .. } => {
                if let Some(p) = state.positions().last() {
                    let key = (id, origin.stream_version);
                    page.positions.add(key, PositionRow::new(origin, p));
                }
            }
            NegotiationEvent::TimelineCommitted { milestone_id, .. } => {
                if let Some(m) = state.milestone(*milestone_id) {
                    let row = MilestoneRow::new(origin, m, None);
                    page.milestones.add((id, *milestone_id), row);
                }
            }
            NegotiationEvent::MilestoneStatusChanged {
                milestone_id,
                effective_on,
                ..
            } => {
                if let Some(m) = state.milestone(*milestone_id) {
                    let row = MilestoneRow::new(origin, m, effective_on.as_ref());
                    page.milestones.replace((id, *milestone_id), at, row);
                }
            }
            NegotiationEvent::AgreementRecorded { agreement_id, .. } => {
                if let Some(a) = state
                    .agreements()
                    .iter()
                    .find(|a| a.agreement_id == *agreement_id)
                {
                    let row = AgreementRow::new(origin, a);
                    page.agreements.add((id, *agreement_id), row);
                }
            }
            NegotiationEvent::NegotiationOpened { .. }
            | NegotiationEvent::NegotiationStatusChanged { .. } => {}
        }
    }
    close_versions(conn, &page.versions.closed).await?;
    close_milestones(conn, &page.milestones.closed).await?;
    insert(conn, &page).await
}

/// The current state of each Negotiation stream the page touches that has rows already.
async fn load_current(
    conn: &mut PgConnection,
    events: &[&StoredEvent],
) -> Result<HashMap<Uuid, Negotiation>, ProjectionError> {
    const SQL: &str = "SELECT negotiation_id, state::text FROM negotiation_versions \
                        WHERE negotiation_id = ANY($1) AND recorded_to IS NULL";
    load_states(conn, NAME, SQL, &stream_ids(events)).await
}

/// Ends stored versions at the recorded time of the event that followed them.
async fn close_versions(
    conn: &mut PgConnection,
    closed: &[(Uuid, DateTime<Utc>)],
) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE negotiation_versions v SET recorded_to = c.until \
                         FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, until) \
                        WHERE v.negotiation_id = c.id AND v.recorded_to IS NULL";
    close_rows(conn, SQL, closed).await
}

/// Ends stored milestone versions at the recorded time of the status change that followed.
async fn close_milestones(
    conn: &mut PgConnection,
    closed: &[((Uuid, Uuid), DateTime<Utc>)],
) -> Result<(), ProjectionError> {
    if closed.is_empty() {
        return Ok(());
    }
    let negotiations: Vec<Uuid> = closed.iter().map(|c| c.0 .0).collect();
    let milestones: Vec<Uuid> = closed.iter().map(|c| c.0 .1).collect();
    let until: Vec<DateTime<Utc>> = closed.iter().map(|c| c.1).collect();
    sqlx::query(
        "UPDATE negotiation_milestone_versions m SET recorded_to = c.until \
           FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS c(negotiation, milestone, until) \
          WHERE m.negotiation_id = c.negotiation AND m.milestone_id = c.milestone \
            AND m.recorded_to IS NULL",
    )
    .bind(&negotiations)
    .bind(&milestones)
    .bind(&until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a row comes from in the log.
#[derive(Clone, Copy)]
struct Origin {
    negotiation_id: Uuid,
    stream_version: i64,
    position: i64,
    recorded_from: DateTime<Utc>,
}

impl Origin {
    fn of(stored: &StoredEvent) -> Self {
        Self {
            negotiation_id: stored.stream.stream_id,
            stream_version: i64::try_from(stored.stream_version).unwrap_or(i64::MAX),
            position: stored.position,
            recorded_from: stored.recorded_at,
        }
    }
}

/// One version of a negotiation, as a row of `negotiation_versions`.
struct VersionRow {
    origin: Origin,
    event_type: String,
    status: String,
    status_reason: Option<String>,
    title: Option<String>,
    topic: Option<String>,
    opened_on: Option<EventTime>,
    parties: String,
    mediators: String,
    actor_ids: String,
    session_count: i32,
    working_group_count: i32,
    position_count: i32,
    milestone_count: i32,
    open_milestone_count: i32,
    next_milestone_due: Option<NaiveDate>,
    agreement_count: i32,
    last_session_date: Option<NaiveDate>,
    state: String,
}

impl VersionRow {
    fn new(stored: &StoredEvent, negotiation: &Negotiation) -> Result<Self, ProjectionError> {
        let id = stored.stream.stream_id;
        let details = negotiation.details();
        let names = |people: Option<&Vec<Participant>>| {
            array_literal(people.map_or(Vec::new(), |p| p.iter().map(|p| p.name.clone()).collect()))
        };
        let mut actor_ids: Vec<Uuid> = details
            .map(|d| {
                d.parties
                    .iter()
                    .chain(&d.mediators)
                    .filter_map(|p| p.actor)
                    .collect()
            })
            .unwrap_or_default();
        actor_ids.sort_unstable();
        actor_ids.dedup();
        let open: Vec<&Milestone> = negotiation
            .milestones()
            .iter()
            .filter(|m| {
                matches!(
                    m.status,
                    MilestoneStatus::Pending | MilestoneStatus::Postponed
                )
            })
            .collect();
        Ok(Self {
            origin: Origin::of(stored),
            event_type: stored.event_type.clone(),
            status: negotiation
                .status()
                .map_or("not_opened", |s| s.as_str())
                .to_owned(),
            status_reason: details.and_then(|d| d.status_reason.clone()),
            title: details.map(|d| d.title.clone()),
            topic: details.map(|d| d.topic.clone()),
            opened_on: details.map(|d| d.opened_on.clone()),
            parties: names(details.map(|d| &d.parties)),
            mediators: names(details.map(|d| &d.mediators)),
            actor_ids: array_literal(actor_ids.iter().map(Uuid::to_string).collect()),
            session_count: count(negotiation.sessions().len()),
            working_group_count: count(negotiation.working_groups().len()),
            position_count: count(negotiation.positions().len()),
            milestone_count: count(negotiation.milestones().len()),
            open_milestone_count: count(open.len()),
            next_milestone_due: open.iter().map(|m| m.due.end).min(),
            agreement_count: count(negotiation.agreements().len()),
            last_session_date: negotiation.sessions().iter().map(|s| s.held.end).max(),
            state: state_json(NAME, id, negotiation)?,
        })
    }
}

/// A session, as a row of `negotiation_sessions`.
struct SessionRow {
    origin: Origin,
    session_id: Uuid,
    held: EventTime,
    level: String,
    working_group_id: Option<Uuid>,
    venue_country: Option<String>,
    venue_admin1: Option<String>,
    venue_location: Option<String>,
    venue_site: Option<Uuid>,
    participants: String,
    summary: Option<String>,
    outcome: Option<String>,
    sources: String,
}

impl SessionRow {
    fn new(origin: Origin, s: &Session) -> Self {
        let venue = s.venue.as_ref();
        Self {
            origin,
            session_id: s.session_id,
            held: s.held.clone(),
            level: name(&s.level),
            working_group_id: s.working_group,
            venue_country: venue.map(|v| v.country.as_str().to_owned()),
            venue_admin1: venue.and_then(|v| v.admin1.clone()),
            venue_location: venue.and_then(|v| v.location.clone()),
            venue_site: venue.and_then(|v| v.site),
            participants: array_literal(s.participants.iter().map(|p| p.name.clone()).collect()),
            summary: s.summary.clone(),
            outcome: s.outcome.clone(),
            sources: array_literal(s.sources.iter().map(|s| s.name.clone()).collect()),
        }
    }
}

/// A working group, as a row of `negotiation_working_groups`.
struct GroupRow {
    origin: Origin,
    group_id: Uuid,
    name: String,
    mandate: String,
    members: String,
    member_actor_ids: String,
    formed_on: Option<EventTime>,
}

impl GroupRow {
    fn new(origin: Origin, g: &WorkingGroup) -> Self {
        Self {
            origin,
            group_id: g.group_id,
            name: g.name.clone(),
            mandate: g.mandate.clone(),
            members: array_literal(g.members.iter().map(|m| m.name.clone()).collect()),
            member_actor_ids: array_literal(
                g.members
                    .iter()
                    .filter_map(|m| m.actor.map(|a| a.to_string()))
                    .collect(),
            ),
            formed_on: g.formed_on.clone(),
        }
    }
}

/// A stated position, as a row of `negotiation_positions`.
struct PositionRow {
    origin: Origin,
    party: String,
    party_actor_id: Option<Uuid>,
    statement: String,
    stated_on: EventTime,
    source_name: String,
    source_url: Option<String>,
}

impl PositionRow {
    fn new(origin: Origin, p: &Position) -> Self {
        Self {
            origin,
            party: p.party.name.clone(),
            party_actor_id: p.party.actor,
            statement: p.position.clone(),
            stated_on: p.stated_on.clone(),
            source_name: p.source.name.clone(),
            source_url: p.source.url.clone(),
        }
    }
}

/// One version of a milestone, as a row of `negotiation_milestone_versions`.
struct MilestoneRow {
    origin: Origin,
    milestone_id: Uuid,
    description: String,
    due: EventTime,
    committed_due_end: NaiveDate,
    committed_on: EventTime,
    source_name: String,
    status: String,
    status_reason: Option<String>,
    status_effective: Option<EventTime>,
}

impl MilestoneRow {
    /// The milestone as it stands, with when its latest status change took effect (given by
    /// that change's event: the aggregate does not keep it).
    fn new(origin: Origin, m: &Milestone, effective_on: Option<&EventTime>) -> Self {
        Self {
            origin,
            milestone_id: m.milestone_id,
            description: m.description.clone(),
            due: m.due.clone(),
            committed_due_end: m.committed_due.end,
            committed_on: m.committed_on.clone(),
            source_name: m.source.name.clone(),
            status: m.status.as_str().to_owned(),
            status_reason: m.status_reason.clone(),
            status_effective: effective_on.cloned(),
        }
    }
}

/// An agreement, as a row of `negotiation_agreements`.
struct AgreementRow {
    origin: Origin,
    agreement_id: Uuid,
    name: String,
    status: String,
    agreement_type: String,
    stage: String,
    signed_on: EventTime,
    provisions: String,
    sources: String,
}

impl AgreementRow {
    fn new(origin: Origin, a: &Agreement) -> Self {
        Self {
            origin,
            agreement_id: a.agreement_id,
            name: a.name.clone(),
            status: name(&a.status),
            agreement_type: name(&a.agreement_type),
            stage: name(&a.stage),
            signed_on: a.signed_on.clone(),
            provisions: array_literal(a.provisions.clone()),
            sources: array_literal(a.sources.iter().map(|s| s.name.clone()).collect()),
        }
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Inserts the page's new rows into every table in one statement.
async fn insert(conn: &mut PgConnection, page: &Page) -> Result<(), ProjectionError> {
    macro_rules! column {
        ($table:expr, |$r:ident| $value:expr) => {
            $table.rows.iter().map(|$r| $value).collect::<Vec<_>>()
        };
    }
    // The columns every table starts with.
    macro_rules! origin {
        ($query:expr, $table:expr) => {
            $query
                .bind(column!($table, |r| r.origin.negotiation_id))
                .bind(column!($table, |r| r.origin.stream_version))
                .bind(column!($table, |r| r.origin.position))
                .bind(column!($table, |r| r.origin.recorded_from))
                .bind(&$table.ends)
        };
    }
    let (v, s, g, p, m, a) = (
        &page.versions,
        &page.sessions,
        &page.groups,
        &page.positions,
        &page.milestones,
        &page.agreements,
    );
    let query = sqlx::query(include_str!("negotiations_insert.sql"));
    let query = origin!(query, v)
        .bind(column!(v, |r| r.event_type.clone()))
        .bind(column!(v, |r| r.status.clone()))
        .bind(column!(v, |r| r.status_reason.clone()))
        .bind(column!(v, |r| r.title.clone()))
        .bind(column!(v, |r| r.topic.clone()))
        .bind(column!(v, |r| r.opened_on.as_ref().map(|t| t.start)))
        .bind(column!(v, |r| r.opened_on.as_ref().map(|t| t.end)))
        .bind(column!(v, |r| r.parties.clone()))
        .bind(column!(v, |r| r.mediators.clone()))
        .bind(column!(v, |r| r.actor_ids.clone()))
        .bind(column!(v, |r| r.session_count))
        .bind(column!(v, |r| r.working_group_count))
        .bind(column!(v, |r| r.position_count))
        .bind(column!(v, |r| r.milestone_count))
        .bind(column!(v, |r| r.open_milestone_count))
        .bind(column!(v, |r| r.next_milestone_due))
        .bind(column!(v, |r| r.agreement_count))
        .bind(column!(v, |r| r.last_session_date))
        .bind(column!(v, |r| r.state.clone()));
    // Sessions: the origin's first column, then the session's id, then the rest of the origin.
    let query = query
        .bind(column!(s, |r| r.origin.negotiation_id))
        .bind(column!(s, |r| r.session_id))
        .bind(column!(s, |r| r.origin.stream_version))
        .bind(column!(s, |r| r.origin.position))
        .bind(column!(s, |r| r.origin.recorded_from))
        .bind(&s.ends)
        .bind(column!(s, |r| r.held.start))
        .bind(column!(s, |r| r.held.end))
        .bind(column!(s, |r| r.held.precision.as_str()))
        .bind(column!(s, |r| r.level.clone()))
        .bind(column!(s, |r| r.working_group_id))
        .bind(column!(s, |r| r.venue_country.clone()))
        .bind(column!(s, |r| r.venue_admin1.clone()))
        .bind(column!(s, |r| r.venue_location.clone()))
        .bind(column!(s, |r| r.venue_site))
        .bind(column!(s, |r| r.participants.clone()))
        .bind(column!(s, |r| r.summary.clone()))
        .bind(column!(s, |r| r.outcome.clone()))
        .bind(column!(s, |r| r.sources.clone()));
    let query = query
        .bind(column!(g, |r| r.origin.negotiation_id))
        .bind(column!(g, |r| r.group_id))
        .bind(column!(g, |r| r.origin.stream_version))
        .bind(column!(g, |r| r.origin.position))
        .bind(column!(g, |r| r.origin.recorded_from))
        .bind(&g.ends)
        .bind(column!(g, |r| r.name.clone()))
        .bind(column!(g, |r| r.mandate.clone()))
        .bind(column!(g, |r| r.members.clone()))
        .bind(column!(g, |r| r.member_actor_ids.clone()))
        .bind(column!(g, |r| r.formed_on.as_ref().map(|t| t.start)))
        .bind(column!(g, |r| r.formed_on.as_ref().map(|t| t.end)));
    let query = origin!(query, p)
        .bind(column!(p, |r| r.party.clone()))
        .bind(column!(p, |r| r.party_actor_id))
        .bind(column!(p, |r| r.statement.clone()))
        .bind(column!(p, |r| r.stated_on.start))
        .bind(column!(p, |r| r.stated_on.end))
        .bind(column!(p, |r| r.stated_on.precision.as_str()))
        .bind(column!(p, |r| r.source_name.clone()))
        .bind(column!(p, |r| r.source_url.clone()));
    let query = query
        .bind(column!(m, |r| r.origin.negotiation_id))
        .bind(column!(m, |r| r.milestone_id))
        .bind(column!(m, |r| r.origin.stream_version))
        .bind(column!(m, |r| r.origin.position))
        .bind(column!(m, |r| r.origin.recorded_from))
        .bind(&m.ends)
        .bind(column!(m, |r| r.description.clone()))
        .bind(column!(m, |r| r.due.start))
        .bind(column!(m, |r| r.due.end))
        .bind(column!(m, |r| r.due.precision.as_str()))
        .bind(column!(m, |r| r.committed_due_end))
        .bind(column!(m, |r| r.committed_on.start))
        .bind(column!(m, |r| r.committed_on.end))
        .bind(column!(m, |r| r.source_name.clone()))
        .bind(column!(m, |r| r.status.clone()))
        .bind(column!(m, |r| r.status_reason.clone()))
        .bind(column!(m, |r| r.status_effective.as_ref().map(|t| t.start)))
        .bind(column!(m, |r| r.status_effective.as_ref().map(|t| t.end)));
    let query = query
        .bind(column!(a, |r| r.origin.negotiation_id))
        .bind(column!(a, |r| r.agreement_id))
        .bind(column!(a, |r| r.origin.stream_version))
        .bind(column!(a, |r| r.origin.position))
        .bind(column!(a, |r| r.origin.recorded_from))
        .bind(&a.ends)
        .bind(column!(a, |r| r.name.clone()))
        .bind(column!(a, |r| r.status.clone()))
        .bind(column!(a, |r| r.agreement_type.clone()))
        .bind(column!(a, |r| r.stage.clone()))
        .bind(column!(a, |r| r.signed_on.start))
        .bind(column!(a, |r| r.signed_on.end))
        .bind(column!(a, |r| r.provisions.clone()))
        .bind(column!(a, |r| r.sources.clone()));
    query.execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn array_literals_quote_every_element() {
        assert_eq!(array_literal(vec![]), "{}");
        assert_eq!(
            array_literal(vec!["a,b".into(), "say \"x\"".into(), r"back\slash".into()]),
            r#"{"a,b","say \"x\"","back\\slash"}"#
        );
    }
}
