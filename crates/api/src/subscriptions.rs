//! Live subscriptions, driven by the ordered feed: `eventRecorded` (any event, filtered) and
//! `incidentReported` (new incidents, filtered).
//!
//! A subscription starts at a cursor (`after`; the feed's head when left out), catches up page
//! by page from the log, then waits for new events. It reads the same gap-free, commit-ordered
//! feed as the projectors ([`EventStore::read_feed`]), so a subscriber sees every event once, in
//! feed order, and one that reconnects with the cursor of the last event it received goes on
//! without a gap or a repeat. Subscribers do not hold a database connection while they wait: one
//! [`ChannelWaker`] per server listens to `NOTIFY sitrep_feed` and wakes them all; each also
//! polls.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, InputObject, Object, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt as _};
use sitrep_domain::model::decode_text;
use sitrep_domain::model::incident::{IncidentEvent, IncidentFacts};
use sitrep_domain::store::{EventStore, FeedCursor as StoreCursor, StoreError, StoredEvent};
use tokio::sync::watch;
use uuid::Uuid;

use crate::commands::api_context;
use crate::error::ApiError;
use crate::events::{EventFilter, RecordedEvent};
use crate::incidents::{find_incident, pool, CountRange, Incident};
use crate::metrics::SubscriptionGuard;
use crate::scalars::{BigInt, FeedCursor};
use crate::vocab::{EventType, SubEventType};

/// Events read from the log per round trip while a subscriber catches up.
const PAGE_SIZE: u32 = 500;
/// How often a subscriber looks at the feed when no NOTIFY wakes it (a fallback: the waker
/// also wakes everyone when its connection had to be opened again).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How soon a subscriber first looks again when committed events are held back by an open
/// transaction (they come without a NOTIFY of their own); it waits twice as long each time
/// they are still held back, up to [`HELD_BACK_MAX`] (a long transaction, such as an index
/// build, must not turn every subscriber into a busy poller).
const HELD_BACK_RECHECK: Duration = Duration::from_millis(20);
const HELD_BACK_MAX: Duration = Duration::from_secs(1);
/// How many subscriptions one WebSocket connection may hold open at once.
pub const MAX_PER_CONNECTION: usize = 20;

/// The subscriptions open on one WebSocket connection (put into the connection's data when it
/// is initialised).
#[derive(Clone, Default)]
pub struct ConnectionSubscriptions(Arc<AtomicUsize>);

/// Counts one subscription of a connection until dropped.
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where one subscriber stands.
struct Follower {
    store: EventStore,
    wakes: watch::Receiver<u64>,
    cursor: StoreCursor,
    pending: VecDeque<StoredEvent>,
    failed: bool,
    /// How long to wait before looking again while events are held back.
    held_back_wait: Duration,
    /// Counts this subscription as open while it lives.
    _open: SubscriptionGuard,
    _slot: Option<ConnectionSlot>,
}

/// Every event after `after`, in feed order: first those recorded, then each new one. Ends
/// after the first error (which it yields).
fn follow(
    store: EventStore,
    wakes: watch::Receiver<u64>,
    after: StoreCursor,
    open: SubscriptionGuard,
    slot: Option<ConnectionSlot>,
) -> impl Stream<Item = Result<StoredEvent, StoreError>> {
    let follower = Follower {
        store,
        wakes,
        cursor: after,
        pending: VecDeque::new(),
        failed: false,
        held_back_wait: HELD_BACK_RECHECK,
        _open: open,
        _slot: slot,
    };
    futures::stream::unfold(follower, |mut follower| async move {
        loop {
            if let Some(event) = follower.pending.pop_front() {
                return Some((Ok(event), follower));
            }
            if follower.failed {
                return None;
            }
            // Seen before reading, so that a wake-up during the read is not lost.
            follower.wakes.borrow_and_update();
            match follower.store.read_feed(follower.cursor, PAGE_SIZE).await {
                Ok(page) => {
                    follower.cursor = page.next;
                    if !page.events.is_empty() {
                        follower.held_back_wait = HELD_BACK_RECHECK;
                        follower.pending.extend(page.events);
                    } else if page.held_back {
                        tokio::time::sleep(follower.held_back_wait).await;
                        follower.held_back_wait = (follower.held_back_wait * 2).min(HELD_BACK_MAX);
                    } else {
                        follower.held_back_wait = HELD_BACK_RECHECK;
                        let woken =
                            tokio::time::timeout(POLL_INTERVAL, follower.wakes.changed()).await;
                        if let Ok(Err(_)) = woken {
                            // The waker is gone: poll only.
                            tokio::time::sleep(POLL_INTERVAL).await;
                        }
                    }
                }
                Err(error) => {
                    follower.failed = true;
                    return Some((Err(error), follower));
                }
            }
        }
    })
}

