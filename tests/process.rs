//! Process tests: the real `faena` binary, killed with SIGKILL mid-run and stopped with
//! SIGTERM, restarted on the same database.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, final_state, get, submit, until_running};

/// `faena serve` on the SQLite file `db`, with two CPU slots.
fn start(db: &Path) -> Server {
    let url = format!("sqlite://{}", db.display());
    Server::start(&url, &["--max-cpu-jobs", "2", "--cpu-threads", "2"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_no_accepted_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("faena.db");
    let mut server = start(&db);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();

    // A CPU job that outlives the process and may not be retried; sleeps that may.
    let big = submit(
        &client,
        &server,
        json!({"kind": "count_primes", "priority": 10,
        "max_attempts": 1, "params": {"start": 0, "end": 1_000_000_000_000_000_000u64}}),
    )
    .await
    .unwrap();
    let mut sleeps = Vec::new();
    for _ in 0..5 {
        sleeps.push(
            submit(
                &client,
                &server,
                json!({"kind": "sleep", "params": {"ms": 1500}}),
            )
            .await
            .unwrap(),
        );
    }
    until_running(&client, &server, &[big.clone(), sleeps[0].clone()]).await;

    // Keep submitting while the process dies: every 202 must survive.
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let (landed, twenty_landed) = tokio::sync::oneshot::channel::<()>();
    let spammer = {
        let (client, url, accepted) = (client.clone(), server.url("/jobs"), Arc::clone(&accepted));
        tokio::spawn(async move {
            let mut landed = Some(landed);
            for i in 0..10_000u64 {
                let body = json!({"kind": "count_primes", "params": {"start": 0, "end": 1000 + i}});
                let Ok(resp) = client.post(&url).json(&body).send().await else {
                    break;
                };
                if resp.status() != reqwest::StatusCode::ACCEPTED {
                    break;
                }
                let Ok(job) = resp.json::<Value>().await else {
                    break;
                };
                let mut accepted = accepted.lock().unwrap();
                accepted.push((job["id"].as_str().unwrap().to_string(), 1000 + i));
                if accepted.len() == 20 {
                    landed.take().map(|tx| tx.send(()));
                }
            }
        })
    };
    // Let some submissions land, then kill.
    tokio::time::timeout(Duration::from_secs(30), twenty_landed)
        .await
        .expect("twenty submissions land within 30 s")
        .expect("the submitter is alive");
    server.kill();
    spammer.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();

    let server = start(&db);
    let big_job = final_state(&client, &server, &big, Duration::from_secs(30)).await;
    assert_eq!(big_job["status"], "failed", "{big_job}");
    assert_eq!(big_job["error"]["code"], "interrupted");
    assert_eq!(big_job["attempt"], 1);
    for id in &sleeps {
        let job = final_state(&client, &server, id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["result"], json!({"slept_ms": 1500}));
    }
    let rerun = get(&client, &server, &sleeps[0], 0).await;
    assert_eq!(
        rerun["attempt"], 2,
        "the sleep that was running when the process died ran again"
    );
    // Its interrupted first attempt is on record.
    assert_eq!(rerun["errors"].as_array().map(Vec::len), Some(1), "{rerun}");
    assert_eq!(rerun["errors"][0]["attempt"], 1, "{rerun}");
    assert_eq!(rerun["errors"][0]["code"], "interrupted", "{rerun}");
    assert_eq!(big_job["errors"][0]["code"], "interrupted", "{big_job}");
    // Every job accepted before the kill is there and ends with the right count.
    let reference = |end: u64| {
        (2..end)
            .filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0))
            .count()
    };
    for (id, end) in &accepted {
        let job = final_state(&client, &server, id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["result"]["count"], reference(*end) as u64, "{job}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_running_jobs_back_without_counting_the_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("faena.db");
    let mut server = start(&db);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    let cpu = submit(
        &client,
        &server,
        json!({"kind": "count_primes",
        "params": {"start": 0, "end": 1_000_000_000_000_000_000u64}}),
    )
    .await
    .unwrap();
    let io = submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 600_000}}),
    )
    .await
    .unwrap();
    until_running(&client, &server, &[cpu.clone(), io.clone()]).await;

    let (status, took) = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");

    let server = start(&db);
    for id in [&cpu, &io] {
        let job = get(&client, &server, id, 0).await;
        assert!(
            matches!(job["status"].as_str(), Some("queued" | "running")),
            "{job}"
        );
        // The interrupted run was handed back, so this is (at most) the first counted run.
        assert!(job["attempt"].as_u64().unwrap() <= 1, "{job}");
        assert!(job["error"].is_null(), "{job}");
    }
    // Both run again, as their first counted attempt, with no failed attempt on record.
    until_running(&client, &server, &[cpu.clone(), io.clone()]).await;
    for id in [&cpu, &io] {
        let job = get(&client, &server, id, 0).await;
        assert_eq!(job["attempt"], 1, "{job}");
        assert_eq!(job["errors"], json!([]), "{job}");
    }
}

