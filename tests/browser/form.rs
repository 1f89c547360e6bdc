//! The submit form refused by the API: the problem's `field` gets its error (the problem's
//! `detail`) next to it, the page stays on the form, and nothing is stored.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::Dash;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_form_shows_the_field_error_and_stores_nothing() {
    let Some(dash) = Dash::start("invalid_form").await else {
        return;
    };
    let (status, limits) = dash.api(Method::GET, "/limits", None).await;
    assert_eq!(status, StatusCode::OK, "{limits}");
    let max_end = limits["kind_limits"]["count_primes"]["max_end"]
        .as_u64()
        .expect("count_primes' max_end");
    // One past the maximum: past 2^53, so a page that sent it as a JavaScript number would
    // round it down to the maximum, which the API accepts.
    let beyond = max_end + 1;
    assert_ne!(beyond as f64 as u64, beyond);

    dash.open("/submit?kind=count_primes").await;
    for (start, end) in [(10, 5), (0, beyond)] {
        let body = json!({"kind": "count_primes", "params": {"start": start, "end": end}});
        let (status, problem) = dash.api(Method::POST, "/jobs", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let field = problem["field"]
            .as_str()
            .expect("the problem names its field");
        let detail = problem["detail"].as_str().expect("the problem's detail");

        dash.select("select#submit-kind", "count_primes").await;
        dash.fill("#submit-form [name=\"start\"]", &start.to_string())
            .await;
        dash.fill("#submit-form [name=\"end\"]", &end.to_string())
            .await;
        dash.click("button#submit-job").await;
        let error = dash
            .wait_text(&format!(".field-error[data-field=\"{field}\"]"), |t| {
                t.contains(detail)
            })
            .await;
        assert!(error.visible);
        // Only that field complains, and the page did not move on.
        let others = dash.snapshot(".field-error").await;
        let shown: Vec<_> = others
            .iter()
            .filter(|e| e.visible && !e.text.is_empty())
            .filter_map(|e| e.attr("data-field"))
            .collect();
        assert_eq!(shown, [field], "{others:#?}");
        assert!(dash.hash().await.starts_with("#/submit"));
        let typed = dash.snapshot("#submit-form [name=\"end\"]").await;
        assert_eq!(
            typed[0].value,
            Some(end.to_string()),
            "what was typed stays"
        );
    }
    assert_eq!(
        dash.job_ids("").await,
        Vec::<String>::new(),
        "nothing stored"
    );
    dash.finish().await;
}
