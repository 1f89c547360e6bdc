//! Remote workers: the runtime's door for the jobs of worker kinds
//! ([`crate::kind::WorkerKind`]). A worker claims jobs, long-polling until one is ready;
//! renews their leases; completes or fails them. Each step is the store operation the local
//! runner uses, fenced by the claim's lease, and observed like every commit (waiters, event
//! streams, metrics). The server keeps the deadline: an answer that comes after it times the
//! job out instead, and a lease that expires (the worker died, the network broke) is rescued
//! like a crashed local run.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Inner, Runtime};
use crate::job::{
    Job, JobClass, JobError, JobErrorCode, JobKind, JobProgress, JobResult, JobStatus,
};
use tokio::sync::oneshot;

use crate::store::{LeaseState, Outcome, RunEnd, StoreError, WORKER_OWNER, now};

pub use crate::store::Lease;

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub struct WorkerJob {
    pub job: Arc<Job>,
    pub lease: Lease,
    /// When the lease runs out unless a heartbeat renews it, on this instance's clock (the
    /// database's decides on PostgreSQL: time by `lease_ms`, not by this).
    pub lease_expires_at: DateTime<Utc>,
    /// When the job times out (its start plus `timeout_ms`).
    pub deadline_at: DateTime<Utc>,
    /// The lease's length: what each heartbeat renews it for.
    pub lease_ms: u64,
    /// From the claim to `deadline_at`, by this server's clock.
    pub deadline_in_ms: u64,
}

/// How a worker ended a job's run.
#[derive(Debug, Clone)]
pub enum WorkerEnd {
    Complete(JobResult),
    /// Failed with `error`: queued again after a back-off while attempts remain when
    /// `retryable`, else final.
    Fail {
        error: JobError,
        retryable: bool,
    },
    /// Handed back unrun (the worker is stopping): queued again, the attempt uncounted.
    HandBack,
}

impl WorkerEnd {
    fn outcome(self) -> Outcome {
        match self {
            Self::Complete(result) => Outcome::Succeeded(result),
            Self::Fail {
                error,
                retryable: true,
            } => Outcome::Retry(error),
            Self::Fail { error, .. } => Outcome::Failed(error),
            Self::HandBack => Outcome::Requeue,
        }
    }
}

/// A worker's answer for one job it holds.
#[derive(Debug, Clone)]
pub struct WorkerAnswer {
    pub lease: Lease,
    pub end: WorkerEnd,
    /// The run's last progress.
    pub progress: Option<JobProgress>,
}

/// A renewed lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewed {
    pub lease_expires_at: DateTime<Utc>,
    /// Someone asked to cancel the job: the worker should stop and fail it.
    pub cancel_requested: bool,
}

