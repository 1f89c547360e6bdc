//! Runs as the store sees them: the [`Lease`] that fences an attempt's writes, a [`Claimed`]
//! job, how its run ended ([`Outcome`], [`RunEnd`]), what a lease renewal learnt, and what
//! settling interrupted runs did.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::commit;
use crate::job::{Job, JobError, JobId, JobProgress, JobResult, JobStatus};

/// The right of one attempt to write about its job: the job id and the attempt's fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: JobId,
    pub fence: i64,
}

impl Lease {
    /// The lease of a job started at its insert ([`StartAtInsert`]): a claim bumps the
    /// fence from 0, and that insert is its first claim.
    pub fn at_insert(id: JobId) -> Self {
        Self { id, fence: 1 }
    }
}

/// A job claimed for a run.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The job as claimed (shared with the commit's observer).
    pub job: Arc<Job>,
    pub lease: Lease,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(JobResult),
    Failed(JobError),
    TimedOut(JobError),
    Cancelled(JobError),
    /// Failed with a retryable error: queued again after a back-off while attempts remain,
    /// else failed with this error.
    Retry(JobError),
    /// Handed back (shutdown): queued again, and the attempt does not count.
    Requeue,
}

impl Outcome {
    /// The status, result and error a final outcome records; `None` for a hand-back.
    pub fn final_state(&self) -> Option<(JobStatus, Option<&JobResult>, Option<&JobError>)> {
        match self {
            Self::Succeeded(v) => Some((JobStatus::Succeeded, Some(v), None)),
            Self::Failed(e) => Some((JobStatus::Failed, None, Some(e))),
            Self::TimedOut(e) => Some((JobStatus::TimedOut, None, Some(e))),
            Self::Cancelled(e) => Some((JobStatus::Cancelled, None, Some(e))),
            Self::Retry(_) | Self::Requeue => None,
        }
    }

    /// For logs: the final status, `retry` or `requeued`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Retry(_) => "retry",
            _ => self
                .final_state()
                .map_or("requeued", |(status, _, _)| status.as_str()),
        }
    }
}

/// What `heartbeat` learnt about one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Still ours; `cancel_requested` says whether someone asked to cancel it.
    Held { cancel_requested: bool },
    /// The job moved on (finished, rescued or re-claimed): stop working on it.
    Lost,
}

/// What startup recovery did with the runs a crash left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    pub requeued: u64,
    pub failed: u64,
    /// Runs with an accepted cancel pending: cancelled, not retried.
    pub cancelled: u64,
    /// Remote workers' runs past their deadline.
    pub timed_out: u64,
}

/// How one run ended, to record ([`super::JobStore::finish`]). Built once by the runner (a
/// failed write is sent again as it is): a final end carries the job as it leaves it, built
/// from the claimed job by [`commit::ended`], for the observer of the commit.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub lease: Lease,
    pub outcome: Outcome,
    /// The run's last progress.
    pub progress: Option<JobProgress>,
    pub at: DateTime<Utc>,
    /// The job as this end leaves it, when the end is final; else the database decides (a
    /// retry, a hand-back) and the job is read back.
    pub(crate) ended: Option<Arc<Job>>,
    /// A remote worker's answer: recorded only while a worker holds the run (its owner is
    /// `worker:…`) and before its deadline (`started_at + timeout_ms`), checked in the same
    /// statement that writes it.
    pub(crate) answered: bool,
}

impl RunEnd {
    /// The end of `run` with `outcome`, at `at`, its last progress `progress`.
    pub fn new(
        run: Claimed,
        outcome: Outcome,
        progress: Option<JobProgress>,
        at: DateTime<Utc>,
    ) -> Self {
        // The claim's commit has been observed by now: the job is rarely shared any more.
        let job = Arc::unwrap_or_clone(run.job);
        let ended = commit::ended(job, &outcome, progress, at).map(Arc::new);
        Self {
            lease: run.lease,
            outcome,
            progress,
            at,
            ended,
            answered: false,
        }
    }

    /// The end of the run `lease` holds, reported by a remote worker: recorded only while a
    /// worker holds the run and before its deadline. The job is not at hand, and is read back
    /// once the end is committed.
    pub fn answered(
        lease: Lease,
        outcome: Outcome,
        progress: Option<JobProgress>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            lease,
            outcome,
            progress,
            at,
            ended: None,
            answered: true,
        }
    }

    /// The end the server gives the run `lease` holds without its runner (a remote worker's
    /// run past its deadline): fenced by the lease alone, the job read back.
    pub fn imposed(lease: Lease, outcome: Outcome, at: DateTime<Utc>) -> Self {
        Self {
            answered: false,
            ..Self::answered(lease, outcome, None, at)
        }
    }
}
