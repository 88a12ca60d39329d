//! Troop levels through the GraphQL schema on a real database, with the troop-levels projector
//! following the feed: about 2,500 U.S. troops in Iraq and about 900 in Syria (January 2024)
//! recorded by mutations, with a competing estimate, a figure retracted as wrong, an announced
//! drawdown carried out and a reinforcement called off; read back through `troopLevels`,
//! `troopLevel` and `troopLevelHistory`, now and as known before and after the changes;
//! conflicts, retries and invalid input, each changing nothing.

mod common;

use std::sync::Arc;

use common::{api_with, Api};
use serde_json::{json, Value};
use sitrep_domain::model::troops::deployment_stream_id;
use sitrep_domain::model::values::CountryCode;
use sitrep_projections::troops::TroopsProjection;
use uuid::Uuid;

const OIR: &str = "Operation Inherent Resolve";

async fn troops_api() -> Api {
    api_with(vec![Arc::new(TroopsProjection)]).await
}

/// The text of mutation `name` (`reportTroopLevel` takes a `ReportTroopLevelInput`).
fn mutation(name: &str) -> String {
    let mut input_type: String = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{
            deploymentId itemId version eventIds recordedAt replayed caughtUp
            troopLevel {{ version current {{ estimateId count {{ best }} }}
                          competing {{ estimateId }} pendingChangeCount }} }} }}"
    )
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

fn month(start: &str, end: &str) -> Value {
    json!({ "start": start, "end": end, "precision": "MONTH" })
}

/// A report of `best` troops (in `words`) as of `as_of`, by a source of `source_type`.
fn report(
    deployment: &Value,
    as_of: Value,
    best: i32,
    words: &str,
    source: &str,
    source_type: &str,
) -> Value {
    json!({
        "deploymentId": deployment,
        "asOf": as_of,
        "count": { "best": best, "words": words },
        "qualifier": "ABOUT",
        "scope": "ALL_PERSONNEL",
        "source": { "name": source },
        "sourceType": source_type
    })
}

const LEVELS: &str = r#"
query($filter: TroopLevelFilterInput, $asOf: DateTime) {
  troopLevels(filter: $filter, asOf: $asOf) {
    deploymentId version deploying host mission
    current { estimateId asOf { start end precision } count { low best high words }
              qualifier scope source sourceType }
    competing { estimateId count { best } sourceType }
    estimateCount retractedCount pendingChangeCount nextChangeBy
  }
}"#;

const HISTORY: &str = r#"
query($filter: TroopLevelFilterInput, $asOf: DateTime, $withdrawn: Boolean, $from: NaiveDate) {
  troopLevelHistory(filter: $filter, asOf: $asOf, includeWithdrawn: $withdrawn, from: $from) {
    deploymentId deploying host mission
    points { id kind date span { start end precision } level { best words } source sourceType
             preferred retracted reason changeKind changeStatus }
  }
}"#;

