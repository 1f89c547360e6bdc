//! The SQL of the PostgreSQL store: one small function per statement (or per short
//! sequence), taking the connection it runs on so that the caller owns the transaction.
//!
//! Several processes write at once, so where SQLite relies on being the only writer these
//! statements lock: a claim skips the rows another claim holds (`FOR UPDATE SKIP LOCKED`),
//! and a new job holds its dependencies (`FOR SHARE`) until it is committed, so that none of
//! them can finish unseen in between.

pub(super) mod deps;
pub(super) mod ends;
pub(super) mod files;
pub(super) mod stats;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::job::{Job, JobId, JobKind, JobProgress, JobStatus};
use crate::store::rows::{JobRow, claimed_in_order};
use crate::store::sql::{Effects, Insert};
use crate::store::{CancelResult, Claimed, DeleteResult, Lease, LeaseState, ListFilter, Result};

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
         jobs.errors::text AS errors, jobs.tenant, jobs.retry_of::text AS retry_of"
    };
}
const SELECT_BY_ID: &str = concat!("SELECT ", pg_job_columns!(), " FROM jobs WHERE id = $1");

pub(super) fn uuid(id: JobId) -> Uuid {
    *id.as_uuid()
}

pub(super) fn uuids(ids: impl IntoIterator<Item = JobId>) -> Vec<Uuid> {
    ids.into_iter().map(uuid).collect()
}

fn to_job(row: JobRow) -> Result<Job> {
    Job::try_from(row)
}

fn lease_until(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::milliseconds(lease.as_millis().min(i64::MAX as u128) as i64)
}

