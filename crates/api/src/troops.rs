//! The troop-levels side of the schema: `troopLevels` (the current level of each deployment,
//! by the read model's documented rule, with the competing estimates beside it),
//! `troopLevel` (one deployment), `troopLevelHistory` (each deployment's levels as a time
//! series for step charts, planned changes included) and `troopDeploymentId` (the id a
//! deployment's stream has), read from the live generation of the troop-levels read model,
//! now or as known at a recorded time (`asOf`).
//!
//! Every answer is read in a fixed number of statements: the levels in one, the history in two
//! (the deployments, then the points of all of them).

use std::collections::HashMap;

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use sitrep_domain::model::troops::{deployment_stream_id, TroopEstimate as DomainEstimate};
use sitrep_domain::model::values::CountryCode;
use sitrep_domain::model::DomainError;
use sitrep_projections::troop_queries::{
    troop_levels, troop_series, CurrentLevel, SeriesOptions, TroopLevelFilter, TroopLevelItem,
    TroopPointItem, PROJECTION,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::history::{history_up_to, HistoryEntry, HISTORY_COST};
use crate::outputs::{DateSpan, Figure};
use crate::read_models::live_schema;
use crate::troop_vocab::{
    CountQualifier, CountScope, TroopChangeKind, TroopChangeStatus, TroopPointKind, TroopSourceType,
};
use crate::vocab::from_stored;

/// The troop-levels queries.
#[derive(Default)]
pub struct TroopQuery;

#[Object]
impl TroopQuery {
    /// The current troop level of each deployment the filter selects (one per deploying
    /// country, host country and mission), by host, deploying country and mission; as known at
    /// `asOf` when given. The level is the estimate chosen by the read model's rule: the one
    /// describing the latest day, then the more trusted kind of source (official statement >
    /// official report > research estimate > media), then the one recorded later. The other
    /// live estimates of the same time are listed beside it (`competing`).
    async fn troop_levels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which deployments; left out: all of them.")] filter: Option<
            TroopLevelFilterInput,
        >,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<TroopLevel>> {
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = live_schema(pool, PROJECTION).await?;
        let items = troop_levels(pool, &schema, &filter, as_of)
            .await
            .map_err(ApiError::from)?;
        Ok(items
            .into_iter()
            .map(TroopLevel::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// One deployment's current level, as `troopLevels` shows it; as known at `asOf` when
    /// given. Null when it was not established then.
    async fn troop_level(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment's id (see `troopDeploymentId`).")] deployment_id: Uuid,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<TroopLevel>> {
        Ok(find_troop_level(pool(ctx)?, deployment_id, as_of).await?)
    }

    /// The history of the troop levels of each deployment the filter selects, as a time
    /// series for a step chart: every estimate dated by the end of the time it describes (the
    /// one the current-level rule prefers on each date flagged `preferred`), every announced
    /// change still pending (planned) dated by when it is to be done, and every completed
    /// change dated by its completion; as known at `asOf` when given.
    async fn troop_level_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which deployments; left out: all of them.")] filter: Option<
            TroopLevelFilterInput,
        >,
        #[graphql(desc = "Only points dated on or after this day.")] from: Option<NaiveDate>,
        #[graphql(desc = "Only points dated on or before this day.")] to: Option<NaiveDate>,
        #[graphql(
            desc = "Also the points a chart leaves out: retracted estimates (flagged `retracted`) and planned changes since completed or cancelled. Left out or null: false."
        )]
        include_withdrawn: Option<bool>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<TroopLevelSeries>> {
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(ApiError::bad_input("to", "must not be before from").into());
            }
        }
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = live_schema(pool, PROJECTION).await?;
        let deployments = troop_levels(pool, &schema, &filter, as_of)
            .await
            .map_err(ApiError::from)?;
        let ids: Vec<Uuid> = deployments.iter().map(|d| d.deployment_id).collect();
        let options = SeriesOptions {
            from,
            to,
            include_withdrawn: include_withdrawn.unwrap_or(false),
        };
        let points = troop_series(pool, &schema, &ids, options, as_of)
            .await
            .map_err(ApiError::from)?;
        let mut by_deployment: HashMap<Uuid, Vec<TroopLevelPoint>> = HashMap::new();
        for point in points {
            by_deployment
                .entry(point.deployment_id)
                .or_default()
                .push(TroopLevelPoint::try_from(point)?);
        }
        let mut series = Vec::with_capacity(deployments.len());
        for d in deployments {
            series.push(TroopLevelSeries {
                deployment_id: d.deployment_id,
                deploying: d.deploying.unwrap_or_default(),
                host: d.host.unwrap_or_default(),
                mission: d.mission.unwrap_or_default(),
                points: by_deployment.remove(&d.deployment_id).unwrap_or_default(),
            });
        }
        Ok(series)
    }

    /// The id of the deployment of `deploying` troops in `host` for `mission` (one stream per
    /// deployment, derived from the three; the mission compared without regard to case or
    /// spacing), whether it is established yet or not.
    async fn troop_deployment_id(
        &self,
        #[graphql(desc = "The deploying country, ISO 3166 alpha-3 (`USA`).")] deploying: String,
        #[graphql(desc = "The host country, ISO 3166 alpha-3 (`IRQ`).")] host: String,
        #[graphql(desc = "The mission (\"Operation Inherent Resolve\").")] mission: String,
    ) -> async_graphql::Result<Uuid> {
        let deploying = CountryCode::new(&deploying).map_err(|e| rule_at("deploying", e))?;
        let host = CountryCode::new(&host).map_err(|e| rule_at("host", e))?;
        Ok(deployment_stream_id(&deploying, &host, &mission))
    }
}

