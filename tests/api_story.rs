//! End to end: the story of January 2024 recorded through GraphQL mutations over real HTTP
//! against a spawned `sitrep serve` (with all its projectors), then read back through every
//! query the dashboards use: incidents and one incident (now and as known before a
//! correction), statistics, negotiations, troop levels and their history, actors, sites, and
//! the read models' status; the log names the token that recorded each event, and `/metrics`
//! counts them.

mod common;

use common::{issue_token, Server};
use serde_json::{json, Value};
use sitrep_testkit::TestDb;

/// Runs mutation `name` with `input` as `token`; answers its payload.
async fn mutate(server: &Server, token: &str, name: &str, input: Value) -> Value {
    let mut input_type: String = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    let query = format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ version eventIds caughtUp }} }}"
    );
    let data = server
        .data(Some(token), &query, json!({ "input": input }))
        .await;
    let payload = data[name].clone();
    assert_eq!(payload["caughtUp"], true, "{name}: read-your-writes");
    payload
}

/// The id a mutation's payload names (`incidentId`, `actorId`, ...).
async fn create(server: &Server, token: &str, name: &str, id_field: &str, input: Value) -> Value {
    let mut input_type: String = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    let query = format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ {id_field} }} }}"
    );
    let data = server
        .data(Some(token), &query, json!({ "input": input }))
        .await;
    data[name][id_field].clone()
}

fn attack(day: &str, location: &str, site: &Value, claimant: &Value, fatalities: i32) -> Value {
    let (country, latitude, longitude) = if location == "Tower 22" {
        ("JOR", 33.32, 38.69)
    } else {
        ("IRQ", 33.7856, 42.4412)
    };
    json!({
        "facts": {
            "time": { "start": day },
            "place": { "country": country, "location": location, "site": site,
                       "coordinates": { "latitude": latitude, "longitude": longitude },
                       "precision": "EXACT" },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "AIR_DRONE_STRIKE",
            "means": ["ONE_WAY_DRONE"],
            "targetCategory": "FOREIGN_MILITARY_BASE",
            "fatalities": { "best": fatalities }
        },
        "actors": [{ "actor": claimant, "role": "CLAIMANT", "attribution": "CLAIMED" }],
        "sources": [{ "name": "CENTCOM", "scale": "INTERNATIONAL" }]
    })
}

