//! End-to-end tests of the dashboard (`/ui/`) in headless Chromium, driven through
//! chromedriver: the real `faena` binary on a fresh SQLite file per scenario, a user's clicks
//! and keystrokes, and assertions through the DOM contract of the UI only (ids, classes and
//! `data-` attributes), checked against what the HTTP API says for the same jobs.
//!
//! Each scenario saves a screenshot, `target/test-output/browser/<scenario>.png` (and
//! `<scenario>-failure.png` when a wait times out). Without Chromium and chromedriver
//! (Debian's `chromium` and `chromium-driver`) they print `SKIPPED` and pass, unless
//! `FAENA_TEST_REQUIRE_BROWSER=1`; `FAENA_TEST_CHROMIUM` and `FAENA_TEST_CHROMEDRIVER` name
//! other binaries.

mod support;

mod browser {
    pub mod api;
    pub mod driver;
    pub mod harness;

    mod custom_kind;
    mod form;
    mod jobs;
    mod keys;
    mod listing;
    mod overview;
    mod worker_kind;
}
