//! Dependencies between jobs: what a new job's dependencies say when it is inserted, and
//! the release of the dependents of jobs that became final.
//!
//! A waiting job is an ordinary queued row with `waiting_on > 0` (so it is never claimed) and
//! one `job_waits` row per dependency not final yet. Nothing polls: the write that makes a
//! job final releases its dependents in the same transaction, by set (one statement for all
//! the jobs a batch finished), and the dependents of a job that did not succeed fail in turn.

use sqlx::SqliteConnection;

use crate::job::{JobId, JobStatus};
use crate::store::Result;
use crate::store::sql::{DepState, Effects};

/// Reads the state of `deps` (distinct ids); [`StoreError::UnknownDependency`] for the first
/// that does not exist.
pub(in crate::store::sqlite) async fn check(
    conn: &mut SqliteConnection,
    deps: &[JobId],
) -> Result<DepState> {
    let ids = serde_json::to_string(&deps).unwrap_or_default();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM jobs WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let found: Vec<(JobId, JobStatus)> = rows
        .iter()
        .filter_map(|(id, status)| Some((id.parse().ok()?, status.parse().ok()?)))
        .collect();
    DepState::of(deps, &found)
}

/// Records that `job` waits for `deps` (none of them final).
pub(in crate::store::sqlite) async fn add_waits(
    conn: &mut SqliteConnection,
    job: JobId,
    deps: &[JobId],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO job_waits (dep_id, job_id) SELECT value, ?2 FROM json_each(?1)")
        .bind(serde_json::to_string(deps).unwrap_or_default())
        .bind(job.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Releases the dependents of `finals` (jobs that just became final, with their status): a
/// dependent of one that did not succeed fails with `dependency_failed` (and releases its
/// own dependents in turn); otherwise it waits for one job fewer. The dependents it makes
/// final go to `effects.released`. Nothing at all while no job waits, the common case.
pub(in crate::store::sqlite) async fn release(
    conn: &mut SqliteConnection,
    finals: Vec<(JobId, JobStatus)>,
    now: i64,
    effects: &mut Effects,
) -> Result<(), sqlx::Error> {
    if !effects.waits || finals.is_empty() {
        return Ok(());
    }
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_waits)")
        .fetch_one(&mut *conn)
        .await?;
    if !any {
        effects.waits = false;
        return Ok(());
    }
    let mut frontier = finals;
    while !frontier.is_empty() {
        let ids = serde_json::to_string(&frontier.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .unwrap_or_default();
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM job_waits \
             WHERE dep_id IN (SELECT value FROM json_each(?1)))",
        )
        .bind(&ids)
        .fetch_one(&mut *conn)
        .await?;
        if !any {
            break;
        }
        let failed = fail_dependents(conn, &frontier, now).await?;
        sqlx::query(
            "UPDATE jobs SET waiting_on = waiting_on - w.n FROM \
             (SELECT job_id, count(*) AS n FROM job_waits \
              WHERE dep_id IN (SELECT value FROM json_each(?1)) GROUP BY job_id) AS w \
             WHERE jobs.id = w.job_id AND jobs.status = 'queued'",
        )
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM job_waits WHERE dep_id IN (SELECT value FROM json_each(?1))")
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
    conn: &mut SqliteConnection,
    frontier: &[(JobId, JobStatus)],
    now: i64,
) -> Result<Vec<JobId>, sqlx::Error> {
    let unsuccessful: Vec<(String, &str)> = frontier
        .iter()
        .filter(|(_, status)| *status != JobStatus::Succeeded)
        .map(|(id, status)| (id.to_string(), status.as_str()))
        .collect();
    if unsuccessful.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "UPDATE jobs SET status = 'failed', waiting_on = 0, finished_at = ?2, \
         error_code = 'dependency_failed', \
         error_message = 'dependency ' || d.dep || ' ended ' || d.status \
             || ' instead of succeeding' \
         FROM (SELECT w.job_id, min(f.value ->> 0) AS dep, f.value ->> 1 AS status \
               FROM json_each(?1) AS f JOIN job_waits AS w ON w.dep_id = f.value ->> 0 \
               GROUP BY w.job_id) AS d \
         WHERE jobs.id = d.job_id AND jobs.status = 'queued' RETURNING jobs.id",
    )
    .bind(serde_json::to_string(&unsuccessful).unwrap_or_default())
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().filter_map(|id| id.parse().ok()).collect())
}

/// Drops the waits of jobs that became final while waiting (cancelled, or failed by a
/// dependency): their other dependencies have nothing left to release.
pub(in crate::store::sqlite) async fn forget_waits(
    conn: &mut SqliteConnection,
    jobs: &[JobId],
) -> Result<(), sqlx::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM job_waits WHERE job_id IN (SELECT value FROM json_each(?1))")
        .bind(serde_json::to_string(jobs).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
