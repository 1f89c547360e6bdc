//! Several `faena serve` processes on one PostgreSQL database, as a load balancer would run
//! them: any instance accepts any request and runs any job; a job whose instance dies goes
//! to another; cancels and long-polls work across instances; dropped database connections
//! cost nothing accepted.
//!
//! Each test has a schema of its own on the test server (`FAENA_TEST_POSTGRES_URL`) and
//! prints that it skipped when none is configured.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use faena_testing::PgScratch;
use futures_util::StreamExt;
use serde_json::{Value, json};
use support::{Server, final_state, get, submit, until_running};

/// A short lease, so that a dead instance's jobs move within the test's patience.
const LEASE_MS: u64 = 2_000;
const HEARTBEAT_MS: u64 = 500;

/// Starts instance `name` on `db` with `args` added to the short lease.
fn instance(db: &PgScratch, name: &str, args: &[&str]) -> Server {
    instance_with_env(db, name, args, &[("RUST_LOG", "info")])
}

/// [`instance`] with environment variables of its own.
fn instance_with_env(db: &PgScratch, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let lease = LEASE_MS.to_string();
    let heartbeat = HEARTBEAT_MS.to_string();
    let mut all = vec![
        "--instance-id",
        name,
        "--lease-ms",
        &lease,
        "--heartbeat-ms",
        &heartbeat,
    ];
    all.extend_from_slice(args);
    Server::start_with_env(&db.url, &all, envs)
}

