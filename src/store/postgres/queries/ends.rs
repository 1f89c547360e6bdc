//! How runs end, on PostgreSQL: recorded finishes (fenced by their leases, one statement for
//! a whole batch), hand-backs at shutdown, and the settling of runs whose instance died or
//! lost its lease. Each releases the dependents of the jobs it made final.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{deps, uuid, uuids};
use crate::job::{Backoff, JobError, JobId, JobResult, JobStatus, RETRY_MAX_SHIFT};
use crate::store::sql::{Effects, Interrupted};
use crate::store::{Lease, Outcome, Recovered, Result, RunEnd};

/// SQL appending to `errors` the end of the attempt a row of `jobs` holds: `code`, `message`
/// and `at` (a timestamptz) are SQL expressions.
fn append_error(code: &str, message: &str, at: &str) -> String {
    format!(
        "coalesce(jobs.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(\
         'attempt', jobs.attempt, 'code', {code}, 'message', {message}, \
         'at', to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
         'instance', jobs.owner))"
    )
}

/// SQL of when the retry of the attempt a row holds runs (see [`Backoff`]): `at` (a
/// timestamptz), `base` and `max` (ms) are SQL expressions.
fn retry_at(at: &str, base: &str, max: &str) -> String {
    let ceiling = format!(
        "least(({base})::int8 << least(jobs.attempt - 1, {RETRY_MAX_SHIFT})::int4, ({max})::int8)"
    );
    format!(
        "({at}) + ({ceiling} / 2 + floor(random() * ({ceiling} / 2 + 1))::int8) \
         * interval '1 millisecond'"
    )
}

/// Records the ends of runs, fenced by their leases, and releases the dependents of the jobs
/// that became final (adding to `effects` those it made final). Returns the leases applied.
pub(in crate::store::postgres) async fn finish_many(
    conn: &mut PgConnection,
    ends: &[&RunEnd],
    backoff: Backoff,
    effects: &mut Effects,
) -> Result<HashSet<Lease>, sqlx::Error> {
    let mut applied = HashSet::with_capacity(ends.len());
    let mut became_final = Vec::new();
    let mut finals = Finals::default();
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
            Some((status, result, error)) => {
                finals.id.push(uuid(end.lease.id));
                finals.fence.push(end.lease.fence);
                finals.status.push(status.as_str());
                finals.result.push(result.map(JobResult::as_str));
                finals.code.push(error.map(|e| e.code.as_str()));
                finals.message.push(error.map(|e| e.message.as_str()));
                finals.done.push(end.progress.map(|p| p.done as i64));
                finals.total.push(end.progress.map(|p| p.total as i64));
                finals.at.push(end.at);
            }
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
    if !finals.id.is_empty() {
        let rows: Vec<(Uuid, i64, String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = v.status, result = v.result::json, \
             error_code = v.code, error_message = v.message, finished_at = v.at, \
             lease_expires_at = NULL, progress_done = coalesce(v.done, jobs.progress_done), \
             progress_total = coalesce(v.total, jobs.progress_total), \
             errors = CASE WHEN v.code IS NULL THEN jobs.errors ELSE {append} END \
             FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::text[], $5::text[], \
                         $6::text[], $7::int8[], $8::int8[], $9::timestamptz[]) \
                  AS v(id, fence, status, result, code, message, done, total, at) \
             WHERE jobs.id = v.id AND jobs.fence = v.fence AND jobs.status = 'running' \
             RETURNING jobs.id, jobs.fence, jobs.status, jobs.has_dependents",
            append = append_error("v.code", "v.message", "v.at")
        )))
        .bind(finals.id)
        .bind(finals.fence)
        .bind(finals.status)
        .bind(finals.result)
        .bind(finals.code)
        .bind(finals.message)
        .bind(finals.done)
        .bind(finals.total)
        .bind(finals.at)
        .fetch_all(&mut *conn)
        .await?;
        for (id, fence, status, has_dependents) in rows {
            let id = JobId::from(id);
            applied.insert(Lease { id, fence });
            // Only those with dependents have anything to release (see `deps::check`).
            if let (true, Ok(status)) = (has_dependents, status.parse()) {
                became_final.push((id, status));
            }
        }
    }
    let now = ends.iter().map(|e| e.at).max().unwrap_or_else(Utc::now);
    deps::release(conn, became_final, now, effects).await?;
    Ok(applied)
}

/// The columns of the final ends of runs, one array each.
#[derive(Default)]
struct Finals<'a> {
    id: Vec<Uuid>,
    fence: Vec<i64>,
    status: Vec<&'static str>,
    result: Vec<Option<&'a str>>,
    code: Vec<Option<&'static str>>,
    message: Vec<Option<&'a str>>,
    done: Vec<Option<i64>>,
    total: Vec<Option<i64>>,
    at: Vec<DateTime<Utc>>,
}

/// Records a retryable failure in one statement, by what the row holds under its lock: a
/// pending cancel wins (`cancelled`); with its attempts used up the job fails with the error;
/// else it is queued again, due after the back-off. The error goes to `errors` in every case.
/// The status it left, `None` when the lease was stale.
async fn retry(
    conn: &mut PgConnection,
    end: &RunEnd,
    error: &JobError,
    backoff: Backoff,
) -> Result<Option<JobStatus>, sqlx::Error> {
    let ends = "jobs.cancel_requested OR jobs.attempt >= jobs.max_attempts";
    let status: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET \
         status = CASE WHEN cancel_requested THEN 'cancelled' \
             WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END, \
         finished_at = CASE WHEN {ends} THEN $3 END, \
         error_code = CASE WHEN cancel_requested THEN 'cancelled' ELSE $4 END, \
         error_message = CASE WHEN cancel_requested \
             THEN 'cancelled by request while running' ELSE $5 END, \
         errors = {append}, \
         run_after = CASE WHEN {ends} THEN run_after ELSE {due} END, \
         started_at = CASE WHEN {ends} THEN started_at END, \
         progress_done = CASE WHEN {ends} THEN coalesce($8, progress_done) END, \
         progress_total = CASE WHEN {ends} THEN coalesce($9, progress_total) END, \
         lease_expires_at = NULL \
         WHERE id = $1 AND fence = $2 AND status = 'running' RETURNING status",
        append = append_error("$4::text", "$5::text", "$3"),
        due = retry_at("$3", "$6", "$7"),
    )))
    .bind(uuid(end.lease.id))
    .bind(end.lease.fence)
    .bind(end.at)
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

