//! `GET /jobs`: newest first, filtered by `status` and `kind`, paged with `limit` and
//! `cursor` so that a walk sees every job exactly once.

use std::collections::HashSet;

use faena::job::{JobId, JobStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

fn sleep(ms: u64) -> Value {
    json!({"kind": "sleep", "params": {"ms": ms}})
}

/// Ids of the jobs of `GET /jobs?{query}` (one page, which must be the last).
async fn ids(app: &TestApp, query: &str) -> Vec<JobId> {
    let page = app.list_ok(query).await;
    assert_eq!(page.next_cursor, None, "{query}: one page");
    page.jobs.iter().map(|j| j.id).collect()
}

/// Submits `body` and waits for it to succeed.
async fn finished(app: &TestApp, body: &Value) -> JobId {
    let resp = app.submit_query("wait_ms=20000", body).await;
    let job: faena::job::Job = json_of(resp, StatusCode::OK).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    job.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_by_status_and_kind_newest_first() {
    let Some(app) = TestApp::spawn_with(|c| c.max_io_jobs = 1).await else {
        return;
    };
    let a = finished(&app, &sleep(0)).await;
    let b = finished(
        &app,
        &json!({"kind": "count_primes", "params": {"start": 0, "end": 100}}),
    )
    .await;
    let c = finished(
        &app,
        &json!({"kind": "factorial", "params": {"numbers": [3]}}),
    )
    .await;
    let d = app.submit_ok(&sleep(60_000)).await.id;
    app.wait_running(d).await;
    let e = app.submit_ok(&sleep(0)).await.id;
    let f = app.submit_ok(&sleep(0)).await.id;
    assert_eq!(app.cancel(f).await.status(), StatusCode::ACCEPTED);

    assert_eq!(ids(&app, "").await, [f, e, d, c, b, a]);
    assert_eq!(ids(&app, "status=succeeded").await, [c, b, a]);
    assert_eq!(ids(&app, "status=running").await, [d]);
    assert_eq!(ids(&app, "status=queued").await, [e]);
    assert_eq!(ids(&app, "status=cancelled").await, [f]);
    assert_eq!(ids(&app, "status=timed_out").await, []);
    assert_eq!(ids(&app, "status=failed").await, []);
    assert_eq!(ids(&app, "kind=sleep").await, [f, e, d, a]);
    assert_eq!(ids(&app, "kind=count_primes").await, [b]);
    assert_eq!(ids(&app, "kind=factorial").await, [c]);
    assert_eq!(ids(&app, "kind=sleep&status=queued").await, [e]);
    assert_eq!(ids(&app, "kind=factorial&status=queued").await, []);

    // Each job in the list is the job as `GET /jobs/{id}` serves it.
    for job in app.list_ok("status=succeeded").await.jobs {
        assert_eq!(app.job(job.id).await, job);
    }
    app.cancel(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_job_exactly_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mut submitted = Vec::new();
    for _ in 0..105 {
        submitted.push(app.submit_ok(&sleep(0)).await.id);
    }
    let newest_first: Vec<JobId> = submitted.iter().rev().copied().collect();

    // All at once, newest first: ids descending.
    let all = ids(&app, "limit=1000").await;
    assert_eq!(all, newest_first);
    assert!(all.windows(2).all(|w| w[0] > w[1]));

    // The default page is 100 jobs.
    let first = app.list_ok("").await;
    assert_eq!(first.jobs.len(), 100);
    assert_eq!(first.next_cursor, Some(newest_first[99].to_string()));
    let rest = app
        .list_ok(&format!("cursor={}", first.next_cursor.unwrap()))
        .await;
    assert_eq!(rest.jobs.len(), 5);
    assert_eq!(rest.next_cursor, None);

    // Pages of 7: 15 pages, the last one with a null cursor, no duplicates, no gaps.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=7&cursor={c}"),
            None => "limit=7".to_string(),
        };
        let page = app.list_ok(&query).await;
        pages += 1;
        assert!(page.jobs.len() <= 7);
        walked.extend(page.jobs.iter().map(|j| j.id));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(page.jobs.len(), 7);
                assert_eq!(next, page.jobs[6].id.to_string());
                cursor = Some(next);
            }
            None => break,
        }
        assert!(pages < 100, "the walk does not end");
    }
    assert_eq!(pages, 15);
    assert_eq!(walked, newest_first);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 105);

    // A page that ends exactly on the last job says so with a null cursor.
    let page = app
        .list_ok(&format!("limit=5&cursor={}", newest_first[99]))
        .await;
    assert_eq!(page.jobs.len(), 5);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_filtered_list_hold_only_matching_jobs() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mut sleeps = Vec::new();
    for i in 0..12 {
        if i % 3 == 0 {
            finished(
                &app,
                &json!({"kind": "factorial", "params": {"numbers": [i]}}),
            )
            .await;
        }
        sleeps.push(finished(&app, &sleep(0)).await);
    }
    sleeps.reverse();
    let mut walked = Vec::new();
    let mut query = "kind=sleep&status=succeeded&limit=5".to_string();
    loop {
        let page = app.list_ok(&query).await;
        assert!(page.jobs.iter().all(|j| j.status == JobStatus::Succeeded));
        walked.extend(page.jobs.iter().map(|j| j.id));
        let Some(next) = page.next_cursor else { break };
        query = format!("kind=sleep&status=succeeded&limit=5&cursor={next}");
    }
    assert_eq!(walked, sleeps);
    assert_eq!(ids(&app, "kind=factorial&limit=1000").await.len(), 4);
}
