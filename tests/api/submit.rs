//! Each kind of job end to end: accepted (202, `Location`, queued or started, a UUID v7),
//! then followed by long-polling to its exact result; and `POST /jobs?wait_ms=` answering
//! with the final job.

use std::time::{Duration, Instant};

use chrono::DateTime;
use faena::job::{Job, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

/// Submits `body`, checks the accepted job as served on the wire, and returns it.
async fn accept(app: &TestApp, body: &Value) -> Job {
    let resp = app.submit(body).await;
    let location = resp.headers().get("location").cloned();
    let raw: Value = json_of(resp, StatusCode::ACCEPTED).await;
    let id = raw["id"].as_str().expect("an id");
    assert_eq!(
        location.as_ref().and_then(|l| l.to_str().ok()),
        Some(format!("/jobs/{id}").as_str())
    );
    let created = raw["created_at"].as_str().expect("created_at");
    DateTime::parse_from_rfc3339(created).expect("created_at is RFC 3339");
    // Queued, or started by its insert when a slot was free and nothing queued.
    match raw["status"].as_str() {
        Some("queued") => {
            assert_eq!(raw["attempt"], 0, "{raw}");
            assert_eq!(raw["started_at"], Value::Null, "{raw}");
        }
        Some("running") => {
            assert_eq!(raw["attempt"], 1, "{raw}");
            assert_eq!(raw["started_at"], raw["created_at"], "{raw}");
        }
        _ => panic!("accepted as neither queued nor running: {raw}"),
    }
    for key in ["finished_at", "result", "error"] {
        assert_eq!(raw[key], Value::Null, "{key} in {raw}");
    }
    let job: Job = serde_json::from_value(raw).expect("a job");
    assert_eq!(job.id.as_uuid().get_version_num(), 7, "ids are UUID v7");
    assert_eq!(job.params, body["params"]);
    job
}

/// Follows `job` until final and checks that it succeeded cleanly; returns its result.
async fn succeeded(app: &TestApp, job: &Job) -> Value {
    let done = app.wait_final(job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempt, 1);
    assert_eq!(done.error, None);
    assert_eq!(done.created_at, job.created_at);
    let started = done.started_at.expect("started_at");
    let finished = done.finished_at.expect("finished_at");
    assert!(job.created_at <= started && started <= finished, "{done:?}");
    let progress = done.progress.expect("progress");
    assert!(
        progress.total > 0 && progress.done == progress.total,
        "{progress:?}"
    );
    done.result.expect("a result").value()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_primes_counts_exactly() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let cases = [
        (0, 1_000_000, 78_498),
        (0, 10_000_000, 664_579),
        (1_000_000_000, 1_010_000_000, 482_449),
        (0, 250_000, 22_044),
        (250_000, 500_000, 19_494),
        (500_000, 750_000, 18_700),
        (750_000, 1_000_000, 18_260),
    ];
    let mut jobs = Vec::new();
    for (start, end, count) in cases {
        let body = json!({"kind": "count_primes", "params": {"start": start, "end": end}});
        let job = accept(&app, &body).await;
        assert_eq!(job.kind, "count_primes");
        jobs.push((job, count));
    }
    for (job, count) in jobs {
        assert_eq!(
            succeeded(&app, &job).await,
            json!({"count": count}),
            "{}",
            job.params
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factorial_reports_digits_zeros_and_leading_digits() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let numbers = [0, 5, 10, 100, 80_000, 50_000];
    let job = accept(
        &app,
        &json!({"kind": "factorial", "params": {"numbers": numbers}}),
    )
    .await;
    let done = app.wait_final(job.id).await;
    assert_eq!(done.progress.map(|p| (p.done, p.total)), Some((6, 6)));
    let mut results = succeeded(&app, &job).await["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), numbers.len());
    let last = results.pop().expect("the facts of 50000");
    assert_eq!(
        results,
        [
            json!({"n": 0, "digits": 1, "trailing_zeros": 0, "leading_digits": "1"}),
            json!({"n": 5, "digits": 3, "trailing_zeros": 1, "leading_digits": "120"}),
            json!({"n": 10, "digits": 7, "trailing_zeros": 2, "leading_digits": "3628800"}),
            json!({"n": 100, "digits": 158, "trailing_zeros": 24,
                   "leading_digits": "93326215443944152681"}),
            json!({"n": 80_000, "digits": 357_507, "trailing_zeros": 19_999,
                   "leading_digits": "30977222516622492863"}),
        ]
    );
    assert_eq!(
        (&last["n"], &last["digits"], &last["trailing_zeros"]),
        (&json!(50_000), &json!(213_237), &json!(12_499))
    );
    let leading = last["leading_digits"].as_str().expect("leading digits");
    assert!(leading.len() == 20 && leading.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_sleeps_the_time_asked() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = accept(&app, &json!({"kind": "sleep", "params": {"ms": 50}})).await;
    assert_eq!(succeeded(&app, &job).await, json!({"slept_ms": 50}));
    let done = app.job(job.id).await;
    assert_eq!(done.progress.map(|p| (p.done, p.total)), Some((1, 1)));
    let ran = done.finished_at.unwrap() - done.started_at.unwrap();
    assert!(ran.num_milliseconds() >= 50, "ran {ran}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_default_or_echo_what_was_asked() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let plain = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    assert_eq!(
        (plain.timeout_ms, plain.priority, plain.max_attempts),
        (60_000, 0, 3)
    );
    let body = json!({"kind": "sleep", "params": {"ms": 0}, "timeout_ms": 1234,
                      "priority": -100, "max_attempts": 25});
    let tuned = app.submit_ok(&body).await;
    assert_eq!(
        (tuned.timeout_ms, tuned.priority, tuned.max_attempts),
        (1234, -100, 25)
    );
    assert_eq!(app.job(tuned.id).await.priority, -100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_with_wait_answers_200_with_the_final_job() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = json!({"kind": "factorial", "params": {"numbers": [10]}});
    let resp = app.submit_query("wait_ms=10000", &body).await;
    let location = resp.headers().get("location").cloned();
    let job: Job = json_of(resp, StatusCode::OK).await;
    assert_eq!(
        location.as_ref().and_then(|l| l.to_str().ok()),
        Some(format!("/jobs/{}", job.id).as_str())
    );
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempt, 1);
    assert_eq!(
        job.result.as_ref().map(|r| r.value()),
        Some(json!({"results": [
            {"n": 10, "digits": 7, "trailing_zeros": 2, "leading_digits": "3628800"}
        ]}))
    );
    assert_eq!(app.job(job.id).await, job, "the answer is the stored job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_with_a_short_wait_answers_202_before_the_job_ends() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let asked = Instant::now();
    let resp = app
        .submit_query(
            "wait_ms=100",
            &json!({"kind": "sleep", "params": {"ms": 5000}}),
        )
        .await;
    let answered = asked.elapsed();
    let job: Job = json_of(resp, StatusCode::ACCEPTED).await;
    assert!(
        matches!(job.status, JobStatus::Queued | JobStatus::Running),
        "{job:?}"
    );
    assert_eq!(job.finished_at, None);
    assert!(
        answered >= Duration::from_millis(100) && answered < Duration::from_secs(4),
        "answered after {answered:?}"
    );
    // Not needed by the test; it lets the server shut down without waiting for the sleep.
    assert_eq!(app.cancel(job.id).await.status(), StatusCode::ACCEPTED);
}
