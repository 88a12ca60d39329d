//! `compareProjections`: each live read model beside a fresh build from the log, at the live
//! one's position; only auditors and admins may ask; a read model changed behind the log's back
//! does not match; scratch schemas are dropped.

mod common;

use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;
use sitrep_domain::handler::{CommandHandler, CommandMeta};
use sitrep_domain::model::actor::{Actor, ActorCommand, RegisterActor};
use sitrep_domain::model::vocab::ActorType;

use common::{al_asad, api_with, register_site, report_at_site};

const COMPARE: &str = "query($projection: String) { compareProjections(projection: $projection) { \
    projection liveGeneration livePosition liveEventsApplied liveRows liveChecksum \
    freshPosition freshEventsApplied freshRows freshChecksum samePosition matches } }";

fn holder(role: Role) -> Caller {
    Caller::Token(TokenHolder {
        token_id: uuid::Uuid::nil(),
        name: format!("test {role}"),
        role,
    })
}

async fn compare_as(api: &common::Api, caller: Caller, projection: Option<&str>) -> Value {
    api.run_as(caller, COMPARE, json!({ "projection": projection }))
        .await
}

async fn scratch_schemas(api: &common::Api) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rm\\_scratch\\_%'")
        .fetch_one(api.store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn live_read_models_match_fresh_builds_and_only_auditors_may_ask() {
    let mut api = api_with(sitrep_projections::all()).await;
    let site = register_site(&api, al_asad()).await;
    report_at_site(&api, "2024-01-20", &site, json!([])).await;
    report_at_site(&api, "2024-01-21", &site, json!([])).await;
    // The negotiations and troop levels read models have passed over all three events too.
    api.every_read_model_caught_up().await;

    // Auditors and admins get every read model, matching its fresh build at its position.
    for role in [Role::Auditor, Role::Admin] {
        let response = compare_as(&api, holder(role), None).await;
        assert!(response.get("errors").is_none(), "{response:#}");
        let rows = response["data"]["compareProjections"]
            .as_array()
            .expect("a list")
            .clone();
        let names: Vec<&str> = rows
            .iter()
            .filter_map(|r| r["projection"].as_str())
            .collect();
        assert_eq!(names, ["incidents", "negotiations", "troops", "actors"]);
        for row in &rows {
            assert_eq!(row["matches"], true, "{row:#}");
            assert_eq!(row["samePosition"], true, "{row:#}");
            assert_eq!(row["livePosition"], row["freshPosition"]);
            assert_eq!(row["liveEventsApplied"], row["freshEventsApplied"]);
            assert_eq!(row["liveEventsApplied"], 3);
            assert_eq!(row["liveChecksum"], row["freshChecksum"]);
            assert_eq!(row["liveRows"], row["freshRows"]);
        }
        // The incidents and actors (sites) models have rows; the checksums differ by model.
        assert_ne!(rows[0]["liveRows"], 0);
        assert_ne!(rows[0]["liveChecksum"], rows[3]["liveChecksum"]);
    }
    assert_eq!(scratch_schemas(&api).await, 0);

    // Everyone else is refused before anything is built.
    for (caller, code) in [
        (holder(Role::Viewer), "FORBIDDEN"),
        (holder(Role::Recorder), "FORBIDDEN"),
        (Caller::Anonymous, "UNAUTHENTICATED"),
    ] {
        let response = compare_as(&api, caller, None).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"], code,
            "{response:#}"
        );
        assert_eq!(response["data"], Value::Null);
    }
    // One by name; an unknown name is bad input.
    let one = compare_as(&api, holder(Role::Auditor), Some("incidents")).await;
    assert_eq!(
        one["data"]["compareProjections"].as_array().map(Vec::len),
        Some(1)
    );
    let unknown = compare_as(&api, holder(Role::Auditor), Some("nope")).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // The log moves on while the read models stand still: the fresh build stops at the live
    // position, so they still match, at a position behind the log's end.
    api.stop_projectors().await;
    CommandHandler::new(api.store.clone())
        .execute::<Actor>(
            uuid::Uuid::new_v4(),
            &ActorCommand::RegisterActor(RegisterActor {
                name: "Islamic Resistance in Iraq".into(),
                actor_type: ActorType::MilitiaGroups,
                country: None,
                aliases: Vec::new(),
                description: None,
            }),
            &CommandMeta::by("analyst"),
        )
        .await
        .expect("register");
    let response = compare_as(&api, holder(Role::Auditor), Some("actors")).await;
    let row = &response["data"]["compareProjections"][0];
    assert_eq!(row["matches"], true, "{response:#}");
    assert_eq!(row["freshEventsApplied"], 3);
    assert_eq!(api.events_stored().await, 4);

    // A live read model changed behind the log's back does not match its fresh build.
    let schema: String = sqlx::query_scalar(
        "SELECT schema_name FROM projection_generations \
          WHERE projection = 'incidents' AND status = 'live'",
    )
    .fetch_one(api.store.pool())
    .await
    .expect("schema");
    sqlx::query(&format!(
        "UPDATE {schema}.incident_versions SET fatalities_best = 99"
    ))
    .execute(api.store.pool())
    .await
    .expect("tamper");
    let response = compare_as(&api, holder(Role::Admin), Some("incidents")).await;
    let row = &response["data"]["compareProjections"][0];
    assert_eq!(row["samePosition"], true, "{response:#}");
    assert_eq!(row["matches"], false, "{response:#}");
    assert_ne!(row["liveChecksum"], row["freshChecksum"]);
    assert_eq!(scratch_schemas(&api).await, 0);
}
