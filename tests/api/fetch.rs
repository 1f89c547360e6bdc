//! `fetch_urls` end to end against a local [`PageServer`]: what each URL becomes (its status,
//! size, characters and saved file, or its error code), the page size cap, the per-URL
//! timeout, and servers that break off or do not speak HTTP.
//!
//! The helpers at the top (an application allowed to reach loopback, a job body, the checked
//! result of a finished job) serve the other `fetch_*` modules too.

use std::time::Duration;

use faena::config::Config;
use faena::job::{Job, JobProgress, JobStatus};
use faena::kinds::fetch_urls::{Output, Page, PageErrorCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::TestApp;
use crate::pages::{CHAIN_END, PageServer, SMALL, Seen, TEXT, page_body};

/// The application, allowed to fetch from loopback (where the page servers live).
pub async fn fetch_app_with(tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::spawn_with(|c| {
        c.fetch_allow_private = true;
        tweak(c);
    })
    .await
}

/// A `fetch_urls` job of `urls`, with the other params in `more` (an object).
pub fn fetch_job(urls: &[String], more: Value) -> Value {
    let mut params = json!({ "urls": urls });
    if let (Some(params), Value::Object(more)) = (params.as_object_mut(), more) {
        params.extend(more);
    }
    json!({"kind": "fetch_urls", "params": params})
}

/// Every key of a page in a result, sorted.
const PAGE_KEYS: [&str; 9] = [
    "bytes",
    "chars",
    "elapsed_ms",
    "error",
    "file",
    "message",
    "ok",
    "status",
    "url",
];

/// The result of `job`, which must have succeeded: one page per URL of `body`, in request
/// order, each with every key, counted right, and progress complete.
pub fn output_of(job: &Job, body: &Value) -> Output {
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.error, None, "{job:?}");
    let urls: Vec<&str> = body["params"]["urls"]
        .as_array()
        .expect("urls")
        .iter()
        .map(|u| u.as_str().expect("a URL"))
        .collect();
    let n = urls.len() as u64;
    assert_eq!(job.progress, Some(JobProgress { done: n, total: n }));
    let raw = job.result.clone().expect("a result").value();
    for page in raw["pages"].as_array().expect("pages") {
        let mut keys: Vec<&str> = page
            .as_object()
            .expect("a page")
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, PAGE_KEYS, "{page}");
        assert!(page["elapsed_ms"].is_u64(), "{page}");
    }
    let out: Output = serde_json::from_value(raw).expect("a fetch_urls result");
    let got: Vec<&str> = out.pages.iter().map(|p| p.url.as_str()).collect();
    assert_eq!(got, urls, "pages in request order");
    let ok = out.pages.iter().filter(|p| p.ok).count() as u64;
    assert_eq!((out.succeeded, out.failed), (ok, n - ok));
    out
}

/// Submits `body` and follows the job to its end; it must succeed (see [`output_of`]).
pub async fn run_fetch(app: &TestApp, body: &Value) -> (Job, Output) {
    let job = app.submit_ok(body).await;
    let done = app.wait_final(job.id).await;
    let out = output_of(&done, body);
    (done, out)
}

/// Checks a page that came back 200 with `body`, saved as `file` (`None`: not saved).
pub fn assert_ok(page: &Page, body: &[u8], file: Option<&str>) {
    let chars = String::from_utf8_lossy(body).chars().count() as u64;
    assert_eq!(
        (page.ok, page.status, page.bytes, page.chars),
        (true, Some(200), Some(body.len() as u64), Some(chars)),
        "{page:?}"
    );
    assert_eq!(
        (page.file.as_deref(), page.error, page.message.as_deref()),
        (file, None, None),
        "{page:?}"
    );
}

/// Checks a page that failed with `code` (and `status`, the answer's, for `http_status`).
pub fn assert_failed(page: &Page, code: PageErrorCode, status: Option<u16>) {
    assert_eq!(
        (page.ok, page.error, page.status),
        (false, Some(code), status),
        "{page:?}"
    );
    assert_eq!(
        (page.bytes, page.chars, page.file.as_deref()),
        (None, None, None),
        "{page:?}"
    );
    let message = page.message.as_deref().unwrap_or("");
    assert!(!message.is_empty(), "{page:?}");
}

/// A port of 127.0.0.1 where nothing listens (bound, then closed).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("its address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_url_gets_its_page_or_its_error_in_request_order() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let refused = format!("http://127.0.0.1:{}/page/4", closed_port().await);
    let urls = vec![
        // Slow: it finishes last, yet comes first.
        pages.url("/page/0?bytes=3000&delay_ms=150"),
        pages.url("/text"),
        pages.url("/status/404"),
        pages.url("/status/500"),
        refused,
        pages.url("/redirect/5"),
        pages.url("/redirect/6"),
        pages.url("/loop/a"),
        pages.url("/to-ftp"),
        pages.url("/page/9?bytes=0"),
    ];
    let (job, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let defaults = json!({"urls": urls, "concurrency": 16, "url_timeout_ms": 10_000, "save": true,
        "retry_transient": false});
    assert_eq!(job.params, defaults, "the params as accepted");

    let p = &out.pages;
    let first = page_body(0, 3000);
    assert!(
        std::str::from_utf8(&first).is_err(),
        "the page is not UTF-8"
    );
    assert_ok(&p[0], &first, Some("00000-127.0.0.1-page-0"));
    assert!(p[0].elapsed_ms >= 150, "{:?}", p[0]);
    assert_ok(&p[1], TEXT.as_bytes(), Some("00001-127.0.0.1-text"));
    assert_eq!((p[1].bytes, p[1].chars), (Some(30), Some(19)));
    assert_failed(&p[2], PageErrorCode::HttpStatus, Some(404));
    assert_failed(&p[3], PageErrorCode::HttpStatus, Some(500));
    assert_failed(&p[4], PageErrorCode::Connect, None);
    let end = page_body(1000, SMALL);
    assert_ok(&p[5], &end, Some("00005-127.0.0.1-redirect-5"));
    assert_failed(&p[6], PageErrorCode::TooManyRedirects, None);
    assert_failed(&p[7], PageErrorCode::RedirectLoop, None);
    assert_failed(&p[8], PageErrorCode::BadRedirect, None);
    assert_ok(&p[9], b"", Some("00009-127.0.0.1-page-9"));
    assert_eq!((out.succeeded, out.failed), (4, 6));

    let mut seen = pages.seen().paths;
    seen.sort_unstable();
    assert_eq!(seen, mixed_batch_requests());
}

