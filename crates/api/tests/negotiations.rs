//! Negotiations through the GraphQL schema on a real database, with the negotiations projector
//! following the feed: the Iraq-U.S. Higher Military Commission talks of January 2024 recorded
//! by mutations (opened, a session, an expert working group and its session, positions of both
//! parties, a timeline milestone, an agreement, a status change) and read back through
//! `negotiation` and `negotiations`, now and as known before and after the changes; conflicts,
//! retries and invalid input, each changing nothing.

mod common;

use std::sync::Arc;

use common::{api_with, Api};
use serde_json::{json, Value};
use sitrep_projections::negotiations::NegotiationsProjection;

async fn negotiations_api() -> Api {
    api_with(vec![Arc::new(NegotiationsProjection)]).await
}

/// Runs mutation `name` with `input`; answers its payload (which must have no errors).
async fn mutate(api: &Api, name: &str, input: Value) -> Value {
    let data = api.data(&mutation(name), json!({ "input": input })).await;
    data[name].clone()
}

/// The error extensions of mutation `name` with `input` (which must fail).
async fn refused(api: &Api, name: &str, input: Value) -> Value {
    api.error(&mutation(name), json!({ "input": input })).await
}

/// The text of mutation `name` (`openNegotiation` takes an `OpenNegotiationInput`).
fn mutation(name: &str) -> String {
    let mut input_type: String = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{
            negotiationId itemId version eventIds recordedAt replayed caughtUp
            negotiation {{ id version status sessionCount agreementCount }} }} }}"
    )
}

/// The whole negotiation, as `negotiation(id, asOf)` answers it.
const NEGOTIATION: &str = r#"
query($id: UUID!, $asOf: DateTime) {
  negotiation(id: $id, asOf: $asOf) {
    id version status statusReason title topic
    openedOn { start end precision }
    parties { name actorId } mediators { name }
    sessionCount workingGroupCount positionCount milestoneCount openMilestoneCount
    nextMilestoneDue agreementCount lastSessionDate recordedAt
    sessions { id held { start end precision } level workingGroupId
               venue { country admin1 location } participants summary outcome sources }
    workingGroups { id name mandate members formedOn { start end } }
    positions { party statement statedOn { start } source version }
    latestPositions { party statement statedOn { start } }
    milestones { id description due { start end precision } committedDueEnd
                 committedOn { start } source status statusReason
                 statusEffectiveOn { start end } }
    agreements { id name status agreementType stage signedOn { start end } provisions sources }
  }
}"#;

/// The opening of the talks (the Higher Military Commission's first round, 25 January 2024).
fn opening() -> Value {
    json!({
        "title": "Iraq-U.S. Higher Military Commission talks",
        "topic": "The future of the Global Coalition mission against ISIS in Iraq",
        "parties": [{ "name": "Iraq" }, { "name": "United States" }],
        "openedOn": { "start": "2024-01-25" },
        "idempotencyKey": "hmc-opened"
    })
}

/// Records the talks of January 2024 and after; answers the payloads by step.
struct Story {
    id: Value,
    opened: Value,
    session: Value,
    group: Value,
    group_session: Value,
    milestone: Value,
    agreement: Value,
    concluded: Value,
    met: Value,
}

