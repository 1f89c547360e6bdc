//! What the SQL stores share: the [`Dialect`] trait (the statements of one database), the
//! group-commit [`writer`] and [`SqlStore`], the [`JobStore`] built from the two.
//!
//! SQLite and PostgreSQL differ in their SQL, their transactions and whether other processes
//! write to the same database; they do not differ in what a write means. So the batching,
//! the all-or-nothing transactions, the fencing and the release of dependents are written
//! once, here, and each database supplies its statements.

mod effects;
mod execute;
mod insert;
mod ops;
mod watch;
mod writer;

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, Pool};
use tokio::sync::broadcast;

use super::commit::Committed;
use super::{
    CancelResult, Claimed, DeleteResult, FileData, FileInfo, JobStore, Lease, LeaseState,
    ListFilter, NewFile, NewJob, Recovered, Result, Retention, RunEnd, StatsQuery, StoreEvent,
    StoreStats,
};
use crate::job::{Backoff, Job, JobClass, JobId, JobKind, JobProgress};
pub(crate) use effects::{DepState, Effects, Insert, Interrupted};
use ops::{ClaimArgs, HeartbeatArgs, Op, ToInsert};
use std::sync::Arc;
use writer::Writer;

/// Jobs queued (waiting ones included): the same statement on both databases.
pub(crate) const COUNT_QUEUED: &str = "SELECT count(*) FROM jobs WHERE status = 'queued'";

