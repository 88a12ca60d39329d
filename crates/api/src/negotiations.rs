//! The negotiations side of the schema: `negotiations` (a Relay connection over the processes of
//! talks, keyset-paginated) and `negotiation`, read from the live generation of the
//! negotiations read model, now or as known at a recorded time (`asOf`); and the objects they
//! answer with: a negotiation with its parties, sessions in order, working groups, positions
//! (and the latest of each party), milestones with their due dates and status, and
//! agreements.
//!
//! A negotiation's parts load in batches through the [`NegotiationLoader`] (one statement per
//! part for a whole page of negotiations), keyed by the generation and the `asOf` the
//! negotiation was read at, so that its parts are those known at the same time.

use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use sitrep_projections::negotiation_queries::{
    latest_positions, negotiation_by_id, negotiation_count, negotiation_list, AgreementItem,
    MilestoneItem, NegotiationCursor, NegotiationFilter, NegotiationItem, PositionItem,
    SessionItem, WorkingGroupItem, PROJECTION,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::history::{history_up_to, HistoryEntry, HISTORY_COST};
use crate::negotiation_loader::{
    AgreementsOf, MilestonesOf, NegotiationLoader, PartsKey, PositionsOf, SessionsOf,
    WorkingGroupsOf,
};
use crate::negotiation_vocab::{
    AgreementStage, AgreementStatus, AgreementType, MilestoneStatus, NegotiationStatus,
    SessionLevel,
};
use crate::outputs::DateSpan;
use crate::read_models::live_schema;
use crate::scalars::{page_of, BigInt, InvalidCursor};
use crate::vocab::{from_stored, stored_name};

/// A page holds this many negotiations unless `first` says otherwise.
const DEFAULT_PAGE: i32 = 20;
/// And never more than this.
pub const MAX_PAGE: i32 = 100;

/// The negotiations queries.
#[derive(Default)]
pub struct NegotiationQuery;

#[Object]
impl NegotiationQuery {
    /// Processes of talks the filter selects, the latest opened first (by the day they
    /// opened, then id), `first` at a time (at most 100) after the cursor `after`; as known
    /// at `asOf` when given.
    #[graphql(
        complexity = "(first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize).saturating_mul(child_complexity)"
    )]
    async fn negotiations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to select; left out: every negotiation.")] filter: Option<
            NegotiationFilterInput,
        >,
        #[graphql(desc = "How many negotiations a page holds (0 to 100; 20 when left out).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Connection<NegotiationListCursor, Negotiation, NegotiationTotal>>
    {
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(
                ApiError::bad_input("first", format!("must be between 0 and {MAX_PAGE}")).into(),
            );
        }
        let after = after
            .map(|text| {
                NegotiationListCursor::decode_cursor(&text)
                    .map_err(|e| ApiError::bad_input("after", e.to_string()))
            })
            .transpose()?;
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = Arc::<str>::from(live_schema(pool, PROJECTION).await?);
        // One more than asked says whether there is a next page.
        let limit = u32::try_from(first).unwrap_or_default() + 1;
        let items = negotiation_list(pool, &schema, &filter, limit, after.map(|c| c.0), as_of)
            .await
            .map_err(ApiError::from)?;
        let page = usize::try_from(first).unwrap_or_default();
        let (items, has_next) = page_of(items, page);
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            NegotiationTotal {
                schema: schema.clone(),
                filter,
                as_of,
            },
        );
        connection
            .edges
            .extend(items.into_iter().filter_map(|item| {
                let cursor = NegotiationListCursor(NegotiationCursor {
                    opened_start: item.opened_start?,
                    negotiation_id: item.negotiation_id,
                });
                Some(Edge::new(
                    cursor,
                    Negotiation::new(item, schema.clone(), as_of),
                ))
            }));
        Ok(connection)
    }

    /// One negotiation, whatever its status; as known at `asOf` when given. Null when it was
    /// not known (not opened) then.
    async fn negotiation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The negotiation's id.")] id: Uuid,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Negotiation>> {
        Ok(find_negotiation(pool(ctx)?, id, as_of).await?)
    }
}

/// The pool of the schema's store.
fn pool<'a>(ctx: &Context<'a>) -> Result<&'a PgPool, ApiError> {
    ctx.data::<ApiContext>()
        .map(|api| api.store.pool())
        .map_err(|e| ApiError::internal(e.message))
}