async fn record_the_talks(api: &Api) -> Story {
    let opened = mutate(api, "openNegotiation", opening()).await;
    let id = opened["negotiationId"].clone();
    let session = mutate(
        api,
        "recordSession",
        json!({
            "negotiationId": id,
            "held": { "start": "2024-01-27" },
            "venue": { "country": "IRQ", "admin1": "Baghdad", "location": "Baghdad",
                       "precision": "ADMIN_1" },
            "level": "MILITARY",
            "participants": [{ "name": "Mohammed Shia al-Sudani" }],
            "summary": "First session of the Higher Military Commission, hosted by the Prime Minister",
            "outcome": "Expert working groups formed",
            "sources": [{ "name": "Office of the Prime Minister of Iraq" }],
            "expectedVersion": 1
        }),
    )
    .await;
    let group = mutate(
        api,
        "formWorkingGroup",
        json!({
            "negotiationId": id,
            "name": "The threat from ISIS",
            "mandate": "Expert working group: assess the threat from ISIS",
            "members": [{ "name": "Iraqi Joint Operations Command" }],
            "formedOn": { "start": "2024-01-27" },
            "idempotencyKey": "hmc-group-isis"
        }),
    )
    .await;
    let group_session = mutate(
        api,
        "recordSession",
        json!({
            "negotiationId": id,
            "held": { "start": "2024-01-28" },
            "level": "WORKING_GROUP",
            "workingGroup": group["itemId"],
            "sources": [{ "name": "Iraqi News Agency" }]
        }),
    )
    .await;
    for (party, statement, day) in [
        (
            "Iraq",
            "Asks for a timeline for a gradual reduction of the coalition's advisers",
            "2024-01-25",
        ),
        (
            "United States",
            "The transition will depend on the threat from ISIS, operational requirements and \
             the capabilities of the Iraqi security forces",
            "2024-01-25",
        ),
        (
            // Case and spacing as the client wrote them: the party as registered is recorded.
            "iraq",
            "The talks are to end the coalition's military mission",
            "2024-01-28",
        ),
    ] {
        mutate(
            api,
            "statePosition",
            json!({
                "negotiationId": id, "party": party, "position": statement,
                "statedOn": { "start": day }, "source": { "name": "Reuters" }
            }),
        )
        .await;
    }
    let milestone = mutate(
        api,
        "commitTimeline",
        json!({
            "negotiationId": id,
            "description": "End of the Global Coalition's military mission in federal Iraq",
            "due": { "start": "2025-09-01", "end": "2025-09-30", "precision": "MONTH" },
            "committedOn": { "start": "2024-09-27" },
            "source": { "name": "Joint statement of the United States and Iraq" }
        }),
    )
    .await;
    let agreement = mutate(
        api,
        "recordAgreement",
        json!({
            "negotiationId": id,
            "name": "Joint statement on the end of the Global Coalition's military mission",
            "status": "SIGNED",
            "agreementType": "INTERSTATE",
            "stage": "FRAMEWORK_SUBSTANTIVE_PARTIAL",
            "signedOn": { "start": "2024-09-27" },
            "provisions": ["The coalition's military mission in federal Iraq ends by September 2025"],
            "sources": [{ "name": "U.S. Department of State" }]
        }),
    )
    .await;
    let concluded = mutate(
        api,
        "setNegotiationStatus",
        json!({
            "negotiationId": id, "status": "CONCLUDED",
            "reason": "The commission agreed the two-phase transition",
            "effectiveOn": { "start": "2024-09-27" }
        }),
    )
    .await;
    let met = mutate(
        api,
        "setMilestoneStatus",
        json!({
            "negotiationId": id, "milestoneId": milestone["itemId"], "status": "MET",
            "reason": "The coalition announced the end of its mission in federal Iraq",
            "effectiveOn": { "start": "2025-09-01", "end": "2025-09-30", "precision": "MONTH" }
        }),
    )
    .await;
    Story {
        id,
        opened,
        session,
        group,
        group_session,
        milestone,
        agreement,
        concluded,
        met,
    }
}

