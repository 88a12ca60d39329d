//! A page of negotiations with their parts (sessions, working groups, positions, milestones,
//! agreements) runs as many SQL statements for one negotiation as for three: the parts load in
//! batches. Its own test binary, so that no other test's statements (or tracing subscribers)
//! run beside the ones counted.

mod common;

use std::sync::Arc;

use common::{api_with, Api};
use serde_json::{json, Value};
use sitrep_projections::negotiations::NegotiationsProjection;

/// Runs mutation `name` with `input`; answers its payload (which must have no errors).
async fn mutate(api: &Api, name: &str, input: Value) -> Value {
    let data = api.data(&mutation(name), json!({ "input": input })).await;
    data[name].clone()
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

#[tokio::test]
async fn a_page_of_negotiations_with_their_parts_runs_the_same_statements_whatever_its_size() {
    let mut api = api_with(vec![Arc::new(NegotiationsProjection)]).await;
    for (i, day) in ["2024-01-25", "2024-02-10", "2024-03-03"]
        .iter()
        .enumerate()
    {
        let opened = mutate(
            &api,
            "openNegotiation",
            json!({ "title": format!("Talks {i}"), "topic": "x",
                    "parties": [{ "name": "Iraq" }, { "name": "United States" }],
                    "openedOn": { "start": day } }),
        )
        .await;
        let id = opened["negotiationId"].clone();
        for (name, input) in [
            (
                "recordSession",
                json!({ "held": { "start": day }, "level": "MILITARY" }),
            ),
            (
                "statePosition",
                json!({ "party": "Iraq", "position": "x",
                                      "statedOn": { "start": day }, "source": { "name": "x" } }),
            ),
            (
                "recordAgreement",
                json!({ "name": format!("Agreement {i}"), "status": "SIGNED",
                                        "agreementType": "INTERSTATE", "stage": "OTHER",
                                        "signedOn": { "start": day } }),
            ),
        ] {
            let mut input = input;
            input["negotiationId"] = id.clone();
            mutate(&api, name, input).await;
        }
    }
    api.stop_projectors().await;
    let list = r#"query($first: Int) { negotiations(first: $first) {
        totalCount
        nodes { id sessions { id } workingGroups { id } positions { party } latestPositions { party }
                milestones { id } agreements { name } } } }"#;
    // Warm the pool's connections first, so that only the answers' statements count.
    api.data_counting_statements(list, json!({ "first": 3 }))
        .await;
    let (one, statements_for_one) = api
        .data_counting_statements(list, json!({ "first": 1 }))
        .await;
    let (three, statements_for_three) = api
        .data_counting_statements(list, json!({ "first": 3 }))
        .await;
    assert_eq!(
        one["negotiations"]["nodes"].as_array().map(Vec::len),
        Some(1)
    );
    let nodes = three["negotiations"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    for node in nodes {
        assert_eq!(node["agreements"].as_array().map(Vec::len), Some(1));
        assert_eq!(node["sessions"].as_array().map(Vec::len), Some(1));
    }
    // The live generation, the page, the total, and one statement per part (sessions, working
    // groups, positions for both lists of positions, milestones, agreements).
    assert_eq!(statements_for_one, 8);
    assert_eq!(statements_for_three, statements_for_one);
}
