//! Jobs started by their insert: with a slot free and nothing of its class queued, a
//! submission is stored `running` and runs at once (no claim in between); with jobs queued,
//! it waits its turn behind them.

use faena::job::{Job, JobId, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_to_an_idle_server_starts_at_its_insert() {
    let Some(app) = TestApp::spawn_with(|c| c.instance_id = Some("here".into())).await else {
        return;
    };
    // The dispatcher's first look at the (empty) queue may come after the first submissions;
    // from then on every submission starts at its insert.
    let mut tries = 0;
    let started = loop {
        tries += 1;
        assert!(tries <= 100, "no submission was started at its insert");
        let body = json!({"kind": "sleep", "params": {"ms": 0}});
        let raw: Value = json_of(app.submit(&body).await, StatusCode::ACCEPTED).await;
        if raw["status"] == "running" {
            break serde_json::from_value::<Job>(raw).unwrap();
        }
        assert_eq!(raw["status"], "queued", "{raw}");
        app.wait_final(raw["id"].as_str().unwrap().parse::<JobId>().unwrap())
            .await;
    };
    assert_eq!(started.attempt, 1, "{started:?}");
    assert_eq!(started.instance.as_deref(), Some("here"));
    assert_eq!(started.started_at, Some(started.created_at));
    let done = app.wait_final(started.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 1);
    assert_eq!(done.started_at, started.started_at);
    assert_eq!(done.result.unwrap().value(), json!({"slept_ms": 0}));
    // One request: answered with the finished job.
    let body = json!({"kind": "sleep", "params": {"ms": 5}});
    let job: Job = json_of(
        app.submit_query("wait_ms=10000", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((job.status, job.attempt), (JobStatus::Succeeded, 1));
    assert_eq!(job.started_at, Some(job.created_at), "{job:?}");
}

/// A server with one I/O slot, held by a long sleep (running); `None` when the test skips.
async fn one_slot_held() -> Option<(TestApp, Job)> {
    let app = TestApp::spawn_with(|c| c.max_io_jobs = 1).await?;
    let blocker = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    app.wait_running(blocker.id).await;
    Some((app, blocker))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_that_queues_frees_its_slot_before_it_waits() {
    let Some((app, blocker)) = one_slot_held().await else {
        return;
    };
    let queued = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(app.cancel(blocker.id).await.status(), StatusCode::ACCEPTED);
    // The queue was not seen empty since: this one is queued, its slot given back at once,
    // and it runs within its wait (not after it, as if it still held the only slot).
    let body = json!({"kind": "sleep", "params": {"ms": 0}});
    let job: Job = json_of(
        app.submit_query("wait_ms=30000", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(app.wait_final(queued.id).await.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_job_never_starts_ahead_of_queued_ones() {
    let Some((app, blocker)) = one_slot_held().await else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 20}});
    let mut order = Vec::new();
    for _ in 0..2 {
        let job = app.submit_ok(&body).await;
        assert_eq!(
            job.status,
            JobStatus::Queued,
            "the only slot is taken: {job:?}"
        );
        order.push(job.id);
    }
    assert_eq!(app.cancel(blocker.id).await.status(), StatusCode::ACCEPTED);
    // The slot frees up while two jobs are queued: the next one queues behind them.
    order.push(app.submit_ok(&body).await.id);
    let mut done = Vec::new();
    for id in order {
        let job = app.wait_final(id).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
        done.push(job);
    }
    for pair in done.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(
            before.finished_at <= after.started_at,
            "one slot, in submission order: {before:?} then {after:?}"
        );
    }
}