/// Negotiation `id` as the live negotiations read model shows it, now or as known at `as_of`.
pub(crate) async fn find_negotiation(
    pool: &PgPool,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<Negotiation>, ApiError> {
    let schema = Arc::<str>::from(live_schema(pool, PROJECTION).await?);
    Ok(negotiation_by_id(pool, &schema, id, as_of)
        .await?
        .map(|item| Negotiation::new(item, schema, as_of)))
}

/// Where a page of the negotiation list ends: opaque to clients (base64 of the day the last
/// negotiation opened and its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiationListCursor(pub NegotiationCursor);

impl CursorType for NegotiationListCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
        let rest = text.strip_prefix("negotiation/").ok_or(InvalidCursor)?;
        let (day, id) = rest.split_once('/').ok_or(InvalidCursor)?;
        Ok(Self(NegotiationCursor {
            opened_start: NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| InvalidCursor)?,
            negotiation_id: Uuid::parse_str(id).map_err(|_| InvalidCursor)?,
        }))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "negotiation/{}/{}",
            self.0.opened_start, self.0.negotiation_id
        ))
    }
}

/// The total of the negotiations connection: counted only when asked for.
pub struct NegotiationTotal {
    schema: Arc<str>,
    filter: NegotiationFilter,
    as_of: Option<DateTime<Utc>>,
}

#[Object]
impl NegotiationTotal {
    /// How many negotiations the filter selects, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<BigInt> {
        let count = negotiation_count(pool(ctx)?, &self.schema, &self.filter, self.as_of)
            .await
            .map_err(ApiError::from)?;
        Ok(BigInt(count))
    }
}

/// Which negotiations to list. Fields left out do not filter; a list selects any of its
/// values.
#[derive(InputObject, Default, Debug)]
pub struct NegotiationFilterInput {
    /// Negotiations in any of these statuses.
    pub statuses: Option<Vec<NegotiationStatus>>,
    /// Negotiations this party or mediator (by name, without regard to case or spacing)
    /// takes part in.
    pub party: Option<String>,
    /// Negotiations this registered actor takes part in, as a party or mediator.
    pub actor: Option<Uuid>,
}

