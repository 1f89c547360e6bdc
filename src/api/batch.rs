//! `POST /jobs/batch`: up to [`MAX_BATCH`] jobs in one request, stored in one transaction,
//! with a result per item.
//!
//! Each item is checked as the body of `POST /jobs` would be; an item that fails its checks
//! gets its own problem and the others go on. The valid items are admitted against the queue
//! cap together (all or none: 429 when they do not all fit) and inserted in one transaction:
//! either every one of them is stored, or none is and the request fails (503). So a client
//! that sees an error for the request knows that nothing was stored, and one that sees the
//! items knows exactly which were.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use super::responses::Unauthorized;
use super::submission::prepare;
use super::trace::TraceParent;
use crate::job::{Job, JobError, JobId, JobStatus, SpecError, SpecErrorCode, SubmitRequest};
use crate::store::NewJob;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/jobs/batch", axum::routing::post(submit_batch))
}

/// Most jobs in one batch.
pub const MAX_BATCH: usize = 1000;

/// The body of `POST /jobs/batch`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Read by hand (see `items`), described for the OpenAPI document.
pub struct BatchRequest {
    /// The jobs, 1 to 1000 objects, each the body of `POST /jobs` (`SubmitRequest`). An object
    /// that is not a valid one does not make the request invalid: it is refused alone, with
    /// its problem in its result.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<Object>)]
    jobs: Vec<SubmitRequest>,
}

/// The answer of `POST /jobs/batch`: one item per job asked for, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Items stored (status 202 or 200).
    pub accepted: usize,
    /// Items refused (with a problem; nothing of them was stored).
    pub rejected: usize,
    pub items: Vec<BatchItem>,
}

/// The outcome of one item: `status` 202 with the job queued, 200 with the job already final
/// (a dependency had failed), or the 4xx status of its `problem`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<StoredJob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// A job the batch stored, in short: `GET /jobs/{id}` has the rest.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredJob {
    pub id: JobId,
    /// `queued`, or `failed` when a dependency had already ended without succeeding.
    pub status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
}

