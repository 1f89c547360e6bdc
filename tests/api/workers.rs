//! Remote workers over HTTP: jobs of a worker kind (`--worker-kinds`) are never run by the
//! server; a worker claims them (long-polling), renews their leases and completes or fails
//! them, each answer fenced by the claim's lease; the server keeps deadlines and rescues runs
//! whose lease ran out.

use std::time::{Duration, Instant};

use faena::job::{Job, JobErrorCode, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PATIENCE, TestApp, json_of, problem, problem_at};

/// A server with the worker kind `resize`, small back-offs and a short worker lease.
pub(crate) async fn app() -> Option<TestApp> {
    app_with(|c| {
        c.retry_backoff_ms = 1;
        c.worker_lease_ms = 1_000;
        c.heartbeat_ms = Some(100);
    })
    .await
}

/// A server whose sweep of overdue runs comes far later than any test's end: only an answer
/// or a heartbeat finds a deadline passed.
pub(crate) async fn app_without_sweep() -> Option<TestApp> {
    app_with(|c| {
        c.lease_ms = 60_000;
        c.heartbeat_ms = Some(20_000);
    })
    .await
}

/// A server with the worker kind `resize` and the settings `tweak` sets.
pub(crate) async fn app_with(tweak: impl FnOnce(&mut faena::config::Config)) -> Option<TestApp> {
    TestApp::spawn_with(|c| {
        c.worker_kinds = vec!["resize".into()];
        tweak(c);
    })
    .await
}

pub(crate) fn resize(extra: Value) -> Value {
    let mut body = json!({"kind": "resize", "params": {"width": 640, "path": "a.png"}});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

pub(crate) async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .expect("the request is answered")
}

/// Claims with `wait_ms`; the jobs of the answer.
pub(crate) async fn claim(app: &TestApp, max: u32, wait_ms: u64) -> Vec<Value> {
    let body = json!({"worker": "w1", "kinds": ["resize"], "max": max, "wait_ms": wait_ms});
    let answer: Value = json_of(post(app, "/workers/claim", &body).await, StatusCode::OK).await;
    answer["jobs"].as_array().expect("jobs").clone()
}

/// Claims the one job expected to be ready (or to become ready within the patience).
pub(crate) async fn claim_one(app: &TestApp) -> Value {
    let jobs = claim(app, 1, PATIENCE.as_millis() as u64).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0].clone()
}

