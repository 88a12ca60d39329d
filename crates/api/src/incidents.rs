//! The incidents side of the schema: `incidents` (a Relay connection over the incident list,
//! keyset-paginated), `incident`, and `incidentStats`, all read from the live generation of the
//! incidents read model, now or as known at a recorded time (`asOf`).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::values::{Coordinates, CountryCode};
use sitrep_domain::model::DomainError;
use sitrep_projections::incident_queries::{
    incident_by_id, incident_list, incident_stats, IncidentFilter, IncidentListItem,
    StatsDimension as QueryDimension, StatsRow,
};
use sitrep_projections::ProjectionError;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::history::{history_up_to, HistoryEntry, HISTORY_COST};
use crate::read_models::live_schema;
use crate::scalars::{page_of, BigInt, IncidentCursor};
use crate::vocab::{
    from_stored, stored_name, DatePrecision, EventType, GeoPrecision, SubEventType, TargetCategory,
    VerificationStatus,
};

/// A page holds this many incidents unless `first` says otherwise.
const DEFAULT_PAGE: i32 = 50;
/// And never more than this.
pub const MAX_PAGE: i32 = 500;

/// The incidents queries.
#[derive(Default)]
pub struct IncidentQuery;

#[Object]
impl IncidentQuery {
    /// Incidents the filter selects, newest first (by the day they started), `first` at a time
    /// (at most 500) after the cursor `after`; as known at `asOf` when given. Retracted and
    /// merged incidents are not listed.
    #[graphql(
        complexity = "(first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize).saturating_mul(child_complexity)"
    )]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to select; left out: every active incident.")] filter: Option<
            IncidentFilterInput,
        >,
        #[graphql(default, desc = "The order of the list (only `NEWEST_FIRST` so far).")]
        order_by: IncidentOrder,
        #[graphql(desc = "How many incidents a page holds (0 to 500; 50 when left out).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page; left out: the first page.")]
        after: Option<String>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Connection<IncidentCursor, Incident, IncidentTotal>> {
        let IncidentOrder::NewestFirst = order_by;
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(
                ApiError::bad_input("first", format!("must be between 0 and {MAX_PAGE}")).into(),
            );
        }
        let after = after
            .map(|text| {
                <IncidentCursor as async_graphql::connection::CursorType>::decode_cursor(&text)
                    .map_err(|e| ApiError::bad_input("after", e.to_string()))
            })
            .transpose()?;
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = live_schema(pool, INCIDENTS).await?;
        // One more than asked says whether there is a next page.
        let limit = u32::try_from(first).unwrap_or_default() + 1;
        let items = incident_list(pool, &schema, &filter, limit, after.map(|c| c.0), as_of)
            .await
            .map_err(ApiError::from)?;
        let (items, has_next) = page_of(items, first as usize);
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            IncidentTotal {
                schema,
                filter,
                as_of,
            },
        );
        connection
            .edges
            .extend(items.into_iter().filter_map(|item| {
                let cursor = IncidentCursor(sitrep_projections::incident_queries::ListCursor {
                    valid_start: item.valid_start?,
                    incident_id: item.incident_id,
                });
                Some(Edge::new(cursor, Incident(item, as_of)))
            }));
        Ok(connection)
    }

    /// One incident, whatever its status (a retracted or merged one says so); as known at
    /// `asOf` when given. Null when it was not known.
    async fn incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's id.")] id: Uuid,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Incident>> {
        Ok(find_incident(pool(ctx)?, id, as_of).await?)
    }

    /// Counts and fatality sums of the incidents the filter selects, grouped by the dimensions
    /// of `groupBy` (in that order) and by `bucket` (the day, ISO week or month they started);
    /// as known at `asOf` when given. With no grouping, one row: the totals.
    async fn incident_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which incidents count; left out: every active incident.")] filter: Option<
            IncidentFilterInput,
        >,
        #[graphql(
            default,
            desc = "The dimensions to group by, in this order (one key each in `keys` and \
                    `group`); left out or empty: no grouping but the time buckets."
        )]
        group_by: Vec<StatsDimension>,
        #[graphql(
            desc = "Also group by the day, ISO week or month the incidents started (the row's \
                    `bucket`); left out: no time buckets."
        )]
        bucket: Option<TimeBucket>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<IncidentStatsRow>> {
        let filter = filter.unwrap_or_default().into_query()?;
        let dimensions: Vec<QueryDimension> = group_by.iter().map(|&d| d.into()).collect();
        let pool = pool(ctx)?;
        let schema = live_schema(pool, INCIDENTS).await?;
        let rows = incident_stats(
            pool,
            &schema,
            &filter,
            &dimensions,
            bucket.map(Into::into),
            as_of,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|row| IncidentStatsRow::new(row, &group_by))
            .collect())
    }
}

