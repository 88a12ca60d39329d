//! What the end-to-end tests share: a spawned `sitrep serve`, the `sitrep` command line, and
//! GraphQL over real HTTP.
#![allow(dead_code)] // Each test binary uses its own part.

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A running `sitrep serve`, stopped with SIGTERM on drop.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(envs: &[(&str, &str)], remove_database_url: bool) -> Server {
        Self::start_with(envs, remove_database_url, &[])
    }

    pub fn start_with(envs: &[(&str, &str)], remove_database_url: bool, args: &[&str]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
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

    pub async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // The child first: if it died (its port taken, say), no other server that may
            // answer on the port is mistaken for it.
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sitrep serve exited early: {status}");
            }
            if let Ok(response) = reqwest::get(format!("{}/healthz", self.base)).await {
                assert_eq!(response.status(), 200, "healthz answers 200 once up");
                let body: Value = serde_json::from_str(&response.text().await.expect("body"))
                    .expect("healthz says JSON");
                assert_eq!(body["status"], "ok");
                return;
            }
            assert!(Instant::now() < deadline, "sitrep serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn graphql(&self, query: &str) -> Value {
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
    pub fn stop(mut self) {
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

impl Server {
    /// `sitrep serve` on the database at `url`, with extra flags, healthy.
    pub async fn on(url: &str, args: &[&str]) -> Server {
        let mut server = Server::start_with(&[("DATABASE_URL", url)], false, args);
        server.wait_healthy().await;
        server
    }

    /// A GraphQL POST with `variables`, as `token`'s holder (anonymous with `None`): the status
    /// and the body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `data` of a POST that must succeed.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(token, query, variables).await;
        assert!(
            status == 200 && body.get("errors").is_none(),
            "{query}: {status} {body:#}"
        );
        body["data"].clone()
    }
}

/// Runs the `sitrep` command line on the database at `url`.
pub fn sitrep(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("SITREP_LOG", "warn")
        .output()
        .expect("run sitrep")
}

/// The standard output of a `sitrep` run that must have succeeded (`what` names it on failure).
pub fn stdout_of(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} exited with {}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Issues a token with `sitrep token issue` and returns it.
pub fn issue_token(url: &str, role: &str, name: &str) -> String {
    let output = sitrep(url, &["token", "issue", "--role", role, "--name", name]);
    assert!(
        output.status.success(),
        "token issue: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// `sitrep rebuild`'s output once every read model applied all `events`: the feed holds back
/// events committed after a transaction still open anywhere in the cluster (another test's), so
/// a rebuild may go live a little short of them.
pub async fn rebuild_of_all(url: &str, events: u32) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = stdout_of(&sitrep(url, &["rebuild"]), "sitrep rebuild");
        if out
            .lines()
            .all(|line| line.contains(&format!(" {events} events applied")))
        {
            return out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rebuilds stayed short:\n{out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
