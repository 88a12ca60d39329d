//! `importIncidents` over HTTP, as GraphQL multipart requests built by hand: a recorder's
//! import and re-import, bad rows with and without `skipInvalid`, a file that cannot be read,
//! and who may upload at all. The files are made up in ACLED's columns (no real rows).

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sitrep_api::auth::Role;
use sitrep_api::{router, AppState};
use sitrep_domain::store::EventStore;
use sitrep_interchange::acled_columns::ACLED_COLUMNS;
use sitrep_testkit::TestDb;
use tower::ServiceExt as _;

const BOUNDARY: &str = "sitrep-test-boundary-7d1f";

const MUTATION: &str = "mutation($file: Upload!, $skip: Boolean) { \
    importIncidents(dataset: ACLED, file: $file, skipInvalid: $skip) { \
      runId read new corrected retracted restored unchanged skipped rejected \
      actorsRegistered eventsAppended seconds rowsPerSecond caughtUp \
      rejectedRows { line column rule } } }";

struct App {
    db: TestDb,
    router: Router,
}

async fn app() -> App {
    app_with(|_| {}).await
}

/// The app with settings changed by `settle`.
async fn app_with(settle: impl FnOnce(&mut AppState)) -> App {
    let db = TestDb::new(&sitrep_domain::MIGRATOR).await;
    let mut state = AppState::new(EventStore::new(db.pool.clone()));
    // No projector runs here: answer without waiting for the read models.
    state.read_your_writes = Duration::ZERO;
    settle(&mut state);
    App {
        router: router(state),
        db,
    }
}

impl App {
    async fn token(&self, role: Role, name: &str) -> String {
        sitrep_api::tokens::issue(&self.db.pool, name, role)
            .await
            .expect("issue a token")
            .secret
    }

    /// Posts `csv` as the upload of [`MUTATION`]; the status and the JSON answer.
    async fn upload(
        &self,
        token: Option<&str>,
        csv: &str,
        skip_invalid: bool,
    ) -> (StatusCode, Value) {
        let operations =
            json!({ "query": MUTATION, "variables": { "file": null, "skip": skip_invalid } });
        let body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"acled.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{BOUNDARY}--\r\n"
        );
        let mut request = Request::post("/graphql")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(header::ACCEPT, "application/graphql-response+json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("a response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    async fn events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }
}

/// A made-up ACLED file of protests in Argentina (day, deaths); `bad_latitude_on` puts a
/// latitude out of range in that row (0-based).
fn acled_csv(rows: &[(u32, u32)], bad_latitude_on: Option<usize>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(ACLED_COLUMNS).expect("header");
    for (i, (day, deaths)) in rows.iter().enumerate() {
        let id = format!("ARG{day}");
        let date = format!("2022-06-{day:02}");
        let latitude = if bad_latitude_on == Some(i) {
            "-134.9"
        } else {
            "-34.9215"
        };
        let deaths = deaths.to_string();
        writer
            .write_record([
                id.as_str(),
                &date,
                "2022",
                "1",
                "Demonstrations",
                "Protests",
                "Peaceful protest",
                "Protesters (Argentina)",
                "",
                "6",
                "",
                "",
                "0",
                "60",
                "",
                "32",
                "South America",
                "Argentina",
                "Buenos Aires",
                "La Plata",
                "",
                "La Plata",
                latitude,
                "-57.9545",
                "1",
                "Made-up Daily",
                "National",
                "A made-up protest.",
                &deaths,
                "",
                "1655000000",
            ])
            .expect("row");
    }
    String::from_utf8(writer.into_inner().expect("flush")).expect("UTF-8")
}

#[tokio::test]
async fn a_recorder_imports_a_file_and_a_second_upload_changes_nothing() {
    let app = app().await;
    let token = app.token(Role::Recorder, "desk recorder").await;
    let file = acled_csv(&[(1, 0), (2, 3), (3, 0)], None);

    let (status, answer) = app.upload(Some(&token), &file, false).await;
    assert_eq!(status, StatusCode::OK, "{answer:#}");
    let payload = &answer["data"]["importIncidents"];
    assert_eq!(payload["read"], 3, "{answer:#}");
    assert_eq!(payload["new"], 3);
    assert_eq!(payload["actorsRegistered"], 1);
    assert_eq!(payload["eventsAppended"], 4);
    assert_eq!(payload["rejected"], 0);
    assert_eq!(payload["rejectedRows"], json!([]));
    assert_eq!(app.events().await, 4);
    let authors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT recorded_by FROM events")
        .fetch_all(&app.db.pool)
        .await
        .expect("authors");
    assert_eq!(authors, ["desk recorder"]);

    let (_, answer) = app.upload(Some(&token), &file, false).await;
    let payload = &answer["data"]["importIncidents"];
    assert_eq!(payload["unchanged"], 3, "{answer:#}");
    assert_eq!(payload["eventsAppended"], 0);
    assert_eq!(app.events().await, 4);

    let revised = acled_csv(&[(1, 0), (2, 4), (3, 0)], None);
    let (_, answer) = app.upload(Some(&token), &revised, false).await;
    assert_eq!(
        answer["data"]["importIncidents"]["corrected"], 1,
        "{answer:#}"
    );
}

