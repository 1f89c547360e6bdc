//! `examples/custom_kind.rs` end to end: the example's own binary (faena as a library with a
//! kind of its own, `sha256_chain`) configured by `FAENA_*` variables only, driven over HTTP
//! like any faena: its schema in `GET /kinds` and `/openapi.json`, a job submitted and
//! long-polled to an exact digest, one cancelled mid-run (its slot freed for the next), its
//! event stream and its metrics series.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::Server;

/// SHA-256 applied `rounds` times to `input`, in lower-case hex: the reference.
fn chain(input: &str, rounds: u64) -> String {
    let mut digest: [u8; 32] = Sha256::digest(input.as_bytes()).into();
    for _ in 1..rounds {
        digest = Sha256::digest(digest).into();
    }
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn get(http: &reqwest::Client, server: &Server, path: &str) -> Value {
    let resp = http.get(server.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

async fn post(http: &reqwest::Client, server: &Server, path: &str, body: Value) -> Value {
    let resp = http
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

/// The example on `db`, listening where `FAENA_LISTEN` says, with one CPU slot (so a stuck
/// run would block the next CPU job).
fn start(db: &str) -> Server {
    Server::start_example(
        "custom_kind",
        &[
            ("FAENA_LISTEN", "127.0.0.1:0"),
            ("FAENA_DATABASE_URL", db),
            ("FAENA_MAX_CPU_JOBS", "1"),
            ("FAENA_CPU_THREADS", "2"),
            ("RUST_LOG", "info"),
        ],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_of_ones_own_is_served_like_the_built_in_ones_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    served_like_the_built_in_ones(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_of_ones_own_is_served_like_the_built_in_ones_on_postgres() {
    let Some(db) = faena_testing::PgScratch::create("custom_kind_on_postgres").await else {
        return;
    };
    served_like_the_built_in_ones(&db.url).await;
}

async fn served_like_the_built_in_ones(db: &str) {
    let server = start(db);
    faena::kinds::fetch_urls::client::install_crypto();
    let http = reqwest::Client::new();

    // Listed after the built-in kinds, with its schema and bounds; in the OpenAPI document.
    let kinds = get(&http, &server, "/kinds").await;
    let names: Vec<&str> = (kinds["kinds"].as_array().unwrap().iter())
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "count_primes",
            "factorial",
            "sleep",
            "fetch_urls",
            "word_count",
            "sha256_chain"
        ]
    );
    let kind = &kinds["kinds"][5];
    assert_eq!(kind["class"], "cpu");
    assert_eq!(
        kind["params"]["properties"]["rounds"]["maximum"],
        1_000_000_000u64
    );
    assert_eq!(kind["params"]["required"], json!(["input", "rounds"]));
    let doc = get(&http, &server, "/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Sha256ChainParams"], kind["params"]);
    assert_eq!(schemas["Sha256ChainResult"], kind["result"]);
    assert!(
        schemas["JobKind"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("sha256_chain"))
    );
    let limits = get(&http, &server, "/limits").await;
    assert_eq!(
        limits["kind_limits"]["sha256_chain"]["max_rounds"],
        1_000_000_000u64
    );

    // Submitted and long-polled: the exact digest.
    let body = json!({"kind": "sha256_chain", "params": {"input": "faena", "rounds": 5000}});
    let job = post(&http, &server, "/jobs?wait_ms=30000", body).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        job["result"],
        json!({"digest": chain("faena", 5000), "rounds": 5000})
    );
    assert_eq!(job["progress"], json!({"done": 5000, "total": 5000}));
    // Checked by the kind: the field at fault named.
    let bad = json!({"kind": "sha256_chain", "params": {"input": "x", "rounds": 0}});
    let resp = http
        .post(server.url("/jobs"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let problem: Value = resp.json().await.unwrap();
    assert_eq!(problem["field"], "params.rounds", "{problem}");

    // Cancelled mid-run: a billion rounds would take minutes.
    let body =
        json!({"kind": "sha256_chain", "params": {"input": "long", "rounds": 1_000_000_000u64}});
    let long = post(&http, &server, "/jobs", body).await;
    let id = long["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let job = get(&http, &server, &format!("/jobs/{id}")).await;
        if job["progress"]["done"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled = post(&http, &server, &format!("/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let done = cancelled["progress"]["done"].as_u64().unwrap();
    assert!(done > 0 && done < 1_000_000_000, "{cancelled}");
    // Its run really stopped: the one CPU slot runs the next job.
    let body = json!({"kind": "sha256_chain", "params": {"input": "next", "rounds": 10}});
    let next = post(&http, &server, "/jobs?wait_ms=30000", body).await;
    assert_eq!(next["status"], "succeeded", "{next}");
    assert_eq!(next["result"]["digest"], chain("next", 10));

    // Its events: the stream of one job ends with its final state.
    let resp = http
        .get(server.url(&format!("/jobs/{}/events", next["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(30), resp.text())
        .await
        .expect("the stream of a final job ends")
        .unwrap();
    let states: Vec<Value> = (text.lines().filter_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let last = states.last().expect("an event");
    assert_eq!(
        (&last["kind"], &last["status"]),
        (&json!("sha256_chain"), &json!("succeeded"))
    );

    // Its metrics series, by its name.
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"faena_jobs_finished_total{kind="sha256_chain",status="succeeded"} 2"#,
        r#"faena_jobs_finished_total{kind="sha256_chain",status="cancelled"} 1"#,
        r#"faena_jobs_submitted_total{kind="sha256_chain"} 3"#,
    ] {
        assert!(metrics.contains(series), "{series} not in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faena_kinds_selects_among_them_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start_example(
        "custom_kind",
        &[("FAENA_DATABASE_URL", &db), ("RUST_LOG", "info")],
        &["--listen", "127.0.0.1:0", "--kinds", "sha256_chain,sleep"],
    );
    faena::kinds::fetch_urls::client::install_crypto();
    let http = reqwest::Client::new();
    let limits = get(&http, &server, "/limits").await;
    assert_eq!(limits["kinds"], json!(["sleep", "sha256_chain"]));
    let resp = http
        .post(server.url("/jobs"))
        .json(&json!({"kind": "factorial", "params": {"numbers": [3]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
}
