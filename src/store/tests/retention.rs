//! Retention and retries in the store: pruning deletes exactly the final jobs past their
//! status's retention (files included), and a retryable failure is queued again with its
//! error on record until the attempts run out.

use std::time::Duration;

use super::{Backend, claim_sleeps, sleep_job, store};
use crate::job::{JobError, JobErrorCode, JobStatus};
use crate::store::{NewFile, Outcome, Retention, now};

fn retry() -> Outcome {
    Outcome::Retry(JobError::new(JobErrorCode::Storage, "the disk hiccuped"))
}

async fn pruning_deletes_only_expired_final_jobs_with_their_files(backend: Backend) {
    let Some(store) = store(backend, "pruning_deletes_only_expired_final_jobs").await else {
        return;
    };
    let ok = store.insert(sleep_job(0, 1)).await.unwrap();
    let bad = store.insert(sleep_job(0, 1)).await.unwrap();
    let waiting = store.insert(sleep_job(0, 1)).await.unwrap();
    let claimed = claim_sleeps(&store, 2).await;
    let lease = |id| claimed.iter().find(|c| c.job.id == id).unwrap().lease;
    let file = NewFile {
        index: 0,
        name: "00000-page".into(),
        content_type: "text/plain".into(),
        content: bytes::Bytes::from_static(b"page"),
    };
    assert!(store.save_file(lease(ok.id), file).await.unwrap());
    let done = crate::job::JobResult::from_json("{}".to_string()).unwrap();
    let at = now();
    store
        .finish_lease(lease(ok.id), Outcome::Succeeded(done), None, at)
        .await
        .unwrap();
    let failed = Outcome::Failed(JobError::new(JobErrorCode::Internal, "boom"));
    store
        .finish_lease(lease(bad.id), failed, None, at)
        .await
        .unwrap();
    // Nothing has been final for a day yet.
    assert_eq!(store.prune(Retention::default()).await.unwrap(), 0);
    // Keep failed jobs, not succeeded ones: only `ok` goes, with its file.
    let keep_failed = Retention {
        succeeded: Some(Duration::ZERO),
        failed: None,
        batch: 10,
    };
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(store.prune(keep_failed).await.unwrap(), 1);
    assert!(store.get(ok.id).await.unwrap().is_none());
    assert_eq!(store.count_rows("job_files").await, 0);
    assert_eq!(
        store.get(bad.id).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    let all = Retention {
        succeeded: Some(Duration::ZERO),
        failed: Some(Duration::ZERO),
        batch: 10,
    };
    assert_eq!(store.prune(all).await.unwrap(), 1);
    // A job that is not final is never pruned.
    assert_eq!(
        store.get(waiting.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
    assert_eq!(store.count_rows("jobs").await, 1);
}

async fn a_retryable_failure_is_retried_until_the_attempts_run_out(backend: Backend) {
    let Some(store) = store(backend, "a_retryable_failure_is_retried").await else {
        return;
    };
    let job = store.insert(sleep_job(0, 2)).await.unwrap();
    let first = claim_sleeps(&store, 1).await[0].lease;
    assert!(
        store
            .finish_lease(first, retry(), None, now())
            .await
            .unwrap()
    );
    let queued = store.get(job.id).await.unwrap().unwrap();
    assert_eq!((queued.status, queued.attempt), (JobStatus::Queued, 1));
    assert_eq!(queued.errors.len(), 1);
    assert_eq!(queued.errors[0].code, JobErrorCode::Storage);
    assert_eq!(queued.errors[0].attempt, 1);
    assert!(
        !store
            .finish_lease(first, retry(), None, now())
            .await
            .unwrap(),
        "stale"
    );
    let second = claim_sleeps(&store, 1).await[0].lease;
    assert!(
        store
            .finish_lease(second, retry(), None, now())
            .await
            .unwrap()
    );
    let failed = store.get(job.id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.attempt), (JobStatus::Failed, 2));
    assert_eq!(failed.error.map(|e| e.code), Some(JobErrorCode::Storage));
    let attempts: Vec<u32> = failed.errors.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    assert!(failed.finished_at.is_some());
}

on_both_stores!(
    pruning_deletes_only_expired_final_jobs_with_their_files,
    a_retryable_failure_is_retried_until_the_attempts_run_out,
);
