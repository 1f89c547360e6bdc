//! The API's error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Every error a client can see has a stable snake_case `code`; the HTTP status follows from
//! it. Internal errors are logged with their cause chain and tell the client nothing more.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::job::{JobId, JobStatus, SpecError};
use crate::runtime::{SubmitError, WorkerError};
use crate::store::StoreError;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:faena:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_params`.
    pub code: String,
    /// The request field at fault, e.g. `params.numbers[3]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Errors of the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("could not read the request body: {0}")]
    BadBody(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{0}")]
    InvalidId(String),
    #[error("{message}")]
    InvalidQuery {
        field: Option<String>,
        message: String,
    },
    #[error("no job with id {0}")]
    JobNotFound(JobId),
    #[error("job {0} is already {1}; it can no longer be cancelled")]
    JobFinal(JobId, JobStatus),
    #[error("job {0} is {1}; only a finished job can be deleted (cancel it first)")]
    JobNotFinal(JobId, JobStatus),
    #[error("job {0} is {1}; only a failed, timed_out or cancelled job can be retried")]
    NotRetryable(JobId, JobStatus),
    #[error("job {0} named in depends_on does not exist")]
    UnknownDependency(JobId),
    #[error("source_job {0} does not exist")]
    UnknownSource(JobId),
    #[error("{0}")]
    InvalidSource(String),
    #[error("job {0} has no saved file named `{1}`")]
    FileNotFound(JobId, String),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("missing or unknown API key (send `Authorization: Bearer <key>`)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidHeader(String),
    #[error("the Idempotency-Key was already used with a different request (job {0})")]
    IdempotencyKeyReused(JobId),
    #[error("{queued} jobs are queued, the limit is {limit}; try again later")]
    QueueFull { queued: u64, limit: u64 },
    #[error("this API key has {queued} jobs queued, its limit is {limit}; try again later")]
    TenantQueueFull { queued: u64, limit: u64 },
    #[error("{}", rate_limited(*.rate, *.retry_after))]
    RateLimited {
        rate: crate::runtime::Rate,
        retry_after: Option<std::time::Duration>,
    },
    #[error("this API key has {0} event streams open, its limit; close one first")]
    TooManyStreams(usize),
    #[error(
        "the lease is no longer this job's (it expired and the job was claimed again, or the job ended)"
    )]
    StaleLease,
    #[error("the job's deadline passed before this answer came; it is timed out")]
    DeadlinePassed,
    #[error("too many requests in progress; try again later")]
    Overloaded,
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    #[error("the job store is unreachable; try again later")]
    StoreUnavailable(#[source] StoreError),
    #[error(
        "the job store has no room to write (its disk is full); nothing was stored, try again later"
    )]
    StorageFull(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UnknownDependency(id) => Self::UnknownDependency(id),
            err if err.is_storage_full() => Self::StorageFull(err),
            err if err.is_unavailable() => Self::StoreUnavailable(err),
            err => Self::Internal(Box::new(err)),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::QueueFull { queued, limit } => Self::QueueFull { queued, limit },
            SubmitError::TenantQueueFull { queued, limit } => {
                Self::TenantQueueFull { queued, limit }
            }
            SubmitError::RateLimited { rate, retry_after } => {
                Self::RateLimited { rate, retry_after }
            }
            SubmitError::Store(err) => err.into(),
        }
    }
}

impl From<WorkerError> for ApiError {
    fn from(err: WorkerError) -> Self {
        match err {
            WorkerError::NotAWorkerKind(kind) => Self::Spec(SpecError {
                code: crate::job::SpecErrorCode::InvalidField,
                field: Some("kinds".into()),
                message: format!("`{kind}` is not a worker kind of this server"),
            }),
            WorkerError::StaleLease => Self::StaleLease,
            WorkerError::DeadlinePassed => Self::DeadlinePassed,
            WorkerError::Store(err) => err.into(),
        }
    }
}

