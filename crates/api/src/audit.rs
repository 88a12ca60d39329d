//! The audit queries: the raw event log (`events`), one stream's versions with what each
//! changed (`history`) and one aggregate rebuilt at a version or a recorded time (`stateAt`).
//! Auditors and admins only: every field carries the
//! [`RequireClass(OperationClass::Audit)`](crate::auth::RequireClass) guard, so a viewer or a
//! recorder gets `FORBIDDEN` and an anonymous caller `UNAUTHENTICATED`.
//!
//! `events` reads the store's ordered feed ([`EventStore::read_log`]): a client that follows it
//! with the `endCursor` of each page sees every later event exactly once, even one whose
//! transaction commits after a later one's. `history` and `stateAt` fold the aggregate's own
//! events ([`sitrep_domain::audit`]), not a read model.
//!
//! [`EventStore::read_log`]: sitrep_domain::store::EventStore::read_log

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::audit;
use sitrep_domain::store::{EventStore, StreamRange};
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::events::{EventFilter, RecordedEvent};
use crate::history::{stream_history, HistoryEntry, HISTORY_COST};
use crate::scalars::{page_of, FeedCursor};

/// Events per page of `events` when `first` is left out.
const DEFAULT_PAGE: i32 = 100;
/// The most events a page of `events` may hold.
pub const MAX_PAGE: i32 = 500;

/// The audit queries.
#[derive(Default)]
pub struct AuditQuery;

/// What a page of the event log says beside its events.
#[derive(SimpleObject)]
pub struct LogPageFields {
    /// Where to go on from, for a client that follows the log: the last event's cursor when
    /// there is a next page; otherwise past every event the feed showed when this page was
    /// read, whether the filter chose it or not (nothing that can still appear sorts before
    /// it). Give it as `after` to see exactly the events chosen since.
    pub resume_cursor: FeedCursor,
}

