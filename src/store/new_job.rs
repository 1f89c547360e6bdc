//! A job to insert ([`NewJob`]): what a submission stores, how it may start at its insert
//! ([`StartAtInsert`]), its idempotency key, and how the insert started it ([`Inserted`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::now;
use crate::job::{JobClass, JobError, JobId, JobKind, SubmitOptions};

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobKind,
    /// The parameters as its kind parsed them.
    pub params: Value,
    pub options: SubmitOptions,
    /// Jobs that must be final before this one runs (distinct, all existing).
    pub depends_on: Vec<JobId>,
    pub created_at: DateTime<Utc>,
    /// The API key that submits it (see [`Job::tenant`]).
    pub tenant: Option<String>,
    /// The `Idempotency-Key` it came with.
    pub idempotency: Option<IdempotencyKey>,
    /// Set by an instance holding a free slot for the job: store it already `running`,
    /// claimed by that instance, if nothing of its class is queued ahead of it (see
    /// [`StartAtInsert`]). Only for a job without dependencies, due at once.
    pub start: Option<StartAtInsert>,
    /// The job this one retries (see [`Job::retry_of`]).
    pub retry_of: Option<JobId>,
    /// See [`Job::traceparent`].
    /// Shared by the jobs of one request (a batch's): one copy, bound as it is.
    pub traceparent: Option<std::sync::Arc<str>>,
    /// Jobs whose files it reads (also among its dependencies).
    pub sources: Vec<JobId>,
}

/// A job stored `running` by its insert: claimed in the same transaction by `owner` for
/// `lease`, its first attempt begun at its `created_at`, its fencing token
/// [`Lease::at_insert`]. The store does so only when it knows of nothing claimable of the
/// job's class queued (its last claim of the class came back short and nothing was queued
/// since, see [`JobStore::queue_grew`]), so the job goes ahead of none; else the job is
/// queued. An instance with a free slot saves the claim (a transaction and a wake-up of its
/// dispatcher) this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartAtInsert {
    pub owner: String,
    pub lease: Duration,
    /// The job's class.
    pub class: JobClass,
    /// The kinds of the job's class that `owner` runs: none of them may be queued and
    /// claimable for the job to start.
    pub kinds: Vec<JobKind>,
}

/// An `Idempotency-Key` and the hash of the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key as the client sent it.
    pub key: String,
    /// SHA-256 (hex) of the canonical request.
    pub request_hash: String,
}

impl IdempotencyKey {
    /// How the key is stored: scoped to its tenant (keys of different API keys never clash).
    pub fn stored(&self, tenant: Option<&str>) -> String {
        format!("{}/{}", tenant.unwrap_or("-"), self.key)
    }
}

impl NewJob {
    pub fn new(kind: JobKind, params: Value, options: SubmitOptions) -> Self {
        Self {
            id: JobId::new(),
            kind,
            params,
            options,
            depends_on: Vec::new(),
            created_at: now(),
            tenant: None,
            idempotency: None,
            start: None,
            retry_of: None,
            traceparent: None,
            sources: Vec::new(),
        }
    }

    /// When it may start: as submitted, else at once.
    pub fn run_after(&self) -> DateTime<Utc> {
        self.options.run_after.unwrap_or(self.created_at)
    }

    /// Whether it could start at its insert (see [`StartAtInsert`]): it waits for no other
    /// job and is due at once.
    pub fn startable_at_insert(&self) -> bool {
        self.depends_on.is_empty() && self.run_after() <= self.created_at
    }

    /// Whether its insert may start it: asked to ([`NewJob::start`]) and startable.
    pub fn may_start_at_insert(&self) -> bool {
        self.start.is_some() && self.startable_at_insert()
    }

    /// The same job, waiting for `deps`.
    pub fn depending_on(mut self, deps: Vec<JobId>) -> Self {
        self.depends_on = deps;
        self
    }
}

/// How an inserted job starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Claimable (or waiting only for dependencies that are not final yet).
    Queued,
    /// Stored running, claimed by its insert for [`NewJob::start`]'s owner.
    Started,
    /// A dependency had already ended without succeeding: the job is failed at once.
    Failed(JobError),
}
