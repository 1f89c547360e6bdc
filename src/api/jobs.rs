//! `/jobs`: submit, get (and long-poll), list, cancel and delete jobs.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, check_visible};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiQuery, JobIdPath, JsonBody};
use super::responses::StoreErrors;
use super::submission::{Stored, accept, prepare, with_location};
use super::trace::TraceParent;
use super::{AppState, idempotency};
use crate::job::{Job, JobClass, JobId, JobKind, JobStatus, SubmitRequest};
use crate::store::{CancelResult, DeleteResult, ListFilter};

/// Longest long-poll.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Most jobs in one page of `GET /jobs`.
pub const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;
/// How long `cancel` waits for a running job to stop before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(1);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", post(submit).get(list))
        .route("/jobs/{id}", get(get_job).delete(delete_job))
        .route("/jobs/{id}/cancel", post(cancel))
}

/// Query of `POST /jobs` and `GET /jobs/{id}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Wait up to this many ms (≤ 60000) for the job to reach a final state.
    #[param(maximum = 60000)]
    wait_ms: Option<u64>,
}

impl WaitQuery {
    fn wait(&self) -> ApiResult<Duration> {
        let ms = self.wait_ms.unwrap_or(0);
        if ms > MAX_WAIT_MS {
            return Err(ApiError::InvalidQuery {
                field: Some("wait_ms".into()),
                message: format!("wait_ms must be at most {MAX_WAIT_MS}, got {ms}"),
            });
        }
        Ok(Duration::from_millis(ms))
    }
}

/// Query of `GET /jobs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this state.
    status: Option<JobStatus>,
    /// Only jobs of this kind.
    #[param(value_type = Option<JobKind>)]
    kind: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<String>, format = Uuid)]
    cursor: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Submit a job.
///
/// Answers once the job is committed to the store: 202 with the queued job, or with
/// `wait_ms`, 200 as soon as it is final (202 if it is not final after `wait_ms`).
#[utoipa::path(
    post, path = "/jobs", tag = "jobs",
    params(WaitQuery,
        ("Idempotency-Key" = Option<String>, Header,
            description = "1 to 255 printable ASCII characters: a repeat of the same request gets the job the first one created (200); a different request with the same key gets 422"),
        ("traceparent" = Option<String>, Header,
            description = "W3C trace context (`00-{trace id}-{parent id}-{flags}`): the job keeps it, its worker gets it, its log lines carry its trace id (a malformed one is ignored)")),
    request_body(content = SubmitRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted (queued or running)", body = Job,
            headers(("Location" = String, description = "/jobs/{id}"))),
        (status = 200, description = "Finished within `wait_ms`, or created earlier by a request with the same `Idempotency-Key`", body = Job,
            headers(("Location" = String, description = "/jobs/{id}"))),
        (status = 400, description = "Malformed JSON or bad query", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or disabled kind, invalid params, unknown dependency or source, Idempotency-Key reused", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The queue, or the API key's share of it, is full (`queue_full`), or the key submits faster than `--tenant-rate` (`rate_limited`); `Retry-After`", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    trace: TraceParent,
    ApiQuery(query): ApiQuery<WaitQuery>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let wait = query.wait()?;
    let idempotency = idempotency::key_of(&headers, &body)?;
    let submission = state.check(SubmitRequest::from_json(body)?)?;
    if let Some(key) = &idempotency
        && let Some(job) = idempotency::existing(&state, &caller, key).await?
    {
        return Ok(with_location(StatusCode::OK, job));
    }
    let mut new = prepare(&state, &caller, &trace, submission).await?;
    new.idempotency = idempotency;
    let job = match accept(&state, &caller, new).await? {
        Stored::New(job) => job,
        Stored::Earlier(job) => return Ok(with_location(StatusCode::OK, job)),
    };
    let job = if wait.is_zero() {
        job
    } else {
        wait_final(&state, job.id, wait).await?.unwrap_or(job)
    };
    let status = if job.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(with_location(status, job))
}

/// Get a job; with `wait_ms`, long-poll until it is final.
#[utoipa::path(
    get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = JobId, Path, description = "Job id (UUID)"), WaitQuery),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 400, description = "Id not a UUID or bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> ApiResult<Json<Job>> {
    let wait = query.wait()?;
    check_visible(&state, &caller, id).await?;
    wait_final(&state, id, wait)
        .await?
        .map(Json)
        .ok_or(ApiError::JobNotFound(id))
}

