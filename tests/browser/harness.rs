//! [`Dash`]: one scenario's world — the real `faena` binary on a fresh SQLite file, a
//! headless Chromium driven through chromedriver (WebDriver, with `fantoccini`), and an HTTP
//! client for the same server — with the few steps the scenarios are written in: open a
//! route, wait for the DOM to say something, click, type, save a screenshot.
//!
//! Nothing here sleeps a fixed time: [`Dash::wait_for`] polls the DOM until its condition holds
//! or a deadline passes (then it saves a `-failure` screenshot and fails with what it saw, the
//! browser's console and the server's log). Everything started is stopped on drop: the
//! WebDriver session (which quits Chromium), chromedriver, the server.
//!
//! Without Chromium or chromedriver the scenarios print `SKIPPED: no chromium/chromedriver`
//! and pass, unless `FAENA_TEST_REQUIRE_BROWSER=1` (as in `.ci/run`): then they fail.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::driver::{CHROMIUM_ARGS, Driver, browser_binaries};
use crate::support::Server;

/// How long a condition may take to come true in the page.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often [`Dash::wait_for`] looks again.
pub const POLL: Duration = Duration::from_millis(50);

/// One element as [`Dash::wait_for`] sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct El {
    /// `innerText`, trimmed.
    pub text: String,
    /// Laid out and not `visibility: hidden`.
    pub visible: bool,
    /// A form control's `value`.
    pub value: Option<String>,
    /// `disabled`, or `aria-disabled="true"` (a control that keeps the focus while off).
    pub disabled: bool,
    pub attrs: HashMap<String, String>,
}

impl El {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Every element matching `arguments[0]`, as [`El`]s.
const SNAPSHOT_JS: &str = r#"
return Array.from(document.querySelectorAll(arguments[0])).map(e => ({
  text: (e.innerText ?? e.textContent ?? '').trim(),
  visible: e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden',
  value: typeof e.value === 'string' ? e.value : null,
  disabled: !!e.disabled || e.getAttribute('aria-disabled') === 'true',
  attrs: Object.fromEntries(Array.from(e.attributes, a => [a.name, a.value])),
}));
"#;

/// A scenario's server, browser session and HTTP client (its requests: `api.rs`).
pub struct Dash {
    /// The scenario's name: its screenshots are `<name>.png` (and `<name>-failure.png`).
    name: String,
    pub server: Server,
    pub http: reqwest::Client,
    /// Sent as `Authorization: Bearer` by [`Dash::api`] when set.
    pub key: Option<String>,
    browser: Client,
    session: String,
    driver: Arc<Driver>,
    /// Set once [`Dash::fail`] has saved the failure screenshot.
    failure_saved: AtomicBool,
    _db: TempDir,
    _profile: TempDir,
}

impl Dash {
    /// A fresh world for the scenario `name`; `None` when it must skip (no browser).
    pub async fn start(name: &str) -> Option<Dash> {
        Dash::start_with(name, &[]).await
    }

    /// [`Dash::start`] with more arguments for `faena serve`.
    pub async fn start_with(name: &str, serve_args: &[&str]) -> Option<Dash> {
        Dash::start_on(name, |url| Server::start(url, serve_args)).await
    }

    /// [`Dash::start`] with the server of `examples/{example}.rs` (faena as a library).
    pub async fn start_example(name: &str, example: &str) -> Option<Dash> {
        Dash::start_on(name, |url| {
            let envs = [("FAENA_DATABASE_URL", url), ("RUST_LOG", "info")];
            Server::start_example(example, &envs, &["--listen", "127.0.0.1:0"])
        })
        .await
    }

