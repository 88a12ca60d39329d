//! End to end: GraphQL subscriptions over WebSocket against a spawned `sitrep serve`, in both
//! protocols (`graphql-transport-ws` and the legacy `graphql-ws`).
//!
//! A subscriber sees every event recorded by 8 concurrent writers exactly once and in feed
//! order, and goes on from its cursor after its connection is dropped.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{issue_token, sitrep, Server};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use sitrep_domain::store::{EventStore, FeedCursor};
use sitrep_testkit::TestDb;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A GraphQL WebSocket client speaking one of the two protocols.
struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    legacy: bool,
}

impl Subscriber {
    /// Connects, sends `connection_init` with `token`, and waits for the ack (`None` when the
    /// server closes the connection instead).
    async fn connect(server: &Server, legacy: bool, token: Option<&str>) -> Option<Subscriber> {
        let url = format!("{}/graphql", server.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocol.parse().expect("header value"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket upgrade");
        let mut subscriber = Subscriber { socket, legacy };
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        subscriber
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match subscriber.next().await {
            Some(message) if message["type"] == "connection_ack" => Some(subscriber),
            _ => None,
        }
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// The next protocol message other than keep-alives; `None` when the connection closes.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("a message within 30 s")?;
            match message.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ka" || value["type"] == "ping" {
                        continue;
                    }
                    return Some(value);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The code of the close frame the server ends the connection with (other messages are
    /// skipped); `None` when the connection ends without one.
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("the connection closes within 30 s")?;
            match message {
                Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Connects as `token`'s holder and subscribes (id "1") to every incident event from the
    /// start of the feed ([`EVENTS`]).
    async fn following(server: &Server, legacy: bool, token: Option<&str>) -> Subscriber {
        let mut socket = Subscriber::connect(server, legacy, token)
            .await
            .expect("connect");
        socket
            .subscribe(
                "1",
                EVENTS,
                json!({ "after": FeedCursor::START.to_string() }),
            )
            .await;
        socket
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(json!({
            "id": id, "type": kind,
            "payload": { "query": query, "variables": variables }
        }))
        .await;
    }

    /// The `data` of the next result, or the errors of a failed operation.
    async fn result(&mut self) -> Result<Value, Value> {
        let mut message = self.next().await.expect("a result");
        // The end of an earlier operation (a query's, say) is not a result.
        while message["type"] == "complete" {
            message = self.next().await.expect("a result");
        }
        let next = if self.legacy { "data" } else { "next" };
        if message["type"] == next {
            match message["payload"].get("errors") {
                Some(errors) => Err(errors.clone()),
                None => Ok(message["payload"]["data"].clone()),
            }
        } else {
            Err(message["payload"].clone())
        }
    }
}

const EVENTS: &str = r#"
subscription($after: FeedCursor) {
  eventRecorded(after: $after, filter: { streamTypes: ["incident"] }) {
    cursor eventId streamId eventType recordedBy
  }
}"#;

const REPORT: &str = r#"
mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { incidentId } }"#;

fn report(country: &str, location: &str) -> Value {
    json!({ "input": { "facts": {
        "time": { "start": "2024-01-20" },
        "place": { "country": country, "location": location, "precision": "EXACT",
                   "coordinates": { "latitude": 33.8, "longitude": 42.44 } },
        "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
        "subEventType": "AIR_DRONE_STRIKE",
        "fatalities": { "best": 0 }
    }}})
}

const WRITERS: usize = 8;
const REPORTS_EACH: usize = 15;

#[tokio::test]
async fn a_subscriber_sees_every_event_of_concurrent_writers_once_in_order_and_resumes() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let recorder = issue_token(&url, "recorder", "desk editor");
    let start = FeedCursor::START.to_string();

    let mut first = Subscriber::connect(&server, false, None)
        .await
        .expect("anonymous subscribers may read");
    first
        .subscribe("1", EVENTS, json!({ "after": start }))
        .await;

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let base = server.base.clone();
            let token = recorder.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0..REPORTS_EACH {
                    let body = json!({
                        "query": REPORT,
                        "variables": report("IRQ", &format!("writer {writer} report {n}")),
                    });
                    let response = client
                        .post(format!("{base}/graphql"))
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {token}"))
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("POST");
                    let text = response.text().await.expect("body");
                    assert!(!text.contains("\"errors\""), "{text}");
                }
            })
        })
        .collect();

    // Half the events on the first connection, then it drops.
    let total = WRITERS * REPORTS_EACH;
    let mut received: Vec<Value> = Vec::new();
    while received.len() < total / 2 {
        let data = first.result().await.expect("an event");
        received.push(data["eventRecorded"].clone());
    }
    drop(first);

    // The rest on a new connection in the legacy protocol, from the last cursor.
    let last_cursor = received.last().expect("events")["cursor"].clone();
    let mut second = Subscriber::connect(&server, true, Some(&recorder))
        .await
        .expect("connect again");
    second
        .subscribe("2", EVENTS, json!({ "after": last_cursor }))
        .await;
    while received.len() < total {
        let data = second.result().await.expect("an event");
        received.push(data["eventRecorded"].clone());
    }
    for writer in writers {
        writer.await.expect("writer");
    }

    // Exactly once, and in the feed's order.
    let ids: Vec<String> = received
        .iter()
        .map(|e| e["eventId"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        total,
        "no repeats"
    );
    let store = EventStore::new(db.pool.clone());
    let feed = store
        .read_feed(FeedCursor::START, 10_000)
        .await
        .expect("feed");
    let feed_ids: Vec<String> = feed.events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(ids, feed_ids, "every event, in feed order");
    assert!(received.iter().all(|e| e["recordedBy"] == "desk editor"));
    assert!(received
        .iter()
        .all(|e| e["eventType"] == "IncidentReported"));

    // Nothing more comes: the writers are done.
    let more = tokio::time::timeout(Duration::from_millis(500), second.next()).await;
    assert!(more.is_err(), "an event no writer recorded: {more:?}");
    server.stop();
}

