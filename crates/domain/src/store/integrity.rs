//! Tamper evidence: seals over the feed and verification of hash links and seals.
//!
//! Each event's `hash` links its content digest to `prev_hash`, the hash of the previous event of
//! its stream (see [`super::digest`]): one chain per stream, so writers to different streams never
//! wait on each other. A per-stream chain cannot see a removed *last* event, or a forged event
//! slipped into the past of the feed with a correct hash; [`EventStore::seal`] therefore records,
//! now and then, the count and a digest of every event in feed order since the previous seal,
//! chained to that seal. [`EventStore::verify`] checks both and names the first broken position;
//! [`EventStore::verify_range`] does the same over a range of positions.
//!
//! A range is checked like this: every event whose position lies in it has its content and its
//! link recomputed, and the first one of each stream in the range is linked to the event before
//! it in its stream (by version), wherever that one lies, which is read but not itself checked.
//! Seals are checked whole: every seal whose positions (`min_position..=max_position`) overlap
//! the range, or whose run of the feed reaches the transactions of the range's events (a row
//! slipped into a sealed run with an old transaction id and a new position), is recounted and
//! rehashed over its entire run, and linked to the seal before it. A broken seal is named at its
//! first position, which may lie before the range.
//!
//! The hashes use no secret and the seals live in the same database: someone who rewrites a
//! stream's hashes *and* every later seal consistently, or appends a forged event with a correct
//! hash after the last seal, is not detected. Keeping seal hashes outside the database (or keying
//! them) would close that; it is not built yet.

use futures::TryStreamExt as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::digest::GENESIS_HASH;
use super::event::StoredEvent;
use super::row::{EventRow, EVENT_COLUMNS};

use super::error::StoreError;
use super::feed::FeedCursor;
use super::EventStore;

/// Advisory-lock key that keeps two processes from sealing at once (writers never take it).
const SEAL_LOCK_KEY: i64 = 0x5173_5265_7053_6561; // "SqReSea"

/// How many events a seal reads per round trip.
const SEAL_PAGE: i64 = 10_000;

/// Which positions a verification or an export covers: both ends inclusive, `None` open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl PositionRange {
    /// The whole log.
    pub const ALL: Self = Self {
        from: None,
        to: None,
    };

    /// The positions from `from` through `to`; refused when `from` is after `to`.
    pub fn new(from: Option<i64>, to: Option<i64>) -> Result<Self, InvalidRange> {
        match (from, to) {
            (Some(from), Some(to)) if from > to => Err(InvalidRange { from, to }),
            _ => Ok(Self { from, to }),
        }
    }

    /// Whether the range is the whole log.
    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether `position` lies in the range.
    pub fn contains(&self, position: i64) -> bool {
        self.from.is_none_or(|f| position >= f) && self.to.is_none_or(|t| position <= t)
    }

    /// Whether the positions `min..=max` overlap the range.
    fn overlaps(&self, min: i64, max: i64) -> bool {
        self.from.is_none_or(|f| max >= f) && self.to.is_none_or(|t| min <= t)
    }

    /// The bounds as SQL parameters (the open ends as the extremes of `bigint`).
    pub(crate) fn bounds(&self) -> (i64, i64) {
        (self.from.unwrap_or(i64::MIN), self.to.unwrap_or(i64::MAX))
    }
}

/// A range whose start lies after its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the range of positions from {from} to {to} is empty: from lies after to")]
pub struct InvalidRange {
    pub from: i64,
    pub to: i64,
}

/// A seal over a run of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    pub seal_no: i64,
    pub event_count: i64,
    pub min_position: i64,
    pub max_position: i64,
}

/// The outcome of [`EventStore::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Events whose hash link was checked.
    pub events_checked: u64,
    /// Seals whose events were recounted and rehashed.
    pub seals_checked: u64,
    /// The first broken position, if any.
    pub first_break: Option<IntegrityBreak>,
}

impl IntegrityReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Where the log is broken and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityBreak {
    pub position: i64,
    pub problem: IntegrityProblem,
}

/// What is wrong at a broken position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityProblem {
    #[error(
        "the content of stream {stream_id} version {version} does not match its hash (altered)"
    )]
    ContentAltered { stream_id: Uuid, version: u64 },
    #[error(
        "stream {stream_id} version {version} does not link to the hash of the version before it"
    )]
    BrokenLink { stream_id: Uuid, version: u64 },
    #[error("stream {stream_id} jumps to version {version} after version {previous} (events removed or inserted)")]
    VersionGap {
        stream_id: Uuid,
        previous: u64,
        version: u64,
    },
    #[error("stream {stream_id} version {version} stands before the version preceding it in the feed (inserted out of order)")]
    OutOfOrder { stream_id: Uuid, version: u64 },
    #[error("seal {seal_no} does not match the events it covers: sealed {sealed_count} events, found {found_count}{}", if *.digest_differs { ", digests differ" } else { "" })]
    SealMismatch {
        seal_no: i64,
        sealed_count: i64,
        found_count: i64,
        digest_differs: bool,
    },
    #[error("seal {seal_no} does not link to the seal before it (seals altered)")]
    SealChainBroken { seal_no: i64 },
}

