//! Related objects load in batches: a list of incidents with their actors (and the actors'
//! affiliations and incidents), or of actors with theirs, runs as many SQL statements for one
//! parent as for five. Its own test binary, so that no other test's statements (or tracing
//! subscribers) run beside the one counted.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn related_objects_load_in_batches_whatever_the_number_of_parents() {
    let mut api = api().await;
    let iri = register_actor(
        &api,
        json!({ "name": "Islamic Resistance in Iraq", "actorType": "MILITIA_GROUPS",
                "country": "IRQ", "aliases": ["IRI"] }),
    )
    .await;
    let irgc = register_actor(
        &api,
        json!({ "name": "Islamic Revolutionary Guard Corps", "actorType": "STATE_FORCES",
                "country": "IRN" }),
    )
    .await;
    let kh = register_actor(
        &api,
        json!({ "name": "Kata'ib Hezbollah", "actorType": "MILITIA_GROUPS", "country": "IRQ" }),
    )
    .await;
    for actor in [&iri, &kh] {
        api.data(
            r#"mutation($input: RecordAffiliationInput!) {
                 recordAffiliation(input: $input) { version } }"#,
            json!({ "input": { "actorId": actor, "relatedActor": irgc,
                               "relation": "BACKED_BY" } }),
        )
        .await;
    }
    let site = register_site(&api, al_asad()).await;
    for day in [
        "2024-01-20",
        "2024-02-04",
        "2024-02-10",
        "2024-02-11",
        "2024-02-12",
    ] {
        report_at_site(
            &api,
            day,
            &site,
            json!([{ "actor": kh, "role": "PERPETRATOR", "attribution": "SUSPECTED" },
                   { "actor": iri, "role": "CLAIMANT", "attribution": "CLAIMED" }]),
        )
        .await;
    }
    api.stop_projectors().await;
    let query = r#"query($first: Int) { incidents(first: $first) { edges { node { id
        actors { role attribution actor { name incidentCount
          affiliations { relatedActor { name } } incidents(first: 2) { id } } } } } } }"#;
    let (one, few) = api
        .data_counting_statements(query, json!({ "first": 1 }))
        .await;
    let (five, many) = api
        .data_counting_statements(query, json!({ "first": 5 }))
        .await;
    assert_eq!(one["incidents"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(five["incidents"]["edges"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        five["incidents"]["edges"][4]["node"]["actors"][0]["actor"]["affiliations"][0]
            ["relatedActor"]["name"],
        "Islamic Revolutionary Guard Corps"
    );
    // The list and its generation (2), then one batch (the live generation and one query) of
    // each kind of key at each level: involvements; their actors; the actors' counts,
    // affiliations and incidents; the affiliations' related actors: 2 + 6 * 2. Two batches of
    // one kind of key at different levels (actors) merge when they fall into the loader's
    // window of 1 ms, so a run may take fewer; never more, whatever the number of incidents.
    assert!((2..=14).contains(&few), "statements for 1 incident: {few}");
    assert!(
        (2..=14).contains(&many),
        "statements for 5 incidents: {many}"
    );

    let query = r#"query($first: Int) { actors(first: $first) { edges { node { name
        incidentCount claimedCount affiliations { relatedActor { name } }
        incidents { id actors { actor { name } } } } } } }"#;
    let (one, few) = api
        .data_counting_statements(query, json!({ "first": 1 }))
        .await;
    let (three, many) = api
        .data_counting_statements(query, json!({ "first": 3 }))
        .await;
    assert_eq!(one["actors"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(three["actors"]["edges"].as_array().map(Vec::len), Some(3));
    // The list (2); the counts (both fields one key), affiliations, their related actors,
    // incidents, their involvements and those actors: 2 + 6 * 2.
    assert!((2..=14).contains(&few), "statements for 1 actor: {few}");
    assert!((2..=14).contains(&many), "statements for 3 actors: {many}");
}
