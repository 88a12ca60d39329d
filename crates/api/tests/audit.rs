//! The audit queries on a real database: `events` filtered by each part of its filter and
//! followed page by page (with events appended between pages, and one whose transaction
//! commits late), `history` with its field-level changes (the query and the `history` fields),
//! `stateAt` by version and by recorded time, their errors, and who may ask them.

mod common;

use async_graphql::{Request, Variables};
use common::*;
use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;
use sitrep_domain::store::{ExpectedVersion, NewEvent, StreamRef};
use uuid::Uuid;

const EVENTS: &str = r#"
query($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    edges { cursor node {
      cursor position eventId streamType streamId version eventType schemaVersion payload
      recordedAt recordedBy reason causationId correlationId validFrom validTo validPrecision
      metadata hash prevHash
    } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

const HISTORY: &str = r#"
query($id: UUID!) {
  history(streamId: $id) {
    version eventType eventId recordedAt recordedBy reason
    event { streamId version }
    changes { path kind before after }
  }
}"#;

const STATE_AT: &str = r#"
query($id: UUID!, $version: Int, $recordedAt: DateTime) {
  stateAt(streamId: $id, version: $version, recordedAt: $recordedAt) {
    streamId streamType version recordedAt eventId state
  }
}"#;

const REPORT: &str = r#"
mutation($input: ReportIncidentInput!) {
  reportIncident(input: $input) { incidentId version recordedAt }
}"#;

const REVISE: &str = r#"
mutation($input: ReviseCasualtiesInput!) {
  reviseCasualties(input: $input) { version recordedAt }
}"#;

fn caller(role: Role, name: &str) -> Caller {
    Caller::Token(TokenHolder {
        token_id: Uuid::nil(),
        name: name.to_owned(),
        role,
    })
}

/// The whole response to `query` run by `caller` (anonymous with `None`).
async fn run_as(api: &Api, caller: Option<Caller>, query: &str, variables: Value) -> Value {
    let mut request = Request::new(query).variables(Variables::from_json(variables));
    if let Some(caller) = caller {
        request = request.data(caller);
    }
    serde_json::to_value(api.schema.execute(request).await).expect("a response serialises")
}

/// `data` of an audit query run by an auditor, which must have no errors.
async fn audit(api: &Api, query: &str, variables: Value) -> Value {
    let response = run_as(
        api,
        Some(caller(Role::Auditor, "audit office")),
        query,
        variables,
    )
    .await;
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    response["data"].clone()
}

/// The first error's extensions of an audit query run by an auditor, which must fail.
async fn audit_error(api: &Api, query: &str, variables: Value) -> Value {
    let response = run_as(
        api,
        Some(caller(Role::Auditor, "audit office")),
        query,
        variables,
    )
    .await;
    assert!(
        response.get("errors").is_some(),
        "expected an error: {response:#}"
    );
    response["errors"][0]["extensions"].clone()
}

/// A mutation recorded by a recorder named `name`: its `data`.
async fn record_as(api: &Api, name: &str, query: &str, variables: Value) -> Value {
    let response = run_as(api, Some(caller(Role::Recorder, name)), query, variables).await;
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    response["data"].clone()
}

/// A report of a rocket attack on Ain al-Asad on `day` with `fatalities`, and options.
fn report(day: &str, fatalities: u32, options: Value) -> Value {
    merged(
        json!({
            "facts": {
                "time": { "start": day },
                "place": {
                    "country": "IRQ", "location": "Ain al-Asad", "precision": "EXACT",
                    "coordinates": { "latitude": 33.8, "longitude": 42.44 }
                },
                "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
                "subEventType": "SHELLING_ARTILLERY_MISSILE_ATTACK",
                "fatalities": { "best": fatalities }
            }
        }),
        options,
    )
}

/// Reports an incident as `name`: its id and recorded time.
async fn report_as(api: &Api, name: &str, input: Value) -> (String, String) {
    let data = record_as(api, name, REPORT, json!({ "input": input })).await;
    let payload = &data["reportIncident"];
    (
        payload["incidentId"].as_str().expect("id").to_owned(),
        payload["recordedAt"].as_str().expect("time").to_owned(),
    )
}

/// Revises an incident's fatalities to `best` as the test recorder: its recorded time.
async fn revise(api: &Api, id: &str, best: u32, reason: &str) -> String {
    let data = api
        .data(
            REVISE,
            json!({ "input": {
                "incidentId": id, "fatalities": { "low": best, "best": best, "high": best + 1 },
                "reason": reason
            }}),
        )
        .await;
    data["reviseCasualties"]["recordedAt"]
        .as_str()
        .expect("time")
        .to_owned()
}

/// The nodes of an `events` answer.
fn nodes(data: &Value) -> Vec<Value> {
    data["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// The event types of the events `filter` chooses (one page of up to 500).
async fn types_of(api: &Api, filter: Value) -> Vec<String> {
    let data = audit(
        api,
        "query($filter: EventFilter) { events(filter: $filter, first: 500) { edges { node { eventType } } } }",
        json!({ "filter": filter }),
    )
    .await;
    nodes(&data)
        .iter()
        .map(|n| n["eventType"].as_str().expect("type").to_owned())
        .collect()
}

#[tokio::test]
async fn events_are_filtered_by_each_part_of_the_filter() {
    let api = api().await;
    let work = Uuid::new_v4().to_string();
    let (a, a_at) = report_as(
        &api,
        "test recorder",
        report("2024-01-20", 0, json!({ "correlationId": work })),
    )
    .await;
    let (b, b_at) = report_as(&api, "field desk", report("2024-01-28", 3, json!({}))).await;
    let revised_at = revise(&api, &a, 2, "CENTCOM raised the toll").await;
    register_actor(
        &api,
        json!({ "name": "Kataib Hezbollah", "actorType": "MILITIA_GROUPS", "country": "IRQ" }),
    )
    .await;

    // Everything, in feed order, with every field of the event.
    let all = nodes(&audit(&api, EVENTS, json!({})).await);
    let types: Vec<&str> = all
        .iter()
        .map(|n| n["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "IncidentReported",
            "IncidentReported",
            "CasualtiesRevised",
            "ActorRegistered"
        ]
    );
    let first = &all[0];
    assert_eq!(first["streamId"], json!(a));
    assert_eq!(first["streamType"], "incident");
    assert_eq!(first["version"], 1);
    let stored: i32 = sqlx::query_scalar("SELECT schema_version FROM events WHERE position = $1")
        .bind(first["position"].as_i64().unwrap())
        .fetch_one(api.store.pool())
        .await
        .expect("schema version");
    assert_eq!(first["schemaVersion"], stored);
    assert_eq!(first["recordedBy"], "test recorder");
    assert_eq!(first["recordedAt"], json!(a_at));
    assert_eq!(first["correlationId"], json!(work));
    assert_eq!(first["payload"]["facts"]["fatalities"]["best"], 0);
    assert_eq!(first["validFrom"], "2024-01-20T00:00:00+00:00");
    assert_eq!(first["validTo"], "2024-01-21T00:00:00+00:00");
    assert_eq!(first["validPrecision"], "day");
    assert_eq!(first["metadata"], json!({}));
    assert_eq!(first["prevHash"], "0".repeat(64));
    assert_eq!(first["hash"].as_str().unwrap().len(), 64);
    let revision = &all[2];
    assert_eq!(revision["reason"], "CENTCOM raised the toll");
    assert_eq!(revision["version"], 2);
    assert_eq!(revision["prevHash"], first["hash"]);
    assert_eq!(revision["recordedAt"], json!(revised_at));
    let positions: Vec<i64> = all
        .iter()
        .map(|n| n["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // Each part of the filter.
    assert_eq!(
        types_of(&api, json!({ "streamIds": [a] })).await,
        ["IncidentReported", "CasualtiesRevised"]
    );
    assert_eq!(
        types_of(&api, json!({ "streamIds": [b] })).await,
        ["IncidentReported"]
    );
    assert_eq!(
        types_of(&api, json!({ "streamTypes": ["actor"] })).await,
        ["ActorRegistered"]
    );
    assert_eq!(
        types_of(
            &api,
            json!({ "eventTypes": ["CasualtiesRevised", "ActorRegistered"] })
        )
        .await,
        ["CasualtiesRevised", "ActorRegistered"]
    );
    let by_desk = audit(
        &api,
        EVENTS,
        json!({ "filter": { "recordedBy": ["field desk"] } }),
    )
    .await;
    let by_desk = nodes(&by_desk);
    assert_eq!(by_desk.len(), 1);
    assert_eq!(by_desk[0]["streamId"], json!(b));
    let in_work = nodes(&audit(&api, EVENTS, json!({ "filter": { "correlationId": work } })).await);
    assert_eq!(in_work.len(), 1);
    assert_eq!(in_work[0]["streamId"], json!(a));
    assert_eq!(
        types_of(&api, json!({ "recordedFrom": b_at })).await,
        ["IncidentReported", "CasualtiesRevised", "ActorRegistered"]
    );
    assert_eq!(
        types_of(&api, json!({ "recordedUntil": b_at })).await,
        ["IncidentReported", "IncidentReported"]
    );
    assert_eq!(
        types_of(
            &api,
            json!({ "recordedFrom": b_at, "recordedUntil": revised_at })
        )
        .await,
        ["IncidentReported", "CasualtiesRevised"]
    );
    // Parts combine; an empty list chooses nothing.
    assert_eq!(
        types_of(
            &api,
            json!({ "streamTypes": ["incident"], "recordedBy": ["test recorder"] })
        )
        .await,
        ["IncidentReported", "CasualtiesRevised"]
    );
    assert!(types_of(&api, json!({ "streamTypes": [] }))
        .await
        .is_empty());
    assert!(types_of(&api, json!({ "streamIds": [Uuid::new_v4()] }))
        .await
        .is_empty());
}

#[tokio::test]
async fn following_the_log_by_cursor_sees_every_event_once_even_a_late_commit() {
    let api = api().await;
    for day in ["2024-01-18", "2024-01-19", "2024-01-20"] {
        report_as(&api, "test recorder", report(day, 0, json!({}))).await;
    }
    let page = |after: Option<String>| json!({ "first": 2, "after": after });

    let one = audit(&api, EVENTS, page(None)).await;
    assert_eq!(nodes(&one).len(), 2);
    assert_eq!(one["events"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(one["events"]["pageInfo"]["hasPreviousPage"], false);
    let end = one["events"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(one["events"]["edges"][1]["cursor"], json!(end));
    assert_eq!(nodes(&one)[1]["cursor"], json!(end));

    let two = audit(&api, EVENTS, page(Some(end))).await;
    assert_eq!(nodes(&two).len(), 1);
    assert_eq!(two["events"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(two["events"]["pageInfo"]["hasPreviousPage"], true);
    let end = two["events"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();

    // Caught up: an empty page, no end cursor, the old one still good.
    let empty = audit(&api, EVENTS, page(Some(end.clone()))).await;
    assert!(nodes(&empty).is_empty());
    assert_eq!(empty["events"]["pageInfo"]["endCursor"], Value::Null);

    // Appended between pages: the next page has exactly them.
    let (late_report, _) =
        report_as(&api, "test recorder", report("2024-01-21", 1, json!({}))).await;
    revise(&api, &late_report, 4, "hospital figures").await;
    let three = audit(&api, EVENTS, page(Some(end))).await;
    let new: Vec<Value> = nodes(&three);
    assert_eq!(new.len(), 2);
    assert_eq!(new[0]["streamId"], json!(late_report));
    assert_eq!(new[0]["eventType"], "IncidentReported");
    assert_eq!(new[1]["eventType"], "CasualtiesRevised");
    let end = three["events"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();

    // An event whose transaction began first but commits last is not skipped: while that
    // transaction is open, the event committed after it is held back too, and both come, in
    // commit order, once it commits.
    let open = late_and_early_notes(&api, "audit test").await;
    let held = audit(&api, EVENTS, page(Some(end.clone()))).await;
    assert!(
        nodes(&held).is_empty(),
        "nothing shows while an older transaction is open: {held:#}"
    );
    open.commit().await.expect("commit");
    // The feed's horizon is the cluster's oldest running transaction, and other tests run
    // transactions of their own on the same server: the two events show once those end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let four = loop {
        let four = nodes(&audit(&api, EVENTS, page(Some(end.clone()))).await);
        if four.len() >= 2 || std::time::Instant::now() > deadline {
            break four;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let texts: Vec<&str> = four
        .iter()
        .map(|n| n["payload"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{four:?}");
    assert!(texts.contains(&"begun first, committed last"));
    assert!(texts.contains(&"begun last, committed first"));

    // The whole log read page by page is the whole log read at once.
    let mut after: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let data = audit(&api, EVENTS, page(after.clone())).await;
        paged.extend(nodes(&data).into_iter().map(|n| n["eventId"].clone()));
        if data["events"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["events"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    let whole: Vec<Value> = nodes(&audit(&api, EVENTS, json!({})).await)
        .into_iter()
        .map(|n| n["eventId"].clone())
        .collect();
    assert_eq!(paged, whole);
    assert_eq!(whole.len(), 7);
}

/// Two notes by `author`: one appended in a transaction begun first and left open (returned,
/// for the caller to commit), then one appended and committed at once, which the feed holds
/// back until the first commits.
async fn late_and_early_notes(
    api: &Api,
    author: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let note = |text: &str| NewEvent::new("NoteTaken", json!({ "text": text }), author);
    let mut open = api.store.pool().begin().await.expect("begin");
    api.store
        .append_in(
            &mut open,
            &StreamRef::new("note", Uuid::new_v4()),
            ExpectedVersion::NoStream,
            &[note("begun first, committed last")],
        )
        .await
        .expect("append in the open transaction");
    api.store
        .append(
            &StreamRef::new("note", Uuid::new_v4()),
            ExpectedVersion::NoStream,
            &[note("begun last, committed first")],
        )
        .await
        .expect("append");
    open
}

const RESUMING: &str = r#"
query($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    nodes { cursor eventType recordedBy }
    pageInfo { hasNextPage endCursor }
    resumeCursor
  }
}"#;

/// A client polling with a narrow filter goes on from `resumeCursor`: past the events the
/// filter left out, yet never past one that can still appear.
#[tokio::test]
async fn a_narrow_filter_resumes_past_what_it_left_out_and_misses_nothing() {
    let api = api().await;
    for day in ["2024-01-18", "2024-01-19", "2024-01-20"] {
        report_as(&api, "test recorder", report(day, 0, json!({}))).await;
    }
    let field_office = json!({ "recordedBy": ["field office"] });
    let poll = |after: Option<&str>| json!({ "filter": field_office, "first": 10, "after": after });
    let resume_of = |data: &Value| data["events"]["resumeCursor"].as_str().unwrap().to_owned();

    // Nothing of the field office's yet: an empty page that resumes past the whole log (once
    // the feed shows all of it: other tests' transactions may hold its horizon back a moment).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let first = loop {
        let all = audit(&api, RESUMING, json!({})).await;
        let last_cursor = all["events"]["nodes"][2]["cursor"].clone();
        let first = audit(&api, RESUMING, poll(None)).await;
        assert!(first["events"]["nodes"].as_array().unwrap().is_empty());
        if first["events"]["resumeCursor"] == last_cursor {
            break first;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "resumes at {first:#}, the log ends at {last_cursor}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let resume = resume_of(&first);

    // A note of theirs whose transaction begins first and commits last, and one committed at
    // once: while the first is open, neither shows and the resume cursor does not pass them.
    let open = late_and_early_notes(&api, "field office").await;
    report_as(&api, "test recorder", report("2024-01-21", 0, json!({}))).await;
    let held = audit(&api, RESUMING, poll(Some(&resume))).await;
    assert!(
        held["events"]["nodes"].as_array().unwrap().is_empty(),
        "{held:#}"
    );
    let resume = resume_of(&held);
    open.commit().await.expect("commit");

    // Both come from the resume cursor once the feed shows them (other tests' transactions on
    // the same server may hold the horizon back a moment).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let seen = loop {
        let data = audit(&api, RESUMING, poll(Some(&resume))).await;
        let nodes = data["events"]["nodes"].as_array().unwrap().clone();
        if nodes.len() >= 2 || std::time::Instant::now() > deadline {
            break data;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let nodes = seen["events"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{seen:#}");
    assert!(nodes.iter().all(|n| n["recordedBy"] == "field office"));
    // Going on from there: nothing new, and the cursor does not go back.
    let after = audit(&api, RESUMING, poll(Some(&resume_of(&seen)))).await;
    assert!(after["events"]["nodes"].as_array().unwrap().is_empty());
    assert_eq!(
        after["events"]["resumeCursor"],
        seen["events"]["resumeCursor"]
    );

    // A full page resumes from its last event, like `endCursor`.
    let full = audit(&api, RESUMING, json!({ "first": 2 })).await;
    assert_eq!(full["events"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        full["events"]["resumeCursor"],
        full["events"]["pageInfo"]["endCursor"]
    );
    // `first: 0` hands out nothing and passes nothing.
    let none = audit(&api, RESUMING, json!({ "first": 0, "after": resume })).await;
    assert_eq!(none["events"]["resumeCursor"], json!(resume));
}

/// The change at `path` in a history entry.
fn change<'a>(entry: &'a Value, path: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["path"] == path)
        .unwrap_or_else(|| panic!("no change at {path}: {entry:#}"))
}

#[tokio::test]
async fn history_lists_every_version_with_its_field_changes() {
    let api = api().await;
    let (id, reported_at) =
        report_as(&api, "test recorder", report("2024-01-20", 0, json!({}))).await;
    let revised_at = revise(&api, &id, 2, "CENTCOM raised the toll").await;
    api.data(
        "mutation($input: RetractIncidentInput!) { retractIncident(input: $input) { version } }",
        json!({ "input": { "incidentId": id, "kind": "DUPLICATE", "reason": "same as another" } }),
    )
    .await;

    let history = audit(&api, HISTORY, json!({ "id": id })).await["history"].clone();
    let entries = history.as_array().expect("a list");
    assert_eq!(entries.len(), 3);
    let versions: Vec<i64> = entries
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3]);

    let reported = &entries[0];
    assert_eq!(reported["eventType"], "IncidentReported");
    assert_eq!(reported["recordedBy"], "test recorder");
    assert_eq!(reported["recordedAt"], json!(reported_at));
    assert_eq!(reported["reason"], Value::Null);
    assert_eq!(reported["event"]["streamId"], json!(id));
    let best = change(reported, "facts.fatalities.best");
    assert_eq!(best["kind"], "ADDED");
    assert_eq!(best["before"], Value::Null);
    assert_eq!(best["after"], 0);
    assert_eq!(change(reported, "status.status")["after"], "active");

    let revised = &entries[1];
    assert_eq!(revised["eventType"], "CasualtiesRevised");
    assert_eq!(revised["reason"], "CENTCOM raised the toll");
    assert_eq!(revised["recordedAt"], json!(revised_at));
    let best = change(revised, "facts.fatalities.best");
    assert_eq!(best["kind"], "CHANGED");
    assert_eq!(
        (best["before"].clone(), best["after"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(change(revised, "facts.fatalities.high")["after"], 3);
    assert_eq!(change(revised, "revisions")["after"], 1);
    // Nothing else changed: only casualty figures and the revision count.
    assert!(revised["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(
            |c| c["path"].as_str().unwrap().starts_with("facts.fatalities")
                || c["path"] == "revisions"
        ));

    let retracted = &entries[2];
    assert_eq!(retracted["reason"], "same as another");
    let status = change(retracted, "status.status");
    assert_eq!(
        (status["before"].clone(), status["after"].clone()),
        (json!("active"), json!("retracted"))
    );
    assert_eq!(change(retracted, "status.kind")["kind"], "ADDED");

    // The incident's own field: the versions up to the one it shows (as known at `asOf`).
    let field = r#"query($id: UUID!, $asOf: DateTime) {
      incident(id: $id, asOf: $asOf) { version history { version eventType changes { path } } }
    }"#;
    let now = audit(&api, field, json!({ "id": id })).await;
    assert_eq!(now["incident"]["history"], history_shape(&history));
    let then = audit(&api, field, json!({ "id": id, "asOf": revised_at })).await;
    assert_eq!(then["incident"]["version"], 2);
    assert_eq!(then["incident"]["history"].as_array().unwrap().len(), 2);

    // An actor's history.
    let actor = register_actor(
        &api,
        json!({ "name": "Kataib Hezbollah", "actorType": "MILITIA_GROUPS", "country": "IRQ" }),
    )
    .await;
    api.data(
        "mutation($input: RenameActorInput!) { renameActor(input: $input) { version } }",
        json!({ "input": { "actorId": actor, "name": "Kata'ib Hizballah", "reason": "house style" } }),
    )
    .await;
    let actor_history = audit(
        &api,
        "query($id: UUID!) { actor(id: $id) { history { version reason changes { path kind before after } } } }",
        json!({ "id": actor }),
    )
    .await;
    let entries = actor_history["actor"]["history"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["reason"], "house style");
    let name = change(&entries[1], "profile.name");
    assert_eq!(name["before"], "Kataib Hezbollah");
    assert_eq!(name["after"], "Kata'ib Hizballah");
}

/// `history` as the `history { version eventType changes { path } }` selection shows it.
fn history_shape(history: &Value) -> Value {
    Value::Array(
        history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                json!({
                    "version": e["version"],
                    "eventType": e["eventType"],
                    "changes": e["changes"].as_array().unwrap().iter()
                        .map(|c| json!({ "path": c["path"] })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

#[tokio::test]
async fn state_at_rebuilds_by_version_and_by_recorded_time() {
    let api = api().await;
    let (id, reported_at) =
        report_as(&api, "test recorder", report("2024-01-20", 0, json!({}))).await;
    let revised_at = revise(&api, &id, 2, "CENTCOM raised the toll").await;

    let at = |vars: Value| {
        let api = &api;
        async move { audit(api, STATE_AT, vars).await["stateAt"].clone() }
    };
    let v1 = at(json!({ "id": id, "version": 1 })).await;
    assert_eq!(v1["streamId"], json!(id));
    assert_eq!(v1["streamType"], "incident");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["recordedAt"], json!(reported_at));
    assert_eq!(v1["state"]["facts"]["fatalities"]["best"], 0);
    assert_eq!(v1["state"]["revisions"], 0);
    let v2 = at(json!({ "id": id, "version": 2 })).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["recordedAt"], json!(revised_at));
    assert_eq!(v2["state"]["facts"]["fatalities"]["best"], 2);
    assert_eq!(v2["state"]["revisions"], 1);
    assert_ne!(v1["eventId"], v2["eventId"]);

    assert_eq!(at(json!({ "id": id, "recordedAt": reported_at })).await, v1);
    assert_eq!(at(json!({ "id": id, "recordedAt": revised_at })).await, v2);
    assert_eq!(
        at(json!({ "id": id, "recordedAt": "2999-01-01T00:00:00Z" })).await,
        v2
    );
    // Before its first event the incident was not known.
    assert_eq!(
        at(json!({ "id": id, "recordedAt": "2000-01-01T00:00:00Z" })).await,
        Value::Null
    );
}

#[tokio::test]
async fn bad_audit_requests_get_typed_errors() {
    let api = api().await;
    let (id, _) = report_as(&api, "test recorder", report("2024-01-20", 0, json!({}))).await;
    let unknown = Uuid::new_v4();
    let code = |ext: &Value| ext["code"].as_str().unwrap_or("no code").to_owned();

    for vars in [
        json!({ "id": id }),
        json!({ "id": id, "version": 1, "recordedAt": "2024-01-01T00:00:00Z" }),
        json!({ "id": id, "version": 0 }),
        json!({ "id": id, "version": 2 }),
    ] {
        let ext = audit_error(&api, STATE_AT, vars.clone()).await;
        assert_eq!(code(&ext), "BAD_USER_INPUT", "{vars}: {ext:#}");
        assert_eq!(ext["field"], "version");
    }
    let ext = audit_error(&api, STATE_AT, json!({ "id": id, "version": 2 })).await;
    assert_eq!(ext["rule"], "the stream has 1 versions");
    for vars in [
        json!({ "id": unknown, "version": 1 }),
        json!({ "id": unknown, "recordedAt": "2999-01-01T00:00:00Z" }),
    ] {
        assert_eq!(code(&audit_error(&api, STATE_AT, vars).await), "NOT_FOUND");
    }
    assert_eq!(
        code(&audit_error(&api, HISTORY, json!({ "id": unknown })).await),
        "NOT_FOUND"
    );

    let ext = audit_error(&api, EVENTS, json!({ "after": "not a cursor" })).await;
    assert_eq!(
        (code(&ext), ext["field"].clone()),
        ("BAD_USER_INPUT".into(), json!("after"))
    );
    let ext = audit_error(
        &api,
        "{ events(first: 501) { edges { node { eventId } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        (code(&ext), ext["field"].clone()),
        ("BAD_USER_INPUT".into(), json!("first"))
    );
    let ext = audit_error(
        &api,
        EVENTS,
        json!({ "filter": { "recordedFrom": "2024-02-01T00:00:00Z", "recordedUntil": "2024-01-01T00:00:00Z" } }),
    )
    .await;
    assert_eq!(
        (code(&ext), ext["field"].clone()),
        ("BAD_USER_INPUT".into(), json!("filter.recordedFrom"))
    );
    let many: Vec<Uuid> = (0..101).map(|_| Uuid::new_v4()).collect();
    let ext = audit_error(&api, EVENTS, json!({ "filter": { "streamIds": many } })).await;
    assert_eq!(
        (code(&ext), ext["field"].clone()),
        ("BAD_USER_INPUT".into(), json!("filter.streamIds"))
    );
}

#[tokio::test]
async fn only_auditors_and_admins_may_ask_audit_queries() {
    let api = api().await;
    let (id, _) = report_as(&api, "test recorder", report("2024-01-20", 0, json!({}))).await;
    let queries = [
        (
            "events",
            "{ events { edges { node { eventId } } } }".to_owned(),
        ),
        (
            "history",
            format!("{{ history(streamId: \"{id}\") {{ version }} }}"),
        ),
        (
            "stateAt",
            format!("{{ stateAt(streamId: \"{id}\", version: 1) {{ version }} }}"),
        ),
        (
            "Incident.history",
            format!("{{ incident(id: \"{id}\") {{ id history {{ version }} }} }}"),
        ),
    ];
    for (name, query) in &queries {
        for (who, expected) in [
            (None, Some("UNAUTHENTICATED")),
            (Some(caller(Role::Viewer, "wall")), Some("FORBIDDEN")),
            (Some(caller(Role::Recorder, "desk")), Some("FORBIDDEN")),
            (Some(caller(Role::Auditor, "office")), None),
            (Some(caller(Role::Admin, "root")), None),
        ] {
            let label = format!("{name} as {who:?}");
            let response = run_as(&api, who, query, json!({})).await;
            match expected {
                None => assert!(response.get("errors").is_none(), "{label}: {response:#}"),
                Some(code) => assert_eq!(
                    response["errors"][0]["extensions"]["code"], code,
                    "{label}: {response:#}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn negotiations_and_troop_levels_have_their_history_too() {
    use std::sync::Arc;

    use sitrep_projections::negotiations::NegotiationsProjection;
    use sitrep_projections::troops::TroopsProjection;

    let api = api_with(vec![
        Arc::new(NegotiationsProjection),
        Arc::new(TroopsProjection),
    ])
    .await;
    let opened = api
        .data(
            "mutation($input: OpenNegotiationInput!) { openNegotiation(input: $input) { negotiationId } }",
            json!({ "input": {
                "title": "Iraq-U.S. Higher Military Commission talks",
                "topic": "The future of the Global Coalition mission against ISIS in Iraq",
                "parties": [{ "name": "Iraq" }, { "name": "United States" }],
                "openedOn": { "start": "2024-01-25" }
            }}),
        )
        .await;
    let talks = opened["openNegotiation"]["negotiationId"].clone();
    api.data(
        "mutation($input: SetNegotiationStatusInput!) { setNegotiationStatus(input: $input) { version } }",
        json!({ "input": {
            "negotiationId": talks, "status": "CONCLUDED",
            "reason": "The commission agreed the two-phase transition",
            "effectiveOn": { "start": "2024-09-27" }
        }}),
    )
    .await;
    let negotiation = audit(
        &api,
        "query($id: UUID!) { negotiation(id: $id) { version history { version reason changes { path before after } } } }",
        json!({ "id": talks }),
    )
    .await;
    let entries = negotiation["negotiation"]["history"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[1]["reason"],
        "The commission agreed the two-phase transition"
    );
    let status = change(&entries[1], "details.status");
    assert_eq!(status["after"], "concluded");
    assert_ne!(status["before"], status["after"]);

    let established = api
        .data(
            "mutation($input: EstablishDeploymentInput!) { establishDeployment(input: $input) { deploymentId } }",
            json!({ "input": { "deploying": "USA", "host": "IRQ", "mission": "Operation Inherent Resolve" } }),
        )
        .await;
    let deployment = established["establishDeployment"]["deploymentId"].clone();
    api.data(
        "mutation($input: ReportTroopLevelInput!) { reportTroopLevel(input: $input) { version } }",
        json!({ "input": {
            "deploymentId": deployment,
            "asOf": { "start": "2024-01-01", "end": "2024-01-31", "precision": "MONTH" },
            "count": { "best": 2500, "words": "about 2,500" },
            "qualifier": "ABOUT", "scope": "ALL_PERSONNEL",
            "source": { "name": "U.S. Department of Defense" }, "sourceType": "OFFICIAL_STATEMENT"
        }}),
    )
    .await;
    let level = audit(
        &api,
        "query($id: UUID!) { troopLevel(deploymentId: $id) { version history { version eventType changes { path after } } } }",
        json!({ "id": deployment }),
    )
    .await;
    let entries = level["troopLevel"]["history"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["eventType"], "DeploymentEstablished");
    assert_eq!(change(&entries[0], "identity.host")["after"], "IRQ");
    assert_eq!(
        change(&entries[1], "estimates[0].count.best")["after"],
        2500
    );
}

/// Viewers may follow the log through `eventRecorded`, but an event's provenance (metadata and
/// hash link) is for auditors and admins only there too.
#[tokio::test]
async fn the_subscription_shows_provenance_to_auditors_only() {
    use futures::StreamExt as _;

    let api = api().await;
    report_as(&api, "test recorder", report("2024-01-20", 0, json!({}))).await;
    report_as(&api, "test recorder", report("2024-01-21", 0, json!({}))).await;
    let first = audit(&api, "{ events(first: 1) { edges { cursor } } }", json!({})).await;
    let after = first["events"]["edges"][0]["cursor"].clone();
    assert!(after.is_string(), "{first:#}");
    let subscription = "subscription($after: FeedCursor) { \
        eventRecorded(after: $after) { eventType metadata hash prevHash } }";
    for role in [Role::Viewer, Role::Recorder, Role::Auditor, Role::Admin] {
        let request = Request::new(subscription)
            .variables(Variables::from_json(json!({ "after": after })))
            .data(caller(role, "someone"));
        let mut stream = api.schema.execute_stream(request);
        let response = tokio::time::timeout(std::time::Duration::from_secs(20), stream.next())
            .await
            .expect("an event within 20 s")
            .expect("the stream goes on");
        let response = serde_json::to_value(response).expect("a response serialises");
        let event = &response["data"]["eventRecorded"];
        if matches!(role, Role::Auditor | Role::Admin) {
            assert!(response.get("errors").is_none(), "{role}: {response:#}");
            assert_eq!(event["hash"].as_str().map(str::len), Some(64), "{role}");
        } else {
            assert_eq!(
                response["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{role}: {response:#}"
            );
            for field in ["metadata", "hash", "prevHash"] {
                assert!(
                    event[field].is_null(),
                    "{role}: {field} shown: {response:#}"
                );
            }
        }
    }
}
