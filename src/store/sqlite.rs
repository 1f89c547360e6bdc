//! The SQLite store: one file, WAL mode, one writer connection and a pool of readers.
//!
//! SQLite allows one writer at a time. Funnelling every write through a single connection
//! makes writers queue in-process instead of spinning on `SQLITE_BUSY`; readers never block
//! the writer in WAL mode. One faena process per database file.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use super::rows::{JOB_COLUMNS, JobRow, job_columns};
use super::{
    CancelResult, Claimed, DeleteResult, JobStore, Lease, LeaseState, ListFilter, NewJob, Outcome,
    Recovered, Result, StoreError, now,
};
use crate::job::{Job, JobId, JobKind, JobProgress, JobStatus};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Tuning of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a statement waits for a lock before failing.
    pub busy_timeout: Duration,
    /// `full` syncs every commit to disk (survives power loss); `normal` syncs at checkpoints
    /// (survives a process crash, not a power cut).
    pub synchronous_full: bool,
    /// Reader connections.
    pub readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            synchronous_full: true,
            readers: 4,
        }
    }
}

/// Jobs in a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str, options: &SqliteOptions) -> Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(connect.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// Applies pending migrations to the database at `url` and returns how many ran.
    pub async fn migrate(url: &str) -> Result<usize> {
        let store = Self::open(url, &SqliteOptions::default()).await?;
        let applied = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations")
            .fetch_one(&store.reader)
            .await?;
        Ok(applied as usize)
    }
}

const SELECT_BY_ID: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = ?1");

fn to_job(row: JobRow) -> Result<Job> {
    Job::try_from(row)
}

fn to_claimed(row: JobRow) -> Result<Claimed> {
    let fence = row.fence;
    let job = to_job(row)?;
    Ok(Claimed {
        lease: Lease { id: job.id, fence },
        job,
    })
}