#[Object]
impl AuditQuery {
    /// The event log as recorded (auditors and admins only): the events `filter` chooses, in
    /// feed order (the order transactions committed), a page at a time. To follow the log,
    /// give the `endCursor` of the last page as `after`: the next request sees exactly the
    /// events after it, including any recorded since and any whose transaction committed late
    /// (the feed shows an event only once nothing still running can come before it). A client
    /// that polls with a narrow filter goes on from `resumeCursor` instead: past every event
    /// looked at, chosen or not, so the next request does not look at them again.
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "(first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize).saturating_mul(child_complexity)"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; left out: all of them.")] filter: Option<EventFilter>,
        #[graphql(desc = "How many events a page holds (0 to 500; 100 when left out).")]
        first: Option<i32>,
        #[graphql(
            desc = "The `endCursor` of the previous page (or the `cursor` of any event); left \
                    out: from the start of the log."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<FeedCursor, RecordedEvent, LogPageFields>> {
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(
                ApiError::bad_input("first", format!("must be between 0 and {MAX_PAGE}")).into(),
            );
        }
        let after_cursor = after
            .as_deref()
            .map(|text| {
                FeedCursor::decode_cursor(text)
                    .map_err(|_| ApiError::bad_input("after", "not a cursor of the event log"))
            })
            .transpose()?;
        let filter = filter.unwrap_or_default().into_log_filter("filter")?;
        // One more than asked says whether there is a next page.
        let limit = u32::try_from(first).unwrap_or_default() + 1;
        let page = store(ctx)?
            .read_log(
                after_cursor.map(|c| c.0).unwrap_or_default(),
                &filter,
                limit,
            )
            .await
            .map_err(ApiError::from)?;
        let (events, has_next) = page_of(page.events, first as usize);
        // A full page goes on from its last event (the one more read to see a next page is
        // not handed out); a page that is not full, from where the log was looked at up to.
        let after_event = after_cursor.map(|c| c.0).unwrap_or_default();
        let resume = match (has_next, events.last()) {
            (true, Some(last)) => last.cursor(),
            // `first: 0`: nothing handed out, nothing passed.
            (true, None) => after_event,
            (false, _) => page.resume,
        };
        let mut connection = Connection::with_additional_fields(
            after_cursor.is_some(),
            has_next,
            LogPageFields {
                resume_cursor: FeedCursor(resume),
            },
        );
        connection.edges.extend(
            events
                .into_iter()
                .map(|event| Edge::new(FeedCursor(event.cursor()), RecordedEvent(event))),
        );
        Ok(connection)
    }

    /// Every version of one entity (incident, negotiation, troop deployment, actor, site),
    /// oldest first, each with who recorded it, when and why, and what it changed field by
    /// field (auditors and admins only). `NOT_FOUND` when no such stream exists.
    #[graphql(
        guard = "RequireClass(OperationClass::Audit)",
        complexity = "HISTORY_COST + child_complexity"
    )]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entity's id (its stream).")] stream_id: Uuid,
    ) -> async_graphql::Result<Vec<HistoryEntry>> {
        let versions = stream_history(ctx, stream_id, StreamRange::All).await?;
        if versions.is_empty() {
            return Err(not_found().into());
        }
        Ok(versions)
    }

    /// One entity rebuilt by the domain model from its own events up to `version`, or as
    /// known at `recordedAt` (the events recorded at or before it): not a read model's view
    /// (auditors and admins only). Give exactly one of the two (`BAD_USER_INPUT` otherwise).
    /// `NOT_FOUND` when no such stream exists; null when it had no event recorded by
    /// `recordedAt`.
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn state_at(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entity's id (its stream).")] stream_id: Uuid,
        #[graphql(desc = "Rebuild up to this version (1 or more, at most the current one).")]
        version: Option<i32>,
        #[graphql(desc = "Rebuild from the events recorded at or before this time.")]
        recorded_at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<AggregateState>> {
        let range = match (version, recorded_at) {
            (Some(version), None) => match u64::try_from(version) {
                Ok(version) if version >= 1 => StreamRange::UntilVersion(version),
                _ => return Err(ApiError::bad_input("version", "must be 1 or more").into()),
            },
            (None, Some(time)) => StreamRange::UntilRecorded(time),
            _ => {
                return Err(ApiError::bad_input(
                    "version",
                    "give exactly one of version and recordedAt",
                )
                .into())
            }
        };
        let store = store(ctx)?;
        let state = audit::state_at(store, stream_id, range)
            .await
            .map_err(ApiError::internal)?;
        match (state, range) {
            (Some(state), StreamRange::UntilVersion(asked)) if state.version < asked => {
                Err(ApiError::bad_input(
                    "version",
                    format!("the stream has {} versions", state.version),
                )
                .into())
            }
            (Some(state), _) => Ok(Some(AggregateState::from(state))),
            (None, StreamRange::UntilRecorded(_)) if exists(store, stream_id).await? => Ok(None),
            (None, _) => Err(not_found().into()),
        }
    }
}

/// An entity as the domain model rebuilds it from its events (`stateAt`).
#[derive(SimpleObject, Debug, Clone)]
pub struct AggregateState {
    /// The entity's id (its stream).
    pub stream_id: Uuid,
    /// `incident`, `negotiation`, `troop_deployment`, `actor` or `site`.
    pub stream_type: String,
    /// The version it was rebuilt to.
    pub version: i32,
    /// When that version was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The id of the last event folded.
    pub event_id: Uuid,
    /// The state as the domain model holds it (its JSON form; the shape is the model's, not
    /// the read models').
    pub state: Json<serde_json::Value>,
}

impl From<audit::StateAt> for AggregateState {
    fn from(state: audit::StateAt) -> Self {
        Self {
            stream_id: state.stream.stream_id,
            stream_type: state.stream.stream_type,
            version: i32::try_from(state.version).unwrap_or(i32::MAX),
            recorded_at: state.recorded_at,
            event_id: state.event_id,
            state: Json(state.state),
        }
    }
}

fn store<'a>(ctx: &Context<'a>) -> Result<&'a EventStore, ApiError> {
    Ok(&ctx
        .data::<ApiContext>()
        .map_err(|e| ApiError::internal(e.message))?
        .store)
}

fn not_found() -> ApiError {
    ApiError::NotFound {
        what: "stream".to_owned(),
    }
}

/// Whether stream `stream_id` has any event.
async fn exists(store: &EventStore, stream_id: Uuid) -> Result<bool, ApiError> {
    Ok(!store
        .stream_types(&[stream_id])
        .await
        .map_err(ApiError::from)?
        .is_empty())
}
