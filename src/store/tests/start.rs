//! Jobs started by their insert ([`StartAtInsert`]): only when the store knows of nothing
//! claimable of their class queued ahead of them; then stored running, held by the lease the
//! insert gave them exactly as a claimed job is by its claim's, and out of every claim.

use serde_json::json;

use super::{LEASE, claim_sleeps, ids, sleep_job};
use crate::job::{JobClass, JobProgress, JobStatus, test_kind};
use crate::store::tests::{Backend, store};
use crate::store::{Lease, LeaseState, NewJob, Outcome, StartAtInsert, now};

/// `job`, asking its insert to start it for `me`.
fn starting(job: NewJob) -> NewJob {
    NewJob {
        start: Some(StartAtInsert {
            owner: "me".into(),
            lease: LEASE,
            class: JobClass::Io,
            kinds: vec![test_kind("sleep"), test_kind("fetch_urls")],
        }),
        ..job
    }
}

fn slept() -> Outcome {
    Outcome::Succeeded(json!({"slept_ms": 1}).into())
}

async fn a_job_starts_at_insert_only_with_nothing_queued_ahead(backend: Backend) {
    let Some(store) = store(
        backend,
        "a_job_starts_at_insert_only_with_nothing_queued_ahead",
    )
    .await
    else {
        return;
    };
    // Unknown at first: queued.
    let first = store.insert(starting(sleep_job(0, 3))).await.unwrap();
    assert_eq!((first.status, first.attempt), (JobStatus::Queued, 0));
    // A claim came back short: nothing is queued, until a job is.
    assert_eq!(ids(&claim_sleeps(&store, 10).await), [first.id]);
    let queued = store.insert(sleep_job(-5, 3)).await.unwrap();
    let behind = store.insert(starting(sleep_job(9, 3))).await.unwrap();
    assert_eq!(
        behind.status,
        JobStatus::Queued,
        "never ahead of a queued job, whatever its priority"
    );
    assert_eq!(ids(&claim_sleeps(&store, 10).await), [behind.id, queued.id]);
    let job = store.insert(starting(sleep_job(0, 3))).await.unwrap();
    assert_eq!(
        (job.status, job.attempt, job.instance.as_deref()),
        (JobStatus::Running, 1, Some("me"))
    );
    assert_eq!(job.started_at, Some(job.created_at));
    assert_eq!(store.get(job.id).await.unwrap().as_ref(), Some(&*job));
    assert!(claim_sleeps(&store, 10).await.is_empty(), "never claimed");
    // Something queued elsewhere (another process, a delayed job come due): queued again.
    store.queue_grew();
    let after = store.insert(starting(sleep_job(0, 3))).await.unwrap();
    assert_eq!(after.status, JobStatus::Queued);
    assert_eq!(ids(&claim_sleeps(&store, 10).await), [after.id]);

    // The insert's lease holds the run like a claim's.
    let lease = Lease::at_insert(job.id);
    let progress = Some(JobProgress { done: 1, total: 2 });
    assert_eq!(
        store.heartbeat(lease, progress, LEASE).await.unwrap(),
        LeaseState::Held {
            cancel_requested: false
        }
    );
    let later = now() + chrono::Duration::minutes(1);
    let rescued = store.rescue_expired(later, &[]).await.unwrap();
    assert_eq!(rescued.requeued, 5, "every run, the started one too");
    assert!(
        !store
            .finish_lease(lease, slept(), None, now())
            .await
            .unwrap()
    );
    let again = claim_sleeps(&store, 10).await;
    let rerun = again.iter().find(|c| c.job.id == job.id).expect("claimed");
    assert_eq!(rerun.job.attempt, 2);
    assert!(
        store
            .finish_lease(rerun.lease, slept(), None, now())
            .await
            .unwrap()
    );
    assert_eq!(
        store.get(job.id).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );
}

async fn a_job_with_dependencies_or_a_later_start_is_never_started_by_its_insert(backend: Backend) {
    let Some(store) = store(
        backend,
        "a_job_with_dependencies_or_a_later_start_is_never_started_by_its_insert",
    )
    .await
    else {
        return;
    };
    assert!(claim_sleeps(&store, 10).await.is_empty());
    let first = store.insert(starting(sleep_job(0, 3))).await.unwrap();
    assert_eq!(first.status, JobStatus::Running);
    let mut later = starting(sleep_job(0, 3));
    later.options.run_after = Some(later.created_at + chrono::Duration::hours(1));
    let dependent = starting(sleep_job(0, 3).depending_on(vec![first.id]));
    let results = store.insert_many(vec![dependent, later]).await.unwrap();
    for result in &results {
        let job = result.as_ref().unwrap();
        assert_eq!((job.status, job.attempt), (JobStatus::Queued, 0), "{job:?}");
        assert_eq!(store.get(job.id).await.unwrap().as_ref(), Some(&**job));
    }
    // Released by its dependency's end, the dependent is claimed as any queued job.
    let lease = Lease::at_insert(first.id);
    assert!(
        store
            .finish_lease(lease, slept(), None, now())
            .await
            .unwrap()
    );
    let dependent = results[0].as_ref().unwrap();
    assert_eq!(ids(&claim_sleeps(&store, 10).await), [dependent.id]);
}

async fn a_delayed_job_come_due_unannounced_is_not_overtaken(backend: Backend) {
    let Some(store) = store(
        backend,
        "a_delayed_job_come_due_unannounced_is_not_overtaken",
    )
    .await
    else {
        return;
    };
    let mut delayed = sleep_job(0, 3);
    let due = delayed.created_at + chrono::Duration::milliseconds(50);
    delayed.options.run_after = Some(due);
    let delayed = store.insert(delayed).await.unwrap();
    // Not due yet: the claim comes back short, and nothing says the queue grew since.
    assert!(claim_sleeps(&store, 10).await.is_empty());
    while now() <= due {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The database, asked in the insert's transaction, knows better than the writer.
    let job = store.insert(starting(sleep_job(0, 3))).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(ids(&claim_sleeps(&store, 10).await), [delayed.id, job.id]);
}

async fn a_job_started_at_insert_holds_its_lease_from_the_insert_not_its_creation(
    backend: Backend,
) {
    let Some(store) = store(
        backend,
        "a_job_started_at_insert_holds_its_lease_from_the_insert",
    )
    .await
    else {
        return;
    };
    assert!(claim_sleeps(&store, 10).await.is_empty());
    // Made longer than a lease ago (it waited for the writer, say).
    let mut waited = starting(sleep_job(0, 3));
    waited.created_at = now() - chrono::Duration::from_std(2 * LEASE).unwrap();
    let job = store.insert(waited).await.unwrap();
    assert_eq!(job.status, JobStatus::Running);
    let rescued = store.rescue_expired(now(), &[]).await.unwrap();
    assert_eq!(rescued.requeued, 0, "its lease runs from the insert");
    let later = now() + chrono::Duration::from_std(LEASE).unwrap();
    let rescued = store.rescue_expired(later, &[]).await.unwrap();
    assert_eq!(rescued.requeued, 1, "and ends a lease after it");
}

on_both_stores!(
    a_job_started_at_insert_holds_its_lease_from_the_insert_not_its_creation,
    a_delayed_job_come_due_unannounced_is_not_overtaken,
    a_job_starts_at_insert_only_with_nothing_queued_ahead,
    a_job_with_dependencies_or_a_later_start_is_never_started_by_its_insert,
);
