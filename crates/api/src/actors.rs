//! The actors side of the schema: `actors` (a Relay connection over the actor list, by name,
//! keyset-paginated) and `actor`, read from the live generation of the actors read model, now
//! or as known at a recorded time (`asOf`); the `Actor` object with its affiliations, incident
//! counts and latest incidents; and the actors of an incident (`Incident.actors`), with the
//! role and attribution of each.
//!
//! Related objects (an affiliation's related actor, an actor's incidents, an incident's actors)
//! come through the batch loaders of [`crate::loaders`], so lists of them cost a fixed number
//! of statements.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, InputObject, Object};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::model::values::CountryCode;
use sitrep_domain::model::DomainError;
use sitrep_projections::actor_queries::{
    actor_list, ActorFilter, ActorItem, AffiliationItem, InvolvementItem, NameCursor,
};
use uuid::Uuid;

use crate::actor_vocab::{stored, ActorType, AffiliationRelation};
use crate::auth::{OperationClass, RequireClass};
use crate::error::ApiError;
use crate::history::{history_up_to, HistoryEntry, HISTORY_COST};
use crate::incidents::{pool, Incident};
use crate::loaders::{
    loader, ActorIncidentsKey, ActorKey, AffiliationsKey, CountsKey, InvolvementsKey,
};
use crate::read_models::live_schema;
use crate::scalars::{page_of, BigInt};
use crate::vocab::{stored_name, ActorRole, AttributionStatus};

/// A page holds this many actors (sites) unless `first` says otherwise.
pub(crate) const DEFAULT_PAGE: i32 = 50;
/// And never more than this.
pub const MAX_PAGE: i32 = 200;
/// An actor's incidents: this many unless `first` says otherwise...
const DEFAULT_INCIDENTS: i32 = 20;
/// ...and never more than this.
pub const MAX_INCIDENTS: i32 = 100;
/// The longest search text.
const MAX_SEARCH: usize = 200;

/// The actors queries.
#[derive(Default)]
pub struct ActorQuery;

#[Object]
impl ActorQuery {
    /// Actors the filter selects, by name (then id), `first` at a time (at most 200) after the
    /// cursor `after`; as known at `asOf` when given.
    #[graphql(
        complexity = "(first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize).saturating_mul(child_complexity)"
    )]
    async fn actors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to select; left out: every actor.")] filter: Option<
            ActorFilterInput,
        >,
        #[graphql(desc = "How many actors a page holds (0 to 200; 50 when left out).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page; left out: the first page.")]
        after: Option<String>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Connection<NameCursorText, Actor>> {
        let (limit, after) = page(first, after)?;
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = live_schema(pool, "actors").await?;
        let items = actor_list(pool, &schema, &filter, limit + 1, after.as_ref(), as_of)
            .await
            .map_err(ApiError::from)?;
        let (items, has_next) = page_of(items, limit as usize);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(items.into_iter().map(|item| {
            let cursor = NameCursorText(NameCursor {
                name: item.name.clone(),
                id: item.actor_id,
            });
            Edge::new(cursor, Actor::new(item, as_of))
        }));
        Ok(connection)
    }

    /// One actor; as known at `asOf` when given. Null when it was not known.
    async fn actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor's id.")] id: Uuid,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Actor>> {
        find_actor(ctx, id, as_of).await
    }
}

/// Actor `id` as the live actors read model shows it, now or as known at `as_of`.
pub(crate) async fn find_actor(
    ctx: &Context<'_>,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> async_graphql::Result<Option<Actor>> {
    Ok(loader(ctx)?
        .load_one(ActorKey { id, as_of })
        .await?
        .map(|item| Actor::new(item, as_of)))
}

/// How many to list (`first`, checked) and where to start (`after`, decoded).
pub(crate) fn page(
    first: Option<i32>,
    after: Option<String>,
) -> Result<(u32, Option<NameCursor>), ApiError> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    let limit = u32::try_from(first)
        .ok()
        .filter(|&f| f <= MAX_PAGE as u32)
        .ok_or_else(|| ApiError::bad_input("first", format!("must be between 0 and {MAX_PAGE}")))?;
    let after = after
        .map(|text| {
            NameCursorText::decode_cursor(&text)
                .map(|c| c.0)
                .map_err(|e| ApiError::bad_input("after", e.to_string()))
        })
        .transpose()?;
    Ok((limit, after))
}

/// Where a page of a list by name ends: opaque to clients (base64 of the last item's id and
/// name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCursorText(pub NameCursor);

