//! End to end over real HTTP against a spawned `sitrep serve`: **corrections never erase**.
//!
//! One incident (the drone attack on Tower 22, 28 January 2024) is walked through its life:
//! reported with one soldier killed and Kataib Hezbollah suspected; casualties revised to
//! three; the attribution changed to Kataib Hezbollah by source; retracted; restored. After
//! each step the recorded time is kept, and then every audit answer is checked at every one of
//! those times: `incident(asOf)`, `incidents(asOf)` and `incidentStats(asOf)` (the read
//! models), `stateAt(recordedAt)` (the model's own fold), `history` and `events`. Nothing a
//! later step did hides what an earlier one said. A second test tries every role against the
//! audit queries.

mod common;

use common::{issue_token, Server};
use serde_json::{json, Value};
use sitrep_testkit::TestDb;

/// Runs mutation `name` with `input` as `token`: its payload's `version` and `recordedAt`.
async fn step(server: &Server, token: &str, name: &str, input: Value) -> (i64, String) {
    let mut input_type: String = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    let query = format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ version recordedAt caughtUp }} }}"
    );
    let data = server
        .data(Some(token), &query, json!({ "input": input }))
        .await;
    let payload = &data[name];
    assert_eq!(payload["caughtUp"], true, "{name}: read-your-writes");
    (
        payload["version"].as_i64().expect("version"),
        payload["recordedAt"]
            .as_str()
            .expect("recordedAt")
            .to_owned(),
    )
}

