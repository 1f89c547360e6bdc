//! Deleting jobs: a final job goes (204, then 404 everywhere); a queued or running one stays
//! (409 `job_not_final`).

use faena::job::JobStatus;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_job_is_deleted() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 0}});
    let kept = app.submit_ok(&body).await;
    let gone = app.submit_ok(&body).await;
    for id in [kept.id, gone.id] {
        assert_eq!(app.wait_final(id).await.status, JobStatus::Succeeded);
    }

    let resp = app.delete(gone.id).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty(), "204 has no body");

    let not_found = StatusCode::NOT_FOUND;
    problem(app.get(gone.id).await, not_found, "job_not_found").await;
    problem(
        app.get_wait(gone.id, 1000).await,
        not_found,
        "job_not_found",
    )
    .await;
    problem(app.cancel(gone.id).await, not_found, "job_not_found").await;
    problem(app.delete(gone.id).await, not_found, "job_not_found").await;

    let ids: Vec<_> = app.list_ok("").await.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, [kept.id], "only the deleted job is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_timed_out_jobs_can_be_deleted() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let cancelled = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    app.cancel(cancelled.id).await;
    let timed_out = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 1}))
        .await;
    assert_eq!(
        app.wait_final(cancelled.id).await.status,
        JobStatus::Cancelled
    );
    assert_eq!(
        app.wait_final(timed_out.id).await.status,
        JobStatus::TimedOut
    );
    for id in [cancelled.id, timed_out.id] {
        assert_eq!(app.delete(id).await.status(), StatusCode::NO_CONTENT);
    }
    assert!(app.list_ok("").await.jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_or_running_job_is_not_deleted() {
    let Some(app) = TestApp::spawn_with(|c| c.max_io_jobs = 1).await else {
        return;
    };
    let running = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    assert_eq!(
        app.wait_running(running.id).await.status,
        JobStatus::Running
    );
    let queued = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;

    let conflict = StatusCode::CONFLICT;
    problem(app.delete(running.id).await, conflict, "job_not_final").await;
    problem(app.delete(queued.id).await, conflict, "job_not_final").await;
    assert_eq!(app.job(running.id).await.status, JobStatus::Running);
    assert_eq!(app.job(queued.id).await.status, JobStatus::Queued);

    // Cancel first, as the problem says, and then it goes.
    app.cancel(running.id).await;
    assert_eq!(
        app.wait_final(running.id).await.status,
        JobStatus::Cancelled
    );
    assert_eq!(
        app.delete(running.id).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.wait_final(queued.id).await.status, JobStatus::Succeeded);
    assert_eq!(app.delete(queued.id).await.status(), StatusCode::NO_CONTENT);
    assert!(app.list_ok("").await.jobs.is_empty());
}
