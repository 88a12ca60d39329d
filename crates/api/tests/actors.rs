//! The actors side of the schema on a real database: the Islamic Resistance in Iraq registered
//! with an alias and an affiliation, incidents at Al-Asad Airbase naming it, read back through
//! `actors`, `actor`, `Incident.actors` and `Actor.incidents`, before and after a rename; and
//! the mutations' conflicts, retries and refusals, each of which changes nothing.

mod common;

use common::*;
use serde_json::{json, Value};

const REGISTER: &str = r#"
mutation($input: RegisterActorInput!) {
  registerActor(input: $input) {
    actorId version eventIds recordedAt replayed caughtUp
    actor { id version name aliases actorType country description }
  }
}"#;

const ACTOR: &str = r#"
query($id: UUID!, $asOf: DateTime) {
  actor(id: $id, asOf: $asOf) {
    id version name aliases actorType country
    affiliations { relation from until relatedActorId relatedActor { name } }
    incidentCount claimedCount
    incidents { id startDate }
  }
}"#;

const RENAME: &str = r#"
mutation($input: RenameActorInput!) {
  renameActor(input: $input) { actorId version recordedAt replayed actor { name aliases } }
}"#;

fn iri() -> Value {
    json!({
        "name": "Islamic Resistance in Iraq",
        "actorType": "MILITIA_GROUPS",
        "country": "IRQ",
        "aliases": ["IRI"],
        "description": "Umbrella of Iran-aligned Iraqi armed groups."
    })
}

/// The story: the IRGC, the IRI (backed by it), Kata'ib Hezbollah, Al-Asad, two incidents.
struct World {
    iri: String,
    irgc: String,
    kh: String,
    site: String,
    /// The older incident (the IRI claims it) and the newer (the IRI claims it, KH suspected).
    incidents: [String; 2],
}

async fn world(api: &Api) -> World {
    let data = api
        .data(
            REGISTER,
            json!({ "input": merged(iri(), json!({ "idempotencyKey": "register-iri" })) }),
        )
        .await;
    let payload = &data["registerActor"];
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["replayed"], false);
    assert_eq!(payload["caughtUp"], true);
    assert_eq!(payload["actor"]["name"], "Islamic Resistance in Iraq");
    assert_eq!(payload["actor"]["aliases"], json!(["IRI"]));
    assert_eq!(payload["actor"]["actorType"], "MILITIA_GROUPS");
    assert_eq!(payload["actor"]["country"], "IRQ");
    let iri = payload["actorId"].as_str().expect("id").to_owned();
    let irgc = register_actor(
        api,
        json!({ "name": "Islamic Revolutionary Guard Corps", "actorType": "STATE_FORCES",
                "country": "IRN", "aliases": ["IRGC"] }),
    )
    .await;
    let kh = register_actor(
        api,
        json!({ "name": "Kata'ib Hezbollah", "actorType": "MILITIA_GROUPS", "country": "IRQ" }),
    )
    .await;
    let data = api
        .data(
            r#"mutation($input: RecordAffiliationInput!) {
                 recordAffiliation(input: $input) {
                   version actor { affiliations { relation from relatedActor { name } } }
                 } }"#,
            json!({ "input": { "actorId": iri, "relatedActor": irgc, "relation": "BACKED_BY",
                               "from": "2023-10-17", "source": { "name": "ACLED" } } }),
        )
        .await;
    assert_eq!(data["recordAffiliation"]["version"], 2);
    assert_eq!(
        data["recordAffiliation"]["actor"]["affiliations"],
        json!([{ "relation": "BACKED_BY", "from": "2023-10-17",
                 "relatedActor": { "name": "Islamic Revolutionary Guard Corps" } }])
    );
    let site = register_site(api, al_asad()).await;
    let older = report_at_site(
        api,
        "2024-01-20",
        &site,
        json!([{ "actor": iri, "role": "CLAIMANT", "attribution": "CLAIMED" }]),
    )
    .await;
    let newer = report_at_site(
        api,
        "2024-02-04",
        &site,
        json!([
            { "actor": iri, "role": "CLAIMANT", "attribution": "CLAIMED" },
            { "actor": kh, "role": "SUSPECTED", "attribution": "SUSPECTED" }
        ]),
    )
    .await;
    World {
        iri,
        irgc,
        kh,
        site,
        incidents: [older, newer],
    }
}

