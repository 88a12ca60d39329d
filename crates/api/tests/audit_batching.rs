//! The `history` fields of a list load in one batch: a list of four incidents with their
//! histories runs as many SQL statements as a list of one. Its own test binary, so that no
//! other test's statements (or tracing subscribers) run beside the ones counted.

mod common;

use common::*;
use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;

/// `data` of `query` run by an auditor, and how many SQL statements it ran.
async fn audit_counting_statements(api: &Api, query: &str) -> (Value, usize) {
    let auditor = Caller::Token(TokenHolder {
        token_id: uuid::Uuid::nil(),
        name: "audit office".to_owned(),
        role: Role::Auditor,
    });
    api.data_counting_statements_as(auditor, query, json!({}))
        .await
}

/// Reports an incident on `day` and revises its toll: two versions.
async fn report_and_revise(api: &Api, day: &str) {
    let data = api
        .data(
            "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { incidentId } }",
            json!({ "input": { "facts": {
                "time": { "start": day },
                "place": { "country": "IRQ", "location": "Ain al-Asad", "precision": "EXACT",
                           "coordinates": { "latitude": 33.8, "longitude": 42.44 } },
                "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
                "subEventType": "SHELLING_ARTILLERY_MISSILE_ATTACK",
                "fatalities": { "best": 0 }
            }}}),
        )
        .await;
    let id = data["reportIncident"]["incidentId"].clone();
    api.data(
        "mutation($input: ReviseCasualtiesInput!) { reviseCasualties(input: $input) { version } }",
        json!({ "input": { "incidentId": id, "fatalities": { "best": 2 }, "reason": "update" } }),
    )
    .await;
}

#[tokio::test]
async fn the_history_of_a_list_loads_in_one_batch() {
    let api = api().await;
    let query = "{ incidents { edges { node { id history { version changes { path } } } } } }";
    report_and_revise(&api, "2024-01-20").await;
    let (one, statements_for_one) = audit_counting_statements(&api, query).await;
    let edges = one["incidents"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    assert_eq!(
        edges[0]["node"]["history"]
            .as_array()
            .expect("a list")
            .len(),
        2
    );
    for day in ["2024-01-21", "2024-01-22", "2024-01-23"] {
        report_and_revise(&api, day).await;
    }
    let (four, statements_for_four) = audit_counting_statements(&api, query).await;
    let edges = four["incidents"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 4);
    assert!(edges
        .iter()
        .all(|e| e["node"]["history"].as_array().map(Vec::len) == Some(2)));
    assert!(statements_for_one > 0, "statements are counted");
    assert_eq!(
        statements_for_four, statements_for_one,
        "one statement per level, whatever the number of incidents"
    );
}
