//! The path every new job takes through the API, whichever route made it (`POST /jobs`, an
//! item of `POST /jobs/batch`, `POST /jobs/{id}/retry`): its sources checked and made
//! dependencies ([`prepare`]), then stored through the runtime ([`accept`]), with the errors
//! that can come back in between mapped to problems.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::trace::TraceParent;
use super::{AppState, idempotency};
use crate::job::{Job, Submission};
use crate::runtime::SubmitError;
use crate::store::{NewJob, StoreError};

/// `job` with `Location: /jobs/{id}`.
pub(super) fn with_location(status: StatusCode, job: Job) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/jobs/{}", job.id)) {
        headers.insert(header::LOCATION, v);
    }
    (status, headers, Json(job)).into_response()
}

/// Stores a new job of `caller` (see [`crate::runtime::Runtime::submit`]).
pub(super) async fn accept(
    state: &AppState,
    caller: &Caller,
    mut new: NewJob,
) -> ApiResult<Stored> {
    new.tenant = caller.tenant.clone();
    let sources = new.sources.clone();
    let key = new.idempotency.clone();
    let err = match state.runtime.submit(new).await {
        Ok(job) => {
            let trace_id = job.trace_id();
            tracing::info!(job_id = %job.id, kind = %job.kind, trace_id, "job submitted");
            return Ok(Stored::New(std::sync::Arc::unwrap_or_clone(job)));
        }
        Err(SubmitError::Store(err)) => err,
        Err(err) => return Err(err.into()),
    };
    match err {
        // A source was deleted between its check and the insert.
        StoreError::UnknownDependency(dep) if sources.contains(&dep) => {
            Err(ApiError::UnknownSource(dep))
        }
        // The same key was used by a request that committed first.
        err if err.is_unique_violation() && key.is_some() => {
            let key = key.as_ref().expect("checked");
            idempotency::existing(state, caller, key)
                .await?
                .map(Stored::Earlier)
                .ok_or_else(|| err.into())
        }
        err => Err(err.into()),
    }
}

/// What [`accept`] stored.
pub(super) enum Stored {
    New(Job),
    /// A request with the same idempotency key committed first: its job.
    Earlier(Job),
}

/// The job to insert. A job that reads the files of source jobs (`word_count` over a
/// `fetch_urls` job) checks that each exists and saves files, and depends on it.
pub(super) async fn prepare(
    state: &AppState,
    caller: &Caller,
    trace: &TraceParent,
    submission: Submission,
) -> ApiResult<NewJob> {
    let Submission {
        kind,
        params,
        sources,
        options,
        mut depends_on,
    } = submission;
    for &source in &sources {
        let job = state
            .runtime
            .store()
            .get(source)
            .await?
            .filter(|job| caller.sees(job.tenant.as_deref()))
            .ok_or(ApiError::UnknownSource(source))?;
        let saves = state.runtime.kinds().get(job.kind.as_str());
        if !saves.is_some_and(|k| k.saves_files(&job.params)) {
            return Err(ApiError::InvalidSource(format!(
                "source_job {source} is a {} job that saves no files to read (only a \
                 fetch_urls job with save: true has pages)",
                job.kind
            )));
        }
        if !depends_on.contains(&source) {
            depends_on.push(source);
        }
    }
    // Jobs of other API keys do not exist for this caller.
    if caller.tenant.is_some() {
        for &dep in &depends_on {
            let visible = state.runtime.store().get(dep).await?;
            if !visible.is_some_and(|job| caller.sees(job.tenant.as_deref())) {
                return Err(ApiError::UnknownDependency(dep));
            }
        }
    }
    let mut new = NewJob::new(kind, params, options).depending_on(depends_on);
    new.sources = sources;
    new.traceparent.clone_from(&trace.0);
    Ok(new)
}
