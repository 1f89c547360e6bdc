//! `fetch_urls`: downloads a list of URLs concurrently as async tasks (at most `concurrency`
//! requests of the job in flight, and a global cap across jobs), optionally saving each page
//! in the job store. A page that fails is reported with a stable code; the job succeeds
//! unless it is cancelled, times out or fails internally.

pub mod client;
mod fetch;
pub mod guard;
mod names;
mod page;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::job::SpecError;
use crate::kind::{Ctl, FileError, JobClass, Kind, KindError, schema};
pub use client::{FetchConfig, Fetcher};
pub use fetch::count_chars;
pub use names::file_name;
pub use page::{Output, Page, PageError, PageErrorCode};

/// The kind: the bounds it accepts and the HTTP client every run shares.
#[derive(Debug, Clone)]
pub struct FetchUrls {
    pub limits: FetchLimits,
    pub fetcher: Fetcher,
}

/// The bounds of `fetch_urls` jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Most URLs in one job.
    pub max_urls: usize,
    /// Largest `concurrency` of one job.
    pub max_concurrency: u32,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_urls: 10_000,
            max_concurrency: 1_000,
        }
    }
}

/// Parameters of `fetch_urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FetchUrlsParams, example = json!({"urls": ["https://example.com/"], "concurrency": 16}))]
pub struct Params {
    /// 1 to 10,000 `http` or `https` URLs.
    pub urls: Vec<String>,
    /// Requests of this job in flight at once, 1 to 1,000 (default 16).
    #[serde(default = "default_concurrency")]
    #[schema(default = 16)]
    pub concurrency: u32,
    /// Time for one URL (connect, redirects and body), 1 ms to 300,000 (default 10,000).
    #[serde(default = "default_url_timeout_ms")]
    #[schema(default = 10_000)]
    pub url_timeout_ms: u64,
    /// Keep each page that succeeded, for `GET /jobs/{id}/files` and `word_count` (default true).
    #[serde(default = "default_save")]
    #[schema(default = true)]
    pub save: bool,
    /// When some URLs fail with a transient error (timeout, connect, dns, body, protocol,
    /// save_failed, or HTTP 408/429/5xx), fail the attempt with `fetch_incomplete` so that
    /// the whole job is tried again after a back-off, while attempts remain; the last attempt
    /// succeeds with what it got (default false).
    #[serde(default)]
    #[schema(default = false)]
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

impl FetchLimits {
    /// Checks `p` against these bounds.
    pub fn check(&self, p: &Params) -> Result<(), SpecError> {
        let n = p.urls.len();
        if n == 0 || n > self.max_urls {
            return Err(SpecError::param(
                "urls",
                format!("urls must hold 1 to {} URLs, got {n}", self.max_urls),
            ));
        }
        for (i, url) in p.urls.iter().enumerate() {
            parse_url(url).map_err(|why| SpecError::param(format!("urls[{i}]"), why))?;
        }
        let max = self.max_concurrency;
        if p.concurrency == 0 || p.concurrency > max {
            return Err(SpecError::param(
                "concurrency",
                format!(
                    "concurrency must be between 1 and {max}, got {}",
                    p.concurrency
                ),
            ));
        }
        if p.url_timeout_ms == 0 || p.url_timeout_ms > MAX_URL_TIMEOUT_MS {
            return Err(SpecError::param(
                "url_timeout_ms",
                format!(
                    "url_timeout_ms must be between 1 and {MAX_URL_TIMEOUT_MS}, got {}",
                    p.url_timeout_ms
                ),
            ));
        }
        Ok(())
    }
}

impl Kind for FetchUrls {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "fetch_urls"
    }

    fn class(&self) -> JobClass {
        JobClass::Io
    }

    fn summary(&self) -> &str {
        "Download a list of URLs concurrently, optionally saving the pages (I/O)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        self.limits.check(p)
    }

    fn limits(&self) -> serde_json::Value {
        json!({
            "max_urls": self.limits.max_urls,
            "max_concurrency": self.limits.max_concurrency,
            "max_url_timeout_ms": MAX_URL_TIMEOUT_MS,
        })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/urls/minItems", 1);
        schema::set(&mut s, "/properties/urls/maxItems", self.limits.max_urls);
        schema::set(&mut s, "/properties/concurrency/minimum", 1);
        let max = self.limits.max_concurrency;
        schema::set(&mut s, "/properties/concurrency/maximum", max);
        schema::set(&mut s, "/properties/url_timeout_ms/minimum", 1);
        schema::set(
            &mut s,
            "/properties/url_timeout_ms/maximum",
            MAX_URL_TIMEOUT_MS,
        );
        s
    }

    fn saves_files(&self, p: &Params) -> bool {
        p.save
    }

    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        // Pages of an earlier, interrupted attempt go: the result lists only this one's.
        if p.save {
            match ctl.clear_files().await {
                Ok(()) => {}
                Err(FileError::LeaseLost) => return Err(KindError::Stopped),
                Err(err) => {
                    return Err(KindError::storage(
                        "clearing the last attempt's pages",
                        &err,
                    ));
                }
            }
        }
        let output = fetch::fetch_all(&p, &ctl, &self.fetcher).await?;
        if p.retry_transient
            && !ctl.is_last_attempt()
            && let Some(error) = output.transient_error()
        {
            return Err(KindError::Retry(error));
        }
        Ok(output)
    }
}

/// Parses a URL to fetch: absolute, `http` or `https`, with a host.
pub(super) fn parse_url(text: &str) -> Result<Url, String> {
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

#[cfg(test)]
mod tests;
