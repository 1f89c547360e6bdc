//! The ends of runs on PostgreSQL: final ends recorded for a whole batch in one statement
//! over arrays, fenced by their leases; the running jobs to settle read under their row locks
//! (rows another instance's transaction holds are skipped when rescuing: left to the next
//! round) and written as [`crate::store::sql::ends`] decides, in the same transaction: a
//! cancel another instance commits meanwhile waits for it, and is never lost.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgDialect, db_now, uuid, uuids};
use crate::job::{JobId, JobResult, JobStatus};
use crate::store::sql::{EndSql, Ended, Interrupted, Interruption, Settle};
use crate::store::{Lease, RunEnd, WORKER_OWNER};

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
    answered: Vec<bool>,
}

#[async_trait]
impl EndSql for PgDialect {
    async fn finish_many(conn: &mut PgConnection, ends: &[&RunEnd]) -> Result<Ended, sqlx::Error> {
        let mut f = Finals::default();
        for end in ends {
            let Some((status, result, error)) = end.outcome.final_state() else {
                continue;
            };
            f.id.push(uuid(end.lease.id));
            f.fence.push(end.lease.fence);
            f.status.push(status.as_str());
            f.result.push(result.map(JobResult::as_str));
            f.code.push(error.map(|e| e.code.as_str()));
            f.message.push(error.map(|e| e.message.as_str()));
            f.done.push(end.progress.map(|p| p.done as i64));
            f.total.push(end.progress.map(|p| p.total as i64));
            f.at.push(end.at);
            f.answered.push(end.answered);
        }
        let mut ended = Ended::default();
        if f.id.is_empty() {
            return Ok(ended);
        }
        let rows: Vec<(Uuid, i64, String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = v.status, result = v.result::json, \
             error_code = v.code, error_message = v.message, finished_at = v.at, \
             lease_expires_at = NULL, progress_done = coalesce(v.done, jobs.progress_done), \
             progress_total = coalesce(v.total, jobs.progress_total), \
             errors = CASE WHEN v.code IS NULL THEN jobs.errors ELSE {append} END \
             FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::text[], $5::text[], \
                         $6::text[], $7::int8[], $8::int8[], $9::timestamptz[], $10::bool[]) \
                  AS v(id, fence, status, result, code, message, done, total, at, answered) \
             WHERE jobs.id = v.id AND jobs.fence = v.fence AND jobs.status = 'running' \
             AND (NOT v.answered OR (jobs.owner LIKE '{WORKER_OWNER}%' \
                  AND jobs.started_at + jobs.timeout_ms * interval '1 millisecond' > v.at)) \
             RETURNING jobs.id, jobs.fence, jobs.status, jobs.has_dependents",
            append = append_error("v.code", "v.message", "v.at")
        )))
        .bind(f.id)
        .bind(f.fence)
        .bind(f.status)
        .bind(f.result)
        .bind(f.code)
        .bind(f.message)
        .bind(f.done)
        .bind(f.total)
        .bind(f.at)
        .bind(f.answered)
        .fetch_all(&mut *conn)
        .await?;
        for (id, fence, status, has_dependents) in rows {
            let id = JobId::from(id);
            let Ok(status) = status.parse::<JobStatus>() else {
                continue;
            };
            ended.applied.insert(Lease { id, fence }, status);
            // Only those with dependents have anything to release (see `DepSql::dep_statuses`).
            if has_dependents {
                ended.finals.push((id, status));
            }
        }
        Ok(ended)
    }

    async fn interrupted(
        conn: &mut PgConnection,
        which: &Interrupted,
        now: DateTime<Utc>,
    ) -> Result<Vec<Interruption>, sqlx::Error> {
        let columns = format!(
            "SELECT id, fence, attempt, max_attempts, cancel_requested, \
             CASE WHEN owner LIKE '{WORKER_OWNER}%' \
             THEN started_at + timeout_ms * interval '1 millisecond' END FROM jobs"
        );
        type Row = (Uuid, i64, i64, i64, bool, Option<DateTime<Utc>>);
        let rows: Vec<Row> = match which {
            // Its own previous life's runs, and runs whose instance stopped renewing them.
            Interrupted::AtStart { owner } => {
                let sql = format!(
                    "{columns} WHERE status = 'running' \
                     AND (owner = $1 OR lease_expires_at < {}) \
                     ORDER BY id FOR UPDATE SKIP LOCKED",
                    db_now!()
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(owner)
                    .fetch_all(&mut *conn)
                    .await?
            }
            // Expired by the database's clock, whatever this instance's says: `before` is read
            // as how far past this instance's clock to look (none for the rescuer; a test's
            // "a minute later").
            Interrupted::Expired { before, keep } => {
                let ahead = (*before - crate::store::now()).num_milliseconds();
                let sql = format!(
                    "{columns} WHERE status = 'running' \
                     AND lease_expires_at < {} + $2 * interval '1 millisecond' \
                     AND NOT (id = ANY($1)) ORDER BY id FOR UPDATE SKIP LOCKED",
                    db_now!()
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(uuids(keep.iter().copied()))
                    .bind(ahead)
                    .fetch_all(&mut *conn)
                    .await?
            }
            Interrupted::Overdue(kinds) => {
                let sql = format!(
                    "{columns} WHERE status = 'running' AND kind = ANY($2) \
                     AND started_at + timeout_ms * interval '1 millisecond' < $1 \
                     ORDER BY id FOR UPDATE SKIP LOCKED"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>())
                    .fetch_all(&mut *conn)
                    .await?
            }
            Interrupted::Ended(leases) => {
                let sql = format!(
                    "{columns} WHERE status = 'running' AND (id, fence) IN \
                     (SELECT * FROM unnest($1::uuid[], $2::int8[])) ORDER BY id FOR UPDATE"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(uuids(leases.iter().map(|l| l.id)))
                    .bind(leases.iter().map(|l| l.fence).collect::<Vec<_>>())
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, fence, attempt, max_attempts, cancel_requested, due)| {
                    Some(Interruption {
                        lease: Lease {
                            id: JobId::from(id),
                            fence,
                        },
                        attempt: u32::try_from(attempt).ok()?,
                        max_attempts: u32::try_from(max_attempts).ok()?,
                        cancel_requested,
                        worker_deadline: due,
                    })
                },
            )
            .collect())
    }

    async fn settle(
        conn: &mut PgConnection,
        settles: &[Settle],
    ) -> Result<HashSet<JobId>, sqlx::Error> {
        if settles.is_empty() {
            return Ok(HashSet::new());
        }
        let column = |f: &dyn Fn(&Settle) -> Option<String>| -> Vec<Option<String>> {
            settles.iter().map(f).collect()
        };
        let ids: Vec<Uuid> = settles.iter().map(|s| uuid(s.lease.id)).collect();
        let fences: Vec<i64> = settles.iter().map(|s| s.lease.fence).collect();
        let statuses: Vec<&str> = settles.iter().map(|s| s.status.as_str()).collect();
        let codes = column(&|s| s.error.as_ref().map(|e| e.code.as_str().to_owned()));
        let messages = column(&|s| s.error.as_ref().map(|e| e.message.clone()));
        let appends: Vec<bool> = settles.iter().map(|s| s.attempt_error.is_some()).collect();
        let acodes = column(&|s| s.attempt_error.as_ref().map(|e| e.code.as_str().to_owned()));
        let amessages = column(&|s| s.attempt_error.as_ref().map(|e| e.message.clone()));
        let run_after: Vec<Option<DateTime<Utc>>> = settles.iter().map(|s| s.run_after).collect();
        let uncount: Vec<i32> = settles.iter().map(|s| i32::from(s.uncount)).collect();
        let done: Vec<Option<i64>> = (settles.iter())
            .map(|s| s.progress.map(|p| p.done as i64))
            .collect();
        let total: Vec<Option<i64>> = (settles.iter())
            .map(|s| s.progress.map(|p| p.total as i64))
            .collect();
        let finals: Vec<bool> = settles.iter().map(|s| s.status.is_final()).collect();
        let at: Vec<DateTime<Utc>> = settles.iter().map(|s| s.at).collect();
        let settled: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = v.status, attempt = jobs.attempt - v.uncount, \
             finished_at = CASE WHEN v.final THEN v.at END, \
             error_code = coalesce(v.code, jobs.error_code), \
             error_message = coalesce(v.message, jobs.error_message), \
             errors = CASE WHEN v.append THEN {append} ELSE jobs.errors END, \
             run_after = coalesce(v.run_after, jobs.run_after), \
             started_at = CASE WHEN v.final THEN jobs.started_at END, \
             progress_done = CASE WHEN v.final THEN coalesce(v.done, jobs.progress_done) END, \
             progress_total = CASE WHEN v.final THEN coalesce(v.total, jobs.progress_total) END, \
             lease_expires_at = NULL \
             FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::text[], $5::text[], \
                         $6::bool[], $7::text[], $8::text[], $9::timestamptz[], $10::int4[], \
                         $11::int8[], $12::int8[], $13::bool[], $14::timestamptz[]) \
                  AS v(id, fence, status, code, message, append, acode, amessage, run_after, \
                       uncount, done, total, final, at) \
             WHERE jobs.id = v.id AND jobs.fence = v.fence AND jobs.status = 'running' \
             RETURNING jobs.id",
            append = append_error("v.acode", "v.amessage", "v.at")
        )))
        .bind(ids)
        .bind(fences)
        .bind(statuses)
        .bind(codes)
        .bind(messages)
        .bind(appends)
        .bind(acodes)
        .bind(amessages)
        .bind(run_after)
        .bind(uncount)
        .bind(done)
        .bind(total)
        .bind(finals)
        .bind(at)
        .fetch_all(&mut *conn)
        .await?;
        Ok(settled.into_iter().map(JobId::from).collect())
    }
}
