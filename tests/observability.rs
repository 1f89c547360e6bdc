//! Observability of the real binary: `/metrics` after a known sequence of jobs (exact counts
//! per kind, status, pool, page outcome and route), JSON log lines that carry the request id,
//! the job id and the kind (on the rayon thread too), and the `x-request-id` header.
//!
//! Each test starts its own process, so the process-wide metrics start from zero.

mod support;

use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};
use support::{Server, final_state, until_running};

mod observability {
    pub mod metrics_text;
}
use observability::metrics_text::Scrape;

/// A loopback page server: `/ok` answers a page, anything else 404.
async fn pages() -> std::net::SocketAddr {
    use axum::Router;
    use axum::routing::get;
    let app = Router::new().route("/ok", get(|| async { "hello metrics" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A loopback port nothing listens on (connections are refused).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

struct Client {
    http: reqwest::Client,
    server: Server,
}

impl Client {
    /// Submits `body`; its id (accepted: 200 or 202).
    async fn submit(&self, body: Value) -> String {
        let resp = self
            .http
            .post(self.server.url("/jobs"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{body}: {}", resp.status());
        let job: Value = resp.json().await.unwrap();
        job["id"].as_str().unwrap().to_string()
    }

    async fn cancel(&self, id: &str) {
        let resp = self
            .http
            .post(self.server.url(&format!("/jobs/{id}/cancel")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "cancel {id}");
    }

    async fn status(&self, id: &str) -> String {
        final_state(
            &self.http,
            &self.server,
            id,
            std::time::Duration::from_secs(30),
        )
        .await["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Scrapes until `done` holds for the scrape (10 s at most).
    async fn scrape_until(&self, done: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let m = self.scrape().await;
            if done(&m) {
                return m;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no scrape as expected"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn scrape(&self) -> Scrape {
        let resp = self
            .http
            .get(self.server.url("/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        Scrape::parse(&resp.text().await.unwrap())
    }
}

fn later() -> String {
    (Utc::now() + Days::hours(1)).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_known_sequence_of_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start(&db, &["--fetch-allow-private", "--retry-backoff-ms", "1"]);
    faena::kinds::fetch_urls::client::install_crypto();
    let c = Client {
        http: reqwest::Client::new(),
        server,
    };
    let site = pages().await;

    // Succeeded: 3 count_primes, 2 factorial, 2 fetch_urls (one retried once).
    let mut done = Vec::new();
    for end in [1_000, 10_000, 100_000] {
        done.push(
            c.submit(json!({"kind": "count_primes", "params": {"start": 0, "end": end}}))
                .await,
        );
    }
    for n in [5, 10] {
        done.push(
            c.submit(json!({"kind": "factorial", "params": {"numbers": [n]}}))
                .await,
        );
    }
    let pages_ok = format!("http://{site}/ok");
    let pages_missing = format!("http://{site}/missing");
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    done.push(
        c.submit(json!({"kind": "fetch_urls", "params": {"urls": [pages_ok, pages_missing]}}))
            .await,
    );
    done.push(
        c.submit(json!({"kind": "fetch_urls", "max_attempts": 2,
            "params": {"urls": [refused], "retry_transient": true}}))
            .await,
    );
    for id in &done {
        assert_eq!(c.status(id).await, "succeeded", "{id}");
    }

    // Timed out; failed at submission (its dependency timed out); cancelled while running.
    let slow = c
        .submit(json!({"kind": "sleep", "timeout_ms": 50, "params": {"ms": 60_000}}))
        .await;
    assert_eq!(c.status(&slow).await, "timed_out");
    let orphan = c
        .submit(json!({"kind": "sleep", "depends_on": [slow], "params": {"ms": 1}}))
        .await;
    assert_eq!(c.status(&orphan).await, "failed");
    let running = c
        .submit(json!({"kind": "sleep", "params": {"ms": 60_000}}))
        .await;
    until_running(&c.http, &c.server, std::slice::from_ref(&running)).await;
    let during = c.scrape().await;
    assert_eq!(during.present("faena_jobs_running", &[("pool", "io")]), 1.0);
    assert_eq!(
        during.present("faena_jobs_running", &[("pool", "cpu")]),
        0.0
    );
    c.cancel(&running).await;
    assert_eq!(c.status(&running).await, "cancelled");

    // Delayed: one stays queued; one is cancelled while queued, which fails its dependent.
    c.submit(json!({"kind": "sleep", "run_after": later(), "params": {"ms": 1}}))
        .await;
    let parent = c
        .submit(json!({"kind": "sleep", "run_after": later(), "params": {"ms": 1}}))
        .await;
    let child = c
        .submit(json!({"kind": "sleep", "depends_on": [parent], "params": {"ms": 1}}))
        .await;
    c.cancel(&parent).await;
    assert_eq!(c.status(&child).await, "failed");
    let unknown = c.http.get(c.server.url("/nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // The queued count serves scrapes for a second: wait for one taken after the last change.
    let m = c
        .scrape_until(|m| m.value("faena_jobs_queued", &[]) == 1.0)
        .await;
    let submitted = [
        ("count_primes", 3),
        ("factorial", 2),
        ("fetch_urls", 2),
        ("sleep", 6),
    ];
    for (kind, n) in submitted {
        assert_eq!(
            m.value("faena_jobs_submitted_total", &[("kind", kind)]),
            n as f64,
            "{kind}"
        );
    }
    // Every job that ended, once: the failed sleeps are the one failed at submission and the
    // dependent the store failed when its dependency was cancelled.
    let finished = [
        ("count_primes", "succeeded", 3),
        ("factorial", "succeeded", 2),
        ("fetch_urls", "succeeded", 2),
        ("sleep", "timed_out", 1),
        ("sleep", "failed", 2),
        ("sleep", "cancelled", 2),
    ];
    for (kind, status, n) in finished {
        let labels = [("kind", kind), ("status", status)];
        assert_eq!(
            m.value("faena_jobs_finished_total", &labels),
            n as f64,
            "{kind} {status}"
        );
    }
    assert_eq!(m.series("faena_jobs_finished_total").len(), finished.len());
    // The dependent of the job cancelled while queued was failed by the store.
    assert_eq!(m.value("faena_jobs_settled_total", &[]), 1.0);
    assert_eq!(
        m.value("faena_job_retries_total", &[("kind", "fetch_urls")]),
        1.0
    );

    // Durations: every job whose last attempt ran; queue waits: every attempt that started.
    for (kind, ran, started) in [
        ("count_primes", 3, 3),
        ("factorial", 2, 2),
        ("fetch_urls", 2, 3),
        ("sleep", 2, 2),
    ] {
        let labels = [("kind", kind)];
        assert_eq!(
            m.value("faena_job_duration_seconds_count", &labels),
            ran as f64,
            "{kind}"
        );
        assert_eq!(
            m.value("faena_job_queue_wait_seconds_count", &labels),
            started as f64,
            "{kind}"
        );
        let inf = [("kind", kind), ("le", "+Inf")];
        assert_eq!(
            m.value("faena_job_duration_seconds_bucket", &inf),
            ran as f64,
            "{kind}"
        );
    }
    assert_eq!(m.present("faena_jobs_queued", &[]), 1.0);
    assert_eq!(m.present("faena_jobs_running", &[("pool", "cpu")]), 0.0);
    assert_eq!(m.present("faena_jobs_running", &[("pool", "io")]), 0.0);
    for (outcome, n) in [("ok", 1), ("http_status", 1), ("connect", 2)] {
        assert_eq!(
            m.value("faena_fetch_requests_total", &[("outcome", outcome)]),
            n as f64,
            "{outcome}"
        );
    }

    // HTTP: every submission under its route (whatever its status), the unknown path as
    // `unmatched`, and the latency histogram counts what the counter counts.
    let posts: f64 = m
        .series("faena_http_requests_total")
        .iter()
        .filter(|(labels, _)| {
            labels.get("route").map(String::as_str) == Some("/jobs") && labels["method"] == "POST"
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(posts, 13.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(m.value("faena_http_requests_total", &unmatched), 1.0);
    for (labels, n) in m.series("faena_http_requests_total") {
        let mut key: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        key.sort();
        assert_eq!(
            m.value("faena_http_request_duration_seconds_count", &key),
            n,
            "{labels:?}"
        );
        assert!(
            !labels["route"].contains('-'),
            "a raw path leaked into a label: {labels:?}"
        );
    }
    assert_eq!(
        m.value(
            "faena_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_request_and_job_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start_with_env(
        &db,
        &["--log-format", "json"],
        &[("RUST_LOG", "info,faena::kind=debug")],
    );
    faena::kinds::fetch_urls::client::install_crypto();
    let http = reqwest::Client::new();

    let resp = http
        .post(server.url("/jobs?wait_ms=10000"))
        .header("x-request-id", "obs-req-1")
        .header("traceparent", TRACEPARENT)
        .json(&json!({"kind": "count_primes", "params": {"start": 0, "end": 100_000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "obs-req-1");
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["result"]["count"], 9592);
    let id = job["id"].as_str().unwrap();

    // Generated when missing or not a sane token.
    for sent in [None, Some("two words"), Some(&*"x".repeat(200))] {
        let mut req = http.get(server.url("/healthz"));
        if let Some(sent) = sent {
            req = req.header("x-request-id", sent);
        }
        let resp = req.send().await.unwrap();
        let got = resp.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(got).is_ok(), "{sent:?} -> {got}");
    }

    // Wait for the run's last line (written after the answer may have gone out).
    let lines = wait_for_log(&server, |lines| {
        lines
            .iter()
            .any(|l| l["message"] == "run ended" && l["span"]["job_id"] == id)
    })
    .await;
    let submitted = lines
        .iter()
        .find(|l| l["message"] == "job submitted")
        .expect("a `job submitted` line");
    assert_eq!(submitted["job_id"], id);
    assert_eq!(submitted["kind"], "count_primes");
    assert_eq!(submitted["span"]["request_id"], "obs-req-1");
    assert_eq!(submitted["trace_id"], TRACE_ID);
    assert_eq!(submitted["level"], "INFO");

    let on_pool = lines
        .iter()
        .find(|l| {
            l["threadName"]
                .as_str()
                .is_some_and(|t| t.starts_with("faena-cpu-"))
        })
        .expect("a line from the rayon pool");
    assert_eq!(on_pool["span"]["job_id"], id, "{on_pool}");
    assert_eq!(on_pool["span"]["kind"], "count_primes");
    let ended = lines.iter().find(|l| l["message"] == "run ended").unwrap();
    assert_eq!(ended["span"]["kind"], "count_primes");
    assert_eq!(ended["span"]["trace_id"], TRACE_ID);
    assert_eq!(ended["outcome"], "succeeded");
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_id_follows_a_job_from_its_submitter_to_its_worker_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start_with_env(
        &db,
        &["--log-format", "json", "--worker-kinds", "resize"],
        &[],
    );
    faena::kinds::fetch_urls::client::install_crypto();
    let http = reqwest::Client::new();
    let job: Value = http
        .post(server.url("/jobs"))
        .header("traceparent", TRACEPARENT)
        .json(&json!({"kind": "resize", "params": {"width": 64}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["traceparent"], TRACEPARENT);
    let id = job["id"].as_str().unwrap();
    let claim = json!({"worker": "w7", "kinds": ["resize"], "wait_ms": 10_000});
    let claimed: Value = (http
        .post(server.url("/workers/claim"))
        .json(&claim)
        .send()
        .await)
        .unwrap()
        .json()
        .await
        .unwrap();
    let held = &claimed["jobs"][0];
    assert_eq!(
        (&held["id"], &held["traceparent"]),
        (&json!(id), &json!(TRACEPARENT))
    );
    let done = json!({"outcomes": [{"id": id, "lease": held["lease"], "result": {"ok": true}}]});
    let answered = http
        .post(server.url("/workers/complete"))
        .json(&done)
        .send();
    assert_eq!(answered.await.unwrap().status(), reqwest::StatusCode::OK);

    let lines = wait_for_log(&server, |lines| {
        lines
            .iter()
            .any(|l| l["message"] == "a worker's run ended" && l["job_id"] == id)
    })
    .await;
    let line = |message: &str| {
        (lines.iter())
            .find(|l| l["message"] == message && l["job_id"] == id)
            .unwrap_or_else(|| panic!("no `{message}` line"))
    };
    assert_eq!(line("job submitted")["trace_id"], TRACE_ID);
    let claimed = line("claimed by a worker");
    assert_eq!(
        (&claimed["trace_id"], &claimed["worker"]),
        (&json!(TRACE_ID), &json!("w7"))
    );
    let ended = line("a worker's run ended");
    assert_eq!(
        (&ended["trace_id"], &ended["worker"], &ended["status"]),
        (&json!(TRACE_ID), &json!("w7"), &json!("succeeded"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_filters_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("faena.db").display());
    // `warn` for faena's API: no `job submitted` line, while the runtime still logs its runs.
    let server = Server::start_with_env(&db, &[], &[("RUST_LOG", "info,faena::api=warn")]);
    faena::kinds::fetch_urls::client::install_crypto();
    let http = reqwest::Client::new();
    let job: Value = http
        .post(server.url("/jobs?wait_ms=10000"))
        .json(&json!({"kind": "sleep", "params": {"ms": 1}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "succeeded");
    let log = wait_for_text(&server, "run ended").await;
    assert!(!log.contains("job submitted"), "{log}");
}

/// The server's log once `done` holds for its lines, each parsed as JSON (every line must be).
async fn wait_for_log(server: &Server, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let parse = |log: &str| -> Vec<Value> {
        log.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    parse(&logged(server, |log| done(&parse(log))).await)
}

/// The server's log once it contains `text`.
async fn wait_for_text(server: &Server, text: &str) -> String {
    logged(server, |log| log.contains(text)).await
}

/// The server's log once `done` holds for it (10 s at most).
async fn logged(server: &Server, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = server.log();
        if done(&log) {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
