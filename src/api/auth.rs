//! API keys: with keys configured, every route but the health checks needs
//! `Authorization: Bearer <key>`, and each job belongs to the key that created it.
//!
//! A key has a role. A submit key (the default) reaches every route but the workers': it
//! submits and follows its own jobs. A worker key reaches only the workers' routes
//! (`/workers/*`, `/jobs/{id}/heartbeat|complete|fail`): it claims jobs of every tenant and
//! answers for them. Each gets 403 `forbidden` on the other's routes.
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

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Submit jobs and follow them (its own only).
    Submit,
    /// Claim jobs of worker kinds, of every tenant, and answer for them; nothing else.
    Worker,
}

impl Role {
    fn code(self) -> u8 {
        match self {
            Self::Submit => 0,
            Self::Worker => 1,
        }
    }
}

/// The digests of the accepted keys, with their roles.
#[derive(Clone, Default)]
pub struct ApiKeys {
    digests: Vec<([u8; 32], Role)>,
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
    #[error("an API key's role is `submit` or `worker` (line {line})")]
    Role { line: usize },
    #[error("an API key is given twice, with both roles")]
    TwoRoles,
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
    /// Keys given as such (`--api-keys`: submit keys; `--worker-api-keys`: worker keys) and
    /// the lines of a key file: a key, or the SHA-256 of one as 64 hex digits, then optionally
    /// its role, `submit` (the default) or `worker`; blank lines and `#` comments skipped.
    pub fn new(
        keys: &[String],
        worker_keys: &[String],
        file: Option<&str>,
    ) -> Result<Self, KeyError> {
        let mut digests = Vec::new();
        let given = (keys.iter().map(|k| (k, Role::Submit)))
            .chain(worker_keys.iter().map(|k| (k, Role::Worker)));
        for (i, (key, role)) in given.enumerate() {
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            if !valid_key(key) {
                return Err(KeyError::Invalid { line: i + 1 });
            }
            digests.push((digest(key.as_bytes()), role));
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
                let mut words = line.split_whitespace();
                let key = words.next().unwrap_or_default();
                let role = match (words.next(), words.next()) {
                    (None | Some("submit"), None) => Role::Submit,
                    (Some("worker"), None) => Role::Worker,
                    _ => return Err(KeyError::Role { line: i + 1 }),
                };
                match unhex(key) {
                    Some(d) => digests.push((d, role)),
                    None if valid_key(key) => digests.push((digest(key.as_bytes()), role)),
                    None => return Err(KeyError::Invalid { line: i + 1 }),
                }
            }
        }
        let both = digests.iter().any(|(d, role)| {
            (digests.iter()).any(|(other, other_role)| other == d && other_role != role)
        });
        if both {
            return Err(KeyError::TwoRoles);
        }
        Ok(Self { digests })
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The tenant of `key` and its role, if it is one of ours. Every digest is compared, in
    /// constant time.
    pub fn identify(&self, key: &str) -> Option<(String, Role)> {
        let presented = digest(key.as_bytes());
        let mut found = subtle::Choice::from(0);
        let mut which = [0u8; 32];
        let mut role = 0u8;
        for (known, known_role) in &self.digests {
            let hit = known.ct_eq(&presented);
            found |= hit;
            for (w, k) in which.iter_mut().zip(known) {
                *w = u8::conditional_select(w, k, hit);
            }
            role = u8::conditional_select(&role, &known_role.code(), hit);
        }
        let role = if role == Role::Worker.code() {
            Role::Worker
        } else {
            Role::Submit
        };
        bool::from(found).then(|| (hex(&which), role))
    }

    /// The tenant of `key`, if it is one of ours.
    pub fn tenant_of(&self, key: &str) -> Option<String> {
        self.identify(key).map(|(tenant, _)| tenant)
    }
}

/// Whether `path` is one of the workers' routes.
fn worker_route(path: &str) -> bool {
    if path.starts_with("/workers/") {
        return true;
    }
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (
            Some("jobs"),
            Some(_),
            Some("heartbeat" | "complete" | "fail" | "hand-back"),
            None
        )
    )
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
    let Some((tenant, role)) = presented.and_then(|key| keys.identify(key)) else {
        return ApiError::Unauthorized.into_response();
    };
    match (role, worker_route(req.uri().path())) {
        (Role::Submit, true) => {
            return ApiError::Forbidden("this route is for worker keys").into_response();
        }
        (Role::Worker, false) => {
            return ApiError::Forbidden("a worker key reaches only the workers' routes")
                .into_response();
        }
        _ => {}
    }
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
        let keys = ApiKeys::new(&[A.to_string()], &[], Some(file.to_str().unwrap())).unwrap();
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
            assert!(
                ApiKeys::new(&[bad.to_string()], &[], None).is_err(),
                "{bad:?}"
            );
        }
        assert!(ApiKeys::new(&[], &[], None).unwrap().is_empty());
    }

    #[test]
    fn keys_have_roles_from_the_flags_and_the_file() {
        const W: &str = "key-w-0123456789abcdef";
        const V: &str = "key-v-0123456789abcdef";
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        let v_digest = hex(&digest(V.as_bytes()));
        std::fs::write(&file, format!("{B} submit\n{v_digest}   worker\n")).unwrap();
        let path = file.to_str().unwrap();
        let keys = ApiKeys::new(&[A.to_string()], &[W.to_string()], Some(path)).unwrap();
        for (key, role) in [
            (A, Role::Submit),
            (B, Role::Submit),
            (W, Role::Worker),
            (V, Role::Worker),
        ] {
            let (tenant, got) = keys.identify(key).expect("known");
            assert_eq!((tenant, got), (hex(&digest(key.as_bytes())), role), "{key}");
        }
        let twice = ApiKeys::new(&[A.to_string()], &[A.to_string()], None);
        assert!(matches!(twice, Err(KeyError::TwoRoles)), "{twice:?}");
        for bad in [format!("{A} admin"), format!("{A} worker extra")] {
            std::fs::write(&file, bad).unwrap();
            let err = ApiKeys::new(&[], &[], Some(path)).unwrap_err();
            assert!(matches!(err, KeyError::Role { line: 1 }), "{err:?}");
        }
    }

    #[test]
    fn the_workers_routes_are_told_apart() {
        for path in [
            "/workers/claim",
            "/jobs/01a251a6-fab3-74dc-8968-b06d866596a5/heartbeat",
            "/jobs/x/complete",
            "/jobs/x/fail",
            "/jobs/x/hand-back",
            "/workers/complete",
        ] {
            assert!(worker_route(path), "{path}");
        }
        for path in [
            "/jobs",
            "/jobs/x",
            "/jobs/x/cancel",
            "/jobs/x/files/fail",
            "/jobs/x/fail/more",
            "/jobs/x/retry",
            "/metrics",
            "/workersx",
        ] {
            assert!(!worker_route(path), "{path}");
        }
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
