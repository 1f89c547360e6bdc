//! How runs end: recorded finishes (fenced by their leases), hand-backs at shutdown, and the
//! settling of runs a crash or a lost lease interrupted. Each releases the dependents of the
//! jobs it made final.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::deps;
use super::{INSERT_CHUNK, ms};
use crate::job::{Backoff, JobError, JobId, JobResult, JobStatus};
use crate::store::sql::{Effects, Interrupted};
use crate::store::{Lease, Outcome, Recovered, Result, RunEnd};

/// SQL appending to `errors` the end of the attempt a row holds: `code` and `message` are SQL
/// expressions, `at_ms` one in milliseconds.
fn append_error(code: &str, message: &str, at_ms: &str) -> String {
    format!(
        "json_insert(coalesce(errors, '[]'), '$[#]', json_object('attempt', attempt, \
         'code', {code}, 'message', {message}, \
         'at', strftime('%Y-%m-%dT%H:%M:%fZ', ({at_ms}) / 1000.0, 'unixepoch'), \
         'instance', owner))"
    )
}

/// SQL of when the retry of the attempt a row holds runs, in ms (see [`Backoff`]): `at_ms`,
/// `base` and `max` are SQL expressions.
fn retry_at(at_ms: &str, base: &str, max: &str) -> String {
    let ceiling = format!(
        "min(({base}) << min(attempt - 1, {shift}), ({max}))",
        shift = crate::job::RETRY_MAX_SHIFT
    );
    format!("({at_ms}) + {ceiling} / 2 + abs(random() % ({ceiling} / 2 + 1))")
}

/// Records the ends of runs, fenced by their leases, and releases the dependents of the jobs
/// that became final (adding to `effects` those it made final). Returns the leases applied.
pub(in crate::store::sqlite) async fn finish_many(
    conn: &mut SqliteConnection,
    ends: &[&RunEnd],
    backoff: Backoff,
    effects: &mut Effects,
) -> Result<HashSet<Lease>, sqlx::Error> {
    let mut applied = HashSet::with_capacity(ends.len());
    let mut finals = Vec::with_capacity(ends.len());
    let mut became_final = Vec::new();
    for &end in ends {
        if let Outcome::Retry(error) = &end.outcome {
            if let Some(status) = retry(conn, end, error, backoff).await? {
                applied.insert(end.lease);
                if status.is_final() {
                    became_final.push((end.lease.id, status));
                }
            }
            continue;
        }
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
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "UPDATE jobs SET status = v.column3, result = v.column4, error_code = v.column5, \
             error_message = v.column6, finished_at = v.column9, \
             lease_expires_at = NULL, progress_done = coalesce(v.column7, jobs.progress_done), \
             progress_total = coalesce(v.column8, jobs.progress_total), \
             errors = CASE WHEN v.column5 IS NULL THEN errors ELSE {} END FROM (",
            append_error("v.column5", "v.column6", "v.column9")
        ));
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

/// Records a retryable failure in one statement, by what the row holds: a pending cancel
/// wins (`cancelled`); with its attempts used up the job fails with the error; else it is
/// queued again, due after the back-off. The error goes to `errors` in every case. The status
/// it left, `None` when the lease was stale.
async fn retry(
    conn: &mut SqliteConnection,
    end: &RunEnd,
    error: &JobError,
    backoff: Backoff,
) -> Result<Option<JobStatus>, sqlx::Error> {
    let ends = "cancel_requested = 1 OR attempt >= max_attempts";
    let status: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET \
         status = CASE WHEN cancel_requested = 1 THEN 'cancelled' \
             WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END, \
         finished_at = CASE WHEN {ends} THEN ?3 END, \
         error_code = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE ?4 END, \
         error_message = CASE WHEN cancel_requested = 1 \
             THEN 'cancelled by request while running' ELSE ?5 END, \
         errors = {append}, \
         run_after = CASE WHEN {ends} THEN run_after ELSE {due} END, \
         started_at = CASE WHEN {ends} THEN started_at END, \
         progress_done = CASE WHEN {ends} THEN coalesce(?8, progress_done) END, \
         progress_total = CASE WHEN {ends} THEN coalesce(?9, progress_total) END, \
         lease_expires_at = NULL \
         WHERE id = ?1 AND fence = ?2 AND status = 'running' RETURNING status",
        append = append_error("?4", "?5", "?3"),
        due = retry_at("?3", "?6", "?7"),
    )))
    .bind(end.lease.id.to_string())
    .bind(end.lease.fence)
    .bind(ms(end.at))
    .bind(error.code.as_str())
    .bind(&error.message)
    .bind(backoff.base_ms())
    .bind(backoff.max_ms())
    .bind(end.progress.map(|p| p.done as i64))
    .bind(end.progress.map(|p| p.total as i64))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(status.and_then(|s| s.parse().ok()))
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

