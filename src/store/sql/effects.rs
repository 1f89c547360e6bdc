//! The values the writer and the dialects pass each other: rows to insert, which running
//! jobs to settle, and what a transaction did beyond its own rows.

use chrono::{DateTime, Utc};

use super::watch::Snapshot;
use crate::job::{JobClass, JobError, JobId, JobKind};
use crate::store::commit::{Cause, Change, Deleted};
use crate::store::{Lease, NewJob, StartAtInsert};

/// A job to insert and how it starts.
pub(crate) struct Insert<'a> {
    pub job: &'a NewJob,
    /// Its parameters, as JSON text (see [`super::ToInsert`]).
    pub params: &'a std::sync::Arc<str>,
    /// Dependencies not final yet.
    pub waiting: usize,
    /// Set when a dependency already failed: the job is inserted failed.
    pub failed: Option<JobError>,
    /// Set when the insert starts the job (see [`super::watch`]).
    pub started: bool,
    /// Its place in line (see [`super::insert`]).
    pub turn: i64,
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
    /// PostgreSQL, which takes leases by its own clock, judges by it too: `before` is read as
    /// an offset from this process's clock, added to the database's.
    Expired {
        before: DateTime<Utc>,
        keep: Vec<JobId>,
    },
    /// Those whose runs just ended with a retry or a hand-back (fenced by their leases).
    Ended(Vec<Lease>),
    /// Runs of `kinds` past their deadline (remote workers' kinds: no local runner keeps it).
    Overdue(Vec<JobKind>),
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
