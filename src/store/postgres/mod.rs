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

mod deps;
mod ends;
mod events;
mod files;
mod jobs;
mod read;
mod stats;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgConnection, Postgres};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use uuid::Uuid;

use super::sql::{Dialect, Effects};
use super::{Reads as StoreReads, Result, Store};
use crate::job::{Backoff, JobId};
pub(crate) use read::Reads;

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

/// The columns of a job as [`JobRow`] decodes them (text ids and JSON, times in
/// milliseconds), from the table `jobs`.
macro_rules! pg_job_columns {
    () => {
        "jobs.id::text AS id, jobs.kind, jobs.params::text AS params, jobs.status, \
         jobs.priority, jobs.timeout_ms, jobs.attempt, jobs.max_attempts, jobs.fence, \
         jobs.progress_done, jobs.progress_total, \
         (extract(epoch FROM jobs.created_at) * 1000)::int8 AS created_at, \
         (extract(epoch FROM jobs.started_at) * 1000)::int8 AS started_at, \
         (extract(epoch FROM jobs.finished_at) * 1000)::int8 AS finished_at, \
         jobs.result::text AS result, jobs.error_code, jobs.error_message, \
         jobs.depends_on::text AS depends_on, jobs.owner, \
         (extract(epoch FROM jobs.run_after) * 1000)::int8 AS run_after, \
         jobs.errors::text AS errors, jobs.tenant, jobs.retry_of::text AS retry_of, \
         jobs.traceparent"
    };
}
use pg_job_columns;

fn uuid(id: JobId) -> Uuid {
    *id.as_uuid()
}

fn uuids(ids: impl IntoIterator<Item = JobId>) -> Vec<Uuid> {
    ids.into_iter().map(uuid).collect()
}

/// The database's clock, to the millisecond, as SQL: what leases are taken and expire by.
/// Instances' clocks may drift apart; a lease written by one and judged expired by another
/// must be measured on one clock, or a fast clock would take live runs away. Read when the
/// statement starts (`statement_timestamp()`), not when its transaction began, and stable
/// within it, so that the rescue's comparison can use the `jobs_running` index.
macro_rules! db_now {
    () => {
        "date_trunc('milliseconds', statement_timestamp())"
    };
}
use db_now;

/// `lease` in whole milliseconds, for `$n * interval '1 millisecond'`.
fn millis(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// Opens the database at `url`, applies pending migrations and starts listening for what
/// other instances do.
pub(crate) async fn open(url: &str, options: &PgOptions, backoff: Backoff) -> Result<Store> {
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
    Ok(Store::new(
        dialect,
        writer,
        StoreReads::Postgres(Reads { pool }),
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

    async fn probe(conn: &mut PgConnection, pad: Option<&[u8]>) -> Result<(), sqlx::Error> {
        let query = match pad {
            Some(pad) => sqlx::query(
                "INSERT INTO storage_probe (id, pad) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET pad = excluded.pad",
            )
            .bind(pad),
            None => sqlx::query("DELETE FROM storage_probe"),
        };
        query.execute(conn).await.map(drop)
    }
}