#[derive(sqlx::FromRow)]
struct SealRow {
    seal_no: i64,
    after_tx: Option<i64>,
    after_position: Option<i64>,
    through_tx: i64,
    through_position: i64,
    event_count: i64,
    min_position: i64,
    max_position: i64,
    events_digest: Vec<u8>,
    prev_seal_hash: Vec<u8>,
    seal_hash: Vec<u8>,
}

const SEAL_COLUMNS: &str = "seal_no, after_tx::text::int8 AS after_tx, after_position, \
     through_tx::text::int8 AS through_tx, through_position, event_count, min_position, \
     max_position, events_digest, prev_seal_hash, seal_hash";

/// The running digest of a run of the feed.
struct FeedDigest {
    hasher: Sha256,
    count: i64,
    min_position: i64,
    max_position: i64,
    last: Option<FeedCursor>,
}

impl FeedDigest {
    fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            count: 0,
            min_position: i64::MAX,
            max_position: i64::MIN,
            last: None,
        }
    }

    fn add(&mut self, tx_id: i64, position: i64, hash: &[u8]) {
        self.hasher.update(position.to_be_bytes());
        self.hasher.update(hash);
        self.count += 1;
        self.min_position = self.min_position.min(position);
        self.max_position = self.max_position.max(position);
        self.last = Some(FeedCursor::new(tx_id.unsigned_abs(), position));
    }

    fn finish(self) -> Vec<u8> {
        self.hasher.finalize().to_vec()
    }
}

/// The hash that chains a seal to the one before it.
fn seal_hash(
    prev: &[u8],
    after: FeedCursor,
    through: FeedCursor,
    count: i64,
    events_digest: &[u8],
) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    for n in [after.tx_id(), through.tx_id()] {
        hasher.update(n.to_be_bytes());
    }
    for n in [after.position(), through.position(), count] {
        hasher.update(n.to_be_bytes());
    }
    hasher.update(events_digest);
    hasher.finalize().to_vec()
}

