//! API keys: without a known key every route but the health checks answers 401; each job
//! belongs to the key that created it, and other keys see 404 for it.

use faena::job::Job;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, json_of, problem};

const ALICE: &str = "alice-key-0123456789";
const BOB: &str = "bob-key-0123456789ab";

async fn app() -> Option<TestApp> {
    TestApp::spawn_with(|c| c.api_keys = vec![ALICE.into(), BOB.into()]).await
}

async fn call(app: &TestApp, key: Option<&str>, method: Method, path: &str) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.expect("the server answers")
}

async fn submit(app: &TestApp, key: &str) -> Job {
    let resp = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(key)
        .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .send()
        .await
        .unwrap();
    json_of(resp, StatusCode::ACCEPTED).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_need_a_known_key_but_health_checks_do_not() {
    let Some(app) = app().await else {
        return;
    };
    for key in [None, Some("wrong-key-0123456789"), Some(&ALICE[1..])] {
        for (method, path) in [
            (Method::GET, "/jobs"),
            (Method::POST, "/jobs"),
            (Method::GET, "/openapi.yaml"),
            (Method::GET, "/metrics"),
            (Method::GET, "/nope"),
        ] {
            let resp = call(&app, key, method.clone(), path).await;
            assert_eq!(
                resp.headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer realm=\"faena\""),
                "{method} {path}"
            );
            problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
    // Basic auth with the key is not a bearer key.
    let resp = app
        .client
        .get(app.url("/jobs"))
        .basic_auth(ALICE, None::<&str>)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            call(&app, None, Method::GET, path).await.status(),
            StatusCode::OK
        );
    }
    let scrape = call(&app, Some(ALICE), Method::GET, "/metrics").await;
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.text().await.unwrap().contains("faena_jobs_queued"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_sees_only_its_own_jobs() {
    let Some(app) = app().await else {
        return;
    };
    let job = submit(&app, ALICE).await;
    let id = job.id;
    let mine: Job = json_of(
        call(
            &app,
            Some(ALICE),
            Method::GET,
            &format!("/jobs/{id}?wait_ms=5000"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine.id, id);
    for (method, path) in [
        (Method::GET, format!("/jobs/{id}")),
        (Method::GET, format!("/jobs/{id}?wait_ms=100")),
        (Method::POST, format!("/jobs/{id}/cancel")),
        (Method::DELETE, format!("/jobs/{id}")),
        (Method::GET, format!("/jobs/{id}/files")),
        (Method::GET, format!("/jobs/{id}/files/00000-x")),
    ] {
        let resp = call(&app, Some(BOB), method.clone(), &path).await;
        problem(resp, StatusCode::NOT_FOUND, "job_not_found").await;
    }
    let bobs: serde_json::Value = json_of(
        call(&app, Some(BOB), Method::GET, "/jobs").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs["jobs"], json!([]));
    let alices: serde_json::Value = json_of(
        call(&app, Some(ALICE), Method::GET, "/jobs").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(alices["jobs"][0]["id"], id.to_string());
    // Bob cannot depend on Alice's job either.
    let resp = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(BOB)
        .json(&json!({"kind": "sleep", "params": {"ms": 0}, "depends_on": [id]}))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "unknown_dependency").await;
    // Alice deletes her job.
    let resp = call(&app, Some(ALICE), Method::DELETE, &format!("/jobs/{id}")).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}