/// A job waiting for another survives a crash: after the restart its dependency runs again
/// (its interrupted attempt counts) and then releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_dependent_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("faena.db");
    let mut server = start(&db);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    let root = submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 1_000}}),
    )
    .await
    .unwrap();
    let body = json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": [root]});
    let dependent = submit(&client, &server, body).await.unwrap();
    until_running(&client, &server, std::slice::from_ref(&root)).await;
    server.kill();

    let server = start(&db);
    let dependent = final_state(&client, &server, &dependent, Duration::from_secs(30)).await;
    let root = get(&client, &server, &root, 0).await;
    assert_eq!(root["status"], "succeeded", "{root}");
    assert_eq!(root["attempt"], 2, "{root}");
    assert_eq!(dependent["status"], "succeeded", "{dependent}");
    assert_eq!(dependent["attempt"], 1, "{dependent}");
    assert!(
        dependent["started_at"].as_str() >= root["finished_at"].as_str(),
        "{dependent} started before {root} ended"
    );
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_faena"))
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("faena migrate runs");
    assert!(out.status.success(), "{out:?}");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{url}: {files} migrations applied")
    );
}

/// `faena healthcheck` (the container health check) exits 0 for a ready server and 1 for
/// none; `faena ready` is the same command.
#[test]
fn healthcheck_tells_a_ready_server_from_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("faena.db"));
    let check = |command: &str, url: &str| {
        Command::new(env!("CARGO_BIN_EXE_faena"))
            .args([command, "--url", url])
            .output()
            .expect("faena healthcheck runs")
    };
    for command in ["healthcheck", "ready"] {
        let up = check(command, &server.url(""));
        assert!(up.status.success(), "{command}: {up:?}");
    }
    let addr = server.addr;
    drop(server);
    let down = check("healthcheck", &format!("http://{addr}"));
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

/// `--kinds`: an instance leaves queued jobs of the kinds it does not run alone, for an
/// instance that runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_claims_only_the_kinds_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("faena.db");
    let url = format!("sqlite://{}", db.display());
    let one_slot = ["--max-cpu-jobs", "1", "--cpu-threads", "1"];
    let mut server = Server::start(&url, &one_slot);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    // The primes hold the only CPU slot, so the factorial is still queued at the SIGTERM.
    let big = json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000_000_000_000_000u64}});
    let big = submit(&client, &server, big).await.unwrap();
    until_running(&client, &server, std::slice::from_ref(&big)).await;
    let small = json!({"kind": "factorial", "params": {"numbers": [10]}});
    let small = submit(&client, &server, small).await.unwrap();
    assert!(server.terminate().0.success());

    let mut server = Server::start(&url, &["--kinds", "sleep"]);
    let sleep = json!({"kind": "sleep", "params": {"ms": 0}});
    let sleep = submit(&client, &server, sleep).await.unwrap();
    let done = final_state(&client, &server, &sleep, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    for id in [&big, &small] {
        let job = get(&client, &server, id, 0).await;
        assert_eq!(job["status"], "queued", "{job}");
    }
    // The primes would take the whole pool for minutes: cancel them while queued.
    let cancel = client
        .post(server.url(&format!("/jobs/{big}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), reqwest::StatusCode::ACCEPTED);
    assert!(server.terminate().0.success());

    let server = Server::start(&url, &["--max-cpu-jobs", "2", "--cpu-threads", "2"]);
    let job = final_state(&client, &server, &small, Duration::from_secs(30)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
}

/// A small CPU job beside a big one ends on its own work's time, not the big one's: submitted
/// while the big sieve runs, it ends within 2 s, while the sieve still runs (with one rayon
/// pool for both it waited for the sieve's chunks: 4 to 9 s here; in pools of their own,
/// 9 ms median and 50 ms at worst in the release build, see docs/benchmarks.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_cpu_job_does_not_wait_for_a_big_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("faena.db"));
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    // Tens of seconds of sieving on two threads: it outlives the small jobs by far.
    let start = 1_000_000_000_000_000_u64;
    let body = json!({"kind": "count_primes", "params": {"start": start, "end": start + 200_000_000_000u64}});
    let big = submit(&client, &server, body).await.unwrap();
    until_running(&client, &server, std::slice::from_ref(&big)).await;
    for _ in 0..3 {
        let body = json!({"kind": "factorial", "params": {"numbers": [10]}});
        let submitted = std::time::Instant::now();
        let small = submit(&client, &server, body).await.unwrap();
        let small = final_state(&client, &server, &small, Duration::from_secs(60)).await;
        let took = submitted.elapsed();
        assert_eq!(small["status"], "succeeded", "{small}");
        assert!(took < Duration::from_secs(2), "the small job took {took:?}");
        assert_eq!(small["result"]["results"][0]["digits"], 7, "10! = 3628800");
        let big = get(&client, &server, &big, 0).await;
        assert_eq!(
            big["status"], "running",
            "the small job waited for the big one: {big}"
        );
    }
    let cancel = client
        .post(server.url(&format!("/jobs/{big}/cancel")))
        .send()
        .await;
    assert!(cancel.unwrap().status().is_success());
}