impl CursorType for NameCursorText {
    type Error = crate::scalars::InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        use crate::scalars::InvalidCursor;
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
        // An id has no '/', a name may.
        let (id, name) = text.split_once('/').ok_or(InvalidCursor)?;
        Ok(Self(NameCursor {
            name: name.to_owned(),
            id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        }))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}/{}", self.0.id, self.0.name))
    }
}

/// Which actors to list. Fields left out do not filter; a list selects any of its values.
#[derive(InputObject, Default, Debug)]
pub struct ActorFilterInput {
    /// Part of the name or of an alias, any case ("resistance", "kh").
    pub search: Option<String>,
    /// ACLED actor types.
    pub actor_types: Option<Vec<ActorType>>,
    /// ISO 3166 alpha-3 codes (`IRQ`).
    pub countries: Option<Vec<String>>,
}

impl ActorFilterInput {
    fn into_query(self) -> Result<ActorFilter, ApiError> {
        Ok(ActorFilter {
            search: search(self.search)?,
            actor_types: self
                .actor_types
                .unwrap_or_default()
                .into_iter()
                .map(|t| stored_name(&sitrep_domain::model::vocab::ActorType::from(t)))
                .collect(),
            countries: countries(self.countries)?,
        })
    }
}

/// A filter's search text: blank is no search.
pub(crate) fn search(text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(text) if text.chars().count() > MAX_SEARCH => Err(ApiError::bad_input(
            "filter.search",
            format!("must be at most {MAX_SEARCH} characters"),
        )),
        Some(text) if !text.trim().is_empty() => Ok(Some(text)),
        _ => Ok(None),
    }
}

/// A filter's country codes, each checked by the domain's rule.
pub(crate) fn countries(codes: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let codes = codes.unwrap_or_default();
    for (i, code) in codes.iter().enumerate() {
        CountryCode::new(code).map_err(|e| rule_at(format!("filter.countries[{i}]"), e))?;
    }
    Ok(codes)
}

/// A domain rule broken at `at` (the domain's own field, if any, goes under it).
pub(crate) fn rule_at(at: String, error: DomainError) -> ApiError {
    match error {
        DomainError::Invalid { field, rule } if field.is_empty() => ApiError::bad_input(at, rule),
        DomainError::Invalid { field, rule } => ApiError::bad_input(format!("{at}.{field}"), rule),
        other => other.into(),
    }
}

/// An armed group, a state's forces or any other party incidents name, as the actors read model
/// shows it (now, or as known at the `asOf` it was asked with; related objects follow the same
/// `asOf`).
pub struct Actor {
    item: ActorItem,
    as_of: Option<DateTime<Utc>>,
}

impl Actor {
    pub(crate) fn new(item: ActorItem, as_of: Option<DateTime<Utc>>) -> Self {
        Self { item, as_of }
    }
}

/// An armed group, a state's forces or any other party incidents name, as the actors read model
/// shows it: now, or as known at the `asOf` it was read at (its affiliations, counts and
/// incidents follow the same `asOf`).
#[Object]
impl Actor {
    /// The actor's id (its stream).
    async fn id(&self) -> Uuid {
        self.item.actor_id
    }

    /// Every version of this actor up to the one shown, oldest first, with who recorded it,
    /// when and why, and what it changed field by field (auditors and admins only).
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "HISTORY_COST + child_complexity"
    )]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HistoryEntry>> {
        Ok(history_up_to(ctx, self.item.actor_id, self.item.stream_version).await?)
    }

    /// The actor's stream version this shows (give it as `expectedVersion`).
    async fn version(&self) -> i32 {
        i32::try_from(self.item.stream_version).unwrap_or(i32::MAX)
    }

    /// The name it is best known by.
    async fn name(&self) -> &str {
        &self.item.name
    }

    /// Other names and spellings.
    async fn aliases(&self) -> &[String] {
        &self.item.aliases
    }

    /// ACLED's actor type.
    async fn actor_type(&self) -> Option<ActorType> {
        stored::<sitrep_domain::model::vocab::ActorType, _>(self.item.actor_type.as_deref())
    }

    /// The country it is from or mainly active in (ISO 3166 alpha-3), if it has one.
    async fn country(&self) -> Option<&str> {
        self.item.country.as_deref()
    }

    /// What it is, in a few words.
    async fn description(&self) -> Option<&str> {
        self.item.description.as_deref()
    }

    /// When the version shown was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.item.recorded_at
    }

    /// How the actor stands to other actors (member of, allied with, backed by, splinter of),
    /// not retracted; by first day.
    async fn affiliations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Affiliation>> {
        let items = loader(ctx)?
            .load_one(AffiliationsKey {
                actor: self.item.actor_id,
                as_of: self.as_of,
            })
            .await?
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|item| Affiliation {
                item,
                as_of: self.as_of,
            })
            .collect())
    }

    /// How many active incidents involve the actor, in any role (now: the actors read model's
    /// count; with `asOf`: counted from the incidents as known then).
    async fn incident_count(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        Ok(BigInt(self.counts(ctx).await?.0))
    }

    /// How many active incidents the actor claimed (now, or as known at `asOf`).
    async fn claimed_count(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        Ok(BigInt(self.counts(ctx).await?.1))
    }

    /// The actor's latest active incidents (any role), newest first: `first` of them (at most
    /// 100; `incidentCount` says how many there are, `incidents(filter: {actor})` pages through
    /// them all).
    #[graphql(
        complexity = "(first.clamp(0, MAX_INCIDENTS) as usize).saturating_mul(child_complexity)"
    )]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "DEFAULT_INCIDENTS",
            desc = "How many incidents (0 to 100)."
        )]
        first: i32,
    ) -> async_graphql::Result<Vec<Incident>> {
        let limit = u32::try_from(first)
            .ok()
            .filter(|&f| f <= MAX_INCIDENTS as u32)
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 0 and {MAX_INCIDENTS}"))
            })?;
        let items = loader(ctx)?
            .load_one(ActorIncidentsKey {
                actor: self.item.actor_id,
                as_of: self.as_of,
                limit,
            })
            .await?
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|item| Incident(item, self.as_of))
            .collect())
    }
}

