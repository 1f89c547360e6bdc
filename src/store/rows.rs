//! Rows ↔ jobs: the columns every query selects and how they become a [`Job`].

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;

use super::{Claimed, Lease, Result, StoreError};
use crate::job::{
    FileInfo, Job, JobError, JobErrorCode, JobId, JobKind, JobProgress, JobResult, JobStatus,
};

/// The columns of a job, in the order every query selects them (a literal, so that queries
/// can be built with `concat!` and stay static strings).
macro_rules! job_columns {
    () => {
        "id, kind, params, status, priority, timeout_ms, attempt, max_attempts, fence, \
         progress_done, progress_total, created_at, started_at, finished_at, result, \
         error_code, error_message, depends_on, owner, run_after, errors, tenant, retry_of, \
         traceparent"
    };
}
pub(crate) use job_columns;

/// [`job_columns!`] as a constant, for query builders.
pub const JOB_COLUMNS: &str = job_columns!();

/// A job row with the hash of the request that created it (idempotency).
#[derive(Debug, FromRow)]
pub(crate) struct IdempotentRow {
    #[sqlx(flatten)]
    pub job: JobRow,
    pub request_hash: Option<String>,
}

impl IdempotentRow {
    /// The job and its request hash.
    pub(crate) fn parse(self) -> Result<(Job, String)> {
        Ok((
            Job::try_from(self.job)?,
            self.request_hash.unwrap_or_default(),
        ))
    }
}

/// A job row as the database returns it.
#[derive(Debug, FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub params: String,
    pub status: String,
    pub priority: i64,
    pub timeout_ms: i64,
    pub attempt: i64,
    pub max_attempts: i64,
    pub fence: i64,
    pub progress_done: Option<i64>,
    pub progress_total: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub depends_on: Option<String>,
    pub owner: Option<String>,
    pub run_after: i64,
    pub errors: Option<String>,
    pub tenant: Option<String>,
    pub retry_of: Option<String>,
    pub traceparent: Option<String>,
}

fn corrupt(what: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("job {id}: bad {what}"))
}

fn time(ms: i64, id: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("timestamp", id))
}

fn json(text: &str, id: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|_| corrupt("json", id))
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Job> {
        let id_text = r.id.as_str();
        let id: JobId = id_text.parse().map_err(|_| corrupt("id", id_text))?;
        let kind = JobKind::new(&r.kind).map_err(|_| corrupt("kind", id_text))?;
        let status: JobStatus = r.status.parse().map_err(|_| corrupt("status", id_text))?;
        let error = match (r.error_code, r.error_message) {
            (Some(code), message) => Some(JobError {
                code: JobErrorCode::parse(&code).ok_or_else(|| corrupt("error code", id_text))?,
                message: message.unwrap_or_default(),
            }),
            (None, _) => None,
        };
        let progress = match (r.progress_done, r.progress_total) {
            (Some(done), Some(total)) => Some(JobProgress {
                done: done.max(0) as u64,
                total: total.max(0) as u64,
            }),
            _ => None,
        };
        Ok(Job {
            id,
            kind,
            params: json(&r.params, id_text)?,
            status,
            priority: i32::try_from(r.priority).map_err(|_| corrupt("priority", id_text))?,
            timeout_ms: u64::try_from(r.timeout_ms).map_err(|_| corrupt("timeout", id_text))?,
            attempt: u32::try_from(r.attempt).map_err(|_| corrupt("attempt", id_text))?,
            max_attempts: u32::try_from(r.max_attempts)
                .map_err(|_| corrupt("max_attempts", id_text))?,
            instance: r.owner,
            depends_on: match r.depends_on.as_deref() {
                Some(text) => {
                    serde_json::from_str(text).map_err(|_| corrupt("depends_on", id_text))?
                }
                None => Vec::new(),
            },
            progress,
            created_at: time(r.created_at, id_text)?,
            started_at: r.started_at.map(|t| time(t, id_text)).transpose()?,
            finished_at: r.finished_at.map(|t| time(t, id_text)).transpose()?,
            result: r
                .result
                .map(|t| JobResult::from_json(t).map_err(|_| corrupt("result", id_text)))
                .transpose()?,
            error,
            run_after: time(r.run_after, id_text)?,
            errors: match r.errors.as_deref() {
                Some(text) => serde_json::from_str(text).map_err(|_| corrupt("errors", id_text))?,
                None => Vec::new(),
            },
            retry_of: r
                .retry_of
                .map(|t| t.parse().map_err(|_| corrupt("retry_of", id_text)))
                .transpose()?,
            tenant: r.tenant,
            traceparent: r.traceparent.map(Into::into),
        })
    }
}

/// The jobs a claim's `UPDATE … RETURNING` gave, with their leases, in claim order (highest
/// priority, then oldest): RETURNING comes in no set order.
pub fn claimed_in_order(rows: Vec<JobRow>) -> Result<Vec<Claimed>> {
    let mut claimed = rows
        .into_iter()
        .map(|row| {
            let fence = row.fence;
            let job = Job::try_from(row)?;
            Ok(Claimed {
                lease: Lease { id: job.id, fence },
                job: std::sync::Arc::new(job),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    claimed.sort_by(|a, b| {
        (b.job.priority, a.job.created_at, a.job.id).cmp(&(
            a.job.priority,
            b.job.created_at,
            b.job.id,
        ))
    });
    Ok(claimed)
}

/// A file's description as the stores select it: index, name, content type, size.
pub(crate) type InfoRow = (i64, String, String, i64);

/// [`InfoRow`] → [`FileInfo`].
pub(crate) fn info((index, name, content_type, size): InfoRow) -> Result<FileInfo> {
    Ok(FileInfo {
        index: u32::try_from(index).map_err(|_| StoreError::Corrupt(format!("file {name}")))?,
        bytes: size.max(0) as u64,
        name,
        content_type,
    })
}
