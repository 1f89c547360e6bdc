//! The runs of remote workers: claimed for the worker's name, answered with the claim's
//! lease only, and timed out by the server once past their deadline, whatever their lease.

use std::time::Duration;

use serde_json::json;

use super::LEASE;
use crate::job::{JobClass, JobErrorCode, JobStatus, SubmitOptions, test_kind};
use crate::store::tests::{Backend, store};
use crate::store::{NewJob, Outcome, RunEnd, WORKER_OWNER, now};

fn resize(timeout_ms: u64) -> NewJob {
    NewJob::new(
        test_kind("sleep"),
        json!({"width": 640}),
        SubmitOptions {
            timeout_ms,
            priority: 0,
            max_attempts: 3,
            run_after: None,
        },
    )
}

async fn a_workers_run_past_its_deadline_is_timed_out_and_others_are_not(backend: Backend) {
    let Some(store) = store(
        backend,
        "a_workers_run_past_its_deadline_is_timed_out_and_others_are_not",
    )
    .await
    else {
        return;
    };
    let kinds = [test_kind("sleep")];
    let short = store.insert(resize(50)).await.unwrap();
    let long = store.insert(resize(60_000)).await.unwrap();
    let owner = format!("{WORKER_OWNER}w1");
    let claimed = store
        .claim(JobClass::Worker, &kinds, 10, &owner, LEASE)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        claimed
            .iter()
            .all(|c| c.job.instance.as_deref() == Some(owner.as_str()))
    );
    // Past the short one's deadline (the store keeps milliseconds).
    let started = claimed
        .iter()
        .find(|c| c.job.id == short.id)
        .unwrap()
        .job
        .started_at;
    let deadline = started.unwrap() + Duration::from_millis(60);
    while now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Other kinds' runs are not the workers' to time out.
    let other = store
        .time_out_overdue(&[test_kind("factorial")])
        .await
        .unwrap();
    assert_eq!(other.timed_out, 0);
    let swept = store.time_out_overdue(&kinds).await.unwrap();
    assert_eq!((swept.timed_out, swept.requeued, swept.failed), (1, 0, 0));
    let timed_out = store.get(short.id).await.unwrap().unwrap();
    assert_eq!(timed_out.status, JobStatus::TimedOut);
    assert_eq!(
        timed_out.error.map(|e| e.code),
        Some(JobErrorCode::TimedOut)
    );
    assert_eq!(
        store.get(long.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    // Again: nothing left to time out.
    assert_eq!(store.time_out_overdue(&kinds).await.unwrap().timed_out, 0);

    // The worker's answer for the timed-out run changes nothing; for the other it does.
    let lease_of = |id| claimed.iter().find(|c| c.job.id == id).unwrap().lease;
    let late = RunEnd::answered(
        lease_of(short.id),
        Outcome::Succeeded(json!(1).into()),
        None,
        now(),
    );
    assert_eq!(store.finish(late).await.unwrap(), None);
    let done = RunEnd::answered(
        lease_of(long.id),
        Outcome::Succeeded(json!(2).into()),
        None,
        now(),
    );
    assert_eq!(
        store.finish(done).await.unwrap(),
        Some(JobStatus::Succeeded)
    );
    let finished = store.get(long.id).await.unwrap().unwrap();
    assert_eq!(finished.status, JobStatus::Succeeded);
    assert_eq!(finished.result.map(|r| r.value()), Some(json!(2)));
}

async fn a_restart_leaves_the_runs_of_remote_workers_alone(backend: Backend) {
    let Some(store) = store(backend, "a_restart_leaves_the_runs_of_remote_workers_alone").await
    else {
        return;
    };
    let sleep = [test_kind("sleep")];
    let remote = store.insert(resize(60_000)).await.unwrap();
    let owner = format!("{WORKER_OWNER}w1");
    let claimed = (store
        .claim(JobClass::Worker, &sleep, 1, &owner, LEASE)
        .await)
        .unwrap();
    assert_eq!(claimed[0].job.id, remote.id);
    let local = store.insert(resize(60_000)).await.unwrap();
    let mine = (store.claim(JobClass::Io, &sleep, 1, "me", LEASE).await).unwrap();
    assert_eq!(mine[0].job.id, local.id);
    // "me" starts again: its own run was interrupted, the worker's was not.
    let recovered = store.recover_interrupted("me").await.unwrap();
    assert_eq!(recovered.requeued, 1);
    assert_eq!(
        store.get(local.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    let still = store.get(remote.id).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.instance),
        (JobStatus::Running, Some(owner))
    );
}

async fn an_answer_counts_only_from_a_worker_and_before_the_deadline(backend: Backend) {
    let Some(store) = store(
        backend,
        "an_answer_counts_only_from_a_worker_and_before_the_deadline",
    )
    .await
    else {
        return;
    };
    let sleep = [test_kind("sleep")];
    // The server's own run: no worker's answer reaches it, whatever the lease.
    let local = store.insert(resize(60_000)).await.unwrap();
    let mine = (store.claim(JobClass::Io, &sleep, 1, "me", LEASE).await).unwrap();
    let done = |outcome| RunEnd::answered(mine[0].lease, outcome, None, now());
    for outcome in [
        Outcome::Succeeded(json!(1).into()),
        Outcome::Retry(crate::job::JobError::new(JobErrorCode::WorkerFailed, "x")),
        Outcome::Requeue,
    ] {
        assert_eq!(store.finish(done(outcome)).await.unwrap(), None);
    }
    let job = store.get(local.id).await.unwrap().unwrap();
    assert_eq!((job.status, job.result), (JobStatus::Running, None));

    // A worker's run: answers dated at or past its deadline are refused, final or not; one
    // before it is recorded.
    let remote = store.insert(resize(1_000)).await.unwrap();
    let owner = format!("{WORKER_OWNER}w1");
    let held = (store
        .claim(JobClass::Worker, &sleep, 1, &owner, LEASE)
        .await)
        .unwrap();
    let deadline = held[0].job.started_at.unwrap() + Duration::from_millis(1_000);
    let at = |at, outcome| RunEnd::answered(held[0].lease, outcome, None, at);
    let failure = crate::job::JobError::new(JobErrorCode::WorkerFailed, "Boom: no");
    for late in [deadline, deadline + Duration::from_millis(1)] {
        for outcome in [
            Outcome::Succeeded(json!(1).into()),
            Outcome::Retry(failure.clone()),
            Outcome::Requeue,
        ] {
            assert_eq!(store.finish(at(late, outcome)).await.unwrap(), None);
        }
    }
    assert_eq!(
        store.get(remote.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    let early = deadline - Duration::from_millis(1);
    assert_eq!(
        store
            .finish(at(early, Outcome::Retry(failure)))
            .await
            .unwrap(),
        Some(JobStatus::Queued)
    );
}

on_both_stores!(
    a_workers_run_past_its_deadline_is_timed_out_and_others_are_not,
    a_restart_leaves_the_runs_of_remote_workers_alone,
    an_answer_counts_only_from_a_worker_and_before_the_deadline,
);
