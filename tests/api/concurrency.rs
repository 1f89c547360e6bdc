//! Many clients at once: every concurrently submitted job is accepted, runs and is listed,
//! none lost and none doubled.

use std::collections::HashSet;
use std::sync::Arc;

use faena::job::{JobId, JobStatus};
use serde_json::json;

use crate::helpers::TestApp;

const TASKS: usize = 16;
const JOBS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_jobs_from_sixteen_clients_all_succeed() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let app = Arc::new(app);
    let clients: Vec<_> = (0..TASKS)
        .map(|t| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                // Task t submits jobs t, t + 16, t + 32, ... below 200.
                for _ in (t..JOBS).step_by(TASKS) {
                    let job = app
                        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
                        .await;
                    ids.push(job.id);
                }
                for &id in &ids {
                    let done = app.wait_final(id).await;
                    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
                    assert_eq!(done.result.map(|r| r.value()), Some(json!({"slept_ms": 0})));
                    assert_eq!(done.attempt, 1);
                }
                ids
            })
        })
        .collect();
    let mut submitted: Vec<JobId> = Vec::new();
    for client in clients {
        submitted.extend(client.await.expect("a client task"));
    }
    assert_eq!(submitted.len(), JOBS);

    let page = app.list_ok("limit=1000").await;
    assert_eq!(page.jobs.len(), JOBS);
    assert_eq!(page.next_cursor, None);
    assert!(page.jobs.iter().all(|j| j.status == JobStatus::Succeeded));
    let listed: HashSet<JobId> = page.jobs.iter().map(|j| j.id).collect();
    let submitted: HashSet<JobId> = submitted.into_iter().collect();
    assert_eq!(listed, submitted, "exactly the submitted jobs, each once");
    let succeeded = app.list_ok("status=succeeded&limit=1000").await;
    assert_eq!(succeeded.jobs.len(), JOBS);
}
