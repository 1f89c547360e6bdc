//! `POST /jobs/batch`: every item checked as `POST /jobs` checks its body, a result per item in
//! order, the valid items stored together (and run), the refused ones not stored at all; a
//! batch that does not fit in the queue, or is not a batch, stores nothing.

use faena::job::{Job, JobErrorCode, JobId, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem, problem_at};

impl TestApp {
    /// `POST /jobs/batch` with a JSON body.
    pub async fn submit_batch(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/jobs/batch"))
            .json(body)
            .send()
            .await
            .expect("POST /jobs/batch answers")
    }

    /// The number of jobs stored (every status).
    async fn stored(&self) -> usize {
        self.list_ok("limit=1000").await.jobs.len()
    }
}

/// Primes below `n`, by trial division.
fn naive_primes_below(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// The job of an item that must have been stored with `status` (HTTP), as it is now.
async fn item_job(app: &TestApp, item: &Value, status: u16) -> Job {
    assert_eq!(item["status"], status, "{item}");
    assert!(item.get("problem").is_none(), "{item}");
    let id: JobId = serde_json::from_value(item["job"]["id"].clone()).expect("an id");
    let job = app.job(id).await;
    let expected = if status == 202 { "queued" } else { "failed" };
    assert_eq!(item["job"]["status"], expected, "{item}");
    job
}

/// The problem of an item that must have been refused.
fn item_problem(item: &Value, status: u16, code: &str, field: &str) {
    assert_eq!(item["status"], status, "{item}");
    assert!(item.get("job").is_none(), "{item}");
    let p = &item["problem"];
    assert_eq!(
        (&p["code"], &p["status"], &p["field"]),
        (&json!(code), &json!(status), &json!(field)),
        "{item}"
    );
    assert_eq!(p["type"], format!("urn:faena:problem:{code}"), "{item}");
}

#[tokio::test]
async fn each_item_gets_its_result_and_only_the_valid_ones_are_stored_and_run() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // A dependency that did not succeed: its dependents in the batch are failed at once.
    let failing = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    assert_eq!(app.cancel(failing.id).await.status(), StatusCode::ACCEPTED);
    let failing = app.wait_final(failing.id).await;
    let unknown = JobId::new();
    let body = json!({"jobs": [
        {"kind": "count_primes", "params": {"start": 0, "end": 10_000}},
        {"kind": "no_such_kind"},
        {"kind": "factorial", "params": {"numbers": [10, 20]}},
        {"kind": "count_primes", "params": {"start": 10, "end": 5}},
        {"kind": "sleep", "params": {"ms": 1}, "depends_on": [unknown]},
        {"kind": "sleep", "params": {"ms": 1}, "depends_on": [failing.id]},
        {"kind": "sleep", "params": {"ms": 1}, "priority": 500},
        {"kind": "count_primes", "params": {"start": 1000, "end": 2000}},
    ]});
    let answer: Value = json_of(app.submit_batch(&body).await, StatusCode::OK).await;
    let items = answer["items"].as_array().expect("items");
    assert_eq!(items.len(), 8, "{answer}");
    item_problem(&items[1], 422, "unknown_kind", "jobs[1].kind");
    item_problem(&items[3], 422, "invalid_params", "jobs[3].params.end");
    item_problem(&items[4], 422, "unknown_dependency", "jobs[4].depends_on");
    item_problem(&items[6], 422, "invalid_field", "jobs[6].priority");
    let dependent = item_job(&app, &items[5], 200).await;
    let error = dependent.error.as_ref().expect("an error");
    assert_eq!(
        (dependent.status, error.code),
        (JobStatus::Failed, JobErrorCode::DependencyFailed)
    );
    assert_eq!(items[5]["job"]["error"]["code"], "dependency_failed");
    assert_eq!(dependent.started_at, None);
    assert_eq!(failing.status, JobStatus::Cancelled);
    assert_eq!(
        (&answer["accepted"], &answer["rejected"]),
        (&json!(4), &json!(4))
    );

    let mut queued = Vec::new();
    for i in [0, 2, 7] {
        queued.push(item_job(&app, &items[i], 202).await);
    }
    let ends: Vec<Job> =
        futures_util::future::join_all(queued.iter().map(|j| app.wait_final(j.id))).await;
    for job in &ends {
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    }
    let count = |job: &Job| job.result.as_ref().map(|r| r.value()["count"].clone());
    assert_eq!(count(&ends[0]), Some(json!(naive_primes_below(10_000))));
    assert_eq!(
        count(&ends[2]),
        Some(json!(naive_primes_below(2000) - naive_primes_below(1000)))
    );
    let digits = ends[1].result.as_ref().unwrap().value();
    // 10! = 3628800, 20! = 2432902008176640000.
    assert_eq!(digits["results"][0]["digits"], 7, "{digits}");
    assert_eq!(digits["results"][1]["digits"], 19, "{digits}");
    // The first job, the four accepted ones; none of the refused.
    assert_eq!(app.stored().await, 5);
}

