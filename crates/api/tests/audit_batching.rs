//! The `history` fields of a list load in one batch: a list of four incidents with their
//! histories runs as many SQL statements as a list of one. Its own test binary, so that no
//! other test's statements (or tracing subscribers) run beside the ones counted.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_graphql::Request;
use common::*;
use serde_json::{json, Value};
use sitrep_api::auth::{Caller, Role};
use sitrep_api::tokens::TokenHolder;
use tracing_subscriber::layer::SubscriberExt;

/// `data` of `query` run by an auditor, and how many SQL statements it ran (sqlx reports each
/// as an event of target `sqlx::query` on this thread: a current-thread runtime, which the
/// batch loaders' tasks run on too).
async fn audit_counting_statements(api: &Api, query: &str) -> (Value, usize) {
    struct Count(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if event.metadata().target() == "sqlx::query" {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let auditor = Caller::Token(TokenHolder {
        token_id: uuid::Uuid::nil(),
        name: "audit office".to_owned(),
        role: Role::Auditor,
    });
    let count = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(Count(count.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    let response = api.schema.execute(Request::new(query).data(auditor)).await;
    drop(guard);
    let response = serde_json::to_value(response).expect("a response serialises");
    assert!(response.get("errors").is_none(), "{response:#}");
    (response["data"].clone(), count.load(Ordering::SeqCst))
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
