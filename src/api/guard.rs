//! Load shedding for the API routes: a cap on requests in progress and a deadline per
//! request, so that a flood of requests turns into fast `503 overloaded` / `503 timeout`
//! answers instead of unbounded memory and latency.
//!
//! Requests over the cap are refused at once rather than queued (a queue in front of a
//! saturated server only adds latency). The deadline of a long-poll is its `wait_ms` plus
//! the request timeout. The health checks are outside the guard: an overloaded instance is
//! still alive.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::jobs::MAX_WAIT_MS;

/// The limits of the guard.
#[derive(Debug)]
pub struct Guard {
    slots: Arc<Semaphore>,
    timeout: Duration,
}

impl Guard {
    pub fn new(max_in_flight: usize, timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
            timeout,
        }
    }
}

/// The `wait_ms` of a query string (capped like the handlers cap it), or 0.
fn wait_ms(query: Option<&str>) -> u64 {
    query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == "wait_ms")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map_or(0, |ms| ms.min(MAX_WAIT_MS))
}

pub async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let Ok(_permit) = Arc::clone(&guard.slots).try_acquire_owned() else {
        return ApiError::Overloaded.into_response();
    };
    // A worker's claim long-polls by the `wait_ms` of its body, at most MAX_WAIT_MS.
    let waits = match req.uri().path() {
        "/workers/claim" => MAX_WAIT_MS,
        _ => wait_ms(req.uri().query()),
    };
    let limit = guard.timeout + Duration::from_millis(waits);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_millis() as u64).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::{Guard, guard, wait_ms};

    /// A route that takes `ms` to answer, behind a guard with a 50 ms deadline.
    fn slow_app() -> Router {
        Router::new()
            .route(
                "/slow/{ms}",
                get(
                    |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        "done"
                    },
                ),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(Guard::new(8, Duration::from_millis(50))),
                guard,
            ))
    }

    async fn status(uri: &str) -> (StatusCode, Option<String>) {
        let resp = slow_app()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (resp.status(), retry)
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_gets_503_timeout() {
        assert_eq!(status("/slow/0").await.0, StatusCode::OK);
        assert_eq!(
            status("/slow/400").await,
            (StatusCode::SERVICE_UNAVAILABLE, Some("1".into()))
        );
        // A long-poll's wait_ms extends its deadline.
        assert_eq!(status("/slow/400?wait_ms=1000").await.0, StatusCode::OK);
    }

    #[test]
    fn the_wait_of_a_long_poll_extends_its_deadline() {
        assert_eq!(wait_ms(None), 0);
        assert_eq!(wait_ms(Some("wait_ms=2500")), 2500);
        assert_eq!(wait_ms(Some("status=queued&wait_ms=10")), 10);
        assert_eq!(wait_ms(Some("wait_ms=999999999")), 60_000);
        assert_eq!(wait_ms(Some("wait_ms=-1")), 0);
    }
}
