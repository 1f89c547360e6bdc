//! Contract test: schemathesis generates requests from the OpenAPI document the real binary
//! serves and checks every answer against it: no 5xx, and each status, content type, header
//! and body as the document declares them.
//!
//! The tool is the one named by `FAENA_TEST_SCHEMATHESIS` (`.ci/run` installs a pinned one in
//! a virtualenv under `target/`). Without it the test prints that it skipped and passes,
//! unless `FAENA_TEST_REQUIRE_SCHEMATHESIS=1` (set by `.ci/run`), which makes that a failure.
//!
//! Only loopback is ever contacted: the server runs with `fetch_urls` disabled (`--kinds`), as
//! the generated jobs would otherwise make it fetch whatever URLs were drawn.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, final_state, submit};

/// The variable naming the schemathesis executable.
const TOOL_VAR: &str = "FAENA_TEST_SCHEMATHESIS";
/// The variable that makes a missing schemathesis a failure.
const REQUIRE_VAR: &str = "FAENA_TEST_REQUIRE_SCHEMATHESIS";

/// The seed of the generation, so that a failure can be replayed.
const SEED: u64 = 20_261_126;
/// Fewest requests a run must make to count.
const MIN_REQUESTS: usize = 1_000;
/// The checks that must all pass: no server error, every answer as declared, invalid input
/// refused and undeclared methods answered with 405. (`positive_data_acceptance` is left out:
/// the document declares `params` as any object, so most schema-valid jobs are refused.)
const CHECKS: [&str; 7] = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
];

/// Every kind but `fetch_urls`, whose jobs would connect to the generated URLs.
const KINDS: &str = "count_primes,factorial,sleep,word_count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let Some(tool) = schemathesis("contract") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/faena.db", dir.path().display());
    // One CPU thread and slot, small inputs and short deadlines: generated jobs cannot slow
    // the run down; those still queued at the end are dropped with the database.
    let server = Server::start(
        &db,
        &[
            "--kinds",
            KINDS,
            "--cpu-threads",
            "1",
            "--max-cpu-jobs",
            "1",
            "--max-io-jobs",
            "16",
            "--max-factorial-n",
            "10000",
            "--default-timeout-ms",
            "1000",
            "--sqlite-synchronous",
            "normal",
        ],
    );
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();

    // The document tested is the one served: the committed one (what a server with the
    // default settings serves, see tests/api/docs.rs) narrowed to the kinds and bounds of
    // this server.
    let served: serde_json::Value = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &served["components"]["schemas"];
    let kinds: Vec<&str> = KINDS.split(',').collect();
    assert_eq!(schemas["JobKind"]["enum"], serde_json::json!(kinds));
    let max_n = &schemas["FactorialParams"]["properties"]["numbers"]["items"]["maximum"];
    assert_eq!(*max_n, 10_000);

    // Jobs of each kind in each final state, for the listings and the stateful phase to
    // serve (none left running: a long-poll of one would hold the run up to a minute).
    let ids = seed_jobs(&client, &server).await;
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, config_file(&ids)).unwrap();

    let started = Instant::now();
    let events = dir.path().join("events.ndjson");
    let output = run(&tool, &config, &server, dir.path(), &events).await;
    let elapsed = started.elapsed();
    let report = std::fs::read_to_string(&events).unwrap_or_default();
    let figures = Figures::read(&report);
    let text = String::from_utf8_lossy(&output.stdout);
    let _ = writeln!(
        std::io::stderr(),
        "schemathesis: {} (seed {SEED}) in {:.1} s\n{}",
        version(&tool),
        elapsed.as_secs_f64(),
        figures.summary()
    );

    let failed = figures.failures();
    let fine = output.status.success()
        && failed.is_empty()
        && figures.server_errors == 0
        && figures.errors.is_empty()
        && figures.requests >= MIN_REQUESTS
        && CHECKS.iter().all(|c| figures.checks.contains_key(*c));
    assert!(
        fine,
        "schemathesis: {} (exit {:?}), failed checks {failed:?}, errors {:?}\n{text}\n{}\nserver log:\n{}",
        figures.summary(),
        output.status.code(),
        figures.errors,
        String::from_utf8_lossy(&output.stderr),
        tail(&server.log(), 100),
    );

    // Nothing was fetched: no fetch_urls job exists.
    let page: Value = client
        .get(server.url("/jobs?kind=fetch_urls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["jobs"], json!([]), "{page}");
}

/// The schemathesis executable, or `None` after printing that `test` skipped.
fn schemathesis(test: &str) -> Option<PathBuf> {
    let Some(tool) = std::env::var(TOOL_VAR).ok().filter(|v| !v.is_empty()) else {
        if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
            panic!("{test}: {TOOL_VAR} is not set but {REQUIRE_VAR}=1");
        }
        // Straight to stderr: the test harness would capture (and hide) eprintln!.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no schemathesis configured (set {TOOL_VAR}; .ci/run installs one)"
        );
        return None;
    };
    Some(PathBuf::from(tool))
}