#[tokio::test]
async fn an_actor_is_read_back_with_its_affiliations_counts_and_incidents() {
    let api = api().await;
    let w = world(&api).await;

    let data = api.data(ACTOR, json!({ "id": w.iri })).await;
    let actor = &data["actor"];
    assert_eq!(actor["name"], "Islamic Resistance in Iraq");
    assert_eq!(actor["version"], 2);
    assert_eq!(actor["aliases"], json!(["IRI"]));
    assert_eq!(
        actor["affiliations"],
        json!([{ "relation": "BACKED_BY", "from": "2023-10-17", "until": null,
                 "relatedActorId": w.irgc,
                 "relatedActor": { "name": "Islamic Revolutionary Guard Corps" } }])
    );
    assert_eq!(actor["incidentCount"], 2);
    assert_eq!(actor["claimedCount"], 2);
    assert_eq!(
        actor["incidents"],
        json!([{ "id": w.incidents[1], "startDate": "2024-02-04" },
               { "id": w.incidents[0], "startDate": "2024-01-20" }])
    );
    let data = api.data(ACTOR, json!({ "id": w.kh })).await;
    assert_eq!(data["actor"]["incidentCount"], 1);
    assert_eq!(data["actor"]["claimedCount"], 0);
    assert_eq!(data["actor"]["affiliations"], json!([]));
    // An actor nobody registered.
    let data = api
        .data(
            ACTOR,
            json!({ "id": "00000000-0000-0000-0000-000000000001" }),
        )
        .await;
    assert_eq!(data["actor"], Value::Null);

    // Every incident of the list with its actors, each with role, attribution and the actor.
    let data = api
        .data(
            r#"{ incidents(filter: { countries: ["IRQ"] }) { edges { node {
                   id siteId actors { actorId role attribution actor { name actorType } }
                 } } } }"#,
            json!({}),
        )
        .await;
    let nodes: Vec<&Value> = data["incidents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["id"], w.incidents[1].as_str());
    assert_eq!(nodes[0]["siteId"], w.site.as_str());
    assert_eq!(
        nodes[0]["actors"],
        json!([
            { "actorId": w.iri, "role": "CLAIMANT", "attribution": "CLAIMED",
              "actor": { "name": "Islamic Resistance in Iraq", "actorType": "MILITIA_GROUPS" } },
            { "actorId": w.kh, "role": "SUSPECTED", "attribution": "SUSPECTED",
              "actor": { "name": "Kata'ib Hezbollah", "actorType": "MILITIA_GROUPS" } }
        ])
    );
    assert_eq!(
        nodes[1]["actors"],
        json!([{ "actorId": w.iri, "role": "CLAIMANT", "attribution": "CLAIMED",
                 "actor": { "name": "Islamic Resistance in Iraq", "actorType": "MILITIA_GROUPS" } }])
    );

    // A changed attribution shows in the incident's new version, not in the version before.
    let data = api
        .data(
            r#"mutation($input: RecordClaimInput!) { recordClaim(input: $input) {
                 incident { actors { actorId role attribution } } } }"#,
            json!({ "input": { "incidentId": w.incidents[1], "actor": w.kh, "role": "SUSPECTED",
                               "attribution": "ATTRIBUTED_BY_SOURCE",
                               "reason": "named by officials" } }),
        )
        .await;
    assert_eq!(
        data["recordClaim"]["incident"]["actors"][1],
        json!({ "actorId": w.kh, "role": "SUSPECTED", "attribution": "ATTRIBUTED_BY_SOURCE" })
    );
}

