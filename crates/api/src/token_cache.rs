//! A server's memory of the bearer tokens it has lately seen, so that a busy client's requests
//! do not each look their token up in the database.
//!
//! Only live tokens are remembered (an unknown token is looked up every time, so a token issued
//! a moment ago works at once), for at most [`REMEMBER_FOR`], and at most [`CAPACITY`] of
//! them. Revoking a token sends `NOTIFY sitrep_tokens` ([`crate::tokens::revoke`]); on that
//! notification, and whenever the listening connection had to be opened again (a notification
//! may have been missed), the server forgets every token, so a revoked token is refused from
//! the next request on. The same notification refreshes the set of revoked tokens that open
//! WebSocket connections watch ([`TokenCache::revoked_tokens`]): one query per revocation for
//! the whole server, however many connections are open.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sitrep_domain::store::EventStore;
use tokio::sync::watch;

use crate::tokens::{self, TokenError, TokenHolder, TOKENS_CHANNEL};
use crate::wakers::ChannelWaker;

/// How long a live token is believed without asking the database again.
pub const REMEMBER_FOR: Duration = Duration::from_secs(10);
/// How long the reader of revoked tokens waits before asking again after the database failed.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The ids of the revoked tokens, as last read.
pub type RevokedTokens = Arc<HashSet<uuid::Uuid>>;

/// How many tokens are remembered at once; when full, all are forgotten.
pub const CAPACITY: usize = 10_000;

/// Live tokens by the digest of their secret.
#[derive(Clone)]
pub struct TokenCache {
    store: EventStore,
    waker: ChannelWaker,
    remembered: Arc<Mutex<Remembered>>,
    /// The revoked tokens, read again after each revocation heard (started when first asked).
    revoked: Arc<OnceLock<watch::Receiver<RevokedTokens>>>,
}

#[derive(Default)]
struct Remembered {
    holders: HashMap<[u8; 32], (TokenHolder, Instant)>,
    /// Revocations (and reconnections of the listener), seen when subscribed.
    revocations: Option<watch::Receiver<u64>>,
}

impl TokenCache {
    pub fn new(store: EventStore) -> Self {
        Self {
            store,
            waker: ChannelWaker::new(TOKENS_CHANNEL),
            remembered: Arc::new(Mutex::new(Remembered::default())),
            revoked: Arc::new(OnceLock::new()),
        }
    }

    /// Who holds `secret`, if it is a live token: from memory when it was seen live lately and
    /// no token was revoked since, else from the database.
    pub async fn holder(&self, secret: &str) -> Result<Option<TokenHolder>, TokenError> {
        let digest = tokens::digest(secret);
        if let Some(holder) = self.recall(&digest) {
            return Ok(Some(holder));
        }
        // The count of revocations heard before the lookup: if one is heard while the lookup
        // runs, its answer may be stale and is not remembered.
        let heard = self.subscribe();
        let holder = tokens::holder(self.store.pool(), secret).await?;
        if let Some(holder) = &holder {
            self.remember(digest, holder.clone(), heard);
        }
        Ok(holder)
    }

    /// A receiver that changes whenever a token is revoked (or a revocation may have been
    /// missed while the listener reconnected); what was revoked must be looked up.
    pub fn revocations(&self) -> watch::Receiver<u64> {
        self.waker.subscribe(&self.store)
    }

    /// The ids of the revoked tokens, read by one task for the whole server: at first, and
    /// again after each revocation heard (or each time the listener had to reconnect).
    pub fn revoked_tokens(&self) -> watch::Receiver<RevokedTokens> {
        self.revoked
            .get_or_init(|| {
                let (sender, receiver) = watch::channel(RevokedTokens::default());
                tokio::spawn(read_revoked(self.store.clone(), self.revocations(), sender));
                receiver
            })
            .clone()
    }

    /// Whether the token `token_id` is still live, asked of the database.
    pub async fn is_live(&self, token_id: uuid::Uuid) -> Result<bool, TokenError> {
        tokens::is_live(self.store.pool(), token_id).await
    }

    fn recall(&self, digest: &[u8; 32]) -> Option<TokenHolder> {
        let mut remembered = self.remembered.lock().ok()?;
        let revoked = match remembered.revocations.as_mut() {
            // Not listening yet: nothing is remembered either.
            None => return None,
            Some(revocations) => revocations.has_changed().unwrap_or(true),
        };
        if revoked {
            remembered.holders.clear();
            if let Some(revocations) = remembered.revocations.as_mut() {
                revocations.mark_unchanged();
            }
            return None;
        }
        match remembered.holders.get(digest) {
            Some((holder, seen)) if seen.elapsed() < REMEMBER_FOR => Some(holder.clone()),
            _ => None,
        }
    }

    /// Listens for revocations (from the first call on); returns how many have been heard.
    fn subscribe(&self) -> Option<u64> {
        let mut remembered = self.remembered.lock().ok()?;
        let revocations = remembered.revocations.get_or_insert_with(|| {
            let mut revocations = self.waker.subscribe(&self.store);
            revocations.mark_unchanged();
            revocations
        });
        let heard = *revocations.borrow();
        Some(heard)
    }

    /// Remembers `holder` unless a revocation was heard since `heard` was counted (then the
    /// lookup may have read the token just before it was revoked).
    fn remember(&self, digest: [u8; 32], holder: TokenHolder, heard: Option<u64>) {
        let Ok(mut remembered) = self.remembered.lock() else {
            return;
        };
        let now_heard = remembered
            .revocations
            .as_ref()
            .map(|revocations| *revocations.borrow());
        if heard.is_none() || now_heard != heard {
            return;
        }
        if remembered.holders.len() >= CAPACITY {
            remembered.holders.clear();
        }
        remembered.holders.insert(digest, (holder, Instant::now()));
    }
}

/// Reads the revoked tokens into `revoked`, then again after each change of `heard`, for as
/// long as the server runs; a failed read is tried again until it succeeds.
async fn read_revoked(
    store: EventStore,
    mut heard: watch::Receiver<u64>,
    revoked: watch::Sender<RevokedTokens>,
) {
    loop {
        match tokens::revoked_ids(store.pool()).await {
            Ok(ids) => {
                revoked.send_replace(Arc::new(ids));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the revoked tokens; asking again");
                tokio::time::sleep(RETRY_AFTER_ERROR).await;
                continue;
            }
        }
        if heard.changed().await.is_err() {
            return;
        }
    }
}