#[tokio::test]
async fn the_talks_are_recorded_by_mutations_and_read_back_now_and_as_known_before() {
    let api = negotiations_api().await;
    let story = record_the_talks(&api).await;
    let id = &story.id;

    // Every payload: the next version, one event, read-your-writes.
    assert_eq!(story.opened["version"], 1);
    assert_eq!(story.opened["negotiation"]["status"], "ACTIVE");
    assert_eq!(story.session["version"], 2);
    assert_eq!(story.session["negotiation"]["sessionCount"], 1);
    assert_eq!(story.group_session["negotiation"]["sessionCount"], 2);
    assert_eq!(story.agreement["negotiation"]["agreementCount"], 1);
    assert_eq!(story.concluded["negotiation"]["status"], "CONCLUDED");
    assert_eq!(story.met["version"], 11);
    for payload in [&story.opened, &story.session, &story.met] {
        assert_eq!(payload["replayed"], false);
        assert_eq!(payload["caughtUp"], true);
        assert_eq!(payload["eventIds"].as_array().map(Vec::len), Some(1));
        assert_eq!(payload["negotiation"]["id"], *id);
    }
    assert_eq!(story.met["itemId"], story.milestone["itemId"]);
    assert_eq!(api.events_stored().await, 11);

    // Now.
    let data = api
        .data(NEGOTIATION, json!({ "id": id, "asOf": null }))
        .await;
    let n = &data["negotiation"];
    assert_eq!(n["version"], 11);
    assert_eq!(n["status"], "CONCLUDED");
    assert_eq!(
        n["statusReason"],
        "The commission agreed the two-phase transition"
    );
    assert_eq!(n["title"], "Iraq-U.S. Higher Military Commission talks");
    assert_eq!(
        n["openedOn"],
        json!({ "start": "2024-01-25", "end": "2024-01-25", "precision": "DAY" })
    );
    assert_eq!(
        n["parties"],
        json!([{ "name": "Iraq", "actorId": null }, { "name": "United States", "actorId": null }])
    );
    assert_eq!(n["mediators"], json!([]));
    assert_eq!(
        [
            &n["sessionCount"],
            &n["workingGroupCount"],
            &n["positionCount"],
            &n["milestoneCount"],
            &n["openMilestoneCount"],
            &n["agreementCount"]
        ],
        [
            &json!(2),
            &json!(1),
            &json!(3),
            &json!(1),
            &json!(0),
            &json!(1)
        ]
    );
    assert_eq!(n["nextMilestoneDue"], Value::Null, "the milestone was met");
    assert_eq!(n["lastSessionDate"], "2024-01-28");

    // Sessions in the order held, the second a meeting of the working group.
    let sessions = n["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["id"], story.session["itemId"]);
    assert_eq!(sessions[0]["level"], "MILITARY");
    assert_eq!(
        sessions[0]["held"],
        json!({ "start": "2024-01-27", "end": "2024-01-27", "precision": "DAY" })
    );
    assert_eq!(
        sessions[0]["venue"],
        json!({ "country": "IRQ", "admin1": "Baghdad", "location": "Baghdad" })
    );
    assert_eq!(
        sessions[0]["participants"],
        json!(["Mohammed Shia al-Sudani"])
    );
    assert_eq!(sessions[0]["outcome"], "Expert working groups formed");
    assert_eq!(
        sessions[0]["sources"],
        json!(["Office of the Prime Minister of Iraq"])
    );
    assert_eq!(sessions[1]["level"], "WORKING_GROUP");
    assert_eq!(sessions[1]["workingGroupId"], story.group["itemId"]);
    assert_eq!(sessions[1]["venue"], Value::Null);

    assert_eq!(
        n["workingGroups"],
        json!([{
            "id": story.group["itemId"],
            "name": "The threat from ISIS",
            "mandate": "Expert working group: assess the threat from ISIS",
            "members": ["Iraqi Joint Operations Command"],
            "formedOn": { "start": "2024-01-27", "end": "2024-01-27" }
        }])
    );

    // Every position in the order stated; the latest of each party (Iraq's of the 28th, under
    // the name the negotiation registered).
    let positions = n["positions"].as_array().expect("positions");
    let parties: Vec<&Value> = positions.iter().map(|p| &p["party"]).collect();
    assert_eq!(
        parties,
        [&json!("Iraq"), &json!("United States"), &json!("Iraq")]
    );
    assert_eq!(positions[2]["version"], 7);
    assert_eq!(
        n["latestPositions"],
        json!([
            { "party": "Iraq", "statement": "The talks are to end the coalition's military mission",
              "statedOn": { "start": "2024-01-28" } },
            { "party": "United States",
              "statement": "The transition will depend on the threat from ISIS, operational \
                            requirements and the capabilities of the Iraqi security forces",
              "statedOn": { "start": "2024-01-25" } }
        ])
    );

    assert_eq!(
        n["milestones"],
        json!([{
            "id": story.milestone["itemId"],
            "description": "End of the Global Coalition's military mission in federal Iraq",
            "due": { "start": "2025-09-01", "end": "2025-09-30", "precision": "MONTH" },
            "committedDueEnd": "2025-09-30",
            "committedOn": { "start": "2024-09-27" },
            "source": "Joint statement of the United States and Iraq",
            "status": "MET",
            "statusReason": "The coalition announced the end of its mission in federal Iraq",
            "statusEffectiveOn": { "start": "2025-09-01", "end": "2025-09-30" }
        }])
    );
    assert_eq!(
        n["agreements"],
        json!([{
            "id": story.agreement["itemId"],
            "name": "Joint statement on the end of the Global Coalition's military mission",
            "status": "SIGNED",
            "agreementType": "INTERSTATE",
            "stage": "FRAMEWORK_SUBSTANTIVE_PARTIAL",
            "signedOn": { "start": "2024-09-27", "end": "2024-09-27" },
            "provisions": ["The coalition's military mission in federal Iraq ends by September 2025"],
            "sources": ["U.S. Department of State"]
        }])
    );

    // As known when the agreement was recorded: still active, the milestone pending and due.
    let data = api
        .data(
            NEGOTIATION,
            json!({ "id": id, "asOf": story.agreement["recordedAt"] }),
        )
        .await;
    let then = &data["negotiation"];
    assert_eq!(then["version"], 9);
    assert_eq!(then["status"], "ACTIVE");
    assert_eq!(then["statusReason"], Value::Null);
    assert_eq!(then["milestones"][0]["status"], "PENDING");
    assert_eq!(then["milestones"][0]["statusReason"], Value::Null);
    assert_eq!(then["openMilestoneCount"], 1);
    assert_eq!(then["nextMilestoneDue"], "2025-09-30");
    assert_eq!(then["agreements"].as_array().map(Vec::len), Some(1));

    // As known after the first session: one session, none of what came later.
    let data = api
        .data(
            NEGOTIATION,
            json!({ "id": id, "asOf": story.session["recordedAt"] }),
        )
        .await;
    let early = &data["negotiation"];
    assert_eq!(early["version"], 2);
    assert_eq!(early["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(early["workingGroups"], json!([]));
    assert_eq!(early["positions"], json!([]));
    assert_eq!(early["latestPositions"], json!([]));
    assert_eq!(early["milestones"], json!([]));
    assert_eq!(early["agreements"], json!([]));

    // Before it was opened: not known.
    let data = api
        .data(
            NEGOTIATION,
            json!({ "id": id, "asOf": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(data["negotiation"], Value::Null);
}

/// The list's query, with each negotiation's agreements and sessions.
const LIST: &str = r#"
query($first: Int, $after: String, $filter: NegotiationFilterInput, $asOf: DateTime) {
  negotiations(first: $first, after: $after, filter: $filter, asOf: $asOf) {
    totalCount
    nodes { id title status openedOn { start } agreements { name } sessions { held { start } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

#[tokio::test]
async fn the_list_filters_by_status_and_party_and_pages_by_cursor() {
    let api = negotiations_api().await;
    let story = record_the_talks(&api).await;
    // Two more processes, opened later.
    for (title, parties, day) in [
        (
            "Talks on the release of detainees",
            ["Iraq", "Kataib Hezbollah"],
            "2024-02-10",
        ),
        ("Gaza ceasefire talks", ["Israel", "Hamas"], "2024-03-03"),
    ] {
        mutate(
            &api,
            "openNegotiation",
            json!({
                "title": title, "topic": title,
                "parties": parties.iter().map(|p| json!({ "name": p })).collect::<Vec<_>>(),
                "mediators": [{ "name": "Qatar" }],
                "openedOn": { "start": day }
            }),
        )
        .await;
    }

    // Newest opened first, a page at a time.
    let first = api.data(LIST, json!({ "first": 2 })).await;
    let page = &first["negotiations"];
    assert_eq!(page["totalCount"], 3);
    let titles: Vec<&Value> = page["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| &n["title"])
        .collect();
    assert_eq!(
        titles,
        [
            &json!("Gaza ceasefire talks"),
            &json!("Talks on the release of detainees")
        ]
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let after = page["pageInfo"]["endCursor"].clone();
    let second = api.data(LIST, json!({ "first": 2, "after": after })).await;
    let page = &second["negotiations"];
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["nodes"].as_array().map(Vec::len), Some(1));
    let talks = &page["nodes"][0];
    assert_eq!(talks["id"], story.id);
    assert_eq!(
        talks["agreements"],
        json!([{ "name": "Joint statement on the end of the Global Coalition's military mission" }])
    );
    assert_eq!(
        talks["sessions"],
        json!([{ "held": { "start": "2024-01-27" } }, { "held": { "start": "2024-01-28" } }])
    );

    // By status, now and as known before the talks concluded.
    let count = |filter: Value, as_of: Value| {
        let api = &api;
        async move {
            let data = api
                .data(LIST, json!({ "filter": filter, "asOf": as_of }))
                .await;
            data["negotiations"]["totalCount"].clone()
        }
    };
    assert_eq!(
        count(json!({ "statuses": ["CONCLUDED"] }), Value::Null).await,
        1
    );
    assert_eq!(
        count(json!({ "statuses": ["ACTIVE"] }), Value::Null).await,
        2
    );
    assert_eq!(
        count(
            json!({ "statuses": ["ACTIVE"] }),
            story.agreement["recordedAt"].clone()
        )
        .await,
        1,
        "as known before the conclusion, and before the other talks opened"
    );
    assert_eq!(
        count(
            json!({ "statuses": ["ACTIVE", "CONCLUDED"] }),
            story.concluded["recordedAt"].clone()
        )
        .await,
        1
    );
    // By party or mediator, by name without regard to case or spacing.
    assert_eq!(
        count(json!({ "party": "united   STATES" }), Value::Null).await,
        1
    );
    assert_eq!(count(json!({ "party": "Iraq" }), Value::Null).await, 2);
    assert_eq!(count(json!({ "party": "qatar" }), Value::Null).await, 2);
    assert_eq!(count(json!({ "party": "Iran" }), Value::Null).await, 0);
    assert_eq!(
        count(
            json!({ "actor": "0191e2c4-0000-7000-8000-000000000001" }),
            Value::Null
        )
        .await,
        0
    );
    let filtered = api
        .data(
            LIST,
            json!({ "filter": { "party": "Iraq", "statuses": ["ACTIVE"] } }),
        )
        .await;
    assert_eq!(
        filtered["negotiations"]["nodes"][0]["title"],
        "Talks on the release of detainees"
    );
    assert_eq!(filtered["negotiations"]["totalCount"], 1);
}

#[tokio::test]
async fn list_arguments_out_of_bounds_are_bad_input() {
    let api = negotiations_api().await;
    let error = api
        .error("{ negotiations(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "first");
    // An incident list's cursor is not one of this list.
    let error = api
        .error(
            r#"{ negotiations(after: "MjAyNC0wMS0yOC8wMTkxZTJjNC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDE") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "after");
    let error = api
        .error(
            r#"{ negotiations(filter: { party: "  " }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["field"], "filter.party");
}

#[tokio::test]
async fn conflicts_retries_and_invalid_input_change_nothing() {
    let api = negotiations_api().await;
    let opened = mutate(&api, "openNegotiation", opening()).await;
    let id = opened["negotiationId"].clone();

    // A retry with the same key: the first answer, nothing appended.
    let retry = mutate(&api, "openNegotiation", opening()).await;
    assert_eq!(retry["replayed"], true);
    assert_eq!(retry["negotiationId"], id);
    assert_eq!(retry["eventIds"], opened["eventIds"]);
    assert_eq!(retry["version"], 1);
    assert_eq!(api.events_stored().await, 1);

    // A retried session without an id: the key names the same session.
    let session = json!({
        "negotiationId": id, "held": { "start": "2024-01-27" }, "level": "MILITARY",
        "idempotencyKey": "hmc-session-1"
    });
    let first = mutate(&api, "recordSession", session.clone()).await;
    let again = mutate(&api, "recordSession", session).await;
    assert_eq!(again["replayed"], true);
    assert_eq!(again["itemId"], first["itemId"]);
    assert_eq!(again["eventIds"], first["eventIds"]);
    assert_eq!(api.events_stored().await, 2);

    // A stale expected version.
    let position = json!({
        "negotiationId": id, "party": "Iraq", "position": "A timeline for the drawdown",
        "statedOn": { "start": "2024-01-25" }, "source": { "name": "Reuters" },
        "expectedVersion": 1
    });
    let error = refused(&api, "statePosition", position).await;
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(error["expectedVersion"], 1);
    assert_eq!(error["actualVersion"], 2);
    assert_eq!(api.events_stored().await, 2);

    // Invalid input, with the path into the input.
    let error = refused(
        &api,
        "openNegotiation",
        json!({ "title": "Alone", "topic": "x", "parties": [{ "name": "Iraq" }],
                "openedOn": { "start": "2024-01-25" } }),
    )
    .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.parties");
    let error = refused(
        &api,
        "recordSession",
        json!({ "negotiationId": id, "held": { "start": "2024-01-20" }, "level": "MILITARY" }),
    )
    .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.held");
    assert!(error["rule"]
        .as_str()
        .is_some_and(|r| r.contains("before the negotiation opened")));
    let error = refused(
        &api,
        "statePosition",
        json!({ "negotiationId": id, "party": "Iran", "position": "x",
                "statedOn": { "start": "2024-01-25" }, "source": { "name": "Reuters" } }),
    )
    .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.party");
    let error = refused(
        &api,
        "recordSession",
        json!({ "negotiationId": id, "held": { "start": "2024-01-28" }, "level": "WORKING_GROUP" }),
    )
    .await;
    assert_eq!(error["field"], "input.workingGroup");
    assert_eq!(api.events_stored().await, 2);

    // What the state refuses, and what is not there.
    let status = json!({ "negotiationId": id, "status": "ACTIVE", "reason": "still talking" });
    let error = refused(&api, "setNegotiationStatus", status).await;
    assert_eq!(error["code"], "INVALID_STATE");
    let error = refused(
        &api,
        "setMilestoneStatus",
        json!({ "negotiationId": id, "milestoneId": "0191e2c4-0000-7000-8000-000000000001",
                "status": "MET", "reason": "x" }),
    )
    .await;
    assert_eq!(error["code"], "NOT_FOUND");
    let error = refused(
        &api,
        "statePosition",
        json!({ "negotiationId": "0191e2c4-0000-7000-8000-000000000002", "party": "Iraq",
                "position": "x", "statedOn": { "start": "2024-01-25" },
                "source": { "name": "Reuters" } }),
    )
    .await;
    assert_eq!(error["code"], "NOT_FOUND");
    assert_eq!(api.events_stored().await, 2);

    // Nothing refused shows in the read model.
    let data = api
        .data(NEGOTIATION, json!({ "id": id, "asOf": null }))
        .await;
    assert_eq!(data["negotiation"]["version"], 2);
    assert_eq!(data["negotiation"]["positions"], json!([]));
    assert_eq!(data["negotiation"]["sessionCount"], 1);
}
