//! PostgreSQL itself restarted under two running faena instances: they reconnect and carry
//! on, and no accepted job is lost.
//!
//! Restarting the server disturbs everything else connected to it, so this runs only when
//! `FAENA_TEST_PG_RESTART` holds the command that restarts the server of
//! `FAENA_TEST_POSTGRES_URL` (`.ci/run` sets both; cargo runs test binaries one at a time, so
//! no other test is connected meanwhile). Otherwise it prints that it skipped.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use faena::testing::PgScratch;
use serde_json::json;
use support::{Server, final_state, submit, until_running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_carry_on_through_a_postgresql_restart() {
    let Some(restart) = std::env::var("FAENA_TEST_PG_RESTART")
        .ok()
        .filter(|c| !c.trim().is_empty())
    else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED instances_carry_on_through_a_postgresql_restart: \
             FAENA_TEST_PG_RESTART (the command restarting the test server) is not set"
        );
        return;
    };
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

    let words: Vec<&str> = restart.split_whitespace().collect();
    let status = Command::new(words[0])
        .args(&words[1..])
        .status()
        .expect("the restart command runs");
    assert!(status.success(), "`{restart}` failed: {status}");

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
