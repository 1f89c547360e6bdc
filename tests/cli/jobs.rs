//! The life of jobs through the client: `submit` printing a bare id, `cancel`, `wait` and
//! `submit --wait` exiting 1 for jobs that did not succeed (cancelled, timed out, failed
//! dependency), and `list` with its filters.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{Cli, serve};

/// A sleep that outlives any test, until it is cancelled.
const LONG_SLEEP: [&str; 5] = ["sleep", "-p", "ms=600000", "--timeout-ms", "900000"];

#[test]
fn a_cancelled_job_makes_wait_exit_1_and_its_dependents_fail() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);

    // Without --wait, stdout is the id and a newline: `id=$(faena submit …)`.
    let ran = cli.run(&[&["submit"], &LONG_SLEEP[..]].concat()).exits(0);
    let id = ran.stdout.strip_suffix('\n').expect("one line");
    assert!(id.parse::<uuid::Uuid>().is_ok(), "{ran:?}");

    let ran = cli.run(&["cancel", id]).exits(0);
    assert_eq!(ran.stdout, "cancelled\n");

    let ran = cli.run(&["wait", id]).exits(1);
    assert_eq!(ran.stdout, "", "no result to print");
    assert!(
        ran.stderr
            .starts_with(&format!("faena: job {id} cancelled: cancelled by request")),
        "{ran:?}"
    );
    let job = cli.run(&["wait", id, "--output", "json"]).exits(1).json();
    assert_eq!(job["status"], "cancelled");
    assert_eq!(cli.run(&["get", id]).exits(0).json(), job);

    // Cancelling it again is an error answer from the server.
    let ran = cli.run(&["cancel", id]).exits(2);
    assert!(ran.stderr.starts_with("faena: 409 job_final: "), "{ran:?}");

    // A job that depends on it fails without running.
    let ran = cli
        .run(&[
            "submit",
            "sleep",
            "-p",
            "ms=0",
            "--depends-on",
            id,
            "--wait",
        ])
        .exits(1);
    assert!(
        ran.stderr.contains(" failed (dependency_failed): "),
        "{ran:?}"
    );
}

#[test]
fn a_job_past_its_deadline_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);
    let args = [
        "submit",
        "count_primes",
        "-p",
        "start=0",
        "-p",
        "end=1000000000000000000",
        "--timeout-ms",
        "200",
        "--max-attempts",
        "1",
        "--wait",
    ];
    let ran = cli.run(&args).exits(1);
    assert_eq!(ran.stdout, "");
    assert!(ran.stderr.contains(" timed_out: "), "{ran:?}");

    let job = cli
        .run(&[&args[..], &["--output", "json"]].concat())
        .exits(1)
        .json();
    assert_eq!(job["status"], "timed_out");
    assert_eq!(job["error"]["code"], "timed_out");
}

/// The ids of a `list --output json`.
fn listed(cli: &Cli, args: &[&str]) -> BTreeSet<String> {
    let page = cli
        .run(&[&["list"], args, &["--output", "json"]].concat())
        .exits(0)
        .json();
    let jobs = page["jobs"].as_array().expect("jobs").iter();
    jobs.map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_filters_by_status_and_kind_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let cli = Cli::new(&server);
    let done: BTreeSet<String> = (0..2)
        .map(|_| cli.submit(&["sleep", "-p", "ms=0", "--wait"]))
        .collect();
    let primes = cli.submit(&["count_primes", "-p", "start=0", "-p", "end=100", "--wait"]);
    let cancelled = cli.submit(&LONG_SLEEP);
    cli.run(&["cancel", &cancelled]).exits(0);

    let mut succeeded = done.clone();
    succeeded.insert(primes.clone());
    assert_eq!(listed(&cli, &["--status", "succeeded"]), succeeded);
    assert_eq!(
        listed(&cli, &["--status", "succeeded", "--kind", "sleep"]),
        done
    );
    assert_eq!(
        listed(&cli, &["--status", "cancelled"]),
        [cancelled.clone()].into()
    );
    assert_eq!(listed(&cli, &["--status", "queued"]), BTreeSet::new());

    // The table: a header, then one aligned row per job.
    let ran = cli.run(&["list", "--status", "cancelled"]).exits(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{ran:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "KIND", "STATUS", "ATTEMPT", "PROGRESS", "CREATED"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[..3], [cancelled.as_str(), "sleep", "cancelled"]);
    assert_eq!(lines[1].find("sleep"), lines[0].find("KIND"));
    assert_eq!(ran.stderr, "");

    // Pages: newest first, the cursor on stderr for the next one.
    let ran = cli.run(&["list", "--limit", "1"]).exits(0);
    assert!(ran.stdout.contains(&cancelled), "{ran:?}");
    let cursor = ran
        .stderr
        .strip_prefix("faena: more jobs: --cursor ")
        .expect("a cursor")
        .trim();
    let next: Value = cli
        .run(&[
            "list", "--limit", "1", "--cursor", cursor, "--output", "json",
        ])
        .exits(0)
        .json();
    assert_eq!(next["jobs"][0]["id"], primes.as_str());

    cli.run(&["list", "--status", "lost"]).exits(2);
}