/// A domain rule broken at `at` (the domain's own field, if any, goes under it).
fn rule_at(at: &str, error: DomainError) -> ApiError {
    match error {
        DomainError::Invalid { field, rule } if field.is_empty() => ApiError::bad_input(at, rule),
        DomainError::Invalid { field, rule } => ApiError::bad_input(format!("{at}.{field}"), rule),
        other => other.into(),
    }
}

/// The pool of the schema's store.
fn pool<'a>(ctx: &Context<'a>) -> Result<&'a PgPool, ApiError> {
    ctx.data::<ApiContext>()
        .map(|api| api.store.pool())
        .map_err(|e| ApiError::internal(e.message))
}

/// Deployment `id` as the live troop-levels read model shows it, now or as known at `as_of`.
pub(crate) async fn find_troop_level(
    pool: &PgPool,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<TroopLevel>, ApiError> {
    let schema = live_schema(pool, PROJECTION).await?;
    let filter = TroopLevelFilter {
        deployment_ids: vec![id],
        ..TroopLevelFilter::default()
    };
    troop_levels(pool, &schema, &filter, as_of)
        .await?
        .into_iter()
        .next()
        .map(TroopLevel::try_from)
        .transpose()
}

/// Which deployments to read. Fields left out do not filter; a list selects any of its values.
#[derive(InputObject, Default, Debug)]
pub struct TroopLevelFilterInput {
    /// Deploying countries, ISO 3166 alpha-3 (`USA`).
    pub deploying: Option<Vec<String>>,
    /// Host countries, ISO 3166 alpha-3 (`IRQ`, `SYR`).
    pub hosts: Option<Vec<String>>,
    /// Missions ("Operation Inherent Resolve"), compared without regard to case or spacing.
    pub missions: Option<Vec<String>>,
    /// Deployments by id.
    pub deployment_ids: Option<Vec<Uuid>>,
}

impl TroopLevelFilterInput {
    /// The read model's filter, or the first rule the input breaks.
    fn into_query(self) -> Result<TroopLevelFilter, ApiError> {
        let codes = |field: &str, codes: Option<Vec<String>>| {
            let codes = codes.unwrap_or_default();
            for (i, code) in codes.iter().enumerate() {
                // The domain's rule for a country code.
                CountryCode::new(code).map_err(|e| rule_at(&format!("filter.{field}[{i}]"), e))?;
            }
            Ok::<_, ApiError>(codes)
        };
        Ok(TroopLevelFilter {
            deploying: codes("deploying", self.deploying)?,
            hosts: codes("hosts", self.hosts)?,
            missions: self.missions.unwrap_or_default(),
            deployment_ids: self.deployment_ids.unwrap_or_default(),
        })
    }
}

/// The GraphQL value of the stored vocabulary name `name`; a name the domain does not know is
/// an internal error (the read model and the code disagree).
fn stored_value<D, G>(name: &str) -> Result<G, ApiError>
where
    D: DeserializeOwned,
    G: From<D>,
{
    from_stored::<D>(name)
        .map(G::from)
        .ok_or_else(|| ApiError::internal(format!("unknown stored name {name:?}")))
}

/// The same for a name that may be absent.
fn stored_option<D, G>(name: Option<&str>) -> Result<Option<G>, ApiError>
where
    D: DeserializeOwned,
    G: From<D>,
{
    name.map(stored_value::<D, G>).transpose()
}

/// One deployment's troop level: the current estimate and the competing ones.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct TroopLevel {
    /// The deployment's id (its stream: see `troopDeploymentId`).
    pub deployment_id: Uuid,
    /// The deployment's stream version this shows (give it as `expectedVersion`).
    pub version: i32,
    /// The deploying country, ISO 3166 alpha-3 (`USA`).
    pub deploying: String,
    /// The host country, ISO 3166 alpha-3 (`IRQ`).
    pub host: String,
    /// The mission ("Operation Inherent Resolve").
    pub mission: String,
    /// The estimate giving the current level, by the rule `troopLevels` describes; null while
    /// no estimate counts.
    pub current: Option<TroopEstimate>,
    /// The other live estimates describing the same time as the current one, which it was
    /// preferred to, best ranked first.
    pub competing: Vec<TroopEstimate>,
    /// Estimates ever reported, retracted ones included.
    pub estimate_count: i32,
    /// Estimates retracted as wrong.
    pub retracted_count: i32,
    /// Announced changes not yet completed or cancelled.
    pub pending_change_count: i32,
    /// The earliest date one of those is due by.
    pub next_change_by: Option<NaiveDate>,
    /// When the version shown was recorded.
    pub recorded_at: DateTime<Utc>,
}

