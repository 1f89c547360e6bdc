//! A worker's answers for the jobs it holds: `POST /jobs/{id}/complete`, `/fail` and
//! `/hand-back`, one job each, answered with the job; and `POST /workers/complete`, many
//! answers in one request, each answered on its own (a status, or the problem that kept it
//! from being recorded). Each answer is recorded only under the job's current lease and
//! before its deadline.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{MAX_CLAIM, checked, invalid};
use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult, Problem};
use crate::api::extract::{JobIdPath, JsonBody};
use crate::api::responses::StoreErrors;
use crate::job::spec::from_value;
use crate::job::{Job, JobError, JobErrorCode, JobId, JobProgress, JobResult, JobStatus};
use crate::runtime::{WorkerAnswer, WorkerEnd};
use crate::store::Lease;

/// The body of `POST /jobs/{id}/complete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub lease: i64,
    /// The job's result: any JSON.
    #[schema(value_type = serde_json::Value)]
    pub result: Value,
    pub progress: Option<JobProgress>,
}

/// How a worker failed a job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The worker's own code for the failure (`[A-Za-z][A-Za-z0-9_.]{0,63}`, e.g. an
    /// exception's name); the job's error code is `worker_failed`, its message starts with it.
    #[schema(example = "ValueError")]
    pub code: String,
    pub message: String,
    /// Queue it again (after the back-off) while attempts remain; default true.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub retryable: bool,
}

/// The body of `POST /jobs/{id}/fail`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    pub lease: i64,
    /// As in [`Failure`].
    #[schema(example = "ValueError")]
    pub code: String,
    pub message: String,
    /// Queue it again (after the back-off) while attempts remain; default true.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub retryable: bool,
    pub progress: Option<JobProgress>,
}

/// The body of `POST /jobs/{id}/hand-back`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandBackRequest {
    pub lease: i64,
}

/// The body of `POST /workers/complete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersRequest {
    /// 1 to 1000 answers, for distinct jobs.
    pub outcomes: Vec<Answer>,
}

/// One answer of `POST /workers/complete`: exactly one of `result`, `fail` and `hand_back`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub id: JobId,
    pub lease: i64,
    /// Completes the job with this result (any JSON, `null` included).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub result: Option<Value>,
    /// Fails the job.
    pub fail: Option<Failure>,
    /// `true`: hands the job back unrun (queued again, the attempt uncounted).
    #[serde(default)]
    pub hand_back: bool,
    pub progress: Option<JobProgress>,
}

/// The answer of `POST /workers/complete`: one entry per answer sent, in their order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswersResponse {
    pub outcomes: Vec<AnswerOutcome>,
}

/// What one answer did: the status it left its job in (`succeeded`, `failed`, `cancelled`,
/// or `queued` again), or the problem that kept it from being recorded (`stale_lease`,
/// `deadline_passed`, `store_unavailable`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerOutcome {
    pub id: JobId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

fn yes() -> bool {
    true
}