    /// A world whose server `start` starts on a fresh SQLite URL.
    async fn start_on(name: &str, start: impl FnOnce(&str) -> Server) -> Option<Dash> {
        let (driver_bin, chromium) = browser_binaries()?;
        // A failure screenshot left by an earlier run would say this one failed too.
        let _ = std::fs::remove_file(output_dir().join(format!("{name}-failure.png")));
        faena::kinds::fetch_urls::client::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(70))
            .build()
            .expect("a reqwest client");
        let db = TempDir::new().expect("a temporary directory");
        let url = format!("sqlite://{}/faena.db", db.path().display());
        let server = start(&url);
        let driver = Driver::shared(&driver_bin, &http).await;
        let profile = TempDir::new().expect("a temporary profile directory");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(serde_json::from_value(capabilities).unwrap())
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let session = browser
            .session_id()
            .await
            .expect("session id")
            .expect("a session id");
        Some(Dash {
            name: name.to_string(),
            server,
            http,
            key: None,
            browser,
            session,
            driver,
            failure_saved: AtomicBool::new(false),
            _db: db,
            _profile: profile,
        })
    }

    /// The dashboard at `route` (the part after `#`, e.g. `/jobs?limit=3`): a full load, even
    /// when the page is already there under another route.
    pub async fn open(&self, route: &str) {
        let url = self.server.url(&format!("/ui/#{route}"));
        self.browser
            .goto("about:blank")
            .await
            .expect("a blank page");
        self.browser.goto(&url).await.expect("the page loads");
    }

    /// Runs `script` in the page; what it returns.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The page's `location.hash`.
    pub async fn hash(&self) -> String {
        let hash = self.js("return location.hash", vec![]).await;
        hash.as_str().unwrap_or_default().to_string()
    }

    /// The elements matching `css` right now.
    pub async fn snapshot(&self, css: &str) -> Vec<El> {
        let found = self.js(SNAPSHOT_JS, vec![json!(css)]).await;
        serde_json::from_value(found).expect("element snapshots")
    }

