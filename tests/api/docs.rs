//! Health checks and the API's own documentation: `/healthz`, `/readyz`, the OpenAPI
//! document (YAML and JSON) and Swagger UI, served from the binary with no CDN.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_of};

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_answer() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let get = |path: &str| app.client.get(app.url(path)).send();
    let health: Value = json_of(get("/healthz").await.unwrap(), StatusCode::OK).await;
    assert_eq!(health, json!({"status": "ok"}));
    let ready: Value = json_of(get("/readyz").await.unwrap(), StatusCode::OK).await;
    assert_eq!(ready, json!({"status": "ready"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_as_yaml_and_json() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let resp = app
        .client
        .get(app.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        content_type(&resp).contains("yaml"),
        "{}",
        content_type(&resp)
    );
    assert_eq!(resp.text().await.unwrap(), faena::api::openapi::yaml());

    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(content_type(&resp).starts_with("application/json"));
    let doc: Value = json_of(resp, StatusCode::OK).await;
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/cancel",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(doc["paths"]["/jobs"]["post"].is_object());
    assert!(doc["paths"]["/jobs"]["get"].is_object());
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
}

/// The values of every `attr="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_is_served_locally() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // `/docs` redirects to the page (reqwest follows the redirect).
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.url().path(), "/docs/");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        content_type(&resp).starts_with("text/html"),
        "{}",
        content_type(&resp)
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    let scripts = attribute_values(&html, "src");
    let links = attribute_values(&html, "href");
    assert!(!scripts.is_empty(), "no scripts in {html}");
    for url in scripts.iter().chain(&links) {
        assert!(
            !url.contains("://") && !url.starts_with("//"),
            "external: {url}"
        );
        // Each asset the page names is served by the app itself.
        let path = match url.strip_prefix("./") {
            Some(relative) => format!("/docs/{relative}"),
            None if url.starts_with('/') => url.to_string(),
            None => format!("/docs/{url}"),
        };
        let asset = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        assert!(!asset.bytes().await.unwrap().is_empty(), "{path}");
    }

    // The page's configuration points at the document this server serves.
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), StatusCode::OK);
    let init = init.text().await.unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    assert!(!init.contains("https://"), "{init}");
}