/// `Some` of whatever is there, `null` included: absent is `None` (by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Complete a job this worker holds, with its result.
#[utoipa::path(
    post, path = "/jobs/{id}/complete", tag = "workers",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    request_body(content = CompleteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The job, succeeded", body = Job),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease is not the job's any more (`stale_lease`), or its deadline passed (`deadline_passed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field missing or of the wrong type", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Job>> {
    let req: CompleteRequest = from_value(body, "")?;
    let end = completed(&req.result, "result")?;
    let progress = checked(req.progress, "progress")?;
    one(&state, id, req.lease, end, progress).await
}

/// Fail a job this worker holds.
///
/// A `retryable` failure queues the job again after the back-off while attempts remain (a
/// pending cancel makes it `cancelled` instead); else the job is `failed`. Its error's code
/// is `worker_failed`, its message `"{code}: {message}"`.
#[utoipa::path(
    post, path = "/jobs/{id}/fail", tag = "workers",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    request_body(content = FailRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The job, queued again or failed", body = Job),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease is not the job's any more (`stale_lease`), or its deadline passed (`deadline_passed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field missing, of the wrong type or out of range", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn fail(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Job>> {
    let req: FailRequest = from_value(body, "")?;
    let failure = Failure {
        code: req.code,
        message: req.message,
        retryable: req.retryable,
    };
    let end = failed(failure, "")?;
    let progress = checked(req.progress, "progress")?;
    one(&state, id, req.lease, end, progress).await
}

/// Hand back a job this worker holds, unrun.
///
/// For a worker that stops before it could run the job: the job is queued again at once,
/// and this attempt does not count (the next claim gets the same `attempt`). A pending cancel
/// makes it `cancelled` instead.
#[utoipa::path(
    post, path = "/jobs/{id}/hand-back", tag = "workers",
    params(("id" = JobId, Path, description = "Job id (UUID)")),
    request_body(content = HandBackRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The job, queued again (or cancelled)", body = Job),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lease is not the job's any more (`stale_lease`), or its deadline passed (`deadline_passed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field missing or of the wrong type", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn hand_back(
    State(state): State<AppState>,
    JobIdPath(id): JobIdPath,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Job>> {
    let req: HandBackRequest = from_value(body, "")?;
    one(&state, id, req.lease, WorkerEnd::HandBack, None).await
}

/// Answer for many jobs at once.
///
/// Completes, fails or hands back up to 1000 jobs this worker holds, each under its own lease
/// and each answered on its own, in the order sent: the status it left its job in, or the
/// problem that kept it from being recorded (a stale lease, a deadline passed), the others
/// recorded all the same. A malformed answer refuses the whole request (422 naming it); the
/// answers share one transaction, so a store that fails records none of them (503).
#[utoipa::path(
    post, path = "/workers/complete", tag = "workers",
    request_body(content = AnswersRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What each answer did", body = AnswersResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An answer malformed, out of range or naming a job twice (`field`: `outcomes[i]…`)", body = Problem, content_type = "application/problem+json"),
        StoreErrors,
    )
)]
pub async fn complete_many(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AnswersResponse>> {
    let req: AnswersRequest = from_value(body, "")?;
    let n = req.outcomes.len();
    if !(1..=MAX_CLAIM as usize).contains(&n) {
        return Err(invalid(
            "outcomes",
            format!("outcomes must hold 1 to {MAX_CLAIM} answers"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut answers = Vec::with_capacity(n);
    for (i, a) in req.outcomes.into_iter().enumerate() {
        let at = format!("outcomes[{i}]");
        if !seen.insert(a.id) {
            return Err(invalid(&format!("{at}.id"), "a job may be answered once"));
        }
        let end = match (a.result, a.fail, a.hand_back) {
            (Some(result), None, false) => completed(&result, &format!("{at}.result"))?,
            (None, Some(failure), false) => failed(failure, &format!("{at}.fail"))?,
            (None, None, true) => WorkerEnd::HandBack,
            _ => {
                return Err(invalid(
                    &at,
                    "an answer holds exactly one of result, fail and hand_back: true",
                ));
            }
        };
        answers.push(WorkerAnswer {
            lease: Lease {
                id: a.id,
                fence: a.lease,
            },
            end,
            progress: checked(a.progress, &format!("{at}.progress"))?,
        });
    }
    let ids: Vec<JobId> = answers.iter().map(|a| a.lease.id).collect();
    let ended = state.runtime.worker_ends(answers).await?;
    let outcomes = (ids.into_iter().zip(ended))
        .map(|(id, ended)| match ended {
            Ok(status) => AnswerOutcome {
                id,
                status: Some(status),
                problem: None,
            },
            Err(err) => {
                let err = ApiError::from(err);
                if let ApiError::Internal(cause) = &err {
                    tracing::error!(job_id = %id, error = ?cause, "recording a worker's answer failed");
                }
                AnswerOutcome {
                    id,
                    status: None,
                    problem: Some(err.problem()),
                }
            }
        })
        .collect();
    Ok(Json(AnswersResponse { outcomes }))
}

/// Records one answer for job `id` under the lease `fence`; the job as it leaves it.
async fn one(
    state: &AppState,
    id: JobId,
    fence: i64,
    end: WorkerEnd,
    progress: Option<JobProgress>,
) -> ApiResult<Json<Job>> {
    let lease = Lease { id, fence };
    let answer = WorkerAnswer {
        lease,
        end,
        progress,
    };
    Ok(Json(state.runtime.worker_end(answer).await?))
}

/// A completion with `result`; `field` names it in the error.
fn completed(result: &Value, field: &str) -> ApiResult<WorkerEnd> {
    let result = JobResult::of(result).map_err(|e| invalid(field, e.to_string()))?;
    Ok(WorkerEnd::Complete(result))
}

/// A failure, its fields checked; `prefix` names where it is in the request.
fn failed(failure: Failure, prefix: &str) -> ApiResult<WorkerEnd> {
    let field = |name: &str| match prefix {
        "" => name.to_string(),
        _ => format!("{prefix}.{name}"),
    };
    let Failure {
        code,
        message,
        retryable,
    } = failure;
    let code_ok = code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !code_ok {
        return Err(invalid(
            &field("code"),
            "code must be a letter, then up to 63 letters, digits, `_` or `.`",
        ));
    }
    if message.contains('\0') {
        return Err(invalid(
            &field("message"),
            "message must not contain NUL characters",
        ));
    }
    let message: String = message.chars().take(4096).collect();
    let error = JobError::new(JobErrorCode::WorkerFailed, format!("{code}: {message}"));
    Ok(WorkerEnd::Fail { error, retryable })
}
