//! Request ids: every request gets one (the client's `x-request-id` when it is a sane token,
//! else a new UUID v7), carried on the request, its tracing span and its response.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen id kept; a longer one (or one with other characters than
/// `[A-Za-z0-9._:-]`) is replaced, so that logs never carry arbitrary text from a header.
const MAX_LEN: usize = 128;

/// Sets the request's id (keeping a sane one from the client) and echoes it in the response.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(&REQUEST_ID) {
        Some(value) if is_sane(value.as_bytes()) => value.clone(),
        _ => fresh(),
    };
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}

/// The id a request carries (set by [`assign`]), for its span.
pub fn of<B>(req: &axum::http::Request<B>) -> &str {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn fresh() -> HeaderValue {
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    HeaderValue::from_str(&id).expect("a UUID is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tokens_and_replaces_anything_else() {
        for (id, kept) in [
            (&b"abc-123"[..], true),
            (b"0190c6e2-7d1c-7cc0-9d6e-2b1f0f3c9a11", true),
            (b"trace:span.1_2", true),
            (b"", false),
            (b"has space", false),
            (b"new\nline", false),
            (b"quote\"", false),
            (&[b'a'; MAX_LEN], true),
            (&[b'a'; MAX_LEN + 1], false),
        ] {
            assert_eq!(is_sane(id), kept, "{:?}", String::from_utf8_lossy(id));
        }
        assert!(is_sane(fresh().as_bytes()));
    }
}