/// The feed from `after` (the head when `None`) for the subscriber of `ctx`.
async fn feed(
    ctx: &Context<'_>,
    after: Option<FeedCursor>,
) -> Result<impl Stream<Item = Result<StoredEvent, StoreError>>, ApiError> {
    let api = api_context(ctx)?;
    let slot = match ctx.data_opt::<ConnectionSubscriptions>() {
        Some(ConnectionSubscriptions(open)) => {
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_PER_CONNECTION {
                open.fetch_sub(1, Ordering::SeqCst);
                return Err(ApiError::bad_input(
                    "subscription",
                    format!("a connection may hold at most {MAX_PER_CONNECTION} subscriptions"),
                ));
            }
            Some(ConnectionSlot(open.clone()))
        }
        None => None,
    };
    let start = match after {
        Some(cursor) => cursor.0,
        None => api.store.feed_head().await?,
    };
    let wakes = api.feed_waker.subscribe(&api.store);
    let open = api.metrics.subscription_opened();
    Ok(follow(api.store.clone(), wakes, start, open, slot))
}

/// The live side of the API.
#[derive(Default)]
pub struct SubscriptionRoot;

/// The live side of the API: events as they are recorded, in the order of the feed (the commit
/// order), resumable from the `cursor` of the last one received.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every event recorded after `after` (from now on when left out) that `filter` chooses,
    /// in feed order: first those already recorded, then each one as it is recorded. To resume
    /// after a disconnect, give the `cursor` of the last event received.
    async fn event_recorded(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; left out: all of them.")] filter: Option<EventFilter>,
        #[graphql(
            desc = "Go on just past this cursor (the `cursor` of the last event received); left \
                    out: from now on."
        )]
        after: Option<FeedCursor>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RecordedEvent>>> {
        let filter = filter.unwrap_or_default().into_log_filter("filter")?;
        let events = feed(ctx, after).await?;
        Ok(events.filter_map(move |event| {
            let chosen = match event {
                Ok(event) if filter.matches(&event) => Some(Ok(RecordedEvent(event))),
                Ok(_) => None,
                Err(error) => Some(Err(ApiError::from(error).into())),
            };
            std::future::ready(chosen)
        }))
    }

    /// Every incident reported after `after` (from now on when left out) that `filter`
    /// chooses, in feed order, as reported (later corrections come as other events). To resume
    /// after a disconnect, give the `cursor` of the last report received.
    async fn incident_reported(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which new incidents; left out: all of them.")] filter: Option<
            IncidentReportFilter,
        >,
        #[graphql(
            desc = "Go on just past this cursor (the `cursor` of the last report received); left \
                    out: from now on."
        )]
        after: Option<FeedCursor>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<IncidentReport>>> {
        let filter = filter.unwrap_or_default();
        let events = feed(ctx, after).await?;
        Ok(events.filter_map(move |event| {
            let chosen = match event {
                Ok(event) => match IncidentReport::from_event(event) {
                    Ok(Some(report)) if filter.matches(&report.facts) => Some(Ok(report)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error.into())),
                },
                Err(error) => Some(Err(ApiError::from(error).into())),
            };
            std::future::ready(chosen)
        }))
    }
}

/// Which new incidents: each list given narrows the choice.
#[derive(InputObject, Default, Debug, Clone)]
pub struct IncidentReportFilter {
    /// ISO 3166 alpha-3 codes (compared ignoring case).
    pub countries: Option<Vec<String>>,
    /// ACLED event types.
    pub event_types: Option<Vec<EventType>>,
    /// ACLED sub-event types.
    pub sub_event_types: Option<Vec<SubEventType>>,
}

