//! The store contract, run on SQLite and on PostgreSQL from the same code: claim order,
//! fencing of stale attempts, hand-back and crash recovery, rescue of expired leases, batch
//! isolation, dependencies and saved files.
//!
//! Each test is an `async fn(Backend)`; [`on_both_stores!`] makes a `#[tokio::test]` of it per
//! backend (`store::tests::sqlite::NAME`, `store::tests::postgres::NAME`). PostgreSQL tests
//! use a fresh schema each (see [`crate::testing`]) and skip, saying so, when none is
//! configured.

#[macro_use]
mod harness;

use std::time::Duration;

use serde_json::json;

use crate::job::{JobClass, JobErrorCode, JobId, JobStatus, SubmitOptions, test_kind};
use crate::store::commit::Cause;
use crate::store::{Claimed, NewJob, Outcome, StoreError, now};
pub(crate) use harness::{Backend, TestStore, store};

const LEASE: Duration = Duration::from_secs(15);

/// Claims up to `n` queued sleep jobs for the owner "me".
async fn claim_sleeps(store: &TestStore, n: usize) -> Vec<Claimed> {
    store
        .claim(JobClass::Io, &[test_kind("sleep")], n, "me", LEASE)
        .await
        .unwrap()
}

/// The ids of claimed jobs, in claim order.
fn ids(claimed: &[Claimed]) -> Vec<JobId> {
    claimed.iter().map(|c| c.job.id).collect()
}

fn sleep_job(priority: i32, max_attempts: u32) -> NewJob {
    NewJob::new(
        test_kind("sleep"),
        json!({"ms": 1}),
        SubmitOptions {
            timeout_ms: 1000,
            priority,
            max_attempts,
            run_after: None,
        },
    )
}

