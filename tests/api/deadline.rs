//! Deadlines: a run that passes its `timeout_ms` ends `timed_out`, its kernel really stops
//! (the slot frees up, the process stops burning CPU), and the next job runs.

use std::time::{Duration, Instant};

use faena::job::{Job, JobErrorCode, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

/// Counting the primes below 10^18, the largest range there is, takes far longer than any test
/// may (minutes, even analytically).
fn endless_primes(timeout_ms: u64) -> Value {
    json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000_000_000_000_000_u64},
           "timeout_ms": timeout_ms})
}

fn assert_timed_out(job: &Job) {
    assert_eq!(job.status, JobStatus::TimedOut, "{job:?}");
    assert_eq!(
        job.error.as_ref().map(|e| e.code),
        Some(JobErrorCode::TimedOut)
    );
    assert_eq!((job.attempt, job.result.as_ref()), (1, None));
}

/// How long the run lasted, by the job's own timestamps.
fn ran_for(job: &Job) -> Duration {
    let ran = job.finished_at.expect("finished_at") - job.started_at.expect("started_at");
    ran.to_std().expect("finished after it started")
}

/// Submits count_primes [0, 10^6) and checks that it runs to its end promptly.
async fn small_cpu_job_succeeds(app: &TestApp) {
    let body = json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000}});
    let asked = Instant::now();
    let job: Job = json_of(
        app.submit_query("wait_ms=20000", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        job.result.as_ref().map(|r| r.value()),
        Some(json!({"count": 78_498})),
        "{job:?}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_job_past_its_deadline_times_out_and_frees_its_slot() {
    let Some(app) = TestApp::spawn_with(|c| c.max_cpu_jobs = Some(1)).await else {
        return;
    };
    let job = app.submit_ok(&endless_primes(300)).await;
    let done = app.wait_final(job.id).await;
    assert_timed_out(&done);
    let ran = ran_for(&done);
    assert!(
        ran >= Duration::from_millis(299) && ran < Duration::from_secs(2),
        "ran {ran:?}"
    );
    small_cpu_job_succeeds(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factorial_past_its_deadline_times_out_and_frees_its_slot() {
    let Some(app) = TestApp::spawn_with(|c| c.max_cpu_jobs = Some(1)).await else {
        return;
    };
    // A hundred factorials near 10^7, the most a job takes: each is tens of ms of bounds
    // (src/kinds/factorial/bounds.rs), seconds in all, far more than 300 ms.
    let numbers: Vec<u64> = (0..100).map(|i| 10_000_000 - i).collect();
    let body = json!({"kind": "factorial", "params": {"numbers": numbers}, "timeout_ms": 300});
    let job = app.submit_ok(&body).await;
    let done = app.wait_final(job.id).await;
    assert_timed_out(&done);
    let ran = ran_for(&done);
    assert!(ran < Duration::from_secs(2), "ran {ran:?}");
    small_cpu_job_succeeds(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_past_its_deadline_times_out() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let asked = Instant::now();
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 10_000}, "timeout_ms": 100}))
        .await;
    let done = app.wait_final(job.id).await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    assert_timed_out(&done);
    let ran = ran_for(&done);
    assert!(
        ran >= Duration::from_millis(99) && ran < Duration::from_secs(2),
        "ran {ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_with_wait_answers_200_for_a_timed_out_job_too() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let body = json!({"kind": "sleep", "params": {"ms": 10_000}, "timeout_ms": 100});
    let job: Job = json_of(
        app.submit_query("wait_ms=5000", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_timed_out(&job);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_ends_before_its_deadline_succeeds() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let job = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 10}, "timeout_ms": 5_000}))
        .await;
    let done = app.wait_final(job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
}

/// CPU time (user + system) used so far by this whole process, server threads included.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start at field 3; utime and
    // stime are fields 14 and 15, in clock ticks.
    let rest = &stat[stat.rfind(')').expect("a command name") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_deadline_the_process_stops_burning_cpu() {
    // Alone: the measure covers the whole test process, so no other test may be running.
    let Some(app) = TestApp::spawn_alone_with(|c| c.cpu_threads = Some(2)).await else {
        return;
    };
    let job = app.submit_ok(&endless_primes(500)).await;
    // Burning while it runs (proves the measure sees the pool's threads)...
    let running = app.wait_running(job.id).await;
    assert_eq!(running.status, JobStatus::Running);
    let before = process_cpu_time();
    let done = app.wait_final(job.id).await;
    assert_timed_out(&done);
    let burnt = process_cpu_time() - before;
    assert!(
        burnt > Duration::from_millis(100),
        "the kernel burnt only {burnt:?}"
    );

    // ...and idle once timed out.
    let start = process_cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = process_cpu_time() - start;
    assert!(
        idle < Duration::from_millis(300),
        "{idle:?} of CPU time in the second after the deadline"
    );
}
