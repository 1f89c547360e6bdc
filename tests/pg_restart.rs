//! PostgreSQL itself restarted, or stopped for a while, under running faena instances: they
//! say so (`/readyz` and every store-bound request answer 503, the process stays up), keep
//! the results of the runs that end meanwhile, reconnect and carry on; no accepted job is
//! lost.
//!
//! Restarting the server disturbs everything else connected to it, so this runs only when
//! `FAENA_TEST_PG_RESTART` holds the command that restarts the server of
//! `FAENA_TEST_POSTGRES_URL` (`.ci/run` sets both; cargo runs test binaries one at a time, so
//! no other test is connected meanwhile). Otherwise it prints that it skipped.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use faena_testing::PgScratch;
use serde_json::json;
use support::{Server, final_state, submit, until_running};

/// The two tests stop the one server: one at a time.
static SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The command restarting the test server (its last word, `restart`, is the action), or
/// `None` after printing that `test` skipped.
fn restart_command(test: &str) -> Option<String> {
    let command = std::env::var("FAENA_TEST_PG_RESTART")
        .ok()
        .filter(|c| !c.trim().is_empty());
    if command.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: FAENA_TEST_PG_RESTART (the command restarting the test server) \
             is not set"
        );
    }
    command
}

fn run(command: &str) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let status = Command::new(words[0])
        .args(&words[1..])
        .status()
        .expect("the command runs");
    assert!(status.success(), "`{command}` failed: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_carry_on_through_a_postgresql_restart() {
    let Some(restart) = restart_command("instances_carry_on_through_a_postgresql_restart") else {
        return;
    };
    let _one = SERVER.lock().await;
    let Some(db) = PgScratch::create("instances_carry_on_through_a_postgresql_restart").await
    else {
        return;
    };
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    let servers: Vec<Server> = (0..2)
        .map(|i| Server::start(&db.url, &["--instance-id", &format!("node-{i}")]))
        .collect();
    let mut accepted = Vec::new();
    for i in 0..20 {
        let body = json!({"kind": "sleep", "params": {"ms": 2_000}});
        accepted.push(
            submit(&client, &servers[i % 2], body)
                .await
                .expect("accepted"),
        );
    }
    until_running(&client, &servers[0], &accepted[..2]).await;

    run(&restart);

    // Submissions succeed again once the instances have reconnected.
    let back = Instant::now();
    for (i, server) in servers.iter().enumerate() {
        loop {
            let body = json!({"kind": "sleep", "params": {"ms": 10}});
            if let Some(id) = submit(&client, server, body).await {
                accepted.push(id);
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(30),
                "node-{i} does not accept jobs 30 s after the restart:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for id in &accepted {
        let job = final_state(&client, &servers[1], id, Duration::from_secs(90)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_503_and_the_instance_recovers_on_its_own() {
    let test = "an_outage_answers_503_and_the_instance_recovers_on_its_own";
    let Some(restart) = restart_command(test) else {
        return;
    };
    let _one = SERVER.lock().await;
    let Some(db) = PgScratch::create(test).await else {
        return;
    };
    let action = |verb: &str| {
        let (head, _) = restart.rsplit_once(' ').expect("`... restart`");
        format!("{head} {verb}")
    };
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    let server = Server::start(&db.url, &["--instance-id", "outage"]);
    // A run that ends while the database is away keeps its result until it can write it.
    let running = submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 1_500}}),
    )
    .await
    .expect("accepted");
    until_running(&client, &server, std::slice::from_ref(&running)).await;

    run(&action("stop"));
    let down = Instant::now();
    let status = |path: &'static str| {
        let (client, url) = (client.clone(), server.url(path));
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    // `/readyz` notices (its ping fails), the process stays alive.
    loop {
        if status("/readyz").await.ok() == Some(503) {
            break;
        }
        assert!(
            down.elapsed() < Duration::from_secs(20),
            "readyz still ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status("/healthz").await.ok(), Some(200));
    let resp = client
        .post(server.url("/jobs"))
        .json(&json!({"kind": "sleep", "params": {"ms": 1}}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert!(resp.headers().get("retry-after").is_some());
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc["code"], "store_unavailable", "{doc}");
    let listed = status("/jobs").await.ok();
    assert_eq!(listed, Some(503));

    run(&action("start"));
    // Ready again, accepting, and the run that ended meanwhile is recorded as it ended.
    let back = Instant::now();
    let id = loop {
        if let Some(id) = submit(
            &client,
            &server,
            json!({"kind": "sleep", "params": {"ms": 1}}),
        )
        .await
        {
            break id;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "not accepting 30 s after the database came back:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status("/readyz").await.ok(), Some(200));
    for id in [&running, &id] {
        let job = final_state(&client, &server, id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempt"], 1, "{job}");
    }
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
