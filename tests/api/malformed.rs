//! Bodies refused before they are read as a job: not JSON, not declared as JSON, over the
//! size limit; and a bad query on `POST /jobs`. None of them leaves a job behind.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::helpers::{TestApp, problem, problem_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_json_are_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let post = || app.client.post(app.url("/jobs"));
    let valid = r#"{"kind": "sleep", "params": {"ms": 1}}"#;

    for text in [r#"{"kind": "sleep", "params": "#, "", "kind=sleep"] {
        let resp = post()
            .header(CONTENT_TYPE, "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        problem(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    let resp = post()
        .header(CONTENT_TYPE, "text/plain")
        .body(valid)
        .send()
        .await
        .unwrap();
    problem(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let resp = post().body(valid).send().await.unwrap();
    problem(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // A bad wait_ms is refused even with a valid body, and creates nothing either.
    let resp = app
        .submit_query("wait_ms=60001", &serde_json::from_str(valid).unwrap())
        .await;
    problem_at(resp, StatusCode::BAD_REQUEST, "invalid_query", "wait_ms").await;
    let resp = app
        .submit_query("wait=5", &serde_json::from_str(valid).unwrap())
        .await;
    problem(resp, StatusCode::BAD_REQUEST, "invalid_query").await;

    assert!(app.list_ok("").await.jobs.is_empty());
}

/// A valid job padded with whitespace to exactly `len` bytes.
fn padded_job(len: usize) -> String {
    let job = r#"{"kind": "sleep", "params": {"ms": 1}}"#;
    format!("{job}{}", " ".repeat(len - job.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused() {
    let Some(app) = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await else {
        return;
    };
    let send = |len: usize| {
        app.client
            .post(app.url("/jobs"))
            .header(CONTENT_TYPE, "application/json")
            .body(padded_job(len))
            .send()
    };
    for len in [4096, 1025] {
        let resp = send(len).await.unwrap();
        problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    let resp = send(1024).await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "a body at the limit is fine"
    );
    let accepted: faena::job::Job = resp.json().await.unwrap();
    let page = app.list_ok("").await;
    let ids: Vec<_> = page.jobs.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        [accepted.id],
        "only the body within the limit made a job"
    );
}