impl IncidentReportFilter {
    fn matches(&self, facts: &IncidentFacts) -> bool {
        self.countries.as_ref().is_none_or(|list| {
            list.iter()
                .any(|c| c.eq_ignore_ascii_case(&facts.place.country.0))
        }) && self
            .event_types
            .as_ref()
            .is_none_or(|list| list.contains(&EventType::from(facts.event_type)))
            && self
                .sub_event_types
                .as_ref()
                .is_none_or(|list| list.contains(&SubEventType::from(facts.sub_event_type)))
    }
}

/// An incident as it was first reported.
pub struct IncidentReport {
    event: StoredEvent,
    facts: IncidentFacts,
}

impl IncidentReport {
    /// The report `event` holds; `None` for any other event.
    fn from_event(event: StoredEvent) -> Result<Option<Self>, ApiError> {
        if event.stream.stream_type != "incident" || event.event_type != "IncidentReported" {
            return Ok(None);
        }
        let decoded: IncidentEvent =
            decode_text(&event.event_type, event.schema_version, event.payload.get())
                .map_err(ApiError::internal)?;
        Ok(match decoded {
            IncidentEvent::IncidentReported { facts, .. } => Some(Self { event, facts }),
            _ => None,
        })
    }
}

/// An incident as it was first reported (its `IncidentReported` event): the facts of the
/// report, not later corrections (`incident` shows those).
#[Object]
impl IncidentReport {
    /// Give it as `after` to go on just past this report.
    async fn cursor(&self) -> FeedCursor {
        FeedCursor(self.event.cursor())
    }

    /// The report event's global position in the log (unique; the feed's order is the commit
    /// order, not this).
    async fn position(&self) -> BigInt {
        BigInt(self.event.position)
    }

    /// The new incident's id.
    async fn incident_id(&self) -> Uuid {
        self.event.stream.stream_id
    }

    /// The report event's id.
    async fn event_id(&self) -> Uuid {
        self.event.event_id
    }

    /// When the report was recorded (the log's time, not the world's).
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.event.recorded_at
    }

    /// Who recorded it: the name of the bearer token the mutation came with (or of the tool
    /// that recorded it outside the API, such as `sitrep demo`).
    async fn recorded_by(&self) -> &str {
        &self.event.recorded_by
    }

    /// The first day it may have happened.
    async fn start_date(&self) -> NaiveDate {
        self.facts.time.start
    }

    /// The last day it may have happened.
    async fn end_date(&self) -> NaiveDate {
        self.facts.time.end
    }

    /// ISO 3166 alpha-3.
    async fn country(&self) -> &str {
        &self.facts.place.country.0
    }

    /// The first-level administrative division (province, governorate), if reported.
    async fn admin1(&self) -> Option<&str> {
        self.facts.place.admin1.as_deref()
    }

    /// The named place (a town, a base), if reported.
    async fn location(&self) -> Option<&str> {
        self.facts.place.location.as_deref()
    }

    /// Degrees north (WGS 84), when coordinates were reported.
    async fn latitude(&self) -> Option<f64> {
        self.facts.place.coordinates.as_ref().map(|c| c.latitude)
    }

    /// Degrees east (WGS 84), when coordinates were reported.
    async fn longitude(&self) -> Option<f64> {
        self.facts.place.coordinates.as_ref().map(|c| c.longitude)
    }

    /// ACLED's event type.
    async fn event_type(&self) -> EventType {
        self.facts.event_type.into()
    }

    /// ACLED's sub-event type.
    async fn sub_event_type(&self) -> SubEventType {
        self.facts.sub_event_type.into()
    }

    /// Deaths as first reported.
    async fn fatalities(&self) -> CountRange {
        let count = &self.facts.fatalities;
        let int = |n: u32| Some(i32::try_from(n).unwrap_or(i32::MAX));
        CountRange {
            low: int(count.low),
            best: int(count.best),
            high: int(count.high),
        }
    }

    /// The incident as the incidents read model shows it now, with its later corrections (and
    /// its status, if it was retracted or merged since); null until the read model has
    /// applied the report.
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        Ok(find_incident(pool(ctx)?, self.event.stream.stream_id, None).await?)
    }
}
