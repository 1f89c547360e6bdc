//! The HTTP API: one module per resource, each with its own router, merged here with the
//! layers every route shares (request ids, tracing, metrics, body limit, panics as problems).
//!
//! Health checks answer without a key and outside the request guard; `/metrics` needs a key
//! when keys are set but skips the guard (a scrape must work when the server is overloaded);
//! everything else goes through both.

pub mod auth;
pub mod batch;
pub mod error;
pub mod events;
pub mod extract;
mod files;
pub mod guard;
mod health;
mod idempotency;
pub mod jobs;
pub mod kinds;
pub mod limits;
mod metrics;
pub mod openapi;
pub mod request_id;
mod responses;
pub mod retry;
pub mod stats;
mod submission;
mod trace;
mod ui;
pub mod workers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::job::{Job, JobKind, Limits, SpecError, Submission, SubmitRequest};
use crate::runtime::Runtime;
use error::ApiError;
use extract::BodyLimit;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Runtime,
    pub limits: Arc<Limits>,
    /// Most jobs queued (waiting included) before submissions get 429; 0 for no cap.
    pub max_queued: u64,
    /// The last answers of `GET /stats`.
    pub stats: Arc<stats::StatsCache>,
}

/// The HTTP-level limits and the API keys.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub max_body_bytes: usize,
    /// Requests in progress at once (health checks aside); more get 503 `overloaded`.
    pub max_in_flight: usize,
    /// Deadline of a request (plus its `wait_ms`); past it, 503 `timeout`.
    pub request_timeout: std::time::Duration,
    pub keys: auth::ApiKeys,
}

impl AppState {
    /// Checks a submission against the kinds and limits of this server.
    fn check(&self, req: SubmitRequest) -> Result<Submission, SpecError> {
        self.runtime.kinds().submission(req, &self.limits)
    }

    /// The kind a query's `kind` names: one this server knows (400 `invalid_query` else).
    fn kind_filter(&self, kind: Option<String>) -> Result<Option<JobKind>, ApiError> {
        let Some(name) = kind else {
            return Ok(None);
        };
        let kinds = self.runtime.kinds();
        match kinds.get(&name) {
            Some(kind) => Ok(Some(kind.name())),
            None => Err(ApiError::InvalidQuery {
                field: Some("kind".into()),
                message: format!(
                    "query parameter kind: unknown kind `{}`; known kinds: {}",
                    name.chars().take(64).collect::<String>(),
                    kinds.known().join(", ")
                ),
            }),
        }
    }

    /// The job with its progress as this instance sees it live.
    fn with_live_progress(&self, mut job: Job) -> Job {
        if let Some(p) = self.runtime.live_progress(job.id) {
            job.progress = Some(p);
        }
        job
    }
}

/// The whole API, ready to serve.
pub fn router(state: AppState, options: ApiOptions) -> Router {
    let keys = Arc::new(options.keys);
    let guarded = Router::new()
        .merge(jobs::router())
        .merge(batch::router())
        .merge(retry::router())
        .merge(files::router())
        .merge(events::router())
        .merge(limits::router())
        .merge(kinds::router())
        .merge(stats::router())
        .merge(workers::router())
        .merge(openapi::router(state.runtime.kinds()))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&keys),
            auth::require_key,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(guard::Guard::new(
                options.max_in_flight,
                options.request_timeout,
            )),
            guard::guard,
        ));
    let scrape = metrics::router(state.clone())
        .layer(middleware::from_fn_with_state(keys, auth::require_key));
    Router::new()
        .merge(
            health::router()
                .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
                .with_state(state),
        )
        .merge(ui::router())
        .merge(scrape)
        .merge(guarded)
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(axum::Extension(BodyLimit(options.max_body_bytes)))
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        // Outside the panic catcher, so that a panic counts as the 500 it answers; layers of
        // the router still see the matched route.
        .layer(middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = request_id::of(req);
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                // Not one line per 5xx: a 500 logs its cause where it is made (`ApiError`), and
                // a 503 or 507 is a state logged where it begins and ends (an outage, a full
                // disk), not per request.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(middleware::from_fn(request_id::assign))
}

fn panic_response() -> Response {
    let err = ApiError::Internal("a request handler panicked".into());
    err.into_response()
}