#[tokio::test]
async fn incident_reports_are_filtered_and_start_from_now() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let recorder = issue_token(&url, "recorder", "desk editor");
    // Recorded before the subscription: not sent, as `after` is left out.
    server
        .data(Some(&recorder), REPORT, report("JOR", "before"))
        .await;

    let mut subscriber = Subscriber::connect(&server, false, None)
        .await
        .expect("connect");
    subscriber
        .subscribe(
            "1",
            r#"subscription {
                 incidentReported(filter: { countries: ["JOR"] }) {
                   incidentId location country eventType subEventType recordedBy
                   fatalities { best }
                 }
               }"#,
            json!({}),
        )
        .await;
    // When the subscription has read the head of the feed cannot be seen from outside: record
    // a report elsewhere and one in Jordan until one reaches the subscriber. What arrives is
    // only ever a report in Jordan recorded after the start: never the one from before it, and
    // never one elsewhere.
    let mut first = None;
    for probe in 0..50 {
        server
            .data(Some(&recorder), REPORT, report("IRQ", "elsewhere"))
            .await;
        server
            .data(
                Some(&recorder),
                REPORT,
                report("JOR", &format!("Tower 22, probe {probe}")),
            )
            .await;
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await
        {
            first = Some(message);
            break;
        }
    }
    let message = first.expect("a report reached the subscriber");
    assert_eq!(message["type"], "next", "{message}");
    let report = &message["payload"]["data"]["incidentReported"];
    assert!(
        report["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("Tower 22, probe")),
        "{report}"
    );
    assert_eq!(report["country"], "JOR");
    assert_eq!(report["eventType"], "EXPLOSIONS_REMOTE_VIOLENCE");
    assert_eq!(report["subEventType"], "AIR_DRONE_STRIKE");
    assert_eq!(report["recordedBy"], "desk editor");
    assert_eq!(report["fatalities"]["best"], 0);
    let recorded: Vec<String> = sqlx::query_scalar(
        "SELECT stream_id::text FROM events WHERE payload::text LIKE '%Tower 22, probe%'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("probes");
    assert!(
        recorded.iter().any(|id| report["incidentId"] == *id),
        "the report is one of the probes recorded"
    );
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(500), subscriber.next()).await
    {
        let location = message["payload"]["data"]["incidentReported"]["location"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(location.starts_with("Tower 22, probe"), "{message}");
    }
    server.stop();
}

#[tokio::test]
async fn subscriptions_obey_access_control() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &["--anonymous-reads", "false"]).await;
    let viewer = issue_token(&url, "viewer", "dashboard wall");

    // A token that is not one: the connection is refused at init.
    assert!(
        Subscriber::connect(&server, false, Some("sitrep_forged"))
            .await
            .is_none(),
        "a forged token is refused"
    );
    // No token while anonymous reads are off: the subscription is refused.
    let mut anonymous = Subscriber::connect(&server, false, None)
        .await
        .expect("connect");
    anonymous.subscribe("1", EVENTS, json!({})).await;
    let errors = anonymous.result().await.expect_err("refused");
    assert_eq!(
        errors[0]["extensions"]["code"], "UNAUTHENTICATED",
        "{errors}"
    );
    // A viewer's subscription runs.
    let mut viewer_socket = Subscriber::following(&server, true, Some(&viewer)).await;
    let recorder = issue_token(&url, "recorder", "desk editor");
    server
        .data(Some(&recorder), REPORT, report("SYR", "al-Tanf"))
        .await;
    let data = viewer_socket.result().await.expect("an event");
    assert_eq!(data["eventRecorded"]["recordedBy"], "desk editor");
    server.stop();
}

