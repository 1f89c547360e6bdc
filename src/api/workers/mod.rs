//! The remote workers' routes: `POST /workers/claim` (jobs of worker kinds, long-polling until
//! one is ready) and `POST /jobs/{id}/heartbeat` here; the answers for the jobs a worker holds
//! in [`answers`]. Every request about a job is fenced by the claim's `lease`: one that is no
//! longer the job's (expired and claimed again, the job cancelled, timed out or deleted) gets
//! 409 `stale_lease` and changes nothing. See [`crate::runtime::workers`].

pub mod answers;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{JobIdPath, JsonBody};
use super::jobs::MAX_WAIT_MS;
use super::responses::StoreErrors;
use crate::job::spec::from_value;
use crate::job::{JobId, JobKind, JobProgress, SpecError, SpecErrorCode};
use crate::runtime::{Renewed, WorkerJob};
use crate::store::Lease;

pub fn router() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/workers/claim", post(claim))
        .route("/jobs/{id}/heartbeat", post(heartbeat))
        .route("/jobs/{id}/complete", post(answers::complete))
        .route("/jobs/{id}/fail", post(answers::fail))
        .route("/jobs/{id}/hand-back", post(answers::hand_back))
        .route("/workers/complete", post(answers::complete_many))
}

/// Most jobs one claim takes.
pub const MAX_CLAIM: u32 = 1000;

/// The body of `POST /workers/claim`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The worker's name (1 to 128 printable characters); the job's `instance` is
    /// `worker:` and this name.
    #[schema(example = "resize-worker-1")]
    pub worker: String,
    /// Worker kinds whose jobs it takes (1 to 64 names).
    pub kinds: Vec<String>,
    /// Most jobs to take (1 to 1000; default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 1000, default = 1)]
    pub max: u32,
    /// How long to wait for a job when none is ready, in ms (0 to 60000; default 0).
    #[serde(default)]
    #[schema(maximum = 60000, default = 0)]
    pub wait_ms: u64,
}

fn one() -> u32 {
    1
}

/// The answer of `POST /workers/claim`: the jobs taken, perhaps none.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimResponse {
    pub jobs: Vec<ClaimedJob>,
}

/// A job claimed by a worker: what it needs to run it, and the lease to answer with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: JobKind,
    #[schema(value_type = Object)]
    pub params: Value,
    /// This run's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The fence of this claim: send it with every heartbeat, completion and failure.
    pub lease: i64,
    /// When the lease runs out unless a heartbeat renews it.
    pub lease_expires_at: DateTime<Utc>,
    /// When the job times out (an answer after it is refused).
    pub deadline_at: DateTime<Utc>,
    /// The lease's length in milliseconds: each heartbeat renews it for this long. With
    /// `deadline_in_ms`, what a worker whose clock differs from the server's times itself by.
    pub lease_ms: u64,
    /// Milliseconds from this answer to `deadline_at`, by the server's clock.
    pub deadline_in_ms: u64,
    /// The W3C trace context the job was submitted with: run the job as its child.
    #[schema(example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    pub traceparent: Option<String>,
}

impl From<WorkerJob> for ClaimedJob {
    fn from(w: WorkerJob) -> Self {
        Self {
            id: w.job.id,
            kind: w.job.kind,
            params: w.job.params.clone(),
            attempt: w.job.attempt,
            max_attempts: w.job.max_attempts,
            lease: w.lease.fence,
            lease_expires_at: w.lease_expires_at,
            deadline_at: w.deadline_at,
            lease_ms: w.lease_ms,
            deadline_in_ms: w.deadline_in_ms,
            traceparent: w.job.traceparent.as_deref().map(str::to_string),
        }
    }
}

/// The body of `POST /jobs/{id}/heartbeat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub lease: i64,
    pub progress: Option<JobProgress>,
}

/// A renewed lease.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatResponse {
    pub lease_expires_at: DateTime<Utc>,
    /// Someone asked to cancel the job: stop, and fail it (or complete it if it is done).
    pub cancel_requested: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Spec(SpecError {
        code: SpecErrorCode::InvalidField,
        field: Some(field.into()),
        message: message.into(),
    })
}

