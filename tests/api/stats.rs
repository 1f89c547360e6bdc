//! `GET /stats` and `GET /limits`: exact counts by status and kind, ended jobs in the
//! throughput window, per API key; the limits as configured.

use std::time::Duration;

use faena::job::Job;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem_at};

async fn stats(app: &TestApp, key: Option<&str>) -> Value {
    let mut req = app.client.get(app.url("/stats"));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    json_of(req.send().await.unwrap(), StatusCode::OK).await
}

/// The stats once `ready` holds (answers are reused for a second or so).
async fn stats_when(app: &TestApp, key: Option<&str>, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = stats(app, key).await;
        if ready(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stats never got there: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_every_job_exactly() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let empty = stats(&app, None).await;
    assert_eq!(
        empty["counts"],
        json!({"queued": 0, "running": 0, "succeeded": 0,
        "failed": 0, "cancelled": 0, "timed_out": 0})
    );
    assert_eq!(empty["kinds"].as_object().unwrap().len(), 5);
    assert_eq!(empty["throughput"]["bucket_secs"], 10);
    assert_eq!(
        empty["throughput"]["finished"].as_array().unwrap().len(),
        90
    );

    let submit = |body: Value| {
        let app = &app;
        async move { app.submit_ok(&body).await }
    };
    let mut ended: Vec<Job> = Vec::new();
    for _ in 0..2 {
        ended.push(submit(json!({"kind": "sleep", "params": {"ms": 0}})).await);
    }
    ended.push(submit(json!({"kind": "sleep", "params": {"ms": 60000}, "timeout_ms": 10})).await);
    ended.push(submit(json!({"kind": "count_primes", "params": {"start": 0, "end": 1000}})).await);
    let running = submit(json!({"kind": "sleep", "params": {"ms": 60000}})).await;
    let due = (chrono::Utc::now() + chrono::Duration::days(300)).to_rfc3339();
    let later = submit(json!({"kind": "factorial", "params": {"numbers": [5]},
                             "run_after": due}))
    .await;
    for job in &ended {
        app.wait_final(job.id).await;
    }
    app.wait_running(running.id).await;

    let want = json!({"queued": 1, "running": 1, "succeeded": 3, "failed": 0,
                      "cancelled": 0, "timed_out": 1});
    let s = stats_when(&app, None, |s| s["counts"] == want).await;
    assert_eq!(
        (s["queue_depth"].as_u64(), s["running"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        s["kinds"]["sleep"],
        json!({"queued": 0, "running": 1, "succeeded": 2,
        "failed": 0, "cancelled": 0, "timed_out": 1})
    );
    assert_eq!(s["kinds"]["count_primes"]["succeeded"], 1);
    assert_eq!(s["kinds"]["factorial"]["queued"], 1);
    let sum = |k: &str| -> u64 {
        s["throughput"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!((sum("finished"), sum("failed")), (4, 1));
    let since: chrono::DateTime<chrono::Utc> =
        s["throughput"]["since"].as_str().unwrap().parse().unwrap();
    let at: chrono::DateTime<chrono::Utc> = s["at"].as_str().unwrap().parse().unwrap();
    let window = at - since;
    assert!(window >= chrono::Duration::seconds(890) && window < chrono::Duration::seconds(900));

    app.cancel(running.id).await;
    app.cancel(later.id).await;
    stats_when(&app, None, |s| {
        s["counts"]["cancelled"] == 2 && s["counts"]["queued"] == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_counts_its_own_jobs() {
    const ALICE: &str = "alice-key-0123456789";
    const BOB: &str = "bob-key-0123456789ab";
    let Some(app) = TestApp::spawn_with(|c| c.api_keys = vec![ALICE.into(), BOB.into()]).await
    else {
        return;
    };
    let resp = app.client.get(app.url("/stats")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    for (key, n) in [(ALICE, 1), (BOB, 2)] {
        for _ in 0..n {
            let resp = app
                .client
                .post(app.url("/jobs"))
                .bearer_auth(key)
                .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
                .send()
                .await
                .unwrap();
            let job: Job = json_of(resp, StatusCode::ACCEPTED).await;
            app.client
                .get(app.url(&format!("/jobs/{}?wait_ms=10000", job.id)))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
        }
    }
    stats_when(&app, Some(ALICE), |s| s["counts"]["succeeded"] == 1).await;
    stats_when(&app, Some(BOB), |s| s["counts"]["succeeded"] == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_the_configured_ones() {
    let Some(app) = TestApp::spawn_with(|c| {
        c.kinds = vec!["sleep".into(), "fetch_urls".into()];
        c.max_fetch_urls = 17;
    })
    .await
    else {
        return;
    };
    let resp = app.client.get(app.url("/limits")).send().await.unwrap();
    let limits: Value = json_of(resp, StatusCode::OK).await;
    assert_eq!(limits["kinds"], json!(["sleep", "fetch_urls"]));
    let kinds = limits["kind_limits"].as_object().unwrap();
    assert_eq!(kinds.keys().collect::<Vec<_>>(), ["fetch_urls", "sleep"]);
    assert_eq!(limits["kind_limits"]["fetch_urls"]["max_urls"], 17);
    assert_eq!(limits["min_priority"], -100);
    assert_eq!(limits["max_max_attempts"], 25);
    // The same bounds refuse a submission.
    let max = limits["kind_limits"]["sleep"]["max_ms"].as_u64().unwrap();
    let resp = app
        .submit(&json!({"kind": "sleep", "params": {"ms": max + 1}}))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let urls: Vec<String> = (0..18).map(|i| format!("http://127.0.0.1:9/{i}")).collect();
    let resp = app
        .submit(&json!({"kind": "fetch_urls", "params": {"urls": urls}}))
        .await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_params",
        "params.urls",
    )
    .await;
    let resp = app
        .submit(&json!({"kind": "factorial", "params": {"numbers": [1]}}))
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