impl NegotiationFilterInput {
    /// The read model's filter, or the first rule the input breaks.
    fn into_query(self) -> Result<NegotiationFilter, ApiError> {
        if let Some(party) = &self.party {
            if party.trim().is_empty() {
                return Err(ApiError::bad_input("filter.party", "must not be blank"));
            }
        }
        Ok(NegotiationFilter {
            statuses: self
                .statuses
                .unwrap_or_default()
                .into_iter()
                .map(|s| {
                    stored_name(&sitrep_domain::model::negotiation::NegotiationStatus::from(
                        s,
                    ))
                })
                .collect(),
            party: self.party,
            actor: self.actor,
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

/// The DataLoader of negotiation parts.
fn loader<'a>(ctx: &Context<'a>) -> Result<&'a DataLoader<NegotiationLoader>, ApiError> {
    ctx.data::<DataLoader<NegotiationLoader>>()
        .map_err(|e| ApiError::internal(e.message))
}

/// A process of talks between parties, as one version of the negotiations read model shows
/// it.
pub struct Negotiation {
    item: NegotiationItem,
    /// Where and when it was read: its parts are read from the same.
    key: PartsKey,
}

impl Negotiation {
    fn new(item: NegotiationItem, schema: Arc<str>, as_of: Option<DateTime<Utc>>) -> Self {
        let key = PartsKey {
            schema,
            as_of,
            negotiation_id: item.negotiation_id,
        };
        Self { item, key }
    }

    /// The rows of one part of this negotiation, loaded in a batch with the same part of the
    /// other negotiations of the response.
    async fn part<K, T>(&self, ctx: &Context<'_>, key: K) -> Result<Arc<Vec<T>>, ApiError>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        NegotiationLoader:
            Loader<K, Value = Arc<Vec<T>>, Error = crate::negotiation_loader::LoadError>,
        T: Send + Sync + 'static,
    {
        Ok(loader(ctx)?
            .load_one(key)
            .await
            .map_err(ApiError::internal)?
            .unwrap_or_default())
    }
}

/// A process of talks between parties (the Iraq-U.S. Higher Military Commission talks) as the
/// negotiations read model shows it, now or as known at a recorded time: its status, parties,
/// sessions, working groups, positions, milestones and agreements.
#[Object]
impl Negotiation {
    /// The negotiation's id.
    async fn id(&self) -> Uuid {
        self.item.negotiation_id
    }

    /// Every version of this negotiation up to the one shown, oldest first, with who recorded it,
    /// when and why, and what it changed field by field (auditors and admins only).
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "HISTORY_COST + child_complexity"
    )]
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HistoryEntry>> {
        Ok(history_up_to(ctx, self.item.negotiation_id, self.item.stream_version).await?)
    }

    /// The negotiation's stream version this shows (give it as `expectedVersion`).
    async fn version(&self) -> i32 {
        i32::try_from(self.item.stream_version).unwrap_or(i32::MAX)
    }

    /// Where the talks stand.
    async fn status(&self) -> async_graphql::Result<NegotiationStatus> {
        Ok(stored_value::<
            sitrep_domain::model::negotiation::NegotiationStatus,
            _,
        >(&self.item.status)?)
    }

    /// The reason given for the latest change of status (null while it never changed).
    async fn status_reason(&self) -> Option<&str> {
        self.item.status_reason.as_deref()
    }

    /// What the process is called ("Iraq-U.S. Higher Military Commission talks").
    async fn title(&self) -> &str {
        self.item.title.as_deref().unwrap_or_default()
    }

    /// What the talks are about.
    async fn topic(&self) -> &str {
        self.item.topic.as_deref().unwrap_or_default()
    }

    /// When the talks opened.
    async fn opened_on(&self) -> Option<DateSpan> {
        DateSpan::maybe(
            self.item.opened_start,
            self.item.opened_end,
            self.item.opened_precision.as_deref(),
        )
    }

    /// The parties, as the negotiation registered them.
    async fn parties(&self) -> Vec<NegotiationParticipant> {
        self.item
            .parties
            .iter()
            .map(NegotiationParticipant::from)
            .collect()
    }

    /// Mediators and other third parties.
    async fn mediators(&self) -> Vec<NegotiationParticipant> {
        self.item
            .mediators
            .iter()
            .map(NegotiationParticipant::from)
            .collect()
    }

    /// The registered actors among the parties and mediators.
    async fn actor_ids(&self) -> &[Uuid] {
        &self.item.actor_ids
    }

    /// How many sessions were held.
    async fn session_count(&self) -> i32 {
        self.item.session_count
    }

    /// How many working groups were formed.
    async fn working_group_count(&self) -> i32 {
        self.item.working_group_count
    }

    /// How many positions were stated.
    async fn position_count(&self) -> i32 {
        self.item.position_count
    }

    /// How many milestones were committed to.
    async fn milestone_count(&self) -> i32 {
        self.item.milestone_count
    }

    /// How many milestones are still outstanding (pending or postponed).
    async fn open_milestone_count(&self) -> i32 {
        self.item.open_milestone_count
    }

    /// The earliest due date (its last day) of the outstanding milestones.
    async fn next_milestone_due(&self) -> Option<NaiveDate> {
        self.item.next_milestone_due
    }

    /// How many agreements were reached.
    async fn agreement_count(&self) -> i32 {
        self.item.agreement_count
    }

    /// The last day of the latest session held.
    async fn last_session_date(&self) -> Option<NaiveDate> {
        self.item.last_session_date
    }

    /// When the version shown was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.item.recorded_at
    }