fn version(tool: &Path) -> String {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// A schemathesis configuration in which half the ids drawn for the routes of one job (and
/// the list's cursors) are those of existing jobs, so that their answers with a job are
/// checked too (not `DELETE`, which would leave nothing for the others).
fn config_file(ids: &[String]) -> String {
    let ids = serde_json::to_string(ids).unwrap();
    format!(
        r#"[dictionaries.jobs]
values = {ids}

[[operations]]
include-name = ["GET /jobs/{{id}}", "POST /jobs/{{id}}/cancel", "GET /jobs/{{id}}/files", "GET /jobs/{{id}}/files/{{name}}"]
parameters = {{ "path.id" = {{ dictionary = "jobs", probability = 0.5 }} }}

[[operations]]
include-name = "GET /jobs"
parameters = {{ "query.cursor" = {{ dictionary = "jobs", probability = 0.5 }} }}
"#
    )
}

/// Runs schemathesis with `config` against `server`, writing its events to `events`.
async fn run(tool: &Path, config: &Path, server: &Server, dir: &Path, events: &Path) -> Output {
    let mut command = Command::new(tool);
    command
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(server.url("/openapi.yaml"))
        .args(["--url", &server.url("")])
        .args(["--checks", &CHECKS.join(",")])
        .args(["--seed", &SEED.to_string()])
        // One worker: hypothesis's lambda descriptions (ast.parse) are not thread-safe on
        // CPython 3.11 ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--max-examples", "100"])
        // Event streams never end while the server runs: their own tests (tests/api/events.rs,
        // tests/streams.rs) check them.
        .args(["--exclude-path-regex", "/events$"])
        .arg("--continue-on-failure")
        // A long-poll may take up to 60 s (wait_ms ≤ 60000).
        .args(["--request-timeout", "75"])
        .args(["--max-redirects", "0"])
        .args(["--generation-database", "none"])
        .args(["--report", "ndjson"])
        .arg("--report-ndjson-path")
        .arg(events)
        .arg("--no-color")
        .current_dir(dir);
    // Straight to the server: no proxy from the environment.
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        command.env_remove(var).env_remove(var.to_lowercase());
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs")
}

/// Submits jobs that end succeeded (each kind), timed out, cancelled and failed, and waits
/// until they are all final; their ids.
async fn seed_jobs(client: &reqwest::Client, server: &Server) -> Vec<String> {
    let bodies = [
        json!({"kind": "sleep", "params": {"ms": 0}}),
        json!({"kind": "count_primes", "params": {"start": 0, "end": 100000}}),
        json!({"kind": "factorial", "params": {"numbers": [0, 5, 100, 10000]}}),
        json!({"kind": "word_count", "params": {"texts": ["one two", "three\n"], "top": 2}}),
        json!({"kind": "sleep", "params": {"ms": 60000}, "timeout_ms": 1}),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        ids.push(submit(client, server, body).await.expect("accepted"));
    }
    let long = json!({"kind": "sleep", "params": {"ms": 600000}, "priority": 5});
    let cancelled = submit(client, server, long).await.expect("accepted");
    let dependent =
        json!({"kind": "word_count", "params": {"texts": ["x"]}, "depends_on": [cancelled]});
    ids.push(submit(client, server, dependent).await.expect("accepted"));
    let resp = client
        .post(server.url(&format!("/jobs/{cancelled}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    ids.push(cancelled);
    let mut states = Vec::new();
    for id in &ids {
        let job = final_state(client, server, id, Duration::from_secs(30)).await;
        states.push(format!("{} {}", job["kind"], job["status"]));
    }
    let _ = writeln!(std::io::stderr(), "seeded jobs: {}", states.join(", "));
    ids
}

/// What a run did, read from its NDJSON events.
#[derive(Debug, Default)]
struct Figures {
    /// Requests that got an answer.
    requests: usize,
    /// Answers by status code.
    statuses: BTreeMap<u16, usize>,
    /// Answers by operation (or stateful phase) and status code.
    by_operation: BTreeMap<String, BTreeMap<u16, usize>>,
    server_errors: usize,
    /// Per check: (passed, failed).
    checks: BTreeMap<String, (usize, usize)>,
    /// Errors of the tool itself (not of the server).
    errors: Vec<String>,
}

impl Figures {
    fn read(ndjson: &str) -> Self {
        let mut figures = Self::default();
        for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                figures
                    .errors
                    .push(format!("unreadable event: {line:.200}"));
                continue;
            };
            if let Some(error) = event.get("NonFatalError").or(event.get("FatalError")) {
                figures.errors.push(error["value"].to_string());
            }
            let recorder = &event["ScenarioFinished"]["recorder"];
            let label = recorder["label"].as_str().unwrap_or("?").to_string();
            let interactions = recorder["interactions"].as_object().into_iter().flatten();
            for interaction in interactions.map(|(_, i)| i) {
                let Some(status) = interaction["response"]["status_code"].as_u64() else {
                    continue;
                };
                figures.requests += 1;
                *figures.statuses.entry(status as u16).or_default() += 1;
                let operation = figures.by_operation.entry(label.clone()).or_default();
                *operation.entry(status as u16).or_default() += 1;
                figures.server_errors += usize::from(status >= 500);
            }
            let checks = recorder["checks"].as_object().into_iter().flatten();
            for check in checks.flat_map(|(_, c)| c.as_array().into_iter().flatten()) {
                let name = check["name"].as_str().unwrap_or("?").to_string();
                let entry = figures.checks.entry(name).or_default();
                match check["status"].as_str() {
                    Some("success") => entry.0 += 1,
                    _ => entry.1 += 1,
                }
            }
        }
        figures
    }

    /// The checks that failed at least once.
    fn failures(&self) -> Vec<&str> {
        let failed = self.checks.iter().filter(|(_, (_, failed))| *failed > 0);
        failed.map(|(name, _)| name.as_str()).collect()
    }

    fn summary(&self) -> String {
        let counts = |statuses: &BTreeMap<u16, usize>| {
            let counts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            counts.join(", ")
        };
        let operations: Vec<String> = self
            .by_operation
            .iter()
            .map(|(label, statuses)| format!("  {label}: {}", counts(statuses)))
            .collect();
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|(name, (ok, failed))| format!("  {name}: {ok} passed, {failed} failed"))
            .collect();
        format!(
            "requests: {} (by status {}), 5xx: {}\nby operation:\n{}\nchecks:\n{}",
            self.requests,
            counts(&self.statuses),
            self.server_errors,
            operations.join("\n"),
            checks.join("\n")
        )
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
