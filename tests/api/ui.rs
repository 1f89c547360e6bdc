//! The dashboard: `/` redirects to `/ui/`, which serves the page and every file it loads
//! (stylesheet, icon, the JavaScript modules and the modules they import) with its content
//! type, a strict Content-Security-Policy and an ETag; no API key needed, even with keys on.

use std::collections::BTreeSet;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::{StatusCode, redirect};

use crate::helpers::{TestApp, problem};

const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'";

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("a client")
}

fn header(resp: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The values of `attr="…"` in `text`.
fn attribute_values<'a>(text: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    text.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &text[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The relative modules a JavaScript module imports (`from './x.js'`).
fn imports(js: &str) -> Vec<&str> {
    js.match_indices("from '")
        .filter_map(|(i, _)| {
            let rest = &js[i + 6..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .filter_map(|path| path.strip_prefix("./"))
        .collect()
}

fn expected_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html",
        _ => panic!("an asset of unexpected type: {name}"),
    }
}

async fn assert_dashboard_served(app: &TestApp) {
    let client = no_redirects();
    for path in ["/", "/ui"] {
        let resp = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(header(&resp, LOCATION), "/ui/", "{path}");
    }

    let resp = client.get(app.url("/ui/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&resp, "content-security-policy"), CSP);
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    let html = resp.text().await.unwrap();
    assert!(html.contains("<main id=\"main\""), "{html}");

    // Every file the page names, and every module those import, transitively.
    let mut todo: Vec<String> = attribute_values(&html, "src")
        .into_iter()
        .chain(attribute_values(&html, "href"))
        .filter(|v| !v.starts_with('#') && !v.starts_with('/'))
        .map(str::to_string)
        .collect();
    assert!(todo.iter().any(|f| f == "main.js"), "{todo:?}");
    assert!(todo.iter().any(|f| f == "app.css"), "{todo:?}");
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let resp = client
            .get(app.url(&format!("/ui/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        let content_type = header(&resp, CONTENT_TYPE);
        assert!(
            content_type.starts_with(expected_type(&name)),
            "{name}: {content_type}"
        );
        assert_eq!(header(&resp, "content-security-policy"), CSP, "{name}");
        assert!(!header(&resp, ETAG).is_empty(), "{name}");
        let body = resp.text().await.unwrap();
        if name.ends_with(".js") {
            todo.extend(imports(&body).into_iter().map(str::to_string));
        }
    }
    assert!(seen.len() > 5, "the page loads its modules: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_redirects_and_the_dashboard_and_its_files_are_served() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    assert_dashboard_served(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_file_is_not_sent_again() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let resp = app.client.get(app.url("/ui/main.js")).send().await.unwrap();
    let etag = header(&resp, ETAG);
    assert!(etag.starts_with('"'), "{etag}");
    let again = app
        .client
        .get(app.url("/ui/main.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, ETAG), etag);
    let other = app
        .client
        .get(app.url("/ui/main.js"))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_file_is_a_404_problem() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    for path in ["/ui/nope.js", "/ui/..%2FCargo.toml", "/ui/index.html.bak"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff", "{path}");
        problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_needs_no_key_when_keys_are_on() {
    let Some(app) =
        TestApp::spawn_with(|c| c.api_keys = vec!["ui-test-key-0123456789".into()]).await
    else {
        return;
    };
    assert_dashboard_served(&app).await;
    // The API it calls still does.
    let resp = app.client.get(app.url("/jobs")).send().await.unwrap();
    problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}
