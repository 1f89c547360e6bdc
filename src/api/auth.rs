//! API keys: with keys configured, every route but the health checks needs
//! `Authorization: Bearer <key>`, and each job belongs to the key that created it.
//!
//! Keys are kept only as SHA-256 digests (a key file may list the digests instead of the
//! keys). A presented key is hashed and compared with every known digest in constant time,
//! so neither the comparison's time nor the position of the match says anything about the
//! keys. The digest, hex, is the job's `tenant`; keys themselves are never logged or stored.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::error::{ApiError, ApiResult};
use crate::job::JobId;

/// The digests of the accepted keys.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

/// A key file line that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading the API key file {path} failed")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("API keys must be 16 to 512 printable ASCII characters without spaces (line {line})")]
    Invalid { line: usize },
}

/// Shortest key accepted: a guessable key is no protection.
const MIN_KEY_LEN: usize = 16;

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn valid_key(key: &str) -> bool {
    (MIN_KEY_LEN..=512).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

impl ApiKeys {
    /// Keys given as such (`--api-keys`) and the lines of a key file (each a key, or the
    /// SHA-256 of one as 64 hex digits; blank lines and `#` comments skipped).
    pub fn new(keys: &[String], file: Option<&str>) -> Result<Self, KeyError> {
        let mut digests = Vec::new();
        for (i, key) in keys.iter().map(|k| k.trim()).enumerate() {
            if key.is_empty() {
                continue;
            }
            if !valid_key(key) {
                return Err(KeyError::Invalid { line: i + 1 });
            }
            digests.push(digest(key.as_bytes()));
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
                path: path.to_string(),
                source,
            })?;
            for (i, line) in text.lines().map(str::trim).enumerate() {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match unhex(line) {
                    Some(d) => digests.push(d),
                    None if valid_key(line) => digests.push(digest(line.as_bytes())),
                    None => return Err(KeyError::Invalid { line: i + 1 }),
                }
            }
        }
        Ok(Self { digests })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The tenant of `key` if it is one of ours. Every digest is compared, in constant time.
    pub fn tenant_of(&self, key: &str) -> Option<String> {
        let presented = digest(key.as_bytes());
        let mut found = subtle::Choice::from(0);
        let mut which = [0u8; 32];
        for known in &self.digests {
            let hit = known.ct_eq(&presented);
            found |= hit;
            for (w, k) in which.iter_mut().zip(known) {
                *w = u8::conditional_select(w, k, hit);
            }
        }
        bool::from(found).then(|| hex(&which))
    }
}

/// Who is calling: the tenant of their key, or `None` when the server has no keys.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub tenant: Option<String>,
}

impl Caller {
    /// Whether this caller may see a job of `tenant`.
    pub fn sees(&self, tenant: Option<&str>) -> bool {
        self.tenant.is_none() || self.tenant.as_deref() == tenant
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Checks the bearer key of every request when keys are configured.
pub async fn require_key(
    State(keys): State<Arc<ApiKeys>>,
    mut req: Request,
    next: Next,
) -> Response {
    if keys.is_empty() {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        });
    let Some(tenant) = presented.and_then(|key| keys.tenant_of(key)) else {
        return ApiError::Unauthorized.into_response();
    };
    req.extensions_mut().insert(Caller {
        tenant: Some(tenant),
    });
    next.run(req).await
}

/// 404 for a job of another API key (nothing to check without keys).
pub(super) async fn check_visible(
    state: &super::AppState,
    caller: &Caller,
    id: JobId,
) -> ApiResult<()> {
    if caller.tenant.is_none() {
        return Ok(());
    }
    match state.runtime.store().get(id).await? {
        Some(job) if caller.sees(job.tenant.as_deref()) => Ok(()),
        _ => Err(ApiError::JobNotFound(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "key-a-0123456789abcdef";
    const B: &str = "key-b-0123456789abcdef";

    #[test]
    fn keys_and_digests_are_accepted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        let b_digest = hex(&digest(B.as_bytes()));
        std::fs::write(&file, format!("# ops\n\n{b_digest}\n")).unwrap();
        let keys = ApiKeys::new(&[A.to_string()], Some(file.to_str().unwrap())).unwrap();
        let a = keys.tenant_of(A).expect("A accepted");
        let b = keys.tenant_of(B).expect("B accepted by its digest");
        assert_eq!(a, hex(&digest(A.as_bytes())));
        assert_eq!(b, b_digest);
        assert_ne!(a, b);
        for wrong in [
            "",
            "key-a-0123456789abcdeF",
            &b_digest,
            "key-a-0123456789abcde",
        ] {
            assert_eq!(keys.tenant_of(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn short_or_spaced_keys_are_refused() {
        for bad in ["short", "has a space in it!!", "tab\there-0123456789"] {
            assert!(ApiKeys::new(&[bad.to_string()], None).is_err(), "{bad:?}");
        }
        assert!(ApiKeys::new(&[], None).unwrap().is_empty());
    }

    #[test]
    fn callers_see_their_own_jobs_only() {
        let alice = Caller {
            tenant: Some("a".into()),
        };
        assert!(alice.sees(Some("a")));
        assert!(!alice.sees(Some("b")));
        assert!(!alice.sees(None));
        assert!(Caller::default().sees(Some("a")));
    }
}
