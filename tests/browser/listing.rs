//! The jobs table: pages of `limit` rows walked with `#next-page` (newest first, no duplicate,
//! no gap, the same order as `GET /jobs`), and the kind and status filters narrowing the rows
//! to exactly the jobs the API lists for them.

use reqwest::Method;
use serde_json::json;

use super::harness::{Dash, El};

const ROWS: &str = "#jobs-table tbody tr[data-job-id]";

fn ids(rows: &[El]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r.attr("data-job-id").map(str::to_string))
        .collect()
}

/// Waits until the table shows exactly `expected`, in that order.
async fn expect_rows(dash: &Dash, expected: &[String]) -> Vec<El> {
    dash.wait_for(ROWS, |rows| ids(rows) == expected).await
}

/// Seven jobs: four count_primes that succeed, two sleeps cancelled, one sleep that succeeds;
/// submitted one after the other, so the newest-first order is known.
async fn seven_jobs(dash: &Dash) {
    for i in 0..7u64 {
        let body = match i {
            1 | 4 => json!({"kind": "sleep", "params": {"ms": 60_000}, "timeout_ms": 120_000}),
            5 => json!({"kind": "sleep", "params": {"ms": 0}}),
            _ => json!({"kind": "count_primes", "params": {"start": 0, "end": 1_000 + i}}),
        };
        let job = dash.submit(body).await;
        let id = job["id"].as_str().unwrap();
        if i == 1 || i == 4 {
            let path = format!("/jobs/{id}/cancel");
            let (status, job) = dash.api(Method::POST, &path, None).await;
            assert!(status.is_success(), "{job}");
        }
        assert_ne!(dash.final_job(id).await["status"], "failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_job_once_and_filters_narrow_exactly() {
    let Some(dash) = Dash::start("filters_and_pagination").await else {
        return;
    };
    seven_jobs(&dash).await;
    let all = dash.job_ids("").await;
    assert_eq!(all.len(), 7);

    dash.open("/jobs?limit=3").await;
    let mut seen = Vec::new();
    for (page, expected) in all.chunks(3).enumerate() {
        if page > 0 {
            dash.click("button#next-page").await;
        }
        let rows = expect_rows(&dash, expected).await;
        assert!(rows.iter().all(|r| r.visible));
        seen.extend(ids(&rows));
        let first = dash.wait_visible("button#first-page").await;
        assert_eq!(first.disabled, page == 0, "#first-page on page {page}");
    }
    assert_eq!(
        seen, all,
        "the pages together: every job once, newest first"
    );
    dash.wait_for("button#next-page", |b| matches!(b, [b] if b.disabled))
        .await;
    dash.click("button#first-page").await;
    expect_rows(&dash, &all[..3]).await;

    // The filters, on the default page size (all rows fit).
    dash.open("/jobs").await;
    expect_rows(&dash, &all).await;
    let filters = [
        ("sleep", ""),
        ("count_primes", ""),
        ("", "cancelled"),
        ("", "succeeded"),
        ("sleep", "succeeded"),
        ("count_primes", "cancelled"),
        ("", ""),
    ];
    for (kind, status) in filters {
        dash.select("select#filter-kind", kind).await;
        dash.select("select#filter-status", status).await;
        let expected = dash.job_ids(&format!("kind={kind}&status={status}")).await;
        let rows = expect_rows(&dash, &expected).await;
        for row in dash.snapshot(&format!("{ROWS} td.kind")).await {
            assert!(kind.is_empty() || row.text == kind, "{kind}: {row:?}");
        }
        for row in dash.snapshot(&format!("{ROWS} td.status")).await {
            assert!(status.is_empty() || row.text == status, "{status}: {row:?}");
        }
        assert_eq!(rows.len(), expected.len());
    }
    // The expectations were not vacuous.
    assert_eq!(dash.job_ids("kind=sleep").await.len(), 3);
    assert_eq!(dash.job_ids("status=cancelled").await.len(), 2);
    assert_eq!(dash.job_ids("kind=sleep&status=succeeded").await.len(), 1);
    assert!(
        dash.job_ids("kind=count_primes&status=cancelled")
            .await
            .is_empty()
    );
    dash.finish().await;
}