/// What a hand-back did.
enum Requeued {
    /// The lease was stale.
    No,
    Yes,
    /// A cancel was pending: the job is cancelled.
    Cancelled,
}

/// Hands a running job back to the queue without counting its attempt, or cancels it when a
/// cancel is pending (an accepted cancel is final). One statement: a cancel committed by
/// another instance meanwhile is seen under the row lock, never lost between two statements.
async fn requeue(
    conn: &mut PgConnection,
    lease: Lease,
    now: DateTime<Utc>,
) -> Result<Requeued, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE jobs SET \
         status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, \
         attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END, \
         finished_at = CASE WHEN cancel_requested THEN $3 END, \
         error_code = CASE WHEN cancel_requested THEN 'cancelled' END, \
         error_message = CASE WHEN cancel_requested \
             THEN 'cancelled by request while running' END, \
         started_at = CASE WHEN cancel_requested THEN started_at END, \
         progress_done = CASE WHEN cancel_requested THEN progress_done END, \
         progress_total = CASE WHEN cancel_requested THEN progress_total END, \
         lease_expires_at = NULL \
         WHERE id = $1 AND fence = $2 AND status = 'running' RETURNING status",
    )
    .bind(uuid(lease.id))
    .bind(lease.fence)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match status.as_deref() {
        None => Requeued::No,
        Some("cancelled") => Requeued::Cancelled,
        Some(_) => Requeued::Yes,
    })
}

/// Settles interrupted runs in one statement, each row by what it holds under its lock: a
/// pending cancel wins (`cancelled`); then, with its attempts used up, `failed` with
/// `interrupted`; else queued again (the attempt counts). Rows another transaction holds
/// (a live instance writing about its run) are skipped, left to the next round.
fn settle() -> String {
    const INTERRUPTED: &str = "'its run was interrupted (the process stopped or lost the lease)'";
    format!(
        "UPDATE jobs SET \
     status = CASE WHEN cancel_requested THEN 'cancelled' \
         WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END, \
     finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN $1 END, \
     error_code = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'interrupted' END, \
     error_message = CASE WHEN cancel_requested THEN 'cancelled by request while running' \
         WHEN attempt >= max_attempts THEN 'its run was interrupted (the process stopped \
         or lost the lease) and no attempts were left' ELSE {INTERRUPTED} END, \
     errors = CASE WHEN cancel_requested THEN errors ELSE {append} END, \
     run_after = CASE WHEN cancel_requested OR attempt >= max_attempts THEN run_after \
         ELSE {due} END, \
     started_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN started_at END, \
     progress_done = CASE WHEN cancel_requested OR attempt >= max_attempts \
         THEN progress_done END, \
     progress_total = CASE WHEN cancel_requested OR attempt >= max_attempts \
         THEN progress_total END, \
     lease_expires_at = NULL \
     FROM (SELECT id FROM jobs WHERE status = 'running' \
           AND (owner = $2 OR lease_expires_at < $3) AND NOT (id = ANY($4)) \
           ORDER BY id FOR UPDATE SKIP LOCKED) AS r \
     WHERE jobs.id = r.id RETURNING jobs.id, jobs.status",
        append = append_error("'interrupted'::text", &format!("{INTERRUPTED}::text"), "$1"),
        due = retry_at("$1", "$5", "$6"),
    )
}

/// Settles interrupted runs: at start, those of this instance's name and those whose lease
/// expired (other instances may be alive: their runs are left alone); while running, those
/// whose lease ran out before a time, except the listed jobs. A pending cancel wins; then the
/// job fails with `interrupted` when its attempts are used up, else it is queued again. Any
/// number of instances may do this at once: each row goes to the first.
pub(in crate::store::postgres) async fn recover(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    which: &Interrupted,
    backoff: Backoff,
    effects: &mut Effects,
) -> Result<Recovered> {
    let (owner, before, keep) = match which {
        Interrupted::AtStart { owner } => (Some(owner.as_str()), now, Vec::new()),
        Interrupted::Expired { before, keep } => (None, *before, uuids(keep.iter().copied())),
    };
    let settled: Vec<(Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(settle()))
        .bind(now)
        .bind(owner)
        .bind(before)
        .bind(&keep)
        .bind(backoff.base_ms())
        .bind(backoff.max_ms())
        .fetch_all(&mut *conn)
        .await?;
    let mut recovered = Recovered::default();
    let mut finals = Vec::new();
    for (id, status) in settled {
        let id = JobId::from(id);
        match status.as_str() {
            "cancelled" => {
                recovered.cancelled += 1;
                finals.push((id, JobStatus::Cancelled));
            }
            "failed" => {
                recovered.failed += 1;
                finals.push((id, JobStatus::Failed));
            }
            _ => {
                recovered.requeued += 1;
                effects.requeued.push(id);
            }
        }
    }
    effects.released.extend(finals.iter().map(|(id, _)| *id));
    deps::release(conn, finals, now, effects).await?;
    Ok(recovered)
}
