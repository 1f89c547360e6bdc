//! `fetch_urls`: downloads a list of URLs concurrently as async tasks (at most `concurrency`
//! requests of the job in flight, and a global cap across jobs), optionally saving each page
//! in the job store. A page that fails is reported with a stable code; the job succeeds
//! unless it is cancelled, times out or fails internally.

pub mod client;
pub mod guard;
mod names;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{Limits, SpecError};
use crate::store::NewFile;
pub use client::{FetchConfig, Fetcher};
pub use names::file_name;

/// Parameters of `fetch_urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FetchUrlsParams, example = json!({"urls": ["https://example.com/"], "concurrency": 16}))]
pub struct Params {
    /// 1 to 10,000 `http` or `https` URLs.
    pub urls: Vec<String>,
    /// Requests of this job in flight at once, 1 to 1,000 (default 16).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Time for one URL (connect, redirects and body), 1 ms to 300,000 (default 10,000).
    #[serde(default = "default_url_timeout_ms")]
    pub url_timeout_ms: u64,
    /// Keep each page that succeeded, for `GET /jobs/{id}/files` and `word_count` (default true).
    #[serde(default = "default_save")]
    pub save: bool,
    /// When some URLs fail with a transient error (timeout, connect, dns, body, protocol,
    /// save_failed, or HTTP 408/429/5xx), fail the attempt with `fetch_incomplete` so that
    /// the whole job is tried again after a back-off, while attempts remain; the last attempt
    /// succeeds with what it got (default false).
    #[serde(default)]
    pub retry_transient: bool,
}

fn default_concurrency() -> u32 {
    16
}

fn default_url_timeout_ms() -> u64 {
    10_000
}

fn default_save() -> bool {
    true
}

/// Longest `url_timeout_ms`.
pub const MAX_URL_TIMEOUT_MS: u64 = 300_000;
/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 4096;

impl Params {
    pub fn validate(&self, limits: &Limits) -> Result<(), SpecError> {
        let n = self.urls.len();
        if n == 0 || n > limits.max_fetch_urls {
            return Err(SpecError::param(
                "urls",
                format!(
                    "urls must hold 1 to {} URLs, got {n}",
                    limits.max_fetch_urls
                ),
            ));
        }
        for (i, url) in self.urls.iter().enumerate() {
            parse_url(url).map_err(|why| SpecError::param(format!("urls[{i}]"), why))?;
        }
        let max = limits.max_fetch_concurrency;
        if self.concurrency == 0 || self.concurrency > max {
            return Err(SpecError::param(
                "concurrency",
                format!(
                    "concurrency must be between 1 and {max}, got {}",
                    self.concurrency
                ),
            ));
        }
        if self.url_timeout_ms == 0 || self.url_timeout_ms > MAX_URL_TIMEOUT_MS {
            return Err(SpecError::param(
                "url_timeout_ms",
                format!(
                    "url_timeout_ms must be between 1 and {MAX_URL_TIMEOUT_MS}, got {}",
                    self.url_timeout_ms
                ),
            ));
        }
        Ok(())
    }
}

/// Parses a URL to fetch: absolute, `http` or `https`, with a host.
fn parse_url(text: &str) -> Result<Url, String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} bytes"));
    }
    let url = Url::parse(text).map_err(|e| format!("not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs are fetched, not `{}`",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    Ok(url)
}

/// Result of `fetch_urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = FetchUrlsResult)]
pub struct Output {
    pub succeeded: u64,
    pub failed: u64,
    /// One per URL, in request order.
    pub pages: Vec<Page>,
}

/// What became of one URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Page {
    pub url: String,
    pub ok: bool,
    /// HTTP status of the final response: set when the page succeeded, or failed with
    /// `http_status` or `bad_redirect`.
    pub status: Option<u16>,
    /// Size of the body in bytes.
    pub bytes: Option<u64>,
    /// Unicode characters of the body decoded as UTF-8 (invalid bytes count as U+FFFD), as
    /// Python's `len(text)` counts them.
    pub chars: Option<u64>,
    pub elapsed_ms: u64,
    /// Name of the saved page (`GET /jobs/{id}/files/{name}`), when saved.
    pub file: Option<String>,
    /// Why the page failed.
    pub error: Option<PageErrorCode>,
    /// The failure in words.
    pub message: Option<String>,
}

