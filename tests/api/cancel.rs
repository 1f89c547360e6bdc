//! Cancelling jobs: a queued one at once (it never runs), a running sleep and a running CPU
//! kernel promptly (freeing their slot), and a final one not at all (409).

use std::time::{Duration, Instant};

use faena::job::{Job, JobErrorCode, JobId, JobProgress, JobStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PATIENCE, TestApp, json_of, problem};

fn sleep(ms: u64) -> serde_json::Value {
    json!({"kind": "sleep", "params": {"ms": ms}})
}

fn primes(start: u64, end: u64) -> serde_json::Value {
    json!({"kind": "count_primes", "params": {"start": start, "end": end}})
}

/// Cancels a job that must be accepted for cancellation; returns the job in the answer.
async fn cancel_ok(app: &TestApp, job: &Job) -> Job {
    json_of(app.cancel(job.id).await, StatusCode::ACCEPTED).await
}

fn assert_cancelled(job: &Job) {
    assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
    assert_eq!(
        job.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::Cancelled)
    );
    assert!(job.finished_at.is_some(), "{job:?}");
    assert_eq!(job.result, None);
}

/// Waits until a running job reports some progress (polled: nothing notifies progress).
async fn wait_progress(app: &TestApp, id: JobId) -> JobProgress {
    let started = Instant::now();
    loop {
        if let Some(p) = app.job(id).await.progress.filter(|p| p.done > 0) {
            return p;
        }
        assert!(started.elapsed() < PATIENCE, "job {id} makes no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_is_cancelled_at_once_and_never_runs() {
    let Some(app) = TestApp::spawn_with(|c| c.max_io_jobs = 1).await else {
        return;
    };
    let blocker = app.submit_ok(&sleep(60_000)).await;
    app.wait_running(blocker.id).await;
    let queued = app.submit_ok(&sleep(0)).await;

    let cancelled = cancel_ok(&app, &queued).await;
    assert_cancelled(&cancelled);
    assert_eq!((cancelled.attempt, cancelled.started_at), (0, None));
    assert_eq!(app.job(queued.id).await, cancelled);

    // Free the slot, then let a later job run: the dispatcher takes the oldest queued job
    // first, so once the later one is done the cancelled one has had every chance to run.
    cancel_ok(&app, &blocker).await;
    let later = app.submit_ok(&sleep(0)).await;
    assert_eq!(app.wait_final(later.id).await.status, JobStatus::Succeeded);
    let still = app.job(queued.id).await;
    assert_cancelled(&still);
    assert_eq!((still.attempt, still.started_at), (0, None));

    problem(
        app.cancel(queued.id).await,
        StatusCode::CONFLICT,
        "job_final",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sleep_stops_promptly() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app.submit_ok(&sleep(60_000)).await;
    assert_eq!(app.wait_running(job.id).await.status, JobStatus::Running);

    let asked = Instant::now();
    // The answer waits (up to 1 s) for the run to stop; a sleep stops at once.
    let answer = cancel_ok(&app, &job).await;
    assert_cancelled(&answer);
    let done = app.wait_final(job.id).await;
    assert_eq!(done, answer);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    assert_cancelled(&done);
    assert_eq!(done.attempt, 1);
    assert!(done.started_at.is_some());

    problem(app.cancel(job.id).await, StatusCode::CONFLICT, "job_final").await;
    assert_eq!(
        app.job(job.id).await,
        done,
        "a refused cancel changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_cpu_job_stops_promptly_and_frees_its_slot() {
    let Some(app) = TestApp::spawn_with(|c| c.max_cpu_jobs = Some(1)).await else {
        return;
    };
    // Counting primes below 10^18 takes far longer than this test may.
    let long = app.submit_ok(&primes(0, 1_000_000_000_000_000_000)).await;
    assert_eq!(app.wait_running(long.id).await.status, JobStatus::Running);
    let progress = wait_progress(&app, long.id).await;
    assert!(progress.done < progress.total, "{progress:?}");

    let asked = Instant::now();
    assert_cancelled(&cancel_ok(&app, &long).await);
    let done = app.wait_final(long.id).await;
    let stopped_at = done.progress.expect("the progress it had made");
    assert!(stopped_at.done < stopped_at.total, "{stopped_at:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    assert_cancelled(&done);
    assert_eq!(done.attempt, 1);

    // The only CPU slot (and the pool) is free again: the next job runs to its end.
    let asked = Instant::now();
    let next: Job = json_of(
        app.submit_query("wait_ms=20000", &primes(0, 1_000_000))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next.status, JobStatus::Succeeded, "{next:?}");
    assert_eq!(
        next.result.map(|r| r.value()),
        Some(json!({"count": 78_498}))
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );

    problem(app.cancel(long.id).await, StatusCode::CONFLICT, "job_final").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_the_run_registers_still_stops_it() {
    // Cancel right after submitting, without waiting: whichever side of the claim (queued,
    // claimed but not yet registered, running) the cancel lands on, the job ends cancelled.
    let Some(app) = TestApp::spawn_with(|c| c.max_cpu_jobs = Some(1)).await else {
        return;
    };
    for _ in 0..5 {
        let job = app.submit_ok(&primes(0, 1_000_000_000_000_000_000)).await;
        cancel_ok(&app, &job).await;
        let done = app.wait_final(job.id).await;
        assert_cancelled(&done);
    }
}
