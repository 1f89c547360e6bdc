//! Event streams on the real binary: 200 idle streams cost little memory and each gets the
//! next event; a client that never reads is cut off (by the socket's send timeout) while a
//! client that reads gets every event of a flood, in order.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const STREAMS: usize = 200;

/// Opens `GET /events` on a raw socket and reads its response head.
async fn open_raw(server: &Server, recv_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    let mut tcp = socket.connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nhost: faena\r\naccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let head = read_until(&mut tcp, "\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    tcp
}

/// Reads until `marker` has been seen; what was read.
async fn read_until(tcp: &mut TcpStream, marker: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(30), async {
        while !String::from_utf8_lossy(&got).contains(marker) {
            let n = tcp.read(&mut buf).await.expect("the stream reads");
            assert!(n > 0, "the stream ended before {marker:?}");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {marker:?} within 30 s"));
    String::from_utf8_lossy(&got).into_owned()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_idle_streams_cost_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start(&url, &[]);
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    // Warm up: the first stream and event allocate what every later one shares.
    let mut first = open_raw(&server, None).await;
    let id = support::submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 0}}),
    )
    .await
    .unwrap();
    read_until(&mut first, &id).await;
    let before = server.rss_bytes();
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        streams.push(open_raw(&server, None).await);
    }
    assert_eq!(
        support::metric(&client, &server, "faena_event_streams").await,
        (STREAMS + 1) as f64
    );
    let after = server.rss_bytes();
    let per_stream = after.saturating_sub(before) / STREAMS as u64;
    println!(
        "RSS {:.1} MiB before, {:.1} MiB with {STREAMS} more idle streams: {} bytes a stream",
        mib(before),
        mib(after),
        per_stream
    );
    // Measured: ~43 KB (the connection's buffers and task; the events are shared).
    assert!(per_stream < 64 * 1024, "{per_stream} bytes per idle stream");
    // Every one of them gets the next event.
    let id = support::submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 0}}),
    )
    .await
    .unwrap();
    for s in &mut streams {
        read_until(s, &id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("faena.db").display());
    let server = Server::start(
        &url,
        &["--send-timeout-ms", "1000", "--event-buffer", "100000"],
    );
    faena::kinds::fetch_urls::client::install_crypto();
    let client = reqwest::Client::new();
    // Never read past its response head, with a receive buffer as small as allowed.
    let stuck = open_raw(&server, Some(4096)).await;
    let mut reader = reqwest::Client::new()
        .get(server.url("/events?status=succeeded"))
        .send()
        .await
        .unwrap();
    let before = server.rss_bytes();
    // A flood of events: far more than the stuck socket's buffers hold.
    let mut ids = Vec::new();
    for _ in 0..12 {
        let items: Vec<_> = (0..1000)
            .map(|_| json!({"kind": "sleep", "params": {"ms": 0}}))
            .collect();
        let resp: serde_json::Value = client
            .post(server.url("/jobs/batch"))
            .json(&json!({"jobs": items}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in resp["items"].as_array().unwrap() {
            ids.push(item["job"]["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 12_000);
    // The reading client gets every job's end, and in order of the events' ids.
    let mut seen = Vec::with_capacity(ids.len());
    let mut buf = String::new();
    let mut last_seq = 0u64;
    tokio::time::timeout(Duration::from_secs(120), async {
        while seen.len() < ids.len() {
            let chunk = reader
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let seq: u64 = block
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .and_then(|id| id.rsplit('-').next()?.parse().ok())
                    .expect("an id");
                assert!(seq > last_seq);
                last_seq = seq;
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                seen.push(v["id"].as_str().unwrap().to_owned());
            }
        }
    })
    .await
    .expect("every end within 120 s");
    let mut want = ids.clone();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "each job's end exactly once");
    // The stuck client is cut off by the kernel, not kept: only the reader is left.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while support::metric(&client, &server, "faena_event_streams").await != 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream nobody reads is still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = server.rss_bytes();
    println!(
        "RSS {:.1} MiB before the flood, {:.1} MiB after it, the stuck client cut off",
        mib(before),
        mib(after)
    );
    drop(stuck);
    // Still serving.
    let id = support::submit(
        &client,
        &server,
        json!({"kind": "sleep", "params": {"ms": 0}}),
    )
    .await
    .unwrap();
    assert_eq!(
        support::get(&client, &server, &id, 10_000).await["status"],
        "succeeded"
    );
}
