//! Dependencies between jobs: a job waits, queued and holding no slot, until the jobs it
//! depends on are final; it runs if they all succeeded and fails with `dependency_failed`
//! (never running) otherwise.

use std::time::Duration;

use faena::job::{Job, JobErrorCode, JobId, JobStatus};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_of, problem_at};

fn sleep_after(ms: u64, deps: &[JobId]) -> serde_json::Value {
    json!({"kind": "sleep", "params": {"ms": ms}, "depends_on": deps})
}

/// A job that never ran: no attempt, no start.
fn assert_never_ran(job: &Job) {
    assert_eq!((job.attempt, job.started_at), (0, None), "{job:?}");
}

#[tokio::test]
async fn a_chain_of_three_runs_in_order() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let a = app.submit_ok(&sleep_after(150, &[])).await;
    let b = app.submit_ok(&sleep_after(1, &[a.id])).await;
    let c = app.submit_ok(&sleep_after(1, &[b.id])).await;
    assert_eq!(b.depends_on, vec![a.id]);
    // While `a` sleeps, its dependents wait in the queue.
    assert_eq!(app.wait_running(a.id).await.status, JobStatus::Running);
    let waiting = app.job(c.id).await;
    assert_eq!(
        (waiting.status, waiting.depends_on.clone()),
        (JobStatus::Queued, vec![b.id])
    );
    let c = app.wait_final(c.id).await;
    let (a, b) = (app.job(a.id).await, app.job(b.id).await);
    for job in [&a, &b, &c] {
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    }
    assert!(
        b.started_at >= a.finished_at,
        "{b:?} started before {a:?} ended"
    );
    assert!(
        c.started_at >= b.finished_at,
        "{c:?} started before {b:?} ended"
    );
}

#[tokio::test]
async fn a_failed_dependency_fails_its_dependents_transitively() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // Times out once its dependents are in (a second is ample even for a loaded debug build).
    let a = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 10_000}, "timeout_ms": 1_000}))
        .await;
    let ok = app.submit_ok(&sleep_after(0, &[])).await;
    let b = app.submit_ok(&sleep_after(1, &[ok.id, a.id])).await;
    let c = app.submit_ok(&sleep_after(1, &[b.id])).await;
    let c = app.wait_final(c.id).await;
    assert_eq!(app.job(a.id).await.status, JobStatus::TimedOut);
    let b = app.job(b.id).await;
    for (job, culprit) in [(&b, a.id), (&c, b.id)] {
        assert_eq!(job.status, JobStatus::Failed);
        let error = job.error.as_ref().expect("an error");
        assert_eq!(error.code, JobErrorCode::DependencyFailed);
        assert!(error.message.contains(&culprit.to_string()), "{error:?}");
        assert_never_ran(job);
    }
}

#[tokio::test]
async fn cancelling_a_dependency_fails_its_dependents_but_does_not_cancel_them() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let running = app.submit_ok(&sleep_after(60_000, &[])).await;
    app.wait_running(running.id).await;
    let blocker = app.submit_ok(&sleep_after(60_000, &[running.id])).await;
    let dependent = app.submit_ok(&sleep_after(1, &[blocker.id])).await;
    // `blocker` is queued (waiting): cancelling it is immediate.
    assert_eq!(app.cancel(blocker.id).await.status(), StatusCode::ACCEPTED);
    let dependent = app.wait_final(dependent.id).await;
    assert_eq!(dependent.status, JobStatus::Failed);
    assert_eq!(
        dependent.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::DependencyFailed)
    );
    assert_never_ran(&dependent);
    // A running dependency cancelled: its waiting dependent fails too.
    let second = app.submit_ok(&sleep_after(1, &[running.id])).await;
    assert_eq!(app.cancel(running.id).await.status(), StatusCode::ACCEPTED);
    let second = app.wait_final(second.id).await;
    assert_eq!(
        second.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::DependencyFailed)
    );
    assert_never_ran(&second);
    // Cancelling a dependency does not cancel its dependents: they fail on their own.
    assert_eq!(app.job(running.id).await.status, JobStatus::Cancelled);
}

#[tokio::test]
async fn depending_on_a_job_that_already_failed_fails_at_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let a = app.submit_ok(&sleep_after(60_000, &[])).await;
    app.cancel(a.id).await;
    let resp = app.submit(&sleep_after(1, &[a.id])).await;
    let job: Job = json_of(resp, StatusCode::OK).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.error.map(|e| e.code),
        Some(JobErrorCode::DependencyFailed)
    );
    assert_never_ran(&app.job(job.id).await);
}

#[tokio::test]
async fn depending_on_a_succeeded_job_runs_at_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let a = app.submit_ok(&sleep_after(0, &[])).await;
    app.wait_final(a.id).await;
    let b = app.submit_ok(&sleep_after(0, &[a.id])).await;
    assert_eq!(app.wait_final(b.id).await.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn unknown_or_malformed_dependencies_are_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let ghost = JobId::new();
    let resp = app.submit(&sleep_after(1, &[ghost])).await;
    let problem = problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_dependency",
        "depends_on",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&ghost.to_string())
    );
    let resp = app
        .submit(&json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": ["nope"]}))
        .await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "depends_on[0]",
    )
    .await;
    let many: Vec<JobId> = (0..101).map(|_| JobId::new()).collect();
    let resp = app.submit(&sleep_after(1, &many)).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "depends_on",
    )
    .await;
    // Nothing was stored for the refused submissions.
    assert!(app.list_ok("").await.jobs.is_empty());
}

/// A thousand dependents of one job all start within a second of its end: releasing them is
/// one write, and they do not poll.
#[tokio::test]
async fn a_thousand_dependents_start_within_a_second_of_their_dependency() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let root = app.submit_ok(&sleep_after(2_000, &[])).await;
    let body = sleep_after(0, &[root.id]);
    let submits = (0..1000).map(|_| app.submit_ok(&body));
    let dependents: Vec<Job> = join_all(submits).await;
    let root_now = app.job(root.id).await;
    assert!(
        !root_now.is_final(),
        "the root ended before all dependents were submitted; the test needs a longer root"
    );
    let root = app.wait_final(root.id).await;
    let ended = root.finished_at.expect("finished");
    let mut latest = ended;
    for job in join_all(dependents.iter().map(|d| app.wait_final(d.id))).await {
        assert_eq!(job.status, JobStatus::Succeeded);
        let started = job.started_at.expect("started");
        assert!(
            started >= ended,
            "{job:?} started before its dependency ended"
        );
        latest = latest.max(started);
    }
    let spread = (latest - ended).to_std().unwrap_or_default();
    assert!(
        spread < Duration::from_secs(1),
        "the last dependent started {spread:?} after the dependency ended"
    );
}