    /// The sessions held, in the order they were held.
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<NegotiationSession>> {
        let rows = self.part(ctx, SessionsOf(self.key.clone())).await?;
        Ok(rows
            .iter()
            .map(NegotiationSession::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// The working groups formed, in the order they were formed.
    async fn working_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkingGroup>> {
        let rows = self.part(ctx, WorkingGroupsOf(self.key.clone())).await?;
        Ok(rows.iter().map(WorkingGroup::from).collect())
    }

    /// Every position stated, in the order they were stated.
    async fn positions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NegotiationPosition>> {
        let rows = self.part(ctx, PositionsOf(self.key.clone())).await?;
        Ok(rows.iter().map(NegotiationPosition::from).collect())
    }

    /// The latest position of each party or mediator that stated one (the one stated on the
    /// latest day, then the one recorded later), by the party's name.
    async fn latest_positions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NegotiationPosition>> {
        let rows = self.part(ctx, PositionsOf(self.key.clone())).await?;
        Ok(latest_positions(&rows)
            .into_iter()
            .map(NegotiationPosition::from)
            .collect())
    }

    /// The timeline milestones committed to, with their due dates and status, by due date.
    async fn milestones(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NegotiationMilestone>> {
        let rows = self.part(ctx, MilestonesOf(self.key.clone())).await?;
        Ok(rows
            .iter()
            .map(NegotiationMilestone::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// The agreements reached, by the day they were signed.
    async fn agreements(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<NegotiationAgreement>> {
        let rows = self.part(ctx, AgreementsOf(self.key.clone())).await?;
        Ok(rows
            .iter()
            .map(NegotiationAgreement::try_from)
            .collect::<Result<_, _>>()?)
    }
}

/// A party, mediator or member of talks: a name, and the actor's id once it is registered.
#[derive(SimpleObject, Debug, Clone)]
pub struct NegotiationParticipant {
    /// The name the negotiation knows it by.
    pub name: String,
    /// The registered actor's id, if it is registered.
    pub actor_id: Option<Uuid>,
}

impl From<&sitrep_domain::model::negotiation::Participant> for NegotiationParticipant {
    fn from(p: &sitrep_domain::model::negotiation::Participant) -> Self {
        Self {
            name: p.name.clone(),
            actor_id: p.actor,
        }
    }
}

/// A session of talks held.
#[derive(SimpleObject, Debug, Clone)]
pub struct NegotiationSession {
    /// The session's id.
    pub id: Uuid,
    /// When it was held.
    pub held: DateSpan,
    /// The level it was held at.
    pub level: SessionLevel,
    /// The working group that met (sessions of level `WORKING_GROUP`).
    pub working_group_id: Option<Uuid>,
    /// Where it was held, when known.
    pub venue: Option<SessionVenue>,
    /// Who took part, by name.
    pub participants: Vec<String>,
    /// What happened.
    pub summary: Option<String>,
    /// What came of it.
    pub outcome: Option<String>,
    /// The names of the sources that report it.
    pub sources: Vec<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Where a session was held.
#[derive(SimpleObject, Debug, Clone)]
pub struct SessionVenue {
    /// ISO 3166 alpha-3 (`IRQ`).
    pub country: String,
    /// The first-level administrative division (a governorate).
    pub admin1: Option<String>,
    /// The named place.
    pub location: Option<String>,
    /// The registered site it was held at.
    pub site_id: Option<Uuid>,
}

impl TryFrom<&SessionItem> for NegotiationSession {
    type Error = ApiError;

    fn try_from(s: &SessionItem) -> Result<Self, ApiError> {
        Ok(Self {
            id: s.session_id,
            held: DateSpan::new(s.held_start, s.held_end, Some(&s.held_precision)),
            level: stored_value::<sitrep_domain::model::negotiation::SessionLevel, _>(&s.level)?,
            working_group_id: s.working_group_id,
            venue: s.venue_country.as_ref().map(|country| SessionVenue {
                country: country.clone(),
                admin1: s.venue_admin1.clone(),
                location: s.venue_location.clone(),
                site_id: s.venue_site,
            }),
            participants: s.participants.clone(),
            summary: s.summary.clone(),
            outcome: s.outcome.clone(),
            sources: s.sources.clone(),
            recorded_at: s.recorded_at,
        })
    }
}

/// A working group formed in a negotiation.
#[derive(SimpleObject, Debug, Clone)]
pub struct WorkingGroup {
    /// The working group's id.
    pub id: Uuid,
    /// Its name ("The threat from ISIS").
    pub name: String,
    /// What it is to work on.
    pub mandate: String,
    /// Its members, by name.
    pub members: Vec<String>,
    /// The registered actors among its members.
    pub member_actor_ids: Vec<Uuid>,
    /// When it was formed, if known (the read model keeps no precision for it).
    pub formed_on: Option<DateSpan>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<&WorkingGroupItem> for WorkingGroup {
    fn from(g: &WorkingGroupItem) -> Self {
        Self {
            id: g.group_id,
            name: g.name.clone(),
            mandate: g.mandate.clone(),
            members: g.members.clone(),
            member_actor_ids: g.member_actor_ids.clone(),
            formed_on: DateSpan::maybe(g.formed_start, g.formed_end, None),
            recorded_at: g.recorded_at,
        }
    }
}

/// A position a party or mediator stated.
#[derive(SimpleObject, Debug, Clone)]
pub struct NegotiationPosition {
    /// The party or mediator, as the negotiation registered it.
    pub party: String,
    /// The party's registered actor, if it is registered.
    pub party_actor_id: Option<Uuid>,
    /// What it said.
    pub statement: String,
    /// When it said it.
    pub stated_on: DateSpan,
    /// The name of the source that reports it.
    pub source: String,
    /// Where the source can be read.
    pub source_url: Option<String>,
    /// The negotiation's version that recorded it.
    pub version: i32,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl From<&PositionItem> for NegotiationPosition {
    fn from(p: &PositionItem) -> Self {
        Self {
            party: p.party.clone(),
            party_actor_id: p.party_actor_id,
            statement: p.statement.clone(),
            stated_on: DateSpan::new(p.stated_start, p.stated_end, Some(&p.stated_precision)),
            source: p.source_name.clone(),
            source_url: p.source_url.clone(),
            version: i32::try_from(p.stream_version).unwrap_or(i32::MAX),
            recorded_at: p.recorded_at,
        }
    }
}

/// A timeline milestone the parties committed to, and how it fares.
#[derive(SimpleObject, Debug, Clone)]
pub struct NegotiationMilestone {
    /// The milestone's id.
    pub id: Uuid,
    /// What is to happen.
    pub description: String,
    /// When it is due now (moved by postponements).
    pub due: DateSpan,
    /// The last day of the due date first committed to.
    pub committed_due_end: NaiveDate,
    /// When the parties committed to it (the read model keeps no precision for it).
    pub committed_on: DateSpan,
    /// The name of the source of the commitment.
    pub source: String,
    /// How it fares.
    pub status: MilestoneStatus,
    /// The reason given for the latest change of status.
    pub status_reason: Option<String>,
    /// When the latest change of status took effect in the world, if said (the read model
    /// keeps no precision for it).
    pub status_effective_on: Option<DateSpan>,
    /// When this status (the commitment, or the latest change) was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl TryFrom<&MilestoneItem> for NegotiationMilestone {
    type Error = ApiError;

    fn try_from(m: &MilestoneItem) -> Result<Self, ApiError> {
        Ok(Self {
            id: m.milestone_id,
            description: m.description.clone(),
            due: DateSpan::new(m.due_start, m.due_end, Some(&m.due_precision)),
            committed_due_end: m.committed_due_end,
            committed_on: DateSpan::new(m.committed_on_start, m.committed_on_end, None),
            source: m.source_name.clone(),
            status: stored_value::<sitrep_domain::model::negotiation::MilestoneStatus, _>(
                &m.status,
            )?,
            status_reason: m.status_reason.clone(),
            status_effective_on: DateSpan::maybe(
                m.status_effective_start,
                m.status_effective_end,
                None,
            ),
            recorded_at: m.recorded_at,
        })
    }
}

/// An agreement reached in a negotiation (typed and staged as in PA-X).
#[derive(SimpleObject, Debug, Clone)]
pub struct NegotiationAgreement {
    /// The agreement's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// How it was reached.
    pub status: AgreementStatus,
    /// PA-X's type.
    pub agreement_type: AgreementType,
    /// PA-X's stage.
    pub stage: AgreementStage,
    /// When it was signed (the read model keeps no precision for it).
    pub signed_on: DateSpan,
    /// What it provides, provision by provision.
    pub provisions: Vec<String>,
    /// The names of the sources that report it.
    pub sources: Vec<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl TryFrom<&AgreementItem> for NegotiationAgreement {
    type Error = ApiError;

    fn try_from(a: &AgreementItem) -> Result<Self, ApiError> {
        use sitrep_domain::model::negotiation as domain;
        Ok(Self {
            id: a.agreement_id,
            name: a.name.clone(),
            status: stored_value::<domain::AgreementStatus, _>(&a.status)?,
            agreement_type: stored_value::<domain::AgreementType, _>(&a.agreement_type)?,
            stage: stored_value::<domain::AgreementStage, _>(&a.stage)?,
            signed_on: DateSpan::new(a.signed_start, a.signed_end, None),
            provisions: a.provisions.clone(),
            sources: a.sources.clone(),
            recorded_at: a.recorded_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = NegotiationListCursor(NegotiationCursor {
            opened_start: NaiveDate::from_ymd_opt(2024, 1, 25).unwrap(),
            negotiation_id: Uuid::from_u128(42),
        });
        let text = cursor.encode_cursor();
        assert_eq!(NegotiationListCursor::decode_cursor(&text).unwrap(), cursor);
        assert!(NegotiationListCursor::decode_cursor("not-base64!").is_err());
        // An incident list's cursor is not one of this list.
        let incident = URL_SAFE_NO_PAD.encode(format!("2024-01-25/{}", Uuid::from_u128(42)));
        assert!(NegotiationListCursor::decode_cursor(&incident).is_err());
    }
}