#[ComplexObject]
impl TroopLevel {
    /// Every version of this troop deployment up to the one shown, oldest first, with who recorded it,
    /// when and why, and what it changed field by field (auditors and admins only).
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "HISTORY_COST + child_complexity"
    )]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HistoryEntry>> {
        Ok(history_up_to(ctx, self.deployment_id, i64::from(self.version)).await?)
    }
}

impl TryFrom<TroopLevelItem> for TroopLevel {
    type Error = ApiError;

    fn try_from(item: TroopLevelItem) -> Result<Self, ApiError> {
        Ok(Self {
            deployment_id: item.deployment_id,
            version: i32::try_from(item.stream_version).unwrap_or(i32::MAX),
            deploying: item.deploying.unwrap_or_default(),
            host: item.host.unwrap_or_default(),
            mission: item.mission.unwrap_or_default(),
            current: item
                .current
                .as_ref()
                .map(TroopEstimate::current)
                .transpose()?,
            competing: item.competing.iter().map(TroopEstimate::from).collect(),
            estimate_count: item.estimate_count,
            retracted_count: item.retracted_count,
            pending_change_count: item.pending_change_count,
            next_change_by: item.next_change_by,
            recorded_at: item.recorded_at,
        })
    }
}

/// One source's troop level, as reported.
#[derive(SimpleObject, Debug, Clone)]
pub struct TroopEstimate {
    /// The estimate's id.
    pub estimate_id: Uuid,
    /// The time the figure describes (not when it was published).
    pub as_of: DateSpan,
    /// The figure.
    pub count: Figure,
    /// How the source qualified it.
    pub qualifier: CountQualifier,
    /// Which personnel it counts.
    pub scope: CountScope,
    /// The source's name.
    pub source: String,
    /// What kind of source it is (which decides between figures of the same date).
    pub source_type: TroopSourceType,
}

impl TroopEstimate {
    /// The current level's estimate, from the read model's columns.
    fn current(c: &CurrentLevel) -> Result<Self, ApiError> {
        use sitrep_domain::model::troops as domain;
        Ok(Self {
            estimate_id: c.estimate_id,
            as_of: DateSpan::new(c.as_of_start, c.as_of_end, Some(&c.precision)),
            count: Figure::new(c.low, c.best, c.high, c.words.clone()),
            qualifier: stored_value::<domain::CountQualifier, _>(&c.qualifier)?,
            scope: stored_value::<domain::CountScope, _>(&c.scope)?,
            source: c.source.clone(),
            source_type: stored_value::<domain::SourceType, _>(&c.source_type)?,
        })
    }
}

