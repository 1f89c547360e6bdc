//! `GET /limits`: the kinds this server accepts and the bounds its validation applies, so
//! that a form (the dashboard's) can check what the API would refuse before sending it.
//! Each kind's own bounds come from the kind ([`crate::kind::Kind::limits`]).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::responses::Unauthorized;
use crate::job::{JobKind, Limits};
use crate::kind::Registry;

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
}

impl LimitsView {
    pub fn new(l: &Limits, kinds: &Registry) -> Self {
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
        Unauthorized,
    )
)]
pub async fn limits(State(state): State<AppState>) -> Json<LimitsView> {
    Json(LimitsView::new(&state.limits, state.runtime.kinds()))
}
