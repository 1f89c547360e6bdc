//! What the process tests share: `faena serve` as a child process (its log kept, killed when
//! dropped) and a few requests to it, as a client would send them.

#![allow(dead_code)] // Each test binary uses some of it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `faena serve`.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// What it was started with, for [`Server::relaunch`].
    database_url: String,
    args: Vec<String>,
}

impl Server {
    /// Starts `faena serve` on `database_url` with `args`; returns once it listens.
    pub fn start(database_url: &str, args: &[&str]) -> Server {
        Server::start_with_env(database_url, args, &[("RUST_LOG", "info")])
    }

    /// [`Server::start`] with environment variables (`RUST_LOG`, say) set for the process.
    pub fn start_with_env(database_url: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_faena"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(args)
            .envs(envs.iter().copied());
        Server::spawn(command, database_url, args)
    }

    /// A program of `examples/` that serves like `faena serve` (its settings are the flags
    /// and `FAENA_*` variables of `faena serve`), started with only `envs` and `args`.
    pub fn start_example(name: &str, envs: &[(&str, &str)], args: &[&str]) -> Server {
        let mut command = Command::new(example_binary(name));
        command.args(args).envs(envs.iter().copied());
        let url = envs.iter().find(|(k, _)| *k == "FAENA_DATABASE_URL");
        Server::spawn(command, url.map_or("", |(_, v)| v), args)
    }

    /// Starts `command` (a server logging `listening on http://ADDR` to stderr); returns once
    /// it listens.
    fn spawn(mut command: Command, database_url: &str, args: &[&str]) -> Server {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("faena starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        // Drain stderr for the whole life of the child, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    // Text lines end the address with a space, JSON lines with a quote.
                    let addr = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("faena did not start:\n{}", log.lock().unwrap()));
        Server {
            child,
            addr: addr.parse().expect("listen address"),
            log,
            database_url: database_url.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Starts another process on the same database with the same arguments (on a new port):
    /// the next life of this one, typically after [`Server::kill`].
    pub fn relaunch(&self) -> Server {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Server::start(&self.database_url, &args)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The resident memory of the process, in bytes (Linux).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the process's status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    /// SIGKILL, and reaps the process.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM; the exit status and how long the process took to exit.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "faena did not exit after SIGTERM:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Submits `body`; the job's id when accepted (202).
pub async fn submit(client: &reqwest::Client, server: &Server, body: Value) -> Option<String> {
    let resp = client
        .post(server.url("/jobs"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if resp.status() != reqwest::StatusCode::ACCEPTED {
        return None;
    }
    let job: Value = resp.json().await.ok()?;
    Some(job["id"].as_str()?.to_string())
}

/// `GET /jobs/{id}?wait_ms=…` (the job must exist).
pub async fn get(client: &reqwest::Client, server: &Server, id: &str, wait_ms: u64) -> Value {
    client
        .get(server.url(&format!("/jobs/{id}?wait_ms={wait_ms}")))
        .send()
        .await
        .expect("GET job")
        .json()
        .await
        .expect("job JSON")
}

/// Long-polls until the job is final (at most `limit`).
pub async fn final_state(
    client: &reqwest::Client,
    server: &Server,
    id: &str,
    limit: Duration,
) -> Value {
    let started = Instant::now();
    loop {
        let job = get(client, server, id, 5_000).await;
        let status = job["status"].as_str().unwrap_or("");
        if !matches!(status, "queued" | "running") {
            return job;
        }
        assert!(started.elapsed() < limit, "job {id} is still {status}");
    }
}

/// Polls until every job of `ids` is running (the API has no long-poll for that).
pub async fn until_running(client: &reqwest::Client, server: &Server, ids: &[String]) {
    let started = Instant::now();
    loop {
        let mut all = true;
        for id in ids {
            all &= get(client, server, id, 0).await["status"] == "running";
        }
        if all {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "jobs never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The binary of `examples/{name}.rs`, built by `cargo test` with the tests (built here when
/// a narrower `cargo test --test …` left it out).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_faena"))
        .parent()
        .expect("the binary's directory")
        .join("examples");
    let binary = dir.join(name);
    if !binary.exists() {
        let built = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "cargo build --example {name} failed");
    }
    binary
}

/// The value of an unlabelled series (a gauge, a counter) in `/metrics`.
pub async fn metric(client: &reqwest::Client, server: &Server, name: &str) -> f64 {
    let text = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}
