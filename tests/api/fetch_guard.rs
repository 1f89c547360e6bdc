//! The SSRF guard of `fetch_urls` end to end, with loopback only. By default loopback is
//! refused, whether it comes as an IP literal (IPv4 or IPv6) or as a name that resolves to
//! it, and the server behind it never sees a request. An exception for a host name lets that
//! name through, redirects within it included, but not a redirect to the bare IP; an
//! exception for an address lets that address through, under any name, and nothing else.
//!
//! Refused pages fail one by one; the job itself succeeds.

use faena::kinds::fetch_urls::{Page, PageErrorCode};
use reqwest::StatusCode;
use serde_json::json;

use crate::fetch::{assert_failed, assert_ok, fetch_job, run_fetch};
use crate::helpers::TestApp;
use crate::pages::{CHAIN_END, PageServer, SMALL, page_body};

/// Checks a page refused by the guard, because its address is loopback.
fn assert_blocked(page: &Page) {
    assert_failed(page, PageErrorCode::BlockedAddress, None);
    let message = page.message.as_deref().unwrap_or("");
    assert!(message.contains("loopback"), "{page:?}");
}

/// The paths the server has seen, sorted.
fn seen_sorted(pages: &PageServer) -> Vec<String> {
    let mut paths = pages.seen().paths;
    paths.sort_unstable();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_refused_by_default_and_never_contacted() {
    let pages = PageServer::start().await;
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let port = pages.port();
    let urls = vec![
        pages.url("/page/0"),
        format!("http://localhost:{port}/page/1"),
        format!("http://[::1]:{port}/page/2"),
    ];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    for page in &out.pages {
        assert_blocked(page);
    }
    assert_eq!((out.succeeded, out.failed), (0, 3));
    assert_eq!(pages.seen().started(), 0);

    // The server was there to answer: the guard kept faena away from it.
    let direct = app.client.get(pages.url("/page/0?bytes=5")).send().await;
    assert_eq!(direct.expect("the server answers").status(), StatusCode::OK);
    assert_eq!(seen_sorted(&pages), ["/page/0?bytes=5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_exception_admits_that_name_but_not_a_redirect_to_the_ip() {
    let pages = PageServer::start().await;
    let allow = "localhost".parse().expect("a host exception");
    let Some(app) = TestApp::spawn_with(|c| c.fetch_allow = vec![allow]).await else {
        return;
    };
    let port = pages.port();
    let urls = vec![
        format!("http://localhost:{port}/page/1?bytes=100"),
        // Redirects to http://127.0.0.1:PORT/page/127: the same server, as an IP literal.
        format!("http://localhost:{port}/to-127"),
        // Two relative redirects: they stay on localhost.
        format!("http://localhost:{port}/redirect/2"),
        pages.url("/page/3"),
        format!("http://[::1]:{port}/page/4"),
    ];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let p = &out.pages;
    assert_ok(&p[0], &page_body(1, 100), Some("00000-localhost-page-1"));
    assert_blocked(&p[1]);
    let end = page_body(1000, SMALL);
    assert_ok(&p[2], &end, Some("00002-localhost-redirect-2"));
    assert_blocked(&p[3]);
    assert_blocked(&p[4]);
    assert_eq!((out.succeeded, out.failed), (2, 3));
    // Never /page/127 (the refused hop), /page/3 or /page/4.
    let want = [
        CHAIN_END,
        "/page/1?bytes=100",
        "/redirect/1",
        "/redirect/2",
        "/to-127",
    ];
    assert_eq!(seen_sorted(&pages), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_exception_admits_that_address_under_any_name() {
    let pages = PageServer::start().await;
    let allow = "127.0.0.1".parse().expect("an address exception");
    let Some(app) = TestApp::spawn_with(|c| c.fetch_allow = vec![allow]).await else {
        return;
    };
    let port = pages.port();
    let urls = vec![
        pages.url("/page/0?bytes=10"),
        format!("http://localhost:{port}/page/1?bytes=10"),
        format!("http://[::1]:{port}/page/2"),
    ];
    let (_, out) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let p = &out.pages;
    assert_ok(&p[0], &page_body(0, 10), Some("00000-127.0.0.1-page-0"));
    assert_ok(&p[1], &page_body(1, 10), Some("00001-localhost-page-1"));
    assert_blocked(&p[2]);
    let want = ["/page/0?bytes=10", "/page/1?bytes=10"];
    assert_eq!(seen_sorted(&pages), want);
}