/// Why a worker's request changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The kinds asked for are not all worker kinds of this server.
    #[error("`{0}` is not a worker kind of this server")]
    NotAWorkerKind(String),
    /// The lease is no longer the job's: it expired and the job was claimed again, or the
    /// job ended (cancelled, deleted, timed out) or does not exist.
    #[error("the lease is no longer current")]
    StaleLease,
    /// The job's deadline passed: it is timed out now, and the answer was not recorded.
    #[error("the job's deadline passed before the answer came; it is timed out")]
    DeadlinePassed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Runtime {
    /// Claims up to `max` queued jobs of `kinds` (worker kinds) for `worker`, in the order
    /// jobs are claimed (priority, then age). When none is ready, waits up to `wait` for one:
    /// answered as soon as a submission or a released dependency makes one claimable (here
    /// or, on PostgreSQL, on another instance); jobs that only come due (a `run_after`, a
    /// retry's back-off) are seen within the poll interval.
    ///
    /// The claim runs on a task of its own: when the caller goes away (its client gone, its
    /// time up) before the jobs reach it, they are handed back, their attempt uncounted,
    /// instead of staying leased to nobody.
    pub async fn claim_for_worker(
        &self,
        worker: &str,
        kinds: &[JobKind],
        max: usize,
        wait: Duration,
    ) -> Result<Vec<WorkerJob>, WorkerError> {
        let rt = &self.inner;
        for kind in kinds {
            let entry = rt.kinds.get(kind.as_str());
            if !entry.is_some_and(|k| k.enabled() && k.class() == JobClass::Worker) {
                return Err(WorkerError::NotAWorkerKind(kind.to_string()));
            }
        }
        let (mut tx, rx) = oneshot::channel();
        let (rt, kinds) = (Arc::clone(rt), kinds.to_vec());
        let owner = format!("{WORKER_OWNER}{worker}");
        tokio::spawn(async move {
            let claimed = tokio::select! {
                claimed = claim(&rt, &owner, &kinds, max, wait) => claimed,
                () = tx.closed() => return,
            };
            if let Err(Ok(jobs)) = tx.send(claimed) {
                hand_back(&rt, jobs).await;
            }
        });
        rx.await
            .map_err(|_| StoreError::Corrupt("the claim's task ended without an answer".into()))?
    }

    /// Renews the lease of a job a worker holds, with its progress.
    pub async fn worker_heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
    ) -> Result<Renewed, WorkerError> {
        let rt = &self.inner;
        passed_deadline(rt, lease).await?;
        let for_ = rt.config.worker_lease;
        let at = now();
        match rt.store.heartbeat(lease, progress, for_).await? {
            LeaseState::Held { cancel_requested } => Ok(Renewed {
                lease_expires_at: at + for_,
                cancel_requested,
            }),
            LeaseState::Lost => Err(WorkerError::StaleLease),
        }
    }

    /// Records how a worker ended a job's run; the job as it leaves it.
    pub async fn worker_end(&self, answer: WorkerAnswer) -> Result<Job, WorkerError> {
        let id = answer.lease.id;
        answer_one(&self.inner, answer).await?;
        let job = self.inner.store.get(id).await?;
        // Deleted (by its tenant) since: the answer was recorded all the same.
        job.ok_or(WorkerError::StaleLease)
    }

    /// Records many answers at once, in one transaction, each on its own: the status each
    /// left its job in, or why it changed nothing (as [`Runtime::worker_end`]). A store that
    /// fails fails them all (none was recorded).
    pub async fn worker_ends(
        &self,
        answers: Vec<WorkerAnswer>,
    ) -> Result<Vec<Result<JobStatus, WorkerError>>, StoreError> {
        let rt = &self.inner;
        let at = now();
        let leases: Vec<Lease> = answers.iter().map(|a| a.lease).collect();
        let ends = (answers.into_iter())
            .map(|a| RunEnd::answered(a.lease, a.end.outcome(), a.progress, at))
            .collect();
        let statuses = rt.store.finish_many(ends).await?;
        let mut answered = Vec::with_capacity(leases.len());
        for (lease, status) in leases.into_iter().zip(statuses) {
            answered.push(match status {
                Some(status) => Ok(status),
                None => Err(refusal(rt, lease).await),
            });
        }
        Ok(answered)
    }
}

/// Records one answer: the status it left its job in. The store checks, in the statement that
/// writes it, that the lease is current, a worker holds the run and its deadline has not
/// passed; only an answer it refuses costs a read, to tell why (and to time the job out when
/// its deadline passed).
async fn answer_one(rt: &Inner, answer: WorkerAnswer) -> Result<JobStatus, WorkerError> {
    let WorkerAnswer {
        lease,
        end,
        progress,
    } = answer;
    let end = RunEnd::answered(lease, end.outcome(), progress, now());
    match rt.store.finish(end).await? {
        Some(status) => Ok(status),
        None => Err(refusal(rt, lease).await),
    }
}

