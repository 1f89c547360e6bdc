//! A kind the dashboard has no code for: `sha256_chain` of `examples/custom_kind.rs` (faena
//! as a library), submitted through the form the dashboard builds from its schema.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::harness::Dash;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_of_a_kind_of_ones_own_submits_it() {
    let Some(dash) = Dash::start_example("custom_kind_form", "custom_kind").await else {
        return;
    };
    dash.open("/submit?kind=sha256_chain").await;
    dash.wait_text("#submit-kind-hint", |t| t.contains("SHA-256"))
        .await;
    dash.fill("#submit-form [name=\"input\"]", "dashboard")
        .await;
    dash.fill("#submit-form [name=\"rounds\"]", "3").await;
    dash.click("button#submit-job").await;
    let hash = dash.wait_hash(|h| h.starts_with("#/jobs/")).await;
    let id = hash.trim_start_matches("#/jobs/").to_string();
    dash.wait_text("#job-status", |s| s == "succeeded").await;
    let job = dash.job(&id, 0).await;
    assert_eq!(job["kind"], "sha256_chain");
    assert_eq!(job["params"], json!({"input": "dashboard", "rounds": 3}));
    let mut digest: [u8; 32] = Sha256::digest(b"dashboard").into();
    for _ in 1..3 {
        digest = Sha256::digest(digest).into();
    }
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(job["result"]["digest"], hex);
    dash.wait_text("#job-result", |r| r.contains(&hex)).await;
    // Out of its bounds: the kind's own error, next to its field.
    dash.open("/submit?kind=sha256_chain").await;
    dash.fill("#submit-form [name=\"input\"]", "x").await;
    dash.fill("#submit-form [name=\"rounds\"]", "0").await;
    dash.click("button#submit-job").await;
    dash.wait_text(".field-error[data-field=\"params.rounds\"]", |t| {
        !t.is_empty()
    })
    .await;
    dash.finish().await;
}
