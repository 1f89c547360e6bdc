//! What both databases share: the group-commit [`writer`] and everything a write means,
//! written once (batching, all-or-nothing transactions, fencing, start at insert, cancels,
//! the release of dependents, how runs end and are settled, what a commit tells the
//! observer); and the traits by which each database supplies only its statements.
//!
//! The statements are grouped by meaning, one trait each, implemented by `sqlite/` and
//! `postgres/` in the file of the same name: [`Dialect`] (transactions, in `mod.rs`),
//! [`JobSql`] (`jobs.rs`), [`DepSql`] (`deps.rs`), [`EndSql`] (`ends.rs`) and [`FileSql`]
//! (`files.rs`). Reads need no writer: each database's `read.rs` answers them on its pools.

pub(crate) mod deps;
mod effects;
pub(crate) mod ends;
mod execute;
mod insert;
mod ops;
pub(crate) mod watch;
mod writer;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Database;

use super::commit::Deleted;
use super::{Claimed, Lease, LeaseState, NewFile, Result, Retention, RunEnd};
use crate::job::{Job, JobId, JobKind, JobProgress, JobStatus};
pub(crate) use effects::{Effects, Insert, Interrupted};
pub(crate) use ends::{Ended, Interruption, Settle};
pub(crate) use ops::{ClaimArgs, HeartbeatArgs, Op, ToInsert};
pub(crate) use writer::Writer;

/// Jobs queued (waiting ones included): the same statement on both databases.
pub(crate) const COUNT_QUEUED: &str = "SELECT count(*) FROM jobs WHERE status = 'queued'";

/// Jobs queued per tenant (waiting ones included): the same statement on both databases.
pub(crate) const COUNT_QUEUED_BY_TENANT: &str = "SELECT tenant, count(*) FROM jobs \
     WHERE status = 'queued' AND tenant IS NOT NULL GROUP BY tenant";

/// The connection a dialect's statements run on.
pub(crate) type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// A database's transactions. Writes run inside one the writer opened (on `conn`) and
/// commits.
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

    /// Writes `pad` as the one row of `storage_probe` (see `store::room`), or deletes it when
    /// `pad` is `None`.
    async fn probe(conn: &mut Conn<Self>, pad: Option<&[u8]>) -> Result<(), sqlx::Error>;

    /// The bytes free where the database writes, when this process can tell (a local file).
    fn free_bytes(&self) -> Option<u64> {
        None
    }
}

