//! `--kinds`: a server accepts only the kinds it is given; a submission of another kind is
//! refused with `kind_disabled`, naming the kinds it takes, and leaves no job behind.

use faena::job::{JobKind, JobStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, problem, problem_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_kind_is_refused_and_the_enabled_ones_run() {
    let enabled = vec![JobKind::Sleep, JobKind::Factorial];
    let Some(app) = TestApp::spawn_with(|c| c.kinds = enabled).await else {
        return;
    };
    let refused = [
        json!({"kind": "fetch_urls", "params": {"urls": ["https://example.com/"]}}),
        json!({"kind": "count_primes", "params": {"start": 0, "end": 10}}),
        // The kind is refused before its parameters are looked at.
        json!({"kind": "word_count", "params": {"nonsense": true}}),
    ];
    for body in &refused {
        let resp = app.submit(body).await;
        let doc = problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind_disabled",
            "kind",
        )
        .await;
        let detail = doc["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains(body["kind"].as_str().unwrap())
                && detail.ends_with("enabled kinds: factorial, sleep"),
            "{doc}"
        );
    }
    // A kind that does not exist is still unknown, not disabled.
    let resp = app.submit(&json!({"kind": "nope"})).await;
    problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "unknown_kind").await;
    assert!(
        app.list_ok("").await.jobs.is_empty(),
        "a refused job was stored"
    );

    for body in [
        json!({"kind": "sleep", "params": {"ms": 1}}),
        json!({"kind": "factorial", "params": {"numbers": [10]}}),
    ] {
        let job = app.submit_ok(&body).await;
        assert_eq!(app.wait_final(job.id).await.status, JobStatus::Succeeded);
    }
}
