//! `POST /jobs/{id}/retry`: a failed, timed-out or cancelled job comes back as a new job with
//! the same kind, params and options, linked by `retry_of`; other states get 409.

use faena::job::{Job, JobId};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_of, problem};

async fn retry(app: &TestApp, id: JobId) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/jobs/{id}/retry")))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_job_retried_is_a_new_linked_job_with_the_same_spec() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let original = app
        .submit_ok(
            &json!({"kind": "sleep", "params": {"ms": 60000}, "timeout_ms": 50,
                           "priority": 7, "max_attempts": 2}),
        )
        .await;
    let original = app.wait_final(original.id).await;
    assert_eq!(original.status.as_str(), "timed_out");
    let resp = retry(&app, original.id).await;
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let again: Job = json_of(resp, StatusCode::ACCEPTED).await;
    assert_eq!(location, format!("/jobs/{}", again.id));
    assert_ne!(again.id, original.id);
    assert_eq!(again.retry_of, Some(original.id));
    assert_eq!(
        (
            again.kind,
            &again.params,
            again.priority,
            again.timeout_ms,
            again.max_attempts
        ),
        (original.kind, &original.params, 7, 50, 2)
    );
    assert!(again.created_at > original.created_at);
    let again = app.wait_final(again.id).await;
    assert_eq!(again.status.as_str(), "timed_out");
    assert_eq!(app.job(again.id).await.retry_of, Some(original.id));
    // The original is left as it was.
    assert_eq!(app.job(original.id).await, original);
    // A retry can be retried, and a cancelled job too.
    let third: Job = json_of(retry(&app, again.id).await, StatusCode::ACCEPTED).await;
    assert_eq!(third.retry_of, Some(again.id));
    app.cancel(third.id).await;
    assert_eq!(app.wait_final(third.id).await.status.as_str(), "cancelled");
    let fourth: Job = json_of(retry(&app, third.id).await, StatusCode::ACCEPTED).await;
    assert_eq!(fourth.retry_of, Some(third.id));
    app.cancel(fourth.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dependent_retried_keeps_its_dependencies() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let dep = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60000}, "timeout_ms": 20}))
        .await;
    let child = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}, "depends_on": [dep.id]}))
        .await;
    let child = app.wait_final(child.id).await;
    assert_eq!(child.status.as_str(), "failed");
    let again: Job = json_of(retry(&app, child.id).await, StatusCode::ACCEPTED).await;
    assert_eq!(again.depends_on, vec![dep.id]);
    // Its dependency still did not succeed: failed at once, as a new submission would be.
    assert_eq!(again.status.as_str(), "failed");
    assert_eq!(again.error.unwrap().code.as_str(), "dependency_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_jobs_that_ended_without_succeeding_can_be_retried() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let done = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    app.wait_final(done.id).await;
    let p = problem(
        retry(&app, done.id).await,
        StatusCode::CONFLICT,
        "not_retryable",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("succeeded"), "{p}");
    let running = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60000}}))
        .await;
    app.wait_running(running.id).await;
    problem(
        retry(&app, running.id).await,
        StatusCode::CONFLICT,
        "not_retryable",
    )
    .await;
    app.cancel(running.id).await;
    problem(
        retry(&app, JobId::new()).await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/jobs/not-a-uuid/retry"))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::BAD_REQUEST, "invalid_id").await;
    // Nothing was created by the refusals.
    assert_eq!(app.list_ok("").await.jobs.len(), 2);
}