    /// Polls the elements matching `css` until `ready` holds for them (at most [`PATIENCE`]);
    /// returns them. On timeout: a `-failure` screenshot and a panic saying what was seen.
    pub async fn wait_for(&self, css: &str, ready: impl Fn(&[El]) -> bool) -> Vec<El> {
        let started = Instant::now();
        loop {
            let found = self.snapshot(css).await;
            if ready(&found) {
                return found;
            }
            if started.elapsed() > PATIENCE {
                self.fail(&format!("`{css}` never got ready; last seen: {found:#?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for exactly one visible element matching `css` whose text satisfies `ready`.
    pub async fn wait_text(&self, css: &str, ready: impl Fn(&str) -> bool) -> El {
        self.wait_for(
            css,
            |els| matches!(els, [el] if el.visible && ready(&el.text)),
        )
        .await
        .remove(0)
    }

    /// Waits for one visible element matching `css`.
    pub async fn wait_visible(&self, css: &str) -> El {
        self.wait_text(css, |_| true).await
    }

    /// Waits until `location.hash` satisfies `ready`; returns it.
    pub async fn wait_hash(&self, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let hash = self.hash().await;
            if ready(&hash) {
                return hash;
            }
            if started.elapsed() > PATIENCE {
                self.fail(&format!("the location never got ready; last: {hash:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the one element matching `css` (once it is visible), as a user would.
    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        let element = self.browser.find(Locator::Css(css)).await.expect(css);
        if let Err(e) = element.click().await {
            self.fail(&format!("clicking `{css}` failed: {e}")).await;
        }
    }

    /// Replaces the text of the input matching `css` with `text`, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        self.wait_visible(css).await;
        let element = self.browser.find(Locator::Css(css)).await.expect(css);
        element.clear().await.expect("the field clears");
        if !text.is_empty() {
            element.send_keys(text).await.expect("the field takes keys");
        }
    }

    /// Picks the option of value `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(&format!("{css} option[value=\"{value}\"]"), |els| {
            els.len() == 1
        })
        .await;
        let element = self.browser.find(Locator::Css(css)).await.expect(css);
        element.select_by_value(value).await.expect("the option");
    }

    /// Saves the page as `target/test-output/browser/<file>.png`; checks it is a PNG of the
    /// window's width. Its path.
    pub async fn screenshot(&self, file: &str) -> PathBuf {
        let png = self.browser.screenshot().await.expect("a screenshot");
        assert_eq!(png.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "not a PNG");
        // The IHDR chunk comes first: its width and height are big-endian u32 at 16 and 20.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(&png[12..16], b"IHDR", "a PNG starts with its header chunk");
        assert!(width == 1280 && height > 0, "a {width}×{height} screenshot");
        let dir = output_dir();
        std::fs::create_dir_all(&dir).expect("the output folder");
        let path = dir.join(format!("{file}.png"));
        std::fs::write(&path, &png).expect("the screenshot is written");
        path
    }

    /// The browser console's errors since the last call: script errors and refusals by the
    /// Content-Security-Policy. Not the HTTP errors the scenarios provoke on purpose (a 401,
    /// a 422), which Chromium logs as "Failed to load resource", nor a missing favicon.
    pub async fn console_errors(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver.url, self.session);
        let Ok(resp) = self
            .http
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
        else {
            return vec!["(the console log could not be read)".into()];
        };
        let status = resp.status();
        let log: Value = match resp.json().await {
            Ok(log) => log,
            Err(e) => return vec![format!("(the console log is not JSON: {status}, {e})")],
        };
        // Anything but a list of entries would read as "no error": that is a failure too.
        let Some(entries) = log["value"].as_array() else {
            return vec![format!("(the console log is not a list: {status}, {log})")];
        };
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter_map(|e| e["message"].as_str())
            .filter(|m| !m.contains("favicon.ico") && !m.contains("Failed to load resource"))
            .map(str::to_string)
            .collect()
    }

    /// Ends the scenario: its screenshot, and no error in the browser's console.
    pub async fn finish(self) {
        self.screenshot(&self.name).await;
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "errors in the console: {errors:#?}");
    }

    /// Saves `<name>-failure.png` and panics with `why`, the console and the server's log.
    pub async fn fail(&self, why: &str) -> ! {
        let shot = self.screenshot(&format!("{}-failure", self.name)).await;
        self.failure_saved.store(true, Ordering::Relaxed);
        let console = self.console_errors().await;
        panic!(
            "{why}\nscreenshot: {}\nhash: {}\nconsole errors: {console:#?}\nserver log:\n{}",
            shot.display(),
            self.hash().await,
            self.server.log()
        );
    }
}

impl Dash {
    /// On a failed assertion (a panic that did not go through [`Dash::fail`]): saves
    /// `<name>-failure.png` from a thread of its own, on a runtime of its own (this one is
    /// unwinding inside the test's), through a second client on the same session.
    fn screenshot_on_panic(&self) {
        if !std::thread::panicking() || self.failure_saved.load(Ordering::Relaxed) {
            return;
        }
        let (url, session) = (self.driver.url.clone(), self.session.clone());
        let path = output_dir().join(format!("{}-failure.png", self.name));
        let saved = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                let client = Client::with_existing_session(&url, &session, connector)
                    .await
                    .ok()?;
                // Dropping this client must not end the session: Drop does.
                client.persist().await.ok()?;
                let png = client.screenshot().await.ok()?;
                std::fs::create_dir_all(output_dir()).ok()?;
                std::fs::write(&path, png).ok()?;
                Some(path)
            })
        })
        .join();
        if let Ok(Some(path)) = saved {
            eprintln!("screenshot: {}", path.display());
        }
    }
}

impl Drop for Dash {
    /// Ends the WebDriver session (chromedriver quits Chromium) with a blocking request, so
    /// that it happens on a panic too, where the async client's runtime may be gone.
    fn drop(&mut self) {
        self.screenshot_on_panic();
        let Some(addr) = self.driver.url.strip_prefix("http://") else {
            return;
        };
        let Ok(mut conn) = TcpStream::connect(addr) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        // chromedriver answers once Chromium has quit, and may keep the connection open after:
        // the first bytes of its answer are enough.
        if conn.write_all(request.as_bytes()).is_ok() {
            let _ = conn.read(&mut [0; 512]);
        }
    }
}

/// `target/test-output/browser/` (of the build's target directory).
pub fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("test-output/browser")
}
