//! `GET /metrics` (Prometheus text format) and the middleware that counts and times every
//! HTTP request by matched route and status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Mutex;

use super::AppState;
use crate::telemetry::metrics::{self, Gauges};

/// How long a scrape waits for the store's count of queued jobs before it shows this
/// instance's own estimate instead.
const COUNT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a count of queued jobs serves later scrapes: a flood of scrapes (the route is
/// outside the request guard) costs at most one `count(*)` a second.
const COUNT_FRESH: Duration = Duration::from_secs(1);

/// The app's state and the last count of queued jobs.
#[derive(Clone)]
struct Scrapes {
    app: AppState,
    last: Arc<Mutex<Option<(Instant, u64)>>>,
}

pub fn router(app: AppState) -> Router {
    let state = Scrapes {
        app,
        last: Arc::default(),
    };
    Router::new()
        .route("/metrics", get(scrape))
        .method_not_allowed_fallback(|| async { super::error::ApiError::MethodNotAllowed })
        .with_state(state)
}

/// Prometheus metrics of this instance (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format", body = String,
            content_type = "text/plain; version=0.0.4"),
        super::responses::Unauthorized,
    ))]
async fn scrape(State(state): State<Scrapes>) -> Response {
    let queued = queued(&state).await;
    let (running_cpu, running_io) = state.app.runtime.running();
    let body = metrics::render(&Gauges {
        queued,
        running_cpu,
        running_io,
        event_streams: state.app.runtime.events().streams(),
        storage_full: state.app.runtime.store().storage_full(),
        storage_refusals: state.app.runtime.store().storage_refusals(),
    });
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The store's count of queued jobs, at most [`COUNT_FRESH`] old; one count at a time (the
/// others wait for it). When the store is slow or down, this instance's admission estimate.
async fn queued(state: &Scrapes) -> u64 {
    let mut last = state.last.lock().await;
    if let Some((at, n)) = *last
        && at.elapsed() < COUNT_FRESH
    {
        return n;
    }
    let store = state.app.runtime.store();
    match tokio::time::timeout(COUNT_TIMEOUT, store.count_queued()).await {
        Ok(Ok(n)) => {
            *last = Some((Instant::now(), n));
            n
        }
        _ => state.app.runtime.queued(),
    }
}

/// Counts and times the request under its matched route (`/jobs/{id}`, never the raw path);
/// requests no route matched count as `unmatched`.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    metrics::http_request(method, route, resp.status().as_u16(), start.elapsed());
    resp
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
