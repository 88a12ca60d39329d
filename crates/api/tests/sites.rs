//! The sites side of the schema on a real database: Al-Asad Airbase and other sites
//! registered, listed by country, kind, retirement, bounding box and name, amended (and read
//! as known before), retired and reinstated; conflicts, retries and refusals change nothing.

mod common;

use common::*;
use serde_json::{json, Value};

const REGISTER: &str = r#"
mutation($input: RegisterSiteInput!) {
  registerSite(input: $input) {
    siteId version eventIds recordedAt replayed caughtUp
    site { id version name aliases kind country admin1 coordinates { latitude longitude }
           precision operatedBy retired }
  }
}"#;

const SITE: &str = r#"
query($id: UUID!, $asOf: DateTime) {
  site(id: $id, asOf: $asOf) { id version name aliases kind admin1 retired }
}"#;

const LIST: &str = r#"
query($filter: SiteFilterInput, $first: Int, $after: String, $asOf: DateTime) {
  sites(filter: $filter, first: $first, after: $after, asOf: $asOf) {
    pageInfo { hasNextPage endCursor } edges { node { id name } }
  }
}"#;

fn names(data: &Value) -> Vec<String> {
    data["sites"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Al-Asad (with an idempotency key), Erbil Air Base and Tower 22; answers their ids.
async fn sites(api: &Api) -> [String; 3] {
    let data = api
        .data(
            REGISTER,
            json!({ "input": merged(al_asad(), json!({ "idempotencyKey": "al-asad" })) }),
        )
        .await;
    let payload = &data["registerSite"];
    assert_eq!(payload["version"], 1);
    assert_eq!(payload["replayed"], false);
    assert_eq!(payload["caughtUp"], true);
    assert_eq!(
        payload["site"],
        json!({
            "id": payload["siteId"], "version": 1, "name": "Al-Asad Airbase",
            "aliases": ["Ain al-Asad"], "kind": "AIR_BASE", "country": "IRQ",
            "admin1": "Al Anbar", "coordinates": { "latitude": 33.7856, "longitude": 42.4412 },
            "precision": "EXACT", "operatedBy": ["USA", "IRQ"], "retired": false
        })
    );
    let al_asad = payload["siteId"].as_str().expect("id").to_owned();
    let erbil = register_site(
        api,
        json!({ "name": "Erbil Air Base", "kind": "AIR_BASE", "country": "IRQ",
                "admin1": "Erbil", "coordinates": { "latitude": 36.2376, "longitude": 43.9632 },
                "precision": "EXACT", "operatedBy": ["USA"] }),
    )
    .await;
    let tower_22 = register_site(
        api,
        json!({ "name": "Tower 22", "kind": "OUTPOST", "country": "JOR",
                "coordinates": { "latitude": 33.32, "longitude": 38.69 }, "precision": "NEAR" }),
    )
    .await;
    [al_asad, erbil, tower_22]
}

#[tokio::test]
async fn sites_are_listed_by_country_kind_place_and_name() {
    let api = api().await;
    let [al_asad, erbil, tower_22] = sites(&api).await;

    let data = api.data(LIST, json!({})).await;
    assert_eq!(
        names(&data),
        vec!["Al-Asad Airbase", "Erbil Air Base", "Tower 22"]
    );
    let data = api
        .data(LIST, json!({ "filter": { "countries": ["IRQ"] } }))
        .await;
    assert_eq!(names(&data), vec!["Al-Asad Airbase", "Erbil Air Base"]);
    let data = api
        .data(LIST, json!({ "filter": { "kinds": ["OUTPOST"] } }))
        .await;
    assert_eq!(data["sites"]["edges"][0]["node"]["id"], tower_22.as_str());
    assert_eq!(names(&data), vec!["Tower 22"]);
    // Al Anbar, roughly.
    let data = api
        .data(
            LIST,
            json!({ "filter": { "boundingBox":
                { "west": 39.0, "south": 32.0, "east": 44.0, "north": 35.0 } } }),
        )
        .await;
    assert_eq!(names(&data), vec!["Al-Asad Airbase"]);
    // By part of a name or an alias.
    let data = api
        .data(LIST, json!({ "filter": { "search": "AIN AL" } }))
        .await;
    assert_eq!(names(&data), vec!["Al-Asad Airbase"]);
    // One at a time.
    let data = api.data(LIST, json!({ "first": 1 })).await;
    assert_eq!(names(&data), vec!["Al-Asad Airbase"]);
    assert_eq!(data["sites"]["pageInfo"]["hasNextPage"], true);
    let after = data["sites"]["pageInfo"]["endCursor"].clone();
    let data = api.data(LIST, json!({ "first": 1, "after": after })).await;
    assert_eq!(data["sites"]["edges"][0]["node"]["id"], erbil.as_str());

    let data = api.data(SITE, json!({ "id": al_asad })).await;
    assert_eq!(data["site"]["name"], "Al-Asad Airbase");
    let data = api
        .data(
            SITE,
            json!({ "id": "00000000-0000-0000-0000-000000000001" }),
        )
        .await;
    assert_eq!(data["site"], Value::Null);

    // Refusals name the argument.
    let error = api
        .error(
            LIST,
            json!({ "filter": { "boundingBox":
                { "west": 44.0, "south": 32.0, "east": 39.0, "north": 35.0 } } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "filter.boundingBox");
    let error = api
        .error(
            LIST,
            json!({ "filter": { "boundingBox":
                { "west": 39.0, "south": -95.0, "east": 44.0, "north": 35.0 } } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "filter.boundingBox.southWest.latitude");
    let error = api.error(LIST, json!({ "first": -1 })).await;
    assert_eq!(error["field"], "first");
}

#[tokio::test]
async fn amended_retired_and_reinstated_sites_and_as_of() {
    let api = api().await;
    let [al_asad, _, tower_22] = sites(&api).await;
    let registered: String = sqlx::query_scalar(
        "SELECT to_json(max(recorded_at))#>>'{}' FROM events WHERE stream_type = 'site'",
    )
    .fetch_one(api.store.pool())
    .await
    .expect("time");

    let data = api
        .data(
            r#"mutation($input: AmendSiteInput!) { amendSite(input: $input) {
                 version site { name aliases kind admin1 } } }"#,
            json!({ "input": { "siteId": al_asad, "name": "Al Asad Air Base",
                               "reason": "the usual spelling", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(data["amendSite"]["version"], 2);
    assert_eq!(
        data["amendSite"]["site"],
        json!({ "name": "Al Asad Air Base", "aliases": ["Ain al-Asad", "Al-Asad Airbase"],
                "kind": "AIR_BASE", "admin1": "Al Anbar" })
    );
    // As known before the amendment, and now.
    let data = api
        .data(SITE, json!({ "id": al_asad, "asOf": registered }))
        .await;
    assert_eq!(data["site"]["name"], "Al-Asad Airbase");
    assert_eq!(data["site"]["version"], 1);
    let data = api
        .data(
            LIST,
            json!({ "filter": { "search": "al asad" }, "asOf": registered }),
        )
        .await;
    assert_eq!(names(&data), Vec::<String>::new());
    let data = api
        .data(LIST, json!({ "filter": { "search": "al asad" } }))
        .await;
    assert_eq!(names(&data), vec!["Al Asad Air Base"]);

    let retire = r#"mutation($input: RetireSiteInput!) { retireSite(input: $input) {
        version site { retired } } }"#;
    let data = api
        .data(
            retire,
            json!({ "input": { "siteId": tower_22, "retiredOn": { "start": "2024-06-01",
                               "precision": "MONTH" }, "reason": "closed (example)" } }),
        )
        .await;
    assert_eq!(
        data["retireSite"],
        json!({ "version": 2, "site": { "retired": true } })
    );
    let data = api
        .data(LIST, json!({ "filter": { "retired": false } }))
        .await;
    assert_eq!(names(&data), vec!["Al Asad Air Base", "Erbil Air Base"]);
    let data = api
        .data(LIST, json!({ "filter": { "retired": true } }))
        .await;
    assert_eq!(names(&data), vec!["Tower 22"]);
    // Retiring it again is refused by its state.
    let error = api
        .error(
            retire,
            json!({ "input": { "siteId": tower_22, "reason": "again" } }),
        )
        .await;
    assert_eq!(error["code"], "INVALID_STATE");
    let data = api
        .data(
            r#"mutation($input: ReinstateSiteInput!) { reinstateSite(input: $input) {
                 version site { retired } } }"#,
            json!({ "input": { "siteId": tower_22, "reason": "in use again" } }),
        )
        .await;
    assert_eq!(
        data["reinstateSite"],
        json!({ "version": 3, "site": { "retired": false } })
    );
}

#[tokio::test]
async fn site_conflicts_retries_and_refusals_change_nothing() {
    let api = api().await;
    let [al_asad_id, _, _] = sites(&api).await;

    // A retry with the same key answers the first result and appends nothing.
    let stored = api.events_stored().await;
    let data = api
        .data(
            REGISTER,
            json!({ "input": merged(al_asad(), json!({ "idempotencyKey": "al-asad" })) }),
        )
        .await;
    assert_eq!(data["registerSite"]["replayed"], true);
    assert_eq!(data["registerSite"]["siteId"], al_asad_id.as_str());
    assert_eq!(api.events_stored().await, stored);

    let amend = r#"mutation($input: AmendSiteInput!) { amendSite(input: $input) { version } }"#;
    let error = api
        .error(
            amend,
            json!({ "input": { "siteId": al_asad_id, "kind": "MILITARY_BASE", "reason": "r",
                               "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(error["actualVersion"], 1);

    for (input, field) in [
        (
            merged(
                al_asad(),
                json!({ "coordinates": { "latitude": 133.78, "longitude": 42.44 } }),
            ),
            "input.coordinates.latitude",
        ),
        (
            merged(al_asad(), json!({ "operatedBy": ["USA", "US"] })),
            "input.operatedBy[1]",
        ),
        (
            merged(al_asad(), json!({ "country": "Iraq" })),
            "input.country",
        ),
        (
            merged(
                al_asad(),
                json!({ "coordinates": null, "precision": "EXACT" }),
            ),
            "input.coordinates",
        ),
    ] {
        let error = api.error(REGISTER, json!({ "input": input })).await;
        assert_eq!(error["code"], "BAD_USER_INPUT", "{error}");
        assert_eq!(error["field"], field);
    }
    let error = api
        .error(
            amend,
            json!({ "input": { "siteId": al_asad_id, "reason": "" } }),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.reason");

    let data = api.data(SITE, json!({ "id": al_asad_id })).await;
    assert_eq!(data["site"]["version"], 1);
    assert_eq!(data["site"]["kind"], "AIR_BASE");
}