/// Starts `n` instances at the same time (their migrations race: the advisory lock must
/// serialise them), named `node-0`…
fn instances(db: &PgScratch, n: usize, args: &[&str]) -> Vec<Server> {
    std::thread::scope(|s| {
        let started: Vec<_> = (0..n)
            .map(|i| s.spawn(move || instance(db, &format!("node-{i}"), args)))
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn client() -> reqwest::Client {
    faena::kinds::fetch_urls::client::install_crypto();
    reqwest::Client::new()
}

fn time(job: &Value, field: &str) -> DateTime<Utc> {
    job[field]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{field} of {job}"))
}

/// How many runs each instance says it ended (its `run ended` log lines).
fn runs_ended(servers: &[Server]) -> Vec<usize> {
    servers
        .iter()
        .map(|s| s.log().matches("run ended").count())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_run_3000_jobs_each_exactly_once_and_all_take_part() {
    let Some(db) = PgScratch::create("three_instances_run_3000_jobs").await else {
        return;
    };
    let servers = instances(&db, 3, &[]);
    let client = client();
    const JOBS: usize = 3_000;
    // Round-robin over the instances, 64 requests in flight.
    let ids: Vec<String> = futures_util::stream::iter(0..JOBS)
        .map(|i| {
            let (client, server) = (&client, &servers[i % 3]);
            async move {
                let body = json!({"kind": "sleep", "params": {"ms": 5}});
                submit(client, server, body).await.expect("accepted")
            }
        })
        .buffered(64)
        .collect()
        .await;
    // Each job read back from another instance than the one that took it.
    let jobs: Vec<Value> = futures_util::stream::iter(ids.iter().enumerate())
        .map(|(i, id)| {
            let (client, server) = (&client, &servers[(i + 1) % 3]);
            async move { final_state(client, server, id, Duration::from_secs(120)).await }
        })
        .buffered(64)
        .collect()
        .await;
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    for job in &jobs {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 1, "one attempt: {job}");
        assert_eq!(job["result"], json!({"slept_ms": 5}), "{job}");
        let ran_on = job["instance"].as_str().expect("the instance that ran it");
        *per_instance.entry(ran_on.to_string()).or_default() += 1;
    }
    eprintln!("jobs per instance: {per_instance:?}");
    assert_eq!(
        per_instance.len(),
        3,
        "every instance ran jobs: {per_instance:?}"
    );
    // Each run ended once, on the instance the job names, and no stale end was tried.
    let ended = runs_ended(&servers);
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(ended[i], per_instance[&format!("node-{i}")], "node-{i}");
        assert!(
            !server.log().contains("moved on"),
            "node-{i}:\n{}",
            server.log()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_jobs_finish_on_the_others_within_the_lease() {
    let Some(db) = PgScratch::create("a_killed_instances_jobs_finish_on_the_others").await else {
        return;
    };
    let client = client();
    let mut doomed = instance(&db, "doomed", &[]);
    let mut ids = Vec::new();
    for _ in 0..6 {
        let body = json!({"kind": "sleep", "params": {"ms": 1_000}, "max_attempts": 2});
        ids.push(submit(&client, &doomed, body).await.unwrap());
    }
    // A CPU job too, of a few seconds: its kernel dies with the process, its job must not.
    let body =
        json!({"kind": "count_primes", "params": {"start": 0, "end": 100_000_000_000_000u64}});
    ids.push(submit(&client, &doomed, body).await.unwrap());
    until_running(&client, &doomed, &ids).await;
    let survivors = [instance(&db, "a", &[]), instance(&db, "b", &[])];
    doomed.kill();
    let killed_at = Utc::now();
    for id in &ids {
        let job = final_state(&client, &survivors[0], id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 2, "one interrupted attempt, one run: {job}");
        assert!(matches!(job["instance"].as_str(), Some("a" | "b")), "{job}");
        let picked_up = (time(&job, "started_at") - killed_at)
            .to_std()
            .unwrap_or_default();
        let bound = Duration::from_millis(LEASE_MS) + Duration::from_secs(5);
        assert!(
            picked_up < bound,
            "{job} started {picked_up:?} after the kill"
        );
    }
    let primes = get(&client, &survivors[1], ids.last().unwrap(), 0).await;
    assert_eq!(primes["result"]["count"], 3_204_941_750_802u64, "π(10^14)");
    assert_eq!(runs_ended(&survivors).iter().sum::<usize>(), ids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_one_instance_stops_the_run_on_another_within_a_second() {
    let Some(db) = PgScratch::create("a_cancel_on_one_instance_stops_the_run").await else {
        return;
    };
    let client = client();
    // The default heartbeat (5 s): only the notification can make it within a second.
    let runner = Server::start(&db.url, &["--instance-id", "runner"]);
    let sleep = json!({"kind": "sleep", "params": {"ms": 600_000}});
    let cpu = json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000_000_000_000_000u64}});
    let mut ids = Vec::new();
    for body in [sleep, cpu] {
        ids.push(submit(&client, &runner, body).await.unwrap());
    }
    until_running(&client, &runner, &ids).await;
    let other = Server::start(&db.url, &["--instance-id", "other"]);
    for id in &ids {
        let asked = Instant::now();
        let resp = client
            .post(other.url(&format!("/jobs/{id}/cancel")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
        let job = final_state(&client, &other, id, Duration::from_secs(10)).await;
        let took = asked.elapsed();
        assert_eq!(job["status"], "cancelled", "{job}");
        assert_eq!(job["instance"], "runner", "{job}");
        assert!(took < Duration::from_secs(1), "stopped after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_and_answers_cross_instances_within_milliseconds() {
    let Some(db) = PgScratch::create("work_and_answers_cross_instances").await else {
        return;
    };
    let client = client();
    // The busy instance has one I/O slot, taken; the idle one would only look at the queue
    // every minute by itself.
    let busy = Server::start(&db.url, &["--instance-id", "busy", "--max-io-jobs", "1"]);
    let blocker = json!({"kind": "sleep", "params": {"ms": 600_000}});
    let blocker = submit(&client, &busy, blocker).await.unwrap();
    until_running(&client, &busy, std::slice::from_ref(&blocker)).await;
    let _idle = Server::start(
        &db.url,
        &["--instance-id", "idle", "--poll-interval-ms", "60000"],
    );
    for round in 0..20 {
        let body = json!({"kind": "sleep", "params": {"ms": 200}});
        let id = submit(&client, &busy, body).await.unwrap();
        // Long-polled where it was submitted, while it runs on the other instance.
        let asked = Instant::now();
        let job = get(&client, &busy, &id, 10_000).await;
        let answered = asked.elapsed();
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["instance"], "idle", "{job}");
        let pickup = (time(&job, "started_at") - time(&job, "created_at"))
            .to_std()
            .unwrap_or_default();
        assert!(
            pickup < Duration::from_millis(250),
            "round {round}: picked up after {pickup:?}"
        );
        let after_end = answered.saturating_sub(Duration::from_millis(200) + pickup);
        assert!(
            after_end < Duration::from_millis(250),
            "round {round}: answered {answered:?} after asking"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_database_connections_lose_nothing() {
    let Some(db) = PgScratch::create("dropped_database_connections_lose_nothing").await else {
        return;
    };
    let servers = instances(&db, 2, &[]);
    let client = client();
    let mut accepted = Vec::new();
    for round in 0..3 {
        for i in 0..40 {
            let body = json!({"kind": "sleep", "params": {"ms": 300}});
            if let Some(id) = submit(&client, &servers[i % 2], body).await {
                accepted.push(id);
            }
        }
        // Every session of both instances (writer, readers, listeners) ends mid-run.
        let ended = db.terminate_sessions().await;
        assert!(ended >= 4, "round {round}: ended {ended} sessions");
    }
    assert!(accepted.len() >= 100, "{} accepted", accepted.len());
    for id in &accepted {
        let job = final_state(&client, &servers[0], id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    // And both keep serving, new work included.
    for server in &servers {
        let body = json!({"kind": "sleep", "params": {"ms": 1}});
        let id = submit(&client, server, body)
            .await
            .expect("accepted after the drops");
        let job = final_state(&client, server, &id, Duration::from_secs(30)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
}

/// Serves `body` as text/plain to every request on a loopback port, for as long as the test
/// runs; returns the page's URL.
fn page_server(body: &'static str) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            // The request head, up to its blank line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_saved_on_one_instance_are_served_and_counted_by_another() {
    let Some(db) = PgScratch::create("pages_saved_on_one_instance").await else {
        return;
    };
    let client = client();
    let body = "the quick brown fox\njumps over the lazy dog\n";
    let url = page_server(body);
    let fetcher = instance(&db, "fetcher", &["--fetch-allow-private"]);
    let fetch = json!({"kind": "fetch_urls", "params": {"urls": [url, url]}});
    let fetch = submit(&client, &fetcher, fetch).await.unwrap();
    let fetched = final_state(&client, &fetcher, &fetch, Duration::from_secs(30)).await;
    assert_eq!(fetched["result"]["succeeded"], 2, "{fetched}");
    assert_eq!(fetched["instance"], "fetcher", "only one instance was up");
    let reader = instance(&db, "reader", &[]);
    let name = fetched["result"]["pages"][1]["file"].as_str().unwrap();
    let page = client
        .get(reader.url(&format!("/jobs/{fetch}/files/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert_eq!(page.text().await.unwrap(), body);
    // Counted where only the other instance can run it.
    drop(fetcher);
    let count = json!({"kind": "word_count", "params": {"source_job": fetch}});
    let count = submit(&client, &reader, count).await.unwrap();
    let counted = final_state(&client, &reader, &count, Duration::from_secs(30)).await;
    assert_eq!(counted["instance"], "reader", "{counted}");
    assert_eq!(counted["result"]["total_words"], 18, "{counted}");
}

/// Instances whose clocks are an hour apart (`FAENA_CLOCK_OFFSET_MS`, as hosts without time
/// sync would be): leases are taken, renewed and judged on the database's clock, so no
/// instance takes another's live run, neither the one ahead (whose clock would call every
/// other lease expired) nor from the one behind (whose leases would look expired to all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_whose_clocks_disagree_never_take_each_others_runs() {
    let Some(db) = PgScratch::create("instances_whose_clocks_disagree").await else {
        return;
    };
    let hour = 3_600_000_i64;
    let skewed = |name: &str, offset: i64| {
        let offset = offset.to_string();
        let envs = [
            ("RUST_LOG", "info"),
            ("FAENA_CLOCK_OFFSET_MS", offset.as_str()),
        ];
        instance_with_env(&db, name, &[], &envs)
    };
    let servers = [
        skewed("true", 0),
        skewed("ahead", hour),
        skewed("behind", -hour),
    ];
    let client = client();
    // Each starts at its insert on the instance it is submitted to (due at once there and,
    // submitted to the one behind, everywhere), and runs past several lease renewals.
    let mut ids = Vec::new();
    for server in [&servers[0], &servers[2]] {
        for _ in 0..6 {
            let body = json!({"kind": "sleep", "params": {"ms": 2 * LEASE_MS}});
            ids.push(submit(&client, server, body).await.unwrap());
        }
    }
    for id in &ids {
        let job = final_state(&client, &servers[0], id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 1, "never taken from its instance: {job}");
    }
    for server in &servers {
        let log = server.log();
        assert!(!log.contains("rescued runs"), "{log}");
    }
    assert_eq!(runs_ended(&servers).iter().sum::<usize>(), ids.len());
}

/// `--kind-concurrency sleep=1` on three instances: of 200 jobs, never two run at once
/// (from their own started and finished times), and each starts as the one before ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_limited_to_one_never_runs_twice_at_once_across_instances() {
    let Some(db) = PgScratch::create("a_kind_limited_to_one_never_runs_twice").await else {
        return;
    };
    let servers = instances(&db, 3, &["--kind-concurrency", "sleep=1"]);
    let client = client();
    const JOBS: usize = 200;
    let mut ids = Vec::with_capacity(JOBS);
    for i in 0..JOBS {
        let body = json!({"kind": "sleep", "params": {"ms": 5}});
        ids.push(submit(&client, &servers[i % 3], body).await.unwrap());
    }
    let mut runs = Vec::with_capacity(JOBS);
    for id in &ids {
        let job = final_state(&client, &servers[0], id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let instance = job["instance"].as_str().unwrap().to_string();
        runs.push((
            time(&job, "started_at"),
            time(&job, "finished_at"),
            instance,
        ));
    }
    runs.sort();
    for pair in runs.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "two ran at once: {pair:?}");
    }
    let mut by_instance: HashMap<&str, usize> = HashMap::new();
    for (_, _, instance) in &runs {
        *by_instance.entry(instance).or_default() += 1;
    }
    let span = runs.last().unwrap().1 - runs[0].0;
    println!("{JOBS} jobs one at a time in {span}; runs by instance: {by_instance:?}");
}
