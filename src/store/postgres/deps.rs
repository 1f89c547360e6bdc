//! The statements about dependencies on PostgreSQL ([`DepSql`]): sets of ids travel as
//! arrays. What they mean, and when they run, is in `store::sql::deps`.
//!
//! Two instances may finish two dependencies of one job at once: each decrements its
//! `waiting_on` under the row lock, on the row as the other left it; rows are locked in id
//! order, so that two such transactions cannot deadlock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgDialect, uuid, uuids};
use crate::job::{JobId, JobStatus};
use crate::store::sql::DepSql;

#[async_trait]
impl DepSql for PgDialect {
    /// Also marks them as having dependents, which holds their rows until commit: a
    /// dependency cannot become final before this job's wait is visible, and the write that
    /// makes it final sees the mark on its own row (see `EndSql::finish_many`).
    async fn dep_statuses(
        conn: &mut PgConnection,
        deps: &[JobId],
    ) -> Result<Vec<(JobId, JobStatus)>, sqlx::Error> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "UPDATE jobs SET has_dependents = true FROM \
             (SELECT id FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE) AS d \
             WHERE jobs.id = d.id RETURNING jobs.id, jobs.status",
        )
        .bind(uuids(deps.iter().copied()))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|(id, status)| Some((JobId::from(*id), status.parse().ok()?)))
            .collect())
    }

    async fn add_waits(
        conn: &mut PgConnection,
        job: JobId,
        deps: &[JobId],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO job_waits (dep_id, job_id) SELECT unnest($1::uuid[]), $2")
            .bind(uuids(deps.iter().copied()))
            .bind(uuid(job))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn any_waits(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_waits)")
            .fetch_one(&mut *conn)
            .await
    }

    async fn have_dependents(conn: &mut PgConnection, ids: &[JobId]) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_waits WHERE dep_id = ANY($1))")
            .bind(uuids(ids.iter().copied()))
            .fetch_one(&mut *conn)
            .await
    }

    async fn fail_dependents(
        conn: &mut PgConnection,
        unsuccessful: &[(JobId, JobStatus)],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>, sqlx::Error> {
        let (ids, statuses): (Vec<Uuid>, Vec<&str>) = (unsuccessful.iter())
            .map(|(id, status)| (uuid(*id), status.as_str()))
            .unzip();
        // The lowest id among a dependent's failed dependencies is the one it names.
        let rows: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'failed', waiting_on = 0, finished_at = $3, \
             error_code = 'dependency_failed', \
             error_message = 'dependency ' || d.dep::text || ' ended ' || d.status \
                 || ' instead of succeeding' \
             FROM (SELECT DISTINCT ON (w.job_id) w.job_id, f.dep, f.status \
                   FROM unnest($1::uuid[], $2::text[]) AS f(dep, status) \
                   JOIN job_waits AS w ON w.dep_id = f.dep \
                   ORDER BY w.job_id, f.dep::text) AS d \
             WHERE jobs.id = d.job_id AND jobs.status = 'queued' RETURNING jobs.id",
        )
        .bind(ids)
        .bind(statuses)
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(JobId::from).collect())
    }

    async fn release_waits(conn: &mut PgConnection, ids: &[JobId]) -> Result<(), sqlx::Error> {
        let ids = uuids(ids.iter().copied());
        sqlx::query(
            "UPDATE jobs SET waiting_on = waiting_on - w.n FROM \
             (SELECT job_id, count(*) AS n FROM job_waits WHERE dep_id = ANY($1) \
              GROUP BY job_id ORDER BY job_id) AS w \
             WHERE jobs.id = w.job_id AND jobs.status = 'queued'",
        )
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM job_waits WHERE dep_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn forget_waits(conn: &mut PgConnection, jobs: &[JobId]) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM job_waits WHERE job_id = ANY($1)")
            .bind(uuids(jobs.iter().copied()))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
