//! A job's life in the dashboard: submitted through the form and followed live to its result,
//! cancelled from its page, retried from its page.

use reqwest::Method;
use serde_json::json;

use super::harness::Dash;

/// A count_primes over [0, 10^18): minutes of work, so it holds its CPU slot until cancelled.
fn endless_primes() -> serde_json::Value {
    json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000_000_000_000_000_000u64},
           "max_attempts": 1, "timeout_ms": 600_000})
}

/// The job id at the end of a `#/jobs/ID` hash, if it is one.
fn job_id_of(hash: &str) -> Option<&str> {
    hash.strip_prefix("#/jobs/")
        .filter(|id| id.len() == 36 && !id.contains(['/', '?']))
}

/// π(10^6) through the form: the page follows the job from queued to succeeded without a
/// reload (its only CPU slot is held by another job until the test cancels that one through
/// the API), shows the count, and the jobs table lists it; a job submitted meanwhile through
/// the API appears in the open table by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_count_primes_and_follow_it_live() {
    let Some(dash) = Dash::start_with("submit_count_primes", &["--max-cpu-jobs", "1"]).await else {
        return;
    };
    let blocker = dash.submit(endless_primes()).await;
    let blocker = blocker["id"].as_str().unwrap();
    assert_eq!(dash.job(blocker, 0).await["status"], "running");

    dash.open("/submit").await;
    // A marker that a full page load would wipe out.
    dash.js("window.__no_reload = 'kept'", vec![]).await;
    dash.select("select#submit-kind", "count_primes").await;
    dash.fill("#submit-form [name=\"start\"]", "0").await;
    dash.fill("#submit-form [name=\"end\"]", "1000000").await;
    dash.click("button#submit-job").await;

    let hash = dash.wait_hash(|h| job_id_of(h).is_some()).await;
    let id = job_id_of(&hash).unwrap().to_string();
    assert_ne!(id, blocker);
    dash.wait_visible(&format!("#job-detail[data-job-id=\"{id}\"]"))
        .await;
    dash.wait_text("#job-status", |s| s == "queued").await;
    let job = dash.job(&id, 0).await;
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(
        job["params"],
        json!({"start": 0, "end": 1_000_000}),
        "the form sent what was typed"
    );

    let (status, _) = dash
        .api(Method::POST, &format!("/jobs/{blocker}/cancel"), None)
        .await;
    assert!(status.is_success(), "{status}");
    dash.wait_text("#job-status", |s| s == "succeeded").await;
    dash.wait_text("#job-result", |r| r.contains("78498")).await;
    let job = dash.job(&id, 0).await;
    assert_eq!(job["result"], json!({"count": 78498}), "{job}");
    let marker = dash.js("return window.__no_reload ?? null", vec![]).await;
    assert_eq!(marker, "kept", "the page was reloaded");

    dash.click("nav a[href=\"#/jobs\"]").await;
    let row = format!("#jobs-table tbody tr[data-job-id=\"{id}\"]");
    dash.wait_text(&format!("{row} td.status"), |s| s == "succeeded")
        .await;
    dash.wait_text(&format!("{row} td.kind"), |s| s == "count_primes")
        .await;
    dash.wait_visible(&format!("{row} a[href=\"#/jobs/{id}\"]"))
        .await;

    // Live in the table too: a job submitted elsewhere (once the table follows the events)
    // shows up, then its end.
    dash.wait_text("#live-status", |s| s == "Live").await;
    let other = dash
        .submit(json!({"kind": "count_primes", "params": {"start": 0, "end": 100}}))
        .await;
    let other = other["id"].as_str().unwrap();
    let other_row = format!("#jobs-table tbody tr[data-job-id=\"{other}\"]");
    dash.wait_text(&format!("{other_row} td.status"), |s| s == "succeeded")
        .await;
    let rows = dash.snapshot("#jobs-table tbody tr[data-job-id]").await;
    let order: Vec<_> = rows.iter().filter_map(|r| r.attr("data-job-id")).collect();
    assert_eq!(order, [other, id.as_str(), blocker], "newest first");
    let marker = dash.js("return window.__no_reload ?? null", vec![]).await;
    assert_eq!(marker, "kept", "the page was reloaded");
    dash.finish().await;
}