impl Output {
    /// The error of an attempt some of whose pages failed in a way that may pass.
    pub fn transient_error(&self) -> Option<crate::job::JobError> {
        let mut transient = self
            .pages
            .iter()
            .filter(|p| p.error.is_some_and(|code| code.is_transient(p.status)));
        let first = transient.next()?;
        let count = 1 + transient.count();
        Some(crate::job::JobError::new(
            crate::job::JobErrorCode::FetchIncomplete,
            format!(
                "{count} of {} URLs failed with transient errors (the first: {} {}: {})",
                self.pages.len(),
                first.url,
                first.error.map_or("", PageErrorCode::as_str),
                first.message.as_deref().unwrap_or(""),
            ),
        ))
    }
}

/// Stable codes of page failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageErrorCode {
    /// No complete answer within `url_timeout_ms`.
    Timeout,
    /// The connection (or its TLS handshake) failed.
    Connect,
    /// The host name does not resolve.
    Dns,
    /// The body is larger than the page cap.
    TooLarge,
    /// The final response is not a 2xx.
    HttpStatus,
    /// The host is (or resolves only to) an address faena may not fetch.
    BlockedAddress,
    /// More redirects than allowed.
    TooManyRedirects,
    /// A redirect leads back to a URL already visited.
    RedirectLoop,
    /// A redirect to something other than http(s), or without a usable location.
    BadRedirect,
    /// The body broke off.
    Body,
    /// The server broke the HTTP protocol.
    Protocol,
    /// The URL cannot be requested.
    BadUrl,
    /// The page could not be saved.
    SaveFailed,
    /// A bug in faena.
    Internal,
}

impl PageErrorCode {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::TooLarge => "too_large",
            Self::HttpStatus => "http_status",
            Self::BlockedAddress => "blocked_address",
            Self::TooManyRedirects => "too_many_redirects",
            Self::RedirectLoop => "redirect_loop",
            Self::BadRedirect => "bad_redirect",
            Self::Body => "body",
            Self::Protocol => "protocol",
            Self::BadUrl => "bad_url",
            Self::SaveFailed => "save_failed",
            Self::Internal => "internal",
        }
    }

    /// Whether the failure may pass if the URL is tried again later: network trouble, and
    /// the HTTP statuses that say so (408, 429, 5xx); not a refused address, a bad URL or
    /// redirect, or a page too large.
    pub fn is_transient(self, status: Option<u16>) -> bool {
        match self {
            Self::Timeout | Self::Connect | Self::Dns | Self::Body | Self::Protocol => true,
            Self::SaveFailed => true,
            Self::HttpStatus => status.is_some_and(|s| s == 408 || s == 429 || s >= 500),
            _ => false,
        }
    }
}

/// A page failure: its code, and the status when a response came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub code: PageErrorCode,
    pub status: Option<u16>,
    pub message: String,
}

impl PageError {
    pub fn new(code: PageErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status: None,
            message: message.into(),
        }
    }

    fn with_status(status: u16) -> Self {
        Self {
            code: PageErrorCode::HttpStatus,
            status: Some(status),
            message: format!("the server answered {status}"),
        }
    }
}

/// Where saved pages go (the job store, under the run's lease).
#[async_trait]
pub trait PageSink: Send + Sync {
    /// Saves one page; [`SaveError::LeaseLost`] when the run lost its lease and must stop.
    async fn save(&self, file: NewFile) -> Result<(), SaveError>;
}

/// Why a page was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The run no longer owns its job: stop.
    #[error("the run lost its lease")]
    LeaseLost,
    #[error("{0}")]
    Store(String),
}