pub(crate) fn pool<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a PgPool> {
    Ok(ctx.data::<ApiContext>()?.store.pool())
}

/// Incident `id` as the live incidents read model shows it, now or as known at `as_of`.
pub(crate) async fn find_incident(
    pool: &PgPool,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<Incident>, ApiError> {
    let schema = live_schema(pool, INCIDENTS).await?;
    Ok(incident_by_id(pool, &schema, id, as_of)
        .await?
        .map(|item| Incident(item, as_of)))
}

/// Incident `id` as it is now in `schema`, a generation of the incidents read model that was
/// live a moment ago (a mutation's wait saw it apply the change: [`LiveCheckpoints::schema_of`]).
/// Should a rebuild have dropped it since (it takes two switches), the live one is read instead.
///
/// [`LiveCheckpoints::schema_of`]: sitrep_projections::status::LiveCheckpoints::schema_of
pub(crate) async fn find_incident_in(
    pool: &PgPool,
    schema: &str,
    id: Uuid,
) -> Result<Option<Incident>, ApiError> {
    match incident_by_id(pool, schema, id, None).await {
        Ok(found) => Ok(found.map(|item| Incident(item, None))),
        Err(error) if is_dropped(&error) => {
            tracing::debug!(%error, schema, "reading the incident from the live generation instead");
            find_incident(pool, id, None).await
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether `error` says the tables read are gone (`undefined_table`, `invalid_schema_name`).
fn is_dropped(error: &ProjectionError) -> bool {
    let ProjectionError::Database(sqlx::Error::Database(error)) = error else {
        return false;
    };
    matches!(error.code().as_deref(), Some("42P01" | "3F000"))
}

/// The read model's name among the projections (its generations, its checkpoints).
pub(crate) const INCIDENTS: &str = "incidents";

/// The order of the incident list.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum IncidentOrder {
    /// By the day the incident started, latest first (then by id).
    #[default]
    NewestFirst,
}

/// The total of a connection: counted only when asked for.
pub struct IncidentTotal {
    schema: String,
    filter: IncidentFilter,
    as_of: Option<DateTime<Utc>>,
}

#[Object]
impl IncidentTotal {
    /// How many incidents the filter selects, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        let rows = incident_stats(
            pool(ctx)?,
            &self.schema,
            &self.filter,
            &[],
            None,
            self.as_of,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(BigInt(rows.first().map_or(0, |r| r.incidents)))
    }
}

/// What to select. Fields left out do not filter; a list selects any of its values.
#[derive(InputObject, Default, Debug)]
pub struct IncidentFilterInput {
    /// Incidents whose span of days ends on or after this day.
    pub from: Option<NaiveDate>,
    /// Incidents whose span of days starts on or before this day.
    pub to: Option<NaiveDate>,
    /// ISO 3166 alpha-3 codes (`IRQ`, `SYR`).
    pub countries: Option<Vec<String>>,
    /// First-level administrative divisions (provinces, governorates), spelled exactly as
    /// recorded ("Al Anbar").
    pub admin1: Option<Vec<String>>,
    /// ACLED event types.
    pub event_types: Option<Vec<EventType>>,
    /// ACLED sub-event types.
    pub sub_event_types: Option<Vec<SubEventType>>,
    /// What the incidents were aimed at (incidents with no target category are left out).
    pub target_categories: Option<Vec<TargetCategory>>,
    /// Involving this actor in any role.
    pub actor: Option<Uuid>,
    /// Claimed by this actor.
    pub claimant: Option<Uuid>,
    /// At this site (a registered site's id).
    pub site: Option<Uuid>,
    /// How far the incidents have been verified.
    pub verification: Option<Vec<VerificationStatus>>,
    /// How precisely their place is known.
    pub geo_precision: Option<Vec<GeoPrecision>>,
    /// Incidents whose coordinates lie inside, edges included (incidents without coordinates
    /// are left out).
    pub bounding_box: Option<BoundingBox>,
}

/// A rectangle in degrees (WGS 84); `west` may exceed `east` only across the antimeridian,
/// which is not supported yet.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct BoundingBox {
    /// The western edge: the least longitude, in degrees (-180 to 180).
    pub west: f64,
    /// The southern edge: the least latitude, in degrees (-90 to 90).
    pub south: f64,
    /// The eastern edge: the greatest longitude, in degrees (-180 to 180; not below `west`).
    pub east: f64,
    /// The northern edge: the greatest latitude, in degrees (-90 to 90; not below `south`).
    pub north: f64,
}

impl IncidentFilterInput {
    /// The read model's filter, or the first rule the input breaks.
    fn into_query(self) -> Result<IncidentFilter, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(ApiError::bad_input(
                    "filter.to",
                    "must not be before filter.from",
                ));
            }
        }
        let countries = self.countries.unwrap_or_default();
        for (i, code) in countries.iter().enumerate() {
            // The domain's rule for a country code.
            CountryCode::new(code).map_err(|e| rule_at(format!("filter.countries[{i}]"), e))?;
        }
        let bounding_box = match self.bounding_box {
            None => None,
            Some(b) => {
                // Each corner is a point by the domain's rule.
                for (corner, latitude, longitude) in [
                    ("southWest", b.south, b.west),
                    ("northEast", b.north, b.east),
                ] {
                    Coordinates {
                        latitude,
                        longitude,
                    }
                    .validate()
                    .map_err(|e| rule_at(format!("filter.boundingBox.{corner}"), e))?;
                }
                if b.west > b.east || b.south > b.north {
                    return Err(ApiError::bad_input(
                        "filter.boundingBox",
                        "west must not exceed east, nor south north",
                    ));
                }
                Some([b.west, b.south, b.east, b.north])
            }
        };
        /// A domain rule broken at `at` (the domain's own field, if any, goes under it).
        fn rule_at(at: String, error: DomainError) -> ApiError {
            match error {
                DomainError::Invalid { field, rule } if field.is_empty() => {
                    ApiError::bad_input(at, rule)
                }
                DomainError::Invalid { field, rule } => {
                    ApiError::bad_input(format!("{at}.{field}"), rule)
                }
                other => other.into(),
            }
        }
        fn names<G: Copy, D: serde::Serialize + From<G>>(values: Option<Vec<G>>) -> Vec<String> {
            values
                .unwrap_or_default()
                .into_iter()
                .map(|v| stored_name(&D::from(v)))
                .collect()
        }
        use sitrep_domain::model::{incident as di, values as dv, vocab as dw};
        Ok(IncidentFilter {
            from: self.from,
            to: self.to,
            countries,
            admin1: self.admin1.unwrap_or_default(),
            event_types: names::<_, dw::EventType>(self.event_types),
            sub_event_types: names::<_, dw::SubEventType>(self.sub_event_types),
            target_categories: names::<_, di::TargetCategory>(self.target_categories),
            actor: self.actor,
            claimant: self.claimant,
            site: self.site,
            verification: names::<_, di::VerificationStatus>(self.verification),
            geo_precision: names::<_, dv::GeoPrecision>(self.geo_precision),
            bounding_box,
        })
    }
}

