//! The job: its id, its states and the rules between them, its kind's name and parameters,
//! the options every job carries (deadline, priority, attempts) and the files it saves.
//!
//! Everything here is plain data. It is parsed once at the edge ([`spec`]) and stored and
//! served as is; the runtime and the store only move it between states. What a kind does
//! with its parameters is `crate::kind`'s business.

mod files;
mod id;
mod kind;
mod limits;
mod result;
mod retry;
pub mod spec;
mod status;

pub use files::{FileData, FileInfo, NewFile};
pub use id::{InvalidJobId, JobId};
#[cfg(test)]
pub(crate) use kind::test_kind;
pub use kind::{InvalidKindName, JobClass, JobKind};
pub use limits::Limits;
pub use result::JobResult;
pub use retry::Backoff;
pub use spec::{
    MAX_ATTEMPTS, MAX_DEPENDENCIES, MAX_PRIORITY, MIN_PRIORITY, SpecError, SpecErrorCode,
    Submission, SubmitOptions, SubmitRequest,
};
pub use status::JobStatus;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A job as stored and as served by `GET /jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    /// The parameters as accepted (normalised: defaults filled in).
    #[schema(value_type = Object)]
    pub params: Value,
    pub status: JobStatus,
    /// -100..=100; higher runs first.
    pub priority: i32,
    /// Deadline of one run, counted from its start.
    pub timeout_ms: u64,
    /// Number of runs started so far (0 while never started).
    pub attempt: u32,
    pub max_attempts: u32,
    /// The faena instance (`--instance-id`) running the job, or that ran its last attempt;
    /// null while it never ran.
    pub instance: Option<String>,
    /// Jobs this one waits for: it runs once all of them are final, and fails with
    /// `dependency_failed` if one of them did not succeed.
    pub depends_on: Vec<JobId>,
    pub progress: Option<JobProgress>,
    pub created_at: DateTime<Utc>,
    /// Not started before this time: as submitted (`run_after`), or when a retry is due.
    pub run_after: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The kind's result once `succeeded`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<JobResult>,
    /// Why the job did not succeed (or why its last run stopped).
    pub error: Option<JobError>,
    /// How every attempt that did not succeed ended, oldest first.
    pub errors: Vec<AttemptError>,
    /// The job this one retries (`POST /jobs/{id}/retry`); null for a job submitted anew.
    #[serde(default)]
    pub retry_of: Option<JobId>,
    /// The W3C trace context of the request that submitted the job (its `traceparent`
    /// header; null when it had none): workers get it with the job, and the job's log lines
    /// carry its trace id.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    pub traceparent: Option<std::sync::Arc<str>>,
    /// The API key that created the job (its SHA-256); never served.
    #[serde(skip)]
    pub tenant: Option<String>,
}

impl Job {
    /// The trace id of [`Job::traceparent`] (32 hex digits), for log lines.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent.as_deref().and_then(|t| t.get(3..35))
    }
}

/// How one attempt ended without succeeding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttemptError {
    /// The attempt (1 for the first run).
    pub attempt: u32,
    pub code: JobErrorCode,
    pub message: String,
    /// When the attempt ended (or was found interrupted).
    pub at: DateTime<Utc>,
    /// The instance that ran it.
    pub instance: Option<String>,
}

/// Units of work done out of the total, as the kernel counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    pub done: u64,
    pub total: u64,
}

/// Why a job failed, timed out or was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobError {
    pub code: JobErrorCode,
    pub message: String,
}

impl JobError {
    pub fn new(code: JobErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Stable codes of job errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobErrorCode {
    /// The run passed its `timeout_ms`.
    TimedOut,
    /// A user cancelled the job.
    Cancelled,
    /// The process running it died (or lost its lease); retried while attempts remain.
    Interrupted,
    /// Some URLs of a `fetch_urls` job with `retry_transient` failed with transient errors;
    /// retried while attempts remain (the last attempt keeps what it fetched).
    FetchIncomplete,
    /// The job store failed during the run (e.g. saving a page); retried while attempts
    /// remain.
    Storage,
    /// A job it depends on did not succeed; it never ran.
    DependencyFailed,
    /// Its input is not there any more (e.g. the pages of its source job were deleted).
    InputGone,
    /// The kernel failed unexpectedly (a bug).
    Internal,
    /// A remote worker failed the job; its message starts with the worker's own code.
    WorkerFailed,
}

impl JobErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
            Self::FetchIncomplete => "fetch_incomplete",
            Self::Storage => "storage",
            Self::DependencyFailed => "dependency_failed",
            Self::InputGone => "input_gone",
            Self::Internal => "internal",
            Self::WorkerFailed => "worker_failed",
        }
    }

    /// Whether a run that ended with this error may be tried again (while attempts remain).
    /// Deadlines, cancels and errors in the job's own input are final.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Interrupted | Self::FetchIncomplete | Self::Storage
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::TimedOut,
            Self::Cancelled,
            Self::Interrupted,
            Self::FetchIncomplete,
            Self::Storage,
            Self::DependencyFailed,
            Self::InputGone,
            Self::Internal,
            Self::WorkerFailed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl Job {
    /// Whether the job has reached a state that never changes again.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}
