//! The writes the writer applies ([`Op`]), each with its arguments and its typed answer: a
//! [`Pending`] holds what the caller is owed, filled in inside the transaction and sent only
//! once it commits. An operation's answer type is its variant's: a write cannot be answered
//! with another's result.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Interrupted;
use crate::job::{Job, JobClass, JobId, JobKind, JobProgress, JobStatus};
use crate::store::{
    CancelResult, Claimed, DeleteResult, Lease, LeaseState, NewFile, NewJob, Recovered, Result,
    Retention, RunEnd, StoreError,
};

/// A write's arguments, where to send its answer, and the answer once the transaction has one.
pub(crate) struct Pending<A, T> {
    pub args: A,
    reply: oneshot::Sender<Result<T>>,
    done: Option<Result<T>>,
}

impl<A, T> Pending<A, T> {
    pub(super) fn new(args: A, reply: oneshot::Sender<Result<T>>) -> Self {
        Self {
            args,
            reply,
            done: None,
        }
    }

    /// The answer of this write in the transaction under way (replacing one of a transaction
    /// that failed and is run again).
    pub(super) fn set(&mut self, done: Result<T>) {
        self.done = Some(done);
    }

    pub(super) fn done(&self) -> Option<&Result<T>> {
        self.done.as_ref()
    }

    /// Sends the answer (the transaction committed), or `err` if there is none.
    fn send(self, err: impl FnOnce() -> StoreError) {
        let _ = self.reply.send(self.done.unwrap_or_else(|| Err(err())));
    }

    /// Sends `err` (the write's transaction failed).
    fn fail(self, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

/// A job to insert, and the job it is as long as it stays queued (built by the submitter; the
/// writer applies how it was inserted). The parameters are the job's: `new.params` is left
/// empty, not copied.
pub(crate) struct ToInsert {
    pub new: NewJob,
    pub job: Arc<Job>,
    /// The parameters as stored (JSON text): written by the submitter, so that the one writer
    /// only binds them.
    pub params: Arc<str>,
}

impl ToInsert {
    pub(crate) fn new(mut new: NewJob) -> Self {
        let params = std::mem::take(&mut new.params);
        let text = Arc::from(params.to_string());
        let job = Arc::new(crate::store::commit::queued(&new, params));
        Self {
            new,
            job,
            params: text,
        }
    }
}

/// A claim's arguments.
pub(crate) struct ClaimArgs {
    /// The class claimed for: every kind of it the claimer runs is in `kinds`.
    pub class: JobClass,
    pub kinds: Vec<JobKind>,
    /// The kinds' concurrency limits.
    pub limits: crate::store::KindConcurrency,
    pub n: usize,
    pub owner: String,
    pub lease: Duration,
}

/// A lease renewal's arguments.
pub(crate) struct HeartbeatArgs {
    pub lease: Lease,
    pub progress: Option<JobProgress>,
    pub lease_for: Duration,
}

/// A write to apply.
pub(crate) enum Op {
    Insert(Pending<Box<ToInsert>, Arc<Job>>),
    /// Several inserts that must share one transaction, with a result each.
    InsertMany(Pending<Vec<ToInsert>, Vec<Result<Arc<Job>>>>),
    Claim(Pending<ClaimArgs, Vec<Claimed>>),
    Heartbeat(Pending<HeartbeatArgs, LeaseState>),
    /// Answered with the status the end left the job in; `None` when the lease is stale.
    Finish(Pending<Box<RunEnd>, Option<JobStatus>>),
    /// Several ends that share one transaction, with an answer each (as [`Op::Finish`]).
    FinishMany(Pending<Vec<RunEnd>, Vec<Option<JobStatus>>>),
    Cancel(Pending<JobId, Box<CancelResult>>),
    Delete(Pending<JobId, DeleteResult>),
    /// Settles interrupted runs.
    Recover(Pending<Interrupted, Recovered>),
    SaveFile(Pending<(Lease, NewFile), bool>),
    ClearFiles(Pending<Lease, bool>),
    /// Deletes expired final jobs.
    Prune(Pending<Retention, u64>),
    /// Proves the writer task is alive and its connection answers.
    Ping(Pending<(), ()>),
}

/// Calls `$body` with the [`Pending`] of whichever variant `$op` is.
macro_rules! each_pending {
    ($op:expr, $p:ident => $body:expr) => {
        match $op {
            Op::Insert($p) => $body,
            Op::InsertMany($p) => $body,
            Op::Claim($p) => $body,
            Op::Heartbeat($p) => $body,
            Op::Finish($p) => $body,
            Op::FinishMany($p) => $body,
            Op::Cancel($p) => $body,
            Op::Delete($p) => $body,
            Op::Recover($p) => $body,
            Op::SaveFile($p) => $body,
            Op::ClearFiles($p) => $body,
            Op::Prune($p) => $body,
            Op::Ping($p) => $body,
        }
    };
}

impl Op {
    /// Answers the caller: the write's result (its transaction committed).
    pub(super) fn deliver(self) {
        each_pending!(self, p => p.send(|| StoreError::Corrupt("a write was left without an answer".into())))
    }

    /// Answers the caller with `err` (its transaction failed).
    pub(super) fn fail(self, err: StoreError) {
        each_pending!(self, p => p.fail(err))
    }

    /// Whether a transaction of only such writes may skip waiting for the disk (claims and
    /// lease renewals of this process's own runs: a power cut that undoes them ends the runs
    /// too). A remote worker's claim is durable: the worker outlives a crash of the server,
    /// and the lease it was handed must not be handed out again.
    pub(super) fn needs_durability(&self) -> bool {
        match self {
            Op::Claim(p) => p.args.class == JobClass::Worker,
            Op::Heartbeat(_) => false,
            _ => true,
        }
    }
}