/// What statistics are grouped by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_projections::incident_queries::StatsDimension")]
pub enum StatsDimension {
    /// The country (ISO 3166 alpha-3).
    Country,
    /// The first-level administrative division (province, governorate).
    Admin1,
    /// The ACLED event type.
    EventType,
    /// The ACLED sub-event type.
    SubEventType,
    /// Every actor involved, in any role: an incident counts once per actor.
    Actor,
    /// The claimants: an incident counts once per claimant; unclaimed ones under null.
    Claimant,
    /// What the incident was aimed at.
    TargetCategory,
}

/// Time buckets of statistics, by the day an incident started.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_projections::incident_queries::TimeBucket")]
pub enum TimeBucket {
    /// Calendar days.
    Day,
    /// ISO weeks, from Monday.
    Week,
    /// Calendar months.
    Month,
}

/// One group of the statistics.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct IncidentStatsRow {
    /// The first day of the bucket, when bucketed.
    pub bucket: Option<NaiveDate>,
    /// The group's values, in the order of `groupBy` (the stored names: `IRQ`,
    /// `explosions_remote_violence`, an actor's id); null where an incident has none.
    pub keys: Vec<Option<String>>,
    /// How many incidents.
    pub incidents: BigInt,
    /// The sums of those incidents' current fatality figures.
    pub fatalities: FatalitySums,
    #[graphql(skip)]
    dimensions: Vec<StatsDimension>,
}

#[ComplexObject]
impl IncidentStatsRow {
    /// The same keys, each with its dimension.
    async fn group(&self) -> Vec<StatsKey> {
        self.dimensions
            .iter()
            .zip(&self.keys)
            .map(|(dimension, value)| StatsKey {
                dimension: *dimension,
                value: value.clone(),
            })
            .collect()
    }
}

