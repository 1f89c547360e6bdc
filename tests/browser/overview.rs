//! The overview: a count per status equal to `GET /stats`, the two charts, and the running
//! jobs with their progress bars. Its screenshot, `overview.png`, is the README's.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{Dash, PATIENCE};

const STATUSES: [&str; 6] = [
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
];

/// `GET /stats` once its counts (cached a moment by the server) are `expected`.
async fn stats_once(dash: &Dash, expected: &Value) -> Value {
    let started = Instant::now();
    loop {
        let (status, stats) = dash.api(Method::GET, "/stats", None).await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        if &stats["counts"] == expected {
            return stats;
        }
        assert!(started.elapsed() < PATIENCE, "the counts stay {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_what_the_stats_count() {
    let Some(dash) = Dash::start("overview").await else {
        return;
    };
    for end in [1_000_000u64, 2_000_000, 10_000_000] {
        let job = dash
            .submit(json!({"kind": "count_primes", "params": {"start": 0, "end": end}}))
            .await;
        dash.final_job(job["id"].as_str().unwrap()).await;
    }
    let job = dash
        .submit(json!({"kind": "factorial", "params": {"numbers": [1000, 20000]}}))
        .await;
    dash.final_job(job["id"].as_str().unwrap()).await;
    let job = dash
        .submit(json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 200}))
        .await;
    let job = dash.final_job(job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "timed_out", "{job}");
    let cancelled = dash
        .submit(json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 120_000}))
        .await;
    let cancelled = cancelled["id"].as_str().unwrap();
    let (status, _) = dash
        .api(Method::POST, &format!("/jobs/{cancelled}/cancel"), None)
        .await;
    assert!(status.is_success());
    let running = dash
        .submit(json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 120_000}))
        .await;
    let running = running["id"].as_str().unwrap();
    // Waits for the running sleep.
    dash.submit(json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": [running]}))
        .await;
    let expected = json!({"queued": 1, "running": 1, "succeeded": 4, "failed": 0,
                          "cancelled": 1, "timed_out": 1});
    let stats = stats_once(&dash, &expected).await;

    dash.open("/").await;
    for status in STATUSES {
        let count = stats["counts"][status].to_string();
        let css = format!("#stat-counts [data-status=\"{status}\"] .count");
        dash.wait_text(&css, |text| text == count).await;
    }
    dash.wait_visible("svg#throughput-chart, #throughput-chart svg")
        .await;
    dash.wait_visible("svg#queue-chart, #queue-chart svg").await;
    // Drawn, not just there: the jobs that finished are bars, the queue's samples a line
    // with its last point marked.
    dash.wait_for("#throughput-chart rect", |bars| !bars.is_empty())
        .await;
    dash.wait_for("#queue-chart polyline", |lines| lines.len() == 1)
        .await;
    dash.wait_for("#queue-chart circle", |points| !points.is_empty())
        .await;
    let item = format!("#running-jobs [data-job-id=\"{running}\"]");
    dash.wait_visible(&item).await;
    dash.wait_visible(&format!("{item} progress")).await;
    let items = dash.snapshot("#running-jobs [data-job-id]").await;
    assert_eq!(items.len(), 1, "only the running job: {items:#?}");
    dash.finish().await;
}
