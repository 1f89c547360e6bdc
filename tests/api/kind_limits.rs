//! `--kind-concurrency`: jobs of a limited kind past its limit wait queued, start in their
//! order (priority first) as running ones end, and jobs of other kinds are not held back.
//! `GET /limits` lists the limits in force. (Three instances sharing one limit:
//! tests/cluster.rs.)

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

fn time(job: &Value, field: &str) -> DateTime<Utc> {
    job[field].as_str().unwrap().parse().unwrap()
}

async fn submit(app: &TestApp, body: Value) -> String {
    let job: Value = json_of(app.submit(&body).await, StatusCode::ACCEPTED).await;
    job["id"].as_str().unwrap().to_string()
}

async fn final_job(app: &TestApp, id: &str) -> Value {
    loop {
        let job: Value = json_of(app.get_wait(id, 10_000).await, StatusCode::OK).await;
        if job["status"] != "queued" && job["status"] != "running" {
            return job;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_kind_runs_at_most_its_limit_and_in_order() {
    let Some(app) = TestApp::spawn_with(|c| c.kind_concurrency = vec![("sleep".into(), 2)]).await
    else {
        return;
    };
    let limits: Value = json_of(
        app.call(reqwest::Method::GET, "/limits").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(limits["kind_concurrency"], json!({"sleep": 2}), "{limits}");
    // One request, so that the backlog forms whatever the machine's speed.
    let jobs: Vec<Value> = (0..12)
        .map(|_| json!({"kind": "sleep", "params": {"ms": 200}}))
        .collect();
    let resp = app
        .client
        .post(app.url("/jobs/batch"))
        .json(&json!({ "jobs": jobs }));
    let batch: Value = json_of(resp.send().await.unwrap(), StatusCode::OK).await;
    let mut ids: Vec<String> = (batch["items"].as_array().unwrap().iter())
        .map(|item| item["job"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 12, "{batch}");
    // Queued behind the limit: a later job of higher priority goes first. Another kind is not
    // held back.
    let low = submit(
        &app,
        json!({"kind": "sleep", "params": {"ms": 0}, "priority": -5}),
    )
    .await;
    let high = submit(
        &app,
        json!({"kind": "sleep", "params": {"ms": 0}, "priority": 5}),
    )
    .await;
    let other = submit(
        &app,
        json!({"kind": "factorial", "params": {"numbers": [10]}}),
    )
    .await;
    let other = final_job(&app, &other).await;
    assert_eq!(other["status"], "succeeded");
    ids.extend([low.clone(), high.clone()]);
    let mut runs = Vec::new();
    for id in &ids {
        let job = final_job(&app, id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        runs.push((time(&job, "started_at"), time(&job, "finished_at")));
    }
    // At any start, at most one other run is under way.
    for &(start, _) in &runs {
        let under_way = runs
            .iter()
            .filter(|&&(s, f)| s <= start && start < f)
            .count();
        assert!(under_way <= 2, "{under_way} running at {start}");
    }
    let (low, high) = (final_job(&app, &low).await, final_job(&app, &high).await);
    assert!(
        time(&high, "started_at") <= time(&low, "started_at"),
        "{high}\n{low}"
    );
    // The factorial did not wait for the sleeps (six rounds of 200 ms).
    let last_start = runs.iter().map(|r| r.0).max().unwrap();
    assert!(time(&other, "finished_at") < last_start, "{other}");
}