impl EventStore {
    /// Seals every event that has become final in the feed since the last seal. Returns the new
    /// seal, or `None` when there was nothing new. Safe to call from several processes.
    pub async fn seal(&self) -> Result<Option<Seal>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEAL_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let last: Option<SealRow> = sqlx::query_as(&format!(
            "SELECT {SEAL_COLUMNS} FROM feed_seals ORDER BY seal_no DESC LIMIT 1"
        ))
        .fetch_optional(&mut *tx)
        .await?;
        let (after, prev_hash) = match &last {
            Some(s) => (
                FeedCursor::new(s.through_tx.unsigned_abs(), s.through_position),
                s.seal_hash.clone(),
            ),
            None => (FeedCursor::START, GENESIS_HASH.to_vec()),
        };
        // Everything below this transaction id is final; fix it once so the seal has an end.
        let horizon: i64 =
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::int8")
                .fetch_one(&mut *tx)
                .await?;
        let digest = digest_feed(&mut tx, after, FeedBound::Horizon(horizon)).await?;
        let Some(through) = digest.last else {
            return Ok(None);
        };
        let (count, min_position, max_position) =
            (digest.count, digest.min_position, digest.max_position);
        let events_digest = digest.finish();
        let hash = seal_hash(&prev_hash, after, through, count, &events_digest);
        let seal_no: i64 = sqlx::query_scalar(
            "INSERT INTO feed_seals (after_tx, after_position, through_tx, through_position, \
                 event_count, min_position, max_position, events_digest, prev_seal_hash, seal_hash) \
             VALUES ($1::text::xid8, $2, $3::text::xid8, $4, $5, $6, $7, $8, $9, $10) \
             RETURNING seal_no",
        )
        .bind(last.as_ref().map(|_| after.tx_id().to_string()))
        .bind(last.as_ref().map(|_| after.position()))
        .bind(through.tx_id().to_string())
        .bind(through.position())
        .bind(count)
        .bind(min_position)
        .bind(max_position)
        .bind(&events_digest)
        .bind(&prev_hash)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Seal {
            seal_no,
            event_count: count,
            min_position,
            max_position,
        }))
    }

    /// Checks every event's hash link, and every seal against the events it covers, and names
    /// the first broken position. Read-only.
    pub async fn verify(&self) -> Result<IntegrityReport, StoreError> {
        self.verify_range(PositionRange::ALL).await
    }

    /// [`EventStore::verify`] over the events whose positions lie in `range`, and the seals that
    /// overlap it (see the module's documentation). Read-only.
    ///
    /// When a seal does not match and an event of its run breaks its own chain, the event is
    /// named: it says where, where the seal only says that something in its run changed.
    pub async fn verify_range(&self, range: PositionRange) -> Result<IntegrityReport, StoreError> {
        let (events_checked, chain_break) = self.verify_chains(range).await?;
        let (seals_checked, seal_break) = self.verify_seals(range).await?;
        let first_break = match (chain_break, seal_break) {
            (Some(chain), Some((seal, max_position)))
                if (seal.position..=max_position).contains(&chain.position) =>
            {
                Some(chain)
            }
            (chain, seal) => [chain, seal.map(|(b, _)| b)]
                .into_iter()
                .flatten()
                .min_by_key(|b| b.position),
        };
        Ok(IntegrityReport {
            events_checked,
            seals_checked,
            first_break,
        })
    }

    /// The per-stream hash chains: every event's content and link recomputed, stream by stream.
    /// Outside the whole log, the event before each stream's first one in the range comes too,
    /// as the link to check that one against.
    async fn verify_chains(
        &self,
        range: PositionRange,
    ) -> Result<(u64, Option<IntegrityBreak>), StoreError> {
        let sql = if range.is_all() {
            format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY stream_id, stream_version")
        } else {
            format!(
                "WITH firsts AS (SELECT stream_id AS first_stream, min(stream_version) AS first_version \
                                   FROM events WHERE position BETWEEN $1 AND $2 GROUP BY stream_id) \
                 SELECT {EVENT_COLUMNS} FROM events WHERE position BETWEEN $1 AND $2 \
                 UNION ALL \
                 SELECT before.* FROM firsts CROSS JOIN LATERAL \
                        (SELECT {EVENT_COLUMNS} FROM events \
                          WHERE stream_id = first_stream AND stream_version < first_version \
                          ORDER BY stream_version DESC LIMIT 1) AS before \
                  ORDER BY stream_id, stream_version"
            )
        };
        let (from, to) = range.bounds();
        let mut rows = sqlx::query_as::<_, EventRow>(&sql)
            .bind(from)
            .bind(to)
            .fetch(&self.pool);
        let mut checked = 0u64;
        let mut first: Option<IntegrityBreak> = None;
        let mut previous: Option<StoredEvent> = None;
        while let Some(row) = rows.try_next().await? {
            let event = StoredEvent::from(row);
            // The event a stream's first one in the range links to: context, not checked.
            if !range.contains(event.position) {
                previous = Some(event);
                continue;
            }
            checked += 1;
            let prior = previous
                .as_ref()
                .filter(|p| p.stream.stream_id == event.stream.stream_id);
            if let Some(problem) = chain_problem(prior, &event) {
                if first.as_ref().is_none_or(|f| event.position < f.position) {
                    first = Some(IntegrityBreak {
                        position: event.position,
                        problem,
                    });
                }
            }
            previous = Some(event);
        }
        Ok((checked, first))
    }

    /// The seals overlapping `range`, each with its link to the seal before it and its whole run
    /// recounted and rehashed. The first broken one comes with the last position it covers.
    async fn verify_seals(
        &self,
        range: PositionRange,
    ) -> Result<(u64, Option<(IntegrityBreak, i64)>), StoreError> {
        let seals: Vec<SealRow> = sqlx::query_as(&format!(
            "SELECT {SEAL_COLUMNS} FROM feed_seals ORDER BY seal_no"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut conn = self.pool.acquire().await?;
        // The transactions of the range's events: a seal whose run of the feed reaches into them
        // is checked too, even when the positions it recorded do not overlap the range (a row
        // slipped into its run later, with an old transaction id and a new position).
        // (The whole log overlaps every seal by position: no need to ask.)
        // The first and last of the range's events in feed order, as (tx_id, position).
        let span: Option<((i64, i64), (i64, i64))> = if range.is_all() {
            None
        } else {
            let (from, to) = range.bounds();
            let end_of = |order: &'static str| {
                format!(
                    "SELECT tx_id::text::int8, position FROM events \
                      WHERE position BETWEEN $1 AND $2 ORDER BY tx_id {order}, position {order} \
                      LIMIT 1"
                )
            };
            let first: Option<(i64, i64)> = sqlx::query_as(&end_of("ASC"))
                .bind(from)
                .bind(to)
                .fetch_optional(&mut *conn)
                .await?;
            let last: Option<(i64, i64)> = sqlx::query_as(&end_of("DESC"))
                .bind(from)
                .bind(to)
                .fetch_optional(&mut *conn)
                .await?;
            first.zip(last)
        };
        // A seal's run is the feed after `after` through `through`.
        let reaches_range = |seal: &SealRow| {
            span.is_some_and(|(first, last)| {
                let after = (seal.after_tx.unwrap_or(0), seal.after_position.unwrap_or(0));
                after < last && (seal.through_tx, seal.through_position) >= first
            })
        };
        let mut prev_hash = GENESIS_HASH.to_vec();
        let mut checked = 0;
        for seal in &seals {
            if !range.overlaps(seal.min_position, seal.max_position) && !reaches_range(seal) {
                prev_hash.clone_from(&seal.seal_hash);
                continue;
            }
            let after = match (seal.after_tx, seal.after_position) {
                (Some(tx), Some(position)) => FeedCursor::new(tx.unsigned_abs(), position),
                _ => FeedCursor::START,
            };
            let through = FeedCursor::new(seal.through_tx.unsigned_abs(), seal.through_position);
            let expected_hash = seal_hash(
                &prev_hash,
                after,
                through,
                seal.event_count,
                &seal.events_digest,
            );
            if seal.prev_seal_hash != prev_hash || seal.seal_hash != expected_hash {
                let problem = IntegrityProblem::SealChainBroken {
                    seal_no: seal.seal_no,
                };
                return Ok((checked, Some(seal_break(seal, problem))));
            }
            let digest = digest_feed(&mut conn, after, FeedBound::Through(through)).await?;
            checked += 1;
            let found_count = digest.count;
            let digest_differs = digest.finish() != seal.events_digest;
            if digest_differs || found_count != seal.event_count {
                let problem = IntegrityProblem::SealMismatch {
                    seal_no: seal.seal_no,
                    sealed_count: seal.event_count,
                    found_count,
                    digest_differs,
                };
                return Ok((checked, Some(seal_break(seal, problem))));
            }
            prev_hash.clone_from(&seal.seal_hash);
        }
        Ok((checked, None))
    }
}

