//! The ends of runs on SQLite: final ends recorded for a whole batch, fenced by their leases
//! (multi-row `UPDATE … FROM (VALUES …)`), and the running jobs to settle read and written
//! as [`crate::store::sql::ends`] decides.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{INSERT_CHUNK, SqliteDialect, Texts, id_text, ms};
use crate::job::{JobId, JobResult, JobStatus};
use crate::store::WORKER_OWNER;
use crate::store::sql::{EndSql, Ended, Interrupted, Interruption, Settle};
use crate::store::{Lease, RunEnd};

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

#[async_trait]
impl EndSql for SqliteDialect {
    async fn finish_many(
        conn: &mut SqliteConnection,
        ends: &[&RunEnd],
    ) -> Result<Ended, sqlx::Error> {
        let mut ended = Ended::default();
        let finals: Vec<_> = (ends.iter())
            .filter_map(|end| Some((end, end.outcome.final_state()?)))
            .collect();
        for chunk in finals.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "UPDATE jobs SET status = v.column3, result = v.column4, error_code = v.column5, \
                 error_message = v.column6, finished_at = v.column9, \
                 lease_expires_at = NULL, progress_done = coalesce(v.column7, jobs.progress_done), \
                 progress_total = coalesce(v.column8, jobs.progress_total), \
                 errors = CASE WHEN v.column5 IS NULL THEN errors ELSE {} END FROM (",
                append_error("v.column5", "v.column6", "v.column9")
            ));
            // A worker's answer (column10): while a worker holds the run, before its deadline.
            // `+jobs.status`: see the note in `super` (by primary key, not by status).
            let mut texts = Texts::default();
            q.push_values(chunk, |mut row, (end, (status, result, error))| {
                row.push_bind(id_text(end.lease.id))
                    .push_bind(end.lease.fence)
                    .push_bind(texts.get(status.as_str()))
                    .push_bind(result.map(JobResult::as_str))
                    .push_bind(error.map(|e| texts.get(e.code.as_str())))
                    .push_bind(error.map(|e| e.message.clone()))
                    .push_bind(end.progress.map(|p| p.done as i64))
                    .push_bind(end.progress.map(|p| p.total as i64))
                    .push_bind(ms(end.at))
                    .push_bind(end.answered);
            });
            q.push(format!(
                ") AS v WHERE jobs.id = v.column1 AND jobs.fence = v.column2 \
                 AND +jobs.status = 'running' AND (NOT v.column10 OR \
                 (coalesce(jobs.owner, '') LIKE '{WORKER_OWNER}%' \
                  AND jobs.started_at + jobs.timeout_ms > v.column9)) \
                 RETURNING jobs.id, jobs.fence, jobs.status"
            ));
            let rows: Vec<(String, i64, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
            for (id, fence, status) in rows {
                let (Ok(id), Ok(status)) = (id.parse(), status.parse::<JobStatus>()) else {
                    continue;
                };
                ended.applied.insert(Lease { id, fence }, status);
                ended.finals.push((id, status));
            }
        }
        Ok(ended)
    }

    async fn interrupted(
        conn: &mut SqliteConnection,
        which: &Interrupted,
        now: DateTime<Utc>,
    ) -> Result<Vec<Interruption>, sqlx::Error> {
        let columns = format!(
            "SELECT jobs.id, jobs.fence, jobs.attempt, jobs.max_attempts, jobs.cancel_requested, \
             CASE WHEN coalesce(jobs.owner, '') LIKE '{WORKER_OWNER}%' \
             THEN jobs.started_at + jobs.timeout_ms END FROM jobs"
        );
        let now = ms(now);
        type Row = (String, i64, i64, i64, bool, Option<i64>);
        let rows: Vec<Row> = match which {
            // The only process on its file: whatever runs is its predecessor's, but for the
            // runs of remote workers, who outlive it (an expired lease rescues theirs).
            Interrupted::AtStart { .. } => {
                let sql = format!(
                    "{columns} WHERE status = 'running' \
                     AND coalesce(owner, '') NOT LIKE '{WORKER_OWNER}%'"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *conn)
                    .await?
            }
            Interrupted::Expired { before, keep } => {
                let sql = format!(
                    "{columns} WHERE status = 'running' AND lease_expires_at < ?1 \
                     AND id NOT IN (SELECT value FROM json_each(?2))"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(ms(*before))
                    .bind(serde_json::to_string(keep).unwrap_or_default())
                    .fetch_all(&mut *conn)
                    .await?
            }
            Interrupted::Overdue(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                let sql = format!(
                    "{columns} WHERE status = 'running' AND started_at + timeout_ms < ?1 \
                     AND kind IN (SELECT value FROM json_each(?2))"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(serde_json::to_string(&names).unwrap_or_default())
                    .fetch_all(&mut *conn)
                    .await?
            }
            Interrupted::Ended(leases) => {
                let pairs: Vec<(String, i64)> = (leases.iter())
                    .map(|l| (l.id.to_string(), l.fence))
                    .collect();
                let sql = format!(
                    "{columns} JOIN json_each(?1) AS l ON jobs.id = l.value ->> 0 \
                     AND jobs.fence = l.value ->> 1 WHERE +jobs.status = 'running'"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(serde_json::to_string(&pairs).unwrap_or_default())
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
                            id: id.parse().ok()?,
                            fence,
                        },
                        attempt: u32::try_from(attempt).ok()?,
                        max_attempts: u32::try_from(max_attempts).ok()?,
                        cancel_requested,
                        worker_deadline: due.and_then(DateTime::from_timestamp_millis),
                    })
                },
            )
            .collect())
    }

    async fn settle(
        conn: &mut SqliteConnection,
        settles: &[Settle],
    ) -> Result<HashSet<JobId>, sqlx::Error> {
        let mut settled = HashSet::with_capacity(settles.len());
        for chunk in settles.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "UPDATE jobs SET status = v.column3, attempt = attempt - v.column10, \
                 finished_at = CASE WHEN v.column13 THEN v.column14 END, \
                 error_code = coalesce(v.column4, error_code), \
                 error_message = coalesce(v.column5, error_message), \
                 errors = CASE WHEN v.column6 THEN {} ELSE errors END, \
                 run_after = coalesce(v.column9, run_after), \
                 started_at = CASE WHEN v.column13 THEN started_at END, \
                 progress_done = CASE WHEN v.column13 \
                     THEN coalesce(v.column11, progress_done) END, \
                 progress_total = CASE WHEN v.column13 \
                     THEN coalesce(v.column12, progress_total) END, \
                 lease_expires_at = NULL FROM (",
                append_error("v.column7", "v.column8", "v.column14")
            ));
            let mut texts = Texts::default();
            q.push_values(chunk, |mut row, s| {
                let attempt = s.attempt_error.as_ref();
                row.push_bind(id_text(s.lease.id))
                    .push_bind(s.lease.fence)
                    .push_bind(texts.get(s.status.as_str()))
                    .push_bind(s.error.as_ref().map(|e| texts.get(e.code.as_str())))
                    .push_bind(s.error.as_ref().map(|e| e.message.clone()))
                    .push_bind(attempt.is_some())
                    .push_bind(attempt.map(|e| texts.get(e.code.as_str())))
                    .push_bind(attempt.map(|e| e.message.clone()))
                    .push_bind(s.run_after.map(ms))
                    .push_bind(i64::from(s.uncount))
                    .push_bind(s.progress.map(|p| p.done as i64))
                    .push_bind(s.progress.map(|p| p.total as i64))
                    .push_bind(s.status.is_final())
                    .push_bind(ms(s.at));
            });
            q.push(
                ") AS v WHERE jobs.id = v.column1 AND jobs.fence = v.column2 \
                 AND +jobs.status = 'running' RETURNING jobs.id",
            );
            let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut *conn).await?;
            settled.extend(ids.iter().filter_map(|id| id.parse::<JobId>().ok()));
        }
        Ok(settled)
    }
}
