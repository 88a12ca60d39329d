//! The server's memory of tokens against a real database: the set of revoked tokens that open
//! WebSocket connections watch follows `sitrep token revoke` (its `NOTIFY`), read once per
//! revocation for the whole server.

use std::time::Duration;

use sitrep_api::auth::Role;
use sitrep_api::token_cache::TokenCache;
use sitrep_api::tokens;
use sitrep_domain::store::EventStore;
use sitrep_testkit::TestDb;

#[tokio::test]
async fn the_revoked_tokens_follow_each_revocation() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let cache = TokenCache::new(EventStore::new(db.pool.clone()));
    let wall = tokens::issue(&db.pool, "wall screen", Role::Viewer)
        .await
        .expect("issue");
    let desk = tokens::issue(&db.pool, "desk editor", Role::Recorder)
        .await
        .expect("issue");
    let mut revoked = cache.revoked_tokens();
    // Two watchers share one reader.
    let mut other = cache.revoked_tokens();

    // The first read, before any revocation: nothing revoked.
    tokio::time::timeout(Duration::from_secs(10), revoked.changed())
        .await
        .expect("the first read within 10 s")
        .expect("the reader runs");
    assert!(revoked.borrow_and_update().is_empty());

    tokens::revoke(&db.pool, "wall screen")
        .await
        .expect("revoke");
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if revoked.borrow_and_update().contains(&wall.token_id) {
                return revoked.borrow().clone();
            }
            revoked.changed().await.expect("the reader runs");
        }
    })
    .await
    .expect("the revocation is seen within 10 s");
    assert!(!seen.contains(&desk.token_id), "only the revoked one");
    tokio::time::timeout(Duration::from_secs(10), async {
        while !other.borrow_and_update().contains(&wall.token_id) {
            other.changed().await.expect("the reader runs");
        }
    })
    .await
    .expect("the other watcher sees it too");
}
