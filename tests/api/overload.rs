//! Backpressure: past the queue cap submissions get 429 with `Retry-After` and nothing is
//! stored for them; past the cap on requests in progress, 503 `overloaded` at once, while the
//! health checks still answer. Once the flood passes, everything accepted finishes and new
//! work is accepted again.

use std::time::{Duration, Instant};

use faena::job::{Job, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem};

const CAP: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_queue_cap_gets_429s_and_every_accepted_job_finishes() {
    let Some(app) = TestApp::spawn_with(|c| {
        c.max_queued_jobs = CAP;
        c.max_io_jobs = 1;
    })
    .await
    else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 20}});
    let answers = futures_util::future::join_all((0..200).map(|_| app.submit(&body))).await;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for resp in answers {
        match resp.status() {
            StatusCode::ACCEPTED => accepted.push(resp.json::<Job>().await.unwrap().id),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(
                    resp.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                let doc = problem(resp, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
                assert!(doc["detail"].as_str().unwrap().contains("limit is 20"), "{doc}");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // The cap is checked against a count refreshed every second plus this instance's own
    // submissions: it holds exactly here (one instance).
    assert_eq!(accepted.len() as u64, CAP, "accepted");
    assert_eq!(refused, 200 - CAP as usize);
    for id in &accepted {
        assert_eq!(app.wait_final(*id).await.status, JobStatus::Succeeded);
    }
    let stored = app.list_ok("limit=1000").await.jobs;
    assert_eq!(stored.len(), accepted.len(), "nothing stored for a 429");
    // Drained: accepted again once the next count sees the empty queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = app.submit(&body).await;
        if resp.status() == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "still refused after the queue drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_cap_get_503_at_once() {
    let Some(app) = TestApp::spawn_with(|c| c.max_concurrent_requests = 2).await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    // Two long-polls hold both slots.
    let polls: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url(&format!("/jobs/{}?wait_ms=2000", job.id)));
            tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let asked = Instant::now();
        let resp = app.client.get(app.url("/jobs")).send().await.unwrap();
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            break (resp, asked.elapsed());
        }
        assert!(Instant::now() < deadline, "never saturated");
        tokio::task::yield_now().await;
    };
    let (resp, took) = refused;
    assert!(took < Duration::from_millis(500), "refused in {took:?}");
    assert_eq!(
        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    problem(resp, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    let health: Value = json_of(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["status"], "ok");
    for poll in polls {
        assert_eq!(poll.await.unwrap(), StatusCode::OK);
    }
    // The slots are free again.
    assert_eq!(app.cancel(job.id).await.status(), StatusCode::ACCEPTED);
}
