//! What a committed transaction did to jobs ([`Committed`]): the writer hands it to whoever
//! subscribed ([`super::JobStore::commits`]) once the transaction is durable, in commit order.
//! Every state change of every job goes through the writer, so an observer of the commits
//! sees each of them once, whatever path made it: that is where waiters, event streams,
//! metrics and dispatcher wake-ups are fed from.
//!
//! The jobs in it are built by [`inserted`] and [`ended`] from what the writer held and what
//! the statements answered, or read back inside the transaction for changes whose outcome only
//! the database decided (a retry's back-off, a rescue, dependents failed in turn).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Inserted, NewJob, Outcome};
use crate::job::{AttemptError, Job, JobId, JobKind, JobProgress, JobStatus};

/// What one transaction did, in the order its writes ran.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    /// Jobs whose state changed, each as the transaction left it.
    pub changes: Vec<Change>,
    /// Final jobs deleted.
    pub deleted: Vec<Deleted>,
    /// Running jobs asked to stop (their runners stop them).
    pub cancels: Vec<JobId>,
    /// Whether jobs became claimable that no change shows (dependents released).
    pub released: bool,
}

impl Committed {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.deleted.is_empty()
            && self.cancels.is_empty()
            && !self.released
    }
}

/// One job's new state and what made it.
#[derive(Debug, Clone)]
pub struct Change {
    /// Shared with the answer of the write that made it, when that answer is the job.
    pub job: Arc<Job>,
    pub cause: Cause,
}

/// What changed a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Inserted: queued (or waiting), started at its insert, or failed at once (a dependency
    /// had failed).
    Submitted,
    /// Claimed for a run: running.
    Claimed,
    /// The end of a run was recorded: final.
    RunEnded,
    /// A run failed with a retryable error: queued again after its back-off, or final (no
    /// attempts left, a cancel pending).
    Retried,
    /// A run was handed back (shutdown): queued again, or cancelled (a cancel pending).
    HandedBack,
    /// Cancelled while queued.
    Cancelled,
    /// Settled as a consequence of another write: a run whose lease expired or that a crash
    /// left (queued again or final), a dependent failed because its dependency did not
    /// succeed.
    Settled,
}

/// A deleted job, as event streams filter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub id: JobId,
    pub kind: JobKind,
    pub tenant: Option<String>,
}

impl Deleted {
    /// Job `id` as its row named it (`kind` as stored: a kind some process registered).
    pub(crate) fn new(id: JobId, kind: &str, tenant: Option<String>) -> super::Result<Self> {
        let kind =
            JobKind::new(kind).map_err(|_| super::StoreError::Corrupt(format!("kind {kind:?}")))?;
        Ok(Self { id, kind, tenant })
    }
}

/// The job `new` (with `params`, taken out of it) is once inserted and as long as it stays
/// queued (built by the submitter, before the insert: the writer only applies [`inserted`]
/// to it).
pub(crate) fn queued(new: &NewJob, params: serde_json::Value) -> Job {
    Job {
        id: new.id,
        kind: new.kind,
        params,
        status: JobStatus::Queued,
        priority: new.options.priority,
        timeout_ms: new.options.timeout_ms,
        attempt: 0,
        max_attempts: new.options.max_attempts,
        instance: None,
        depends_on: new.depends_on.clone(),
        progress: None,
        created_at: new.created_at,
        started_at: None,
        finished_at: None,
        result: None,
        error: None,
        run_after: new.run_after(),
        errors: Vec::new(),
        retry_of: new.retry_of,
        traceparent: new.traceparent.clone(),
        tenant: new.tenant.clone(),
    }
}

/// `job` ([`queued`]) as inserted `how`: still queued, failed at once, or started by its
/// insert for `owner`. Sets every field `how` decides, whatever `job` held.
pub(crate) fn inserted(job: &mut Job, how: &Inserted, owner: Option<&str>) {
    let (status, attempt, error) = match how {
        Inserted::Queued => (JobStatus::Queued, 0, None),
        Inserted::Failed(error) => (JobStatus::Failed, 0, Some(error.clone())),
        Inserted::Started => (JobStatus::Running, 1, None),
    };
    let started = status == JobStatus::Running;
    job.status = status;
    job.attempt = attempt;
    job.error = error;
    job.instance = owner.filter(|_| started).map(str::to_owned);
    job.started_at = started.then_some(job.created_at);
    job.finished_at = status.is_final().then_some(job.created_at);
}

/// The running `job` once its run ended with the final `outcome` at `at` (`None` for an
/// outcome that queues it again: the database decides what that leaves).
pub(crate) fn ended(
    mut job: Job,
    outcome: &Outcome,
    progress: Option<JobProgress>,
    at: DateTime<Utc>,
) -> Option<Job> {
    let (status, result, error) = outcome.final_state()?;
    job.status = status;
    job.result = result.cloned();
    job.error = error.cloned();
    if let Some(error) = error {
        job.errors.push(AttemptError {
            attempt: job.attempt,
            code: error.code,
            message: error.message.clone(),
            at,
            instance: job.instance.clone(),
        });
    }
    job.finished_at = Some(at);
    job.progress = progress.or(job.progress);
    Some(job)
}
