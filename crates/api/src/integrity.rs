//! `verifyIntegrity`: the audit query that checks the event log's hash links and seals, whole
//! or over a range of positions, and names the first broken position. Auditors and admins only
//! (a [`RequireClass`] guard: the query itself is classed as a read).

use async_graphql::{Context, Enum, Object, SimpleObject};
use sitrep_domain::store::{self, PositionRange};
use uuid::Uuid;

use crate::auth::{OperationClass, RequireClass};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::scalars::BigInt;

/// The integrity query.
#[derive(Default)]
pub struct IntegrityQuery;

#[Object]
impl IntegrityQuery {
    /// Checks the event log's tamper evidence over a range of positions (auditors and admins
    /// only): every event's content against its hash and its link to the event before it in
    /// its stream (the first one of each stream in the range is linked to its predecessor
    /// wherever that lies), and every seal whose positions overlap the range, over its whole
    /// run. Reports the first broken position and what is wrong there, or that the range is
    /// intact with how many events and seals were checked. Read-only.
    #[graphql(guard = "RequireClass(OperationClass::Audit)")]
    async fn verify_integrity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The first position to check; the start of the log when left out.")]
        from: Option<BigInt>,
        #[graphql(desc = "The last position to check; the end of the log when left out.")]
        to: Option<BigInt>,
    ) -> async_graphql::Result<IntegrityReport> {
        let (from, to) = (from.map(|p| p.0), to.map(|p| p.0));
        let range = PositionRange::new(from, to)
            .map_err(|_| ApiError::bad_input("to", "must not be before from"))?;
        let store = &ctx.data::<ApiContext>()?.store;
        let report = store.verify_range(range).await.map_err(ApiError::from)?;
        Ok(IntegrityReport {
            intact: report.is_intact(),
            from: from.map(BigInt),
            to: to.map(BigInt),
            events_checked: count(report.events_checked),
            seals_checked: count(report.seals_checked),
            first_break: report.first_break.map(IntegrityBreak::from),
        })
    }
}

fn count(n: u64) -> BigInt {
    BigInt(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The outcome of `verifyIntegrity`.
#[derive(SimpleObject)]
pub struct IntegrityReport {
    /// Whether everything checked is as it was recorded.
    pub intact: bool,
    /// The first position asked for (null: the start of the log).
    pub from: Option<BigInt>,
    /// The last position asked for (null: the end of the log).
    pub to: Option<BigInt>,
    /// How many events in the range had their hash and link recomputed.
    pub events_checked: BigInt,
    /// How many seals were recounted and rehashed (those overlapping the range, up to the
    /// first broken one).
    pub seals_checked: BigInt,
    /// The first broken position and what is wrong there; null when intact.
    pub first_break: Option<IntegrityBreak>,
}

/// Where the log is broken, and how.
#[derive(SimpleObject)]
pub struct IntegrityBreak {
    /// The first broken position: the event found wrong, or for a seal, the first position it
    /// covers (the seal shows that something in its run changed, not where).
    pub position: BigInt,
    /// What kind of break it is.
    pub problem: IntegrityProblem,
    /// What is wrong, in words.
    pub message: String,
    /// The stream of the broken event (null for a seal).
    pub stream_id: Option<Uuid>,
    /// The version of the broken event in its stream (null for a seal).
    pub version: Option<BigInt>,
    /// The number of the broken seal (null for an event).
    pub seal_no: Option<BigInt>,
}

/// The kinds of break `verifyIntegrity` tells apart.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityProblem {
    /// The event's content does not match its hash: it was altered (or its hash was).
    ContentAltered,
    /// The event does not link to the hash of the version before it in its stream.
    BrokenLink,
    /// The stream skips versions here: events were removed (or this one inserted).
    VersionGap,
    /// The event stands in the feed before the version preceding it: inserted out of order.
    OutOfOrder,
    /// A seal's count or digest does not match the events it covers now: events were removed,
    /// inserted or rehashed in its run.
    SealMismatch,
    /// A seal does not link to the seal before it: seals were altered.
    SealChainBroken,
}

impl From<store::IntegrityBreak> for IntegrityBreak {
    fn from(broken: store::IntegrityBreak) -> Self {
        use store::IntegrityProblem as P;
        let message = broken.problem.to_string();
        let version = |v: u64| Some(count(v));
        let (problem, stream_id, version, seal_no) = match broken.problem {
            P::ContentAltered {
                stream_id,
                version: v,
            } => (
                IntegrityProblem::ContentAltered,
                Some(stream_id),
                version(v),
                None,
            ),
            P::BrokenLink {
                stream_id,
                version: v,
            } => (
                IntegrityProblem::BrokenLink,
                Some(stream_id),
                version(v),
                None,
            ),
            P::VersionGap {
                stream_id,
                version: v,
                ..
            } => (
                IntegrityProblem::VersionGap,
                Some(stream_id),
                version(v),
                None,
            ),
            P::OutOfOrder {
                stream_id,
                version: v,
            } => (
                IntegrityProblem::OutOfOrder,
                Some(stream_id),
                version(v),
                None,
            ),
            P::SealMismatch { seal_no, .. } => (
                IntegrityProblem::SealMismatch,
                None,
                None,
                Some(BigInt(seal_no)),
            ),
            P::SealChainBroken { seal_no } => (
                IntegrityProblem::SealChainBroken,
                None,
                None,
                Some(BigInt(seal_no)),
            ),
        };
        Self {
            position: BigInt(broken.position),
            problem,
            message,
            stream_id,
            version,
            seal_no,
        }
    }
}