impl Actor {
    /// (incidents, claimed).
    async fn counts(&self, ctx: &Context<'_>) -> async_graphql::Result<(i64, i64)> {
        let counts = loader(ctx)?
            .load_one(CountsKey {
                actor: self.item.actor_id,
                as_of: self.as_of,
            })
            .await?;
        Ok(counts.map_or((0, 0), |c| (c.incidents, c.claimed)))
    }
}

/// How an actor stood to another one during a period (both ends included; an open end is
/// unknown or ongoing).
pub struct Affiliation {
    item: AffiliationItem,
    as_of: Option<DateTime<Utc>>,
}

/// How an actor stood to another one during a period (both ends included; an open end is
/// unknown or ongoing), as recorded and not retracted.
#[Object]
impl Affiliation {
    /// The affiliation's id (chosen when it was recorded; names it in `endAffiliation` and
    /// `retractAffiliation`).
    async fn id(&self) -> Uuid {
        self.item.affiliation_id
    }

    /// How the actor stands to the related actor.
    async fn relation(&self) -> Option<AffiliationRelation> {
        stored::<sitrep_domain::model::actor::AffiliationRelation, _>(Some(&self.item.relation))
    }

    /// The first day it held (null: since before any date known).
    async fn from(&self) -> Option<NaiveDate> {
        self.item.valid_from
    }

    /// The last day it held (null: it has not ended, as far as is known).
    async fn until(&self) -> Option<NaiveDate> {
        self.item.valid_until
    }

    /// The other actor's id.
    async fn related_actor_id(&self) -> Uuid {
        self.item.related_actor
    }

    /// The other actor (as known at the same time as this one; null if it was not known then).
    async fn related_actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Actor>> {
        find_actor(ctx, self.item.related_actor, self.as_of).await
    }

    /// When this version of the affiliation was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.item.recorded_at
    }
}

/// An actor's part in an incident.
pub struct IncidentActor {
    item: InvolvementItem,
    as_of: Option<DateTime<Utc>>,
}

/// An actor's part in an incident: which actor, in which role, and how that is known.
#[Object]
impl IncidentActor {
    /// The actor's id.
    async fn actor_id(&self) -> Uuid {
        self.item.actor_id
    }

    /// Its part: perpetrator, target, claimant, suspected, associated.
    async fn role(&self) -> Option<ActorRole> {
        stored::<sitrep_domain::model::incident::ActorRole, _>(Some(&self.item.role))
    }

    /// How that part is known: claimed, attributed by a source, suspected, unknown.
    async fn attribution(&self) -> Option<AttributionStatus> {
        stored::<sitrep_domain::model::incident::AttributionStatus, _>(Some(&self.item.attribution))
    }

    /// The actor (null if the actors read model does not know it yet).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Actor>> {
        find_actor(ctx, self.item.actor_id, self.as_of).await
    }
}

/// The actors of incident `incident` in its version recorded at `recorded_at`, each with its
/// role and attribution; the actors themselves now, or as known at `as_of`.
pub(crate) async fn incident_actors(
    ctx: &Context<'_>,
    incident: Uuid,
    recorded_at: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> async_graphql::Result<Vec<IncidentActor>> {
    let items = loader(ctx)?
        .load_one(InvolvementsKey {
            incident,
            at: recorded_at,
        })
        .await?
        .unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|item| IncidentActor { item, as_of })
        .collect())
}
