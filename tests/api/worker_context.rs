//! What travels with a worker kind's jobs besides their parameters: the submitter's W3C trace
//! context (kept, and handed to the worker with each claim), and the kind's JSON Schema
//! (`--worker-kind-schema`), which submissions are checked against.

use faena::job::{JobId, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{json_of, problem_at};
use crate::workers::{app, app_with, claim, post, resize};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submitters_trace_context_reaches_the_worker() {
    let Some(app) = app().await else { return };
    let sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let submit = |traceparent: Option<&'static str>, path: &'static str, body: Value| {
        let mut req = app.client.post(app.url(path)).json(&body);
        if let Some(t) = traceparent {
            req = req.header("traceparent", t);
        }
        req.send()
    };
    // Kept as sent; none when absent or malformed (ignored, as the recommendation says).
    let kept: Value = submit(Some(sent), "/jobs", resize(json!({})))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kept["traceparent"], sent);
    for header in [
        None,
        Some("00-xyz"),
        Some("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ] {
        let resp = submit(header, "/jobs", resize(json!({}))).await.unwrap();
        let job: Value = json_of(resp, StatusCode::ACCEPTED).await;
        assert_eq!(job["traceparent"], Value::Null, "{header:?}: {job}");
    }
    // A batch's jobs share its request's context.
    let batch = json!({"jobs": [resize(json!({})), resize(json!({}))]});
    let answer: Value = submit(Some(sent), "/jobs/batch", batch)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{answer}");
    for item in items {
        let id: JobId = item["job"]["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(app.job(id).await.traceparent.as_deref(), Some(sent));
    }

    // Each claimed job comes with its own (or none).
    let mut want: Vec<(String, Value)> = Vec::new();
    let listed: Value = app
        .client
        .get(app.url("/jobs?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for job in listed["jobs"].as_array().unwrap() {
        want.push((
            job["id"].as_str().unwrap().into(),
            job["traceparent"].clone(),
        ));
    }
    assert_eq!(want.len(), 6);
    let mut got: Vec<(String, Value)> = claim(&app, 10, 0)
        .await
        .iter()
        .map(|j| (j["id"].as_str().unwrap().into(), j["traceparent"].clone()))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    assert_eq!(got.iter().filter(|(_, t)| t == sent).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_kinds_schema_checks_its_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resize.json");
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["path", "width"],
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "width": {"type": "integer", "minimum": 1, "maximum": 10000},
            "crops": {"type": "array", "items": {"$ref": "#/$defs/crop"}}
        },
        "$defs": {"crop": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}}
    });
    std::fs::write(&path, schema.to_string()).unwrap();
    let Some(app) = app_with(|c| c.worker_kind_schemas = vec![("resize".into(), path)]).await
    else {
        return;
    };
    let ok = app.submit_ok(&json!({"kind": "resize", "params": {"path": "a.png", "width": 640, "crops": [{"x": 1}]}})).await;
    assert_eq!(ok.status, JobStatus::Queued);
    for (params, field) in [
        (json!({"path": "a.png", "width": 0}), "params.width"),
        (json!({"path": "a.png"}), "params"),
        (
            json!({"path": "a.png", "width": 5, "crops": [{"x": 1}, {}]}),
            "params.crops[1]",
        ),
        (
            json!({"path": "a.png", "width": 5, "crops": [{"x": "1"}]}),
            "params.crops[0].x",
        ),
    ] {
        let resp = app
            .submit(&json!({"kind": "resize", "params": params}))
            .await;
        problem_at(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_params",
            field,
        )
        .await;
    }
    // In a batch: the bad item alone is refused.
    let batch = json!({"jobs": [
        {"kind": "resize", "params": {"path": "b.png", "width": 2}},
        {"kind": "resize", "params": {"path": "b.png", "width": -2}},
    ]});
    let answer: Value = json_of(post(&app, "/jobs/batch", &batch).await, StatusCode::OK).await;
    assert_eq!(answer["items"][0]["status"], 202, "{answer}");
    assert_eq!(answer["items"][1]["status"], 422, "{answer}");
    assert_eq!(
        answer["items"][1]["problem"]["field"], "jobs[1].params.width",
        "{answer}"
    );
    // Only valid jobs were stored: the two accepted.
    assert_eq!(claim(&app, 10, 0).await.len(), 2);
    // The schema is served whole by GET /kinds; the OpenAPI document, where its references
    // would point nowhere, names any object.
    let kinds: Value = json_of(
        app.client.get(app.url("/kinds")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let resize = (kinds["kinds"].as_array().unwrap().iter())
        .find(|k| k["name"] == "resize")
        .expect("resize in /kinds")
        .clone();
    assert_eq!(resize["params"], schema);
    let doc: Value = json_of(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        doc["components"]["schemas"]["ResizeParams"]["type"],
        "object"
    );
    assert!(
        !doc["components"]["schemas"]["ResizeParams"]
            .to_string()
            .contains("$ref")
    );
}
