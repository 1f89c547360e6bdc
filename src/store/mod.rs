//! Durable job storage: the [`JobStore`] trait, the one seam between the runtime and the
//! database, and its implementations on SQLite (one process) and PostgreSQL (any number of
//! processes sharing one queue), both built on [`sql`].
//!
//! The store is the queue: nothing waits in memory. Every write about a running attempt
//! carries that attempt's [`Lease`] (its fencing token), so a stale attempt can neither finish
//! nor overwrite a newer one. All SQL lives below this module.

pub mod commit;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
pub mod stats;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use serde_json::Value;

use crate::job::{
    Job, JobClass, JobError, JobId, JobKind, JobProgress, JobResult, JobStatus, SubmitOptions,
};

pub use crate::job::{FileData, FileInfo, NewFile};
pub use stats::{BucketCount, KindCount, StatsQuery, StoreStats};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Corrupt(String),
    #[error("invalid database url `{0}`")]
    Url(String),
    /// A write shared a failed statement or transaction with others (group commit).
    #[error("writing to the database failed")]
    Write(#[source] std::sync::Arc<sqlx::Error>),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("{0} is in use by another faena process (one process per SQLite file)")]
    Locked(String),
    /// A job named in `depends_on` does not exist.
    #[error("job {0} does not exist")]
    UnknownDependency(JobId),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    fn sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database(err) => Some(err),
            Self::Write(err) => Some(err),
            _ => None,
        }
    }

    /// A write broke a uniqueness rule (e.g. an idempotency key already used).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlx()
            .and_then(sqlx::Error::as_database_error)
            .is_some_and(|e| e.is_unique_violation())
    }

    /// The database cannot be reached or does not answer in time (as opposed to refusing a
    /// statement): the request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::WriterGone => true,
            _ => self.sqlx().is_some_and(|e| {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::Protocol(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || e.as_database_error().is_some_and(|d| {
                    // PostgreSQL: connection exceptions (08), insufficient resources (53),
                    // operator intervention (57: shutdown, terminated sessions); SQLite: busy
                    // or locked past the busy timeout.
                    let code = d.code().unwrap_or_default();
                    ["08", "53", "57"]
                        .iter()
                        .any(|class| code.starts_with(class))
                        || matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517")
                })
            }),
        }
    }
}

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
    pub job: std::sync::Arc<Job>,
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

/// What `heartbeat` learnt about one lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Still ours; `cancel_requested` says whether someone asked to cancel it.
    Held { cancel_requested: bool },
    /// The job moved on (finished, rescued or re-claimed): stop working on it.
    Lost,
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

/// How long final jobs are kept (`None`: forever), and how many one prune removes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Succeeded and cancelled jobs.
    pub succeeded: Option<Duration>,
    /// Failed and timed-out jobs.
    pub failed: Option<Duration>,
    pub batch: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            succeeded: Some(Duration::from_secs(24 * 3600)),
            failed: Some(Duration::from_secs(7 * 24 * 3600)),
            batch: 1000,
        }
    }
}

impl Retention {
    /// The end times before which jobs go, as of `now`: (succeeded and cancelled, failed and
    /// timed out); `None` keeps that group.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let before = |keep: Option<Duration>| {
            keep.map(|d| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX))
        };
        (before(self.succeeded), before(self.failed))
    }
}

/// What startup recovery did with the runs a crash left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    pub requeued: u64,
    pub failed: u64,
    /// Runs with an accepted cancel pending: cancelled, not retried.
    pub cancelled: u64,
}

/// What another process did in the store that this one may care about (this process's own
/// changes come as [`commit::Committed`]).
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