#[tokio::test]
async fn the_story_is_recorded_by_mutations_and_read_back_through_every_query() {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let url = db.url();
    let server = Server::on(&url, &[]).await;
    let desk = issue_token(&url, "recorder", "newsroom desk");
    let wall = issue_token(&url, "viewer", "dashboard wall");

    // Who and where.
    let iri = create(
        &server,
        &desk,
        "registerActor",
        "actorId",
        json!({ "name": "Islamic Resistance in Iraq", "actorType": "MILITIA_GROUPS",
                "country": "IRQ", "aliases": ["al-Muqawama al-Islamiya fi al-Iraq"] }),
    )
    .await;
    let tower = create(
        &server,
        &desk,
        "registerSite",
        "siteId",
        json!({ "name": "Tower 22", "kind": "MILITARY_BASE", "country": "JOR",
                "coordinates": { "latitude": 33.32, "longitude": 38.69 }, "precision": "EXACT" }),
    )
    .await;
    let asad = create(
        &server,
        &desk,
        "registerSite",
        "siteId",
        json!({ "name": "Al Asad Air Base", "kind": "AIR_BASE", "country": "IRQ",
                "coordinates": { "latitude": 33.7856, "longitude": 42.4412 },
                "precision": "EXACT" }),
    )
    .await;

    // The attacks, and a correction of the toll at Al Asad.
    let tower_attack = create(
        &server,
        &desk,
        "reportIncident",
        "incidentId",
        attack("2024-01-28", "Tower 22", &tower, &iri, 3),
    )
    .await;
    let asad_attack = create(
        &server,
        &desk,
        "reportIncident",
        "incidentId",
        attack("2024-01-20", "Al Asad Air Base", &asad, &iri, 0),
    )
    .await;
    let known_before = server
        .data(
            Some(&wall),
            "{ incident(id: \"00000000-0000-0000-0000-000000000000\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(known_before["incident"], Value::Null);
    let before_revision = chrono::Utc::now();
    mutate(
        &server,
        &desk,
        "reviseCasualties",
        json!({ "incidentId": asad_attack, "fatalities": { "best": 1 },
                "reason": "an Iraqi soldier died of his wounds", "expectedVersion": 1 }),
    )
    .await;

    // The talks.
    let talks = create(
        &server,
        &desk,
        "openNegotiation",
        "negotiationId",
        json!({ "title": "Iraq-U.S. Higher Military Commission talks",
                "topic": "The future of the Global Coalition mission in Iraq",
                "parties": [{ "name": "Iraq" }, { "name": "United States" }],
                "openedOn": { "start": "2024-01-25" } }),
    )
    .await;
    mutate(
        &server,
        &desk,
        "recordSession",
        json!({ "negotiationId": talks, "held": { "start": "2024-01-27" }, "level": "MILITARY",
                "sources": [{ "name": "Office of the Prime Minister of Iraq" }] }),
    )
    .await;
    mutate(
        &server,
        &desk,
        "formWorkingGroup",
        json!({ "negotiationId": talks, "name": "The threat from ISIS",
                "mandate": "Expert working group: assess the threat from ISIS",
                "formedOn": { "start": "2024-01-27" } }),
    )
    .await;
    mutate(
        &server,
        &desk,
        "statePosition",
        json!({ "negotiationId": talks, "party": "Iraq",
                "position": "Asks for a timeline to wind down the coalition's mission",
                "statedOn": { "start": "2024-01-25" }, "source": { "name": "Reuters" } }),
    )
    .await;

    // The troops.
    for (host, best, words) in [("IRQ", 2_500, "about 2,500"), ("SYR", 900, "about 900")] {
        let deployment = create(
            &server,
            &desk,
            "establishDeployment",
            "deploymentId",
            json!({ "deploying": "USA", "host": host, "mission": "Operation Inherent Resolve" }),
        )
        .await;
        mutate(
            &server,
            &desk,
            "reportTroopLevel",
            json!({ "deploymentId": deployment,
                    "asOf": { "start": "2024-01-01", "end": "2024-01-31", "precision": "MONTH" },
                    "count": { "best": best, "words": words }, "qualifier": "ABOUT",
                    "scope": "ALL_PERSONNEL", "source": { "name": "U.S. Department of Defense" },
                    "sourceType": "OFFICIAL_STATEMENT" }),
        )
        .await;
    }

    // Read back, as a dashboard does (a viewer's token).
    let read = |query: &'static str, variables: Value| {
        let (server, wall) = (&server, &wall);
        async move { server.data(Some(wall), query, variables).await }
    };

    let list = read(
        r#"{ incidents(filter: { from: "2023-10-17", targetCategories: [FOREIGN_MILITARY_BASE] },
                       first: 1) {
               totalCount
               edges { cursor node { id location startDate fatalities { best }
                                     actors { role actor { name } } } }
               pageInfo { hasNextPage endCursor } } }"#,
        json!({}),
    )
    .await;
    let incidents = &list["incidents"];
    assert_eq!(incidents["totalCount"], 2);
    assert_eq!(
        incidents["edges"][0]["node"]["id"], tower_attack,
        "newest first"
    );
    assert_eq!(
        incidents["edges"][0]["node"]["actors"],
        json!([{ "role": "CLAIMANT", "actor": { "name": "Islamic Resistance in Iraq" } }])
    );
    assert_eq!(incidents["pageInfo"]["hasNextPage"], true);
    let next = server
        .data(
            Some(&wall),
            "query($after: String) { incidents(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage } } }",
            json!({ "after": incidents["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(next["incidents"]["nodes"], json!([{ "id": asad_attack }]));
    assert_eq!(next["incidents"]["pageInfo"]["hasNextPage"], false);

    let one = |as_of: Option<chrono::DateTime<chrono::Utc>>| {
        let (server, wall, id) = (&server, &wall, &asad_attack);
        async move {
            server
                .data(
                    Some(wall),
                    "query($id: UUID!, $asOf: DateTime) { incident(id: $id, asOf: $asOf) { version fatalities { best } } }",
                    json!({ "id": id, "asOf": as_of }),
                )
                .await["incident"]
                .clone()
        }
    };
    assert_eq!(
        one(None).await,
        json!({ "version": 2, "fatalities": { "best": 1 } })
    );
    assert_eq!(
        one(Some(before_revision)).await,
        json!({ "version": 1, "fatalities": { "best": 0 } }),
        "as known before the correction"
    );

    let stats = read(
        r#"{ incidentStats(filter: { from: "2023-10-17", targetCategories: [FOREIGN_MILITARY_BASE] },
                           groupBy: [CLAIMANT], bucket: WEEK) {
               bucket keys incidents fatalities { best } } }"#,
        json!({}),
    )
    .await;
    let iri_id = iri.as_str().expect("id");
    assert_eq!(
        stats["incidentStats"],
        json!([
            { "bucket": "2024-01-15", "keys": [iri_id], "incidents": 1, "fatalities": { "best": 1 } },
            { "bucket": "2024-01-22", "keys": [iri_id], "incidents": 1, "fatalities": { "best": 3 } }
        ])
    );

    let negotiations = read(
        r#"{ negotiations { totalCount nodes { id title status sessions { held { start } }
               workingGroups { name } latestPositions { party } parties { name } } } }"#,
        json!({}),
    )
    .await;
    let talks_read = &negotiations["negotiations"]["nodes"][0];
    assert_eq!(negotiations["negotiations"]["totalCount"], 1);
    assert_eq!(talks_read["id"], talks);
    assert_eq!(talks_read["status"], "ACTIVE");
    assert_eq!(
        talks_read["sessions"],
        json!([{ "held": { "start": "2024-01-27" } }])
    );
    assert_eq!(
        talks_read["workingGroups"],
        json!([{ "name": "The threat from ISIS" }])
    );
    assert_eq!(talks_read["latestPositions"], json!([{ "party": "Iraq" }]));
    let one_negotiation = server
        .data(
            Some(&wall),
            "query($id: UUID!) { negotiation(id: $id) { title sessionCount } }",
            json!({ "id": talks }),
        )
        .await;
    assert_eq!(one_negotiation["negotiation"]["sessionCount"], 1);

    let troops = read(
        r#"{ troopLevels(filter: { deploying: ["USA"] }) { host current { count { best words } } } }"#,
        json!({}),
    )
    .await;
    let mut levels: Vec<(String, i64)> = troops["troopLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l["host"].as_str().unwrap_or_default().to_owned(),
                l["current"]["count"]["best"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    levels.sort();
    assert_eq!(levels, [("IRQ".into(), 2_500), ("SYR".into(), 900)]);
    let history = read(
        r#"{ troopLevelHistory(filter: { hosts: ["SYR"] }) { host points { kind level { best } } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        history["troopLevelHistory"][0]["points"],
        json!([{ "kind": "ESTIMATE", "level": { "best": 900 } }])
    );

    let actors = read(
        r#"{ actors(filter: { search: "resistance" }) { nodes { id name incidentCount
               incidents { id } } } }"#,
        json!({}),
    )
    .await;
    let actor = &actors["actors"]["nodes"][0];
    assert_eq!(actor["id"], iri);
    assert_eq!(actor["incidentCount"], 2);
    assert_eq!(
        actor["incidents"],
        json!([{ "id": tower_attack }, { "id": asad_attack }])
    );
    let by_id = server
        .data(
            Some(&wall),
            "query($id: UUID!) { actor(id: $id) { aliases } }",
            json!({ "id": iri }),
        )
        .await;
    assert_eq!(
        by_id["actor"]["aliases"],
        json!(["al-Muqawama al-Islamiya fi al-Iraq"])
    );
    let sites = read(
        r#"{ sites(filter: { countries: ["JOR"] }) { nodes { id name kind } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        sites["sites"]["nodes"],
        json!([{ "id": tower, "name": "Tower 22", "kind": "MILITARY_BASE" }])
    );
    let site = server
        .data(
            Some(&wall),
            "query($id: UUID!) { site(id: $id) { name coordinates { latitude } } }",
            json!({ "id": asad }),
        )
        .await;
    assert_eq!(site["site"]["name"], "Al Asad Air Base");

    let status = read(
        "{ projectionStatus { projection eventsBehind } }",
        json!({}),
    )
    .await;
    let statuses = status["projectionStatus"].as_array().expect("statuses");
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| s["eventsBehind"] == 0),
        "{statuses:?}"
    );

    // The log names the token that recorded, and the metrics count what was appended.
    let authors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT recorded_by FROM events")
        .fetch_all(&db.pool)
        .await
        .expect("authors");
    assert_eq!(authors, ["newsroom desk"]);
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("sitrep_events_appended_total{stream_type=\"incident\"} 3\n"),
        "{metrics}"
    );
    assert!(metrics.contains("sitrep_projection_lag_events{projection=\"incidents\"} 0\n"));
    server.stop();
}