async fn claims_highest_priority_then_oldest_and_only_as_many_as_asked(backend: Backend) {
    let Some(store) = store(
        backend,
        "claims_highest_priority_then_oldest_and_only_as_many_as_asked",
    )
    .await
    else {
        return;
    };
    let mut inserted = Vec::new();
    for priority in [0, 5, 0, 5, -3] {
        inserted.push(store.insert(sleep_job(priority, 3)).await.unwrap().id);
    }
    let first = claim_sleeps(&store, 3).await;
    assert_eq!(ids(&first), [inserted[1], inserted[3], inserted[0]]);
    assert!(
        first
            .iter()
            .all(|c| c.job.status == JobStatus::Running && c.job.attempt == 1)
    );
    let rest = claim_sleeps(&store, 10).await;
    assert_eq!(ids(&rest), [inserted[2], inserted[4]]);
    assert!(claim_sleeps(&store, 10).await.is_empty());
    assert!(
        store
            .claim(JobClass::Cpu, &[test_kind("factorial")], 10, "me", LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_stale_attempt_can_neither_finish_nor_overwrite(backend: Backend) {
    let Some(store) = store(backend, "a_stale_attempt_can_neither_finish_nor_overwrite").await
    else {
        return;
    };
    let id = store.insert(sleep_job(0, 3)).await.unwrap().id;
    let first = store
        .claim(JobClass::Io, &[test_kind("sleep")], 1, "a", LEASE)
        .await
        .unwrap()
        .remove(0);
    // Handed back (shutdown) and claimed again: the first lease is now stale.
    assert!(
        store
            .finish_lease(first.lease, Outcome::Requeue, None, now())
            .await
            .unwrap()
    );
    let second = store
        .claim(JobClass::Io, &[test_kind("sleep")], 1, "b", LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        second.job.attempt, 1,
        "a hand-back does not count the attempt"
    );
    assert_ne!(first.lease.fence, second.lease.fence);
    let stale = Outcome::Succeeded(json!({"slept_ms": 999}).into());
    assert!(
        !store
            .finish_lease(first.lease, stale, None, now())
            .await
            .unwrap()
    );
    let ok = Outcome::Succeeded(json!({"slept_ms": 1}).into());
    assert!(
        store
            .finish_lease(second.lease, ok.clone(), None, now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_lease(second.lease, ok, None, now())
            .await
            .unwrap(),
        "final is final"
    );
    let job = store.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.result.map(|r| r.value()), Some(json!({"slept_ms": 1})));
}

async fn recovery_requeues_while_attempts_remain_and_fails_the_rest(backend: Backend) {
    let Some(store) = store(
        backend,
        "recovery_requeues_while_attempts_remain_and_fails_the_rest",
    )
    .await
    else {
        return;
    };
    let retry = store.insert(sleep_job(0, 2)).await.unwrap().id;
    let last = store.insert(sleep_job(0, 1)).await.unwrap().id;
    let queued = store.insert(sleep_job(-1, 1)).await.unwrap().id;
    // Claimed by this instance's previous life, which crashed.
    store
        .claim(JobClass::Io, &[test_kind("sleep")], 2, "me", LEASE)
        .await
        .unwrap();
    let recovered = store.recover_interrupted("me").await.unwrap();
    assert_eq!((recovered.requeued, recovered.failed), (1, 1));
    let retry = store.get(retry).await.unwrap().unwrap();
    assert_eq!((retry.status, retry.attempt), (JobStatus::Queued, 1));
    let last = store.get(last).await.unwrap().unwrap();
    assert_eq!(last.status, JobStatus::Failed);
    assert_eq!(last.error.map(|e| e.code), Some(JobErrorCode::Interrupted));
    assert_eq!(
        store.get(queued).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
}

async fn an_accepted_cancel_survives_a_hand_back_and_a_crash(backend: Backend) {
    let Some(store) = store(
        backend,
        "an_accepted_cancel_survives_a_hand_back_and_a_crash",
    )
    .await
    else {
        return;
    };
    let handed_back = store.insert(sleep_job(1, 3)).await.unwrap().id;
    let crashed = store.insert(sleep_job(0, 3)).await.unwrap().id;
    let claimed = store
        .claim(JobClass::Io, &[test_kind("sleep")], 2, "me", LEASE)
        .await
        .unwrap();
    for id in [handed_back, crashed] {
        assert!(matches!(
            store.cancel(id).await.unwrap(),
            crate::store::CancelResult::Requested(_)
        ));
    }
    // Shutdown hands the first run back; the process dies before the second one ends.
    assert!(
        store
            .finish_lease(claimed[0].lease, Outcome::Requeue, None, now())
            .await
            .unwrap()
    );
    let recovered = store.recover_interrupted("me").await.unwrap();
    assert_eq!((recovered.requeued, recovered.cancelled), (0, 1));
    for id in [handed_back, crashed] {
        let job = store.get(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
        assert_eq!(job.error.map(|e| e.code), Some(JobErrorCode::Cancelled));
    }
    assert!(
        store
            .claim(JobClass::Io, &[test_kind("sleep")], 2, "b", LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_failing_write_fails_only_its_caller(backend: Backend) {
    let Some(store) = store(backend, "a_failing_write_fails_only_its_caller").await else {
        return;
    };
    let first = sleep_job(0, 3);
    let duplicate = first.clone();
    store.insert(first).await.unwrap();
    // Spawned together on this single-threaded runtime, all nine writes are queued before the
    // writer runs, so they share one batch with the write that fails.
    let dup = tokio::spawn({
        let store = store.handle();
        async move { store.insert(duplicate).await }
    });
    let others: Vec<_> = (0..8)
        .map(|_| {
            let store = store.handle();
            let job = sleep_job(0, 3);
            let id = job.id;
            (id, tokio::spawn(async move { store.insert(job).await }))
        })
        .collect();
    assert!(
        dup.await.unwrap().is_err(),
        "a second job with the same id is refused"
    );
    for (id, task) in others {
        assert_eq!(task.await.unwrap().unwrap().id, id);
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            JobStatus::Queued
        );
    }
}

async fn runs_whose_lease_expired_are_rescued_and_others_are_left_alone(backend: Backend) {
    let Some(store) = store(
        backend,
        "runs_whose_lease_expired_are_rescued_and_others_are_left_alone",
    )
    .await
    else {
        return;
    };
    let retry = store.insert(sleep_job(1, 3)).await.unwrap().id;
    let last = store.insert(sleep_job(0, 1)).await.unwrap().id;
    let claimed = store
        .claim(JobClass::Io, &[test_kind("sleep")], 2, "a", LEASE)
        .await
        .unwrap();
    let nothing = store.rescue_expired(now(), &[]).await.unwrap();
    assert_eq!(
        (nothing.requeued, nothing.failed, nothing.cancelled),
        (0, 0, 0)
    );
    let later = now() + chrono::Duration::minutes(1);
    let kept = store.rescue_expired(later, &[retry, last]).await.unwrap();
    assert_eq!(
        (kept.requeued, kept.failed),
        (0, 0),
        "runs still here are left alone"
    );
    let mut commits = store.commits();
    let rescued = store.rescue_expired(later, &[]).await.unwrap();
    assert_eq!((rescued.requeued, rescued.failed), (1, 1));
    // Both changes are committed as they are: the end, and the run queued again.
    let committed = commits.recv().await.unwrap();
    let mut told: Vec<_> = (committed.changes.iter())
        .map(|c| (c.job.id, c.job.status, c.cause))
        .collect();
    told.sort_by_key(|(_, status, _)| *status != JobStatus::Failed);
    assert_eq!(
        told,
        [
            (last, JobStatus::Failed, Cause::Settled),
            (retry, JobStatus::Queued, Cause::Settled)
        ]
    );
    assert_eq!(
        store.get(retry).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    assert_eq!(
        store.get(last).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    // The rescued attempt's runner can no longer write.
    let stale = Outcome::Succeeded(json!({"slept_ms": 1}).into());
    assert!(
        !store
            .finish_lease(claimed[0].lease, stale, None, now())
            .await
            .unwrap()
    );
}

/// At start, SQLite settles every run (one process per file: whatever runs is its own
/// predecessor's); PostgreSQL only this instance's own runs and expired ones, never those of
/// other live instances.
async fn recovery_at_start_leaves_the_runs_of_live_instances_alone(backend: Backend) {
    let Some(store) = store(
        backend,
        "recovery_at_start_leaves_the_runs_of_live_instances_alone",
    )
    .await
    else {
        return;
    };
    let mine = store.insert(sleep_job(2, 3)).await.unwrap().id;
    let theirs = store.insert(sleep_job(1, 3)).await.unwrap().id;
    let expired = store.insert(sleep_job(0, 3)).await.unwrap().id;
    store
        .claim(JobClass::Io, &[test_kind("sleep")], 1, "me", LEASE)
        .await
        .unwrap();
    store
        .claim(JobClass::Io, &[test_kind("sleep")], 1, "alive", LEASE)
        .await
        .unwrap();
    store
        .claim(
            JobClass::Io,
            &[test_kind("sleep")],
            1,
            "dead",
            Duration::ZERO,
        )
        .await
        .unwrap();
    // Its lease ends at the claim's millisecond: let the clock pass it.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let recovered = store.recover_interrupted("me").await.unwrap();
    let status = |id| {
        let store = &store;
        async move { store.get(id).await.unwrap().unwrap().status }
    };
    let theirs_after = match backend {
        Backend::Sqlite => (3, JobStatus::Queued),
        Backend::Postgres => (2, JobStatus::Running),
    };
    assert_eq!((recovered.requeued, status(theirs).await), theirs_after);
    assert_eq!(status(mine).await, JobStatus::Queued);
    assert_eq!(status(expired).await, JobStatus::Queued);
}

async fn insert_many_stores_all_in_one_transaction_or_nothing(backend: Backend) {
    let Some(store) = store(
        backend,
        "insert_many_stores_all_in_one_transaction_or_nothing",
    )
    .await
    else {
        return;
    };
    let unknown = JobId::new();
    let jobs = vec![
        sleep_job(0, 3),
        sleep_job(0, 3).depending_on(vec![unknown]),
        sleep_job(0, 3),
    ];
    let given: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    let results = store.insert_many(jobs).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().id, given[0]);
    assert!(
        matches!(results[1], Err(StoreError::UnknownDependency(dep)) if dep == unknown),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().status, JobStatus::Queued);
    assert!(store.get(given[1]).await.unwrap().is_none());
    // A job that cannot be stored (its id is taken) fails the whole transaction: none of the
    // others is kept.
    let existing = store.get(given[0]).await.unwrap().unwrap();
    let mut clash = sleep_job(0, 3);
    clash.id = existing.id;
    let fresh = [sleep_job(0, 3), sleep_job(0, 3)];
    let fresh_ids: Vec<JobId> = fresh.iter().map(|j| j.id).collect();
    let [a, b] = fresh;
    assert!(store.insert_many(vec![a, clash, b]).await.is_err());
    for id in fresh_ids {
        assert!(store.get(id).await.unwrap().is_none(), "{id} was stored");
    }
    assert_eq!(
        ids(&claim_sleeps(&store, 10).await),
        vec![given[0], given[2]]
    );
}

on_both_stores!(
    insert_many_stores_all_in_one_transaction_or_nothing,
    recovery_at_start_leaves_the_runs_of_live_instances_alone,
    claims_highest_priority_then_oldest_and_only_as_many_as_asked,
    a_stale_attempt_can_neither_finish_nor_overwrite,
    recovery_requeues_while_attempts_remain_and_fails_the_rest,
    an_accepted_cancel_survives_a_hand_back_and_a_crash,
    a_failing_write_fails_only_its_caller,
    runs_whose_lease_expired_are_rescued_and_others_are_left_alone,
);

mod deps;
mod files;
mod retention;
mod start;
mod state_machine;
mod turns;
mod workers;
