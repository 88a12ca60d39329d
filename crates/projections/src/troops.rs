//! The troop-levels read model: each troop deployment's current level with the competing
//! estimates beside it, and its full history as a time series, both by recorded time.
//!
//! - `troop_deployment_versions` holds one row per deployment event: the deployment as it stood
//!   after that event, from the event's recorded time (`recorded_from`) until the next event of
//!   the same deployment was recorded (`recorded_to`, NULL for the current row). Its columns
//!   carry the identity (deploying country, host country, mission), the current level chosen by
//!   the domain's own rule ([`TroopDeployment::current_level`]: latest `as_of`, then source
//!   priority, then recorded later), the competing estimates
//!   ([`TroopDeployment::competing_estimates`], as jsonb), counts, and `state`, the whole
//!   aggregate, which the next page folds further events into without reading the stream again.
//! - `troop_level_points` is the series for a step chart: one row per version of each estimate
//!   (`estimate`), of each announced change (`planned`) and of each completion (`completed`),
//!   dated, with low/best/high and the source type. A retraction, completion or cancellation
//!   ends the point's row and starts its next version, so a chart "as known at T" is the rows
//!   valid at T.
//!
//! "Now" is `recorded_to IS NULL`; "as known at T" is
//! `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, on either table.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use sitrep_domain::model::troops::{
    TroopChange, TroopChangeStatus, TroopDeployment, TroopEstimate, TroopEvent,
};
use sitrep_domain::model::values::{EventTime, Source, UncertainCount};
use sitrep_domain::model::Aggregate;
use sitrep_domain::store::StoredEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::projection::{ChecksumTable, Projection};
use crate::rows::{close_rows, decode_event, load_states, name, state_json, stream_ids, Versions};

/// The troop-levels read model.
pub struct TroopsProjection;

const NAME: &str = "troops";

const DDL: &str = include_str!("troops.sql");

const TABLES: &[ChecksumTable] = &[
    ChecksumTable {
        name: "troop_deployment_versions",
        order_by: "deployment_id, stream_version",
    },
    ChecksumTable {
        name: "troop_level_points",
        order_by: "deployment_id, point_id, kind, stream_version",
    },
];

impl Projection for TroopsProjection {
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
        &[TroopDeployment::STREAM_TYPE]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [StoredEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }
}

/// The series a point belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PointKind {
    Estimate,
    Planned,
    Completed,
}

impl PointKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Estimate => "estimate",
            Self::Planned => "planned",
            Self::Completed => "completed",
        }
    }
}

type PointKey = (Uuid, Uuid, PointKind);

async fn apply(conn: &mut PgConnection, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let troop_events: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream.stream_type == TroopDeployment::STREAM_TYPE)
        .collect();
    if troop_events.is_empty() {
        return Ok(());
    }
    let mut states = load_current(conn, &troop_events).await?;
    let mut versions: Versions<Uuid, VersionRow> = Versions::new();
    let mut points: Versions<PointKey, PointRow> = Versions::new();
    for stored in troop_events {
        let event: TroopEvent = decode_event(stored)?;
        let id = stored.stream.stream_id;
        let state = states.entry(id).or_default();
        state.apply(&event);
        versions.replace(id, stored.recorded_at, VersionRow::new(stored, state)?);

        let at = stored.recorded_at;
        match &event {
            TroopEvent::DeploymentEstablished { .. } => {}
            TroopEvent::TroopLevelReported { estimate_id, .. } => {
                if let Some(estimate) = state.estimate(*estimate_id) {
                    let row = PointRow::estimate(stored, state, estimate);
                    points.add((id, *estimate_id, PointKind::Estimate), row);
                }
            }
            TroopEvent::EstimateRetracted { estimate_id, .. } => {
                if let Some(estimate) = state.estimate(*estimate_id) {
                    let row = PointRow::estimate(stored, state, estimate);
                    points.replace((id, *estimate_id, PointKind::Estimate), at, row);
                }
            }
            TroopEvent::TroopChangeAnnounced { change_id, .. } => {
                if let Some(change) = state.change(*change_id) {
                    let row = PointRow::planned(stored, state, change);
                    points.add((id, *change_id, PointKind::Planned), row);
                }
            }
            TroopEvent::TroopChangeCompleted {
                change_id,
                completed,
                source,
                source_type,
                ..
            } => {
                if let Some(change) = state.change(*change_id) {
                    let row = PointRow::planned(stored, state, change);
                    points.replace((id, *change_id, PointKind::Planned), at, row);
                    let row = PointRow::completed(
                        stored,
                        state,
                        change,
                        completed,
                        source,
                        name(source_type),
                    );
                    points.add((id, *change_id, PointKind::Completed), row);
                }
            }
            TroopEvent::TroopChangeCancelled { change_id, .. } => {
                if let Some(change) = state.change(*change_id) {
                    let row = PointRow::planned(stored, state, change);
                    points.replace((id, *change_id, PointKind::Planned), at, row);
                }
            }
        }
    }
    close_versions(conn, &versions.closed).await?;
    close_points(conn, &points.closed).await?;
    insert(conn, &versions, &points).await
}

