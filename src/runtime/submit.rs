//! Submitting jobs: admission against the tenant's quotas and the queue cap, the insert, and the start of a job at
//! its insert when a slot of its class is free here (see [`super::start`]). Whatever follows
//! a stored job (event streams, metrics, the dispatcher's wake-up) follows from the commit,
//! through the observer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Inner, Runtime, StartSlot};
use crate::job::Job;
use crate::store::{NewJob, StoreError};

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Storing it would pass `--max-queued-jobs`.
    #[error("the queue is full: {queued} jobs queued, at most {limit}")]
    QueueFull { queued: u64, limit: u64 },
    /// Storing it would pass the tenant's `--tenant-max-queued`.
    #[error("the tenant's queue is full: {queued} jobs queued, at most {limit}")]
    TenantQueueFull { queued: u64, limit: u64 },
    /// The tenant submitted faster than `--tenant-rate`: it may again after `retry_after`
    /// (`None`: never, the batch is larger than a window allows).
    #[error("the tenant's submission rate is {rate}")]
    RateLimited {
        rate: super::Rate,
        retry_after: Option<Duration>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Runtime {
    /// Stores `new` once admitted against the queue cap: started at its insert when a slot of
    /// its class is free here and nothing claimable of its class is queued ahead of it (it
    /// then runs at once), else queued. The stored job, as committed.
    pub async fn submit(&self, mut new: NewJob) -> Result<Arc<Job>, SubmitError> {
        // A free slot here and nothing of its class queued: the insert starts the job.
        // Not a kind with a concurrency limit: only a claim counts its running jobs.
        let limited = self.inner.config.kind_concurrency.contains_key(&new.kind);
        let slot = (new.startable_at_insert() && !limited)
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
        // One request, one tenant (the caller's key).
        let admission = Admission::take(rt, new[0].tenant.clone(), n)?;
        // Known not final from before the insert on, so that an end cannot come first.
        new.iter().for_each(|job| rt.waiters.expect(job.id));
        let ids: Vec<_> = new.iter().map(|job| job.id).collect();
        let inserted = rt.store.insert_many(new).await;
        let queued = |r: &Result<Arc<Job>, StoreError>| r.as_ref().is_ok_and(|job| !job.is_final());
        let stored = match &inserted {
            Ok(results) => results.iter().filter(|r| queued(r)).count() as u64,
            Err(_) => 0,
        };
        admission.answered(stored);
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
    let admission = Admission::take(rt, new.tenant.clone(), 1)?;
    // Known not final from before the insert on, so that its end cannot come first.
    let id = new.id;
    rt.waiters.expect(id);
    let inserted = rt.store.insert(new).await;
    // Queued (a job its insert started is not).
    let queued = inserted
        .as_ref()
        .is_ok_and(|job| job.status == crate::job::JobStatus::Queued);
    admission.answered(u64::from(queued));
    if !inserted.as_ref().is_ok_and(|job| !job.is_final()) {
        rt.waiters.forget(id);
    }
    Ok(inserted?)
}

/// Admits `n` more queued jobs of `tenant` unless that would pass its queue cap, the queue
/// cap or its rate (taken last, so that a refused submission costs none of it); see
/// [`Admission`] for giving them back.
fn admit(rt: &Inner, tenant: Option<&str>, n: u64) -> Result<(), SubmitError> {
    let capped = capped(rt, tenant);
    if let Some(tenant) = capped {
        let limit = rt.config.tenants.max_queued;
        (rt.tenant_caps.admit(tenant, n, limit))
            .map_err(|queued| SubmitError::TenantQueueFull { queued, limit })?;
    }
    let limit = rt.config.max_queued;
    let mut admitted =
        (rt.queue_cap.admit(n, limit)).map_err(|queued| SubmitError::QueueFull { queued, limit });
    if let (Ok(()), Some(tenant), Some(limiter)) = (&admitted, tenant, &rt.tenant_rate)
        && let Err(retry_after) = limiter.take(tenant, n, Instant::now())
    {
        rt.queue_cap.answered(n, 0);
        let rate = limiter.rate();
        admitted = Err(SubmitError::RateLimited { rate, retry_after });
    }
    if let (Err(_), Some(tenant)) = (&admitted, capped) {
        rt.tenant_caps.answered(tenant, n, 0);
    }
    admitted
}

/// The tenant whose queued jobs are capped, if `tenant` is (`--tenant-max-queued`).
fn capped<'a>(rt: &Inner, tenant: Option<&'a str>) -> Option<&'a str> {
    tenant.filter(|_| rt.config.tenants.max_queued > 0)
}

/// `n` jobs of `tenant` admitted against the caps, until their insert answers
/// ([`Admission::answered`]). Dropped before that (the request was cut off: its client gone,
/// its time up), they are given back as not stored: a gauge must not keep them in flight for
/// good, and the next count corrects it if the insert committed after all.
struct Admission<'a> {
    rt: &'a Inner,
    tenant: Option<String>,
    n: u64,
    open: bool,
}

impl<'a> Admission<'a> {
    fn take(rt: &'a Inner, tenant: Option<String>, n: u64) -> Result<Self, SubmitError> {
        admit(rt, tenant.as_deref(), n)?;
        Ok(Self {
            rt,
            tenant,
            n,
            open: true,
        })
    }

    /// The insert answered: `stored` of the jobs were queued.
    fn answered(mut self, stored: u64) {
        self.give_back(stored);
    }

    fn give_back(&mut self, stored: u64) {
        if std::mem::take(&mut self.open) {
            self.rt.queue_cap.answered(self.n, stored);
            if let Some(tenant) = capped(self.rt, self.tenant.as_deref()) {
                self.rt.tenant_caps.answered(tenant, self.n, stored);
            }
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.give_back(0);
    }
}

/// Counts the queued jobs every `every` (the queue caps' gauges: in all, and per tenant
/// with `--tenant-max-queued`), until shutdown.
pub(super) async fn count_queued(rt: Arc<Inner>, every: Duration) {
    loop {
        let start = rt.queue_cap.count_starts();
        match rt.store.count_queued().await {
            Ok(n) => rt.queue_cap.counted(start, n),
            Err(err) => tracing::warn!(error = ?err, "counting queued jobs failed"),
        }
        if rt.config.tenants.max_queued > 0 {
            let starts = rt.tenant_caps.count_starts();
            match rt.store.count_queued_by_tenant().await {
                Ok(counted) => rt.tenant_caps.counted(&starts, &counted),
                Err(err) => tracing::warn!(error = ?err, "counting queued jobs per tenant failed"),
            }
        }
        tokio::select! {
            () = rt.stop_claiming.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