/// A broken seal, named at its first position, with its last.
fn seal_break(seal: &SealRow, problem: IntegrityProblem) -> (IntegrityBreak, i64) {
    let named = IntegrityBreak {
        position: seal.min_position,
        problem,
    };
    (named, seal.max_position)
}

/// Where a digest of the feed stops.
enum FeedBound {
    /// Before this transaction id (exclusive): everything final when the seal began.
    Horizon(i64),
    /// At this cursor (inclusive): the end of an existing seal.
    Through(FeedCursor),
}

/// Digests the feed after `after` up to `bound`, page by page.
async fn digest_feed(
    conn: &mut sqlx::PgConnection,
    after: FeedCursor,
    bound: FeedBound,
) -> Result<FeedDigest, StoreError> {
    let (horizon, through) = match bound {
        FeedBound::Horizon(h) => (Some(h), None),
        FeedBound::Through(c) => (None, Some(c)),
    };
    let mut digest = FeedDigest::new();
    let mut cursor = after;
    loop {
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT tx_id::text::int8, position, hash FROM events \
              WHERE (tx_id, position) > ($1::text::xid8, $2) \
                AND ($3::int8 IS NULL OR tx_id < $3::text::xid8) \
                AND ($4::int8 IS NULL OR (tx_id, position) <= ($4::text::xid8, $5)) \
              ORDER BY events.tx_id, events.position LIMIT $6",
        )
        .bind(cursor.tx_id().to_string())
        .bind(cursor.position())
        .bind(horizon)
        .bind(through.map(|c| c.tx_id().to_string()))
        .bind(through.map(|c| c.position()))
        .bind(SEAL_PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for (tx_id, position, hash) in &rows {
            digest.add(*tx_id, *position, hash);
        }
        match digest.last {
            Some(last) if rows.len() as i64 == SEAL_PAGE => cursor = last,
            _ => return Ok(digest),
        }
    }
}

/// What is wrong with `event`, given the event before it in its stream (`None`: it is the first).
fn chain_problem(prior: Option<&StoredEvent>, event: &StoredEvent) -> Option<IntegrityProblem> {
    let stream_id = event.stream.stream_id;
    let version = event.stream_version;
    let previous = prior.map_or(0, |p| p.stream_version);
    if version != previous + 1 {
        return Some(IntegrityProblem::VersionGap {
            stream_id,
            previous,
            version,
        });
    }
    if event.hash != event.computed_hash() {
        return Some(IntegrityProblem::ContentAltered { stream_id, version });
    }
    let expected_prev = prior.map_or(&GENESIS_HASH[..], |p| &p.hash[..]);
    if event.prev_hash != expected_prev {
        return Some(IntegrityProblem::BrokenLink { stream_id, version });
    }
    if prior.is_some_and(|p| (p.tx_id, p.position) >= (event.tx_id, event.position)) {
        return Some(IntegrityProblem::OutOfOrder { stream_id, version });
    }
    None
}