fn push_kinds(q: &mut QueryBuilder<Sqlite>, kinds: &[JobKind]) {
    q.push(" AND kind IN (");
    let mut sep = q.separated(", ");
    for kind in kinds {
        sep.push_bind(kind.as_str());
    }
    q.push(")");
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn insert(&self, new: NewJob) -> Result<Job> {
        let params = new.spec.params_json();
        let kind = new.spec.kind();
        let created = ms(new.created_at);
        sqlx::query(
            "INSERT INTO jobs (id, kind, params, status, priority, timeout_ms, max_attempts, \
             run_after, created_at) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?7)",
        )
        .bind(new.id.to_string())
        .bind(kind.as_str())
        .bind(params.to_string())
        .bind(new.options.priority)
        .bind(new.options.timeout_ms as i64)
        .bind(new.options.max_attempts as i64)
        .bind(created)
        .execute(&self.writer)
        .await?;
        Ok(Job {
            id: new.id,
            kind,
            params,
            status: JobStatus::Queued,
            priority: new.options.priority,
            timeout_ms: new.options.timeout_ms,
            attempt: 0,
            max_attempts: new.options.max_attempts,
            progress: None,
            created_at: new.created_at,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
        })
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(SELECT_BY_ID)
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(to_job)
            .transpose()
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<Job>> {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(kind) = filter.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(before) = filter.before {
            q.push(" AND id < ").push_bind(before.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        q.build_query_as::<JobRow>()
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(to_job)
            .collect()
    }

    async fn claim(
        &self,
        kinds: &[JobKind],
        n: usize,
        owner: &str,
        lease: Duration,
    ) -> Result<Vec<Claimed>> {
        if n == 0 || kinds.is_empty() {
            return Ok(Vec::new());
        }
        let now = ms(now());
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, fence = fence + 1, \
             cancel_requested = 0, progress_done = NULL, progress_total = NULL, owner = ",
        );
        q.push_bind(owner)
            .push(", started_at = ")
            .push_bind(now)
            .push(", lease_expires_at = ")
            .push_bind(now + lease.as_millis() as i64)
            .push(" WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_after <= ")
            .push_bind(now);
        push_kinds(&mut q, kinds);
        q.push(" ORDER BY priority DESC, created_at, id LIMIT ")
            .push_bind(n as i64)
            .push(") RETURNING ")
            .push(JOB_COLUMNS);
        let mut claimed = q
            .build_query_as::<JobRow>()
            .fetch_all(&self.writer)
            .await?
            .into_iter()
            .map(to_claimed)
            .collect::<Result<Vec<_>>>()?;
        // RETURNING comes in no set order; start them in claim order.
        claimed.sort_by(|a, b| {
            (b.job.priority, a.job.created_at, a.job.id).cmp(&(
                a.job.priority,
                b.job.created_at,
                b.job.id,
            ))
        });
        Ok(claimed)
    }

    async fn next_due(&self, kinds: &[JobKind]) -> Result<Option<DateTime<Utc>>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT min(run_after) FROM jobs WHERE status = 'queued'");
        push_kinds(&mut q, kinds);
        let due: Option<i64> = q.build_query_scalar().fetch_one(&self.reader).await?;
        Ok(due.and_then(DateTime::from_timestamp_millis))
    }

    async fn heartbeat(
        &self,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
    ) -> Result<LeaseState> {
        let until = ms(now()) + lease_for.as_millis() as i64;
        let cancel: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = ?1, \
             progress_done = coalesce(?2, progress_done), \
             progress_total = coalesce(?3, progress_total) \
             WHERE id = ?4 AND fence = ?5 AND status = 'running' RETURNING cancel_requested",
        )
        .bind(until)
        .bind(progress.map(|p| p.done as i64))
        .bind(progress.map(|p| p.total as i64))
        .bind(lease.id.to_string())
        .bind(lease.fence)
        .fetch_optional(&self.writer)
        .await?;
        Ok(match cancel {
            Some(c) => LeaseState::Held {
                cancel_requested: c != 0,
            },
            None => LeaseState::Lost,
        })
    }

    async fn finish(
        &self,
        lease: Lease,
        outcome: Outcome,
        progress: Option<JobProgress>,
    ) -> Result<Option<Job>> {
        let (status, result, error) = match outcome {
            Outcome::Requeue => return requeue(&self.writer, lease).await,
            Outcome::Succeeded(v) => (JobStatus::Succeeded, Some(v.to_string()), None),
            Outcome::Failed(e) => (JobStatus::Failed, None, Some(e)),
            Outcome::TimedOut(e) => (JobStatus::TimedOut, None, Some(e)),
            Outcome::Cancelled(e) => (JobStatus::Cancelled, None, Some(e)),
        };
        let row = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = ?1, result = ?2, error_code = ?3, error_message = ?4, \
             finished_at = ?5, owner = NULL, lease_expires_at = NULL, \
             progress_done = coalesce(?8, progress_done), \
             progress_total = coalesce(?9, progress_total) \
             WHERE id = ?6 AND fence = ?7 AND status = 'running' RETURNING ",
            job_columns!(),
            ""
        ))
        .bind(status.as_str())
        .bind(result)
        .bind(error.as_ref().map(|e| e.code.as_str()))
        .bind(error.map(|e| e.message))
        .bind(ms(now()))
        .bind(lease.id.to_string())
        .bind(lease.fence)
        .bind(progress.map(|p| p.done as i64))
        .bind(progress.map(|p| p.total as i64))
        .fetch_optional(&self.writer)
        .await?;
        row.map(to_job).transpose()
    }

    async fn cancel(&self, id: JobId) -> Result<CancelResult> {
        let mut tx = self.writer.begin().await?;
        let cancelled = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?1, error_code = 'cancelled', \
             error_message = 'cancelled by request before it started' \
             WHERE id = ?2 AND status = 'queued' RETURNING ",
            job_columns!(),
            ""
        ))
        .bind(ms(now()))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let result = if let Some(row) = cancelled {
            CancelResult::Cancelled(to_job(row)?)
        } else if let Some(row) = sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running' \
             RETURNING ",
            job_columns!(),
            ""
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        {
            CancelResult::Requested(to_job(row)?)
        } else {
            match sqlx::query_as::<_, JobRow>(SELECT_BY_ID)
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?
            {
                Some(row) => CancelResult::AlreadyFinal(to_job(row)?),
                None => CancelResult::NotFound,
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    async fn delete(&self, id: JobId) -> Result<DeleteResult> {
        let mut tx = self.writer.begin().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(status) = status else {
            return Ok(DeleteResult::NotFound);
        };
        let status: JobStatus = status
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("job {id}: bad status")))?;
        if !status.is_final() {
            return Ok(DeleteResult::NotFinal(status));
        }
        sqlx::query("DELETE FROM jobs WHERE id = ?1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteResult::Deleted)
    }

    async fn recover_interrupted(&self) -> Result<Recovered> {
        let now = ms(now());
        let mut tx = self.writer.begin().await?;
        let failed = sqlx::query(
            "UPDATE jobs SET status = 'failed', finished_at = ?1, owner = NULL, \
             lease_expires_at = NULL, error_code = 'interrupted', \
             error_message = 'the process running it stopped and no attempts were left' \
             WHERE status = 'running' AND attempt >= max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'queued', run_after = ?1, owner = NULL, \
             lease_expires_at = NULL, error_code = 'interrupted', \
             error_message = 'the process running attempt ' || attempt || ' stopped; queued again' \
             WHERE status = 'running'",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Recovered { requeued, failed })
    }
}

/// Hands a running job back to the queue without counting its attempt.
async fn requeue(writer: &SqlitePool, lease: Lease) -> Result<Option<Job>> {
    let row = sqlx::query_as::<_, JobRow>(concat!(
        "UPDATE jobs SET status = 'queued', attempt = attempt - 1, owner = NULL, \
         lease_expires_at = NULL, started_at = NULL, progress_done = NULL, \
         progress_total = NULL WHERE id = ?1 AND fence = ?2 AND status = 'running' \
         RETURNING ",
        job_columns!(),
        ""
    ))
    .bind(lease.id.to_string())
    .bind(lease.fence)
    .fetch_optional(writer)
    .await?;
    row.map(to_job).transpose()
}