/// Claim jobs of worker kinds.
///
/// Takes up to `max` queued jobs of `kinds`, in the order jobs are claimed (priority, then
/// age). When none is ready, waits up to `wait_ms` and answers as soon as one is. Each job
/// comes with its lease: renew it with heartbeats before `lease_expires_at` and answer with
/// it; a lease that runs out makes the job `interrupted`, retried while attempts remain.
#[utoipa::path(
    post, path = "/workers/claim", tag = "workers",
    request_body(content = ClaimRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The jobs taken (perhaps none, after `wait_ms`)", body = ClaimResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field out of range, or a kind that is not a worker kind here (`invalid_field`)", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ClaimResponse>> {
    let req: ClaimRequest = from_value(body, "")?;
    let worker = req.worker.trim();
    if worker.is_empty() || worker.len() > 128 || worker.chars().any(char::is_control) {
        return Err(invalid(
            "worker",
            "worker must be 1 to 128 printable characters",
        ));
    }
    if req.kinds.is_empty() || req.kinds.len() > 64 {
        return Err(invalid("kinds", "kinds must name 1 to 64 worker kinds"));
    }
    if !(1..=MAX_CLAIM).contains(&req.max) {
        return Err(invalid(
            "max",
            format!("max must be between 1 and {MAX_CLAIM}"),
        ));
    }
    if req.wait_ms > MAX_WAIT_MS {
        return Err(invalid(
            "wait_ms",
            format!("wait_ms must be at most {MAX_WAIT_MS}"),
        ));
    }
    let registry = state.runtime.kinds();
    let mut kinds = Vec::with_capacity(req.kinds.len());
    for (i, name) in req.kinds.iter().enumerate() {
        let kind = registry.get(name).filter(|k| k.enabled()).map(|k| k.name());
        match kind.filter(|&k| registry.class_of(k) == Some(crate::job::JobClass::Worker)) {
            Some(kind) => kinds.push(kind),
            None => {
                let name: String = name.chars().take(64).collect();
                return Err(invalid(
                    &format!("kinds[{i}]"),
                    format!("`{name}` is not a worker kind of this server"),
                ));
            }
        }
    }
    let wait = Duration::from_millis(req.wait_ms);
    let jobs = state
        .runtime
        .claim_for_worker(worker, &kinds, req.max as usize, wait)
        .await?;
    for w in &jobs {
        let job = &w.job;
        tracing::info!(job_id = %job.id, kind = %job.kind, attempt = job.attempt, trace_id = job.trace_id(), worker, "claimed by a worker");
    }
    Ok(Json(ClaimResponse {
        jobs: jobs.into_iter().map(ClaimedJob::from).collect(),
    }))
}

/// Renew the lease of a job this worker holds.
///
/// Extends the lease by the server's worker lease (`--worker-lease-ms`) and records the
/// progress; says whether someone asked to cancel the job.
#[utoipa::path(
    post, path = "/jobs/{id}/heartbeat", tag = "workers",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    request_body(content = HeartbeatRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The lease, renewed", body = HeartbeatResponse),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease is not the job's any more (`stale_lease`), or its deadline passed (`deadline_passed`: it is timed out now)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field of the wrong type", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<HeartbeatResponse>> {
    let req: HeartbeatRequest = from_value(body, "")?;
    let lease = Lease {
        id,
        fence: req.lease,
    };
    let progress = checked(req.progress, "progress")?;
    let Renewed {
        lease_expires_at,
        cancel_requested,
    } = state.runtime.worker_heartbeat(lease, progress).await?;
    Ok(Json(HeartbeatResponse {
        lease_expires_at,
        cancel_requested,
    }))
}

/// `progress` if it is within bounds; `field` names it in the error.
fn checked(progress: Option<JobProgress>, field: &str) -> ApiResult<Option<JobProgress>> {
    match progress {
        Some(p) if p.total > i64::MAX as u64 => Err(invalid(
            &format!("{field}.total"),
            format!("progress.total must be at most {}", i64::MAX),
        )),
        Some(p) if p.done > p.total => Err(invalid(
            &format!("{field}.done"),
            "progress.done must be at most progress.total",
        )),
        p => Ok(p),
    }
}