/// The job, once final or after `wait` (whichever comes first), with live progress.
async fn wait_final(state: &AppState, id: JobId, wait: Duration) -> ApiResult<Option<Job>> {
    let store = state.runtime.store();
    let deadline = tokio::time::Instant::now() + wait;
    let stopping = state.runtime.stopping();
    let mut first = true;
    loop {
        // Watch before reading, so that a finish between the read and the wait is not missed.
        let watch = state.runtime.waiters().watch(id);
        let notified = watch.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // A job submitted here and not ended since needs no read before the wait (only the
        // first time round: a wake-up without the final job reads it).
        let skip_read =
            std::mem::take(&mut first) && !wait.is_zero() && state.runtime.waiters().is_pending(id);
        if !skip_read {
            let Some(job) = store.get(id).await? else {
                return Ok(None);
            };
            let now = tokio::time::Instant::now();
            if job.is_final() || now >= deadline || stopping.is_cancelled() {
                return Ok(Some(state.with_live_progress(job)));
            }
        }
        // Where other processes share the store, a lost notification costs at most a recheck.
        let wake = state.runtime.recheck().map_or(deadline, |every| {
            deadline.min(tokio::time::Instant::now() + every)
        });
        tokio::select! {
            () = notified => {
                if let Some(job) = watch.final_job() {
                    return Ok(Some(job.clone()));
                }
                // Woken without the final job (a bulk change): read it again.
            }
            () = tokio::time::sleep_until(wake) => {}
            () = stopping.cancelled() => {}
        }
    }
}

/// List jobs, newest first.
#[utoipa::path(
    get, path = "/jobs", tag = "jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<JobPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery {
            field: Some("limit".into()),
            message: format!("limit must be between 1 and {MAX_PAGE}, got {limit}"),
        });
    }
    let before = match &query.cursor {
        Some(c) => Some(c.parse::<JobId>().map_err(|_| ApiError::InvalidQuery {
            field: Some("cursor".into()),
            message: "cursor is not one this server handed out".into(),
        })?),
        None => None,
    };
    let filter = ListFilter {
        status: query.status,
        kind: state.kind_filter(query.kind)?,
        before,
        limit: limit + 1,
        tenant: caller.tenant,
    };
    let mut jobs = state.runtime.store().list(&filter).await?;
    let next_cursor = if jobs.len() > limit as usize {
        jobs.truncate(limit as usize);
        jobs.last().map(|j| j.id.to_string())
    } else {
        None
    };
    let jobs = jobs
        .into_iter()
        .map(|j| state.with_live_progress(j))
        .collect();
    Ok(Json(JobPage { jobs, next_cursor }))
}

/// Cancel a job.
///
/// A queued job is cancelled at once; a running one is stopped (the answer waits up to 1 s
/// for it to stop), or for a job of a worker kind, its worker is told at its next heartbeat
/// (the answer does not wait). A job already final cannot be cancelled (409).
#[utoipa::path(
    post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    responses(
        (status = 202, description = "Cancelled, or being stopped", body = Job),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already final", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> ApiResult<(StatusCode, Json<Job>)> {
    check_visible(&state, &caller, id).await?;
    let job = match state.runtime.cancel(id).await? {
        CancelResult::Cancelled(job) => job,
        CancelResult::Requested(job)
            if state.runtime.kinds().class_of(job.kind) == Some(JobClass::Worker) =>
        {
            job
        }
        CancelResult::Requested(job) => wait_final(&state, id, CANCEL_WAIT).await?.unwrap_or(job),
        CancelResult::AlreadyFinal(job) => return Err(ApiError::JobFinal(id, job.status)),
        CancelResult::NotFound => return Err(ApiError::JobNotFound(id)),
    };
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Delete a final job.
#[utoipa::path(
    delete, path = "/jobs/{id}", tag = "jobs",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Id not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Queued or running", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn delete_job(
    State(state): State<AppState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> ApiResult<StatusCode> {
    check_visible(&state, &caller, id).await?;
    match state.runtime.delete(id).await? {
        DeleteResult::Deleted => Ok(StatusCode::NO_CONTENT),
        DeleteResult::NotFinal(status) => Err(ApiError::JobNotFinal(id, status)),
        DeleteResult::NotFound => Err(ApiError::JobNotFound(id)),
    }
}
