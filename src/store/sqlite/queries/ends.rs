//! How runs end: recorded finishes (fenced by their leases), hand-backs at shutdown, and the
//! settling of runs a crash or a lost lease interrupted. Each releases the dependents of the
//! jobs it made final.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::deps;
use super::{INSERT_CHUNK, ms};
use crate::job::{JobId, JobResult, JobStatus};
use crate::store::sql::{Effects, Interrupted, RunEnd};
use crate::store::{Lease, Recovered, Result};

/// Records the ends of runs, fenced by their leases, and releases the dependents of the jobs
/// that became final (adding to `effects` those it made final). Returns the leases applied.
pub(in crate::store::sqlite) async fn finish_many(
    conn: &mut SqliteConnection,
    ends: &[&RunEnd],
    effects: &mut Effects,
) -> Result<HashSet<Lease>, sqlx::Error> {
    let mut applied = HashSet::with_capacity(ends.len());
    let mut finals = Vec::with_capacity(ends.len());
    let mut became_final = Vec::new();
    for &end in ends {
        match end.outcome.final_state() {
            Some(columns) => finals.push((end, columns)),
            None => match requeue(conn, end.lease, end.at).await? {
                Requeued::No => {}
                Requeued::Yes => {
                    applied.insert(end.lease);
                }
                Requeued::Cancelled => {
                    applied.insert(end.lease);
                    became_final.push((end.lease.id, JobStatus::Cancelled));
                }
            },
        }
    }
    for chunk in finals.chunks(INSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE jobs SET status = v.column3, result = v.column4, error_code = v.column5, \
             error_message = v.column6, finished_at = v.column9, \
             lease_expires_at = NULL, progress_done = coalesce(v.column7, jobs.progress_done), \
             progress_total = coalesce(v.column8, jobs.progress_total) FROM (",
        );
        q.push_values(chunk, |mut row, (end, (status, result, error))| {
            row.push_bind(end.lease.id.to_string())
                .push_bind(end.lease.fence)
                .push_bind(status.as_str())
                .push_bind(result.map(JobResult::as_str))
                .push_bind(error.map(|e| e.code.as_str()))
                .push_bind(error.map(|e| e.message.clone()))
                .push_bind(end.progress.map(|p| p.done as i64))
                .push_bind(end.progress.map(|p| p.total as i64))
                .push_bind(ms(end.at));
        });
        q.push(
            ") AS v WHERE jobs.id = v.column1 AND jobs.fence = v.column2 \
             AND jobs.status = 'running' RETURNING jobs.id, jobs.fence, jobs.status",
        );
        let rows: Vec<(String, i64, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        for (id, fence, status) in rows {
            let (Ok(id), Ok(status)) = (id.parse(), status.parse()) else {
                continue;
            };
            applied.insert(Lease { id, fence });
            became_final.push((id, status));
        }
    }
    let now = ends.iter().map(|e| ms(e.at)).max().unwrap_or_default();
    deps::release(conn, became_final, now, effects).await?;
    Ok(applied)
}

/// Hands a running job back to the queue without counting its attempt.
/// A cancel that was accepted is final: a run handed back (or found interrupted) with a cancel
/// pending ends `cancelled` instead of going back to the queue.
const CANCEL_PENDING: &str = "UPDATE jobs SET status = 'cancelled', finished_at = ?1, \
     lease_expires_at = NULL, error_code = 'cancelled', \
     error_message = 'cancelled by request while running' \
     WHERE status = 'running' AND cancel_requested = 1";

/// What a hand-back did.
enum Requeued {
    /// The lease was stale.
    No,
    Yes,
    /// A cancel was pending: the job is cancelled.
    Cancelled,
}

/// Hands a running job back to the queue without counting its attempt (or cancels it, when a
/// cancel is pending).
async fn requeue(
    conn: &mut SqliteConnection,
    lease: Lease,
    now: DateTime<Utc>,
) -> Result<Requeued, sqlx::Error> {
    let cancelled = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{CANCEL_PENDING} AND id = ?2 AND fence = ?3"
    )))
    .bind(ms(now))
    .bind(lease.id.to_string())
    .bind(lease.fence)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if cancelled > 0 {
        return Ok(Requeued::Cancelled);
    }
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'queued', attempt = attempt - 1, \
         lease_expires_at = NULL, started_at = NULL, progress_done = NULL, \
         progress_total = NULL WHERE id = ?1 AND fence = ?2 AND status = 'running'",
    )
    .bind(lease.id.to_string())
    .bind(lease.fence)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(if updated > 0 {
        Requeued::Yes
    } else {
        Requeued::No
    })
}

/// A running job whose run was interrupted, out of attempts: failed.
const FAIL_INTERRUPTED: &str = "UPDATE jobs SET status = 'failed', finished_at = ?1, \
     lease_expires_at = NULL, error_code = 'interrupted', \
     error_message = 'its run was interrupted (the process stopped or lost the lease) \
     and no attempts were left' WHERE status = 'running' AND attempt >= max_attempts";

/// A running job whose run was interrupted: queued again (the attempt counts).
const REQUEUE_INTERRUPTED: &str = "UPDATE jobs SET status = 'queued', run_after = ?1, \
     lease_expires_at = NULL, started_at = NULL, progress_done = NULL, \
     progress_total = NULL WHERE status = 'running'";

/// Settles interrupted runs: every `running` job at start (this process is the only one on
/// the file), or only those whose lease ran out before a time, except the listed jobs. A pending cancel wins; then the job fails with
/// `interrupted` when its attempts are used up, else it is queued again. The order of the
/// statements matters. Dependents of the jobs it made final are released (those this made
/// final are added to `effects`).
pub(in crate::store::sqlite) async fn recover(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    which: &Interrupted,
    effects: &mut Effects,
) -> Result<Recovered> {
    let (expired_before, keep): (_, Vec<String>) = match which {
        Interrupted::AtStart { .. } => (None, Vec::new()),
        Interrupted::Expired { before, keep } => (
            Some(ms(*before)),
            keep.iter().map(JobId::to_string).collect(),
        ),
    };
    let keep = serde_json::to_string(&keep).unwrap_or_else(|_| "[]".into());
    let mut settled: [Vec<String>; 3] = Default::default();
    for (ids, settle) in
        settled
            .iter_mut()
            .zip([CANCEL_PENDING, FAIL_INTERRUPTED, REQUEUE_INTERRUPTED])
    {
        *ids = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "{settle} AND (?2 IS NULL OR lease_expires_at < ?2) \
             AND id NOT IN (SELECT value FROM json_each(?3)) RETURNING id"
        )))
        .bind(ms(now))
        .bind(expired_before)
        .bind(&keep)
        .fetch_all(&mut *conn)
        .await?;
    }
    let [cancelled, failed, requeued] = settled;
    let finals = (cancelled.iter().map(|id| (id, JobStatus::Cancelled)))
        .chain(failed.iter().map(|id| (id, JobStatus::Failed)))
        .filter_map(|(id, status)| Some((id.parse().ok()?, status)))
        .collect::<Vec<(JobId, JobStatus)>>();
    effects.released.extend(finals.iter().map(|(id, _)| *id));
    deps::release(conn, finals, ms(now), effects).await?;
    Ok(Recovered {
        requeued: requeued.len() as u64,
        failed: failed.len() as u64,
        cancelled: cancelled.len() as u64,
    })
}