/// The points of a series as (kind, date, best, preferred, retracted, change status).
fn points(series: &Value) -> Vec<(String, String, i64, bool, bool, Option<String>)> {
    series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap_or_default().to_owned(),
                p["date"].as_str().unwrap_or_default().to_owned(),
                p["level"]["best"].as_i64().unwrap_or(-1),
                p["preferred"].as_bool().unwrap_or_default(),
                p["retracted"].as_bool().unwrap_or_default(),
                p["changeStatus"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn point(
    kind: &str,
    date: &str,
    best: i64,
    preferred: bool,
    retracted: bool,
    status: Option<&str>,
) -> (String, String, i64, bool, bool, Option<String>) {
    (
        kind.into(),
        date.into(),
        best,
        preferred,
        retracted,
        status.map(Into::into),
    )
}

#[tokio::test]
async fn troop_levels_are_recorded_by_mutations_and_read_back_now_and_as_known_before() {
    let api = troops_api().await;

    // The deployment's id is derived from who deploys where for which mission.
    let iraq = mutate(
        &api,
        "establishDeployment",
        json!({ "deploying": "USA", "host": "IRQ", "mission": OIR }),
    )
    .await;
    let expected = deployment_stream_id(
        &CountryCode::new("USA").expect("code"),
        &CountryCode::new("IRQ").expect("code"),
        OIR,
    );
    assert_eq!(iraq["deploymentId"], json!(expected));
    assert_eq!(iraq["version"], 1);
    assert_eq!(iraq["troopLevel"]["current"], Value::Null);
    let looked_up = api
        .data(
            r#"{ troopDeploymentId(deploying: "USA", host: "IRQ",
                                   mission: "operation  inherent resolve") }"#,
            json!({}),
        )
        .await;
    assert_eq!(looked_up["troopDeploymentId"], json!(expected));
    let iraq = iraq["deploymentId"].clone();
    let syria = mutate(
        &api,
        "establishDeployment",
        json!({ "deploying": "USA", "host": "SYR", "mission": OIR }),
    )
    .await["deploymentId"]
        .clone();

    // About 2,500 in Iraq (official statements, January 2024) ...
    let statement = mutate(
        &api,
        "reportTroopLevel",
        report(
            &iraq,
            month("2024-01-01", "2024-01-31"),
            2_500,
            "about 2,500",
            "U.S. Department of Defense",
            "OFFICIAL_STATEMENT",
        ),
    )
    .await;
    assert_eq!(statement["troopLevel"]["current"]["count"]["best"], 2_500);
    // ... and a media figure of the same month, which competes but does not win.
    let media = mutate(
        &api,
        "reportTroopLevel",
        report(
            &iraq,
            month("2024-01-01", "2024-01-31"),
            3_000,
            "some 3,000",
            "A newspaper",
            "MEDIA",
        ),
    )
    .await;
    assert_eq!(
        media["troopLevel"]["current"]["estimateId"],
        statement["itemId"]
    );
    assert_eq!(
        media["troopLevel"]["competing"],
        json!([{ "estimateId": media["itemId"] }])
    );
    // A wrong figure, retracted.
    let wrong = mutate(
        &api,
        "reportTroopLevel",
        report(
            &iraq,
            month("2024-01-01", "2024-01-31"),
            5_000,
            "5,000",
            "A blog",
            "MEDIA",
        ),
    )
    .await;
    let retracted = mutate(
        &api,
        "retractEstimate",
        json!({ "deploymentId": iraq, "estimateId": wrong["itemId"],
                "reason": "Counted the whole region" }),
    )
    .await;
    assert_eq!(retracted["itemId"], wrong["itemId"]);
    // The drawdown announced with the end of the coalition's mission, then carried out.
    let announced = mutate(
        &api,
        "announceTroopChange",
        json!({
            "deploymentId": iraq, "kind": "WITHDRAWAL",
            "target": { "best": 2_000, "words": "about 2,000" },
            "by": month("2025-09-01", "2025-09-30"),
            "announcedOn": { "start": "2024-09-27" },
            "source": { "name": "U.S. Department of Defense" },
            "sourceType": "OFFICIAL_STATEMENT"
        }),
    )
    .await;
    assert_eq!(announced["troopLevel"]["pendingChangeCount"], 1);
    let completed = mutate(
        &api,
        "completeTroopChange",
        json!({
            "deploymentId": iraq, "changeId": announced["itemId"],
            "completed": month("2025-09-01", "2025-09-30"),
            "source": { "name": "Iraqi Ministry of Defence" },
            "sourceType": "OFFICIAL_STATEMENT"
        }),
    )
    .await;
    assert_eq!(completed["version"], 7);
    assert_eq!(completed["troopLevel"]["pendingChangeCount"], 0);

    // About 900 in Syria; a reinforcement announced, then called off.
    mutate(
        &api,
        "reportTroopLevel",
        report(
            &syria,
            month("2024-01-01", "2024-01-31"),
            900,
            "about 900",
            "U.S. Department of Defense",
            "OFFICIAL_STATEMENT",
        ),
    )
    .await;
    let reinforcement = mutate(
        &api,
        "announceTroopChange",
        json!({
            "deploymentId": syria, "kind": "ARRIVAL",
            "target": { "best": 1_500 },
            "by": month("2024-03-01", "2024-03-31"),
            "announcedOn": { "start": "2024-02-01" },
            "source": { "name": "A newspaper" }, "sourceType": "MEDIA"
        }),
    )
    .await;
    let cancelled = mutate(
        &api,
        "cancelTroopChange",
        json!({ "deploymentId": syria, "changeId": reinforcement["itemId"],
                "reason": "Denied by the Pentagon", "cancelledOn": { "start": "2024-02-02" } }),
    )
    .await;
    assert_eq!(cancelled["version"], 4);
    assert_eq!(api.events_stored().await, 11);

    // Now: Iraq, then Syria (by host), each with its current level by the rule.
    let data = api.data(LEVELS, json!({})).await;
    let levels = data["troopLevels"].as_array().expect("levels");
    assert_eq!(levels.len(), 2);
    let iraq_level = &levels[0];
    assert_eq!(iraq_level["deploymentId"], iraq);
    assert_eq!(iraq_level["version"], 7);
    assert_eq!(
        [
            &iraq_level["deploying"],
            &iraq_level["host"],
            &iraq_level["mission"]
        ],
        [&json!("USA"), &json!("IRQ"), &json!(OIR)]
    );
    assert_eq!(
        iraq_level["current"],
        json!({
            "estimateId": statement["itemId"],
            "asOf": { "start": "2024-01-01", "end": "2024-01-31", "precision": "MONTH" },
            "count": { "low": 2_500, "best": 2_500, "high": 2_500, "words": "about 2,500" },
            "qualifier": "ABOUT",
            "scope": "ALL_PERSONNEL",
            "source": "U.S. Department of Defense",
            "sourceType": "OFFICIAL_STATEMENT"
        })
    );
    assert_eq!(
        iraq_level["competing"],
        json!([{ "estimateId": media["itemId"], "count": { "best": 3_000 }, "sourceType": "MEDIA" }])
    );
    assert_eq!(iraq_level["estimateCount"], 3);
    assert_eq!(iraq_level["retractedCount"], 1);
    assert_eq!(iraq_level["pendingChangeCount"], 0);
    let syria_level = &levels[1];
    assert_eq!(syria_level["host"], "SYR");
    assert_eq!(syria_level["current"]["count"]["best"], 900);
    assert_eq!(syria_level["competing"], json!([]));

    // Filtered by host (and the deploying country, and the mission as the domain compares it).
    let data = api
        .data(
            LEVELS,
            json!({ "filter": { "hosts": ["SYR"], "deploying": ["USA"],
                                "missions": ["operation inherent  RESOLVE"] } }),
        )
        .await;
    let only: Vec<&Value> = data["troopLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| &l["deploymentId"])
        .collect();
    assert_eq!(only, [&syria]);
    let data = api
        .data(LEVELS, json!({ "filter": { "deploying": ["GBR"] } }))
        .await;
    assert_eq!(data["troopLevels"], json!([]));

    // As known when the statement alone was reported: nothing competing, and no Syria level
    // yet (its deployment established, no estimate).
    let data = api
        .data(LEVELS, json!({ "asOf": statement["recordedAt"] }))
        .await;
    let then = &data["troopLevels"];
    assert_eq!(then[0]["version"], 2);
    assert_eq!(then[0]["current"]["estimateId"], statement["itemId"]);
    assert_eq!(then[0]["competing"], json!([]));
    assert_eq!(then[1]["host"], "SYR");
    assert_eq!(then[1]["current"], Value::Null);
    // As known when the drawdown was announced: pending, due by September 2025.
    let data = api
        .data(
            r#"query($id: UUID!, $asOf: DateTime) {
                 troopLevel(deploymentId: $id, asOf: $asOf) { version pendingChangeCount nextChangeBy } }"#,
            json!({ "id": iraq, "asOf": announced["recordedAt"] }),
        )
        .await;
    assert_eq!(
        data["troopLevel"],
        json!({ "version": 6, "pendingChangeCount": 1, "nextChangeBy": "2025-09-30" })
    );
    // Before anything was established: nothing.
    let data = api
        .data(LEVELS, json!({ "asOf": "2000-01-01T00:00:00Z" }))
        .await;
    assert_eq!(data["troopLevels"], json!([]));

    // The history now: the estimates of January (the statement preferred), the drawdown's
    // completion (its plan, completed, is left out of the chart).
    let data = api
        .data(HISTORY, json!({ "filter": { "hosts": ["IRQ"] } }))
        .await;
    let series = &data["troopLevelHistory"];
    assert_eq!(series.as_array().map(Vec::len), Some(1));
    assert_eq!(series[0]["deploymentId"], iraq);
    assert_eq!(series[0]["mission"], OIR);
    assert_eq!(
        points(&series[0]),
        vec![
            point("ESTIMATE", "2024-01-31", 2_500, true, false, None),
            point("ESTIMATE", "2024-01-31", 3_000, false, false, None),
            point(
                "COMPLETED",
                "2025-09-30",
                2_000,
                false,
                false,
                Some("COMPLETED")
            ),
        ]
    );
    assert_eq!(
        series[0]["points"][0]["span"],
        json!({ "start": "2024-01-01", "end": "2024-01-31", "precision": "MONTH" })
    );
    // With what a chart leaves out: the retracted figure and the completed plan.
    let data = api
        .data(
            HISTORY,
            json!({ "filter": { "hosts": ["IRQ"] }, "withdrawn": true }),
        )
        .await;
    let all = &data["troopLevelHistory"][0];
    assert_eq!(
        points(all),
        vec![
            point("ESTIMATE", "2024-01-31", 2_500, true, false, None),
            point("ESTIMATE", "2024-01-31", 3_000, false, false, None),
            point("ESTIMATE", "2024-01-31", 5_000, false, true, None),
            point(
                "PLANNED",
                "2025-09-30",
                2_000,
                false,
                false,
                Some("COMPLETED")
            ),
            point(
                "COMPLETED",
                "2025-09-30",
                2_000,
                false,
                false,
                Some("COMPLETED")
            ),
        ]
    );
    assert_eq!(all["points"][2]["reason"], "Counted the whole region");
    // As known when the drawdown was announced: the plan, still pending.
    let data = api
        .data(
            HISTORY,
            json!({ "filter": { "hosts": ["IRQ"] }, "asOf": announced["recordedAt"] }),
        )
        .await;
    assert_eq!(
        points(&data["troopLevelHistory"][0]),
        vec![
            point("ESTIMATE", "2024-01-31", 2_500, true, false, None),
            point("ESTIMATE", "2024-01-31", 3_000, false, false, None),
            point(
                "PLANNED",
                "2025-09-30",
                2_000,
                false,
                false,
                Some("ANNOUNCED")
            ),
        ]
    );
    // As known before the retraction: the wrong figure still counted, though not preferred
    // (the statement outranks every media figure).
    let data = api
        .data(
            HISTORY,
            json!({ "filter": { "hosts": ["IRQ"] }, "asOf": wrong["recordedAt"] }),
        )
        .await;
    assert_eq!(
        points(&data["troopLevelHistory"][0]),
        vec![
            point("ESTIMATE", "2024-01-31", 2_500, true, false, None),
            point("ESTIMATE", "2024-01-31", 3_000, false, false, None),
            point("ESTIMATE", "2024-01-31", 5_000, false, false, None),
        ]
    );
    // Syria: the called-off reinforcement is out of the chart, in it with what was withdrawn.
    let data = api
        .data(HISTORY, json!({ "filter": { "hosts": ["SYR"] } }))
        .await;
    assert_eq!(
        points(&data["troopLevelHistory"][0]),
        vec![point("ESTIMATE", "2024-01-31", 900, true, false, None)]
    );
    let data = api
        .data(
            HISTORY,
            json!({ "filter": { "hosts": ["SYR"] }, "withdrawn": true, "from": "2024-02-01" }),
        )
        .await;
    let syria_points = &data["troopLevelHistory"][0]["points"];
    assert_eq!(
        points(&data["troopLevelHistory"][0]),
        vec![point(
            "PLANNED",
            "2024-03-31",
            1_500,
            false,
            false,
            Some("CANCELLED")
        )]
    );
    assert_eq!(syria_points[0]["changeKind"], "ARRIVAL");
    assert_eq!(syria_points[0]["reason"], "Denied by the Pentagon");
}