impl IncidentStatsRow {
    fn new(row: StatsRow, dimensions: &[StatsDimension]) -> Self {
        Self {
            bucket: row.bucket,
            keys: row.keys,
            incidents: BigInt(row.incidents),
            fatalities: FatalitySums {
                low: BigInt(row.fatalities_low),
                best: BigInt(row.fatalities_best),
                high: BigInt(row.fatalities_high),
            },
            dimensions: dimensions.to_vec(),
        }
    }
}

/// One key of a statistics group.
#[derive(SimpleObject)]
pub struct StatsKey {
    /// The dimension grouped by.
    pub dimension: StatsDimension,
    /// The group's value in it, as stored (a country code `IRQ`, an admin1 name, an event
    /// type's stored name `explosions_remote_violence`, an actor's id); null where the
    /// incidents have none (the unclaimed ones under `CLAIMANT`).
    pub value: Option<String>,
}

/// Sums of fatality figures: each figure of the range summed over the incidents.
#[derive(SimpleObject)]
pub struct FatalitySums {
    /// The sum of the lowest figures.
    pub low: BigInt,
    /// The sum of the best figures (the figures given, or the most likely ones).
    pub best: BigInt,
    /// The sum of the highest figures.
    pub high: BigInt,
}

/// A figure known within a range (`low <= best <= high`; all three equal for one figure).
#[derive(SimpleObject)]
pub struct CountRange {
    /// The lowest figure the sources allow.
    pub low: Option<i32>,
    /// The figure given, or the most likely one.
    pub best: Option<i32>,
    /// The highest figure the sources allow.
    pub high: Option<i32>,
}

/// Where an incident stands in the record.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum IncidentStatus {
    /// In the record and in current views.
    Active,
    /// Hidden from current views, kept in history.
    Retracted,
    /// Folded into another incident (`mergedInto`).
    Merged,
}

/// An incident as the incidents read model shows it, and the recorded time it was read as of
/// (`None`: now), which its related objects follow unless asked otherwise.
pub struct Incident(pub IncidentListItem, pub Option<DateTime<Utc>>);

/// An incident (an attack, a clash, a strike, a protest) as the incidents read model shows
/// it: its facts as corrected so far, or as known at the `asOf` it was read at.
#[Object]
impl Incident {
    /// The incident's id (its stream): give it as `incidentId` to the incident mutations.
    async fn id(&self) -> Uuid {
        self.0.incident_id
    }

