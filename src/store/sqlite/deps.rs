//! The statements about dependencies on SQLite ([`DepSql`]): sets of ids travel as JSON
//! arrays (`json_each`). What they mean, and when they run, is in `store::sql::deps`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{SqliteDialect, ms};
use crate::job::{JobId, JobStatus};
use crate::store::sql::DepSql;

/// `ids` as a JSON array, for `json_each`.
fn json<T: serde::Serialize>(ids: &[T]) -> String {
    serde_json::to_string(ids).unwrap_or_default()
}

#[async_trait]
impl DepSql for SqliteDialect {
    async fn dep_statuses(
        conn: &mut SqliteConnection,
        deps: &[JobId],
    ) -> Result<Vec<(JobId, JobStatus)>, sqlx::Error> {
        // The only writer of its file: nothing can finish them before this commits.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM jobs WHERE id IN (SELECT value FROM json_each(?1))",
        )
        .bind(json(deps))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|(id, status)| Some((id.parse().ok()?, status.parse().ok()?)))
            .collect())
    }

    async fn add_waits(
        conn: &mut SqliteConnection,
        job: JobId,
        deps: &[JobId],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO job_waits (dep_id, job_id) SELECT value, ?2 FROM json_each(?1)")
            .bind(json(deps))
            .bind(job.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn any_waits(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_waits)")
            .fetch_one(&mut *conn)
            .await
    }

    async fn have_dependents(
        conn: &mut SqliteConnection,
        ids: &[JobId],
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM job_waits \
             WHERE dep_id IN (SELECT value FROM json_each(?1)))",
        )
        .bind(json(ids))
        .fetch_one(&mut *conn)
        .await
    }

    async fn fail_dependents(
        conn: &mut SqliteConnection,
        unsuccessful: &[(JobId, JobStatus)],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobId>, sqlx::Error> {
        let pairs: Vec<(String, &str)> = (unsuccessful.iter())
            .map(|(id, status)| (id.to_string(), status.as_str()))
            .collect();
        // The lowest id among a dependent's failed dependencies is the one it names.
        let rows: Vec<String> = sqlx::query_scalar(
            "UPDATE jobs SET status = 'failed', waiting_on = 0, finished_at = ?2, \
             error_code = 'dependency_failed', \
             error_message = 'dependency ' || d.dep || ' ended ' || d.status \
                 || ' instead of succeeding' \
             FROM (SELECT w.job_id, min(f.value ->> 0) AS dep, f.value ->> 1 AS status \
                   FROM json_each(?1) AS f JOIN job_waits AS w ON w.dep_id = f.value ->> 0 \
                   GROUP BY w.job_id) AS d \
             WHERE jobs.id = d.job_id AND +jobs.status = 'queued' RETURNING jobs.id",
        )
        .bind(json(&pairs))
        .bind(ms(now))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().filter_map(|id| id.parse().ok()).collect())
    }

    async fn release_waits(conn: &mut SqliteConnection, ids: &[JobId]) -> Result<(), sqlx::Error> {
        let ids = json(ids);
        sqlx::query(
            "UPDATE jobs SET waiting_on = waiting_on - w.n FROM \
             (SELECT job_id, count(*) AS n FROM job_waits \
              WHERE dep_id IN (SELECT value FROM json_each(?1)) GROUP BY job_id) AS w \
             WHERE jobs.id = w.job_id AND +jobs.status = 'queued'",
        )
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM job_waits WHERE dep_id IN (SELECT value FROM json_each(?1))")
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn forget_waits(conn: &mut SqliteConnection, jobs: &[JobId]) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM job_waits WHERE job_id IN (SELECT value FROM json_each(?1))")
            .bind(json(jobs))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
