//! The one HTTP client every `fetch_urls` job shares: connection pooling, rustls, the SSRF
//! guard on every address connected to, redirects checked hop by hop, a size cap per page,
//! and a cap on requests in flight across all jobs.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{Url, redirect};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::guard::{self, GuardError, GuardedResolver, Policy};
use super::{PageError, PageErrorCode};
use crate::error_chain;

/// Most redirects followed for one URL.
pub const MAX_REDIRECTS: usize = 5;

/// How the shared client behaves.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Which addresses may be connected to.
    pub policy: Policy,
    /// Largest page body kept, in bytes; a larger page fails with `too_large`.
    pub max_page_bytes: u64,
    /// Requests in flight across all jobs, counting a fetched page until it is saved: with
    /// `max_page_bytes`, it bounds the pages held in memory.
    pub max_in_flight: usize,
    /// Connect timeout of one connection.
    pub connect_timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            max_page_bytes: 10 * 1024 * 1024,
            max_in_flight: 1024,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A page fetched: its final status, content type and body, and its place among the
/// requests in flight, held until the page is dropped (so saving it counts as in flight too,
/// and the pages in memory stay within `max_in_flight`).
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub slot: Option<OwnedSemaphorePermit>,
}

/// The shared client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
    in_flight: Arc<Semaphore>,
    max_page_bytes: u64,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// Makes ring the process's TLS crypto provider (reqwest is built without one). Call before
/// building any `reqwest::Client`; calling again is harmless.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Self, ClientError> {
        install_crypto();
        let policy = Arc::new(config.policy.clone());
        let redirect_policy = {
            let policy = Arc::clone(&policy);
            redirect::Policy::custom(move |attempt| check_redirect(&policy, attempt))
        };
        let client = reqwest::Client::builder()
            // A proxy would connect on our behalf, past the guard.
            .no_proxy()
            .dns_resolver(GuardedResolver::new(Arc::clone(&policy)))
            .redirect(redirect_policy)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("faena/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .build()?;
        Ok(Self {
            client,
            policy,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            max_page_bytes: config.max_page_bytes,
        })
    }

    /// Fetches `url` within `timeout` (counted once a global slot is free).
    pub async fn fetch(&self, url: &Url, timeout: Duration) -> Result<Fetched, PageError> {
        let slot = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .map_err(|_| PageError::new(PageErrorCode::Internal, "the fetcher is closed"))?;
        match tokio::time::timeout(timeout, self.get(url)).await {
            Ok(result) => result.map(|page| Fetched {
                slot: Some(slot),
                ..page
            }),
            Err(_) => Err(PageError::new(
                PageErrorCode::Timeout,
                format!("no complete answer within {} ms", timeout.as_millis()),
            )),
        }
    }

    async fn get(&self, url: &Url) -> Result<Fetched, PageError> {
        // IP literals never reach the resolver: check them here (redirects: in the policy).
        self.policy.check_url(url).map_err(|e| guard_error(&e))?;
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
            // The policy follows every redirect it can: one that comes back had no usable
            // `Location`.
            return Err(PageError {
                code: PageErrorCode::BadRedirect,
                status: Some(status.as_u16()),
                message: format!("the server answered {status} without a usable location"),
            });
        }
        if !status.is_success() {
            return Err(PageError::with_status(status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cap = self.max_page_bytes;
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(too_large(cap));
        }
        let mut body = BytesMut::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(too_large(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status: status.as_u16(),
            content_type,
            body: body.freeze(),
            slot: None,
        })
    }
}

fn too_large(cap: u64) -> PageError {
    PageError::new(
        PageErrorCode::TooLarge,
        format!("the page is larger than {cap} bytes"),
    )
}

/// Follows a redirect only to http(s), to an address the guard allows, without loops and at
/// most [`MAX_REDIRECTS`] times.
fn check_redirect(policy: &Policy, attempt: redirect::Attempt) -> redirect::Action {
    let url = attempt.url();
    if !matches!(url.scheme(), "http" | "https") {
        let scheme = url.scheme().to_owned();
        return attempt.error(RedirectError::Scheme(scheme));
    }
    if let Err(err) = policy.check_url(url) {
        return attempt.error(err);
    }
    if attempt.previous().contains(url) {
        return attempt.error(RedirectError::Loop);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(RedirectError::TooMany);
    }
    attempt.follow()
}

/// Why a redirect was not followed.
#[derive(Debug, thiserror::Error)]
enum RedirectError {
    #[error("redirected to a `{0}` URL (only http and https are fetched)")]
    Scheme(String),
    #[error("the redirects loop")]
    Loop,
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
}

fn guard_error(err: &GuardError) -> PageError {
    let code = match err {
        GuardError::Dns { .. } => PageErrorCode::Dns,
        _ => PageErrorCode::BlockedAddress,
    };
    PageError::new(code, err.to_string())
}

/// Maps a client error to a page error code, looking through its causes.
fn classify(err: reqwest::Error) -> PageError {
    if let Some(found) = guard::find_in(&err) {
        return guard_error(found);
    }
    if let Some(redirect) = error_chain::find::<RedirectError>(&err) {
        let code = match redirect {
            RedirectError::Scheme(_) => PageErrorCode::BadRedirect,
            RedirectError::Loop => PageErrorCode::RedirectLoop,
            RedirectError::TooMany => PageErrorCode::TooManyRedirects,
        };
        return PageError::new(code, redirect.to_string());
    }
    let code = if err.is_timeout() {
        PageErrorCode::Timeout
    } else if err.is_connect() {
        PageErrorCode::Connect
    } else if err.is_body() || err.is_decode() {
        PageErrorCode::Body
    } else if err.is_builder() {
        PageErrorCode::BadUrl
    } else {
        PageErrorCode::Protocol
    };
    // reqwest's own message hides the cause.
    PageError::new(code, error_chain::text(&err))
}
