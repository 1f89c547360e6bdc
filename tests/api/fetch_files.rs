//! The pages a `fetch_urls` job saved, through `GET /jobs/{id}/files` and
//! `GET /jobs/{id}/files/{name}`: listed in order, downloaded back byte for byte with the
//! content type they were served with, none for `save: false` or a kind that saves nothing,
//! and 404 for any other name, including names that try to climb out of the job.

use faena::job::{JobId, JobStatus};
use faena::kinds::fetch_urls::PageErrorCode;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, X_CONTENT_TYPE_OPTIONS,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fetch::{assert_failed, assert_ok, fetch_app_with, fetch_job, run_fetch};
use crate::helpers::{TestApp, json_of, problem};
use crate::pages::{BARE, PAGE_TYPE, PageServer, TEXT, TEXT_TYPE, page_body};

/// Downloads a file that must exist; checks its headers; returns its bytes.
async fn download(app: &TestApp, id: JobId, name: &str, content_type: &str) -> Vec<u8> {
    let resp = app.file(id, name).await;
    assert_eq!(resp.status(), StatusCode::OK, "{name}");
    let header = |key: HeaderName| resp.headers().get(key).and_then(|v| v.to_str().ok());
    assert_eq!(header(CONTENT_TYPE), Some(content_type), "{name}");
    let disposition = format!("attachment; filename=\"{name}\"");
    assert_eq!(header(CONTENT_DISPOSITION), Some(disposition.as_str()));
    assert_eq!(header(X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    let length: Option<u64> = header(CONTENT_LENGTH).and_then(|l| l.parse().ok());
    let bytes = resp.bytes().await.expect("the file's bytes").to_vec();
    assert_eq!(length, Some(bytes.len() as u64), "{name}");
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_pages_come_back_byte_for_byte_with_their_content_type() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    // The premise: /bare has no content type (so faena records its default).
    let bare = app
        .client
        .get(pages.url("/bare"))
        .send()
        .await
        .expect("/bare");
    assert_eq!(bare.headers().get(CONTENT_TYPE), None);

    let urls = vec![
        // Larger than one chunk of a download (256 KiB), and not UTF-8.
        pages.url("/page/0?bytes=600000"),
        pages.url("/status/404"),
        pages.url("/text"),
        pages.url("/bare"),
        pages.url("/stream/4?bytes=2500"),
        pages.url("/page/5?bytes=0"),
    ];
    let (job, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let big = page_body(0, 600_000);
    let stream = page_body(4, 2500);
    let files = [
        (0, "00000-127.0.0.1-page-0", PAGE_TYPE, &big[..]),
        (2, "00002-127.0.0.1-text", TEXT_TYPE, TEXT.as_bytes()),
        (3, "00003-127.0.0.1-bare", "application/octet-stream", BARE),
        (4, "00004-127.0.0.1-stream-4", PAGE_TYPE, &stream[..]),
        (5, "00005-127.0.0.1-page-5", PAGE_TYPE, &b""[..]),
    ];
    assert_failed(&out.pages[1], PageErrorCode::HttpStatus, Some(404));
    for (index, name, _, body) in files {
        assert_ok(&out.pages[index], body, Some(name));
    }

    let listed: Value = json_of(app.files(job.id).await, StatusCode::OK).await;
    let want: Vec<Value> = files
        .iter()
        .map(|(index, name, content_type, body)| {
            json!({"index": index, "name": name, "content_type": content_type, "bytes": body.len()})
        })
        .collect();
    assert_eq!(listed, json!({ "files": want }));
    for (_, name, content_type, body) in files {
        let got = download(&app, job.id, name, content_type).await;
        assert!(got == body, "{name}: {} bytes differ", got.len());
    }
}

/// `GET {path}` sent as is: a client would resolve a `..` segment before sending it.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(app.addr).await.expect("a connection");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("an answer");
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok());
    (status.unwrap_or(0), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_names_and_jobs_are_not_found() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let (job, _) = run_fetch(
        &app,
        &fetch_job(&[pages.url("/page/0?bytes=10")], json!({})),
    )
    .await;
    let (id, name) = (job.id, "00000-127.0.0.1-page-0");
    assert_eq!(download(&app, id, name, PAGE_TYPE).await, page_body(0, 10));

    let not_found = StatusCode::NOT_FOUND;
    for other in [
        "nope",
        "00000-127.0.0.1-page-00",
        "..%2F00000-127.0.0.1-page-0",
        "x%2F..%2F..%2F00000-127.0.0.1-page-0",
        "%2E%2E%2Ffiles%2F00000-127.0.0.1-page-0",
    ] {
        problem(app.file(id, other).await, not_found, "file_not_found").await;
    }
    let unknown = JobId::new();
    problem(app.files(unknown).await, not_found, "job_not_found").await;
    problem(app.file(unknown, name).await, not_found, "job_not_found").await;
    let bad = StatusCode::BAD_REQUEST;
    problem(app.files("not-a-uuid").await, bad, "invalid_id").await;
    problem(app.file("not-a-uuid", name).await, bad, "invalid_id").await;

    // `..` as a whole segment is the name `..`; `../files/NAME` matches no route at all.
    let (status, answer) = raw_get(&app, &format!("/jobs/{id}/files/..")).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains(r#""code":"file_not_found""#), "{answer}");
    let (status, answer) = raw_get(&app, &format!("/jobs/{id}/files/../files/{name}")).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains(r#""code":"not_found""#), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_save_false_nothing_is_saved_nor_by_other_kinds() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let urls = [pages.url("/page/0?bytes=10"), pages.url("/text")];
    let (job, out) = run_fetch(&app, &fetch_job(&urls, json!({"save": false}))).await;
    assert_ok(&out.pages[0], &page_body(0, 10), None);
    assert_ok(&out.pages[1], TEXT.as_bytes(), None);
    let listed: Value = json_of(app.files(job.id).await, StatusCode::OK).await;
    assert_eq!(listed, json!({"files": []}));
    let not_found = StatusCode::NOT_FOUND;
    let name = "00000-127.0.0.1-page-0";
    problem(app.file(job.id, name).await, not_found, "file_not_found").await;

    // A kind that never saves: an empty list too.
    let sleep = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    assert_eq!(app.wait_final(sleep.id).await.status, JobStatus::Succeeded);
    let listed: Value = json_of(app.files(sleep.id).await, StatusCode::OK).await;
    assert_eq!(listed, json!({"files": []}));
}
