//! Slow and greedy clients against the real binary (loopback only): thousands of connections
//! that send half a request header are all closed within the header read timeout; the caps
//! on open connections (per client address and in all) hold, past them a new connection is
//! closed at once; and a client from another address keeps submitting throughout. An idle
//! kept-alive connection is closed after the same timeout.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;
use support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEADER_TIMEOUT_MS: u64 = 8_000;
/// How late past its own timeout a stalled connection may be closed (a loaded machine).
const SLACK: Duration = Duration::from_secs(4);
const STALLED: usize = 2_000;

/// A connection to `server` from the loopback address `from` (127.0.0.x).
async fn connect(server: &Server, from: u8) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)), 0);
    socket.bind(local).unwrap();
    socket.connect(server.addr).await.unwrap()
}

/// Waits until the server closes `conn` (EOF or reset); how long that took, or None if it
/// stayed open for `limit`.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0_u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {} // an answer (408, say): read on until the close
        }
    }
}

async fn submit_from(server: &Server, from: u8) -> u16 {
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)))
        .build()
        .unwrap();
    let resp = client
        .post(server.url("/jobs"))
        .json(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// Raises this process's soft limit of open files (the server it starts inherits it) to
/// `want`, within the hard limit; false if that is not enough.
fn enough_files(want: u64) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid resource and a pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return false;
        }
        if limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    limit.rlim_cur >= want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_the_caps_hold_while_others_are_served() {
    if !enough_files(2 * STALLED as u64 + 512) {
        eprintln!(
            "SKIPPED: the hard limit of open files is below {}",
            2 * STALLED + 512
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let per_ip = STALLED.to_string();
    let server = Server::start(
        &url,
        &[
            "--header-read-timeout-ms",
            &HEADER_TIMEOUT_MS.to_string(),
            "--max-connections-per-ip",
            &per_ip,
            "--max-connections",
            &(STALLED + 50).to_string(),
        ],
    );

    // 2,000 connections from 127.0.0.1, each with half a request header.
    let opened = Instant::now();
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let at = Instant::now();
        let mut conn = connect(&server, 1).await;
        conn.write_all(b"POST /jobs HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stalled.push((at, conn));
    }
    // One more from that address is past its cap: closed at once, well before the timeout.
    let mut over = connect(&server, 1).await;
    let refused = closed_within(&mut over, Duration::from_millis(HEADER_TIMEOUT_MS / 2)).await;
    assert!(
        refused.is_some(),
        "a connection past the per-address cap was kept"
    );

    // Another address still gets in and is served, while the 2,000 hold their places.
    for _ in 0..20 {
        assert_eq!(submit_from(&server, 2).await, 202);
    }
    assert!(
        opened.elapsed() < Duration::from_millis(HEADER_TIMEOUT_MS),
        "the test was too slow to check the caps before the timeout ({:?})",
        opened.elapsed()
    );

    // Every stalled connection is closed by the header read timeout, each counted from its
    // own opening (within SLACK of it).
    let limit = Duration::from_millis(HEADER_TIMEOUT_MS) + SLACK;
    let mut late = 0;
    for (at, conn) in &mut stalled {
        let left = limit.saturating_sub(at.elapsed()) + Duration::from_millis(1);
        if closed_within(conn, left).await.is_none() {
            late += 1;
        }
    }
    assert_eq!(
        late, 0,
        "{late} stalled connections still open {limit:?} after they opened"
    );

    // The places came back: a whole new request from 127.0.0.1 is served.
    assert_eq!(submit_from(&server, 1).await, 202);
    let refused_total = support::metric(
        &reqwest::Client::new(),
        &server,
        "faena_connections_refused_total",
    )
    .await;
    assert!(refused_total >= 1.0, "{refused_total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cap_holds_for_every_address() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start(
        &url,
        &[
            "--max-connections",
            "50",
            "--header-read-timeout-ms",
            "60000",
        ],
    );
    let mut held = Vec::new();
    for i in 0..50 {
        // From 25 addresses, two each: no address is near its own cap.
        held.push(connect(&server, 10 + (i % 25) as u8).await);
    }
    // The server admits in accept order: once the 50 are in, the next one is closed at once.
    let mut over = connect(&server, 100).await;
    assert!(
        closed_within(&mut over, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection past --max-connections was kept"
    );
    // One of the 50 closes: its place is free again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut conn = connect(&server, 101).await;
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // the close is seen by the server shortly
    }
    assert!(served, "the place of a closed connection did not come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start(&url, &["--header-read-timeout-ms", "1000"]);
    let mut conn = connect(&server, 1).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0_u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Kept alive, then nothing: closed after about the timeout, not at once and not never.
    let took = closed_within(&mut conn, Duration::from_secs(10))
        .await
        .expect("an idle kept-alive connection stayed open");
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");
}