/// A running sleep, cancelled with its page's button: the page shows it cancelled, offers a
/// retry instead, and the API agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_a_running_job_from_its_page() {
    let Some(dash) = Dash::start("cancel_running_job").await else {
        return;
    };
    let job = dash
        .submit(json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 120_000}))
        .await;
    let id = job["id"].as_str().unwrap();
    dash.open(&format!("/jobs/{id}")).await;
    dash.wait_visible(&format!("#job-detail[data-job-id=\"{id}\"]"))
        .await;
    dash.wait_text("#job-status", |s| s == "running").await;
    for final_only in ["#retry-job", "#delete-job"] {
        dash.wait_for(final_only, |els| els.iter().all(|e| !e.visible))
            .await;
    }

    dash.click("#cancel-job").await;
    dash.wait_text("#job-status", |s| s == "cancelled").await;
    dash.wait_for("#cancel-job", |els| els.iter().all(|e| !e.visible))
        .await;
    dash.wait_visible("#retry-job").await;
    dash.wait_visible("#delete-job").await;
    let job = dash.job(id, 0).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert_eq!(job["error"]["code"], "cancelled", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    dash.wait_text("#job-error", |t| {
        t.contains("cancelled") && t.contains(message)
    })
    .await;
    dash.finish().await;
}

/// A timed-out sleep, retried with its page's button: the page goes to the new job, which
/// links back to the original, and runs (to its own deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_a_failed_job_from_its_page() {
    let Some(dash) = Dash::start("retry_failed_job").await else {
        return;
    };
    let job = dash
        .submit(
            json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 300,
                       "max_attempts": 1}),
        )
        .await;
    let original = job["id"].as_str().unwrap();
    let job = dash.final_job(original).await;
    assert_eq!(job["status"], "timed_out", "{job}");

    dash.open(&format!("/jobs/{original}")).await;
    dash.wait_visible(&format!("#job-detail[data-job-id=\"{original}\"]"))
        .await;
    dash.wait_text("#job-status", |s| s == "timed_out").await;
    dash.wait_for("#cancel-job", |els| els.iter().all(|e| !e.visible))
        .await;
    // Why it ended, and the attempt that did.
    let message = job["error"]["message"].as_str().unwrap();
    dash.wait_text("#job-error", |t| {
        t.contains("timed_out") && t.contains(message)
    })
    .await;
    dash.wait_text("#job-errors", |t| t.contains(message)).await;
    dash.wait_visible("#job-timeline").await;
    dash.click("#retry-job").await;

    let hash = dash
        .wait_hash(|h| job_id_of(h).is_some_and(|id| id != original))
        .await;
    let retry = job_id_of(&hash).unwrap().to_string();
    dash.wait_visible(&format!("#job-detail[data-job-id=\"{retry}\"]"))
        .await;
    let link = dash
        .wait_for("#job-retry-of", |els| matches!(els, [el] if el.visible))
        .await;
    let href = dash
        .snapshot("#job-retry-of a, a#job-retry-of")
        .await
        .into_iter()
        .filter_map(|a| a.attr("href").map(str::to_string))
        .collect::<Vec<_>>();
    assert_eq!(
        href,
        [format!("#/jobs/{original}")],
        "#job-retry-of links the original: {link:?}"
    );
    // It runs: to its deadline again, shown live.
    dash.wait_text("#job-status", |s| s == "timed_out").await;
    let job = dash.job(&retry, 0).await;
    assert_eq!(job["retry_of"], original, "{job}");
    assert_eq!(job["status"], "timed_out", "{job}");
    assert_eq!(job["attempt"], 1, "it ran: {job}");
    assert_eq!(job["params"], json!({"ms": 60_000}), "{job}");
    assert_eq!(job["timeout_ms"], 300, "{job}");

    // Back to the original through the link.
    dash.click("#job-retry-of a, a#job-retry-of").await;
    dash.wait_visible(&format!("#job-detail[data-job-id=\"{original}\"]"))
        .await;
    dash.finish().await;
}
