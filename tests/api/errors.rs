//! Refused submissions: each JSON body that is not a valid job gets its status, its problem
//! `code` and the `field` at fault, and none of them leaves a job behind.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Bodies that are JSON but not a valid job, with the code and field of their problem.
fn invalid_bodies() -> Vec<(Value, &'static str, Option<&'static str>)> {
    let sleep = json!({"ms": 1});
    vec![
        (json!({"params": {}}), "invalid_field", Some("kind")),
        (json!({"kind": 5}), "invalid_field", Some("kind")),
        (json!({"kind": "nope"}), "unknown_kind", Some("kind")),
        (json!(42), "invalid_field", None),
        (
            json!({"kind": "count_primes", "params": {"start": "a", "end": 10}}),
            "invalid_params",
            Some("params.start"),
        ),
        (
            json!({"kind": "count_primes", "params": {"start": 10, "end": 10}}),
            "invalid_params",
            Some("params.end"),
        ),
        (
            json!({"kind": "count_primes", "params": {"start": 20, "end": 10}}),
            "invalid_params",
            Some("params.end"),
        ),
        (
            json!({"kind": "count_primes", "params": {"start": -1, "end": 10}}),
            "invalid_params",
            Some("params.start"),
        ),
        (
            json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000_000_000_000_001_u64}}),
            "invalid_params",
            Some("params.end"),
        ),
        (
            json!({"kind": "count_primes", "params": {"start": 0}}),
            "invalid_params",
            Some("params.end"),
        ),
        (
            json!({"kind": "factorial", "params": {"numbers": [5, -1]}}),
            "invalid_params",
            Some("params.numbers[1]"),
        ),
        (
            json!({"kind": "factorial", "params": {"numbers": [1, 2, 10_000_001]}}),
            "invalid_params",
            Some("params.numbers[2]"),
        ),
        (
            json!({"kind": "factorial", "params": {"numbers": vec![1; 101]}}),
            "invalid_params",
            Some("params.numbers"),
        ),
        (
            json!({"kind": "factorial", "params": {"numbers": []}}),
            "invalid_params",
            Some("params.numbers"),
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 3_600_001}}),
            "invalid_params",
            Some("params.ms"),
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1, "extra": true}}),
            "invalid_params",
            Some("params.extra"),
        ),
        (
            json!({"kind": "sleep"}),
            "invalid_params",
            Some("params.ms"),
        ),
        (
            json!({"kind": "sleep", "params": "x"}),
            "invalid_params",
            Some("params"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "timeout_ms": 0}),
            "invalid_field",
            Some("timeout_ms"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "timeout_ms": 86_400_001}),
            "invalid_field",
            Some("timeout_ms"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "priority": 101}),
            "invalid_field",
            Some("priority"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "priority": -101}),
            "invalid_field",
            Some("priority"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "max_attempts": 26}),
            "invalid_field",
            Some("max_attempts"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "max_attempts": 0}),
            "invalid_field",
            Some("max_attempts"),
        ),
        (
            json!({"kind": "sleep", "params": sleep, "bogus": 1}),
            "invalid_field",
            Some("bogus"),
        ),
    ]
}

/// What a refusal says: its status, content type, `code` and `field` (`None` when absent).
async fn refusal(resp: reqwest::Response) -> (StatusCode, String, Value, Option<Value>) {
    let status = resp.status();
    let content_type = resp.headers().get(CONTENT_TYPE).cloned();
    let content_type = content_type.as_ref().and_then(|v| v.to_str().ok());
    let content_type = content_type.unwrap_or("").to_string();
    let doc: Value = resp.json().await.expect("a JSON body");
    for key in ["type", "title", "detail"] {
        assert!(
            doc[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} in {doc}"
        );
    }
    assert_eq!(doc["status"], status.as_u16(), "{doc}");
    (
        status,
        content_type,
        doc["code"].clone(),
        doc.get("field").cloned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_are_refused_with_the_field_at_fault() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // Every case is checked before failing, so that one run lists every wrong answer.
    let mut wrong = Vec::new();
    for (body, code, field) in invalid_bodies() {
        let got = refusal(app.submit(&body).await).await;
        let want = (
            UNPROCESSABLE,
            "application/problem+json".to_string(),
            json!(code),
            field.map(|f| json!(f)),
        );
        if got != want {
            wrong.push(format!("{body}\n    got  {got:?}\n    want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "wrong refusals:\n{}", wrong.join("\n"));
    let page = app.list_ok("limit=1000").await;
    assert!(
        page.jobs.is_empty(),
        "refused bodies made jobs: {:?}",
        page.jobs
    );
    assert_eq!(page.next_cursor, None);
}
