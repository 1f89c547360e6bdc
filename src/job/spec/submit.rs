//! The envelope of `POST /jobs`: kind, parameters and the options of the job's runs.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{check_range, from_value};
use super::{SpecError, SpecErrorCode};
use crate::job::{JobId, JobKind, Limits};

/// The options of a job's runs, with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitOptions {
    pub timeout_ms: u64,
    pub priority: i32,
    pub max_attempts: u32,
    /// Not started before this time (`None`: as soon as possible).
    pub run_after: Option<DateTime<Utc>>,
}

/// Furthest `run_after` accepted, from now.
pub const MAX_DELAY_DAYS: i64 = 366;
/// Lowest and highest `priority`.
pub const MIN_PRIORITY: i32 = -100;
pub const MAX_PRIORITY: i32 = 100;
/// Largest `max_attempts`.
pub const MAX_ATTEMPTS: u32 = 25;

/// The body of `POST /jobs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The kind of job.
    #[schema(value_type = JobKind)]
    pub kind: String,
    /// The kind's parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Value>,
    /// Deadline of one run in ms, 1 ms to 24 h (default 60 s).
    #[schema(minimum = 1, maximum = 86_400_000)]
    pub timeout_ms: Option<u64>,
    /// -100..=100, higher runs first (default 0).
    #[schema(minimum = -100, maximum = 100)]
    pub priority: Option<i32>,
    /// Runs allowed when runs fail with a retryable error (interrupted by a crash, transient
    /// I/O errors), 1..=25 (default 3). Retries wait with exponential back-off and jitter.
    #[schema(minimum = 1, maximum = 25)]
    pub max_attempts: Option<u32>,
    /// Do not start the job before this time (RFC 3339; at most 366 days ahead). It waits
    /// as `queued` until then.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub run_after: Option<String>,
    /// Up to 100 existing jobs that must be final before this one runs; if one of them does
    /// not succeed, this job fails with `dependency_failed` without running.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    pub depends_on: Option<Vec<JobId>>,
}

/// Most jobs one job may depend on.
pub const MAX_DEPENDENCIES: usize = 100;

/// A validated submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub kind: JobKind,
    /// The parameters as the kind parsed them (normalised: defaults filled in).
    pub params: Value,
    /// Jobs whose files a run reads (the kind's `sources`).
    pub sources: Vec<JobId>,
    pub options: SubmitOptions,
    /// Distinct, in the order given.
    pub depends_on: Vec<JobId>,
}

impl SubmitRequest {
    /// Parses a request body (already known to be JSON).
    pub fn from_json(body: Value) -> Result<Self, SpecError> {
        from_value(body, "")
    }

    /// The options of the job's runs, checked against `limits`, defaults filled in.
    pub fn options(&self, limits: &Limits) -> Result<SubmitOptions, SpecError> {
        let timeout_ms = self.timeout_ms.unwrap_or(limits.default_timeout_ms);
        check_range("timeout_ms", timeout_ms, 1, limits.max_timeout_ms)?;
        let priority = self.priority.unwrap_or(limits.default_priority);
        check_range("priority", priority, MIN_PRIORITY, MAX_PRIORITY)?;
        let max_attempts = self.max_attempts.unwrap_or(limits.default_max_attempts);
        check_range("max_attempts", max_attempts, 1, MAX_ATTEMPTS)?;
        let run_after = self.run_after.as_deref().map(parse_run_after).transpose()?;
        Ok(SubmitOptions {
            timeout_ms,
            priority,
            max_attempts,
            run_after,
        })
    }

    /// The parameters given (an empty object when none).
    pub fn take_params(&mut self) -> Value {
        self.params
            .take()
            .unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// The jobs this one depends on: distinct, in the order given, at most
    /// [`MAX_DEPENDENCIES`].
    pub fn dependencies(&self) -> Result<Vec<JobId>, SpecError> {
        let mut depends_on = self.depends_on.clone().unwrap_or_default();
        if depends_on.len() > MAX_DEPENDENCIES {
            return Err(SpecError {
                code: SpecErrorCode::InvalidField,
                field: Some("depends_on".into()),
                message: format!(
                    "a job may depend on at most {MAX_DEPENDENCIES} jobs, got {}",
                    depends_on.len()
                ),
            });
        }
        let mut seen = std::collections::HashSet::new();
        depends_on.retain(|id| seen.insert(*id));
        Ok(depends_on)
    }
}

/// An RFC 3339 time, no further than [`MAX_DELAY_DAYS`] ahead (earlier ones run at once).
fn parse_run_after(text: &str) -> Result<DateTime<Utc>, SpecError> {
    let invalid = |message: String| SpecError {
        code: SpecErrorCode::InvalidField,
        field: Some("run_after".into()),
        message,
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|e| {
            invalid(format!(
                "run_after must be an RFC 3339 time such as 2026-01-31T12:00:00Z: {e}"
            ))
        })?
        .with_timezone(&Utc);
    if at > crate::store::now() + chrono::Duration::days(MAX_DELAY_DAYS) {
        return Err(invalid(format!(
            "run_after may be at most {MAX_DELAY_DAYS} days ahead"
        )));
    }
    // The store keeps milliseconds.
    Ok(DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at))
}