/// What `errors` keeps of an interrupted run.
const INTERRUPTED: &str = "'its run was interrupted (the process stopped or lost the lease)'";

/// A running job whose run was interrupted, out of attempts: failed.
fn fail_interrupted() -> String {
    format!(
        "UPDATE jobs SET status = 'failed', finished_at = ?1, \
         lease_expires_at = NULL, error_code = 'interrupted', \
         error_message = 'its run was interrupted (the process stopped or lost the lease) \
         and no attempts were left', errors = {} \
         WHERE status = 'running' AND attempt >= max_attempts",
        append_error("'interrupted'", INTERRUPTED, "?1")
    )
}

/// A running job whose run was interrupted: queued again after the back-off (the attempt
/// counts).
fn requeue_interrupted() -> String {
    format!(
        "UPDATE jobs SET status = 'queued', run_after = {}, errors = {}, \
         error_code = 'interrupted', error_message = {INTERRUPTED}, \
         lease_expires_at = NULL, started_at = NULL, progress_done = NULL, \
         progress_total = NULL WHERE status = 'running'",
        retry_at("?1", "?4", "?5"),
        append_error("'interrupted'", INTERRUPTED, "?1")
    )
}

/// Settles interrupted runs: every `running` job at start (this process is the only one on
/// the file), or only those whose lease ran out before a time, except the listed jobs. A pending cancel wins; then the job fails with
/// `interrupted` when its attempts are used up, else it is queued again. The order of the
/// statements matters. Dependents of the jobs it made final are released (those this made
/// final are added to `effects`).
pub(in crate::store::sqlite) async fn recover(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    which: &Interrupted,
    backoff: Backoff,
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
    let statements = [
        CANCEL_PENDING.to_string(),
        fail_interrupted(),
        requeue_interrupted(),
    ];
    for (i, (ids, settle)) in settled.iter_mut().zip(statements).enumerate() {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "{settle} AND (?2 IS NULL OR lease_expires_at < ?2) \
             AND id NOT IN (SELECT value FROM json_each(?3)) RETURNING id"
        )))
        .bind(ms(now))
        .bind(expired_before)
        .bind(&keep);
        // Only the re-queue waits out a back-off.
        if i == 2 {
            q = q.bind(backoff.base_ms()).bind(backoff.max_ms());
        }
        *ids = q.fetch_all(&mut *conn).await?;
    }
    let [cancelled, failed, requeued] = settled;
    let finals = (cancelled.iter().map(|id| (id, JobStatus::Cancelled)))
        .chain(failed.iter().map(|id| (id, JobStatus::Failed)))
        .filter_map(|(id, status)| Some((id.parse().ok()?, status)))
        .collect::<Vec<(JobId, JobStatus)>>();
    effects.released.extend(finals.iter().map(|(id, _)| *id));
    effects
        .requeued
        .extend(requeued.iter().filter_map(|id| id.parse::<JobId>().ok()));
    deps::release(conn, finals, ms(now), effects).await?;
    Ok(Recovered {
        requeued: requeued.len() as u64,
        failed: failed.len() as u64,
        cancelled: cancelled.len() as u64,
    })
}