/// Inserts jobs in one statement, whatever their number (arrays, one per column).
pub(super) async fn insert_many(
    conn: &mut PgConnection,
    jobs: &[Insert<'_>],
) -> Result<(), sqlx::Error> {
    let mut cols = InsertColumns::default();
    for insert in jobs {
        cols.push(insert);
    }
    sqlx::query(
        "INSERT INTO jobs (id, kind, params, status, priority, timeout_ms, max_attempts, \
         run_after, created_at, depends_on, waiting_on, finished_at, error_code, error_message, \
         tenant, idempotency_key, request_hash, attempt, fence, owner, started_at, \
         lease_expires_at, retry_of) \
         SELECT id, kind, params::json, status, priority, timeout_ms, max_attempts, run_after, \
         created_at, depends_on::json, waiting_on, finished_at, error_code, error_message, \
         tenant, idempotency_key, request_hash, \
         CASE WHEN owner IS NULL THEN 0 ELSE 1 END, CASE WHEN owner IS NULL THEN 0 ELSE 1 END, \
         owner, CASE WHEN owner IS NULL THEN NULL ELSE created_at END, lease_expires_at, \
         retry_of \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
         $7::int8[], $8::timestamptz[], $9::text[], $10::int8[], $11::timestamptz[], \
         $12::text[], $13::text[], $14::timestamptz[], $15::text[], $16::text[], $17::text[], \
         $18::text[], $19::timestamptz[], $20::uuid[]) \
         AS t(id, kind, params, status, priority, timeout_ms, max_attempts, created_at, \
         depends_on, waiting_on, finished_at, error_code, error_message, run_after, tenant, \
         idempotency_key, request_hash, owner, lease_expires_at, retry_of)",
    )
    .bind(cols.id)
    .bind(cols.kind)
    .bind(cols.params)
    .bind(cols.status)
    .bind(cols.priority)
    .bind(cols.timeout_ms)
    .bind(cols.max_attempts)
    .bind(cols.created_at)
    .bind(cols.depends_on)
    .bind(cols.waiting_on)
    .bind(cols.finished_at)
    .bind(cols.error_code)
    .bind(cols.error_message)
    .bind(cols.run_after)
    .bind(cols.tenant)
    .bind(cols.idempotency_key)
    .bind(cols.request_hash)
    .bind(cols.owner)
    .bind(cols.lease_expires_at)
    .bind(cols.retry_of)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The columns of [`insert_many`], one array each.
#[derive(Default)]
struct InsertColumns {
    id: Vec<Uuid>,
    kind: Vec<&'static str>,
    params: Vec<String>,
    status: Vec<&'static str>,
    priority: Vec<i64>,
    timeout_ms: Vec<i64>,
    max_attempts: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    depends_on: Vec<Option<String>>,
    waiting_on: Vec<i64>,
    finished_at: Vec<Option<DateTime<Utc>>>,
    error_code: Vec<Option<&'static str>>,
    error_message: Vec<Option<String>>,
    run_after: Vec<DateTime<Utc>>,
    tenant: Vec<Option<String>>,
    idempotency_key: Vec<Option<String>>,
    request_hash: Vec<Option<String>>,
    /// Set for a job its insert starts (with its lease's end).
    owner: Vec<Option<String>>,
    lease_expires_at: Vec<Option<DateTime<Utc>>>,
    retry_of: Vec<Option<Uuid>>,
}

impl InsertColumns {
    fn push(&mut self, insert: &Insert<'_>) {
        let job = insert.job;
        let failed = insert.failed.as_ref();
        self.id.push(uuid(job.id));
        self.kind.push(job.kind.as_str());
        self.params.push(job.params.to_string());
        self.status.push(insert.status());
        let start = insert.start();
        self.owner.push(start.map(|s| s.owner.clone()));
        self.lease_expires_at
            .push(start.map(|s| lease_until(job.created_at, s.lease)));
        self.priority.push(i64::from(job.options.priority));
        self.timeout_ms.push(job.options.timeout_ms as i64);
        self.max_attempts.push(i64::from(job.options.max_attempts));
        self.created_at.push(job.created_at);
        self.depends_on.push(
            (!job.depends_on.is_empty())
                .then(|| serde_json::to_string(&job.depends_on).unwrap_or_default()),
        );
        self.waiting_on.push(if failed.is_some() {
            0
        } else {
            insert.waiting as i64
        });
        self.finished_at.push(failed.map(|_| job.created_at));
        self.error_code.push(failed.map(|e| e.code.as_str()));
        self.error_message.push(failed.map(|e| e.message.clone()));
        self.run_after.push(job.run_after());
        self.tenant.push(job.tenant.clone());
        let key = job.idempotency.as_ref();
        self.idempotency_key
            .push(key.map(|k| k.stored(job.tenant.as_deref())));
        self.request_hash.push(key.map(|k| k.request_hash.clone()));
        self.retry_of.push(job.retry_of.map(uuid));
    }
}

/// Claims up to `n` due queued jobs of `kinds` in one statement: per kind, an ordered walk of
/// the `jobs_queued` index that skips rows other instances hold, then the best `n` of those.
pub(super) async fn claim(
    conn: &mut PgConnection,
    kinds: &[JobKind],
    n: usize,
    owner: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let rows: Vec<JobRow> = sqlx::query_as(concat!(
        "UPDATE jobs SET status = 'running', attempt = attempt + 1, fence = fence + 1, \
         cancel_requested = false, progress_done = NULL, progress_total = NULL, \
         error_code = NULL, error_message = NULL, owner = $3, started_at = $4, \
         lease_expires_at = $5 \
         FROM (SELECT c.id FROM unnest($1::text[]) AS k(kind) CROSS JOIN LATERAL \
               (SELECT id, priority, created_at FROM jobs \
                WHERE status = 'queued' AND waiting_on = 0 AND jobs.kind = k.kind \
                AND run_after <= $4 ORDER BY priority DESC, created_at, id LIMIT $2 \
                FOR UPDATE SKIP LOCKED) AS c \
               ORDER BY c.priority DESC, c.created_at, c.id LIMIT $2) AS picked \
         WHERE jobs.id = picked.id RETURNING ",
        pg_job_columns!()
    ))
    .bind(&kinds)
    .bind(n as i64)
    .bind(owner)
    .bind(now)
    .bind(lease_until(now, lease))
    .fetch_all(&mut *conn)
    .await?;
    claimed_in_order(rows)
}

pub(super) async fn heartbeat(
    conn: &mut PgConnection,
    lease: Lease,
    progress: Option<JobProgress>,
    lease_for: Duration,
    now: DateTime<Utc>,
) -> Result<LeaseState> {
    let cancel: Option<bool> = sqlx::query_scalar(
        "UPDATE jobs SET lease_expires_at = $1, \
         progress_done = coalesce($2, progress_done), \
         progress_total = coalesce($3, progress_total) \
         WHERE id = $4 AND fence = $5 AND status = 'running' RETURNING cancel_requested",
    )
    .bind(lease_until(now, lease_for))
    .bind(progress.map(|p| p.done as i64))
    .bind(progress.map(|p| p.total as i64))
    .bind(uuid(lease.id))
    .bind(lease.fence)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match cancel {
        Some(cancel_requested) => LeaseState::Held { cancel_requested },
        None => LeaseState::Lost,
    })
}

