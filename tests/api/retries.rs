//! Retries and delayed jobs: a retryable failure runs again after an exponential back-off
//! with jitter while attempts remain, every failed attempt is kept in `errors`, and
//! `run_after` holds a job back until its time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use faena::job::{Backoff, JobErrorCode, JobStatus};
use faena::kinds::fetch_urls::Output;
use reqwest::StatusCode;
use serde_json::json;

use crate::fetch::fetch_job;
use crate::helpers::{TestApp, problem_at};
use crate::pages::PageServer;

const BASE_MS: u64 = 100;

async fn app() -> Option<TestApp> {
    TestApp::spawn_with(|c| {
        c.fetch_allow_private = true;
        c.retry_backoff_ms = BASE_MS;
        c.retry_backoff_max_ms = 10_000;
    })
    .await
}

fn backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(BASE_MS),
        max: Duration::from_secs(10),
    }
}

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_milliseconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_fetch_errors_are_retried_with_backoff_until_they_pass() {
    let Some(app) = app().await else {
        return;
    };
    let pages = PageServer::start().await;
    // Fails twice (503), then answers.
    let urls = vec![pages.url("/flaky/2/a"), pages.url("/page/1?bytes=100")];
    let mut body = fetch_job(&urls, json!({"retry_transient": true}));
    body["max_attempts"] = json!(5);
    let job = app.submit_ok(&body).await;
    let done = app.wait_final(job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 3);
    let out: Output = serde_json::from_str(done.result.as_ref().unwrap().as_str()).unwrap();
    assert!(out.pages.iter().all(|p| p.ok), "{out:?}");
    assert_eq!(out.succeeded, 2);

    assert_eq!(done.errors.len(), 2, "{:?}", done.errors);
    for (i, e) in done.errors.iter().enumerate() {
        assert_eq!(e.attempt, i as u32 + 1);
        assert_eq!(e.code, JobErrorCode::FetchIncomplete);
        assert!(e.message.starts_with("1 of 2 URLs failed"), "{}", e.message);
        assert!(e.message.contains("/flaky/2/a"), "{}", e.message);
        assert!(e.instance.is_some());
    }
    assert_eq!(
        done.error, None,
        "a success clears the last attempt's error"
    );
    // Each retry waited at least the lower bound of its back-off.
    let gap = ms_between(done.errors[0].at, done.errors[1].at);
    let (low, _) = backoff().range_ms(1);
    assert!(
        gap >= low as i64,
        "first retry after {gap} ms, back-off at least {low}"
    );
    let last_gap = ms_between(done.errors[1].at, done.started_at.unwrap());
    let (low, _) = backoff().range_ms(2);
    assert!(
        last_gap >= low as i64,
        "second retry after {last_gap} ms, at least {low}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_attempt_keeps_what_it_got() {
    let Some(app) = app().await else {
        return;
    };
    let pages = PageServer::start().await;
    let urls = vec![pages.url("/flaky/100/b"), pages.url("/status/404")];
    let mut body = fetch_job(&urls, json!({"retry_transient": true}));
    body["max_attempts"] = json!(2);
    let job = app.submit_ok(&body).await;
    let done = app.wait_final(job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 2);
    assert_eq!(done.errors.len(), 1);
    let out: Output = serde_json::from_str(done.result.as_ref().unwrap().as_str()).unwrap();
    assert_eq!((out.succeeded, out.failed), (0, 2));
    // A 404 is not transient: it alone is never retried.
    let mut only_404 = fetch_job(
        &[pages.url("/status/404")],
        json!({"retry_transient": true}),
    );
    only_404["max_attempts"] = json!(3);
    let job = app.submit_ok(&only_404).await;
    let done = app.wait_final(job.id).await;
    assert_eq!((done.status, done.attempt), (JobStatus::Succeeded, 1));
    assert!(done.errors.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retry_transient_a_failed_page_is_a_result() {
    let Some(app) = app().await else {
        return;
    };
    let pages = PageServer::start().await;
    let job = app
        .submit_ok(&fetch_job(&[pages.url("/flaky/1/c")], json!({})))
        .await;
    let done = app.wait_final(job.id).await;
    assert_eq!((done.status, done.attempt), (JobStatus::Succeeded, 1));
    assert!(done.errors.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_cancels_are_final_and_recorded() {
    let Some(app) = app().await else {
        return;
    };
    let job = app
        .submit_ok(
            &json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 50,
            "max_attempts": 5}),
        )
        .await;
    let done = app.wait_final(job.id).await;
    assert_eq!((done.status, done.attempt), (JobStatus::TimedOut, 1));
    assert_eq!(done.errors.len(), 1);
    assert_eq!(done.errors[0].code, JobErrorCode::TimedOut);
    assert_eq!(done.errors[0].attempt, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_job_waits_queued_until_its_time() {
    let Some(app) = app().await else {
        return;
    };
    let at = Utc::now() + chrono::Duration::milliseconds(600);
    let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap();
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0},
            "run_after": at.to_rfc3339()}))
        .await;
    assert_eq!(job.run_after, at);
    assert_eq!(app.job(job.id).await.status, JobStatus::Queued);
    let done = app.wait_final(job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    let started = done.started_at.unwrap();
    assert!(started >= at, "started {started}, due {at}");
    // Woken when due, not at the next poll (1 s).
    assert!(
        ms_between(at, started) < 500,
        "started {} ms late",
        ms_between(at, started)
    );
    // A time in the past runs at once.
    let past = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}, "run_after": past}))
        .await;
    assert_eq!(app.wait_final(job.id).await.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_run_after_is_refused() {
    let Some(app) = app().await else {
        return;
    };
    let far = (Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    for bad in [
        json!("tomorrow"),
        json!("2026-13-01T00:00:00Z"),
        json!(far),
        json!(12),
    ] {
        let resp = app
            .submit(&json!({"kind": "sleep", "params": {"ms": 1}, "run_after": bad}))
            .await;
        problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "run_after",
        )
        .await;
    }
    assert!(app.list_ok("").await.jobs.is_empty());
}
