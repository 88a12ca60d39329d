//! End to end: the `sitrep` binary serving over HTTP, on an external database and on its
//! embedded default.

mod common;

use std::path::Path;

use common::Server;
use serde_json::json;
use sitrep_domain::store::{EventStore, ExpectedVersion, NewEvent, StreamRef};
use sitrep_embedded_pg::{Cluster, ClusterConfig};
use sitrep_testkit::TestDb;
use uuid::Uuid;

async fn append_one(store: &EventStore) {
    let stream = StreamRef::new("incident", Uuid::new_v4());
    let event = NewEvent::new(
        "IncidentReported",
        json!({ "location": "Al Asad Air Base" }),
        "e2e",
    );
    store
        .append(&stream, ExpectedVersion::NoStream, &[event])
        .await
        .expect("append");
}

#[tokio::test]
async fn serves_health_and_graphql_on_database_url() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    append_one(&EventStore::new(db.pool.clone())).await;
    let url = db.url();
    let mut server = Server::start(&[("DATABASE_URL", url.as_str())], false);
    server.wait_healthy().await;
    let answer = server.graphql("{ serverVersion latestPosition }").await;
    assert_eq!(answer["data"]["serverVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(answer["data"]["latestPosition"], 1);
    let bad = server.graphql("{ noSuchField }").await;
    assert!(bad["errors"][0]["message"].as_str().is_some());
    server.stop();
}

#[tokio::test]
async fn the_embedded_default_keeps_its_data_across_restarts() {
    let folder = tempfile::Builder::new()
        .prefix("sitrep-e2e-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    // The cluster may run as another user (when the tests run as root): let it reach the folder.
    std::fs::set_permissions(
        folder.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let data_dir = folder.path().to_str().expect("utf-8 path").to_owned();
    let envs = [("SITREP_DATA_DIR", data_dir.as_str())];

    // First start: sitrep creates and starts its own cluster.
    let mut server = Server::start(&envs, true);
    server.wait_healthy().await;
    let cluster_dir = folder.path().join("postgres");
    assert!(
        cluster_dir.join("PG_VERSION").exists(),
        "sitrep initialised its cluster"
    );
    let answer = server.graphql("{ latestPosition }").await;
    assert_eq!(answer["data"]["latestPosition"], 0);

    // Write through the cluster sitrep runs.
    let cluster = Cluster::start(ClusterConfig::new(&cluster_dir))
        .await
        .expect("join the running cluster");
    assert!(
        !cluster.started_here(),
        "sitrep's cluster was already running"
    );
    let pool = sqlx::PgPool::connect_with(cluster.connect_options_for("sitrep"))
        .await
        .expect("connect");
    append_one(&EventStore::new(pool.clone())).await;
    pool.close().await;
    assert_eq!(
        server.graphql("{ latestPosition }").await["data"]["latestPosition"],
        1
    );

    // Stop: the cluster stops with sitrep.
    server.stop();
    assert!(!running(&cluster_dir), "the cluster stopped with sitrep");

    // Start again: the data is still there.
    let mut server = Server::start(&envs, true);
    server.wait_healthy().await;
    assert_eq!(
        server.graphql("{ latestPosition }").await["data"]["latestPosition"],
        1
    );
    server.stop();
    assert!(!running(&cluster_dir));
}

fn running(cluster_dir: &Path) -> bool {
    cluster_dir.join("postmaster.pid").exists()
}
