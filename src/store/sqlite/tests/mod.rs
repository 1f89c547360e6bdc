//! The SQLite store alone: claim order, fencing of stale attempts, hand-back and crash
//! recovery, and the query plan that keeps a claim from scanning finished jobs.

use std::time::Duration;

use serde_json::json;

use super::{SqliteOptions, SqliteStore, queries};
use crate::job::{JobErrorCode, JobId, JobKind, JobSpec, JobStatus, Limits, SubmitOptions};
use crate::store::{Claimed, JobStore, NewJob, Outcome, now};

const LEASE: Duration = Duration::from_secs(15);

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let store = SqliteStore::open(&url, &SqliteOptions::default())
        .await
        .unwrap();
    (dir, store)
}

/// Claims up to `n` queued sleep jobs for the owner "me".
async fn claim_sleeps(store: &SqliteStore, n: usize) -> Vec<Claimed> {
    store
        .claim(&[JobKind::Sleep], n, "me", LEASE)
        .await
        .unwrap()
}

/// The ids of claimed jobs, in claim order.
fn ids(claimed: &[Claimed]) -> Vec<JobId> {
    claimed.iter().map(|c| c.job.id).collect()
}

fn sleep_job(priority: i32, max_attempts: u32) -> NewJob {
    let spec = JobSpec::parse(JobKind::Sleep, json!({"ms": 1}), &Limits::default()).unwrap();
    NewJob::new(
        spec,
        SubmitOptions {
            timeout_ms: 1000,
            priority,
            max_attempts,
        },
    )
}

#[tokio::test]
async fn claims_highest_priority_then_oldest_and_only_as_many_as_asked() {
    let (_dir, store) = store().await;
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
            .claim(&[JobKind::Factorial], 10, "me", LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_stale_attempt_can_neither_finish_nor_overwrite() {
    let (_dir, store) = store().await;
    let id = store.insert(sleep_job(0, 3)).await.unwrap().id;
    let first = store
        .claim(&[JobKind::Sleep], 1, "a", LEASE)
        .await
        .unwrap()
        .remove(0);
    // Handed back (shutdown) and claimed again: the first lease is now stale.
    assert!(
        store
            .finish(first.lease, Outcome::Requeue, None, now())
            .await
            .unwrap()
    );
    let second = store
        .claim(&[JobKind::Sleep], 1, "b", LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        second.job.attempt, 1,
        "a hand-back does not count the attempt"
    );
    assert_ne!(first.lease.fence, second.lease.fence);
    let stale = Outcome::Succeeded(json!({"slept_ms": 999}).into());
    assert!(!store.finish(first.lease, stale, None, now()).await.unwrap());
    let ok = Outcome::Succeeded(json!({"slept_ms": 1}).into());
    assert!(
        store
            .finish(second.lease, ok.clone(), None, now())
            .await
            .unwrap()
    );
    assert!(
        !store.finish(second.lease, ok, None, now()).await.unwrap(),
        "final is final"
    );
    let job = store.get(id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.result.map(|r| r.value()), Some(json!({"slept_ms": 1})));
}

#[tokio::test]
async fn recovery_requeues_while_attempts_remain_and_fails_the_rest() {
    let (_dir, store) = store().await;
    let retry = store.insert(sleep_job(0, 2)).await.unwrap().id;
    let last = store.insert(sleep_job(0, 1)).await.unwrap().id;
    let queued = store.insert(sleep_job(-1, 1)).await.unwrap().id;
    store
        .claim(&[JobKind::Sleep], 2, "dead", LEASE)
        .await
        .unwrap();
    let recovered = store.recover_interrupted().await.unwrap();
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

#[tokio::test]
async fn a_claim_reads_only_the_head_of_each_kinds_queue() {
    let (_dir, store) = store().await;
    let mut conn = store.reader.acquire().await.unwrap();
    for kinds in [
        &[JobKind::Sleep][..],
        &[JobKind::CountPrimes, JobKind::Factorial][..],
    ] {
        let mut q = sqlx::QueryBuilder::new("EXPLAIN QUERY PLAN ");
        queries::push_claim_candidates(&mut q, kinds, 5, 0);
        let plan: Vec<(i64, i64, i64, String)> =
            q.build_query_as().fetch_all(&mut *conn).await.unwrap();
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        let walks = steps
            .iter()
            .filter(|s| s.starts_with("SEARCH jobs USING INDEX jobs_queued (kind=?)"))
            .count();
        assert_eq!(walks, kinds.len(), "{steps:?}");
        // And never a walk over every job.
        assert!(!steps.iter().any(|s| s.contains("SCAN jobs")), "{steps:?}");
    }
}

#[tokio::test]
async fn an_accepted_cancel_survives_a_hand_back_and_a_crash() {
    let (_dir, store) = store().await;
    let handed_back = store.insert(sleep_job(1, 3)).await.unwrap().id;
    let crashed = store.insert(sleep_job(0, 3)).await.unwrap().id;
    let claimed = store.claim(&[JobKind::Sleep], 2, "a", LEASE).await.unwrap();
    for id in [handed_back, crashed] {
        assert!(matches!(
            store.cancel(id).await.unwrap(),
            crate::store::CancelResult::Requested(_)
        ));
    }
    // Shutdown hands the first run back; the process dies before the second one ends.
    assert!(
        store
            .finish(claimed[0].lease, Outcome::Requeue, None, now())
            .await
            .unwrap()
    );
    let recovered = store.recover_interrupted().await.unwrap();
    assert_eq!((recovered.requeued, recovered.cancelled), (0, 1));
    for id in [handed_back, crashed] {
        let job = store.get(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
        assert_eq!(job.error.map(|e| e.code), Some(JobErrorCode::Cancelled));
    }
    assert!(
        store
            .claim(&[JobKind::Sleep], 2, "b", LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_database() {
    let (dir, store) = store().await;
    let url = format!("sqlite://{}/faena.db", dir.path().display());
    let second = SqliteStore::open(&url, &SqliteOptions::default()).await;
    assert!(
        matches!(second, Err(crate::store::StoreError::Locked(_))),
        "{second:?}"
    );
    drop(store);
    // The lock goes with the store.
    SqliteStore::open(&url, &SqliteOptions::default())
        .await
        .expect("the file is free again");
}

#[tokio::test]
async fn a_failing_write_fails_only_its_caller() {
    let (_dir, store) = store().await;
    let first = sleep_job(0, 3);
    let duplicate = first.clone();
    store.insert(first).await.unwrap();
    // Spawned together on this single-threaded runtime, all nine writes are queued before the
    // writer runs, so they share one batch with the write that fails.
    let dup = tokio::spawn({
        let store = store.clone();
        async move { store.insert(duplicate).await }
    });
    let others: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
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

#[tokio::test]
async fn runs_whose_lease_expired_are_rescued_and_others_are_left_alone() {
    let (_dir, store) = store().await;
    let retry = store.insert(sleep_job(1, 3)).await.unwrap().id;
    let last = store.insert(sleep_job(0, 1)).await.unwrap().id;
    let claimed = store.claim(&[JobKind::Sleep], 2, "a", LEASE).await.unwrap();
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
    let rescued = store.rescue_expired(later, &[]).await.unwrap();
    assert_eq!((rescued.requeued, rescued.failed), (1, 1));
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
            .finish(claimed[0].lease, stale, None, now())
            .await
            .unwrap()
    );
}

mod deps;
mod files;