impl From<&DomainEstimate> for TroopEstimate {
    fn from(e: &DomainEstimate) -> Self {
        Self {
            estimate_id: e.estimate_id,
            as_of: DateSpan {
                start: e.as_of.start,
                end: e.as_of.end,
                precision: Some(e.as_of.precision.into()),
            },
            count: Figure::new(
                e.count.low.into(),
                e.count.best.into(),
                e.count.high.into(),
                e.count.words.clone(),
            ),
            qualifier: e.qualifier.into(),
            scope: e.scope.into(),
            source: e.source.name.clone(),
            source_type: e.source_type.into(),
        }
    }
}

/// One deployment's series of troop levels.
#[derive(SimpleObject, Debug, Clone)]
pub struct TroopLevelSeries {
    /// The deployment's id.
    pub deployment_id: Uuid,
    /// The deploying country, ISO 3166 alpha-3.
    pub deploying: String,
    /// The host country, ISO 3166 alpha-3.
    pub host: String,
    /// The mission.
    pub mission: String,
    /// The points in date order (then in the order recorded).
    pub points: Vec<TroopLevelPoint>,
}

/// One point of a troop-level series.
#[derive(SimpleObject, Debug, Clone)]
pub struct TroopLevelPoint {
    /// The estimate's id (kind `ESTIMATE`) or the change's (`PLANNED`, `COMPLETED`).
    pub id: Uuid,
    /// What the point stands for.
    pub kind: TroopPointKind,
    /// The day the point is drawn at: the last day of `span`.
    pub date: NaiveDate,
    /// The time the point stands for: the estimate's `asOf`, the change's due date, or its
    /// completion.
    pub span: DateSpan,
    /// The level: the estimate's figure, or the change's target.
    pub level: Figure,
    /// Estimates only: how the source qualified the figure.
    pub qualifier: Option<CountQualifier>,
    /// Estimates only: which personnel it counts.
    pub scope: Option<CountScope>,
    /// The source's name.
    pub source: String,
    /// What kind of source it is.
    pub source_type: TroopSourceType,
    /// Estimates only: whether the current-level rule prefers it among the live estimates of
    /// its date (the points a step chart of the level follows).
    pub preferred: bool,
    /// An estimate retracted as wrong (listed only with `includeWithdrawn`).
    pub retracted: bool,
    /// Why the estimate was retracted, or the planned change cancelled.
    pub reason: Option<String>,
    /// Changes only: which way it moves troops.
    pub change_kind: Option<TroopChangeKind>,
    /// Changes only: where it stands.
    pub change_status: Option<TroopChangeStatus>,
    /// Changes only: the negotiation milestone the change carries out.
    pub milestone: Option<MilestoneLink>,
    /// The deployment's version that recorded this state of the point.
    pub version: i32,
    /// When this state of the point was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A timeline milestone of a negotiation.
#[derive(SimpleObject, Debug, Clone)]
pub struct MilestoneLink {
    /// The negotiation's id.
    pub negotiation_id: Uuid,
    /// The milestone's id within it.
    pub milestone_id: Uuid,
}

impl TryFrom<TroopPointItem> for TroopLevelPoint {
    type Error = ApiError;

    fn try_from(p: TroopPointItem) -> Result<Self, ApiError> {
        use sitrep_domain::model::troops as domain;
        Ok(Self {
            id: p.point_id,
            kind: TroopPointKind::from_stored(&p.kind)
                .ok_or_else(|| ApiError::internal(format!("unknown point kind {:?}", p.kind)))?,
            date: p.date,
            span: DateSpan::new(p.date_start, p.date, Some(&p.date_precision)),
            level: Figure::new(p.low, p.best, p.high, p.words),
            qualifier: stored_option::<domain::CountQualifier, _>(p.qualifier.as_deref())?,
            scope: stored_option::<domain::CountScope, _>(p.scope.as_deref())?,
            source: p.source_name,
            source_type: stored_value::<domain::SourceType, _>(&p.source_type)?,
            preferred: p.preferred,
            retracted: p.retracted,
            reason: p.reason,
            change_kind: stored_option::<domain::ChangeKind, _>(p.change_kind.as_deref())?,
            change_status: stored_option::<domain::TroopChangeStatus, _>(
                p.change_status.as_deref(),
            )?,
            milestone: match (p.milestone_negotiation, p.milestone_id) {
                (Some(negotiation_id), Some(milestone_id)) => Some(MilestoneLink {
                    negotiation_id,
                    milestone_id,
                }),
                _ => None,
            },
            version: i32::try_from(p.stream_version).unwrap_or(i32::MAX),
            recorded_at: p.recorded_at,
        })
    }
}
