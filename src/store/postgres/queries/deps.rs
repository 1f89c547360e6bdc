//! Dependencies between jobs on PostgreSQL: the state of a new job's dependencies, held until
//! it commits, and the release of the dependents of jobs that became final (as on SQLite: in
//! the same transaction, by set, failing dependents of unsuccessful jobs transitively).
//!
//! Two instances may finish two dependencies of one job at once: each decrements its
//! `waiting_on` under the row lock, on the row as the other left it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{uuid, uuids};
use crate::job::{JobId, JobStatus};
use crate::store::Result;
use crate::store::sql::{DepState, Effects};

/// Reads the state of `deps` (distinct ids) and marks them as having dependents, which holds
/// their rows until commit: a dependency cannot become final before this job's wait is
/// visible, and the write that makes it final sees the mark on its own row.
/// [`StoreError::UnknownDependency`] for the first that does not exist.
pub(in crate::store::postgres) async fn check(
    conn: &mut PgConnection,
    deps: &[JobId],
) -> Result<DepState> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "UPDATE jobs SET has_dependents = true FROM \
         (SELECT id FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE) AS d \
         WHERE jobs.id = d.id RETURNING jobs.id, jobs.status",
    )
    .bind(uuids(deps.iter().copied()))
    .fetch_all(&mut *conn)
    .await?;
    let found: Vec<(JobId, JobStatus)> = rows
        .iter()
        .filter_map(|(id, status)| Some((JobId::from(*id), status.parse().ok()?)))
        .collect();
    DepState::of(deps, &found)
}

pub(in crate::store::postgres) async fn add_waits(
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

/// Releases the dependents of `finals` (jobs that just became final, with their status): a
/// dependent of one that did not succeed fails with `dependency_failed` (and releases its
/// own dependents in turn); otherwise it waits for one job fewer. The dependents it makes
/// final go to `effects.released`.
pub(in crate::store::postgres) async fn release(
    conn: &mut PgConnection,
    finals: Vec<(JobId, JobStatus)>,
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> Result<(), sqlx::Error> {
    let mut frontier = finals;
    while !frontier.is_empty() {
        let ids = uuids(frontier.iter().map(|(id, _)| *id));
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_waits WHERE dep_id = ANY($1))")
                .bind(&ids)
                .fetch_one(&mut *conn)
                .await?;
        if !any {
            break;
        }
        let failed = fail_dependents(conn, &frontier, now).await?;
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
        forget_waits(conn, &failed).await?;
        effects.queued = true;
        effects.released.extend(&failed);
        frontier = failed
            .into_iter()
            .map(|id| (id, JobStatus::Failed))
            .collect();
    }
    Ok(())
}

/// Fails the waiting dependents of the jobs of `frontier` that did not succeed, naming the
/// dependency; returns them.
async fn fail_dependents(
    conn: &mut PgConnection,
    frontier: &[(JobId, JobStatus)],
    now: DateTime<Utc>,
) -> Result<Vec<JobId>, sqlx::Error> {
    let (ids, statuses): (Vec<Uuid>, Vec<&str>) = frontier
        .iter()
        .filter(|(_, status)| *status != JobStatus::Succeeded)
        .map(|(id, status)| (uuid(*id), status.as_str()))
        .unzip();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
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

/// Drops the waits of jobs that became final while waiting (cancelled, or failed by a
/// dependency): their other dependencies have nothing left to release.
pub(in crate::store::postgres) async fn forget_waits(
    conn: &mut PgConnection,
    jobs: &[JobId],
) -> Result<(), sqlx::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM job_waits WHERE job_id = ANY($1)")
        .bind(uuids(jobs.iter().copied()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
