//! The real binary flooded past its caps: 32 clients send valid jobs (held back, so that the
//! queue fills), oversized bodies and requests with a wrong API key, all at once. Every answer
//! is one of 202, 429 (queue full), 413 (body too large, or the connection closed before the
//! rest of such a body was read: counted as 0), 503 (too many requests in progress) or 401; every accepted job then finishes; the process's memory comes back down; and no API
//! key, right or wrong, ever appears in its log.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Server, final_state};

const KEY: &str = "flood-test-key-0123456789";
const WRONG: &str = "wrong-flood-key-0123456789";
const CAP: u64 = 300;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_cleanly_and_memory_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let cap = CAP.to_string();
    let server = Arc::new(Server::start(
        &url,
        &[
            "--api-keys",
            KEY,
            "--max-queued-jobs",
            &cap,
            "--max-concurrent-requests",
            "24",
            "--max-io-jobs",
            "8",
        ],
    ));
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    let submit = |body: Value| {
        let (client, url) = (client.clone(), server.url("/jobs"));
        async move {
            let resp = client
                .post(url)
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    // Warm up, then take the baseline.
    for _ in 0..200 {
        let (status, _) = submit(json!({"kind": "sleep", "params": {"ms": 0}})).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let baseline = server.rss_bytes();

    let peak = Arc::new(AtomicU64::new(baseline));
    let sampling = {
        let (server, peak) = (Arc::clone(&server), Arc::clone(&peak));
        tokio::spawn(async move {
            loop {
                peak.fetch_max(server.rss_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let due = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let oversized = vec![b' '; (1 << 20) + 4096];
    // The server closes a connection whose body it refused unread: oversized bodies go on
    // connections of their own, never reused.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let clients: Vec<_> = (0..32)
        .map(|c| {
            let (client, unpooled, url, due, oversized) = (
                client.clone(),
                unpooled.clone(),
                server.url("/jobs"),
                due.clone(),
                oversized.clone(),
            );
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for i in 0..40 {
                    let req = client.post(&url).header("content-type", "application/json");
                    let req = match (c + i) % 4 {
                        0 => unpooled
                            .post(&url)
                            .header("content-type", "application/json")
                            .bearer_auth(KEY)
                            .body(oversized.clone()),
                        1 => req
                            .bearer_auth(WRONG)
                            .body(json!({"kind": "sleep", "params": {"ms": 1}}).to_string()),
                        _ => req.bearer_auth(KEY).body(
                            json!({"kind": "sleep", "params": {"ms": 10}, "run_after": due})
                                .to_string(),
                        ),
                    };
                    let oversized = (c + i) % 4 == 0;
                    match req.send().await {
                        Ok(resp) => {
                            let status = resp.status();
                            let body: Value = resp.json().await.unwrap_or(Value::Null);
                            seen.push((Some(status), body));
                        }
                        // The server may answer 413 and close before reading a body over
                        // the limit to its end; the client then sees the connection reset.
                        Err(err) if oversized => seen.push((None, json!(err.to_string()))),
                        Err(err) => panic!("request failed: {err}"),
                    }
                }
                seen
            })
        })
        .collect();
    let mut accepted = Vec::new();
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    for client in clients {
        for (status, body) in client.await.unwrap() {
            let Some(status) = status else {
                *counts.entry(0).or_default() += 1;
                continue;
            };
            *counts.entry(status.as_u16()).or_default() += 1;
            match status {
                StatusCode::ACCEPTED => accepted.push(body["id"].as_str().unwrap().to_string()),
                StatusCode::TOO_MANY_REQUESTS => assert_eq!(body["code"], "queue_full"),
                StatusCode::PAYLOAD_TOO_LARGE => assert_eq!(body["code"], "payload_too_large"),
                StatusCode::SERVICE_UNAVAILABLE => assert_eq!(body["code"], "overloaded"),
                StatusCode::UNAUTHORIZED => assert_eq!(body["code"], "unauthorized"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
    }
    assert!(counts.get(&429).is_some_and(|&n| n > 0), "{counts:?}");
    assert!(accepted.len() as u64 <= CAP, "{} accepted", accepted.len());

    let watcher = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {KEY}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    for id in &accepted {
        let job = final_state(&watcher, &server, id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    sampling.abort();
    let peak = peak.load(Ordering::Relaxed);
    // The server gives freed memory back every few seconds: wait for it.
    let drained = std::time::Instant::now();
    let mut after = server.rss_bytes();
    while after > baseline + (16 << 20) && drained.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = server.rss_bytes();
    }
    eprintln!(
        "flood: answers {counts:?}, accepted {}, RSS baseline {:.1} MiB, peak {:.1} MiB, \
         after the drain {:.1} MiB",
        accepted.len(),
        mib(baseline),
        mib(peak),
        mib(after)
    );
    assert!(
        after <= baseline + (16 << 20),
        "memory did not come back: baseline {:.1} MiB, after {:.1} MiB",
        mib(baseline),
        mib(after)
    );
    let log = server.log();
    assert!(
        !log.contains(KEY) && !log.contains(WRONG),
        "an API key was logged"
    );
}
