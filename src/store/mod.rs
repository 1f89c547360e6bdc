//! Durable job storage: the [`Store`], the one seam between the runtime and the database, on
//! SQLite (one process) or PostgreSQL (any number of processes sharing one queue).
//!
//! The store is the queue: nothing waits in memory. Every write goes through one writer task
//! per process ([`sql`]'s group commit), whose commits are published ([`Store::commits`]) for
//! the one observer of state changes. Every write about a running attempt carries that
//! attempt's [`Lease`] (its fencing token), so a stale attempt can neither finish nor
//! overwrite a newer one. Reads go straight to the database's pools. All SQL lives below
//! this module: what a write means is written once in [`sql`], and each database supplies
//! its statements (`sqlite/`, `postgres/`).

mod calls;
pub mod commit;
mod error;
mod new_job;
mod open;
pub mod postgres;
mod retention;
mod room;
mod rows;
mod runs;
mod sql;
pub mod sqlite;
pub mod stats;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Pool;
use tokio::sync::broadcast;

use crate::job::{Backoff, Job, JobClass, JobId, JobKind, JobProgress, JobStatus};
use commit::Committed;
use sql::{ClaimArgs, HeartbeatArgs, Interrupted, Op, Sql, ToInsert, Writer, watch::QueueWatch};

pub use crate::job::{FileData, FileInfo, NewFile};
pub use calls::{CancelResult, DeleteResult, ListFilter, StoreEvent};
pub use error::{Result, StoreError};
pub use new_job::{IdempotencyKey, Inserted, NewJob, StartAtInsert};
pub use open::{StoreOptions, migrate, open, redact};
pub use retention::Retention;
pub use runs::{Claimed, Lease, LeaseState, Outcome, Recovered, RunEnd};
pub use stats::{BucketCount, KindCount, StatsQuery, StoreStats};

/// Most jobs of a kind running at once, all processes on the database (`--kind-concurrency`):
/// kinds not in it have no such limit.
pub type KindConcurrency = Arc<std::collections::HashMap<JobKind, usize>>;

/// The durable queue and record of jobs: writes through this process's writer task, reads on
/// the database's pools.
pub struct Store {
    writer: Writer,
    reads: Reads,
    /// Whether other processes write to the same database.
    shared: bool,
    events: broadcast::Sender<StoreEvent>,
    /// What each transaction did, for the observer of commits.
    commits: broadcast::Sender<Arc<Committed>>,
    /// What the writer knows of the queue (see [`sql::watch`]).
    queue: Arc<QueueWatch>,
    /// Whether the database has room to write.
    room: Arc<room::Room>,
    /// The kinds' concurrency limits, which every claim respects.
    kind_limits: std::sync::RwLock<KindConcurrency>,
    /// What must live as long as the store (a lock file, a listener task).
    _keep: Box<dyn Any + Send + Sync>,
}

/// Where reads go: each database answers them on its own pools.
enum Reads {
    Sqlite(sqlite::Reads),
    Postgres(postgres::Reads),
}

/// `$call` on whichever database's [`Reads`] the store has, awaited.
macro_rules! read {
    ($store:expr, $r:ident => $call:expr) => {
        match &$store.reads {
            Reads::Sqlite($r) => $call.await,
            Reads::Postgres($r) => $call.await,
        }
    };
}

