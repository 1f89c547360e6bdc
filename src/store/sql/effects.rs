//! The values the writer and the dialects pass each other: rows to insert, ends of runs,
//! which interrupted runs to settle, and what a transaction did beyond its own rows.

use chrono::{DateTime, Utc};

use super::watch::Snapshot;
use crate::job::{JobClass, JobError, JobErrorCode, JobId, JobStatus};
use crate::store::commit::{Cause, Change, Deleted};
use crate::store::{NewJob, Result, StartAtInsert, StoreError};

/// Where the dependencies of a new job stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DepState {
    /// Those not final yet (possibly none: the job can run).
    Waiting(Vec<JobId>),
    /// One of them already ended without succeeding.
    Failed(JobError),
}

impl DepState {
    /// Where `deps` stand given the statuses `found` of those that exist;
    /// [`StoreError::UnknownDependency`] for the first that does not.
    pub(crate) fn of(deps: &[JobId], found: &[(JobId, JobStatus)]) -> Result<Self> {
        let mut waiting = Vec::new();
        for &dep in deps {
            match found.iter().find(|(id, _)| *id == dep).map(|(_, s)| *s) {
                None => return Err(StoreError::UnknownDependency(dep)),
                Some(JobStatus::Succeeded) => {}
                Some(status) if status.is_final() => {
                    return Ok(Self::Failed(dependency_failed(dep, status)));
                }
                Some(_) => waiting.push(dep),
            }
        }
        Ok(Self::Waiting(waiting))
    }
}

/// The error of a job whose dependency `dep` ended `status`.
fn dependency_failed(dep: JobId, status: JobStatus) -> JobError {
    JobError::new(
        JobErrorCode::DependencyFailed,
        format!("dependency {dep} ended {status} instead of succeeding"),
    )
}

/// A job to insert and how it starts.
pub(crate) struct Insert<'a> {
    pub job: &'a NewJob,
    /// Dependencies not final yet.
    pub waiting: usize,
    /// Set when a dependency already failed: the job is inserted failed.
    pub failed: Option<JobError>,
    /// Set when the insert starts the job (see [`super::watch`]).
    pub started: bool,
}

impl Insert<'_> {
    /// How the insert starts the job, if it does.
    pub fn start(&self) -> Option<&StartAtInsert> {
        self.job.start.as_ref().filter(|_| self.started)
    }

    /// The status the job is inserted with.
    pub fn status(&self) -> &'static str {
        if self.failed.is_some() {
            "failed"
        } else if self.start().is_some() {
            "running"
        } else {
            "queued"
        }
    }
}

/// Which interrupted runs to settle.
#[derive(Debug, Clone)]
pub(crate) enum Interrupted {
    /// At the start of a process: those its predecessor left. Every running job where one
    /// process owns the database; those of `owner` or whose lease expired where several share
    /// it.
    AtStart { owner: String },
    /// Those whose lease expired before `before`, except `keep` (runs the caller still has).
    Expired {
        before: DateTime<Utc>,
        keep: Vec<JobId>,
    },
}

/// What the writes of one transaction did beyond their own rows, and what the writer knows
/// of `job_waits` across transactions.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Jobs made final as a consequence of another write (dependents failed, interrupted
    /// runs settled): their long-polls are told once committed.
    pub released: Vec<JobId>,
    /// Running jobs queued again as a consequence of another write (a recovered run with
    /// attempts left): their watchers are told once committed.
    pub requeued: Vec<JobId>,
    /// `false` once `job_waits` was seen empty, until a job that waits is inserted: releasing
    /// then costs nothing, not even a probe. Only where this process is the only writer.
    pub waits: bool,
    /// Every job the transaction made final (for other processes' long-polls).
    pub finals: Vec<JobId>,
    /// Whether it made jobs claimable (inserted, handed back, re-queued or released them).
    pub queued: bool,
    /// Running jobs it asked to stop.
    pub cancels: Vec<JobId>,
    /// What the writer knew of the queue when it began (see [`super::watch`]): inserts
    /// asking to start their job do so where nothing of its class was queued.
    pub queue: Snapshot,
    /// Classes of the claims that came back with fewer jobs than asked.
    pub drained: Vec<JobClass>,
    /// Jobs whose state the writes changed, as they left them (for the observer).
    pub changes: Vec<Change>,
    /// Jobs whose new state only the database knows: read back before the commit.
    pub reread: Vec<(JobId, Cause)>,
    /// Jobs deleted.
    pub deleted: Vec<Deleted>,
}

impl Effects {
    /// Records that job `id`, of `kind` and `tenant`, was deleted.
    pub(crate) fn deleted(&mut self, id: JobId, kind: &str, tenant: Option<String>) {
        if let Ok(kind) = crate::job::JobKind::new(kind) {
            self.deleted.push(Deleted { id, kind, tenant });
        }
    }

    /// The effects of a new transaction, given what the writer knows of `job_waits` and of
    /// the queue.
    pub(crate) fn new(waits: bool, queue: Snapshot) -> Self {
        Self {
            waits,
            queue,
            ..Self::default()
        }
    }
}
