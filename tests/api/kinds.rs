//! `--kinds`: a server accepts only the kinds it is given; a submission of another kind is
//! refused with `kind_disabled`, naming the kinds it takes, and leaves no job behind.

use faena::job::JobStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of, problem, problem_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_kind_is_refused_and_the_enabled_ones_run() {
    let enabled = vec!["sleep".into(), "factorial".into()];
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

/// `GET /kinds` lists the enabled kinds, in registration order, each with its class and the
/// JSON Schemas of its parameters (with this server's bounds) and result; the OpenAPI
/// document has the same schemas, and lists and event streams filter on registered names only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kinds_and_their_schemas_come_from_the_registry() {
    let Some(app) = TestApp::spawn_with(|c| {
        c.kinds = vec!["word_count".into(), "sleep".into(), "factorial".into()];
        c.max_factorial_n = 1234;
    })
    .await
    else {
        return;
    };
    let resp = app.call(Method::GET, "/kinds").await;
    let list: Value = json_of(resp, StatusCode::OK).await;
    let kinds = list["kinds"].as_array().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["factorial", "sleep", "word_count"]);
    let classes: Vec<&str> = kinds.iter().map(|k| k["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["cpu", "io", "cpu"]);
    let factorial = &kinds[0];
    assert!(!factorial["summary"].as_str().unwrap().is_empty());
    let numbers = &factorial["params"]["properties"]["numbers"];
    assert_eq!(numbers["items"]["maximum"], 1234, "{factorial}");
    assert_eq!(factorial["params"]["required"], json!(["numbers"]));
    let facts = &factorial["result"]["properties"]["results"]["items"];
    assert_eq!(
        facts["properties"]["leading_digits"]["type"], "string",
        "{facts}"
    );
    assert!(!list.to_string().contains("$ref"), "schemas stand alone");
    // The bound in the schema is the one validation applies.
    let resp = app
        .submit(&json!({"kind": "factorial", "params": {"numbers": [1235]}}))
        .await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_params",
        "params.numbers[0]",
    )
    .await;

    let resp = app.call(Method::GET, "/openapi.json").await;
    let doc: Value = json_of(resp, StatusCode::OK).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["JobKind"]["enum"], json!(names));
    assert_eq!(schemas["FactorialParams"], factorial["params"]);
    assert_eq!(schemas["SleepResult"], kinds[1]["result"]);
    assert!(
        schemas.get("CountPrimesParams").is_none(),
        "a disabled kind"
    );

    let resp = app.list("kind=count_primes").await;
    assert_eq!(
        json_of::<Value>(resp, StatusCode::OK).await["jobs"],
        json!([])
    );
    let resp = app.list("kind=no_such_kind").await;
    let doc = problem_at(resp, StatusCode::BAD_REQUEST, "invalid_query", "kind").await;
    assert!(
        doc["detail"]
            .as_str()
            .unwrap()
            .contains("known kinds: count_primes"),
        "{doc}"
    );
    let resp = app.call(Method::GET, "/events?kind=no_such_kind").await;
    problem_at(resp, StatusCode::BAD_REQUEST, "invalid_query", "kind").await;
}
