//! The command-line client end to end: the real `faena` binary as a client (`submit`, `get`,
//! `wait`, `cancel`, `list`, `files`) against the real binary as a server on a fresh SQLite
//! database, checking what it prints and its exit status. Every address is loopback.
//!
//! One module per area; [`Cli`] runs the client and keeps the tests short.

#[path = "../support/mod.rs"]
mod support;
// The page server of the HTTP tests, for `fetch_urls` (each binary uses some of it).
#[allow(dead_code)]
#[path = "../api/pages.rs"]
mod pages;

mod errors;
mod files;
mod jobs;
mod kinds;

use std::process::Command;

use serde_json::Value;
use support::Server;

/// What one run of the client did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Stdout as JSON (the run must have printed one document).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    /// Asserts the exit status; gives the run back.
    #[track_caller]
    pub fn exits(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit status of {self:?}");
        self
    }
}

/// The client, pointed at one server with `--server`; the caller's `FAENA_*` settings are
/// not inherited.
#[derive(Clone)]
pub struct Cli {
    pub server: String,
    env: Vec<(String, String)>,
}

impl Cli {
    pub fn new(server: &Server) -> Self {
        Self::at(&format!("http://{}", server.addr))
    }

    pub fn at(server: &str) -> Self {
        Self {
            server: server.to_string(),
            env: Vec::new(),
        }
    }

    /// The same client with an environment variable set.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `faena ARGS --server URL` to its end.
    pub fn run(&self, args: &[&str]) -> Ran {
        let out = Command::new(env!("CARGO_BIN_EXE_faena"))
            .args(args)
            .args(["--server", &self.server])
            .env_remove("FAENA_SERVER")
            .env_remove("FAENA_API_KEY")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("faena runs");
        Ran {
            code: out.status.code().expect("an exit status, not a signal"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }

    /// [`Cli::run`] off the async runtime (for tests that also serve pages from it).
    pub async fn run_async(&self, args: &[&str]) -> Ran {
        let (cli, args) = (self.clone(), args.iter().map(|a| a.to_string()));
        let args: Vec<String> = args.collect();
        tokio::task::spawn_blocking(move || {
            cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .expect("the client thread")
    }

    /// `submit ARGS --output json` that must be accepted: the job's id.
    pub fn submit(&self, args: &[&str]) -> String {
        let ran = self.run(&[&["submit"], args, &["--output", "json"]].concat());
        let job = ran.exits(0).json();
        job["id"].as_str().expect("the job's id").to_string()
    }
}

/// `faena serve` on a fresh SQLite file in `dir`, with `args`.
pub fn serve(dir: &tempfile::TempDir, args: &[&str]) -> Server {
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    Server::start(&url, args)
}