#[tokio::test]
async fn revoking_a_token_closes_its_subscriptions_and_no_others() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let old_screen = issue_token(&url, "viewer", "old wall screen");
    let newsroom = issue_token(&url, "viewer", "newsroom wall");
    let recorder = issue_token(&url, "recorder", "desk editor");
    let mut revoked = Vec::new();
    for legacy in [false, true] {
        revoked.push(Subscriber::following(&server, legacy, Some(&old_screen)).await);
    }
    let mut kept = Subscriber::following(&server, false, Some(&newsroom)).await;
    server
        .data(Some(&recorder), REPORT, report("IRQ", "Ain al-Asad"))
        .await;
    for socket in revoked.iter_mut().chain([&mut kept]) {
        let data = socket.result().await.expect("the first event");
        assert_eq!(data["eventRecorded"]["recordedBy"], "desk editor");
    }

    let revocation = sitrep(&url, &["token", "revoke", "--name", "old wall screen"]);
    assert!(revocation.status.success());
    for socket in &mut revoked {
        assert_eq!(
            socket.close_code().await,
            Some(4403),
            "the revoked token's connection is closed as Forbidden (legacy: {})",
            socket.legacy
        );
    }
    // The other token's subscription goes on.
    server
        .data(Some(&recorder), REPORT, report("SYR", "al-Tanf"))
        .await;
    let data = kept.result().await.expect("the second event");
    assert_eq!(data["eventRecorded"]["recordedBy"], "desk editor");
    // A revoked token cannot open a new connection either.
    assert!(Subscriber::connect(&server, false, Some(&old_screen))
        .await
        .is_none());
    server.stop();
}

#[tokio::test]
async fn a_query_over_the_socket_that_runs_too_long_is_stopped_with_timeout() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &["--request-timeout", "1"]).await;
    let mut socket = Subscriber::connect(&server, false, None)
        .await
        .expect("connect");
    // The query reads the sites read model, which another session holds locked (a table no
    // projector writes in this empty log). Taking an ACCESS EXCLUSIVE lock gives the locking
    // transaction an id, which holds back every feed in the cluster (other tests' too) until
    // it ends: it is held only for the second of the timeout.
    let schema = live_schema(&db, "actors").await;
    let mut blocker = db.pool.begin().await.expect("begin");
    sqlx::query(&format!(
        "LOCK TABLE {schema}.site_versions IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut *blocker)
    .await
    .expect("lock");
    const SITES: &str = "{ sites { nodes { name } } }";
    let started = std::time::Instant::now();
    socket.subscribe("1", SITES, json!({})).await;
    let errors = socket.result().await.expect_err("stopped");
    assert_eq!(errors[0]["extensions"]["code"], "TIMEOUT", "{errors}");
    assert!(started.elapsed() < Duration::from_secs(20));
    blocker.rollback().await.expect("unlock");
    // The connection stays usable: the same query is answered once nothing blocks it.
    socket.subscribe("2", SITES, json!({})).await;
    let data = socket.result().await.expect("answered");
    assert_eq!(data["sites"]["nodes"], json!([]), "{data}");
    server.stop();
}

/// The schema of `projection`'s live generation, once the server's projector has made one.
async fn live_schema(db: &TestDb, projection: &str) -> String {
    for _ in 0..300 {
        let schema: Option<String> = sqlx::query_scalar(
            "SELECT schema_name FROM projection_generations \
             WHERE projection = $1 AND status = 'live'",
        )
        .bind(projection)
        .fetch_optional(&db.pool)
        .await
        .expect("generations");
        if let Some(schema) = schema {
            return schema;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no live generation of {projection} within 30 s");
}

#[tokio::test]
async fn a_server_shutting_down_closes_its_subscriptions_as_going_away() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let mut sockets = Vec::new();
    for legacy in [false, true] {
        sockets.push(Subscriber::following(&server, legacy, None).await);
    }
    // SIGTERM, and a wait for the clean exit, beside the sockets' reads.
    let stopping = tokio::task::spawn_blocking(move || server.stop());
    for socket in &mut sockets {
        assert_eq!(
            socket.close_code().await,
            Some(1001),
            "closed as going away (legacy: {})",
            socket.legacy
        );
    }
    stopping.await.expect("the server stopped cleanly");
}
