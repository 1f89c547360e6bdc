//! `/healthz` (the process is alive) and `/readyz` (it can serve: the store answers, has room
//! to write, and the server is not shutting down).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: answers while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store answers and has room to write, and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    if state.runtime.stopping().is_cancelled() {
        return Err(ApiError::Unavailable("shutting down"));
    }
    if state.runtime.store().storage_full() {
        // Logged by the store when it began; it tries again every second.
        return Err(ApiError::Unavailable(
            "the job store has no room to write (its disk is full)",
        ));
    }
    state.runtime.store().ping().await.map_err(|err| {
        tracing::warn!(error = ?err, "readiness check: store unreachable");
        ApiError::Unavailable("the job store does not answer")
    })?;
    Ok(Json(Health { status: "ready" }))
}