/// Cancels a queued job (releasing its dependents, adding to `effects` those it made final)
/// or asks a running one to stop. Another instance may move the job between the two tries
/// (a hand-back, a rescue): then it tries again.
pub(super) async fn cancel(
    conn: &mut PgConnection,
    id: JobId,
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> Result<CancelResult> {
    loop {
        if let Some(done) = try_cancel(conn, id, now, effects).await? {
            return Ok(done);
        }
        match get(&mut *conn, id).await? {
            Some(job) if job.is_final() => return Ok(CancelResult::AlreadyFinal(job)),
            Some(_) => continue,
            None => return Ok(CancelResult::NotFound),
        }
    }
}

/// Cancels the job if it is queued, or asks for its stop if it is running; `None` otherwise.
async fn try_cancel(
    conn: &mut PgConnection,
    id: JobId,
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> Result<Option<CancelResult>> {
    let cancelled = sqlx::query_as::<_, JobRow>(concat!(
        "UPDATE jobs SET status = 'cancelled', finished_at = $1, error_code = 'cancelled', \
         error_message = 'cancelled by request before it started' \
         WHERE id = $2 AND status = 'queued' RETURNING ",
        pg_job_columns!()
    ))
    .bind(now)
    .bind(uuid(id))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = cancelled {
        let job = to_job(row)?;
        deps::forget_waits(conn, &[job.id]).await?;
        deps::release(conn, vec![(job.id, JobStatus::Cancelled)], now, effects).await?;
        return Ok(Some(CancelResult::Cancelled(job)));
    }
    let requested = sqlx::query_as::<_, JobRow>(concat!(
        "UPDATE jobs SET cancel_requested = true WHERE id = $1 AND status = 'running' \
         RETURNING ",
        pg_job_columns!()
    ))
    .bind(uuid(id))
    .fetch_optional(&mut *conn)
    .await?;
    requested
        .map(|row| Ok(CancelResult::Requested(to_job(row)?)))
        .transpose()
}

pub(super) async fn delete(
    conn: &mut PgConnection,
    id: JobId,
    effects: &mut Effects,
) -> Result<DeleteResult> {
    let deleted: Option<(String, Option<String>)> = sqlx::query_as(
        "DELETE FROM jobs WHERE id = $1 \
         AND status IN ('succeeded', 'failed', 'cancelled', 'timed_out') RETURNING kind, tenant",
    )
    .bind(uuid(id))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((kind, tenant)) = deleted {
        effects.deleted(id, &kind, tenant);
        return Ok(DeleteResult::Deleted);
    }
    Ok(match get(&mut *conn, id).await? {
        Some(job) => DeleteResult::NotFinal(job.status),
        None => DeleteResult::NotFound,
    })
}

/// The jobs of `ids` that exist.
pub(super) async fn read_jobs(conn: &mut PgConnection, ids: &[JobId]) -> Result<Vec<Job>> {
    sqlx::query_as::<_, JobRow>(concat!(
        "SELECT ",
        pg_job_columns!(),
        " FROM jobs WHERE id = ANY($1)"
    ))
    .bind(uuids(ids.iter().copied()))
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(to_job)
    .collect()
}

pub(super) async fn get<'c, E>(conn: E, id: JobId) -> Result<Option<Job>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    sqlx::query_as::<_, JobRow>(SELECT_BY_ID)
        .bind(uuid(id))
        .fetch_optional(conn)
        .await?
        .map(to_job)
        .transpose()
}

/// The job created with the stored idempotency key `key`, and the hash of its request.
pub(super) async fn by_idempotency_key<'c, E>(conn: E, key: &str) -> Result<Option<(Job, String)>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let row: Option<IdempotentRow> = sqlx::query_as(concat!(
        "SELECT ",
        pg_job_columns!(),
        ", jobs.request_hash FROM jobs WHERE idempotency_key = $1"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((to_job(r.job)?, r.request_hash.unwrap_or_default())))
        .transpose()
}

/// A job row with its request hash.
#[derive(sqlx::FromRow)]
struct IdempotentRow {
    #[sqlx(flatten)]
    job: JobRow,
    request_hash: Option<String>,
}

pub(super) async fn list<'c, E>(conn: E, filter: &ListFilter) -> Result<Vec<Job>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let mut q = QueryBuilder::<Postgres>::new(concat!(
        "SELECT ",
        pg_job_columns!(),
        " FROM jobs WHERE true"
    ));
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(kind) = filter.kind {
        q.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(before) = filter.before {
        q.push(" AND id < ").push_bind(uuid(before));
    }
    if let Some(tenant) = &filter.tenant {
        q.push(" AND tenant = ").push_bind(tenant.clone());
    }
    q.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    q.build_query_as::<JobRow>()
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(to_job)
        .collect()
}

/// Deletes up to `retention.batch` final jobs that ended before their group's cutoff (their
/// files and waits go by cascade), oldest first. Rows another instance is pruning are skipped.
pub(super) async fn prune(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    retention: &crate::store::Retention,
) -> Result<u64, sqlx::Error> {
    let (succeeded, failed) = retention.cutoffs(now);
    let mut deleted = 0;
    for (statuses, before) in [
        (["succeeded", "cancelled"], succeeded),
        (["failed", "timed_out"], failed),
    ] {
        let Some(before) = before else {
            continue;
        };
        deleted += sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status = ANY($1) \
             AND finished_at < $2 ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED)",
        )
        .bind(&statuses[..])
        .bind(before)
        .bind(i64::from(retention.batch))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(deleted)
}
