//! A local page server for the `fetch_urls` benchmark: `GET /page/{i}` answers after a delay
//! with a deterministic text page of a given size (words from a fixed vocabulary, some of
//! them non-ASCII, lines of about 80 bytes), the same bytes for the same `i` every time.
//!
//! ```text
//! cargo run --release --example pages -- --listen 127.0.0.1:18091 --delay-ms 50 --bytes 20000
//! ```
//!
//! Pages are made once and kept (the first `--cache` of them), so that serving costs the
//! server little CPU beside the client measured. It binds only the address given (use
//! loopback) and prints `listening on http://ADDR`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Parser;

#[path = "support/corpus.rs"]
mod corpus;

use corpus::page;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18091")]
    listen: SocketAddr,
    /// Delay before each answer.
    #[arg(long, default_value_t = 50)]
    delay_ms: u64,
    /// Size of each page in bytes.
    #[arg(long, default_value_t = 20_000)]
    bytes: usize,
    /// Pages kept once made (`/page/0` .. `/page/{cache - 1}`).
    #[arg(long, default_value_t = 10_000)]
    cache: usize,
}

#[derive(Clone)]
struct Server {
    args: Args,
    cache: Arc<Vec<OnceLock<axum::body::Bytes>>>,
}

async fn serve_page(State(server): State<Server>, Path(i): Path<u64>) -> impl IntoResponse {
    tokio::time::sleep(Duration::from_millis(server.args.delay_ms)).await;
    let bytes = server.args.bytes;
    let body = match server.cache.get(i as usize) {
        Some(slot) => slot.get_or_init(|| page(i, bytes).into()).clone(),
        None => page(i, bytes).into(),
    };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let cache = Arc::new((0..args.cache).map(|_| OnceLock::new()).collect());
    let app = Router::new()
        .route("/page/{i}", get(serve_page))
        .with_state(Server { args, cache });
    axum::serve(listener, app).await
}
