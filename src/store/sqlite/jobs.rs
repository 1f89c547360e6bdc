//! The statements about jobs themselves on SQLite ([`JobSql`]): multi-row inserts, claims
//! that walk the head of each kind's queue, lease renewals, cancels, deletes and pruning.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{INSERT_CHUNK, SqliteDialect, Texts, id_text, ms};
use crate::job::{Job, JobId, JobKind, JobProgress};
use crate::store::commit::Deleted;
use crate::store::rows::{JOB_COLUMNS, JobRow, claimed_in_order, job_columns};
use crate::store::sql::{Insert, JobSql};
use crate::store::{Claimed, Lease, LeaseState, Result, Retention};

/// Pushes a `SELECT id` of the next `n` due queued jobs of `kinds` in claim order (highest
/// priority, then the lowest turn). One branch per kind, each an ordered walk of the `jobs_queued`
/// index with its own limit, so the cost depends on `n` and the number of kinds, not on how
/// many jobs are queued (a single `kind IN (...)` made SQLite read every queued job).
pub(super) fn push_claim_candidates(
    q: &mut QueryBuilder<Sqlite>,
    kinds: &[(JobKind, usize)],
    n: usize,
    now: i64,
) {
    q.push("SELECT id FROM (");
    for (i, (kind, limit)) in kinds.iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(
            "SELECT * FROM (SELECT id, priority, turn FROM jobs \
             WHERE status = 'queued' AND waiting_on = 0 AND kind = ",
        )
        .push_bind(kind.as_str())
        .push(" AND run_after <= ")
        .push_bind(now)
        .push(" ORDER BY priority DESC, turn, id LIMIT ")
        .push_bind(*limit as i64)
        .push(")");
    }
    q.push(") ORDER BY priority DESC, turn, id LIMIT ")
        .push_bind(n as i64);
}

#[async_trait]
impl JobSql for SqliteDialect {
    async fn insert_many(
        conn: &mut SqliteConnection,
        jobs: &[Insert<'_>],
    ) -> Result<(), sqlx::Error> {
        // A job its insert starts holds its lease from now (its transaction commits next),
        // not from its `created_at`: it may have waited for the writer.
        let now = ms(crate::store::now());
        for chunk in jobs.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO jobs (id, kind, params, status, priority, timeout_ms, max_attempts, \
                 run_after, created_at, depends_on, waiting_on, finished_at, error_code, \
                 error_message, tenant, idempotency_key, request_hash, attempt, fence, owner, \
                 started_at, lease_expires_at, retry_of, traceparent, turn) ",
            );
            let mut texts = Texts::default();
            q.push_values(chunk, |mut row, insert| {
                let job = insert.job;
                let created = ms(job.created_at);
                let failed = insert.failed.as_ref();
                let start = insert.start();
                let deps = (!job.depends_on.is_empty())
                    .then(|| serde_json::to_string(&job.depends_on).unwrap_or_default());
                row.push_bind(id_text(job.id))
                    .push_bind(texts.get(job.kind.as_str()))
                    .push_bind(Arc::clone(insert.params))
                    .push_bind(texts.get(insert.status()))
                    .push_bind(job.options.priority)
                    .push_bind(job.options.timeout_ms as i64)
                    .push_bind(i64::from(job.options.max_attempts))
                    .push_bind(ms(job.run_after()))
                    .push_bind(created)
                    .push_bind(deps)
                    .push_bind(if failed.is_some() {
                        0
                    } else {
                        insert.waiting as i64
                    })
                    .push_bind(failed.map(|_| created))
                    .push_bind(failed.map(|e| texts.get(e.code.as_str())))
                    .push_bind(failed.map(|e| e.message.clone()))
                    .push_bind(job.tenant.clone())
                    .push_bind(
                        job.idempotency
                            .as_ref()
                            .map(|k| k.stored(job.tenant.as_deref())),
                    )
                    .push_bind(job.idempotency.as_ref().map(|k| k.request_hash.clone()))
                    .push_bind(i64::from(start.is_some()))
                    .push_bind(i64::from(start.is_some()))
                    .push_bind(start.map(|s| s.owner.clone()))
                    .push_bind(start.map(|_| created))
                    .push_bind(start.map(|s| now + s.lease.as_millis() as i64))
                    .push_bind(job.retry_of.map(|id| id.to_string()))
                    .push_bind(job.traceparent.clone())
                    .push_bind(insert.turn);
            });
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn lock_kind(_: &mut SqliteConnection, _: JobKind) -> Result<(), sqlx::Error> {
        // The only writer of its file.
        Ok(())
    }

    async fn count_running(
        conn: &mut SqliteConnection,
        kind: JobKind,
    ) -> Result<usize, sqlx::Error> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'running' AND kind = ?1")
                .bind(kind.as_str())
                .fetch_one(&mut *conn)
                .await?;
        Ok(n.max(0) as usize)
    }

