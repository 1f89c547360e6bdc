//! `Idempotency-Key`: a repeated submission gets the job the first one created; a different
//! request with the same key is refused; concurrent repeats create one job.

use faena::job::Job;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem, problem_at};

async fn submit_keyed(app: &TestApp, key: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/jobs"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_string())
        .send()
        .await
        .expect("POST /jobs answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_gets_the_first_job_and_a_different_body_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = r#"{"kind":"sleep","params":{"ms":1},"priority":3}"#;
    let first: Job = json_of(
        submit_keyed(&app, "order-42", body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    // The same request, laid out differently: the same job, 200.
    let same = "{ \"priority\": 3,\n  \"params\": {\"ms\": 1}, \"kind\": \"sleep\" }";
    let resp = submit_keyed(&app, "order-42", same).await;
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/jobs/{}", first.id).as_str())
    );
    let again: Job = json_of(resp, StatusCode::OK).await;
    assert_eq!(again.id, first.id);

    let other = r#"{"kind":"sleep","params":{"ms":2},"priority":3}"#;
    let doc = problem_at(
        submit_keyed(&app, "order-42", other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "Idempotency-Key",
    )
    .await;
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains(&first.id.to_string())
    );
    // Another key is another job.
    let second: Job = json_of(
        submit_keyed(&app, "order-43", body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(second.id, first.id);
    assert_eq!(app.list_ok("").await.jobs.len(), 2);

    // The key lives as long as its job.
    app.wait_final(first.id).await;
    assert_eq!(app.delete(first.id).await.status(), StatusCode::NO_CONTENT);
    let fresh: Job = json_of(
        submit_keyed(&app, "order-42", other).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_ne!(fresh.id, first.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_repeats_create_one_job() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = r#"{"kind":"sleep","params":{"ms":50}}"#;
    let answers =
        futures_util::future::join_all((0..24).map(|_| submit_keyed(&app, "burst", body))).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for resp in answers {
        let status = resp.status();
        assert!(
            status == StatusCode::ACCEPTED || status == StatusCode::OK,
            "{status}"
        );
        created += usize::from(status == StatusCode::ACCEPTED);
        let job: Value = resp.json().await.unwrap();
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same job");
    assert_eq!(created, 1, "exactly one 202");
    assert_eq!(app.list_ok("").await.jobs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_are_refused_before_anything_is_stored() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 1}}).to_string();
    for key in [" ", "with space", &"k".repeat(256), "tab\tkey"] {
        let resp = submit_keyed(&app, key, &body).await;
        problem(resp, StatusCode::BAD_REQUEST, "invalid_header").await;
    }
    // A bad body with a good key stores nothing and does not use the key.
    let resp = submit_keyed(&app, "k1", r#"{"kind":"nope"}"#).await;
    problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "unknown_kind").await;
    let ok: Job = json_of(submit_keyed(&app, "k1", &body).await, StatusCode::ACCEPTED).await;
    assert_eq!(app.list_ok("").await.jobs.len(), 1);
    assert_eq!(app.list_ok("").await.jobs[0].id, ok.id);
}
