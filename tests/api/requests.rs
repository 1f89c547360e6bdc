//! Refused requests other than submissions: ids that are not UUIDs, unknown ids, bad query
//! strings, unknown routes and methods. Each gets its problem `code`, and none changes a job.

use faena::job::{JobId, JobStatus};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, json_of, problem, problem_at};

const BAD: StatusCode = StatusCode::BAD_REQUEST;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_are_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    for raw in ["not-a-uuid", "12345", "0193-xyz"] {
        problem_at(app.get(raw).await, BAD, "invalid_id", "id").await;
        problem_at(app.get_wait(raw, 10).await, BAD, "invalid_id", "id").await;
        problem_at(app.cancel(raw).await, BAD, "invalid_id", "id").await;
        problem_at(app.delete(raw).await, BAD, "invalid_id", "id").await;
    }
    let unknown = JobId::new();
    let not_found = StatusCode::NOT_FOUND;
    problem(app.get(unknown).await, not_found, "job_not_found").await;
    problem(app.get_wait(unknown, 100).await, not_found, "job_not_found").await;
    problem(app.cancel(unknown).await, not_found, "job_not_found").await;
    problem(app.delete(unknown).await, not_found, "job_not_found").await;
    assert!(app.list_ok("").await.jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_refused_and_change_nothing() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 0}});
    let done = json_of::<faena::job::Job>(
        app.submit_query("wait_ms=10000", &body).await,
        StatusCode::OK,
    )
    .await;
    let queued = app.submit_ok(&body).await;
    let before = app.list_ok("limit=1000").await;

    let get = |query: &'static str| {
        let url = app.url(&format!("/jobs/{}?{query}", done.id));
        app.client.get(url).send()
    };
    for query in ["wait_ms=60001", "wait_ms=soon", "wait_ms=-1"] {
        problem_at(get(query).await.unwrap(), BAD, "invalid_query", "wait_ms").await;
    }
    problem(get("wait=5").await.unwrap(), BAD, "invalid_query").await;
    // The largest wait is accepted, and answers at once for a final job.
    let job: faena::job::Job = json_of(get("wait_ms=60000").await.unwrap(), StatusCode::OK).await;
    assert_eq!(job.status, JobStatus::Succeeded);

    for (query, field) in [
        ("limit=0", Some("limit")),
        ("limit=1001", Some("limit")),
        ("limit=many", Some("limit")),
        ("status=bogus", Some("status")),
        ("kind=bogus", Some("kind")),
        ("cursor=not-a-cursor", Some("cursor")),
        ("color=red", None),
    ] {
        let resp = app.list(query).await;
        match field {
            Some(field) => problem_at(resp, BAD, "invalid_query", field).await,
            None => problem(resp, BAD, "invalid_query").await,
        };
    }
    assert_eq!(app.list_ok("limit=1").await.jobs.len(), 1);

    let after = app.list_ok("limit=1000").await;
    assert_eq!(after.jobs.len(), 2);
    assert_eq!(after.jobs[0].id, queued.id);
    assert_eq!(
        after.jobs[1], before.jobs[1],
        "the finished job is unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let id = JobId::new();
    let cases = [
        (
            Method::GET,
            "/nope".to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            format!("/jobs/{id}/nope"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/job".to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::PUT,
            "/jobs".to_string(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::DELETE,
            "/jobs".to_string(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::PATCH,
            format!("/jobs/{id}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            format!("/jobs/{id}/cancel"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/healthz".to_string(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, path, status, code) in cases {
        let resp = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        problem(resp, status, code).await;
    }
    assert!(app.list_ok("").await.jobs.is_empty());
}
