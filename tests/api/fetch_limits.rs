//! How hard `fetch_urls` presses on the servers it fetches from, and that it lets go: at most
//! `concurrency` requests of a job in flight, at most `fetch_max_in_flight` across jobs, and a
//! cancelled or timed-out job drops its requests at once and starts no more.
//!
//! The page server holds requests until the test releases them (or forever), so the counts
//! in flight are exact at every step; every wait is on a condition, with a deadline.

use std::time::Duration;

use faena::job::{Job, JobErrorCode, JobId, JobProgress, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fetch::{assert_ok, fetch_app_with, fetch_job, output_of, run_fetch};
use crate::helpers::{TestApp, json_of};
use crate::pages::{PageServer, SMALL, Seen, page_body};

/// How long a condition on the page server may take to come true.
const WAIT: Duration = Duration::from_secs(10);

/// `n` URLs of held requests, `/hold/{first}` onwards.
fn held(pages: &PageServer, first: usize, n: usize) -> Vec<String> {
    (first..first + n)
        .map(|i| pages.url(&format!("/hold/{i}")))
        .collect()
}

/// Runs a `sleep` job of 0 ms through the whole service (queue, run, store) to its end.
///
/// Nothing signals that faena will start no further request, and a test must not sleep and
/// hope: a whole job's round trip stands in for that wait, and any request beyond a cap
/// (a millisecond away on loopback) would have arrived long before it ends.
async fn settle(app: &TestApp) {
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    assert_eq!(app.wait_final(job.id).await.status, JobStatus::Succeeded);
}

/// Waits until `cap` requests are in flight and settles; then exactly `started` requests
/// have started, `cap` are in flight and never more have been.
async fn assert_held_at(app: &TestApp, pages: &PageServer, cap: usize, started: usize) {
    let what = format!("{cap} in flight");
    pages.wait_for(&what, WAIT, |s| s.in_flight >= cap).await;
    settle(app).await;
    let seen = pages.seen();
    let counts = (seen.started(), seen.in_flight, seen.max_in_flight);
    assert_eq!(counts, (started, cap, cap), "{seen:?}");
}

/// Releases held requests one at a time, `steps` times; after each, the next one starts.
async fn step_through(pages: &PageServer, cap: usize, steps: usize) {
    for k in 1..=steps {
        pages.release(1);
        let what = format!("{} started and {cap} in flight", cap + k);
        let cond = |s: &Seen| s.started() >= cap + k && s.in_flight >= cap;
        pages.wait_for(&what, WAIT, cond).await;
    }
}

/// Checks that the job fetched each of its held URLs, `/hold/{first}` onwards, and saved it.
fn assert_all_held_pages(job: &Job, body: &Value, first: usize) {
    let out = output_of(job, body);
    for (i, page) in out.pages.iter().enumerate() {
        let n = first + i;
        let name = format!("{i:05}-127.0.0.1-hold-{n}");
        assert_ok(page, &page_body(n as u64, SMALL), Some(&name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_keeps_at_most_its_concurrency_in_flight() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let body = fetch_job(&held(&pages, 0, 40), json!({"concurrency": 5}));
    let job = app.submit_ok(&body).await;

    assert_held_at(&app, &pages, 5, 5).await;
    step_through(&pages, 5, 10).await;
    assert_held_at(&app, &pages, 5, 15).await;
    pages.release(1000);
    assert_all_held_pages(&app.wait_final(job.id).await, &body, 0);
    let seen = pages.seen();
    assert_eq!(
        (seen.started(), seen.in_flight, seen.max_in_flight),
        (40, 0, 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cap_holds_across_jobs() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|c| c.fetch_max_in_flight = 3).await else {
        return;
    };
    let first = fetch_job(&held(&pages, 0, 10), json!({"concurrency": 10}));
    let second = fetch_job(&held(&pages, 100, 10), json!({"concurrency": 10}));
    let (a, b) = (app.submit_ok(&first).await, app.submit_ok(&second).await);
    for id in [a.id, b.id] {
        assert_eq!(app.wait_running(id).await.status, JobStatus::Running);
    }

    assert_held_at(&app, &pages, 3, 3).await;
    step_through(&pages, 3, 8).await;
    assert_held_at(&app, &pages, 3, 11).await;
    pages.release(1000);
    assert_all_held_pages(&app.wait_final(a.id).await, &first, 0);
    assert_all_held_pages(&app.wait_final(b.id).await, &second, 100);
    let seen = pages.seen();
    assert_eq!(
        (seen.started(), seen.in_flight, seen.max_in_flight),
        (20, 0, 3)
    );
}

/// A job of 20 URLs that never answer, 8 at a time; returns once 8 are in flight.
async fn stuck_job(app: &TestApp, pages: &PageServer, more: Value) -> JobId {
    let urls: Vec<String> = (0..20).map(|i| pages.url(&format!("/never/{i}"))).collect();
    let mut body = fetch_job(&urls, json!({"concurrency": 8}));
    if let (Some(body), Value::Object(more)) = (body.as_object_mut(), more) {
        body.extend(more);
    }
    let job = app.submit_ok(&body).await;
    // More than 8 would show in the exact counts of `assert_stopped_fetching`.
    pages
        .wait_for("8 in flight", WAIT, |s| s.in_flight >= 8)
        .await;
    job.id
}

/// Once a job has stopped: the server sees its requests go (their connections close) within
/// 2 s, and no request of it starts afterwards.
async fn assert_stopped_fetching(app: &TestApp, pages: &PageServer) {
    let gone = |s: &Seen| s.in_flight == 0;
    let within = Duration::from_secs(2);
    pages.wait_for("no request in flight", within, gone).await;
    // No sleep to prove a negative: the stopped run's future is gone (the job is final only
    // once its run has ended), and a later job fetches through the same client; once it is
    // done, the next request the server saw after the stopped job's eight is the later one.
    let url = pages.url("/page/1?bytes=10");
    let (_, out) = run_fetch(app, &fetch_job(std::slice::from_ref(&url), json!({}))).await;
    assert_ok(
        &out.pages[0],
        &page_body(1, 10),
        Some("00000-127.0.0.1-page-1"),
    );
    let seen = pages.seen();
    assert_eq!((seen.started(), seen.max_in_flight), (9, 8), "{seen:?}");
    assert_eq!(
        seen.paths.last().map(String::as_str),
        Some("/page/1?bytes=10")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_drops_the_requests_in_flight_and_starts_no_more() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let id = stuck_job(&app, &pages, json!({})).await;

    let answer: Job = json_of(app.cancel(id).await, StatusCode::ACCEPTED).await;
    assert_eq!(answer.status, JobStatus::Cancelled, "{answer:?}");
    let done = app.wait_final(id).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{done:?}");
    assert_eq!(done.error.map(|e| e.code), Some(JobErrorCode::Cancelled));
    assert_eq!(done.result, None);
    assert_eq!(done.progress, Some(JobProgress { done: 0, total: 20 }));
    assert_stopped_fetching(&app, &pages).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_deadline_drops_its_requests_and_starts_no_more() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let id = stuck_job(&app, &pages, json!({"timeout_ms": 500})).await;

    let done = app.wait_final(id).await;
    assert_eq!(done.status, JobStatus::TimedOut, "{done:?}");
    assert_eq!(
        done.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::TimedOut)
    );
    assert_eq!((done.attempt, done.result.as_ref()), (1, None));
    assert_eq!(done.progress, Some(JobProgress { done: 0, total: 20 }));
    let ran = done.finished_at.expect("finished") - done.started_at.expect("started");
    let ran = ran.to_std().expect("finished after it started");
    assert!(
        ran >= Duration::from_millis(499) && ran < Duration::from_secs(3),
        "{ran:?}"
    );
    assert_stopped_fetching(&app, &pages).await;
}
