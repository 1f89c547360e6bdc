//! `GET /limits`: the kinds this server accepts and the bounds its validation applies, so
//! that a form (the dashboard's) can check what the API would refuse before sending it.

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::job::{JobKind, Limits};

/// What a submission may ask for on this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    /// The kinds accepted (`--kinds`).
    pub kinds: Vec<JobKind>,
    pub default_timeout_ms: u64,
    pub max_timeout_ms: u64,
    pub default_priority: i32,
    pub min_priority: i32,
    pub max_priority: i32,
    pub default_max_attempts: u32,
    pub max_max_attempts: u32,
    /// Most jobs one job may depend on.
    pub max_dependencies: usize,
    /// Largest `end` of `count_primes` (exclusive).
    pub max_primes_end: u64,
    /// Largest n of `factorial`.
    pub max_factorial_n: u64,
    /// Most numbers in one `factorial` job.
    pub max_factorial_numbers: usize,
    /// Longest `sleep`, in ms.
    pub max_sleep_ms: u64,
    /// Most URLs in one `fetch_urls` job.
    pub max_fetch_urls: usize,
    /// Largest `concurrency` of one `fetch_urls` job.
    pub max_fetch_concurrency: u32,
}

impl From<&Limits> for LimitsView {
    fn from(l: &Limits) -> Self {
        Self {
            kinds: l.kinds.clone(),
            default_timeout_ms: l.default_timeout_ms,
            max_timeout_ms: l.max_timeout_ms,
            default_priority: l.default_priority,
            min_priority: crate::job::MIN_PRIORITY,
            max_priority: crate::job::MAX_PRIORITY,
            default_max_attempts: l.default_max_attempts,
            max_max_attempts: crate::job::MAX_ATTEMPTS,
            max_dependencies: crate::job::MAX_DEPENDENCIES,
            max_primes_end: l.max_primes_end,
            max_factorial_n: l.max_factorial_n,
            max_factorial_numbers: l.max_factorial_numbers,
            max_sleep_ms: l.max_sleep_ms,
            max_fetch_urls: l.max_fetch_urls,
            max_fetch_concurrency: l.max_fetch_concurrency,
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/limits", get(limits))
}

/// The kinds and bounds this server accepts.
#[utoipa::path(
    get, path = "/limits", tag = "jobs",
    responses(
        (status = 200, description = "Enabled kinds and validation bounds", body = LimitsView),
        (status = 401, description = "API keys are configured and none or an unknown one was sent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn limits(State(state): State<AppState>) -> Json<LimitsView> {
    Json(LimitsView::from(&*state.limits))
}

#[allow(unused_imports)]
use super::error::Problem;
