//! `Idempotency-Key` on `POST /jobs`: a client that retries a submission (its answer was
//! lost) gets the job its first try created instead of a second job.
//!
//! The key is stored with the job (unique per API key, deleted with the job) together with
//! the SHA-256 of the request body in canonical form (object keys sorted, no whitespace), so
//! that the same request, however its JSON is laid out, finds its job (200), and a different
//! request reusing the key is refused (422 `idempotency_key_reused`).

use axum::http::{HeaderMap, HeaderName};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::job::Job;
use crate::store::IdempotencyKey;

const HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The request's idempotency key and the hash of its body, if it sent a key.
pub fn key_of(headers: &HeaderMap, body: &Value) -> ApiResult<Option<IdempotencyKey>> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |why: &str| ApiError::InvalidHeader(format!("Idempotency-Key {why}"));
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            invalid(&format!(
                "must be 1 to {MAX_KEY_LEN} printable ASCII characters"
            ))
        })?;
    Ok(Some(IdempotencyKey {
        key: key.to_string(),
        request_hash: hash(body),
    }))
}

/// SHA-256 (hex) of `body` in canonical form.
fn hash(body: &Value) -> String {
    let mut text = String::new();
    canonical(body, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `value` as JSON with object keys sorted and no whitespace.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The job an earlier request with this key created; 422 if that request was different.
pub async fn existing(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
) -> ApiResult<Option<Job>> {
    let stored = key.stored(caller.tenant.as_deref());
    match state.runtime.store().by_idempotency_key(&stored).await? {
        None => Ok(None),
        Some((job, hash)) if hash == key.request_hash => Ok(Some(state.with_live_progress(job))),
        Some((job, _)) => Err(ApiError::IdempotencyKeyReused(job.id)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn layout_and_key_order_do_not_change_the_hash() {
        let a: Value =
            serde_json::from_str(r#"{"kind":"sleep","params":{"ms":1,"x":[1,2]}}"#).unwrap();
        let b: Value = serde_json::from_str(
            "{ \"params\" : { \"x\": [1, 2], \"ms\": 1 },\n \"kind\": \"sleep\" }",
        )
        .unwrap();
        assert_eq!(hash(&a), hash(&b));
        let mut text = String::new();
        canonical(&a, &mut text);
        assert_eq!(text, r#"{"kind":"sleep","params":{"ms":1,"x":[1,2]}}"#);
        for different in [
            json!({"kind": "sleep", "params": {"ms": 2, "x": [1, 2]}}),
            json!({"kind": "sleep", "params": {"ms": 1, "x": [2, 1]}}),
            json!({"kind": "sleep", "params": {"ms": 1, "x": [1, 2]}, "priority": 0}),
        ] {
            assert_ne!(hash(&a), hash(&different), "{different}");
        }
    }

    #[test]
    fn keys_are_checked() {
        let body = json!({});
        let mut headers = HeaderMap::new();
        assert!(key_of(&headers, &body).unwrap().is_none());
        headers.insert(HEADER, "order-42".parse().unwrap());
        assert_eq!(key_of(&headers, &body).unwrap().unwrap().key, "order-42");
        for bad in ["", "has space", &"k".repeat(256)] {
            headers.insert(HEADER, bad.parse().unwrap());
            assert!(key_of(&headers, &body).is_err(), "{bad:?}");
        }
        headers.insert(HEADER, "a".parse().unwrap());
        headers.append(HEADER, "b".parse().unwrap());
        assert!(key_of(&headers, &body).is_err());
    }
}