/// Registers an actor as `token`: its id.
async fn actor(server: &Server, token: &str, name: &str) -> String {
    let data = server
        .data(
            Some(token),
            "mutation($input: RegisterActorInput!) { registerActor(input: $input) { actorId } }",
            json!({ "input": { "name": name, "actorType": "MILITIA_GROUPS", "country": "IRQ" } }),
        )
        .await;
    data["registerActor"]["actorId"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// What the audit should see at one recorded time.
struct Known {
    /// The recorded time of the step.
    at: String,
    version: i64,
    event_type: &'static str,
    reason: Option<&'static str>,
    /// Whether current views list the incident.
    listed: bool,
    /// The incident's status in the read model (`ACTIVE`, `RETRACTED`) and the model's.
    status: (&'static str, &'static str),
    fatalities: i64,
    attribution: &'static str,
    /// The paths the step changed, each with its value after.
    changed: Vec<(&'static str, Value)>,
}

const INCIDENT: &str = r#"
query($id: UUID!, $asOf: DateTime) {
  incident(id: $id, asOf: $asOf) { id version status fatalities { best } recordedAt }
}"#;

const INCIDENTS: &str = r#"
query($asOf: DateTime) {
  incidents(asOf: $asOf) { totalCount edges { node { id } } }
  incidentStats(asOf: $asOf) { incidents fatalities { best } }
}"#;

const STATE_AT: &str = r#"
query($id: UUID!, $at: DateTime) {
  stateAt(streamId: $id, recordedAt: $at) { version recordedAt streamType state }
}"#;

const HISTORY: &str = r#"
query($id: UUID!) {
  history(streamId: $id) {
    version eventType recordedAt recordedBy reason changes { path kind before after }
  }
}"#;

const EVENTS: &str = r#"
query($id: UUID!) {
  events(filter: { streamIds: [$id] }) {
    edges { node { version eventType recordedAt recordedBy reason } }
  }
}"#;

#[tokio::test]
async fn corrections_never_erase() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let desk = issue_token(&url, "recorder", "desk editor");
    let auditor = issue_token(&url, "auditor", "audit office");
    let kh = actor(&server, &desk, "Kataib Hezbollah").await;

    // Before the report: the time the actor was registered.
    let registered = server
        .data(
            Some(&auditor),
            "{ events(filter: { streamTypes: [\"actor\"] }) { edges { node { recordedAt } } } }",
            json!({}),
        )
        .await;
    let before_at = registered["events"]["edges"][0]["node"]["recordedAt"]
        .as_str()
        .expect("the actor's registration")
        .to_owned();

    let (_, reported_at) = step(
        &server,
        &desk,
        "reportIncident",
        json!({
            "facts": {
                "time": { "start": "2024-01-28" },
                "place": {
                    "country": "JOR", "location": "Tower 22", "precision": "EXACT",
                    "coordinates": { "latitude": 33.3228, "longitude": 38.6883 }
                },
                "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
                "subEventType": "AIR_DRONE_STRIKE",
                "targetCategory": "FOREIGN_MILITARY_BASE",
                "fatalities": { "best": 1 }
            },
            "actors": [{ "actor": kh, "role": "SUSPECTED", "attribution": "SUSPECTED" }],
            "sources": [{ "name": "CENTCOM", "scale": "INTERNATIONAL" }]
        }),
    )
    .await;
    let id = server
        .data(
            Some(&auditor),
            "{ events(filter: { streamTypes: [\"incident\"] }) { edges { node { streamId } } } }",
            json!({}),
        )
        .await["events"]["edges"][0]["node"]["streamId"]
        .as_str()
        .expect("the incident's id")
        .to_owned();
    let (_, revised_at) = step(
        &server,
        &desk,
        "reviseCasualties",
        json!({ "incidentId": id, "fatalities": { "best": 3 },
                "reason": "CENTCOM: three U.S. soldiers killed" }),
    )
    .await;
    let (_, attributed_at) = step(
        &server,
        &desk,
        "recordClaim",
        json!({ "incidentId": id, "actor": kh, "role": "SUSPECTED",
                "attribution": "ATTRIBUTED_BY_SOURCE",
                "source": { "name": "U.S. Department of Defense" },
                "reason": "the Pentagon attributed the attack to Kataib Hezbollah" }),
    )
    .await;
    let (_, retracted_at) = step(
        &server,
        &desk,
        "retractIncident",
        json!({ "incidentId": id, "kind": "DUPLICATE", "reason": "taken for a duplicate" }),
    )
    .await;
    let (_, restored_at) = step(
        &server,
        &desk,
        "restoreIncident",
        json!({ "incidentId": id, "reason": "not a duplicate: retracted in error" }),
    )
    .await;

    let steps = [
        Known {
            at: reported_at,
            version: 1,
            event_type: "IncidentReported",
            reason: None,
            listed: true,
            status: ("ACTIVE", "active"),
            fatalities: 1,
            attribution: "suspected",
            changed: vec![
                ("facts.fatalities.best", json!(1)),
                ("actors[0].attribution", json!("suspected")),
                ("status.status", json!("active")),
            ],
        },
        Known {
            at: revised_at,
            version: 2,
            event_type: "CasualtiesRevised",
            reason: Some("CENTCOM: three U.S. soldiers killed"),
            listed: true,
            status: ("ACTIVE", "active"),
            fatalities: 3,
            attribution: "suspected",
            changed: vec![("facts.fatalities.best", json!(3))],
        },
        Known {
            at: attributed_at,
            version: 3,
            event_type: "ClaimChanged",
            reason: Some("the Pentagon attributed the attack to Kataib Hezbollah"),
            listed: true,
            status: ("ACTIVE", "active"),
            fatalities: 3,
            attribution: "attributed_by_source",
            changed: vec![("actors[0].attribution", json!("attributed_by_source"))],
        },
        Known {
            at: retracted_at,
            version: 4,
            event_type: "IncidentRetracted",
            reason: Some("taken for a duplicate"),
            listed: false,
            status: ("RETRACTED", "retracted"),
            fatalities: 3,
            attribution: "attributed_by_source",
            changed: vec![("status.status", json!("retracted"))],
        },
        Known {
            at: restored_at,
            version: 5,
            event_type: "IncidentRestored",
            reason: Some("not a duplicate: retracted in error"),
            listed: true,
            status: ("ACTIVE", "active"),
            fatalities: 3,
            attribution: "attributed_by_source",
            changed: vec![("status.status", json!("active"))],
        },
    ];
    let ask = |query: &'static str, variables: Value| {
        let (server, auditor) = (&server, &auditor);
        async move { server.data(Some(auditor), query, variables).await }
    };

    // Before the report, nothing of it was known.
    let then = ask(INCIDENT, json!({ "id": id, "asOf": before_at })).await;
    assert_eq!(then["incident"], Value::Null);
    let then = ask(INCIDENTS, json!({ "asOf": before_at })).await;
    assert_eq!(then["incidents"]["totalCount"], 0);
    let then = ask(STATE_AT, json!({ "id": id, "at": before_at })).await;
    assert_eq!(then["stateAt"], Value::Null);

    // At every step's time, every audit answer says what was known then.
    for known in &steps {
        let at = &known.at;
        let label = format!("at version {} ({at})", known.version);

        let incident = ask(INCIDENT, json!({ "id": id, "asOf": at })).await["incident"].clone();
        assert_eq!(incident["version"], known.version, "{label}");
        assert_eq!(incident["status"], known.status.0, "{label}");
        assert_eq!(incident["fatalities"]["best"], known.fatalities, "{label}");
        assert_eq!(incident["recordedAt"], json!(at), "{label}");

        let views = ask(INCIDENTS, json!({ "asOf": at })).await;
        let listed: Vec<&Value> = views["incidents"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| &edge["node"]["id"])
            .collect();
        assert_eq!(
            listed.contains(&&json!(id)),
            known.listed,
            "{label}: {views:#}"
        );
        assert_eq!(
            views["incidents"]["totalCount"],
            i64::from(known.listed),
            "{label}"
        );
        let rows = views["incidentStats"].as_array().expect("rows");
        let counted: i64 = rows.iter().map(|r| r["incidents"].as_i64().unwrap()).sum();
        let killed: i64 = rows
            .iter()
            .map(|r| r["fatalities"]["best"].as_i64().unwrap())
            .sum();
        assert_eq!(counted, i64::from(known.listed), "{label}: {views:#}");
        assert_eq!(
            killed,
            if known.listed { known.fatalities } else { 0 },
            "{label}"
        );

        let state = ask(STATE_AT, json!({ "id": id, "at": at })).await["stateAt"].clone();
        assert_eq!(state["version"], known.version, "{label}");
        assert_eq!(state["recordedAt"], json!(at), "{label}");
        assert_eq!(state["streamType"], "incident");
        assert_eq!(
            state["state"]["status"]["status"], known.status.1,
            "{label}"
        );
        assert_eq!(
            state["state"]["facts"]["fatalities"]["best"], known.fatalities,
            "{label}"
        );
        assert_eq!(
            state["state"]["actors"][0]["attribution"], known.attribution,
            "{label}"
        );
        // What the read model and the fold say agree.
        assert_eq!(
            incident["fatalities"]["best"],
            state["state"]["facts"]["fatalities"]["best"]
        );
    }

    // The history: every version, who, why, when, and what it changed.
    let history = ask(HISTORY, json!({ "id": id })).await["history"].clone();
    let versions = history.as_array().expect("a list");
    assert_eq!(versions.len(), steps.len());
    for (version, known) in versions.iter().zip(&steps) {
        let label = format!("history version {}", known.version);
        assert_eq!(version["version"], known.version, "{label}");
        assert_eq!(version["eventType"], known.event_type, "{label}");
        assert_eq!(version["recordedAt"], json!(known.at), "{label}");
        assert_eq!(version["recordedBy"], "desk editor", "{label}");
        assert_eq!(version["reason"], json!(known.reason), "{label}");
        let changes = version["changes"].as_array().expect("changes");
        for (path, after) in &known.changed {
            let change = changes
                .iter()
                .find(|c| c["path"] == *path)
                .unwrap_or_else(|| panic!("{label}: no change at {path}: {version:#}"));
            assert_eq!(&change["after"], after, "{label}: {path}");
        }
    }
    let revision = versions[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "facts.fatalities.best")
        .expect("the revision");
    assert_eq!(
        (revision["before"].clone(), revision["kind"].clone()),
        (json!(1), json!("CHANGED"))
    );
    let restore = versions[4]["changes"].as_array().unwrap();
    assert!(restore
        .iter()
        .any(|c| c["path"] == "status.kind" && c["kind"] == "REMOVED"));

    // The raw log of the incident: the same five events, at the same times.
    let events = ask(EVENTS, json!({ "id": id })).await;
    let events: Vec<&Value> = events["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| &edge["node"])
        .collect();
    assert_eq!(events.len(), steps.len());
    for (event, known) in events.iter().zip(&steps) {
        assert_eq!(event["version"], known.version);
        assert_eq!(event["eventType"], known.event_type);
        assert_eq!(event["recordedAt"], json!(known.at));
        assert_eq!(event["recordedBy"], "desk editor");
        assert_eq!(event["reason"], json!(known.reason));
    }
}

#[tokio::test]
async fn every_role_against_the_audit_queries() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let recorder = issue_token(&url, "recorder", "desk editor");
    let kh = actor(&server, &recorder, "Kataib Hezbollah").await;
    let tokens = [
        ("anonymous", None, Some("UNAUTHENTICATED")),
        (
            "viewer",
            Some(issue_token(&url, "viewer", "wall")),
            Some("FORBIDDEN"),
        ),
        ("recorder", Some(recorder), Some("FORBIDDEN")),
        (
            "auditor",
            Some(issue_token(&url, "auditor", "office")),
            None,
        ),
        ("admin", Some(issue_token(&url, "admin", "root")), None),
    ];
    let queries = [
        "{ events(first: 5) { edges { node { eventId } } } }".to_owned(),
        format!("{{ history(streamId: \"{kh}\") {{ version changes {{ path }} }} }}"),
        format!("{{ stateAt(streamId: \"{kh}\", version: 1) {{ version state }} }}"),
        format!("{{ actor(id: \"{kh}\") {{ id history {{ version }} }} }}"),
    ];
    for query in &queries {
        for (role, token, refused) in &tokens {
            let (status, body) = server.post(token.as_deref(), query, json!({})).await;
            match refused {
                None => assert!(
                    status == 200 && body.get("errors").is_none(),
                    "{role}: {query}: {status} {body:#}"
                ),
                Some(code) => assert_eq!(
                    body["errors"][0]["extensions"]["code"], *code,
                    "{role}: {query}: {status} {body:#}"
                ),
            }
        }
    }
}