/// Why the store refused an answer under `lease`: its deadline passed (the job is timed out
/// now), or the lease is stale.
async fn refusal(rt: &Inner, lease: Lease) -> WorkerError {
    passed_deadline(rt, lease)
        .await
        .err()
        .unwrap_or(WorkerError::StaleLease)
}

/// Claims for `owner`, waiting up to `wait` for a job.
async fn claim(
    rt: &Inner,
    owner: &str,
    kinds: &[JobKind],
    max: usize,
    wait: Duration,
) -> Result<Vec<WorkerJob>, WorkerError> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        // Registered before the claim: a job queued meanwhile wakes this wait.
        let ready = rt.worker_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let lease = rt.config.worker_lease;
        // Before the claim: the lease it reports ends no later than the one stored.
        let at = now();
        let claimed = (rt.store)
            .claim(JobClass::Worker, kinds, max, owner, lease)
            .await?;
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if !claimed.is_empty() || left.is_zero() {
            return Ok(claimed
                .into_iter()
                .map(|c| worker_job(c.job, c.lease, at, lease))
                .collect());
        }
        let nap = left.min(rt.config.poll_interval);
        tokio::select! {
            () = ready => {}
            () = tokio::time::sleep(nap) => {}
            () = rt.stop_claiming.cancelled() => return Ok(Vec::new()),
        }
    }
}

/// Hands back jobs claimed for a worker that is gone: queued again, the attempt uncounted.
async fn hand_back(rt: &Inner, jobs: Vec<WorkerJob>) {
    for job in jobs {
        let end = RunEnd::answered(job.lease, Outcome::Requeue, None, now());
        if let Err(err) = rt.store.finish(end).await {
            // Its lease runs out instead, and the rescue settles it.
            write_failed!(warn, err, job_id = %job.lease.id, "handing back a claimed job failed");
        }
    }
}

/// The claim of `job` under `lease`, as a worker is told of it.
fn worker_job(job: Arc<Job>, lease: Lease, at: DateTime<Utc>, for_: Duration) -> WorkerJob {
    let started = job.started_at.unwrap_or(at);
    let deadline_at = started + Duration::from_millis(job.timeout_ms);
    // The start is recorded a moment after `at` (to the millisecond): never more than the
    // timeout itself.
    let deadline_in = (deadline_at - at).to_std().unwrap_or_default();
    let deadline_in = deadline_in.min(Duration::from_millis(job.timeout_ms));
    WorkerJob {
        job,
        lease,
        lease_expires_at: at + for_,
        deadline_at,
        lease_ms: u64::try_from(for_.as_millis()).unwrap_or(u64::MAX),
        deadline_in_ms: u64::try_from(deadline_in.as_millis()).unwrap_or(u64::MAX),
    }
}

/// When the deadline of the job `lease` holds has passed, times it out (if the lease is still
/// its own) and says so. A lease of no running job of a worker kind is stale: the workers'
/// routes never touch the server's own runs.
async fn passed_deadline(rt: &Inner, lease: Lease) -> Result<(), WorkerError> {
    let job = rt
        .store
        .get(lease.id)
        .await?
        .ok_or(WorkerError::StaleLease)?;
    if rt.kinds.class_of(job.kind) != Some(JobClass::Worker) {
        return Err(WorkerError::StaleLease);
    }
    let Some(started) = job.started_at.filter(|_| !job.is_final()) else {
        return Err(WorkerError::StaleLease);
    };
    let deadline = started + Duration::from_millis(job.timeout_ms);
    if now() < deadline {
        return Ok(());
    }
    let error = JobError::new(
        JobErrorCode::TimedOut,
        format!(
            "the worker did not finish within timeout_ms = {}",
            job.timeout_ms
        ),
    );
    let end = RunEnd::imposed(lease, Outcome::TimedOut(error), now());
    match rt.store.finish(end).await? {
        Some(_) => Err(WorkerError::DeadlinePassed),
        None => Err(WorkerError::StaleLease),
    }
}