pub(crate) fn lease(claimed: &Value) -> i64 {
    claimed["lease"].as_i64().expect("a lease")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_claims_a_job_and_its_result_reaches_the_submitter() {
    let Some(app) = app().await else { return };
    let job = app.submit_ok(&resize(json!({"timeout_ms": 60_000}))).await;
    assert_eq!(job.status, JobStatus::Queued);
    // The server never runs it: still queued when nothing claims it.
    let waited = app.get_wait(job.id, 300).await;
    assert_eq!(
        json_of::<Job>(waited, StatusCode::OK).await.status,
        JobStatus::Queued
    );
    let long_poll = {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/jobs/{}?wait_ms=30000", job.id)),
        );
        tokio::spawn(async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Job>()
                .await
                .unwrap()
        })
    };

    let claimed = claim_one(&app).await;
    assert_eq!(claimed["id"], job.id.to_string());
    assert_eq!(claimed["kind"], "resize");
    assert_eq!(claimed["params"], json!({"width": 640, "path": "a.png"}));
    assert_eq!(
        (
            claimed["attempt"].as_u64(),
            claimed["max_attempts"].as_u64()
        ),
        (Some(1), Some(3))
    );
    let running = app.job(job.id).await;
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.instance.as_deref(), Some("worker:w1"));
    let deadline = running.started_at.unwrap() + chrono::Duration::milliseconds(60_000);
    assert_eq!(claimed["deadline_at"], json!(deadline));
    // The same two times as lengths, for a worker whose clock is not the server's: the
    // lease's (the server's --worker-lease-ms) and what is left of the timeout.
    // (The start is recorded just after the claim's instant, so nearly all of the timeout
    // is left; never more.)
    assert_eq!(claimed["lease_ms"], 1_000);
    let left = claimed["deadline_in_ms"].as_u64().unwrap();
    assert!((59_000..=60_000).contains(&left), "{claimed}");

    let path = format!("/jobs/{}", job.id);
    let beat = json!({"lease": lease(&claimed), "progress": {"done": 1, "total": 4}});
    let renewed: Value = json_of(
        post(&app, &format!("{path}/heartbeat"), &beat).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renewed["cancel_requested"], false);
    assert_eq!(
        app.job(job.id).await.progress.map(|p| (p.done, p.total)),
        Some((1, 4))
    );

    let done = json!({"lease": lease(&claimed), "result": {"bytes": 1234}});
    let finished: Job = json_of(
        post(&app, &format!("{path}/complete"), &done).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(finished.status, JobStatus::Succeeded);
    assert_eq!(
        finished.result.as_ref().map(|r| r.value()),
        Some(json!({"bytes": 1234}))
    );
    let seen = long_poll.await.unwrap();
    assert_eq!(seen.status, JobStatus::Succeeded);
    // Answering again changes nothing.
    problem(
        post(&app, &format!("{path}/complete"), &done).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
    problem(
        post(&app, &format!("{path}/heartbeat"), &beat).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
    assert_eq!(app.job(job.id).await, finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_waits_for_a_job_and_takes_several_in_order() {
    // A poll interval far longer than the test: only the wake-up can answer the claim.
    let Some(app) = app_with(|c| {
        c.poll_interval_ms = 60_000;
    })
    .await
    else {
        return;
    };
    let started = Instant::now();
    assert!(claim(&app, 5, 200).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200));

    let waiting = {
        let (client, url) = (app.client.clone(), app.url("/workers/claim"));
        let body = json!({"worker": "w2", "kinds": ["resize"], "max": 1, "wait_ms": 30_000});
        tokio::spawn(async move {
            let started = Instant::now();
            let answer: Value = client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (answer, started.elapsed())
        })
    };
    // Nothing tells when the claim is waiting: give it time to get there (if it has not, it
    // finds the job at its first look, and the test proves less, not something false).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let submitted = Instant::now();
    let job = app.submit_ok(&resize(json!({}))).await;
    let (answer, took) = waiting.await.unwrap();
    assert_eq!(answer["jobs"][0]["id"], job.id.to_string());
    let after = submitted.elapsed();
    assert!(
        after < Duration::from_secs(2),
        "answered {after:?} after the submission"
    );
    assert!(took < Duration::from_secs(10), "the claim waited {took:?}");

    // Priority first, then age.
    let low = app.submit_ok(&resize(json!({"priority": 0}))).await;
    let high = app.submit_ok(&resize(json!({"priority": 5}))).await;
    let later = app.submit_ok(&resize(json!({"priority": 0}))).await;
    let ids: Vec<Value> = claim(&app, 10, 0)
        .await
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    let want: Vec<Value> = [high.id, low.id, later.id]
        .iter()
        .map(|id| json!(id))
        .collect();
    assert_eq!(ids, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_failure_runs_again_and_the_last_one_fails_the_job() {
    let Some(app) = app().await else { return };
    let job = app.submit_ok(&resize(json!({"max_attempts": 2}))).await;
    let path = format!("/jobs/{}/fail", job.id);
    let first = claim_one(&app).await;
    let fail = |l: i64| json!({"lease": l, "code": "ValueError", "message": "boom"});
    let requeued: Job = json_of(
        post(&app, &path, &fail(lease(&first))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((requeued.status, requeued.attempt), (JobStatus::Queued, 1));

    let second = claim_one(&app).await;
    assert_eq!(second["attempt"], 2);
    problem(
        post(&app, &path, &fail(lease(&first))).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
    let failed: Job = json_of(
        post(&app, &path, &fail(lease(&second))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((failed.status, failed.attempt), (JobStatus::Failed, 2));
    let error = failed.error.expect("an error");
    assert_eq!(error.code, JobErrorCode::WorkerFailed);
    assert_eq!(error.message, "ValueError: boom");

    // Not retryable: failed at the first attempt.
    let once = app.submit_ok(&resize(json!({}))).await;
    let claimed = claim_one(&app).await;
    let body =
        json!({"lease": lease(&claimed), "code": "BadImage", "message": "no", "retryable": false});
    let failed: Job = json_of(
        post(&app, &format!("/jobs/{}/fail", once.id), &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((failed.status, failed.attempt), (JobStatus::Failed, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_reaches_the_worker_at_its_next_heartbeat() {
    let Some(app) = app().await else { return };
    let job = app.submit_ok(&resize(json!({}))).await;
    let claimed = claim_one(&app).await;
    // Answered at once, the job still running: the server cannot stop a worker's run, it
    // tells the worker (a local run's cancel waits up to 1 s for the run to stop).
    let asked = Instant::now();
    let cancel = app.cancel(job.id).await;
    let answered_in = asked.elapsed();
    let running: Job = json_of(cancel, StatusCode::ACCEPTED).await;
    assert_eq!(running.status, JobStatus::Running);
    assert!(answered_in < Duration::from_millis(900), "{answered_in:?}");
    let beat = json!({"lease": lease(&claimed)});
    let path = format!("/jobs/{}", job.id);
    let renewed: Value = json_of(
        post(&app, &format!("{path}/heartbeat"), &beat).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renewed["cancel_requested"], true);
    let body = json!({"lease": lease(&claimed), "code": "Cancelled", "message": "stopped"});
    let ended: Job = json_of(
        post(&app, &format!("{path}/fail"), &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended.status, JobStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_deadline_the_job_times_out_and_the_late_answer_is_refused() {
    let Some(app) = app_without_sweep().await else {
        return;
    };
    let job = app.submit_ok(&resize(json!({"timeout_ms": 200}))).await;
    let claimed = claim_one(&app).await;
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(claimed["deadline_at"].clone()).unwrap();
    let left = (deadline - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(20)).await;
    let done = json!({"lease": lease(&claimed), "result": 1});
    let path = format!("/jobs/{}/complete", job.id);
    problem(
        post(&app, &path, &done).await,
        StatusCode::CONFLICT,
        "deadline_passed",
    )
    .await;
    let timed_out = app.job(job.id).await;
    assert_eq!(timed_out.status, JobStatus::TimedOut);
    assert_eq!(
        timed_out.error.map(|e| e.code),
        Some(JobErrorCode::TimedOut)
    );
    problem(
        post(&app, &path, &done).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_runs_out_is_rescued_and_claimed_again() {
    let Some(app) = app().await else { return };
    let job = app.submit_ok(&resize(json!({}))).await;
    let first = claim_one(&app).await;
    // No heartbeat: after the lease (1 s) the rescuer queues the job again.
    let second = claim_one(&app).await;
    assert_eq!(second["id"], job.id.to_string());
    assert_eq!(second["attempt"], 2);
    let done = |l: i64| json!({"lease": l, "result": "ok"});
    let path = format!("/jobs/{}/complete", job.id);
    problem(
        post(&app, &path, &done(lease(&first))).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
    let finished: Job = json_of(
        post(&app, &path, &done(lease(&second))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (finished.status, finished.attempt),
        (JobStatus::Succeeded, 2)
    );
    assert_eq!(
        finished.errors.len(),
        1,
        "the interrupted attempt: {finished:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_claims_and_answers_are_refused_with_their_field() {
    let Some(app) = app().await else { return };
    for (body, field) in [
        (json!({"worker": "w", "kinds": ["sleep"]}), "kinds[0]"),
        (json!({"worker": "w", "kinds": ["nope"]}), "kinds[0]"),
        (json!({"worker": "w", "kinds": []}), "kinds"),
        (json!({"worker": "", "kinds": ["resize"]}), "worker"),
        (json!({"worker": "w", "kinds": ["resize"], "max": 0}), "max"),
        (
            json!({"worker": "w", "kinds": ["resize"], "wait_ms": 60_001}),
            "wait_ms",
        ),
        (
            json!({"worker": "w", "kinds": ["resize"], "extra": 1}),
            "extra",
        ),
    ] {
        let resp = post(&app, "/workers/claim", &body).await;
        problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            field,
        )
        .await;
    }
    let job = app.submit_ok(&resize(json!({}))).await;
    let claimed = claim_one(&app).await;
    let path = format!("/jobs/{}/fail", job.id);
    let bad = json!({"lease": lease(&claimed), "code": "no spaces", "message": "x"});
    problem_at(
        post(&app, &path, &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "code",
    )
    .await;
    let beat = json!({"lease": lease(&claimed), "progress": {"done": 5, "total": 4}});
    let resp = post(&app, &format!("/jobs/{}/heartbeat", job.id), &beat).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "progress.done",
    )
    .await;
    let bad = json!({"lease": lease(&claimed), "code": "E", "message": "a\0b"});
    problem_at(
        post(&app, &path, &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "message",
    )
    .await;
    let beat = json!({"lease": lease(&claimed), "progress": {"done": 1, "total": u64::MAX}});
    let resp = post(&app, &format!("/jobs/{}/heartbeat", job.id), &beat).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        "progress.total",
    )
    .await;
    // A worker kind's parameters are an object.
    let resp = app
        .submit(&json!({"kind": "resize", "params": [1, 2]}))
        .await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_params",
        "params",
    )
    .await;
    // Nothing of the above changed the job.
    assert_eq!(app.job(job.id).await.status, JobStatus::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_keys_reach_only_the_workers_routes_and_submit_keys_never_do() {
    const SUBMIT: &str = "submit-key-0123456789";
    const OTHER: &str = "other-submit-key-0123456789";
    const WORKER: &str = "worker-key-0123456789";
    let Some(app) = app_with(|c| {
        c.api_keys = vec![SUBMIT.into(), OTHER.into()];
        c.worker_api_keys = vec![WORKER.into()];
    })
    .await
    else {
        return;
    };
    let call = |method: reqwest::Method, path: &str, key: &str, body: Option<Value>| {
        let req = app.client.request(method, app.url(path)).bearer_auth(key);
        let req = match body {
            Some(body) => req.json(&body),
            None => req,
        };
        async move { req.send().await.expect("answered") }
    };
    use reqwest::Method;
    let created = call(Method::POST, "/jobs", SUBMIT, Some(resize(json!({})))).await;
    let job: Job = json_of(created, StatusCode::ACCEPTED).await;
    let claim_body = json!({"worker": "w", "kinds": ["resize"], "max": 10});

    // A submit key: none of the workers' routes.
    for key in [SUBMIT, OTHER] {
        let resp = call(
            Method::POST,
            "/workers/claim",
            key,
            Some(claim_body.clone()),
        )
        .await;
        problem(resp, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let path = format!("/jobs/{}", job.id);
    let beat = json!({"lease": 1});
    problem(
        call(
            Method::POST,
            &format!("{path}/heartbeat"),
            SUBMIT,
            Some(beat),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // A worker key: claims the job of any tenant, and nothing but the workers' routes.
    let claimed: Value = json_of(
        call(Method::POST, "/workers/claim", WORKER, Some(claim_body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(claimed["jobs"][0]["id"], job.id.to_string());
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::GET, "/jobs".to_string()),
        (Method::POST, format!("{path}/cancel")),
        (Method::GET, "/metrics".to_string()),
        (Method::GET, "/kinds".to_string()),
    ] {
        problem(
            call(method, &path, WORKER, None).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let created = call(Method::POST, "/jobs", WORKER, Some(resize(json!({})))).await;
    problem(created, StatusCode::FORBIDDEN, "forbidden").await;
    let done = json!({"lease": claimed["jobs"][0]["lease"], "result": {"ok": true}});
    let finished: Job = json_of(
        call(
            Method::POST,
            &format!("{path}/complete"),
            WORKER,
            Some(done),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(finished.status, JobStatus::Succeeded);

    // The submitter sees its result; another tenant still does not see the job.
    let seen: Job = json_of(call(Method::GET, &path, SUBMIT, None).await, StatusCode::OK).await;
    assert_eq!(seen.result.map(|r| r.value()), Some(json!({"ok": true})));
    problem(
        call(Method::GET, &path, OTHER, None).await,
        StatusCode::NOT_FOUND,
        "job_not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_goes_silent_past_the_deadline_has_its_job_timed_out() {
    // A lease far longer than the deadline: the server times the job out at its deadline,
    // not when the lease runs out.
    let Some(app) = app_with(|c| {
        c.worker_lease_ms = 60_000;
        c.heartbeat_ms = Some(100);
    })
    .await
    else {
        return;
    };
    let job = app.submit_ok(&resize(json!({"timeout_ms": 300}))).await;
    let claimed = claim_one(&app).await;
    let ended = app.wait_final(job.id).await;
    assert_eq!(ended.status, JobStatus::TimedOut);
    assert_eq!(
        ended.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::TimedOut)
    );
    let took = ended.finished_at.unwrap() - ended.started_at.unwrap();
    assert!(
        took < chrono::Duration::seconds(10),
        "timed out after {took}"
    );
    let done = json!({"lease": lease(&claimed), "result": 1});
    let path = format!("/jobs/{}/complete", job.id);
    problem(
        post(&app, &path, &done).await,
        StatusCode::CONFLICT,
        "stale_lease",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_routes_never_touch_the_servers_own_runs() {
    let Some(app) = app().await else { return };
    let local = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    let running = app.wait_running(local.id).await;
    // Whatever lease a caller tries, the server's own run is not a worker's to answer for.
    let path = format!("/jobs/{}", local.id);
    for fence in 0..4 {
        let beat = json!({"lease": fence});
        problem(
            post(&app, &format!("{path}/heartbeat"), &beat).await,
            StatusCode::CONFLICT,
            "stale_lease",
        )
        .await;
        let done = json!({"lease": fence, "result": "forged"});
        problem(
            post(&app, &format!("{path}/complete"), &done).await,
            StatusCode::CONFLICT,
            "stale_lease",
        )
        .await;
        let fail = json!({"lease": fence, "code": "E", "message": "forged", "retryable": false});
        problem(
            post(&app, &format!("{path}/fail"), &fail).await,
            StatusCode::CONFLICT,
            "stale_lease",
        )
        .await;
    }
    let still = app.job(local.id).await;
    assert_eq!(
        (still.status, still.attempt, still.result),
        (JobStatus::Running, running.attempt, None)
    );
    assert_eq!(app.cancel(local.id).await.status(), StatusCode::ACCEPTED);
}