impl BatchItem {
    fn stored(job: &Job) -> Self {
        let status = if job.is_final() {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        Self {
            status: status.as_u16(),
            job: Some(StoredJob {
                id: job.id,
                status: job.status,
                error: job.error.clone(),
            }),
            problem: None,
        }
    }

    /// A refused item; `index` names it in the problem's field.
    fn refused(index: usize, err: &ApiError) -> Self {
        let mut problem = err.problem();
        problem.field = Some(match problem.field {
            Some(field) => format!("jobs[{index}].{field}"),
            None => format!("jobs[{index}]"),
        });
        Self {
            status: problem.status,
            job: None,
            problem: Some(problem),
        }
    }
}

/// Submit up to 1000 jobs at once.
///
/// Every item is checked like the body of `POST /jobs`; the valid ones are stored in one
/// transaction (all of them or, with an error for the whole request, none). The answer has
/// one item per job asked for, in order: 202 with the queued job's id, 200 with a job already
/// failed (a dependency had failed) and its error, or the problem that refused it. `Idempotency-Key` is not
/// accepted here.
#[utoipa::path(
    post, path = "/jobs/batch", tag = "jobs",
    params(("traceparent" = Option<String>, Header,
            description = "W3C trace context (`00-{trace id}-{parent id}-{flags}`): the job keeps it, its worker gets it, its log lines carry its trace id (a malformed one is ignored)")),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Every item checked; the valid ones stored (see each item's `status`)", body = BatchResponse),
        (status = 400, description = "Malformed JSON, or an `Idempotency-Key` header", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an object with `jobs`: an array of 1 to 1000 items", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The valid items do not all fit in the queue or the API key's share of it (`queue_full`), or pass `--tenant-rate` (`rate_limited`); `Retry-After`; none was stored", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error (logged)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Overloaded, timed out or the job store is unreachable (`Retry-After`); none was stored", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
    )
)]
pub async fn submit_batch(
    State(state): State<AppState>,
    caller: Caller,
    trace: TraceParent,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<BatchResponse>> {
    if headers.contains_key("idempotency-key") {
        return Err(ApiError::InvalidHeader(
            "Idempotency-Key is not accepted on /jobs/batch; submit jobs that must not be \
             repeated one by one to /jobs"
                .into(),
        ));
    }
    let mut items: Vec<Option<BatchItem>> = Vec::new();
    let mut new = Vec::new();
    let mut slots = Vec::new();
    for (index, item) in self::items(body)?.into_iter().enumerate() {
        match check(&state, &caller, &trace, item).await {
            Ok(job) => {
                new.push(job);
                slots.push(index);
                items.push(None);
            }
            // The store could not be read: nothing of the batch is stored.
            Err(err) if err.status().is_server_error() => return Err(err),
            Err(err) => items.push(Some(BatchItem::refused(index, &err))),
        }
    }
    for (index, result) in slots.into_iter().zip(store(&state, new).await?) {
        items[index] = Some(match result {
            Ok(job) => BatchItem::stored(&job),
            Err(err) => BatchItem::refused(index, &err),
        });
    }
    let items: Vec<BatchItem> = items.into_iter().flatten().collect();
    let accepted = items.iter().filter(|i| i.job.is_some()).count();
    let rejected = items.len() - accepted;
    tracing::info!(accepted, rejected, "batch submitted");
    Ok(Json(BatchResponse {
        accepted,
        rejected,
        items,
    }))
}

/// The items of the body: an object with one field, `jobs`, an array of 1 to [`MAX_BATCH`]
/// objects.
fn items(body: Value) -> ApiResult<Vec<Value>> {
    let invalid = |field: &str, message: String| {
        ApiError::Spec(SpecError {
            code: SpecErrorCode::InvalidField,
            field: Some(field.into()),
            message,
        })
    };
    let Value::Object(mut body) = body else {
        return Err(invalid(
            "jobs",
            "the body must be an object with a `jobs` array".into(),
        ));
    };
    if let Some(other) = body.keys().find(|k| *k != "jobs") {
        let other: String = other.chars().take(64).collect();
        return Err(invalid(&other, format!("unknown field `{other}`")));
    }
    match body.remove("jobs") {
        Some(Value::Array(jobs)) if (1..=MAX_BATCH).contains(&jobs.len()) => {
            // Not a job at all: the request is malformed, not the item.
            match jobs.iter().position(|job| !job.is_object()) {
                Some(i) => Err(invalid(
                    &format!("jobs[{i}]"),
                    format!("jobs[{i}] must be an object (the body of POST /jobs)"),
                )),
                None => Ok(jobs),
            }
        }
        Some(Value::Array(jobs)) => Err(invalid(
            "jobs",
            format!("jobs must hold 1 to {MAX_BATCH} jobs, got {}", jobs.len()),
        )),
        _ => Err(invalid(
            "jobs",
            format!("jobs must be an array of 1 to {MAX_BATCH} jobs"),
        )),
    }
}

/// One item checked as `POST /jobs` checks its body, ready to insert.
async fn check(
    state: &AppState,
    caller: &Caller,
    trace: &TraceParent,
    item: Value,
) -> ApiResult<NewJob> {
    let submission = state.check(SubmitRequest::from_json(item)?)?;
    let mut new = prepare(state, caller, trace, submission).await?;
    new.tenant = caller.tenant.clone();
    Ok(new)
}

/// Admits and inserts the checked jobs in one transaction: one result per job, in order.
async fn store(state: &AppState, new: Vec<NewJob>) -> ApiResult<Vec<ApiResult<Arc<Job>>>> {
    let results = state.runtime.submit_many(new).await?;
    Ok(results
        .into_iter()
        .map(|r| r.map_err(ApiError::from))
        .collect())
}