impl ApiError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::BadBody(_) => "bad_body",
            Self::Spec(e) => e.code.as_str(),
            Self::InvalidId(_) => "invalid_id",
            Self::InvalidQuery { .. } => "invalid_query",
            Self::JobNotFound(_) => "job_not_found",
            Self::JobFinal(..) => "job_final",
            Self::JobNotFinal(..) => "job_not_final",
            Self::NotRetryable(..) => "not_retryable",
            Self::UnknownDependency(_) => "unknown_dependency",
            Self::UnknownSource(_) => "unknown_source",
            Self::InvalidSource(_) => "invalid_source",
            Self::FileNotFound(..) => "file_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unavailable(_) => "unavailable",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::InvalidHeader(_) => "invalid_header",
            Self::IdempotencyKeyReused(_) => "idempotency_key_reused",
            Self::QueueFull { .. } | Self::TenantQueueFull { .. } => "queue_full",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyStreams(_) => "too_many_streams",
            Self::StaleLease => "stale_lease",
            Self::DeadlinePassed => "deadline_passed",
            Self::Overloaded => "overloaded",
            Self::Timeout(_) => "timeout",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::StorageFull(_) => "storage_full",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::InvalidId(_) | Self::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Spec(_) | Self::UnknownDependency(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnknownSource(_) | Self::InvalidSource(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::JobNotFound(_) | Self::NotFound | Self::FileNotFound(..) => StatusCode::NOT_FOUND,
            Self::JobFinal(..) | Self::JobNotFinal(..) | Self::NotRetryable(..) => {
                StatusCode::CONFLICT
            }
            Self::StaleLease | Self::DeadlinePassed => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable(_)
            | Self::Overloaded
            | Self::Timeout(_)
            | Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidHeader(_) => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::QueueFull { .. } | Self::TenantQueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RateLimited { .. } | Self::TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Spec(e) => e.field.clone(),
            Self::InvalidQuery { field, .. } => field.clone(),
            Self::InvalidId(_) => Some("id".into()),
            Self::UnknownDependency(_) => Some("depends_on".into()),
            Self::UnknownSource(_) | Self::InvalidSource(_) => Some("params.source_job".into()),
            Self::IdempotencyKeyReused(_) => Some("Idempotency-Key".into()),
            Self::StaleLease => Some("lease".into()),
            _ => None,
        }
    }

    /// Seconds a client should wait before trying again, for the errors that pass.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Self::QueueFull { .. } | Self::TenantQueueFull { .. } => Some(1),
            Self::Overloaded | Self::Timeout(_) => Some(1),
            // Rounded up: a client that waits that long passes.
            Self::RateLimited { retry_after, .. } => retry_after.map(|wait| {
                u32::try_from(wait.as_millis().div_ceil(1000))
                    .unwrap_or(u32::MAX)
                    .max(1)
            }),
            Self::TooManyStreams(_) => Some(5),
            Self::StoreUnavailable(_) | Self::Unavailable(_) | Self::StorageFull(_) => Some(5),
            _ => None,
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let code = self.code();
        Problem {
            type_: format!("urn:faena:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.to_string(),
            field: self.field(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed with an internal error");
            }
            Self::StoreUnavailable(cause) => {
                tracing::warn!(error = ?cause, "request refused: the job store is unreachable");
            }
            _ => {}
        }
        let mut response = problem_response(self.status(), &self.problem());
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, Self::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"faena\""),
            );
        }
        response
    }
}

/// Renders a problem document with its content type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let mut response = (status, axum::Json(problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a refusal for the tenant's rate tells the client.
fn rate_limited(rate: crate::runtime::Rate, retry_after: Option<std::time::Duration>) -> String {
    let window = rate.per.as_millis();
    match retry_after {
        Some(_) => format!(
            "this API key may submit {} jobs per {window} ms; try again after Retry-After",
            rate.n
        ),
        None => format!(
            "this API key may submit {} jobs per {window} ms: a batch larger than that never passes",
            rate.n
        ),
    }
}