/// The current state of each TroopDeployment stream the page touches that has rows already.
async fn load_current(
    conn: &mut PgConnection,
    events: &[&StoredEvent],
) -> Result<HashMap<Uuid, TroopDeployment>, ProjectionError> {
    const SQL: &str = "SELECT deployment_id, state::text FROM troop_deployment_versions \
                        WHERE deployment_id = ANY($1) AND recorded_to IS NULL";
    load_states(conn, NAME, SQL, &stream_ids(events)).await
}

/// Ends stored versions at the recorded time of the event that followed them.
async fn close_versions(
    conn: &mut PgConnection,
    closed: &[(Uuid, DateTime<Utc>)],
) -> Result<(), ProjectionError> {
    const SQL: &str = "UPDATE troop_deployment_versions v SET recorded_to = c.until \
                         FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, until) \
                        WHERE v.deployment_id = c.id AND v.recorded_to IS NULL";
    close_rows(conn, SQL, closed).await
}

/// Ends stored points at the recorded time of the event that changed them.
async fn close_points(
    conn: &mut PgConnection,
    closed: &[(PointKey, DateTime<Utc>)],
) -> Result<(), ProjectionError> {
    if closed.is_empty() {
        return Ok(());
    }
    let deployments: Vec<Uuid> = closed.iter().map(|c| c.0 .0).collect();
    let points: Vec<Uuid> = closed.iter().map(|c| c.0 .1).collect();
    let kinds: Vec<&str> = closed.iter().map(|c| c.0 .2.as_str()).collect();
    let until: Vec<DateTime<Utc>> = closed.iter().map(|c| c.1).collect();
    sqlx::query(
        "UPDATE troop_level_points p SET recorded_to = c.until \
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) \
                AS c(deployment, point, kind, until) \
          WHERE p.deployment_id = c.deployment AND p.point_id = c.point AND p.kind = c.kind \
            AND p.recorded_to IS NULL",
    )
    .bind(&deployments)
    .bind(&points)
    .bind(&kinds)
    .bind(&until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a row comes from in the log.
struct Origin {
    stream_version: i64,
    position: i64,
    recorded_from: DateTime<Utc>,
}

impl Origin {
    fn of(stored: &StoredEvent) -> Self {
        Self {
            stream_version: i64::try_from(stored.stream_version).unwrap_or(i64::MAX),
            position: stored.position,
            recorded_from: stored.recorded_at,
        }
    }
}

/// One version of a deployment, as a row of `troop_deployment_versions`.
struct VersionRow {
    deployment_id: Uuid,
    origin: Origin,
    event_type: String,
    deploying: Option<String>,
    host: Option<String>,
    mission: Option<String>,
    current: Option<CurrentLevel>,
    competing_count: i32,
    competing: String,
    estimate_count: i32,
    retracted_count: i32,
    pending_change_count: i32,
    next_change_by: Option<NaiveDate>,
    state: String,
}

/// The columns of the current level.
struct CurrentLevel {
    estimate_id: Uuid,
    count: [i64; 3],
    words: Option<String>,
    qualifier: String,
    scope: String,
    as_of: EventTime,
    source: String,
    source_type: String,
}

impl VersionRow {
    fn new(stored: &StoredEvent, deployment: &TroopDeployment) -> Result<Self, ProjectionError> {
        let id = stored.stream.stream_id;
        let identity = deployment.identity();
        let competing = deployment.competing_estimates();
        let pending: Vec<&TroopChange> = deployment
            .changes()
            .iter()
            .filter(|c| c.status == TroopChangeStatus::Announced)
            .collect();
        Ok(Self {
            deployment_id: id,
            origin: Origin::of(stored),
            event_type: stored.event_type.clone(),
            deploying: identity.map(|i| i.deploying.as_str().to_owned()),
            host: identity.map(|i| i.host.as_str().to_owned()),
            mission: identity.map(|i| i.mission.clone()),
            current: deployment.current_level().map(|e| CurrentLevel {
                estimate_id: e.estimate_id,
                count: figures(&e.count),
                words: e.count.words.clone(),
                qualifier: name(&e.qualifier),
                scope: name(&e.scope),
                as_of: e.as_of.clone(),
                source: e.source.name.clone(),
                source_type: name(&e.source_type),
            }),
            competing_count: count(competing.len()),
            competing: state_json(NAME, id, &competing)?,
            estimate_count: count(deployment.estimates().len()),
            retracted_count: count(
                deployment
                    .estimates()
                    .iter()
                    .filter(|e| !e.is_live())
                    .count(),
            ),
            pending_change_count: count(pending.len()),
            next_change_by: pending.iter().map(|c| c.by.end).min(),
            state: state_json(NAME, id, deployment)?,
        })
    }
}

/// One version of a point of the series, as a row of `troop_level_points`.
struct PointRow {
    deployment_id: Uuid,
    point_id: Uuid,
    kind: PointKind,
    origin: Origin,
    deploying: Option<String>,
    host: Option<String>,
    time: EventTime,
    count: [i64; 3],
    words: Option<String>,
    qualifier: Option<String>,
    scope: Option<String>,
    source_name: String,
    source_type: String,
    retracted: bool,
    reason: Option<String>,
    change_kind: Option<String>,
    change_status: Option<String>,
    milestone_negotiation: Option<Uuid>,
    milestone_id: Option<Uuid>,
}

/// What a point shows: its date, its figures and who gave them.
struct Figure<'a> {
    time: &'a EventTime,
    count: &'a UncertainCount,
    source: &'a Source,
    source_type: String,
}

impl PointRow {
    /// A point of no particular kind yet: whose it is, where it comes from, what it shows.
    fn base(
        stored: &StoredEvent,
        deployment: &TroopDeployment,
        point: (Uuid, PointKind),
        figure: Figure<'_>,
    ) -> Self {
        let identity = deployment.identity();
        Self {
            deployment_id: stored.stream.stream_id,
            point_id: point.0,
            kind: point.1,
            origin: Origin::of(stored),
            deploying: identity.map(|i| i.deploying.as_str().to_owned()),
            host: identity.map(|i| i.host.as_str().to_owned()),
            time: figure.time.clone(),
            count: figures(figure.count),
            words: figure.count.words.clone(),
            qualifier: None,
            scope: None,
            source_name: figure.source.name.clone(),
            source_type: figure.source_type,
            retracted: false,
            reason: None,
            change_kind: None,
            change_status: None,
            milestone_negotiation: None,
            milestone_id: None,
        }
    }

    /// An estimate as it stands (retracted or not), dated `as_of.end`.
    fn estimate(stored: &StoredEvent, deployment: &TroopDeployment, e: &TroopEstimate) -> Self {
        let figure = Figure {
            time: &e.as_of,
            count: &e.count,
            source: &e.source,
            source_type: name(&e.source_type),
        };
        Self {
            qualifier: Some(name(&e.qualifier)),
            scope: Some(name(&e.scope)),
            retracted: !e.is_live(),
            reason: e.retraction.clone(),
            ..Self::base(
                stored,
                deployment,
                (e.estimate_id, PointKind::Estimate),
                figure,
            )
        }
    }

    /// An announced change as it stands (announced, completed or cancelled), dated `by.end`,
    /// at its target level.
    fn planned(stored: &StoredEvent, deployment: &TroopDeployment, c: &TroopChange) -> Self {
        let figure = Figure {
            time: &c.by,
            count: &c.target,
            source: &c.source,
            source_type: name(&c.source_type),
        };
        Self {
            reason: c.cancellation.clone(),
            ..Self::change(stored, deployment, c, PointKind::Planned, figure)
        }
    }

    /// A change's completion, dated `completed.end`, at the change's target level, from the
    /// completion's source.
    fn completed(
        stored: &StoredEvent,
        deployment: &TroopDeployment,
        c: &TroopChange,
        completed: &EventTime,
        source: &Source,
        source_type: String,
    ) -> Self {
        let figure = Figure {
            time: completed,
            count: &c.target,
            source,
            source_type,
        };
        Self::change(stored, deployment, c, PointKind::Completed, figure)
    }

    fn change(
        stored: &StoredEvent,
        deployment: &TroopDeployment,
        c: &TroopChange,
        kind: PointKind,
        figure: Figure<'_>,
    ) -> Self {
        Self {
            change_kind: Some(name(&c.kind)),
            change_status: Some(name(&c.status)),
            milestone_negotiation: c.milestone.as_ref().map(|m| m.negotiation),
            milestone_id: c.milestone.as_ref().map(|m| m.milestone),
            ..Self::base(stored, deployment, (c.change_id, kind), figure)
        }
    }
}

/// low, best, high.
fn figures(count: &UncertainCount) -> [i64; 3] {
    [count.low, count.best, count.high].map(i64::from)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Inserts the page's new versions and points in one statement.
async fn insert(
    conn: &mut PgConnection,
    versions: &Versions<Uuid, VersionRow>,
    points: &Versions<PointKey, PointRow>,
) -> Result<(), ProjectionError> {
    let v = &versions.rows;
    let p = &points.rows;
    macro_rules! column {
        ($rows:expr, |$r:ident| $value:expr) => {
            $rows.iter().map(|$r| $value).collect::<Vec<_>>()
        };
    }
    sqlx::query(include_str!("troops_insert.sql"))
        .bind(column!(v, |r| r.deployment_id))
        .bind(column!(v, |r| r.origin.stream_version))
        .bind(column!(v, |r| r.origin.position))
        .bind(column!(v, |r| r.origin.recorded_from))
        .bind(&versions.ends)
        .bind(column!(v, |r| r.event_type.clone()))
        .bind(column!(v, |r| r.deploying.clone()))
        .bind(column!(v, |r| r.host.clone()))
        .bind(column!(v, |r| r.mission.clone()))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.estimate_id)))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.count[0])))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.count[1])))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.count[2])))
        .bind(column!(v, |r| r
            .current
            .as_ref()
            .and_then(|c| c.words.clone())))
        .bind(column!(v, |r| r
            .current
            .as_ref()
            .map(|c| c.qualifier.clone())))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.scope.clone())))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.as_of.start)))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.as_of.end)))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c
            .as_of
            .precision
            .as_str()
            .to_owned())))
        .bind(column!(v, |r| r.current.as_ref().map(|c| c.source.clone())))
        .bind(column!(v, |r| r
            .current
            .as_ref()
            .map(|c| c.source_type.clone())))
        .bind(column!(v, |r| r.competing_count))
        .bind(column!(v, |r| r.competing.clone()))
        .bind(column!(v, |r| r.estimate_count))
        .bind(column!(v, |r| r.retracted_count))
        .bind(column!(v, |r| r.pending_change_count))
        .bind(column!(v, |r| r.next_change_by))
        .bind(column!(v, |r| r.state.clone()))
        .bind(column!(p, |r| r.deployment_id))
        .bind(column!(p, |r| r.point_id))
        .bind(column!(p, |r| r.kind.as_str()))
        .bind(column!(p, |r| r.origin.stream_version))
        .bind(column!(p, |r| r.origin.position))
        .bind(column!(p, |r| r.origin.recorded_from))
        .bind(&points.ends)
        .bind(column!(p, |r| r.deploying.clone()))
        .bind(column!(p, |r| r.host.clone()))
        .bind(column!(p, |r| r.time.end))
        .bind(column!(p, |r| r.time.start))
        .bind(column!(p, |r| r.time.precision.as_str()))
        .bind(column!(p, |r| r.count[0]))
        .bind(column!(p, |r| r.count[1]))
        .bind(column!(p, |r| r.count[2]))
        .bind(column!(p, |r| r.words.clone()))
        .bind(column!(p, |r| r.qualifier.clone()))
        .bind(column!(p, |r| r.scope.clone()))
        .bind(column!(p, |r| r.source_name.clone()))
        .bind(column!(p, |r| r.source_type.clone()))
        .bind(column!(p, |r| r.retracted))
        .bind(column!(p, |r| r.reason.clone()))
        .bind(column!(p, |r| r.change_kind.clone()))
        .bind(column!(p, |r| r.change_status.clone()))
        .bind(column!(p, |r| r.milestone_negotiation))
        .bind(column!(p, |r| r.milestone_id))
        .execute(conn)
        .await?;
    Ok(())
}
