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
    // Held back for a moment, so that none drains while the flood lasts.
    let due = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let body = json!({"kind": "sleep", "params": {"ms": 20}, "run_after": due});
    let answers = futures_util::future::join_all((0..200).map(|_| app.submit(&body))).await;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for resp in answers {
        match resp.status() {
            StatusCode::ACCEPTED => accepted.push(resp.json::<Job>().await.unwrap().id),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                let doc = problem(resp, StatusCode::TOO_MANY_REQUESTS, "queue_full").await;
                assert!(
                    doc["detail"].as_str().unwrap().contains("limit is 20"),
                    "{doc}"
                );
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Admission is atomic against a count refreshed every second, which counts inserts in
    // flight twice rather than not at all: never more than the cap, a little less at worst.
    let n = accepted.len() as u64;
    assert!((CAP - 4..=CAP).contains(&n), "accepted {n}, cap {CAP}");
    assert_eq!(refused, 200 - accepted.len());
    for id in &accepted {
        assert_eq!(app.wait_final(*id).await.status, JobStatus::Succeeded);
    }
    let stored = app.list_ok("limit=1000").await.jobs;
    assert_eq!(stored.len(), accepted.len(), "nothing stored for a 429");
    // Drained: accepted again once the next count sees the empty queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = json!({"kind": "sleep", "params": {"ms": 20}});
    loop {
        let resp = app.submit(&body).await;
        if resp.status() == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            Instant::now() < deadline,
            "still refused after the queue drained"
        );
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
    // Eight long-polls at once: two take the slots and hold them, six are refused at once.
    let url = app.url(&format!("/jobs/{}?wait_ms=1500", job.id));
    let (tx, mut refusals) = tokio::sync::mpsc::unbounded_channel();
    let polls: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, tx) = (app.client.clone(), url.clone(), tx.clone());
            tokio::spawn(async move {
                let asked = Instant::now();
                let resp = client.get(url).send().await.unwrap();
                let status = resp.status();
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    let _ = tx.send((asked.elapsed(), resp));
                }
                status
            })
        })
        .collect();
    for _ in 0..6 {
        let (took, resp) = refusals.recv().await.expect("six refusals");
        assert!(took < Duration::from_millis(500), "refused in {took:?}");
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        problem(resp, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    }
    // Saturated: other routes are refused too, the health checks answer.
    let resp = app.client.get(app.url("/jobs")).send().await.unwrap();
    problem(resp, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    let health: Value = json_of(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["status"], "ok");
    // And so does a metrics scrape: it is outside the guard, for when it matters most.
    let scrape = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.text().await.unwrap().contains("faena_jobs_queued"));
    let mut served = 0;
    for poll in polls {
        served += usize::from(poll.await.unwrap() == StatusCode::OK);
    }
    assert_eq!(served, 2, "the two polls that held the slots");
    // The slots are free again.
    assert_eq!(app.cancel(job.id).await.status(), StatusCode::ACCEPTED);
}
