//! `POST /jobs/{id}/retry`: a new job doing what a failed, timed-out or cancelled one did.
//!
//! The new job has the original's kind, params, priority, deadline, attempts and
//! dependencies, validated again against the limits the server has now (a kind since
//! disabled, a deadline over a lowered cap are refused as a submission would be), and names
//! the original in `retry_of`. The original is left as it is: its history stays readable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::JobIdPath;
use super::responses::StoreErrors;
use super::submission::{Stored, accept, prepare, with_location};
use super::trace::TraceParent;
use crate::job::{Job, JobId, JobStatus, SubmitRequest};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/jobs/{id}/retry", axum::routing::post(retry))
}

/// Whether a job in `status` can be retried.
pub fn retryable(status: JobStatus) -> bool {
    matches!(
        status,
        JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled
    )
}

/// Retry a job that failed, timed out or was cancelled.
///
/// Creates a new job with the same kind, params and options (`priority`, `timeout_ms`,
/// `max_attempts`, `depends_on`), checked against the server's current limits; its
/// `retry_of` names the original, which is left unchanged.
#[utoipa::path(
    post, path = "/jobs/{id}/retry", tag = "jobs",
    params(("id" = JobId, Path, description = "Job id (UUID)"),
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context (`00-{trace id}-{parent id}-{flags}`): the job keeps it, its worker gets it, its log lines carry its trace id (a malformed one is ignored)")),
    responses(
        (status = 202, description = "The new job (queued or running)", body = Job,
            headers(("Location" = String, description = "/jobs/{new id}"))),
        (status = 200, description = "The new job, failed at once: one of its dependencies did not succeed", body = Job,
            headers(("Location" = String, description = "/jobs/{new id}"))),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Queued, running or succeeded (`not_retryable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The job's spec is no longer accepted (kind disabled, limits lowered, a dependency gone)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The queue is full (`Retry-After`)", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    trace: TraceParent,
    JobIdPath(id): JobIdPath,
) -> ApiResult<Response> {
    let original = state
        .runtime
        .store()
        .get(id)
        .await?
        .filter(|job| caller.sees(job.tenant.as_deref()))
        .ok_or(ApiError::JobNotFound(id))?;
    if !retryable(original.status) {
        return Err(ApiError::NotRetryable(id, original.status));
    }
    let submission = state.check(SubmitRequest::from_json(request_of(&original))?)?;
    let mut new = prepare(&state, &caller, &trace, submission).await?;
    new.retry_of = Some(id);
    let job = match accept(&state, &caller, new).await? {
        Stored::New(job) | Stored::Earlier(job) => job,
    };
    // Failed at once (a dependency did not succeed): final, as a submission's 200.
    let status = if job.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(with_location(status, job))
}

/// The submission that makes the same job again (a source job, such as `word_count`'s, is
/// among its dependencies already: it is not added twice).
fn request_of(job: &Job) -> serde_json::Value {
    let depends_on: Vec<String> = job.depends_on.iter().map(ToString::to_string).collect();
    json!({
        "kind": job.kind.as_str(),
        "params": job.params,
        "priority": job.priority,
        "timeout_ms": job.timeout_ms,
        "max_attempts": job.max_attempts,
        "depends_on": depends_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_that_ended_without_succeeding_are_retryable() {
        let table = [
            (JobStatus::Queued, false),
            (JobStatus::Running, false),
            (JobStatus::Succeeded, false),
            (JobStatus::Failed, true),
            (JobStatus::TimedOut, true),
            (JobStatus::Cancelled, true),
        ];
        for (status, want) in table {
            assert_eq!(retryable(status), want, "{status}");
        }
    }
}