    /// Every version of this incident up to the one shown, oldest first, with who recorded it,
    /// when and why, and what it changed field by field (auditors and admins only).
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "HISTORY_COST + child_complexity"
    )]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HistoryEntry>> {
        Ok(history_up_to(ctx, self.0.incident_id, self.0.stream_version).await?)
    }

    /// The incident's stream version this shows (give it as `expectedVersion`).
    async fn version(&self) -> i32 {
        i32::try_from(self.0.stream_version).unwrap_or(i32::MAX)
    }

    /// Whether it is active, retracted or merged (lists show only active incidents).
    async fn status(&self) -> IncidentStatus {
        match self.0.status.as_str() {
            "retracted" => IncidentStatus::Retracted,
            "merged" => IncidentStatus::Merged,
            _ => IncidentStatus::Active,
        }
    }

    /// The incident it was merged into (status `MERGED`); null otherwise.
    async fn merged_into(&self) -> Option<Uuid> {
        self.0.merged_into
    }

    /// The first day it happened on.
    async fn start_date(&self) -> Option<NaiveDate> {
        self.0.valid_start
    }

    /// The last day it happened on.
    async fn end_date(&self) -> Option<NaiveDate> {
        self.0.valid_end
    }

    /// How precisely `startDate` to `endDate` is known (`DAY`: that one day exactly).
    async fn date_precision(&self) -> Option<DatePrecision> {
        stored::<sitrep_domain::model::values::DatePrecision, _>(&self.0.date_precision)
    }

    /// ISO 3166 alpha-3.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// The first-level administrative division (province, governorate), if known.
    async fn admin1(&self) -> Option<&str> {
        self.0.admin1.as_deref()
    }

    /// The named place (a town, a base), if known.
    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }

    /// Degrees north (WGS 84), when coordinates are known.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }

    /// Degrees east (WGS 84), when coordinates are known.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }

    /// How precisely the place is known (`EXACT` and `NEAR` come with coordinates).
    async fn geo_precision(&self) -> Option<GeoPrecision> {
        stored::<sitrep_domain::model::values::GeoPrecision, _>(&self.0.geo_precision)
    }

    /// ACLED's event type.
    async fn event_type(&self) -> Option<EventType> {
        stored::<sitrep_domain::model::vocab::EventType, _>(&self.0.event_type)
    }

    /// ACLED's sub-event type (one of `eventType`'s).
    async fn sub_event_type(&self) -> Option<SubEventType> {
        stored::<sitrep_domain::model::vocab::SubEventType, _>(&self.0.sub_event_type)
    }

    /// What it was aimed at; null when none was recorded.
    async fn target_category(&self) -> Option<TargetCategory> {
        stored::<sitrep_domain::model::incident::TargetCategory, _>(&self.0.target_category)
    }

    /// The site (a base, a camp) it happened at.
    async fn site_id(&self) -> Option<Uuid> {
        self.0.site_id
    }

    /// Deaths: the current figures, after any revision.
    async fn fatalities(&self) -> CountRange {
        CountRange {
            low: self.0.fatalities_low,
            best: self.0.fatalities_best,
            high: self.0.fatalities_high,
        }
    }

    /// How far it has been verified (every incident starts `UNVERIFIED`).
    async fn verification(&self) -> Option<VerificationStatus> {
        from_stored::<sitrep_domain::model::incident::VerificationStatus>(&self.0.verification)
            .map(Into::into)
    }

    /// Every actor involved, in any role.
    async fn actor_ids(&self) -> &[Uuid] {
        &self.0.actor_ids
    }

    /// Every actor involved in this version of the incident, each with its role and how that
    /// is known; the actors themselves as the actors read model shows them as known at `asOf`,
    /// or when it is left out, at the `asOf` the incident was read at (now when none).
    async fn actors(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Show the actors as known at this recorded time; left out: as known at the \
                    `asOf` the incident was read at (as they are now when it was read without \
                    one). The roles are this version's either way."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<crate::actors::IncidentActor>> {
        crate::actors::incident_actors(
            ctx,
            self.0.incident_id,
            self.0.recorded_at,
            as_of.or(self.1),
        )
        .await
    }

    /// The actors that claimed it.
    async fn claimant_ids(&self) -> &[Uuid] {
        &self.0.claimant_ids
    }

    /// Free labels the recorders gave it (unique ignoring case).
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }

    /// The same incident in other datasets (`acled:IRQ12345`).
    async fn external_refs(&self) -> &[String] {
        &self.0.external_refs
    }

    /// When the version shown was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

/// The GraphQL value of a stored vocabulary name.
fn stored<D, G>(name: &Option<String>) -> Option<G>
where
    D: serde::de::DeserializeOwned,
    G: From<D>,
{
    name.as_deref().and_then(from_stored::<D>).map(G::from)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_graphql::Request;
    use sitrep_domain::store::EventStore;
    use sitrep_projections::incidents::IncidentsProjection;
    use sitrep_projections::Projector;
    use sitrep_testkit::TestDb;
    use uuid::Uuid;

    use super::find_incident_in;
    use crate::auth::{Caller, Role};
    use crate::tokens::TokenHolder;
    use crate::{build_schema, ApiContext};

    #[tokio::test]
    async fn a_generation_dropped_since_the_wait_is_read_as_the_live_one() {
        let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
        let store = EventStore::new(db.pool.clone());
        let projector = Projector::new(store.clone(), Arc::new(IncidentsProjection::default()));
        let mut live = projector.live_generation().await.expect("live generation");
        let mut context = ApiContext::new(store);
        context.read_your_writes = Duration::ZERO;
        let recorder = Caller::Token(TokenHolder {
            token_id: Uuid::nil(),
            name: "desk".into(),
            role: Role::Recorder,
        });
        let report = r#"mutation { reportIncident(input: { facts: {
            time: { start: "2024-01-28" },
            place: { country: "JOR", location: "Tower 22", precision: COUNTRY },
            eventType: EXPLOSIONS_REMOTE_VIOLENCE, subEventType: AIR_DRONE_STRIKE,
            fatalities: { best: 3 } } }) { incidentId } }"#;
        let response = build_schema(context)
            .execute(Request::new(report).data(recorder))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("json");
        let id: Uuid = data["reportIncident"]["incidentId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("an id");
        for _ in 0..500 {
            projector.catch_up(&mut live).await.expect("catch up");
            if live.events_applied >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // A generation's schema that is gone: the live one shows the incident.
        let found = find_incident_in(&db.pool, "rm_incidents_999", id)
            .await
            .expect("read from the live generation instead");
        assert_eq!(found.map(|incident| incident.0.incident_id), Some(id));
        // Other errors are not papered over.
        assert!(find_incident_in(&db.pool, "public", id).await.is_err());
    }
}
