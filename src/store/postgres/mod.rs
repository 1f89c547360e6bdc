//! The PostgreSQL store: any number of faena instances on one database share one queue.
//!
//! Writes go through the same group-commit writer as SQLite's, on a connection of the pool;
//! claims lock with `FOR UPDATE SKIP LOCKED`, so instances never wait for each other's
//! candidates; every write about a run is fenced by its lease. Instances tell each other
//! about new work, finished jobs and cancels with `LISTEN/NOTIFY` ([`events`]). Migrations
//! (`migrations/postgres`) are applied at start under an advisory lock, so instances starting
//! together apply them once. The database's current schema (`search_path`, e.g. from
//! `?options=-c%20search_path%3Dname` in the URL) holds the tables and names the notification
//! channel: two deployments in two schemas of one database do not hear each other.

mod events;
mod queries;

use std::collections::HashSet;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, PgConnection, Postgres};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::sql::{DepState, Dialect, Effects, Insert, Interrupted, SqlStore};
use super::{
    CancelResult, Claimed, DeleteResult, FileData, FileInfo, Lease, LeaseState, ListFilter,
    NewFile, Recovered, Result, Retention, RunEnd, StatsQuery, StoreStats,
};
use crate::job::{Backoff, Job, JobId, JobKind, JobProgress};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Tuning of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections for reads (the writer has two of its own, the listener one).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Names of kinds the store must accept besides those of its migrations (a kind
    /// registered by a program embedding faena): added to `job_kinds` at open.
    pub kinds: Vec<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            kinds: Vec::new(),
        }
    }
}

/// Jobs in a PostgreSQL database.
pub(crate) type PgStore = SqlStore<PgDialect>;

/// Opens the database at `url`, applies pending migrations and starts listening for what
/// other instances do.
pub(crate) async fn open(url: &str, options: &PgOptions, backoff: Backoff) -> Result<PgStore> {
    // A session that stalls inside a transaction (its instance paused or cut off) would hold
    // the row locks of its runs, and every rescue waiting on them, until the server noticed
    // the dead connection: end it after a few seconds instead (no batch idles that long).
    let connect =
        PgConnectOptions::from_str(url)?.options([("idle_in_transaction_session_timeout", "5s")]);
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.clone())
        .await?;
    MIGRATOR.run(&pool).await?;
    sqlx::query("INSERT INTO job_kinds (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
        .bind(&options.kinds)
        .execute(&pool)
        .await?;
    // The writer's own connections: a burst of reads never keeps a write (a heartbeat) waiting.
    // No ping before each batch (a round trip): a batch on a dead connection fails, and the
    // writer closes a connection it cannot roll back.
    let writer = PgPoolOptions::new()
        .max_connections(2)
        .test_before_acquire(false)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.clone())
        .await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&pool)
        .await?;
    let channel = format!("faena_{schema}");
    let sender = uuid::Uuid::now_v7().simple().to_string();
    // The listener's own connection, kept for as long as it lives.
    let listener_pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect);
    let (events, _) = broadcast::channel(4096);
    let stop = CancellationToken::new();
    tokio::spawn(events::listen(
        listener_pool,
        channel.clone(),
        sender.clone(),
        events.clone(),
        stop.clone(),
    ));
    let dialect = PgDialect {
        channel_ident: format!("\"{}\"", channel.replace('"', "\"\"")),
        sender,
    };
    Ok(SqlStore::new(
        dialect,
        writer,
        pool.clone(),
        pool,
        events,
        Box::new(stop.drop_guard()),
        backoff,
    ))
}

/// Applies pending migrations to the database at `url`; returns how many are applied.
pub(crate) async fn migrate(url: &str) -> Result<usize> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(url)?)
        .await?;
    MIGRATOR.run(&pool).await?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await?;
    Ok(applied as usize)
}

/// The statements of PostgreSQL, and where this instance sends its notifications.
pub(crate) struct PgDialect {
    /// The notification channel, quoted as an identifier.
    channel_ident: String,
    /// This process's token in the notifications it sends.
    sender: String,
}

#[async_trait]
impl Dialect for PgDialect {
    type Db = Postgres;
    const SHARED: bool = true;

    async fn begin(&self, conn: &mut PgConnection, durable: bool) -> Result<(), sqlx::Error> {
        let sql = if durable {
            "BEGIN"
        } else {
            "BEGIN; SET LOCAL synchronous_commit = off"
        };
        conn.execute(sql).await.map(drop)
    }