#[tokio::test]
async fn the_actor_list_filters_and_pages_by_name() {
    let api = api().await;
    let w = world(&api).await;
    let list = r#"query($filter: ActorFilterInput, $first: Int, $after: String) {
        actors(filter: $filter, first: $first, after: $after) {
          pageInfo { hasNextPage endCursor } edges { node { id name } } } }"#;
    let names = |data: &Value| -> Vec<String> {
        data["actors"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let data = api.data(list, json!({})).await;
    assert_eq!(
        names(&data),
        vec![
            "Islamic Resistance in Iraq",
            "Islamic Revolutionary Guard Corps",
            "Kata'ib Hezbollah"
        ]
    );
    // By part of a name or an alias, any case.
    let data = api
        .data(list, json!({ "filter": { "search": "RESISTANCE" } }))
        .await;
    assert_eq!(names(&data), vec!["Islamic Resistance in Iraq"]);
    let data = api
        .data(list, json!({ "filter": { "search": "irgc" } }))
        .await;
    assert_eq!(names(&data), vec!["Islamic Revolutionary Guard Corps"]);
    // By type and country.
    let data = api
        .data(
            list,
            json!({ "filter": { "actorTypes": ["MILITIA_GROUPS"], "countries": ["IRQ"] } }),
        )
        .await;
    assert_eq!(
        names(&data),
        vec!["Islamic Resistance in Iraq", "Kata'ib Hezbollah"]
    );
    let data = api
        .data(list, json!({ "filter": { "countries": ["IRN"] } }))
        .await;
    assert_eq!(names(&data), vec!["Islamic Revolutionary Guard Corps"]);
    // Two at a time.
    let data = api.data(list, json!({ "first": 2 })).await;
    assert_eq!(data["actors"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(names(&data).len(), 2);
    let after = data["actors"]["pageInfo"]["endCursor"].clone();
    let data = api.data(list, json!({ "first": 2, "after": after })).await;
    assert_eq!(names(&data), vec!["Kata'ib Hezbollah"]);
    assert_eq!(data["actors"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(data["actors"]["edges"][0]["node"]["id"], w.kh.as_str());

    // Refusals name the argument.
    let error = api.error(list, json!({ "first": 201 })).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "first");
    let error = api
        .error(list, json!({ "after": "bm90IGEgY3Vyc29y" }))
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "after");
    let error = api
        .error(list, json!({ "filter": { "countries": ["IRQ", "Iraq"] } }))
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "filter.countries[1]");
}

#[tokio::test]
async fn as_of_shows_the_actor_before_and_after_a_rename() {
    let api = api().await;
    let w = world(&api).await;
    let before: String = sqlx::query_scalar(
        "SELECT to_json(max(recorded_at))#>>'{}' FROM events WHERE stream_type = 'actor'",
    )
    .fetch_one(api.store.pool())
    .await
    .expect("time");
    let data = api
        .data(
            RENAME,
            json!({ "input": { "actorId": w.iri, "name": "al-Muqawama al-Islamiya fi al-Iraq",
                               "reason": "the name it uses", "expectedVersion": 2 } }),
        )
        .await;
    let payload = &data["renameActor"];
    assert_eq!(payload["version"], 3);
    assert_eq!(
        payload["actor"]["name"],
        "al-Muqawama al-Islamiya fi al-Iraq"
    );
    assert_eq!(
        payload["actor"]["aliases"],
        json!(["IRI", "Islamic Resistance in Iraq"])
    );
    let renamed_at = payload["recordedAt"].clone();

    let old = api
        .data(ACTOR, json!({ "id": w.iri, "asOf": before }))
        .await;
    assert_eq!(old["actor"]["name"], "Islamic Resistance in Iraq");
    assert_eq!(old["actor"]["version"], 2);
    // As known then, both incidents were still to come.
    assert_eq!(old["actor"]["incidentCount"], 0);
    assert_eq!(old["actor"]["incidents"], json!([]));
    let new = api
        .data(ACTOR, json!({ "id": w.iri, "asOf": renamed_at }))
        .await;
    assert_eq!(new["actor"]["name"], "al-Muqawama al-Islamiya fi al-Iraq");
    assert_eq!(new["actor"]["incidentCount"], 2);
    assert_eq!(new["actor"]["claimedCount"], 2);
    assert_eq!(new["actor"]["incidents"].as_array().map(Vec::len), Some(2));
    // Before it was registered, it was not known.
    let data = api
        .data(
            ACTOR,
            json!({ "id": w.iri, "asOf": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(data["actor"], Value::Null);

    // The list searches the names as they were.
    let list = r#"query($asOf: DateTime) { actors(filter: { search: "resistance in" }, asOf: $asOf) {
        edges { node { name } } } }"#;
    let data = api.data(list, json!({ "asOf": before })).await;
    assert_eq!(
        data["actors"]["edges"],
        json!([{ "node": { "name": "Islamic Resistance in Iraq" } }])
    );
    // Now the old name is an alias, so the search finds the renamed actor.
    let data = api.data(list, json!({})).await;
    assert_eq!(
        data["actors"]["edges"],
        json!([{ "node": { "name": "al-Muqawama al-Islamiya fi al-Iraq" } }])
    );

    // An incident's actors now, and as known before the rename.
    let incident = r#"query($id: UUID!, $asOf: DateTime) { incident(id: $id) {
        actors(asOf: $asOf) { role actor { name } } } }"#;
    let data = api.data(incident, json!({ "id": w.incidents[0] })).await;
    assert_eq!(
        data["incident"]["actors"],
        json!([{ "role": "CLAIMANT", "actor": { "name": "al-Muqawama al-Islamiya fi al-Iraq" } }])
    );
    let data = api
        .data(incident, json!({ "id": w.incidents[0], "asOf": before }))
        .await;
    assert_eq!(
        data["incident"]["actors"],
        json!([{ "role": "CLAIMANT", "actor": { "name": "Islamic Resistance in Iraq" } }])
    );

    // An incident read as of a time before the rename shows its actors as known then too,
    // without being told again (what the tracker would have answered at that time).
    let reported: String = sqlx::query_scalar(
        "SELECT to_json(max(recorded_at))#>>'{}' FROM events WHERE stream_type = 'incident'",
    )
    .fetch_one(api.store.pool())
    .await
    .expect("time");
    let read_then = r#"query($id: UUID!, $asOf: DateTime) { incident(id: $id, asOf: $asOf) {
        actors { role actor { name } } } }"#;
    let data = api
        .data(read_then, json!({ "id": w.incidents[0], "asOf": reported }))
        .await;
    assert_eq!(
        data["incident"]["actors"],
        json!([{ "role": "CLAIMANT", "actor": { "name": "Islamic Resistance in Iraq" } }])
    );
}

