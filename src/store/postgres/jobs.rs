//! The statements about jobs themselves on PostgreSQL ([`JobSql`]): inserts of any number of
//! jobs in one statement over arrays, claims that skip the rows other instances hold
//! (`FOR UPDATE SKIP LOCKED`), lease renewals, cancels, deletes and pruning.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgDialect, db_now, millis, pg_job_columns, uuid, uuids};
use crate::job::{Job, JobId, JobKind, JobProgress};
use crate::store::commit::Deleted;
use crate::store::rows::{JobRow, claimed_in_order};
use crate::store::sql::{Insert, JobSql};
use crate::store::{Claimed, Lease, LeaseState, Result, Retention};

#[async_trait]
impl JobSql for PgDialect {
    /// Inserts jobs in one statement, whatever their number (arrays, one per column).
    async fn insert_many(conn: &mut PgConnection, jobs: &[Insert<'_>]) -> Result<(), sqlx::Error> {
        let mut cols = InsertColumns::default();
        for insert in jobs {
            cols.push(insert);
        }
        sqlx::query(concat!(
            "INSERT INTO jobs (id, kind, params, status, priority, timeout_ms, max_attempts, \
             run_after, created_at, depends_on, waiting_on, finished_at, error_code, error_message, \
             tenant, idempotency_key, request_hash, attempt, fence, owner, started_at, \
             lease_expires_at, retry_of, traceparent, turn) \
             SELECT id, kind, params::json, status, priority, timeout_ms, max_attempts, run_after, \
             created_at, depends_on::json, waiting_on, finished_at, error_code, error_message, \
             tenant, idempotency_key, request_hash, \
             CASE WHEN owner IS NULL THEN 0 ELSE 1 END, CASE WHEN owner IS NULL THEN 0 ELSE 1 END, \
             owner, CASE WHEN owner IS NULL THEN NULL ELSE created_at END, \
             CASE WHEN owner IS NULL THEN NULL ELSE ", db_now!(), " + lease_ms * interval '1 millisecond' END, \
             retry_of, traceparent, turn \
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
             $7::int8[], $8::timestamptz[], $9::text[], $10::int8[], $11::timestamptz[], \
             $12::text[], $13::text[], $14::timestamptz[], $15::text[], $16::text[], $17::text[], \
             $18::text[], $19::int8[], $20::uuid[], $21::text[], $22::int8[]) \
             AS t(id, kind, params, status, priority, timeout_ms, max_attempts, created_at, \
             depends_on, waiting_on, finished_at, error_code, error_message, run_after, tenant, \
             idempotency_key, request_hash, owner, lease_ms, retry_of, traceparent, turn)",
        ))
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
        .bind(cols.lease_ms)
        .bind(cols.retry_of)
        .bind(cols.traceparent)
        .bind(cols.turn)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn lock_kind(conn: &mut PgConnection, kind: JobKind) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('faena-kind:' || $1, 0))")
            .bind(kind.as_str())
            .execute(&mut *conn)
            .await
            .map(drop)
    }

    async fn count_running(conn: &mut PgConnection, kind: JobKind) -> Result<usize, sqlx::Error> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'running' AND kind = $1")
                .bind(kind.as_str())
                .fetch_one(&mut *conn)
                .await?;
        Ok(n.max(0) as usize)
    }

    async fn queue_head(
        conn: &mut PgConnection,
        kind: &str,
        priority: i32,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT min(turn) FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND kind = $1 AND priority = $2",
        )
        .bind(kind)
        .bind(i64::from(priority))
        .fetch_one(&mut *conn)
        .await
    }

    async fn tenant_last(
        conn: &mut PgConnection,
        tenant: &str,
        kind: &str,
        priority: i32,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT max(turn) FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND tenant = $1 AND kind = $2 AND priority = $3 AND run_after <= $4",
        )
        .bind(tenant)
        .bind(kind)
        .bind(i64::from(priority))
        .bind(now)
        .fetch_one(&mut *conn)
        .await
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

    /// Claims up to `n` due queued jobs of `kinds` in one statement: per kind, an ordered walk of
    /// the `jobs_queued` index that skips rows other instances hold, then the best `n` of those.
    async fn claim(
        conn: &mut PgConnection,
        kinds: &[(JobKind, usize)],
        n: usize,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>> {
        let limits: Vec<i64> = kinds.iter().map(|&(_, n)| n as i64).collect();
        let kinds: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
        let rows: Vec<JobRow> = sqlx::query_as(concat!(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, fence = fence + 1, \
             cancel_requested = false, progress_done = NULL, progress_total = NULL, \
             error_code = NULL, error_message = NULL, owner = $3, started_at = $4, \
             lease_expires_at = ",
            db_now!(),
            " + $5 * interval '1 millisecond' \
             FROM (SELECT c.id FROM unnest($1::text[], $6::int8[]) AS k(kind, lim) CROSS JOIN LATERAL \
                   (SELECT id, priority, turn FROM jobs \
                    WHERE status = 'queued' AND waiting_on = 0 AND jobs.kind = k.kind \
                    AND run_after <= $4 ORDER BY priority DESC, turn, id LIMIT k.lim \
                    FOR UPDATE SKIP LOCKED) AS c \
                   ORDER BY c.priority DESC, c.turn, c.id LIMIT $2) AS picked \
             WHERE jobs.id = picked.id RETURNING ",
            pg_job_columns!()
        ))
        .bind(&kinds)
        .bind(n as i64)
        .bind(owner)
        .bind(now)
        .bind(millis(lease))
        .bind(limits)
        .fetch_all(&mut *conn)
        .await?;
        claimed_in_order(rows)
    }

    async fn heartbeat(
        conn: &mut PgConnection,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        // Leases go by the database's clock.
        _now: DateTime<Utc>,
    ) -> Result<LeaseState> {
        let cancel: Option<bool> = sqlx::query_scalar(concat!(
            "UPDATE jobs SET lease_expires_at = ",
            db_now!(),
            " + $1 * interval '1 millisecond', \
             progress_done = coalesce($2, progress_done), \
             progress_total = coalesce($3, progress_total) \
             WHERE id = $4 AND fence = $5 AND status = 'running' RETURNING cancel_requested",
        ))
        .bind(millis(lease_for))
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

    async fn cancel_queued(
        conn: &mut PgConnection,
        id: JobId,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'cancelled', finished_at = $1, error_code = 'cancelled', \
             error_message = 'cancelled by request before it started' \
             WHERE id = $2 AND status = 'queued' RETURNING ",
            pg_job_columns!()
        ))
        .bind(now)
        .bind(uuid(id))
        .fetch_optional(&mut *conn)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    async fn request_cancel(conn: &mut PgConnection, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET cancel_requested = true WHERE id = $1 AND status = 'running' \
             RETURNING ",
            pg_job_columns!()
        ))
        .bind(uuid(id))
        .fetch_optional(&mut *conn)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    async fn delete_final(conn: &mut PgConnection, id: JobId) -> Result<Option<Deleted>> {
        let deleted: Option<(String, Option<String>)> = sqlx::query_as(
            "DELETE FROM jobs WHERE id = $1 \
             AND status IN ('succeeded', 'failed', 'cancelled', 'timed_out') RETURNING kind, tenant",
        )
        .bind(uuid(id))
        .fetch_optional(&mut *conn)
        .await?;
        deleted
            .map(|(kind, tenant)| Deleted::new(id, &kind, tenant))
            .transpose()
    }

    /// The jobs of `ids` that exist.
    async fn read_jobs(conn: &mut PgConnection, ids: &[JobId]) -> Result<Vec<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            pg_job_columns!(),
            " FROM jobs WHERE id = ANY($1)"
        ))
        .bind(uuids(ids.iter().copied()))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Job::try_from)
        .collect()
    }

    /// Deletes up to `retention.batch` final jobs that ended before their group's cutoff (their
    /// files and waits go by cascade), oldest first. Rows another instance is pruning are skipped.
    async fn prune(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        retention: &Retention,
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
}

/// The columns of `insert_many`, one array each.
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
    /// Set for a job its insert starts (with its lease, from the database's clock).
    owner: Vec<Option<String>>,
    lease_ms: Vec<Option<i64>>,
    retry_of: Vec<Option<Uuid>>,
    traceparent: Vec<Option<String>>,
    turn: Vec<i64>,
}

impl InsertColumns {
    fn push(&mut self, insert: &Insert<'_>) {
        let job = insert.job;
        let failed = insert.failed.as_ref();
        self.id.push(uuid(job.id));
        self.kind.push(job.kind.as_str());
        self.params.push(insert.params.to_string());
        self.status.push(insert.status());
        let start = insert.start();
        self.owner.push(start.map(|s| s.owner.clone()));
        self.lease_ms.push(start.map(|s| millis(s.lease)));
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
        self.traceparent
            .push(job.traceparent.as_deref().map(str::to_string));
        self.turn.push(insert.turn);
    }
}
