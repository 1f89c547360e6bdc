//! Tenant quotas: with API keys, one key's share of the queue (`--tenant-max-queued`), its
//! submission rate (`--tenant-rate`) and its event streams (`--tenant-max-streams`). Past
//! them its requests get 429 with a stable code and `Retry-After`; another key is not held
//! back, and nothing refused is stored.

use std::time::{Duration, Instant};

use faena::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem};

const ALICE: &str = "alice-key-0123456789";
const BOB: &str = "bob-key-0123456789ab";
const CAROL: &str = "carol-key-0123456789";

async fn app(tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::spawn_with(|c| {
        c.api_keys = vec![ALICE.into(), BOB.into(), CAROL.into()];
        tweak(c);
    })
    .await
}

/// A job that stays queued for an hour.
fn later() -> Value {
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    json!({"kind": "sleep", "params": {"ms": 0}, "run_after": at.to_rfc3339()})
}

async fn submit(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    (app.client
        .post(app.url("/jobs"))
        .bearer_auth(key)
        .json(body))
    .send()
    .await
    .unwrap()
}

async fn batch(app: &TestApp, key: &str, n: usize) -> reqwest::Response {
    let jobs: Vec<Value> = (0..n).map(|_| later()).collect();
    (app.client.post(app.url("/jobs/batch")).bearer_auth(key))
        .json(&json!({ "jobs": jobs }))
        .send()
        .await
        .unwrap()
}

/// How many jobs `key` sees.
async fn count(app: &TestApp, key: &str) -> usize {
    let resp = (app.client.get(app.url("/jobs?limit=100")).bearer_auth(key))
        .send()
        .await
        .unwrap();
    let page: Value = json_of(resp, StatusCode::OK).await;
    page["jobs"].as_array().unwrap().len()
}

/// Opens an event stream (its response, headers read).
async fn open(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    let req = app.client.get(app.url(path)).bearer_auth(key);
    req.send().await.unwrap()
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    let value = resp.headers().get("retry-after")?;
    value.to_str().ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_share_of_the_queue_is_refused_and_others_are_not() {
    let Some(app) = app(|c| c.tenant_max_queued = 3).await else {
        return;
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job: Value = json_of(submit(&app, ALICE, &later()).await, StatusCode::ACCEPTED).await;
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    let refused = submit(&app, ALICE, &later()).await;
    assert_eq!(retry_after(&refused), Some(1));
    let body = problem(refused, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
    assert!(
        body["detail"].as_str().unwrap().contains("this API key"),
        "{body}"
    );
    // A batch is all or nothing.
    problem(
        batch(&app, ALICE, 1).await,
        StatusCode::TOO_MANY_REQUESTS,
        "queue_full",
    )
    .await;
    // Bob has a share of his own.
    json_of::<Value>(batch(&app, BOB, 3).await, StatusCode::OK).await;
    problem(
        batch(&app, BOB, 1).await,
        StatusCode::TOO_MANY_REQUESTS,
        "queue_full",
    )
    .await;
    assert_eq!((count(&app, ALICE).await, count(&app, BOB).await), (3, 3));
    // A job of Alice's leaves the queue: once counted again (every second), she may submit.
    let cancel = app
        .client
        .post(app.url(&format!("/jobs/{}/cancel", ids[0])));
    assert!(
        cancel
            .bearer_auth(ALICE)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let started = Instant::now();
    loop {
        let resp = submit(&app, ALICE, &later()).await;
        if resp.status() == StatusCode::ACCEPTED {
            break;
        }
        problem(resp, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never counted again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    problem(
        submit(&app, ALICE, &later()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "queue_full",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_rate_is_told_when_to_come_back_and_others_are_not() {
    let rate = "5/1m".parse().unwrap();
    let Some(app) = app(|c| c.tenant_rate = Some(rate)).await else {
        return;
    };
    for _ in 0..5 {
        json_of::<Value>(submit(&app, ALICE, &later()).await, StatusCode::ACCEPTED).await;
    }
    let refused = submit(&app, ALICE, &later()).await;
    // One job per 12 s: the next passes 12 s after the burst.
    let wait = retry_after(&refused).expect("Retry-After");
    assert!((11..=12).contains(&wait), "Retry-After: {wait}");
    let body = problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("5 jobs per 60000 ms"),
        "{body}"
    );
    problem(
        batch(&app, ALICE, 2).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Bob's rate is his own; a batch that a window can never hold is refused for good.
    json_of::<Value>(batch(&app, BOB, 5).await, StatusCode::OK).await;
    let never = batch(&app, CAROL, 6).await;
    assert_eq!(retry_after(&never), None);
    let body = problem(never, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        body["detail"].as_str().unwrap().contains("never passes"),
        "{body}"
    );
    // Nothing refused was stored, and the refusals cost Carol none of her rate.
    assert_eq!((count(&app, ALICE).await, count(&app, BOB).await), (5, 5));
    assert_eq!(count(&app, CAROL).await, 0);
    json_of::<Value>(batch(&app, CAROL, 5).await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_streams_is_refused_and_others_are_not() {
    let Some(app) = app(|c| c.tenant_max_streams = 2).await else {
        return;
    };
    let job: Value = json_of(submit(&app, ALICE, &later()).await, StatusCode::ACCEPTED).await;
    let one_job = &format!("/jobs/{}/events", job["id"].as_str().unwrap());
    let first = open(&app, ALICE, "/events").await;
    let second = open(&app, ALICE, one_job).await;
    assert_eq!(
        (first.status(), second.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let third = open(&app, ALICE, "/events").await;
    assert_eq!(retry_after(&third), Some(5));
    problem(third, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    let fourth = open(&app, ALICE, one_job).await;
    problem(fourth, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    assert_eq!(open(&app, BOB, "/events").await.status(), StatusCode::OK);
}
