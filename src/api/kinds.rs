//! `GET /kinds`: the kinds this server runs, each with its class, what it does and the JSON
//! Schemas of its parameters (with the bounds this server applies) and of its result, all
//! from the kind registry. The dashboard builds its submit form from them.

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::responses::Unauthorized;
use crate::job::{JobClass, JobKind};
use crate::kind::KindEntry;

/// The kinds this server runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindList {
    pub kinds: Vec<KindView>,
}

/// One kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindView {
    pub name: JobKind,
    /// `cpu`: runs on the CPU pool; `io`: on the async runtime.
    pub class: JobClass,
    /// What a job of this kind does.
    pub summary: String,
    /// The JSON Schema of `params`, with this server's bounds.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The JSON Schema of the `result` of a job that succeeded.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

impl From<&KindEntry> for KindView {
    fn from(k: &KindEntry) -> Self {
        Self {
            name: k.name(),
            class: k.class(),
            summary: k.summary().to_owned(),
            params: k.params_schema(),
            result: k.output_schema(),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/kinds", get(kinds))
}

/// The kinds this server runs, with the schemas of their parameters and results.
#[utoipa::path(
    get, path = "/kinds", tag = "jobs",
    responses(
        (status = 200, description = "Enabled kinds, in the order they were registered", body = KindList),
        Unauthorized,
    )
)]
pub async fn kinds(State(state): State<AppState>) -> Json<KindList> {
    let kinds = state
        .runtime
        .kinds()
        .enabled()
        .map(KindView::from)
        .collect();
    Json(KindList { kinds })
}