#[tokio::test]
async fn every_actor_command_has_its_mutation() {
    let api = api().await;
    let w = world(&api).await;
    let run = |mutation: &'static str, input: Value| {
        let api = &api;
        async move {
            let input_type = format!("{}{}Input", &mutation[..1].to_uppercase(), &mutation[1..]);
            let query = format!(
                "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{
                    actorId version replayed caughtUp
                    actor {{ name aliases actorType country description
                             affiliations {{ id relation until }} }} }} }}"
            );
            api.data(&query, json!({ "input": input })).await[mutation].clone()
        }
    };
    let kh = w.kh.as_str();
    let payload = run("addActorAlias", json!({ "actorId": kh, "alias": "KH" })).await;
    assert_eq!(payload["version"], 2);
    assert_eq!(payload["actor"]["aliases"], json!(["KH"]));
    let payload = run(
        "removeActorAlias",
        json!({ "actorId": kh, "alias": "kh", "reason": "too short" }),
    )
    .await;
    assert_eq!(payload["actor"]["aliases"], json!([]));
    let payload = run(
        "changeActorType",
        json!({ "actorId": kh, "actorType": "FOREIGN_OTHERS", "reason": "coded as a proxy" }),
    )
    .await;
    assert_eq!(payload["actor"]["actorType"], "FOREIGN_OTHERS");
    let payload = run(
        "amendActor",
        json!({ "actorId": kh, "description": "Designated in 2009.", "reason": "profile" }),
    )
    .await;
    assert_eq!(payload["actor"]["description"], "Designated in 2009.");
    assert_eq!(payload["actor"]["country"], "IRQ");
    let affiliation = "00000000-0000-0000-0000-0000000000a1";
    let payload = run(
        "recordAffiliation",
        json!({ "actorId": kh, "affiliationId": affiliation, "relatedActor": w.iri,
                "relation": "MEMBER_OF", "from": "2023-10-17" }),
    )
    .await;
    assert_eq!(
        payload["actor"]["affiliations"],
        json!([{ "id": affiliation, "relation": "MEMBER_OF", "until": null }])
    );
    let payload = run(
        "endAffiliation",
        json!({ "actorId": kh, "affiliationId": affiliation, "until": "2024-01-30",
                "reason": "suspended operations" }),
    )
    .await;
    assert_eq!(
        payload["actor"]["affiliations"],
        json!([{ "id": affiliation, "relation": "MEMBER_OF", "until": "2024-01-30" }])
    );
    let payload = run(
        "retractAffiliation",
        json!({ "actorId": kh, "affiliationId": affiliation, "reason": "recorded in error" }),
    )
    .await;
    assert_eq!(payload["version"], 8);
    assert_eq!(payload["actor"]["affiliations"], json!([]));
    let payload = run(
        "renameActor",
        json!({ "actorId": kh, "name": "Kataib Hezbollah", "reason": "spelling" }),
    )
    .await;
    assert_eq!(payload["actor"]["name"], "Kataib Hezbollah");
    assert_eq!(payload["caughtUp"], true);
}

