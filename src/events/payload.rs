//! The `data:` of each event: a job's state without its params, result and attempt errors
//! (`GET /jobs/{id}` has those), a run's progress, a deletion.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::job::{Job, JobError, JobId, JobKind, JobProgress, JobStatus};

/// The `data` of a `job` event: where the job stands.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JobState {
    pub id: JobId,
    pub kind: JobKind,
    pub status: JobStatus,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub instance: Option<String>,
    pub progress: Option<JobProgress>,
    pub created_at: DateTime<Utc>,
    pub run_after: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<JobError>,
    pub retry_of: Option<JobId>,
}

impl From<&Job> for JobState {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            status: job.status,
            priority: job.priority,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            instance: job.instance.clone(),
            progress: job.progress,
            created_at: job.created_at,
            run_after: job.run_after,
            started_at: job.started_at,
            finished_at: job.finished_at,
            error: job.error.clone(),
            retry_of: job.retry_of,
        }
    }
}

impl JobState {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The `data` of a `progress` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressEvent {
    pub id: JobId,
    pub done: u64,
    pub total: u64,
}

/// The `data` of a `deleted` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedEvent {
    pub id: JobId,
}

pub(super) fn progress_json(id: JobId, p: JobProgress) -> String {
    let event = ProgressEvent {
        id,
        done: p.done,
        total: p.total,
    };
    serde_json::to_string(&event).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn deleted_json(id: JobId) -> String {
    serde_json::to_string(&DeletedEvent { id }).unwrap_or_else(|_| "{}".into())
}