/// The durable queue and record of jobs.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Checks that the database answers, for reads and for writes.
    async fn ping(&self) -> Result<()>;

    /// Whether other processes use the same database (then their changes come as
    /// [`JobStore::events`], which a pooler may drop: poll as well).
    fn shared(&self) -> bool;

    /// Inserts a queued job; returns once it is committed. A job whose dependencies are not
    /// all final waits (queued, never claimed) until they are; one whose dependency already
    /// ended without succeeding is inserted failed (`dependency_failed`).
    /// [`StoreError::UnknownDependency`] when a dependency does not exist.
    async fn insert(&self, job: NewJob) -> Result<std::sync::Arc<Job>>;

    /// Inserts several jobs in one transaction, each as [`JobStore::insert`] would: the outer
    /// error when the transaction failed (nothing was stored), else one result per job, in
    /// order, where a job naming an unknown dependency is refused alone and the others are
    /// stored.
    async fn insert_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Result<std::sync::Arc<Job>>>>;

    async fn get(&self, id: JobId) -> Result<Option<Job>>;

    /// Newest first, at most `filter.limit` jobs.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>>;

    /// The job inserted with idempotency key `key` (as [`IdempotencyKey::stored`]) and the
    /// hash of the request that created it.
    async fn by_idempotency_key(&self, key: &str) -> Result<Option<(Job, String)>>;

    /// Jobs queued (waiting for dependencies or a `run_after` included), every instance's.
    async fn count_queued(&self) -> Result<u64>;

    /// Jobs by kind and status, and those that ended since `query.since` by bucket.
    async fn stats(&self, query: &StatsQuery) -> Result<StoreStats>;

    /// Deletes up to `retention.batch` final jobs (and their files) that ended longer ago
    /// than the retention of their status, oldest first; returns how many. SQLite also gives
    /// the pages they used back to the file system.
    async fn prune(&self, retention: Retention) -> Result<u64>;

    /// Atomically moves up to `n` due queued jobs of `kinds` (highest priority, then oldest
    /// first) to running: attempt + 1, a new fencing token, a lease of `lease` for `owner`.
    /// `kinds` are every kind of `class` that `owner` runs (see [`StartAtInsert`]).
    async fn claim(
        &self,
        class: JobClass,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Claimed>>;

    /// Renews a running attempt's lease and records its progress.
    async fn heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
    ) -> Result<LeaseState>;

    /// Records how the attempt `run` ended (at `at`, with its last progress). `false` when
    /// its lease is stale (the job moved on) and nothing was written.
    async fn finish(
        &self,
        run: Claimed,
        outcome: Outcome,
        progress: Option<JobProgress>,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Cancels a queued job at once, or asks for a running one to be stopped.
    async fn cancel(&self, id: JobId) -> Result<CancelResult>;

    /// Removes a final job.
    async fn delete(&self, id: JobId) -> Result<DeleteResult>;

    /// At start: the runs left `running` by a crash are queued again while attempts remain,
    /// else failed with `interrupted`; those with an accepted cancel pending are cancelled.
    /// Where processes share the database, only the runs of `owner` (this instance's name, so
    /// those of its previous life) and those whose lease expired; the others are alive.
    async fn recover_interrupted(&self, owner: &str) -> Result<Recovered>;

    /// While running: settles, like [`JobStore::recover_interrupted`], the runs whose lease
    /// expired before `now` (their runner stopped renewing it), except those in `keep` (runs
    /// the caller still has, which stop themselves).
    async fn rescue_expired(&self, now: DateTime<Utc>, keep: &[JobId]) -> Result<Recovered>;

    /// What other processes did that concerns this one (jobs they made final or claimable,
    /// cancels they asked for), as their notifications say, and what this process may have
    /// missed (a lost listener connection). A lagging receiver should act as on
    /// [`StoreEvent::Missed`].
    fn events(&self) -> tokio::sync::broadcast::Receiver<StoreEvent>;

    /// What each transaction of this process committed (every state change it made, each
    /// job as the transaction left it), in commit order, published before the writes that
    /// made it are answered. A lagging receiver missed some: it should act as on
    /// [`StoreEvent::Missed`].
    fn commits(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<commit::Committed>>;

    /// Jobs may have become claimable without a write of this process (another process
    /// queued them, a delayed job came due): no job starts at its insert
    /// ([`StartAtInsert`]) until a claim has found the queue empty again.
    fn queue_grew(&self);

    /// Whether the store knows of nothing claimable of `class` queued (its last claim of the
    /// class came back short and nothing was queued since, see [`JobStore::queue_grew`]): a
    /// dispatcher woken by a freed slot need not look.
    fn queue_drained(&self, class: crate::job::JobClass) -> bool;

    /// Saves a file of a running attempt (fenced by its lease); `false` when the lease is
    /// stale and nothing was written. Replaces a file of the same index.
    async fn save_file(&self, lease: Lease, file: NewFile) -> Result<bool>;

    /// Removes the files earlier attempts of the job saved (fenced); `false` when stale.
    async fn clear_files(&self, lease: Lease) -> Result<bool>;

    /// The files of a job, by index.
    async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>>;

    /// One file's description.
    async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>>;

    /// Up to `len` bytes of a file from `offset` (empty past its end; `None` if it is gone).
    async fn read_file(
        &self,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>>;

    /// The files of a job whose index is in `indices`, with their content, by index: for
    /// reading them all in batches planned from [`JobStore::list_files`].
    async fn read_files(&self, id: JobId, indices: std::ops::Range<u32>) -> Result<Vec<FileData>>;
}

/// The store's clock, in milliseconds (what the database keeps).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub sqlite: sqlite::SqliteOptions,
    pub postgres: postgres::PgOptions,
    /// When retries run.
    pub backoff: crate::job::Backoff,
}

/// Opens the store named by `url` (`sqlite:` or `postgres:`) and applies its migrations.
pub async fn open(url: &str, options: &StoreOptions) -> Result<std::sync::Arc<dyn JobStore>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(
            sqlite::open(url, &options.sqlite)
                .await?
                .with_backoff(options.backoff),
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(std::sync::Arc::new(
            postgres::open(url, &options.postgres)
                .await?
                .with_backoff(options.backoff),
        ))
    } else {
        Err(StoreError::Url(url.chars().take(32).collect()))
    }
}

/// Applies pending migrations to the database at `url`; returns how many are applied in all.
pub async fn migrate(url: &str) -> Result<usize> {
    if url.starts_with("sqlite:") {
        sqlite::migrate(url).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::migrate(url).await
    } else {
        Err(StoreError::Url(url.chars().take(32).collect()))
    }
}

/// `url` without its password, for logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn passwords_are_hidden_and_nothing_else_changes() {
        for (url, shown) in [
            (
                "postgres://u:secret@db:5432/q",
                "postgres://u:***@db:5432/q",
            ),
            ("postgres://u:p@ss@db/q", "postgres://u:***@db/q"),
            ("postgres://u@db/q", "postgres://u@db/q"),
            ("postgres://db/q?user=a", "postgres://db/q?user=a"),
            ("sqlite://data/faena.db", "sqlite://data/faena.db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(super::redact(url), shown, "{url}");
        }
    }
}
