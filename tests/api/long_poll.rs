//! Long-polling `GET /jobs/{id}?wait_ms=`: it answers as soon as the job is final, and
//! otherwise after `wait_ms` with the job as it is then.

use std::time::{Duration, Instant};

use faena::job::{Job, JobStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_as_soon_as_the_job_ends() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 300}}))
        .await;
    let asked = Instant::now();
    let done: Job = json_of(app.get_wait(job.id, 20_000).await, StatusCode::OK).await;
    let answered = asked.elapsed();
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(
        done.result.map(|r| r.value()),
        Some(json!({"slept_ms": 300}))
    );
    assert!(
        answered < Duration::from_secs(10),
        "answered after {answered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_a_final_job_answers_at_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    let done = app.wait_final(job.id).await;
    let asked = Instant::now();
    let again: Job = json_of(app.get_wait(job.id, 20_000).await, StatusCode::OK).await;
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(again, done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_a_job_that_stays_queued_answers_after_wait_ms() {
    let Some(app) = TestApp::spawn_with(|c| c.max_io_jobs = 1).await else {
        return;
    };
    let blocker = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    assert_eq!(
        app.wait_running(blocker.id).await.status,
        JobStatus::Running
    );
    let waiting = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;

    let asked = Instant::now();
    let polled: Job = json_of(app.get_wait(waiting.id, 300).await, StatusCode::OK).await;
    let answered = asked.elapsed();
    assert_eq!(polled.status, JobStatus::Queued, "{polled:?}");
    assert_eq!((polled.attempt, polled.started_at), (0, None));
    assert!(
        answered >= Duration::from_millis(300) && answered < Duration::from_secs(5),
        "answered after {answered:?}"
    );

    // The running blocker long-polls the same way: still running after its wait.
    let polled: Job = json_of(app.get_wait(blocker.id, 200).await, StatusCode::OK).await;
    assert_eq!(polled.status, JobStatus::Running);

    // Once the slot frees up, the waiting job runs.
    assert_eq!(app.cancel(blocker.id).await.status(), StatusCode::ACCEPTED);
    let done = app.wait_final(waiting.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_long_polls_on_one_job_all_answer_when_it_ends() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 300}}))
        .await;
    let polls: Vec<_> = (0..8)
        .map(|_| {
            let url = app.url(&format!("/jobs/{}?wait_ms=20000", job.id));
            tokio::spawn(app.client.get(url).send())
        })
        .collect();
    let asked = Instant::now();
    for poll in polls {
        let resp = poll.await.unwrap().expect("the server answers");
        let done: Job = json_of(resp, StatusCode::OK).await;
        assert_eq!(done.status, JobStatus::Succeeded);
    }
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
}
