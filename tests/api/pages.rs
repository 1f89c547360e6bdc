//! [`PageServer`]: a web server for the `fetch_urls` tests, on 127.0.0.1 and a free port. It
//! serves pages of any size (random bytes, so not UTF-8), slow pages, error statuses,
//! redirect chains, loops and redirects elsewhere or nowhere, bodies with and without
//! `Content-Length` or broken off, and requests held until the test releases them, or forever.
//!
//! It records every request it starts and counts those in flight: a guard dropped with the
//! handler's future notices a client that went away (the server drops the future when the
//! connection closes). Tests await conditions on these counts ([`PageServer::wait_for`])
//! instead of sleeping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Content type of `/page/{n}` and `/hold/{n}`.
pub const PAGE_TYPE: &str = "application/x-faena-test-page";
/// Content type of `/text`.
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";
/// Body of `/text`: 2-, 3- and 4-byte UTF-8 sequences, so that bytes and characters differ.
pub const TEXT: &str = "Grüße, 世界! 🦀 ñandú\n";
/// Body of `/bare`, served without a content type.
pub const BARE: &[u8] = b"no content type here";
/// Size of the pages served by `/hold/{n}` and at the end of `/redirect/{k}`.
pub const SMALL: usize = 64;
/// The page at the end of every `/redirect/{k}` chain.
pub const CHAIN_END: &str = "/page/1000?bytes=64";

/// What the server has seen so far.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Path and query of every request started, in order of arrival.
    pub paths: Vec<String>,
    /// Requests started whose handler has neither answered nor been dropped.
    pub in_flight: usize,
    /// Most requests ever in flight at once.
    pub max_in_flight: usize,
}

impl Seen {
    pub fn started(&self) -> usize {
        self.paths.len()
    }
}

/// What every handler reaches.
struct Shared {
    addr: SocketAddr,
    seen: watch::Sender<Seen>,
    /// One permit lets one `/hold/{n}` request answer.
    gate: Semaphore,
    /// Requests seen per `/flaky/...` path.
    hits: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// A running page server. Dropping it stops accepting connections.
pub struct PageServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl PageServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            addr,
            seen: watch::Sender::new(Seen::default()),
            gate: Semaphore::new(0),
            hits: Default::default(),
        });
        let app = Router::new()
            .route("/page/{n}", get(page))
            .route("/stream/{n}", get(stream))
            .route("/text", get(text))
            .route("/bare", get(bare))
            .route("/status/{code}", get(status))
            .route("/redirect/{k}", get(redirect))
            .route("/loop/{side}", get(redirect_loop))
            .route("/to-ftp", get(to_ftp))
            .route("/to-127", get(to_127))
            .route("/redirect-nowhere", get(|| async { StatusCode::FOUND }))
            .route("/redirect-bad", get(redirect_bad))
            .route("/broken/{n}", get(broken))
            .route("/hold/{n}", get(hold))
            .route("/never/{n}", get(never))
            .route("/flaky/{k}/{tag}", get(flaky))
            .layer(middleware::from_fn_with_state(shared.clone(), count))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the page server runs");
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Lets `n` held requests (`/hold/{n}`), present or future, answer.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Waits until what the server has seen satisfies `cond`; fails the test after `within`.
    pub async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        cond: impl FnMut(&Seen) -> bool,
    ) -> Seen {
        let mut seen = self.shared.seen.subscribe();
        match tokio::time::timeout(within, seen.wait_for(cond)).await {
            Ok(Ok(now)) => now.clone(),
            _ => panic!(
                "waited {within:?} for {what}; the page server saw {:?}",
                *self.shared.seen.borrow()
            ),
        }
    }

    /// What the server has seen so far (a copy).
    pub fn seen(&self) -> Seen {
        self.shared.seen.borrow().clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `len` pseudo-random bytes, the same for the same `seed` (xorshift64).
pub fn page_body(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    };
    (0..len).map(|_| next()).collect()
}

/// Records the request and counts it in flight until its future ends or is dropped.
async fn count(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path_and_query().map_or("", |p| p.as_str());
    shared.seen.send_modify(|s| {
        s.paths.push(path.to_owned());
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
    });
    let _in_flight = InFlight(shared.clone());
    next.run(req).await
}

