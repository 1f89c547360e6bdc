//! Requests that would hold a connection's memory or a handler for long: a head still
//! unfinished past the connection's buffer (64 KiB) gets 431 at once, and a body that trickles in is cut off by the
//! request's deadline (`503 timeout`), while other clients are served throughout.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// Reads what the server sends on `conn` until it closes it or `limit` passes: the text.
async fn answer(conn: &mut TcpStream, limit: Duration) -> String {
    let mut all = Vec::new();
    let mut buf = [0_u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                all.extend_from_slice(&buf[..n]);
                if all.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_head_past_the_buffer_gets_431() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    // 100 KiB of a head that never ends: hyper's default buffer held ~400 KB of it per
    // connection. (A whole head read at once is parsed before the check: hyper#4081.)
    let long = "a".repeat(100 * 1024);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: {long}");
    // The server may answer and close before it has read it all.
    let _ = conn.write_all(head.as_bytes()).await;
    let answer = answer(&mut conn, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    // A head of a usual size still passes.
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-long", "a".repeat(8 * 1024));
    assert_eq!(resp.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_off_by_the_request_deadline() {
    let Some(app) = TestApp::spawn_with(|c| c.request_timeout_ms = 1_000).await else {
        return;
    };
    let mut conn = TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"kind\": ";
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // Meanwhile another client is served.
    let body = json!({"kind": "sleep", "params": {"ms": 0}});
    assert_eq!(app.submit(&body).await.status(), StatusCode::ACCEPTED);
    let answer = answer(&mut conn, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("retry-after"), "{answer:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
}
