//! Durable job storage: the [`JobStore`] trait, the one seam between the runtime and the
//! database, and its implementations on SQLite (one process) and PostgreSQL (any number of
//! processes sharing one queue), both built on [`sql`].
//!
//! The store is the queue: nothing waits in memory. Every write about a running attempt
//! carries that attempt's [`Lease`] (its fencing token), so a stale attempt can neither finish
//! nor overwrite a newer one. All SQL lives below this module.

pub mod commit;
mod error;
mod new_job;
pub mod postgres;
mod retention;
mod rows;
mod runs;
mod sql;
pub mod sqlite;
pub mod stats;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::job::{Job, JobClass, JobId, JobKind, JobProgress, JobStatus};

pub use crate::job::{FileData, FileInfo, NewFile};
pub use error::{Result, StoreError};
pub use new_job::{IdempotencyKey, Inserted, NewJob, StartAtInsert};
pub use retention::Retention;
pub use runs::{Claimed, Lease, LeaseState, Outcome, Recovered, RunEnd};
pub use stats::{BucketCount, KindCount, StatsQuery, StoreStats};

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

    /// Records how a run ended. `false` when its lease is stale (the job moved on) and
    /// nothing was written.
    async fn finish(&self, end: RunEnd) -> Result<bool>;

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
            sqlite::open(url, &options.sqlite, options.backoff).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(std::sync::Arc::new(
            postgres::open(url, &options.postgres, options.backoff).await?,
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