/// One request in flight; dropping it (answered, or abandoned by the client) uncounts it.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.seen.send_modify(|s| s.in_flight -= 1);
    }
}

#[derive(Deserialize)]
struct Size {
    bytes: Option<usize>,
    delay_ms: Option<u64>,
}

/// `page_body(n, bytes)` (default 1,000 bytes), with `Content-Length`, after `delay_ms`.
async fn page(Path(n): Path<u64>, Query(q): Query<Size>) -> Response {
    if let Some(ms) = q.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let body = page_body(n, q.bytes.unwrap_or(1000));
    ([(header::CONTENT_TYPE, PAGE_TYPE)], body).into_response()
}

/// `page_body(n, bytes)` streamed in chunks of 100 bytes: chunked, no `Content-Length`.
async fn stream(Path(n): Path<u64>, Query(q): Query<Size>) -> Response {
    let body = page_body(n, q.bytes.unwrap_or(1000));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(100).map(|c| Ok(c.to_vec())).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, PAGE_TYPE)], body).into_response()
}

async fn text() -> Response {
    ([(header::CONTENT_TYPE, TEXT_TYPE)], TEXT).into_response()
}

async fn bare() -> Response {
    Response::new(Body::from(BARE))
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).expect("a status code");
    (code, format!("status {code}")).into_response()
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `/redirect/k` → `/redirect/{k-1}` → … → `/redirect/1` → [`CHAIN_END`]: k redirects (k ≥ 1).
async fn redirect(Path(k): Path<u32>) -> Response {
    match k {
        0 | 1 => found(CHAIN_END),
        k => found(&format!("/redirect/{}", k - 1)),
    }
}

/// `/loop/a` ↔ `/loop/b`.
async fn redirect_loop(Path(side): Path<String>) -> Response {
    let other = if side == "a" { "b" } else { "a" };
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, format!("/loop/{other}"))],
    )
        .into_response()
}

async fn to_ftp(State(shared): State<Arc<Shared>>) -> Response {
    found(&format!("ftp://127.0.0.1:{}/file", shared.addr.port()))
}

/// A redirect to the IP literal 127.0.0.1 (for a client that came through `localhost`).
async fn to_127(State(shared): State<Arc<Shared>>) -> Response {
    found(&format!("http://127.0.0.1:{}/page/127", shared.addr.port()))
}

/// A redirect whose location is no URL (the port is out of range).
async fn redirect_bad() -> Response {
    found("http://127.0.0.1:99999/")
}

/// `page_body(n, 500)`, then the body breaks off: the chunked encoding never ends.
async fn broken(Path(n): Path<u64>) -> Response {
    let first = futures_util::stream::iter([Ok(page_body(n, 500))]);
    let then = futures_util::stream::once(async {
        // Pending once: the server sends the head and the first chunk before the break.
        tokio::task::yield_now().await;
        Err(std::io::Error::other("broken off"))
    });
    let body = Body::from_stream(first.chain(then));
    ([(header::CONTENT_TYPE, PAGE_TYPE)], body).into_response()
}

/// Waits for a permit from [`PageServer::release`], then answers a small page.
async fn hold(State(shared): State<Arc<Shared>>, Path(n): Path<u64>) -> Response {
    shared.gate.acquire().await.expect("the gate").forget();
    ([(header::CONTENT_TYPE, PAGE_TYPE)], page_body(n, SMALL)).into_response()
}

/// Never answers.
async fn never() -> Response {
    std::future::pending().await
}

/// `/flaky/{k}/{tag}`: 503 for the first `k` requests of this path, then 200 `ok {tag}`.
async fn flaky(State(shared): State<Arc<Shared>>, Path((k, tag)): Path<(u32, String)>) -> Response {
    let hit = {
        let mut hits = shared.hits.lock().unwrap();
        let n = hits.entry(format!("{k}/{tag}")).or_default();
        *n += 1;
        *n
    };
    if hit <= k {
        (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response()
    } else {
        format!("ok {tag}").into_response()
    }
}
