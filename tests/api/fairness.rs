//! Fair claiming between tenants: a key that queued 50,000 jobs does not hold back another
//! key's one; that job starts within a second, while most of the backlog is still queued
//! (claims took the oldest first before: it waited for the whole backlog).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

const ALICE: &str = "alice-key-0123456789";
const BOB: &str = "bob-key-0123456789ab";
const BACKLOG: usize = 50_000;

fn time(job: &Value, field: &str) -> DateTime<Utc> {
    job[field].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_backlog_does_not_hold_back_anothers_job() {
    let Some(app) = TestApp::spawn_alone_with(|c| {
        c.api_keys = vec![ALICE.into(), BOB.into()];
        c.max_queued_jobs = 0;
        c.max_io_jobs = 64;
    })
    .await
    else {
        return;
    };
    // Alice's backlog: 100 ms each, 64 at a time: over a minute of work.
    let jobs: Vec<Value> = (0..1_000)
        .map(|_| json!({"kind": "sleep", "params": {"ms": 100}}))
        .collect();
    let body = json!({ "jobs": jobs });
    for _ in 0..BACKLOG / 1_000 {
        let resp = app
            .client
            .post(app.url("/jobs/batch"))
            .bearer_auth(ALICE)
            .json(&body);
        json_of::<Value>(resp.send().await.unwrap(), StatusCode::OK).await;
    }
    let resp = app.client.post(app.url("/jobs")).bearer_auth(BOB);
    let resp = resp
        .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .send()
        .await;
    let job: Value = json_of(resp.unwrap(), StatusCode::ACCEPTED).await;
    let id = job["id"].as_str().unwrap();
    let path = format!("/jobs/{id}?wait_ms=30000");
    let job: Value = loop {
        let resp = app
            .client
            .get(app.url(&path))
            .bearer_auth(BOB)
            .send()
            .await
            .unwrap();
        let job: Value = json_of(resp, StatusCode::OK).await;
        if job["status"] != "queued" && job["status"] != "running" {
            break job;
        }
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    let waited = (time(&job, "started_at") - time(&job, "created_at"))
        .to_std()
        .unwrap();
    assert!(
        waited < Duration::from_secs(1),
        "Bob's job waited {waited:?}"
    );
    // Meanwhile most of Alice's backlog is still queued.
    let resp = app
        .client
        .get(app.url("/jobs?status=queued&limit=1"))
        .bearer_auth(ALICE);
    let page: Value = json_of(resp.send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    println!("Bob's job waited {waited:?} beside a backlog of {BACKLOG}");
}