    async fn commit(&self, conn: &mut PgConnection, effects: &Effects) -> Result<(), sqlx::Error> {
        // One simple query: the notifications (of our own making: hex ids and letters) and the
        // commit, in one round trip.
        let mut sql = String::new();
        for payload in events::payloads(&self.sender, effects) {
            sql.push_str(&format!(
                "NOTIFY {}, '{}'; ",
                self.channel_ident,
                payload.replace('\'', "''")
            ));
        }
        sql.push_str("COMMIT");
        conn.execute(sqlx::AssertSqlSafe(sql)).await.map(drop)
    }

    async fn rollback(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        conn.execute("ROLLBACK").await.map(drop)
    }

    fn retryable(err: &sqlx::Error) -> bool {
        // serialization_failure, deadlock_detected: transactions of two instances crossed.
        err.as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "40001" || code == "40P01")
    }

    async fn ping(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        conn.execute("SELECT 1").await.map(drop)
    }

    async fn check_deps(conn: &mut PgConnection, deps: &[JobId]) -> Result<DepState> {
        queries::deps::check(conn, deps).await
    }

    async fn claimable_queued(
        conn: &mut PgConnection,
        kinds: &[JobKind],
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND kind = ANY($1) AND run_after <= $2)",
        )
        .bind(kinds)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    }

    async fn insert_many(conn: &mut PgConnection, jobs: &[Insert<'_>]) -> Result<(), sqlx::Error> {
        queries::insert_many(conn, jobs).await
    }

    async fn add_waits(
        conn: &mut PgConnection,
        job: JobId,
        deps: &[JobId],
    ) -> Result<(), sqlx::Error> {
        queries::deps::add_waits(conn, job, deps).await
    }

    async fn claim(
        conn: &mut PgConnection,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>> {
        queries::claim(conn, kinds, n, owner, lease, now).await
    }

    async fn heartbeat(
        conn: &mut PgConnection,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseState> {
        queries::heartbeat(conn, lease, progress, lease_for, now).await
    }

    async fn finish_many(
        conn: &mut PgConnection,
        ends: &[&RunEnd],
        backoff: Backoff,
        effects: &mut Effects,
    ) -> Result<HashSet<Lease>, sqlx::Error> {
        queries::ends::finish_many(conn, ends, backoff, effects).await
    }

    async fn cancel(
        conn: &mut PgConnection,
        id: JobId,
        now: DateTime<Utc>,
        effects: &mut Effects,
    ) -> Result<CancelResult> {
        queries::cancel(conn, id, now, effects).await
    }

    async fn delete(
        conn: &mut PgConnection,
        id: JobId,
        effects: &mut Effects,
    ) -> Result<DeleteResult> {
        queries::delete(conn, id, effects).await
    }

    async fn read_jobs(conn: &mut PgConnection, ids: &[JobId]) -> Result<Vec<Job>> {
        queries::read_jobs(conn, ids).await
    }

    async fn recover(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        which: &Interrupted,
        backoff: Backoff,
        effects: &mut Effects,
    ) -> Result<Recovered> {
        queries::ends::recover(conn, now, which, backoff, effects).await
    }

    async fn save_files(
        conn: &mut PgConnection,
        files: &[(Lease, &NewFile)],
    ) -> Result<HashSet<(JobId, u32)>, sqlx::Error> {
        queries::files::save_many(conn, files).await
    }

    async fn clear_files(conn: &mut PgConnection, lease: Lease) -> Result<bool, sqlx::Error> {
        queries::files::clear(conn, lease).await
    }

    async fn get(pool: &PgPool, id: JobId) -> Result<Option<Job>> {
        queries::get(pool, id).await
    }

    async fn list(pool: &PgPool, filter: &ListFilter) -> Result<Vec<Job>> {
        queries::list(pool, filter).await
    }

    async fn prune(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<u64, sqlx::Error> {
        queries::prune(conn, now, retention).await
    }

    async fn stats(pool: &PgPool, query: &StatsQuery) -> Result<StoreStats> {
        queries::stats::stats(pool, query).await
    }

    async fn count_queued(pool: &PgPool) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(super::sql::COUNT_QUEUED)
            .fetch_one(pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn by_idempotency_key(pool: &PgPool, key: &str) -> Result<Option<(Job, String)>> {
        queries::by_idempotency_key(pool, key).await
    }

    async fn list_files(pool: &PgPool, id: JobId) -> Result<Vec<FileInfo>> {
        queries::files::list(pool, id).await
    }

    async fn file_info(pool: &PgPool, id: JobId, name: &str) -> Result<Option<FileInfo>> {
        queries::files::one(pool, id, name).await
    }

    async fn read_file(
        pool: &PgPool,
        id: JobId,
        name: &str,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        queries::files::read(pool, id, name, offset, len).await
    }

    async fn read_files(pool: &PgPool, id: JobId, indices: Range<u32>) -> Result<Vec<FileData>> {
        let mut conn = pool.acquire().await?;
        queries::files::read_many(&mut conn, id, indices).await
    }
}
