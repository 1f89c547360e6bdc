//! Scheduling order: when a slot frees up, the queued job of highest priority runs first,
//! and among equal priorities the oldest.

use faena::job::{Job, JobId, JobStatus};
use serde_json::json;

use crate::helpers::TestApp;

/// Fills the only slot of its class with `blocker`, queues `jobs` behind it, frees the slot
/// and returns the jobs in the order they started.
async fn run_order(app: &TestApp, blocker: serde_json::Value, jobs: &[(&str, i32)]) -> Vec<String> {
    let blocker = app.submit_ok(&blocker).await;
    app.wait_running(blocker.id).await;
    let mut queued: Vec<(String, JobId)> = Vec::new();
    for (name, priority) in jobs {
        let body = json!({"kind": "sleep", "params": {"ms": 20}, "priority": priority});
        queued.push((name.to_string(), app.submit_ok(&body).await.id));
    }
    assert_eq!(
        app.cancel(blocker.id).await.status(),
        reqwest::StatusCode::ACCEPTED
    );

    let mut done: Vec<(String, Job)> = Vec::new();
    for (name, id) in queued {
        let job = app.wait_final(id).await;
        assert_eq!(job.status, JobStatus::Succeeded, "{name}: {job:?}");
        done.push((name, job));
    }
    done.sort_by_key(|(_, job)| job.started_at);
    // One slot: each job started after the one before it finished.
    for pair in done.windows(2) {
        let (before, after) = (&pair[0].1, &pair[1].1);
        assert!(
            before.finished_at <= after.started_at,
            "{before:?} overlaps {after:?}"
        );
        assert!(before.started_at < after.started_at);
    }
    done.into_iter().map(|(name, _)| name).collect()
}

const JOBS: [(&str, i32); 5] = [
    ("p0", 0),
    ("p50 first", 50),
    ("p-10", -10),
    ("p50 second", 50),
    ("p100", 100),
];
const EXPECTED: [&str; 5] = ["p100", "p50 first", "p50 second", "p0", "p-10"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_jobs_run_highest_priority_first_then_oldest_first() {
    let Some(app) = TestApp::spawn_with(|c| c.max_io_jobs = 1).await else {
        return;
    };
    let blocker = json!({"kind": "sleep", "params": {"ms": 60_000}});
    assert_eq!(run_order(&app, blocker, &JOBS).await, EXPECTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocker_of_another_class_does_not_hold_up_the_queue() {
    // With the only CPU slot busy, I/O jobs still run: the classes have separate slots.
    let Some(app) = TestApp::spawn_with(|c| c.max_cpu_jobs = Some(1)).await else {
        return;
    };
    let cpu = app
        .submit_ok(&json!({"kind": "count_primes",
                           "params": {"start": 0, "end": 1_000_000_000_000_000_000_u64}}))
        .await;
    app.wait_running(cpu.id).await;
    let io = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    assert_eq!(app.wait_final(io.id).await.status, JobStatus::Succeeded);
    assert_eq!(app.job(cpu.id).await.status, JobStatus::Running);
    app.cancel(cpu.id).await;
    assert_eq!(app.wait_final(cpu.id).await.status, JobStatus::Cancelled);
}
