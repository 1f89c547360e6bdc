//! Dependencies in the store: waiting jobs are never claimed, finishing releases them in the
//! same transaction, and an unsuccessful dependency fails its dependents transitively.

use super::{Backend, claim_sleeps, ids, sleep_job, store};
use crate::job::{JobErrorCode, JobStatus};
use crate::store::commit::{Cause, Committed};
use crate::store::{Outcome, StoreError, now};

async fn a_job_waits_until_all_its_dependencies_are_final(backend: Backend) {
    let Some(store) = store(backend, "a_job_waits_until_all_its_dependencies_are_final").await
    else {
        return;
    };
    let a = store.insert(sleep_job(0, 3)).await.unwrap();
    let b = store.insert(sleep_job(0, 3)).await.unwrap();
    let waiting = store
        .insert(sleep_job(100, 3).depending_on(vec![a.id, b.id]))
        .await
        .unwrap();
    assert_eq!(
        (waiting.status, waiting.depends_on.clone()),
        (JobStatus::Queued, vec![a.id, b.id])
    );
    // The waiting job has the highest priority, yet only its dependencies are claimed.
    let claimed = claim_sleeps(&store, 10).await;
    assert_eq!(ids(&claimed), [a.id, b.id]);
    let done = Outcome::Succeeded(serde_json::json!({}).into());
    assert!(
        store
            .finish_lease(claimed[0].lease, done.clone(), None, now())
            .await
            .unwrap()
    );
    assert!(claim_sleeps(&store, 10).await.is_empty());
    assert!(
        store
            .finish_lease(claimed[1].lease, done, None, now())
            .await
            .unwrap()
    );
    let released = claim_sleeps(&store, 10).await;
    assert_eq!(ids(&released), [waiting.id]);
}

async fn an_unsuccessful_dependency_fails_its_dependents_transitively(backend: Backend) {
    let Some(store) = store(
        backend,
        "an_unsuccessful_dependency_fails_its_dependents_transitively",
    )
    .await
    else {
        return;
    };
    let mut commits = store.commits();
    let a = store.insert(sleep_job(0, 3)).await.unwrap();
    let b = store
        .insert(sleep_job(0, 3).depending_on(vec![a.id]))
        .await
        .unwrap();
    let c = store
        .insert(sleep_job(0, 3).depending_on(vec![b.id]))
        .await
        .unwrap();
    let d = store
        .insert(sleep_job(0, 3).depending_on(vec![c.id, a.id]))
        .await
        .unwrap();
    let claimed = claim_sleeps(&store, 10).await;
    assert_eq!(claimed.len(), 1);
    let error = crate::job::JobError::new(JobErrorCode::Internal, "boom");
    assert!(
        store
            .finish_lease(claimed[0].lease, Outcome::Failed(error), None, now())
            .await
            .unwrap()
    );
    let (mut failed, mut pending) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        failed.push(final_event(&mut commits, &mut pending).await);
    }
    failed.sort();
    assert_eq!(failed, [b.id, c.id, d.id]);
    for (job, culprit) in [(b.id, a.id), (c.id, b.id), (d.id, a.id)] {
        let job = store.get(job).await.unwrap().unwrap();
        assert_eq!((job.status, job.attempt), (JobStatus::Failed, 0));
        let error = job.error.unwrap();
        assert_eq!(error.code, JobErrorCode::DependencyFailed);
        assert!(
            error.message.contains(&culprit.to_string()),
            "{}",
            error.message
        );
    }
    assert!(claim_sleeps(&store, 10).await.is_empty());
}

async fn cancelling_a_waiting_job_releases_its_dependents_and_forgets_its_waits(backend: Backend) {
    let Some(store) = store(
        backend,
        "cancelling_a_waiting_job_releases_its_dependents_and_forgets_its_waits",
    )
    .await
    else {
        return;
    };
    let a = store.insert(sleep_job(0, 3)).await.unwrap();
    let b = store
        .insert(sleep_job(0, 3).depending_on(vec![a.id]))
        .await
        .unwrap();
    let c = store
        .insert(sleep_job(0, 3).depending_on(vec![b.id]))
        .await
        .unwrap();
    store.cancel(b.id).await.unwrap();
    let c = store.get(c.id).await.unwrap().unwrap();
    assert_eq!(
        c.error.map(|e| e.code),
        Some(JobErrorCode::DependencyFailed)
    );
    let waits = store.count_rows("job_waits").await;
    assert_eq!(waits, 0, "no wait outlives its jobs");
    // `a` runs normally; nothing is left to release.
    let claimed = claim_sleeps(&store, 10).await;
    assert_eq!(ids(&claimed), [a.id]);
}

async fn an_interrupted_dependency_out_of_attempts_fails_its_dependents(backend: Backend) {
    let Some(store) = store(
        backend,
        "an_interrupted_dependency_out_of_attempts_fails_its_dependents",
    )
    .await
    else {
        return;
    };
    let a = store.insert(sleep_job(0, 1)).await.unwrap();
    let b = store
        .insert(sleep_job(0, 3).depending_on(vec![a.id]))
        .await
        .unwrap();
    claim_sleeps(&store, 1).await;
    let recovered = store.recover_interrupted("me").await.unwrap();
    assert_eq!(recovered.failed, 1);
    let b = store.get(b.id).await.unwrap().unwrap();
    assert_eq!(
        b.error.map(|e| e.code),
        Some(JobErrorCode::DependencyFailed)
    );
}

async fn unknown_dependencies_are_refused_and_nothing_is_stored(backend: Backend) {
    let Some(store) = store(
        backend,
        "unknown_dependencies_are_refused_and_nothing_is_stored",
    )
    .await
    else {
        return;
    };
    let a = store.insert(sleep_job(0, 3)).await.unwrap();
    let ghost = crate::job::JobId::new();
    let job = sleep_job(0, 3).depending_on(vec![a.id, ghost]);
    let id = job.id;
    match store.insert(job).await {
        Err(StoreError::UnknownDependency(missing)) => assert_eq!(missing, ghost),
        other => panic!("expected UnknownDependency, got {other:?}"),
    }
    assert!(store.get(id).await.unwrap().is_none());
}

on_both_stores!(
    a_job_waits_until_all_its_dependencies_are_final,
    an_unsuccessful_dependency_fails_its_dependents_transitively,
    cancelling_a_waiting_job_releases_its_dependents_and_forgets_its_waits,
    an_interrupted_dependency_out_of_attempts_fails_its_dependents,
    unknown_dependencies_are_refused_and_nothing_is_stored,
);

/// The next job a commit made final as a side effect (other changes skipped): its id, once
/// its state says what failed it.
async fn final_event(
    commits: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Committed>>,
    pending: &mut Vec<crate::job::Job>,
) -> crate::job::JobId {
    loop {
        if let Some(job) = pending.pop() {
            let error = job.error.as_ref().expect("a failed dependent's error");
            assert_eq!(error.code, JobErrorCode::DependencyFailed, "{job:?}");
            return job.id;
        }
        let committed = commits.recv().await.unwrap();
        let settled = (committed.changes.iter())
            .filter(|c| c.cause == Cause::Settled && c.job.is_final())
            .map(|c| (*c.job).clone());
        pending.extend(settled);
    }
}
