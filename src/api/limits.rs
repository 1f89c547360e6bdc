//! `GET /limits`: the kinds this server accepts and the bounds its validation applies, so
//! that a form (the dashboard's) can check what the API would refuse before sending it, and
//! the limits in force on running and queueing: each kind's concurrency (all instances), the
//! queue cap, and what one API key may use. Each kind's own bounds come from the kind
//! ([`crate::kind::Kind::limits`]).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::responses::Unauthorized;
use crate::job::{JobKind, Limits};
use crate::kind::Registry;
use crate::runtime::RuntimeConfig;

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
    /// The bounds of each accepted kind's parameters, by kind (`GET /kinds` has them in the
    /// kinds' JSON Schemas too).
    #[schema(value_type = BTreeMap<String, Object>)]
    pub kind_limits: BTreeMap<JobKind, serde_json::Value>,
    /// Most jobs of a kind running at once, all instances (`--kind-concurrency`), for the
    /// kinds that have such a limit.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub kind_concurrency: BTreeMap<JobKind, usize>,
    /// Most jobs queued, all instances (`--max-queued-jobs`; 0: none).
    pub max_queued_jobs: u64,
    /// What one API key may use.
    pub tenant: TenantLimitsView,
}

/// What one API key may use (0 or null: no limit).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantLimitsView {
    /// Jobs queued, all instances (`--tenant-max-queued`).
    pub max_queued: u64,
    /// Submissions on this instance, `N/DURATION` as given (`--tenant-rate`).
    pub rate: Option<String>,
    /// Event streams open on this instance (`--tenant-max-streams`).
    pub max_streams: usize,
}

impl LimitsView {
    pub fn new(l: &Limits, kinds: &Registry, run: &RuntimeConfig) -> Self {
        Self {
            kinds: kinds.enabled_names(),
            default_timeout_ms: l.default_timeout_ms,
            max_timeout_ms: l.max_timeout_ms,
            default_priority: l.default_priority,
            min_priority: crate::job::MIN_PRIORITY,
            max_priority: crate::job::MAX_PRIORITY,
            default_max_attempts: l.default_max_attempts,
            max_max_attempts: crate::job::MAX_ATTEMPTS,
            max_dependencies: crate::job::MAX_DEPENDENCIES,
            kind_limits: kinds.enabled().map(|k| (k.name(), k.limits())).collect(),
            kind_concurrency: (run.kind_concurrency.iter())
                .map(|(&k, &n)| (k, n))
                .collect(),
            max_queued_jobs: run.max_queued,
            tenant: TenantLimitsView {
                max_queued: run.tenants.max_queued,
                rate: run.tenants.rate.map(|r| r.to_string()),
                max_streams: run.tenants.max_streams,
            },
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
        (status = 200, description = "Enabled kinds, validation bounds, and the limits in force", body = LimitsView),
        Unauthorized,
    )
)]
pub async fn limits(State(state): State<AppState>) -> Json<LimitsView> {
    let run = state.runtime.config();
    Json(LimitsView::new(&state.limits, state.runtime.kinds(), run))
}