/// Commits kept for an observer that lags; past them it is told it missed some.
const COMMITS_BUFFER: usize = 4096;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A store writing with `dialect` on `writer` (one connection for SQLite, any for
    /// PostgreSQL) and reading with `reads`; `events` carries what other processes did (see
    /// [`Store::events`]); retries wait `backoff`.
    fn new<D: Sql>(
        dialect: D,
        writer: Pool<D::Db>,
        reads: Reads,
        events: broadcast::Sender<StoreEvent>,
        keep: Box<dyn Any + Send + Sync>,
        backoff: Backoff,
    ) -> Self {
        let queue = Arc::default();
        let room = Arc::default();
        let (commits, _) = broadcast::channel(COMMITS_BUFFER);
        let writer = Writer::start(
            dialect,
            writer,
            commits.clone(),
            Arc::clone(&queue),
            Arc::clone(&room),
            backoff,
        );
        Self {
            writer,
            reads,
            shared: D::SHARED,
            events,
            commits,
            queue,
            room,
            kind_limits: std::sync::RwLock::default(),
            _keep: keep,
        }
    }

    /// Checks that the database answers, for reads and for writes.
    pub async fn ping(&self) -> Result<()> {
        read!(self, r => r.ping())?;
        self.writer.apply(Op::Ping, ()).await
    }

    /// Whether the database has no room to write (a full disk): from the first write refused
    /// for lack of space until a probe of the writer proves there is room again (see
    /// `store::room`). Writes are still tried meanwhile, each failing on its own with
    /// [`StoreError::is_storage_full`].
    pub fn storage_full(&self) -> bool {
        self.room.is_full()
    }

    /// Writes refused for lack of space since the store opened.
    pub fn storage_refusals(&self) -> u64 {
        self.room.refused()
    }

    /// Whether other processes use the same database (then their changes come as
    /// [`Store::events`], which a pooler may drop: poll as well).
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Inserts a queued job; returns once it is committed. A job whose dependencies are not
    /// all final waits (queued, never claimed) until they are; one whose dependency already
    /// ended without succeeding is inserted failed (`dependency_failed`).
    /// [`StoreError::UnknownDependency`] when a dependency does not exist.
    pub async fn insert(&self, job: NewJob) -> Result<Arc<Job>> {
        let job = Box::new(ToInsert::new(job));
        self.writer.apply(Op::Insert, job).await
    }

    /// Inserts several jobs in one transaction, each as [`Store::insert`] would: the outer
    /// error when the transaction failed (nothing was stored), else one result per job, in
    /// order, where a job naming an unknown dependency is refused alone and the others are
    /// stored.
    pub async fn insert_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Result<Arc<Job>>>> {
        let jobs = jobs.into_iter().map(ToInsert::new).collect();
        self.writer.apply(Op::InsertMany, jobs).await
    }

    pub async fn get(&self, id: JobId) -> Result<Option<Job>> {
        read!(self, r => r.get(id))
    }

    /// Newest first, at most `filter.limit` jobs.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        read!(self, r => r.list(filter))
    }

    /// The job inserted with idempotency key `key` (as [`IdempotencyKey::stored`]) and the
    /// hash of the request that created it.
    pub async fn by_idempotency_key(&self, key: &str) -> Result<Option<(Job, String)>> {
        read!(self, r => r.by_idempotency_key(key))
    }

    /// Jobs queued (waiting for dependencies or a `run_after` included), every instance's.
    pub async fn count_queued(&self) -> Result<u64> {
        read!(self, r => r.count_queued())
    }

    /// Jobs queued per tenant (waiting ones included), every instance's; tenants with none
    /// left out.
    pub async fn count_queued_by_tenant(&self) -> Result<std::collections::HashMap<String, u64>> {
        read!(self, r => r.count_queued_by_tenant())
    }

    /// Jobs by kind and status, and those that ended since `query.since` by bucket.
    pub async fn stats(&self, query: &StatsQuery) -> Result<StoreStats> {
        read!(self, r => r.stats(query))
    }

    /// Deletes up to `retention.batch` final jobs (and their files) that ended longer ago
    /// than the retention of their status, oldest first; returns how many. SQLite also gives
    /// the pages they used back to the file system.
    pub async fn prune(&self, retention: Retention) -> Result<u64> {
        self.writer.apply(Op::Prune, retention).await
    }

    /// Sets the kinds' concurrency limits that claims respect from now on.
    pub fn limit_kinds(&self, limits: KindConcurrency) {
        *self.kind_limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// The kinds' concurrency limits in force.
    pub fn kind_limits(&self) -> KindConcurrency {
        Arc::clone(&self.kind_limits.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Atomically moves up to `n` due queued jobs of `kinds` (highest priority, then turn) to
    /// running: attempt + 1, a new fencing token, a lease of `lease` for `owner`. A kind with a
    /// concurrency limit ([`Store::limit_kinds`]) gets no more than its room: the claims of all
    /// processes for it are serialised (on PostgreSQL by an advisory lock held to the commit),
    /// its running jobs counted, and the rest of its limit claimed.
    /// On PostgreSQL leases are taken, renewed and judged expired by the database's clock, so
    /// that instances whose clocks disagree never take each other's live runs; due times,
    /// deadlines and the times a job shows are each instance's own clock ([`now`]).
    /// `kinds` are every kind of `class` that `owner` runs (see [`StartAtInsert`]).
    pub async fn claim(
        &self,
        class: JobClass,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        if n == 0 || kinds.is_empty() {
            return Ok(Vec::new());
        }
        let kinds = kinds.to_vec();
        let owner = owner.to_string();
        let args = ClaimArgs {
            class,
            kinds,
            n,
            owner,
            lease,
            limits: self.kind_limits(),
        };
        self.writer.apply(Op::Claim, args).await
    }

    /// Renews a running attempt's lease and records its progress.
    pub async fn heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
    ) -> Result<LeaseState> {
        let args = HeartbeatArgs {
            lease,
            progress,
            lease_for,
        };
        self.writer.apply(Op::Heartbeat, args).await
    }

    /// Records how a run ended: the status it leaves the job in (final, or `queued` again).
    /// `None` when its lease is stale (the job moved on) or, for a remote worker's answer, the
    /// job's deadline passed, and nothing was written.
    pub async fn finish(&self, end: RunEnd) -> Result<Option<JobStatus>> {
        self.writer.apply(Op::Finish, Box::new(end)).await
    }

    /// Records many ends in one transaction, each as [`Store::finish`] would: the status each
    /// left its job in, or `None`.
    pub async fn finish_many(&self, ends: Vec<RunEnd>) -> Result<Vec<Option<JobStatus>>> {
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        self.writer.apply(Op::FinishMany, ends).await
    }

    /// Cancels a queued job at once, or asks for a running one to be stopped.
    pub async fn cancel(&self, id: JobId) -> Result<CancelResult> {
        Ok(*self.writer.apply(Op::Cancel, id).await?)
    }

    /// Removes a final job.
    pub async fn delete(&self, id: JobId) -> Result<DeleteResult> {
        self.writer.apply(Op::Delete, id).await
    }

    /// At start: the runs left `running` by a crash are queued again while attempts remain,
    /// else failed with `interrupted`; those with an accepted cancel pending are cancelled.
    /// Where processes share the database, only the runs of `owner` (this instance's name, so
    /// those of its previous life) and those whose lease expired; the others are alive.
    pub async fn recover_interrupted(&self, owner: &str) -> Result<Recovered> {
        let owner = owner.to_string();
        self.writer
            .apply(Op::Recover, Interrupted::AtStart { owner })
            .await
    }

    /// While running: settles, like [`Store::recover_interrupted`], the runs whose lease
    /// expired before `now` (their runner stopped renewing it), except those in `keep` (runs
    /// the caller still has, which stop themselves). On PostgreSQL, whose clock the leases
    /// go by, `now` counts as far past the database's clock as it is past this process's
    /// ([`now`]: zero for the rescuer).
    pub async fn rescue_expired(&self, now: DateTime<Utc>, keep: &[JobId]) -> Result<Recovered> {
        let keep = keep.to_vec();
        let which = Interrupted::Expired { before: now, keep };
        self.writer.apply(Op::Recover, which).await
    }

    /// Times out the runs of `kinds` (kinds remote workers run: no local runner keeps their
    /// deadline) whose deadline has passed; a pending cancel makes one cancelled.
    pub async fn time_out_overdue(&self, kinds: &[JobKind]) -> Result<Recovered> {
        if kinds.is_empty() {
            return Ok(Recovered::default());
        }
        self.writer
            .apply(Op::Recover, Interrupted::Overdue(kinds.to_vec()))
            .await
    }

    /// What other processes did that concerns this one (jobs they made final or claimable,
    /// cancels they asked for), as their notifications say, and what this process may have
    /// missed (a lost listener connection). A lagging receiver should act as on
    /// [`StoreEvent::Missed`].
    pub fn events(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    /// What each transaction of this process committed (every state change it made, each
    /// job as the transaction left it), in commit order, published before the writes that
    /// made it are answered. A lagging receiver missed some: it should act as on
    /// [`StoreEvent::Missed`].
    pub fn commits(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.commits.subscribe()
    }

    /// Jobs may have become claimable without a write of this process (another process
    /// queued them, a delayed job came due): no job starts at its insert
    /// ([`StartAtInsert`]) until a claim has found the queue empty again.
    pub fn queue_grew(&self) {
        self.queue.grew();
    }

    /// Whether the store knows of nothing claimable of `class` queued (its last claim of the
    /// class came back short and nothing was queued since, see [`Store::queue_grew`]): a
    /// dispatcher woken by a freed slot need not look.
    pub fn queue_drained(&self, class: JobClass) -> bool {
        self.queue.snapshot().is_drained(class)
    }

    /// Saves a file of a running attempt (fenced by its lease); `false` when the lease is
    /// stale and nothing was written. Replaces a file of the same index.
    pub async fn save_file(&self, lease: Lease, file: NewFile) -> Result<bool> {
        self.writer.apply(Op::SaveFile, (lease, file)).await
    }

    /// Removes the files earlier attempts of the job saved (fenced); `false` when stale.
    pub async fn clear_files(&self, lease: Lease) -> Result<bool> {
        self.writer.apply(Op::ClearFiles, lease).await
    }

    /// The files of a job, by index.
    pub async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>> {
        read!(self, r => r.list_files(id))
    }

    /// One file's description.
    pub async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        read!(self, r => r.file_info(id, name))
    }

    /// Up to `len` bytes of a file from `offset` (empty past its end; `None` if it is gone).
    pub async fn read_file(
        &self,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        read!(self, r => r.read_file(id, name, offset, len))
    }

    /// The files of a job whose index is in `indices`, with their content, by index: for
    /// reading them all in batches planned from [`Store::list_files`].
    pub async fn read_files(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>> {
        read!(self, r => r.read_files(id, indices))
    }
}

/// How the runs of remote workers are owned: `worker:` and the worker's name, never an
/// instance's name, so that no instance takes them for its own (at its start, say).
pub const WORKER_OWNER: &str = "worker:";

/// The process's clock, in milliseconds (what the database keeps): the wall clock, shifted by
/// `FAENA_CLOCK_OFFSET_MS` when set (a test's instance whose clock is off, as a host without
/// time sync would be). Leases do not depend on it on PostgreSQL (see [`Store::claim`]).
pub fn now() -> DateTime<Utc> {
    static OFFSET_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET_MS.get_or_init(|| {
        std::env::var("FAENA_CLOCK_OFFSET_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    });
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis().saturating_add(offset)).unwrap_or(now)
}
