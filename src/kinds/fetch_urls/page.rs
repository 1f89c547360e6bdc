//! What a `fetch_urls` run reports: its [`Output`], a [`Page`] per URL, and the stable codes
//! of page failures, with which of them may pass on a later attempt.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::job::{JobError, JobErrorCode};

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
    pub fn transient_error(&self) -> Option<JobError> {
        let mut transient = self
            .pages
            .iter()
            .filter(|p| p.error.is_some_and(|code| code.is_transient(p.status)));
        let first = transient.next()?;
        let count = 1 + transient.count();
        Some(JobError::new(
            JobErrorCode::FetchIncomplete,
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

    pub(super) fn with_status(status: u16) -> Self {
        Self {
            code: PageErrorCode::HttpStatus,
            status: Some(status),
            message: format!("the server answered {status}"),
        }
    }
}