#[tokio::test]
async fn a_thousand_jobs_in_one_request_all_run() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let jobs: Vec<Value> = (0..1000)
        .map(
            |i| json!({"kind": "count_primes", "params": {"start": i * 100, "end": (i + 1) * 100}}),
        )
        .collect();
    let answer: Value = json_of(
        app.submit_batch(&json!({"jobs": jobs})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&answer["accepted"], &answer["rejected"]),
        (&json!(1000), &json!(0))
    );
    let mut total = 0;
    for item in answer["items"].as_array().unwrap() {
        assert_eq!(
            (&item["status"], &item["job"]["status"]),
            (&json!(202), &json!("queued"))
        );
        let id: JobId = serde_json::from_value(item["job"]["id"].clone()).unwrap();
        let job = app.wait_final(id).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
        total += job.result.unwrap().value()["count"].as_u64().unwrap();
    }
    // The ranges tile [0, 100000): π(10^5) = 9592.
    assert_eq!(total, naive_primes_below(100_000));
}

#[tokio::test]
async fn what_is_not_a_batch_is_refused_whole() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let one = json!({"kind": "sleep", "params": {"ms": 0}});
    let cases = [
        (json!([one]), "jobs"),
        (json!({"jobs": []}), "jobs"),
        (json!({"jobs": one}), "jobs"),
        (json!({"jobs": vec![one.clone(); 1001]}), "jobs"),
        (json!({"jobs": [one], "wait_ms": 10}), "wait_ms"),
        (json!({"jobs": [one, [null], one]}), "jobs[1]"),
    ];
    for (body, field) in cases {
        let resp = app.submit_batch(&body).await;
        problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            field,
        )
        .await;
    }
    let resp = app
        .client
        .post(app.url("/jobs/batch"))
        .header("content-type", "application/json")
        .body("{\"jobs\": [")
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::BAD_REQUEST, "malformed_json").await;
    let resp = app
        .client
        .post(app.url("/jobs/batch"))
        .header("idempotency-key", "k1")
        .json(&json!({"jobs": [one]}))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::BAD_REQUEST, "invalid_header").await;
    assert_eq!(app.stored().await, 0);
}

#[tokio::test]
async fn a_batch_that_does_not_fit_in_the_queue_stores_nothing() {
    let Some(app) = TestApp::spawn_with(|c| c.max_queued_jobs = 20).await else {
        return;
    };
    // Held back, so that none leaves the queue while the test counts.
    let due = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
    let job = json!({"kind": "sleep", "params": {"ms": 0}, "run_after": due});
    let resp = app
        .submit_batch(&json!({"jobs": vec![job.clone(); 21]}))
        .await;
    let doc = problem(resp, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
    assert!(
        doc["detail"].as_str().unwrap().contains("limit is 20"),
        "{doc}"
    );
    assert_eq!(app.stored().await, 0);
    let answer: Value = json_of(
        app.submit_batch(&json!({"jobs": vec![job.clone(); 20]}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(answer["accepted"], 20);
    let resp = app.submit_batch(&json!({"jobs": [job]})).await;
    problem(resp, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
    assert_eq!(app.stored().await, 20);
}