/// The connection a dialect's statements run on.
pub(crate) type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// The statements of one database. Writes run inside a transaction the writer opened (on
/// `conn`) and commits; reads run on the reader pool.
#[async_trait]
pub(crate) trait Dialect: Send + Sync + 'static {
    type Db: Database;

    /// Whether other processes write to the same database (then nothing may be assumed about
    /// the tables between two transactions).
    const SHARED: bool;

    /// Opens a write transaction on `conn`. Unless `durable`, its commit need not wait for
    /// the disk: it holds only claims and lease renewals, which a power loss may undo without
    /// harm (the job is still queued, or its lease expires), and any later durable commit
    /// makes it durable too (the log is written in order).
    async fn begin(&self, conn: &mut Conn<Self>, durable: bool) -> Result<(), sqlx::Error>;

    /// Commits the open transaction, telling the other processes on the database what it did
    /// (see [`Effects`]) in the same round trip, so that they hear of it exactly when it is
    /// committed. Nothing to tell where no other process writes.
    async fn commit(&self, conn: &mut Conn<Self>, effects: &Effects) -> Result<(), sqlx::Error>;

    async fn rollback(conn: &mut Conn<Self>) -> Result<(), sqlx::Error>;

    /// Whether a failed transaction may simply be run again (a deadlock, a serialization
    /// failure).
    fn retryable(err: &sqlx::Error) -> bool;

    async fn ping(conn: &mut Conn<Self>) -> Result<(), sqlx::Error>;

    /// Where the dependencies of a new job stand; `StoreError::UnknownDependency` for the
    /// first that does not exist. Where another process could finish them meanwhile, locks
    /// them until commit, so that none becomes final unseen.
    async fn check_deps(conn: &mut Conn<Self>, deps: &[JobId]) -> Result<DepState>;

    async fn insert_many(conn: &mut Conn<Self>, jobs: &[Insert<'_>]) -> Result<(), sqlx::Error>;

    /// Whether a job of `kinds` is queued and claimable now (due, waiting for nothing).
    async fn claimable_queued(
        conn: &mut Conn<Self>,
        kinds: &[JobKind],
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error>;

    /// Records that `job` waits for `deps` (none of them final).
    async fn add_waits(
        conn: &mut Conn<Self>,
        job: JobId,
        deps: &[JobId],
    ) -> Result<(), sqlx::Error>;

    async fn claim(
        conn: &mut Conn<Self>,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>>;

    async fn heartbeat(
        conn: &mut Conn<Self>,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseState>;

    /// Records the ends of runs, fenced by their leases (retries due after `backoff`), and
    /// releases the dependents of the jobs that became final. Returns the leases applied.
    async fn finish_many(
        conn: &mut Conn<Self>,
        ends: &[&RunEnd],
        backoff: Backoff,
        effects: &mut Effects,
    ) -> Result<HashSet<Lease>, sqlx::Error>;

    /// Cancels a queued job (releasing its dependents) or asks a running one to stop.
    async fn cancel(
        conn: &mut Conn<Self>,
        id: JobId,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Result<CancelResult>;

    /// Deletes a final job (telling `effects` what it was).
    async fn delete(
        conn: &mut Conn<Self>,
        id: JobId,
        effects: &mut Effects,
    ) -> Result<DeleteResult>;

    /// The jobs of `ids` as the open transaction sees them (those that exist).
    async fn read_jobs(conn: &mut Conn<Self>, ids: &[JobId]) -> Result<Vec<Job>>;

    /// Settles interrupted runs (see [`Interrupted`]); the jobs it made final go to
    /// `effects.released`.
    async fn recover(
        conn: &mut Conn<Self>,
        now: DateTime<Utc>,
        which: &Interrupted,
        backoff: Backoff,
        effects: &mut Effects,
    ) -> Result<Recovered>;

    /// Saves files of running attempts, each only if its lease holds; the (job, index) pairs
    /// written.
    async fn save_files(
        conn: &mut Conn<Self>,
        files: &[(Lease, &NewFile)],
    ) -> Result<HashSet<(JobId, u32)>, sqlx::Error>;

    async fn clear_files(conn: &mut Conn<Self>, lease: Lease) -> Result<bool, sqlx::Error>;

    /// Deletes up to `retention.batch` expired final jobs; how many.
    async fn prune(
        conn: &mut Conn<Self>,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<u64, sqlx::Error>;

    async fn get(pool: &Pool<Self::Db>, id: JobId) -> Result<Option<Job>>;
    async fn list(pool: &Pool<Self::Db>, filter: &ListFilter) -> Result<Vec<Job>>;
    async fn by_idempotency_key(pool: &Pool<Self::Db>, key: &str) -> Result<Option<(Job, String)>>;
    async fn count_queued(pool: &Pool<Self::Db>) -> Result<u64>;
    async fn stats(pool: &Pool<Self::Db>, query: &StatsQuery) -> Result<StoreStats>;
    async fn list_files(pool: &Pool<Self::Db>, id: JobId) -> Result<Vec<FileInfo>>;
    async fn file_info(pool: &Pool<Self::Db>, id: JobId, name: &str) -> Result<Option<FileInfo>>;
    async fn read_file(
        pool: &Pool<Self::Db>,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>>;
    async fn read_files(
        pool: &Pool<Self::Db>,
        id: JobId,
        indices: Range<u32>,
    ) -> Result<Vec<FileData>>;
}

/// A [`JobStore`] on a SQL database: writes through the group-commit writer, reads on a pool.
pub(crate) struct SqlStore<D: Dialect> {
    writer: Writer<D>,
    reader: Pool<D::Db>,
    /// Where saved pages' bytes are read (SQLite: connections that map the file).
    pages: Pool<D::Db>,
    events: broadcast::Sender<StoreEvent>,
    /// What each transaction did, for the observers of commits.
    commits: broadcast::Sender<std::sync::Arc<Committed>>,
    /// What the writer knows of the queue (see [`watch`]).
    queue: std::sync::Arc<watch::QueueWatch>,
    /// What must live as long as the store (a lock file, a listener task).
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl<D: Dialect> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").finish_non_exhaustive()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A store writing through `writer` (one connection for SQLite, any for PostgreSQL),
    /// reading on `reader`, and the bytes of saved pages on `pages`; `events` carries what
    /// other writes did (see [`JobStore::events`]).
    pub(crate) fn new(
        dialect: D,
        writer: Pool<D::Db>,
        reader: Pool<D::Db>,
        pages: Pool<D::Db>,
        events: broadcast::Sender<StoreEvent>,
        keep: Box<dyn std::any::Any + Send + Sync>,
        backoff: Backoff,
    ) -> Self {
        let queue = std::sync::Arc::default();
        let (commits, _) = broadcast::channel(COMMITS_BUFFER);
        Self {
            writer: Writer::start(
                dialect,
                writer,
                commits.clone(),
                std::sync::Arc::clone(&queue),
                backoff,
            ),
            reader,
            pages,
            events,
            commits,
            queue,
            _keep: keep,
        }
    }

    pub(crate) fn reader(&self) -> &Pool<D::Db> {
        &self.reader
    }
}

/// Commits kept for an observer that lags; past them it is told it missed some.
const COMMITS_BUFFER: usize = 4096;

#[async_trait]
impl<D: Dialect> JobStore for SqlStore<D> {
    async fn ping(&self) -> Result<()> {
        D::ping(&mut *self.reader.acquire().await?).await?;
        self.writer.apply(Op::Ping, ()).await
    }

    fn shared(&self) -> bool {
        D::SHARED
    }

    async fn insert(&self, new: NewJob) -> Result<Arc<Job>> {
        let new = Box::new(ToInsert::new(new));
        self.writer.apply(Op::Insert, new).await
    }

    async fn insert_many(&self, new: Vec<NewJob>) -> Result<Vec<Result<Arc<Job>>>> {
        let new = new.into_iter().map(ToInsert::new).collect();
        self.writer.apply(Op::InsertMany, new).await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        D::get(&self.reader, id).await
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        D::list(&self.reader, filter).await
    }

    async fn by_idempotency_key(&self, key: &str) -> Result<Option<(Job, String)>> {
        D::by_idempotency_key(&self.reader, key).await
    }

    async fn count_queued(&self) -> Result<u64> {
        D::count_queued(&self.reader).await
    }

    async fn stats(&self, query: &StatsQuery) -> Result<StoreStats> {
        D::stats(&self.reader, query).await
    }

    async fn prune(&self, retention: Retention) -> Result<u64> {
        self.writer.apply(Op::Prune, retention).await
    }

    async fn claim(
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
        self.writer
            .apply(
                Op::Claim,
                ClaimArgs {
                    class,
                    kinds: kinds.to_vec(),
                    n,
                    owner: owner.to_string(),
                    lease,
                },
            )
            .await
    }

    async fn heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
    ) -> Result<LeaseState> {
        self.writer
            .apply(
                Op::Heartbeat,
                HeartbeatArgs {
                    lease,
                    progress,
                    lease_for,
                },
            )
            .await
    }

    async fn finish(&self, end: RunEnd) -> Result<bool> {
        self.writer.apply(Op::Finish, Box::new(end)).await
    }

    async fn cancel(&self, id: JobId) -> Result<CancelResult> {
        Ok(*self.writer.apply(Op::Cancel, id).await?)
    }

    async fn delete(&self, id: JobId) -> Result<DeleteResult> {
        self.writer.apply(Op::Delete, id).await
    }

    async fn recover_interrupted(&self, owner: &str) -> Result<Recovered> {
        let which = Interrupted::AtStart {
            owner: owner.to_string(),
        };
        self.writer.apply(Op::Recover, which).await
    }

    async fn rescue_expired(&self, now: DateTime<Utc>, keep: &[JobId]) -> Result<Recovered> {
        let which = Interrupted::Expired {
            before: now,
            keep: keep.to_vec(),
        };
        self.writer.apply(Op::Recover, which).await
    }

    fn events(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    fn commits(&self) -> broadcast::Receiver<std::sync::Arc<Committed>> {
        self.commits.subscribe()
    }

    fn queue_grew(&self) {
        self.queue.grew();
    }

    fn queue_drained(&self, class: crate::job::JobClass) -> bool {
        self.queue.snapshot().is_drained(class)
    }

    async fn save_file(&self, lease: Lease, file: NewFile) -> Result<bool> {
        self.writer.apply(Op::SaveFile, (lease, file)).await
    }

    async fn clear_files(&self, lease: Lease) -> Result<bool> {
        self.writer.apply(Op::ClearFiles, lease).await
    }

    async fn list_files(&self, id: JobId) -> Result<Vec<FileInfo>> {
        D::list_files(&self.reader, id).await
    }

    async fn file_info(&self, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        D::file_info(&self.reader, id, name).await
    }

    async fn read_file(
        &self,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        D::read_file(&self.pages, id, name, offset, len).await
    }

    async fn read_files(&self, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>> {
        D::read_files(&self.pages, id, indices).await
    }
}