/// Every request the mixed batch makes, sorted: five hops and the page for /redirect/5, six
/// hops and not the seventh for /redirect/6, each side of the loop once.
fn mixed_batch_requests() -> Vec<String> {
    let chain = |k: u32| (1..=k).rev().map(|i| format!("/redirect/{i}"));
    let mut want: Vec<String> = chain(5).chain(chain(6)).collect();
    want.extend(
        [
            "/page/0?bytes=3000&delay_ms=150",
            "/text",
            "/status/404",
            "/status/500",
            CHAIN_END,
            "/loop/a",
            "/loop/b",
            "/to-ftp",
            "/page/9?bytes=0",
        ]
        .map(String::from),
    );
    want.sort_unstable();
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_over_the_size_cap_fail_with_or_without_content_length() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|c| c.fetch_max_page_bytes = 1000).await else {
        return;
    };
    // The premise: /page says how long it is, /stream does not.
    let sized = app.client.get(pages.url("/page/0?bytes=1000")).send().await;
    let streamed = app
        .client
        .get(pages.url("/stream/0?bytes=1000"))
        .send()
        .await;
    let length = |r: reqwest::Response| r.headers().get("content-length").cloned();
    assert_eq!(length(sized.expect("/page")), Some(1000.into()));
    assert_eq!(length(streamed.expect("/stream")), None);

    let urls = vec![
        pages.url("/page/0?bytes=1000"),
        pages.url("/page/1?bytes=1001"),
        pages.url("/stream/2?bytes=1000"),
        pages.url("/stream/3?bytes=1001"),
        pages.url("/stream/4?bytes=1000000"),
        pages.url("/page/5?bytes=999"),
    ];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let p = &out.pages;
    assert_ok(&p[0], &page_body(0, 1000), Some("00000-127.0.0.1-page-0"));
    assert_failed(&p[1], PageErrorCode::TooLarge, None);
    assert_ok(&p[2], &page_body(2, 1000), Some("00002-127.0.0.1-stream-2"));
    assert_failed(&p[3], PageErrorCode::TooLarge, None);
    assert_failed(&p[4], PageErrorCode::TooLarge, None);
    assert_ok(&p[5], &page_body(5, 999), Some("00005-127.0.0.1-page-5"));
    assert_eq!((out.succeeded, out.failed), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_never_answers_times_out_and_the_others_succeed() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let urls = vec![
        pages.url("/page/0?bytes=10"),
        pages.url("/never/1"),
        // Slower than nothing, well within the timeout.
        pages.url("/page/2?bytes=10&delay_ms=100"),
    ];
    let body = fetch_job(&urls, json!({"url_timeout_ms": 300}));
    let (_, out) = run_fetch(&app, &body).await;
    let p = &out.pages;
    assert_ok(&p[0], &page_body(0, 10), Some("00000-127.0.0.1-page-0"));
    assert_failed(&p[1], PageErrorCode::Timeout, None);
    assert!((300..3000).contains(&p[1].elapsed_ms), "{:?}", p[1]);
    assert_ok(&p[2], &page_body(2, 10), Some("00002-127.0.0.1-page-2"));
    assert_eq!((out.succeeded, out.failed), (2, 1));
    // The request given up on was dropped, not left hanging.
    let gone = |s: &Seen| s.in_flight == 0;
    let seen = pages
        .wait_for("no request in flight", Duration::from_secs(2), gone)
        .await;
    assert_eq!(seen.started(), 3);
}

/// A server on 127.0.0.1 that answers every request with bytes that are not HTTP; its URL.
async fn garbage_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut request = [0; 1024];
            let _ = conn.read(&mut request).await;
            let _ = conn.write_all(b"this is not HTTP\r\n\r\n").await;
        }
    });
    format!("http://{addr}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_body_and_an_answer_that_is_not_http_fail_with_their_codes() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let urls = vec![
        pages.url("/broken/0"),
        garbage_server().await,
        pages.url("/page/2?bytes=10"),
    ];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let p = &out.pages;
    assert_failed(&p[0], PageErrorCode::Body, None);
    assert_failed(&p[1], PageErrorCode::Protocol, None);
    assert_ok(&p[2], &page_body(2, 10), Some("00002-127.0.0.1-page-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_without_a_usable_location_is_a_bad_redirect() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let urls = vec![pages.url("/redirect-nowhere"), pages.url("/redirect-bad")];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    assert_failed(&out.pages[0], PageErrorCode::BadRedirect, Some(302));
    assert_failed(&out.pages[1], PageErrorCode::BadRedirect, Some(302));
}