/// The statements about jobs themselves.
#[async_trait]
pub(crate) trait JobSql: Dialect {
    async fn insert_many(conn: &mut Conn<Self>, jobs: &[Insert<'_>]) -> Result<(), sqlx::Error>;

    /// Waits until no other process's transaction is claiming jobs of `kind`, and keeps them
    /// out until this one ends (nothing to do where one process writes).
    async fn lock_kind(conn: &mut Conn<Self>, kind: JobKind) -> Result<(), sqlx::Error>;

    /// Jobs of `kind` running, all processes.
    async fn count_running(conn: &mut Conn<Self>, kind: JobKind) -> Result<usize, sqlx::Error>;

    /// The lowest turn among the claimable-or-delayed queued jobs of `kind` and `priority`.
    async fn queue_head(
        conn: &mut Conn<Self>,
        kind: &str,
        priority: i32,
    ) -> Result<Option<i64>, sqlx::Error>;

    /// The highest turn among `tenant`'s claimable queued jobs of `kind` and `priority` (due
    /// at `now`, waiting for nothing): jobs delayed or waiting do not push its new ones back.
    async fn tenant_last(
        conn: &mut Conn<Self>,
        tenant: &str,
        kind: &str,
        priority: i32,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error>;

    /// Whether a job of `kinds` is queued and claimable now (due, waiting for nothing).
    async fn claimable_queued(
        conn: &mut Conn<Self>,
        kinds: &[JobKind],
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error>;

    /// Moves up to `n` due queued jobs of `kinds`, at most the number given with each kind
    /// (highest priority, then turn), to running for `owner`: attempt + 1, a new fencing
    /// token, a lease of `lease`. Leases are
    /// measured on one clock: `now` (the one process's) on SQLite, the database's on
    /// PostgreSQL, where instances' clocks may disagree (see also [`EndSql::interrupted`]).
    async fn claim(
        conn: &mut Conn<Self>,
        kinds: &[(JobKind, usize)],
        n: usize,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>>;

    /// Renews a running attempt's lease (fenced) and records its progress.
    async fn heartbeat(
        conn: &mut Conn<Self>,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseState>;

    /// Cancels job `id` if it is queued: the job as cancelled.
    async fn cancel_queued(
        conn: &mut Conn<Self>,
        id: JobId,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>>;

    /// Asks job `id` to stop if it is running: the job.
    async fn request_cancel(conn: &mut Conn<Self>, id: JobId) -> Result<Option<Job>>;

    /// Deletes job `id` (its files and waits go by cascade) if it is final: what it was.
    async fn delete_final(conn: &mut Conn<Self>, id: JobId) -> Result<Option<Deleted>>;

    /// The jobs of `ids` as the open transaction sees them (those that exist).
    async fn read_jobs(conn: &mut Conn<Self>, ids: &[JobId]) -> Result<Vec<Job>>;

    /// Deletes up to `retention.batch` final jobs that ended before their group's cutoff,
    /// oldest first; how many.
    async fn prune(
        conn: &mut Conn<Self>,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<u64, sqlx::Error>;
}

/// The statements about dependencies (see [`deps`], which runs them).
#[async_trait]
pub(crate) trait DepSql: Dialect {
    /// The statuses of those of `deps` that exist. Where another process could finish them
    /// meanwhile, locks them until commit, so that none becomes final unseen.
    async fn dep_statuses(
        conn: &mut Conn<Self>,
        deps: &[JobId],
    ) -> Result<Vec<(JobId, JobStatus)>, sqlx::Error>;

    /// Records that `job` waits for `deps` (none of them final).
    async fn add_waits(
        conn: &mut Conn<Self>,
        job: JobId,
        deps: &[JobId],
    ) -> Result<(), sqlx::Error>;

    /// Whether any job waits at all.
    async fn any_waits(conn: &mut Conn<Self>) -> Result<bool, sqlx::Error>;

    /// Whether a job waits for one of `ids`.
    async fn have_dependents(conn: &mut Conn<Self>, ids: &[JobId]) -> Result<bool, sqlx::Error>;

    /// Fails the queued dependents of `unsuccessful` (jobs that ended without succeeding,
    /// with their status) with `dependency_failed`, naming the dependency; returns them.
    async fn fail_dependents(
        conn: &mut Conn<Self>,
        unsuccessful: &[(JobId, JobStatus)],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>, sqlx::Error>;

    /// Each queued dependent of `ids` waits for as many jobs fewer as it waited for of them;
    /// their waits go.
    async fn release_waits(conn: &mut Conn<Self>, ids: &[JobId]) -> Result<(), sqlx::Error>;

    /// Drops the waits of `jobs` (final while waiting).
    async fn forget_waits(conn: &mut Conn<Self>, jobs: &[JobId]) -> Result<(), sqlx::Error>;
}

/// The statements about the ends of runs (see [`ends`], which decides them).
#[async_trait]
pub(crate) trait EndSql: Dialect {
    /// Records final ends of runs, each fenced by its lease: the leases applied, and the
    /// jobs made final that may have dependents to release.
    async fn finish_many(conn: &mut Conn<Self>, ends: &[&RunEnd]) -> Result<Ended, sqlx::Error>;

    /// The running jobs `which` names, as their rows are (locked for the transaction where
    /// other processes write; rows another transaction holds are skipped when rescuing).
    async fn interrupted(
        conn: &mut Conn<Self>,
        which: &Interrupted,
        now: DateTime<Utc>,
    ) -> Result<Vec<Interruption>, sqlx::Error>;

    /// Writes what running jobs become (`settles`), each only while it still runs with the
    /// fence given; the jobs settled.
    async fn settle(
        conn: &mut Conn<Self>,
        settles: &[Settle],
    ) -> Result<HashSet<JobId>, sqlx::Error>;
}

/// The statements about the files runs save.
#[async_trait]
pub(crate) trait FileSql: Dialect {
    /// Saves files of running attempts, each only if its lease holds; the (job, index) pairs
    /// written.
    async fn save_files(
        conn: &mut Conn<Self>,
        files: &[(Lease, &NewFile)],
    ) -> Result<HashSet<(JobId, u32)>, sqlx::Error>;

    /// Removes the files earlier attempts saved, if the lease holds.
    async fn clear_files(conn: &mut Conn<Self>, lease: Lease) -> Result<bool, sqlx::Error>;
}

/// Every statement a database supplies.
pub(crate) trait Sql: JobSql + DepSql + EndSql + FileSql {}

impl<D: JobSql + DepSql + EndSql + FileSql> Sql for D {}