    async fn queue_head(
        conn: &mut SqliteConnection,
        kind: &str,
        priority: i32,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT min(turn) FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND kind = ?1 AND priority = ?2",
        )
        .bind(kind)
        .bind(priority)
        .fetch_one(&mut *conn)
        .await
    }

    async fn tenant_last(
        conn: &mut SqliteConnection,
        tenant: &str,
        kind: &str,
        priority: i32,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT max(turn) FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND tenant = ?1 AND kind = ?2 AND priority = ?3 AND run_after <= ?4",
        )
        .bind(tenant)
        .bind(kind)
        .bind(priority)
        .bind(ms(now))
        .fetch_one(&mut *conn)
        .await
    }

    /// Whether a job of `kinds` is queued and claimable at `now` (the `jobs_queued` index).
    async fn claimable_queued(
        conn: &mut SqliteConnection,
        kinds: &[JobKind],
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND waiting_on = 0 \
             AND run_after <= ",
        );
        q.push_bind(ms(now)).push(" AND kind IN (");
        let mut list = q.separated(", ");
        for kind in kinds {
            list.push_bind(kind.as_str());
        }
        q.push("))");
        q.build_query_scalar::<bool>().fetch_one(&mut *conn).await
    }

    async fn claim(
        conn: &mut SqliteConnection,
        kinds: &[(JobKind, usize)],
        n: usize,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>> {
        let now = ms(now);
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE jobs SET status = 'running', attempt = attempt + 1, fence = fence + 1, \
             cancel_requested = 0, progress_done = NULL, progress_total = NULL, \
             error_code = NULL, error_message = NULL, owner = ",
        );
        q.push_bind(owner)
            .push(", started_at = ")
            .push_bind(now)
            .push(", lease_expires_at = ")
            .push_bind(now + lease.as_millis() as i64)
            .push(" WHERE id IN (");
        push_claim_candidates(&mut q, kinds, n, now);
        q.push(") RETURNING ").push(JOB_COLUMNS);
        let rows = q.build_query_as::<JobRow>().fetch_all(&mut *conn).await?;
        claimed_in_order(rows)
    }

    async fn heartbeat(
        conn: &mut SqliteConnection,
        lease: Lease,
        progress: Option<JobProgress>,
        lease_for: Duration,
        now: DateTime<Utc>,
    ) -> Result<LeaseState> {
        let cancel: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET lease_expires_at = ?1, \
             progress_done = coalesce(?2, progress_done), \
             progress_total = coalesce(?3, progress_total) \
             WHERE id = ?4 AND fence = ?5 AND status = 'running' RETURNING cancel_requested",
        )
        .bind(ms(now) + lease_for.as_millis() as i64)
        .bind(progress.map(|p| p.done as i64))
        .bind(progress.map(|p| p.total as i64))
        .bind(lease.id.to_string())
        .bind(lease.fence)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(match cancel {
            Some(c) => LeaseState::Held {
                cancel_requested: c != 0,
            },
            None => LeaseState::Lost,
        })
    }

    async fn cancel_queued(
        conn: &mut SqliteConnection,
        id: JobId,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?1, error_code = 'cancelled', \
             error_message = 'cancelled by request before it started' \
             WHERE id = ?2 AND status = 'queued' RETURNING ",
            job_columns!()
        ))
        .bind(ms(now))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    async fn request_cancel(conn: &mut SqliteConnection, id: JobId) -> Result<Option<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running' RETURNING ",
            job_columns!()
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(Job::try_from)
        .transpose()
    }

    async fn delete_final(conn: &mut SqliteConnection, id: JobId) -> Result<Option<Deleted>> {
        let deleted: Option<(String, Option<String>)> = sqlx::query_as(
            "DELETE FROM jobs WHERE id = ?1 \
             AND status IN ('succeeded', 'failed', 'cancelled', 'timed_out') RETURNING kind, tenant",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        deleted
            .map(|(kind, tenant)| Deleted::new(id, &kind, tenant))
            .transpose()
    }

    /// The jobs of `ids` that exist.
    async fn read_jobs(conn: &mut SqliteConnection, ids: &[JobId]) -> Result<Vec<Job>> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id IN (SELECT value FROM json_each(?1))"
        ))
        .bind(serde_json::to_string(ids).unwrap_or_default())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(Job::try_from)
        .collect()
    }

    /// Deletes up to `retention.batch` final jobs that ended before their group's cutoff (their
    /// files and waits go by cascade), oldest first, then gives the freed pages back to the file
    /// system (the database is in incremental auto-vacuum mode).
    async fn prune(
        conn: &mut SqliteConnection,
        now: DateTime<Utc>,
        retention: &Retention,
    ) -> Result<u64, sqlx::Error> {
        let (succeeded, failed) = retention.cutoffs(now);
        let deleted = sqlx::query(
            "DELETE FROM jobs WHERE id IN ( \
               SELECT id FROM (SELECT id FROM jobs WHERE status IN ('succeeded', 'cancelled') \
                 AND finished_at < ?1 ORDER BY finished_at LIMIT ?3) \
               UNION ALL \
               SELECT id FROM (SELECT id FROM jobs WHERE status IN ('failed', 'timed_out') \
                 AND finished_at < ?2 ORDER BY finished_at LIMIT ?3) \
               LIMIT ?3)",
        )
        .bind(succeeded.map(ms))
        .bind(failed.map(ms))
        .bind(i64::from(retention.batch))
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if deleted > 0 {
            sqlx::query("PRAGMA incremental_vacuum")
                .execute(&mut *conn)
                .await?;
        }
        Ok(deleted)
    }
}