#[tokio::test]
async fn bad_rows_are_listed_and_nothing_is_imported_unless_skipped() {
    let app = app().await;
    let token = app.token(Role::Admin, "admin").await;
    let file = acled_csv(&[(1, 0), (2, 0), (3, 0)], Some(1));

    let (status, answer) = app.upload(Some(&token), &file, false).await;
    assert_eq!(status, StatusCode::OK, "{answer:#}");
    assert_eq!(answer["data"], Value::Null, "{answer:#}");
    let extensions = &answer["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "BAD_USER_INPUT", "{answer:#}");
    assert_eq!(extensions["field"], "file");
    assert_eq!(extensions["rejectedTotal"], 1);
    assert_eq!(extensions["rejectedRows"][0]["line"], 3);
    assert_eq!(extensions["rejectedRows"][0]["column"], "latitude");
    assert_eq!(app.events().await, 0, "nothing appended");

    let (_, answer) = app.upload(Some(&token), &file, true).await;
    let payload = &answer["data"]["importIncidents"];
    assert_eq!(payload["new"], 2, "{answer:#}");
    assert_eq!(payload["rejected"], 1);
    assert_eq!(payload["rejectedRows"][0]["line"], 3);
    assert_eq!(payload["rejectedRows"][0]["column"], "latitude");
    assert_eq!(app.events().await, 3);
}

#[tokio::test]
async fn a_file_that_cannot_be_read_is_bad_user_input() {
    let app = app().await;
    let token = app.token(Role::Recorder, "recorder").await;
    let file = acled_csv(&[(1, 0)], None).replacen("fatalities,", "deaths,", 1);
    let (_, answer) = app.upload(Some(&token), &file, true).await;
    let error = &answer["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{answer:#}");
    assert_eq!(error["extensions"]["field"], "file");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("fatalities")),
        "{answer:#}"
    );
    assert_eq!(app.events().await, 0);
}

#[tokio::test]
async fn only_recorders_and_admins_may_import() {
    let app = app().await;
    let file = acled_csv(&[(1, 0)], None);
    let viewer = app.token(Role::Viewer, "viewer").await;
    let (status, answer) = app.upload(Some(&viewer), &file, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer:#}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let auditor = app.token(Role::Auditor, "auditor").await;
    let (status, _) = app.upload(Some(&auditor), &file, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The role is checked before the body is read: a viewer's unreadable upload is refused for
    // the role, not for the body.
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post("/graphql")
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .header(header::ACCEPT, "application/graphql-response+json")
                .header(header::AUTHORIZATION, format!("Bearer {viewer}"))
                .body(Body::from("not a multipart body"))
                .expect("request"),
        )
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Without a token the upload is refused before its body is read.
    let (status, answer) = app.upload(None, &file, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer:#}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(app.events().await, 0);
}

#[tokio::test]
async fn a_malformed_multipart_request_is_a_bad_request() {
    let app = app().await;
    let token = app.token(Role::Recorder, "recorder").await;
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--{BOUNDARY}--\r\n"
                )))
                .expect("request"),
        )
        .await
        .expect("a response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// An upload (an import of a whole file) runs within its own time limit, not the request
/// timeout of queries and mutations; past its limit it is stopped with `TIMEOUT`, whole.
#[tokio::test]
async fn an_upload_has_a_time_limit_of_its_own() {
    let (short, long) = (Duration::from_secs(1), Duration::from_secs(60));
    // (request timeout, upload timeout, whether the import finishes): the upload's own limit
    // applies, whichever is the longer.
    for (request_timeout, upload_timeout, finishes) in [(short, long, true), (long, short, false)] {
        let app = app_with(|state| {
            state.request_timeout = request_timeout;
            state.upload_timeout = upload_timeout;
        })
        .await;
        let token = app.token(Role::Recorder, "desk editor").await;
        // Another import holds the import lock for 2.5 s: this one waits for it, longer than
        // the request timeout.
        let mut other = app.db.pool.begin().await.expect("begin");
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sitrep dataset import'))")
            .execute(&mut *other)
            .await
            .expect("the import lock");
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            other.rollback().await.expect("release");
        });
        let (status, answer) = app
            .upload(Some(&token), &acled_csv(&[(3, 0), (4, 1)], None), false)
            .await;
        release.await.expect("released");
        if finishes {
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer["data"]["importIncidents"]["new"], 2, "{answer}");
            assert_eq!(app.events().await, 2 + 1, "two incidents and their actor");
        } else {
            assert_eq!(
                answer["errors"][0]["extensions"]["code"], "TIMEOUT",
                "{answer}"
            );
            assert_eq!(app.events().await, 0, "stopped whole");
        }
    }
}