#[tokio::test]
async fn conflicts_retries_and_refusals_change_nothing() {
    let api = api().await;
    let w = world(&api).await;

    // A retry with the same key answers the first result and appends nothing.
    let stored = api.events_stored().await;
    let data = api
        .data(
            REGISTER,
            json!({ "input": merged(iri(), json!({ "idempotencyKey": "register-iri" })) }),
        )
        .await;
    assert_eq!(data["registerActor"]["replayed"], true);
    assert_eq!(data["registerActor"]["actorId"], w.iri.as_str());
    assert_eq!(data["registerActor"]["version"], 1);
    assert_eq!(api.events_stored().await, stored);

    // A stale expectedVersion.
    let error = api
        .error(
            RENAME,
            json!({ "input": { "actorId": w.iri, "name": "IRI", "reason": "r",
                               "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(error["expectedVersion"], 1);
    assert_eq!(error["actualVersion"], 2);

    // Input the domain refuses, with the path into the input.
    for (input, field) in [
        (merged(iri(), json!({ "country": "Iraq" })), "input.country"),
        (merged(iri(), json!({ "name": " " })), "input.name"),
        (
            merged(iri(), json!({ "aliases": ["IRI", "iri"] })),
            "input.aliases[1]",
        ),
    ] {
        let error = api.error(REGISTER, json!({ "input": input })).await;
        assert_eq!(error["code"], "BAD_USER_INPUT", "{error}");
        assert_eq!(error["field"], field);
    }
    let error = api
        .error(
            RENAME,
            json!({ "input": { "actorId": w.iri, "name": "X", "reason": "r",
                               "expectedVersion": -1 } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.expectedVersion");
    // Not affiliated with itself (the rule that needs the actor's own id), nor with an actor
    // nobody registered.
    let affiliate = r#"mutation($input: RecordAffiliationInput!) {
        recordAffiliation(input: $input) { version } }"#;
    let error = api
        .error(
            affiliate,
            json!({ "input": { "actorId": w.iri, "relatedActor": w.iri,
                               "relation": "ALLIED_WITH" } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.relatedActor");
    let error = api
        .error(
            affiliate,
            json!({ "input": { "actorId": w.iri,
                               "relatedActor": "00000000-0000-0000-0000-000000000001",
                               "relation": "ALLIED_WITH" } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.relatedActor");
    // A change of an actor nobody registered.
    let error = api
        .error(
            RENAME,
            json!({ "input": { "actorId": "00000000-0000-0000-0000-000000000002",
                               "name": "X", "reason": "r" } }),
        )
        .await;
    assert_eq!(error["code"], "NOT_FOUND");
    // The state refuses: renaming to the current name.
    let error = api
        .error(
            RENAME,
            json!({ "input": { "actorId": w.iri, "name": "Islamic Resistance in Iraq",
                               "reason": "r" } }),
        )
        .await;
    assert_eq!(error["code"], "INVALID_STATE");

    // Nothing changed.
    let data = api.data(ACTOR, json!({ "id": w.iri })).await;
    assert_eq!(data["actor"]["name"], "Islamic Resistance in Iraq");
    assert_eq!(data["actor"]["version"], 2);
    assert_eq!(
        data["actor"]["affiliations"].as_array().map(Vec::len),
        Some(1)
    );
}
