//! Submitting jobs: admission against the queue cap, the insert, and the start of a job at
//! its insert when a slot of its class is free here (see [`super::start`]). Whatever follows
//! a stored job (event streams, metrics, the dispatcher's wake-up) follows from the commit,
//! through the observer.

use std::sync::Arc;
use std::time::Duration;

use super::{Inner, Runtime, StartSlot};
use crate::job::Job;
use crate::store::{NewJob, StoreError};

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Storing it would pass `--max-queued-jobs`.
    #[error("the queue is full: {queued} jobs queued, at most {limit}")]
    QueueFull { queued: u64, limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Runtime {
    /// Stores `new` once admitted against the queue cap: started at its insert when a slot of
    /// its class is free here and nothing claimable of its class is queued ahead of it (it
    /// then runs at once), else queued. The stored job, as committed.
    pub async fn submit(&self, mut new: NewJob) -> Result<Arc<Job>, SubmitError> {
        // A free slot here and nothing of its class queued: the insert starts the job.
        let slot = new
            .startable_at_insert()
            .then(|| StartSlot::take(&self.inner, new.kind))
            .flatten();
        new.start = slot.as_ref().map(StartSlot::claim);
        let Some(slot) = slot else {
            return insert(&self.inner, new).await;
        };
        // The insert and the start on a task of their own: a request dropped meanwhile (its
        // client gone, its time up) cannot leave a job stored `running` that nothing runs.
        let rt = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let stored = insert(&rt, new).await;
            if let Ok(job) = &stored {
                slot.run(job);
            }
            stored
        })
        .await
        .map_err(|err| SubmitError::Store(StoreError::Corrupt(format!("insert task: {err}"))))?
    }

    /// Stores the jobs of `new` in one transaction, each queued (none starts at its insert),
    /// once all are admitted against the queue cap (all or none). The outer error when none
    /// was stored; else one result per job, in order: a job naming a dependency that does not
    /// exist is refused alone.
    pub async fn submit_many(
        &self,
        new: Vec<NewJob>,
    ) -> Result<Vec<Result<Arc<Job>, StoreError>>, SubmitError> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let rt = &self.inner;
        let n = new.len() as u64;
        admit(rt, n)?;
        // Known not final from before the insert on, so that an end cannot come first.
        new.iter().for_each(|job| rt.waiters.expect(job.id));
        let ids: Vec<_> = new.iter().map(|job| job.id).collect();
        let inserted = rt.store.insert_many(new).await;
        let queued = |r: &Result<Arc<Job>, StoreError>| r.as_ref().is_ok_and(|job| !job.is_final());
        let stored = match &inserted {
            Ok(results) => results.iter().filter(|r| queued(r)).count() as u64,
            Err(_) => 0,
        };
        admitted(rt, n, stored);
        let results = inserted.inspect_err(|_| ids.iter().for_each(|id| rt.waiters.forget(*id)))?;
        for (id, result) in ids.iter().zip(&results) {
            if !queued(result) {
                rt.waiters.forget(*id);
            }
        }
        Ok(results)
    }
}

/// Admits `new` against the queue cap and inserts it.
async fn insert(rt: &Inner, new: NewJob) -> Result<Arc<Job>, SubmitError> {
    admit(rt, 1)?;
    // Known not final from before the insert on, so that its end cannot come first.
    let id = new.id;
    rt.waiters.expect(id);
    let inserted = rt.store.insert(new).await;
    // Queued (a job its insert started is not).
    let queued = inserted
        .as_ref()
        .is_ok_and(|job| job.status == crate::job::JobStatus::Queued);
    admitted(rt, 1, u64::from(queued));
    if !inserted.as_ref().is_ok_and(|job| !job.is_final()) {
        rt.waiters.forget(id);
    }
    Ok(inserted?)
}

/// Admits `n` more queued jobs unless that would pass the cap; call [`admitted`] once their
/// insert answered.
fn admit(rt: &Inner, n: u64) -> Result<(), SubmitError> {
    let limit = rt.config.max_queued;
    rt.queue_cap
        .admit(n, limit)
        .map_err(|queued| SubmitError::QueueFull { queued, limit })
}

/// The insert of `n` admitted jobs answered, `stored` of them were queued.
fn admitted(rt: &Inner, n: u64, stored: u64) {
    rt.queue_cap.answered(n, stored);
}

/// Counts the queued jobs every `every` (the queue cap's gauge), until shutdown.
pub(super) async fn count_queued(rt: Arc<Inner>, every: Duration) {
    loop {
        let start = rt.queue_cap.count_starts();
        match rt.store.count_queued().await {
            Ok(n) => rt.queue_cap.counted(start, n),
            Err(err) => tracing::warn!(error = ?err, "counting queued jobs failed"),
        }
        tokio::select! {
            () = rt.stop_claiming.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
