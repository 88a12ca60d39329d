//! What a mutation asks of the database after its wait: its payload reads the entity from the
//! read model's generation that the wait saw apply the change, without looking up the live
//! generation again. Its own test binary, so that no other test's statements (or tracing
//! subscribers) run beside the ones counted.

mod common;

use common::*;
use serde_json::json;
use sitrep_testkit::statements::counting_statements_with;

/// The lookup of a read model's live generation (`generation::live`).
const LIVE_GENERATION_LOOKUP: &str = "WHERE projection = $1 AND status = 'live'";

#[tokio::test]
async fn a_reported_incident_is_read_back_from_the_generation_its_wait_saw_apply_it() {
    let api = api().await;
    let input = json!({
        "facts": {
            "time": { "start": "2024-01-28" },
            "place": { "country": "JOR", "location": "Tower 22",
                       "coordinates": { "latitude": 33.3194, "longitude": 38.6883 },
                       "precision": "EXACT" },
            "eventType": "EXPLOSIONS_REMOTE_VIOLENCE",
            "subEventType": "AIR_DRONE_STRIKE",
            "means": ["DRONE"],
            "targetCategory": "FOREIGN_MILITARY_BASE",
            "fatalities": { "best": 3 }
        },
        "sources": [{ "name": "CENTCOM", "scale": "INTERNATIONAL" }]
    });
    let report = "mutation($input: ReportIncidentInput!) { reportIncident(input: $input) { \
                  incidentId caughtUp incident { id location fatalities { best } } } }";
    let (response, lookups) = counting_statements_with(
        LIVE_GENERATION_LOOKUP,
        api.run(report, json!({ "input": input })),
    )
    .await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let payload = &response["data"]["reportIncident"];
    assert_eq!(payload["caughtUp"], json!(true), "{payload:#}");
    assert_eq!(
        payload["incident"]["id"], payload["incidentId"],
        "{payload:#}"
    );
    assert_eq!(payload["incident"]["location"], json!("Tower 22"));
    assert_eq!(payload["incident"]["fatalities"]["best"], json!(3));
    assert_eq!(lookups, 0, "the payload looked up the live generation");

    // The count sees the lookup where one is made: a query of the same incident makes one.
    let (response, lookups) = counting_statements_with(
        LIVE_GENERATION_LOOKUP,
        api.run(
            "query($id: UUID!) { incident(id: $id) { id } }",
            json!({ "id": payload["incidentId"] }),
        ),
    )
    .await;
    assert_eq!(response["data"]["incident"]["id"], payload["incidentId"]);
    assert_eq!(lookups, 1);
}
