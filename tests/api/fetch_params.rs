//! `fetch_urls` parameters refused at submission: 422, `invalid_params` and the field at
//! fault (`params.urls[i]` for a bad URL), and no job left behind.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem_at};

/// A URL that is valid but never fetched (every body below is refused).
const SOME_URL: &str = "http://127.0.0.1:1/never-fetched";

/// `fetch_urls` params that are refused, with the field at fault.
fn invalid_params() -> Vec<(Value, &'static str)> {
    let urls = |bad: &str| json!({"urls": [SOME_URL, SOME_URL, bad]});
    let too_many = vec![SOME_URL; 10_001];
    let one = |key: &str, value: Value| json!({"urls": [SOME_URL], key: value});
    vec![
        (urls("ftp://127.0.0.1/file"), "params.urls[2]"),
        (urls("file:///etc/passwd"), "params.urls[2]"),
        (urls("/page/1"), "params.urls[2]"),
        (urls("http://"), "params.urls[2]"),
        (json!({"urls": [SOME_URL, 5]}), "params.urls[1]"),
        (json!({"urls": []}), "params.urls"),
        (json!({"urls": too_many}), "params.urls"),
        (json!({"urls": SOME_URL}), "params.urls"),
        (json!({}), "params.urls"),
        (one("concurrency", json!(0)), "params.concurrency"),
        (one("concurrency", json!(1001)), "params.concurrency"),
        (one("url_timeout_ms", json!(0)), "params.url_timeout_ms"),
        (
            one("url_timeout_ms", json!(300_001)),
            "params.url_timeout_ms",
        ),
        (one("save", json!("yes")), "params.save"),
        (one("extra", json!(1)), "params.extra"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_params_are_refused_with_the_field_at_fault() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    for (params, field) in invalid_params() {
        let body = json!({"kind": "fetch_urls", "params": params});
        let resp = app.submit(&body).await;
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        problem_at(resp, status, "invalid_params", field).await;
    }
    let page = app.list_ok("limit=1000").await;
    assert!(
        page.jobs.is_empty(),
        "refused bodies made jobs: {:?}",
        page.jobs
    );
}