/// Fetches every URL, at most `concurrency` at once, saving pages into `sink` when asked.
/// Returns [`Stopped`] as soon as the run is cancelled (in-flight requests are dropped).
pub async fn run(
    params: &Params,
    ctl: &Ctl,
    fetcher: &Fetcher,
    sink: &dyn PageSink,
) -> Result<Output, Stopped> {
    ctl.set_total(params.urls.len() as u64);
    let timeout = Duration::from_millis(params.url_timeout_ms);
    // Indices, not `&String` items: a stream of borrowed items trips up the `Send` proof of
    // the spawned run (rust-lang/rust#100013).
    let fetch_all = futures_util::stream::iter(0..params.urls.len())
        .map(|index| async move {
            let url = &params.urls[index];
            let page = one(index, url, timeout, params.save, fetcher, sink).await;
            ctl.advance(1);
            page.map(|page| (index, page))
        })
        .buffer_unordered(params.concurrency.max(1) as usize)
        .collect::<Vec<_>>();
    let pages = tokio::select! {
        pages = fetch_all => pages,
        () = ctl.token().cancelled() => return Err(Stopped),
    };
    let mut pages = pages.into_iter().collect::<Result<Vec<_>, Stopped>>()?;
    pages.sort_unstable_by_key(|(index, _)| *index);
    let pages: Vec<Page> = pages.into_iter().map(|(_, page)| page).collect();
    let succeeded = pages.iter().filter(|p| p.ok).count() as u64;
    Ok(Output {
        succeeded,
        failed: pages.len() as u64 - succeeded,
        pages,
    })
}

/// Fetches (and saves) one URL; `Err` only when the run must stop.
async fn one(
    index: usize,
    text: &str,
    timeout: Duration,
    save: bool,
    fetcher: &Fetcher,
    sink: &dyn PageSink,
) -> Result<Page, Stopped> {
    let start = Instant::now();
    let fetched = match parse_url(text) {
        Ok(url) => fetcher.fetch(&url, timeout).await.map(|f| (url, f)),
        Err(why) => Err(PageError::new(PageErrorCode::BadUrl, why)),
    };
    let mut page = Page {
        url: text.to_owned(),
        ok: false,
        status: None,
        bytes: None,
        chars: None,
        elapsed_ms: 0,
        file: None,
        error: None,
        message: None,
    };
    match fetched {
        Ok((url, fetched)) => {
            page.ok = true;
            page.status = Some(fetched.status);
            page.bytes = Some(fetched.body.len() as u64);
            page.chars = Some(count_chars(&fetched.body));
            if save {
                let name = file_name(index, &url);
                let file = NewFile {
                    index: index as u32,
                    name: name.clone(),
                    content_type: fetched
                        .content_type
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    content: fetched.body,
                };
                match sink.save(file).await {
                    Ok(()) => page.file = Some(name),
                    Err(SaveError::LeaseLost) => return Err(Stopped),
                    Err(SaveError::Store(why)) => {
                        page.ok = false;
                        page.error = Some(PageErrorCode::SaveFailed);
                        page.message = Some(why);
                    }
                }
            }
        }
        Err(err) => {
            page.status = err.status;
            page.error = Some(err.code);
            page.message = Some(err.message);
        }
    }
    page.elapsed_ms = start.elapsed().as_millis() as u64;
    crate::telemetry::metrics::fetch_request(page.error.map_or("ok", PageErrorCode::as_str));
    Ok(page)
}

/// Characters of `bytes` decoded as UTF-8, invalid sequences counting as one U+FFFD each.
pub fn count_chars(bytes: &[u8]) -> u64 {
    match std::str::from_utf8(bytes) {
        // Every byte that is not a continuation byte starts a character.
        Ok(_) => bytes.iter().filter(|&&b| (b as i8) >= -0x40).count() as u64,
        Err(_) => String::from_utf8_lossy(bytes).chars().count() as u64,
    }
}

#[cfg(test)]
mod tests;
