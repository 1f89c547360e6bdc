//! The dashboard: the files of `ui/` (HTML, CSS and the JavaScript that `tsc` compiled from
//! `ui/src`, committed in `ui/dist` so that building faena needs no Node) embedded in the
//! binary and served at `/ui/`, with `/` redirecting there.
//!
//! These routes need no API key and skip the request guard: the files hold no data, and the
//! page asks for a key when the API answers 401. They are not in the OpenAPI document, which
//! describes the API. Every answer carries a strict Content-Security-Policy (no inline script
//! or style, nothing from another origin) and an ETag, so that a reload costs a 304.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The policy of every page and file of the dashboard.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; \
     frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($dir:literal, $name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/ui/",
                $dir,
                "/",
                $name
            )),
        }
    };
}

/// Every file of `ui/static` and `ui/dist` (a unit test checks that none is missing).
static ASSETS: &[Asset] = &[
    asset!("static", "index.html", HTML),
    asset!("static", "app.css", CSS),
    asset!("static", "favicon.svg", SVG),
    asset!("dist", "api.js", JS),
    asset!("dist", "charts.js", JS),
    asset!("dist", "detail.js", JS),
    asset!("dist", "dom.js", JS),
    asset!("dist", "fields.js", JS),
    asset!("dist", "format.js", JS),
    asset!("dist", "jobs.js", JS),
    asset!("dist", "json.js", JS),
    asset!("dist", "keyform.js", JS),
    asset!("dist", "main.js", JS),
    asset!("dist", "overview.js", JS),
    asset!("dist", "schema.js", JS),
    asset!("dist", "sse.js", JS),
    asset!("dist", "submit.js", JS),
    asset!("dist", "types.js", JS),
    asset!("dist", "view.js", JS),
    asset!("dist", "widgets.js", JS),
];

/// The ETag of each asset, in the order of [`ASSETS`]: a digest of its bytes.
fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
            })
            .collect()
    })
}

pub fn router() -> Router {
    Router::new()
        .route("/", get(to_dashboard))
        .route("/ui", get(to_dashboard))
        .route("/ui/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/ui/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }),
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::map_response(protect))
}

async fn to_dashboard() -> Redirect {
    Redirect::to("/ui/")
}

/// The file, or 304 when the client has this version, or 404 problem+json.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::NotFound.into_response();
    };
    let (asset, etag) = (&ASSETS[i], &etags()[i]);
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t.as_bytes() == etag.as_bytes());
    let head = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, head).into_response();
    }
    let content_type = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    )];
    (head, content_type, asset.body).into_response()
}

/// The headers of every answer of these routes, errors included.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding a module to `ui/src` adds a file to `ui/dist` that the page will ask for: it must
    /// be embedded too.
    #[test]
    fn every_file_of_the_dashboard_is_embedded() {
        for dir in ["static", "dist"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/").to_string() + dir;
            for entry in std::fs::read_dir(&path).expect("the ui directory") {
                let name = entry.expect("an entry").file_name();
                let name = name.to_string_lossy();
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "ui/{dir}/{name} is not embedded: add it to ASSETS in src/api/ui.rs"
                );
            }
        }
    }

    #[test]
    fn etags_differ_between_files() {
        let tags = etags();
        for (i, a) in tags.iter().enumerate() {
            assert!(!tags[i + 1..].contains(a), "{}", ASSETS[i].name);
        }
    }
}