#[tokio::test]
async fn conflicts_retries_and_invalid_input_change_nothing() {
    let api = troops_api().await;
    let iraq = mutate(
        &api,
        "establishDeployment",
        json!({ "deploying": "USA", "host": "IRQ", "mission": OIR }),
    )
    .await["deploymentId"]
        .clone();

    // A retried report without an id: the key names the same estimate, nothing is appended.
    let mut input = report(
        &iraq,
        month("2024-01-01", "2024-01-31"),
        2_500,
        "about 2,500",
        "U.S. Department of Defense",
        "OFFICIAL_STATEMENT",
    );
    input["idempotencyKey"] = json!("dod-january-2024");
    let first = mutate(&api, "reportTroopLevel", input.clone()).await;
    let retry = mutate(&api, "reportTroopLevel", input).await;
    assert_eq!(first["replayed"], false);
    assert_eq!(retry["replayed"], true);
    assert_eq!(retry["itemId"], first["itemId"]);
    assert_eq!(retry["eventIds"], first["eventIds"]);
    assert_eq!(retry["version"], 2);
    assert_eq!(api.events_stored().await, 2);

    // A stale expected version.
    let mut input = report(
        &iraq,
        month("2024-01-01", "2024-01-31"),
        3_000,
        "some 3,000",
        "A newspaper",
        "MEDIA",
    );
    input["expectedVersion"] = json!(1);
    let error = refused(&api, "reportTroopLevel", input).await;
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(error["expectedVersion"], 1);
    assert_eq!(error["actualVersion"], 2);
    assert_eq!(api.events_stored().await, 2);

    // Invalid input, with the path into the input.
    let error = refused(
        &api,
        "establishDeployment",
        json!({ "deploying": "USA", "host": "USA", "mission": OIR }),
    )
    .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.host");
    let error = refused(
        &api,
        "establishDeployment",
        json!({ "deploying": "usa", "host": "SYR", "mission": OIR }),
    )
    .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.deploying");
    let mut negative = report(
        &iraq,
        month("2024-01-01", "2024-01-31"),
        -1,
        "x",
        "x",
        "MEDIA",
    );
    negative["count"] = json!({ "best": -1 });
    let error = refused(&api, "reportTroopLevel", negative).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.count.best");
    let mut exact_range = report(
        &iraq,
        month("2024-01-01", "2024-01-31"),
        2_500,
        "2,000 to 3,000",
        "x",
        "MEDIA",
    );
    exact_range["count"] = json!({ "low": 2_000, "best": 2_500, "high": 3_000 });
    exact_range["qualifier"] = json!("EXACTLY");
    let error = refused(&api, "reportTroopLevel", exact_range).await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "input.qualifier");
    let error = refused(
        &api,
        "announceTroopChange",
        json!({
            "deploymentId": iraq, "kind": "WITHDRAWAL", "target": { "best": 2_000 },
            "by": { "start": "2024-01-01" }, "announcedOn": { "start": "2024-09-27" },
            "source": { "name": "x" }, "sourceType": "MEDIA"
        }),
    )
    .await;
    assert_eq!(error["field"], "input.by");
    let error = api
        .error(
            r#"{ troopLevels(filter: { hosts: ["IRQ", "iraq"] }) { host } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "BAD_USER_INPUT");
    assert_eq!(error["field"], "filter.hosts[1]");
    let error = api
        .error(
            r#"{ troopLevelHistory(from: "2024-02-01", to: "2024-01-01") { mission } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error["field"], "to");
    assert_eq!(api.events_stored().await, 2);

    // What the state refuses, and what is not there.
    let error = refused(
        &api,
        "establishDeployment",
        json!({ "deploying": "USA", "host": "IRQ", "mission": " operation inherent resolve" }),
    )
    .await;
    assert_eq!(error["code"], "ALREADY_EXISTS");
    let error = refused(
        &api,
        "retractEstimate",
        json!({ "deploymentId": iraq, "estimateId": Uuid::from_u128(7), "reason": "x" }),
    )
    .await;
    assert_eq!(error["code"], "NOT_FOUND");
    let error = refused(
        &api,
        "reportTroopLevel",
        report(
            &json!(Uuid::from_u128(8)),
            month("2024-01-01", "2024-01-31"),
            1,
            "x",
            "x",
            "MEDIA",
        ),
    )
    .await;
    assert_eq!(error["code"], "NOT_FOUND");
    assert_eq!(api.events_stored().await, 2);

    // Nothing refused shows in the read model.
    let data = api.data(LEVELS, json!({})).await;
    assert_eq!(data["troopLevels"][0]["version"], 2);
    assert_eq!(data["troopLevels"][0]["estimateCount"], 1);
    assert_eq!(data["troopLevels"][0]["competing"], json!([]));
}
