//! End to end: the `sitrep` binary serving over HTTP, on an external database and on its
//! embedded default.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitrep_domain::store::{EventStore, ExpectedVersion, NewEvent, StreamRef};
use sitrep_embedded_pg::{Cluster, ClusterConfig};
use sitrep_testkit::TestDb;
use uuid::Uuid;

/// A running `sitrep serve`, stopped with SIGTERM on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(envs: &[(&str, &str)], remove_database_url: bool) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(envs.iter().copied())
            .env("SITREP_LOG", "warn")
            .stdout(Stdio::null());
        if remove_database_url {
            command.env_remove("DATABASE_URL");
        }
        let child = command.spawn().expect("spawn sitrep serve");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/healthz", self.base)).await {
                assert_eq!(response.status(), 200, "healthz answers 200 once up");
                let body: Value = serde_json::from_str(&response.text().await.expect("body"))
                    .expect("healthz says JSON");
                assert_eq!(body["status"], "ok");
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sitrep serve exited early: {status}");
            }
            assert!(Instant::now() < deadline, "sitrep serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn graphql(&self, query: &str) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .header("content-type", "application/json")
            .body(json!({ "query": query }).to_string())
            .send()
            .await
            .expect("POST /graphql");
        assert_eq!(response.status(), 200);
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON")
    }

    /// SIGTERM, then wait for a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "sitrep serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "sitrep serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

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
