//! A worker kind with a JSON Schema (`--worker-kind-schema`): the dashboard's form lays out
//! its fields from the schema, refuses a value out of it next to its field, and the job it
//! submits waits, queued, until a worker (here this test, over HTTP) claims and completes it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::Dash;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_of_a_worker_kind_follows_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("resize.json");
    let document = json!({
        "type": "object",
        "required": ["path", "width"],
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "The image to resize."},
            "width": {"type": "integer", "minimum": 1, "maximum": 10000}
        },
        "additionalProperties": false
    });
    std::fs::write(&schema, document.to_string()).unwrap();
    let spec = format!("resize={}", schema.display());
    let args = ["--worker-kinds", "resize", "--worker-kind-schema", &spec];
    let Some(dash) = Dash::start_with("worker_kind_form", &args).await else {
        return;
    };
    // Out of the schema: the server's error, next to its field.
    dash.open("/submit?kind=resize").await;
    dash.fill("#submit-form [name=\"path\"]", "cat.png").await;
    dash.fill("#submit-form [name=\"width\"]", "0").await;
    dash.click("button#submit-job").await;
    dash.wait_text(".field-error[data-field=\"params.width\"]", |t| {
        !t.is_empty()
    })
    .await;
    // Within it: queued until a worker takes it.
    dash.open("/submit?kind=resize").await;
    dash.fill("#submit-form [name=\"path\"]", "cat.png").await;
    dash.fill("#submit-form [name=\"width\"]", "640").await;
    dash.click("button#submit-job").await;
    let hash = dash.wait_hash(|h| h.starts_with("#/jobs/")).await;
    let id = hash.trim_start_matches("#/jobs/").to_string();
    dash.wait_text("#job-status", |s| s == "queued").await;
    let job = dash.job(&id, 0).await;
    assert_eq!(job["params"], json!({"path": "cat.png", "width": 640}));

    let claim = json!({"worker": "w1", "kinds": ["resize"], "wait_ms": 10_000});
    let (status, claimed) = dash.api(Method::POST, "/workers/claim", Some(claim)).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let held = &claimed["jobs"][0];
    assert_eq!(held["id"], id.as_str());
    dash.wait_text("#job-status", |s| s == "running").await;
    let done = json!({"lease": held["lease"], "result": {"path": "cat-640.png"}});
    let path = format!("/jobs/{id}/complete");
    let (status, answered) = dash.api(Method::POST, &path, Some(done)).await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    dash.wait_text("#job-status", |s| s == "succeeded").await;
    dash.wait_text("#job-result", |r| r.contains("cat-640.png"))
        .await;
    dash.finish().await;
}
