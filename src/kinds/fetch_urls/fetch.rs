//! The fetching of one run: every URL of the job, at most `concurrency` at once (each request
//! also takes a permit of the process-wide cap), each page saved as it arrives when asked.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::page::{Output, Page, PageError, PageErrorCode};
use super::{Fetcher, Params, file_name, parse_url};
use crate::job::NewFile;
use crate::kind::{Ctl, FileError, Stopped};

/// Fetches every URL, at most `concurrency` at once, saving pages when asked. Returns
/// [`Stopped`] as soon as the run is stopped (in-flight requests are dropped).
pub(super) async fn fetch_all(
    params: &Params,
    ctl: &Ctl,
    fetcher: &Fetcher,
) -> Result<Output, Stopped> {
    ctl.set_total(params.urls.len() as u64);
    let timeout = Duration::from_millis(params.url_timeout_ms);
    // Indices, not `&String` items: a stream of borrowed items trips up the `Send` proof of
    // the spawned run (rust-lang/rust#100013).
    let fetch_all = futures_util::stream::iter(0..params.urls.len())
        .map(|index| async move {
            let url = &params.urls[index];
            let page = one(index, url, timeout, params.save, fetcher, ctl).await;
            ctl.advance(1);
            page.map(|page| (index, page))
        })
        .buffer_unordered(params.concurrency.max(1) as usize)
        .collect::<Vec<_>>();
    let pages = tokio::select! {
        pages = fetch_all => pages,
        () = ctl.stopped() => return Err(Stopped),
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
    ctl: &Ctl,
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
                match ctl.save_file(file).await {
                    Ok(()) => page.file = Some(name),
                    Err(FileError::LeaseLost) => return Err(Stopped),
                    Err(err) => {
                        page.ok = false;
                        page.error = Some(PageErrorCode::SaveFailed);
                        page.message = Some(err.to_string());
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
