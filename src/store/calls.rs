//! What the store's calls take and answer besides jobs: a listing's filter, what a cancel and
//! a delete did, and what other processes did ([`StoreEvent`]).

use crate::job::{Job, JobId, JobKind, JobStatus};

/// What `cancel` did.
#[derive(Debug, Clone)]
pub enum CancelResult {
    /// The job was queued and is now cancelled.
    Cancelled(Job),
    /// The job is running; a cancel was requested and its runner must stop it.
    Requested(Job),
    /// The job was already final; nothing changed.
    AlreadyFinal(Job),
    NotFound,
}

/// What `delete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteResult {
    Deleted,
    NotFinal(JobStatus),
    NotFound,
}

/// Filter and page of `list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
    /// Only jobs older than this one (the previous page's last id).
    pub before: Option<JobId>,
    /// Only jobs of this tenant (see [`Job::tenant`]).
    pub tenant: Option<String>,
    pub limit: u32,
}

/// What another process did in the store that this one may care about (this process's own
/// changes come as [`super::commit::Committed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A job became final: its long-polls should look again.
    Final(JobId),
    /// Jobs became claimable (queued, released by their dependencies, handed back or
    /// re-queued): look at the queue.
    Queued,
    /// A running job was asked to stop.
    CancelRequested(JobId),
    /// Events may have been lost (a connection to the database dropped): look at everything
    /// again.
    Missed,
}
