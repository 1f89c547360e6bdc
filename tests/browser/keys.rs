//! A server with API keys: the dashboard asks for one (`#key-form`), keeps asking for a wrong
//! one, shows the overview and that key's jobs once it has the right one, and remembers it
//! for the browser session (a reload asks no more).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::Dash;

const KEY: &str = "browser-key-0123456789";
const OTHER: &str = "other-key-0123456789ab";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_asks_for_a_key_and_then_works_with_it() {
    let keys = format!("{KEY},{OTHER}");
    let Some(mut dash) = Dash::start_with("api_key", &["--api-keys", &keys]).await else {
        return;
    };
    let (status, _) = dash.api(Method::GET, "/jobs", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the server wants a key");
    dash.key = Some(OTHER.into());
    let theirs = dash
        .submit(json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    dash.key = Some(KEY.into());
    let mine = dash
        .submit(json!({"kind": "count_primes", "params": {"start": 0, "end": 1000}}))
        .await;
    let mine = mine["id"].as_str().unwrap();
    dash.final_job(mine).await;

    dash.open("/").await;
    dash.wait_visible("form#key-form").await;
    dash.fill("#key-form input#api-key", "not-a-key-0123456789")
        .await;
    dash.click("#key-form button[type=\"submit\"], #key-form button:not([type])")
        .await;
    // Refused: still asking (the field emptied or not), no overview.
    dash.wait_visible("form#key-form").await;
    assert!(
        dash.snapshot("#stat-counts")
            .await
            .iter()
            .all(|e| !e.visible)
    );
    dash.fill("#key-form input#api-key", KEY).await;
    dash.click("#key-form button[type=\"submit\"], #key-form button:not([type])")
        .await;
    dash.wait_visible("#stat-counts").await;
    dash.wait_for("form#key-form", |els| els.iter().all(|e| !e.visible))
        .await;
    dash.wait_text("#stat-counts [data-status=\"succeeded\"] .count", |c| {
        c == "1"
    })
    .await;

    // This key's jobs only.
    dash.click("nav a[href=\"#/jobs\"]").await;
    let rows = dash
        .wait_for("#jobs-table tbody tr[data-job-id]", |rows| rows.len() == 1)
        .await;
    assert_eq!(rows[0].attr("data-job-id"), Some(mine));
    assert_ne!(theirs["id"].as_str(), Some(mine));

    // Kept for the session: a reload does not ask again.
    dash.open("/").await;
    dash.wait_visible("#stat-counts").await;
    dash.wait_text("#stat-counts [data-status=\"succeeded\"] .count", |c| {
        c == "1"
    })
    .await;
    assert!(
        dash.snapshot("form#key-form")
            .await
            .iter()
            .all(|e| !e.visible)
    );
    dash.finish().await;
}
