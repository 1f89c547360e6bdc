//! `word_count` end to end: inline texts with known counts, and the pages of a `fetch_urls`
//! job — downloaded back and counted by a naive reference here — with the dependency on the
//! source, the checks of the source at submit and a source deleted before the count.

use std::collections::HashMap;

use faena::job::{JobErrorCode, JobStatus};
use faena::kinds::word_count::Output;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fetch::{fetch_app_with, fetch_job, run_fetch};
use crate::helpers::{json_of, problem_at};
use crate::pages::PageServer;

/// Words as Python's `str.split()` finds them in `bytes` decoded as UTF-8 (lossily).
fn words(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `n` most frequent lower-cased words of `texts`, by count then word.
fn top(texts: &[Vec<u8>], n: usize) -> Vec<(String, u64)> {
    let mut tally: HashMap<String, u64> = HashMap::new();
    for word in texts.iter().flat_map(|t| words(t)) {
        *tally.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut ranked: Vec<(String, u64)> = tally.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(n);
    ranked
}

fn output(job: &faena::job::Job) -> Output {
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    job.result
        .as_ref()
        .expect("a result")
        .parse()
        .expect("a word_count result")
}

#[tokio::test]
async fn inline_texts_are_counted_as_python_splits_them() {
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let texts = [
        "  hola\u{a0}mundo\tcruel\n",
        "",
        "\u{3000}a\u{2003}b",
        "To be, or NOT to be:\nto BE",
    ];
    let body = json!({"kind": "word_count", "params": {"texts": texts, "top": 3}});
    let job = app.wait_final(app.submit_ok(&body).await.id).await;
    let out = output(&job);
    let counts: Vec<(u64, u64, u64)> = out
        .files
        .iter()
        .map(|f| (f.words, f.lines, f.bytes))
        .collect();
    assert_eq!(counts, [(3, 1, 20), (0, 0, 0), (2, 0, 8), (8, 1, 26)]);
    assert_eq!(
        (out.total_words, out.total_lines, out.total_bytes),
        (13, 2, 54)
    );
    let names: Vec<&str> = out.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["text-0", "text-1", "text-2", "text-3"]);
    let ranked: Vec<(&str, u64)> = out
        .top_words
        .iter()
        .map(|w| (w.word.as_str(), w.count))
        .collect();
    // Ties in alphabetical order; punctuation stays in the word ("be," "be:"), as with split().
    assert_eq!(ranked, [("to", 3), ("a", 1), ("b", 1)]);
}

/// The pages of a fetch job, counted, equal the naive count of the same pages downloaded back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_of_a_fetch_job_are_counted_exactly() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let mut urls: Vec<String> = (0..40)
        .map(|i| pages.url(&format!("/page/{i}?bytes={}", 500 + 997 * i)))
        .collect();
    urls.push(pages.url("/text"));
    urls.push(pages.url("/status/404"));
    let (fetch, _) = run_fetch(&app, &fetch_job(&urls, json!({}))).await;
    let body = json!({"kind": "word_count", "params": {"source_job": fetch.id}});
    let job = app.wait_final(app.submit_ok(&body).await.id).await;
    assert_eq!(job.depends_on, vec![fetch.id]);
    let out = output(&job);
    let listed: Value = json_of(app.files(fetch.id).await, StatusCode::OK).await;
    let mut downloaded = Vec::new();
    for (file, counted) in listed["files"].as_array().unwrap().iter().zip(&out.files) {
        let name = file["name"].as_str().unwrap();
        let bytes = app
            .file(fetch.id, name)
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec();
        assert_eq!(counted.name, name);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(
            (counted.words, counted.lines, counted.bytes),
            (words(&bytes).len() as u64, lines, bytes.len() as u64),
            "{name}"
        );
        downloaded.push(bytes);
    }
    assert_eq!(out.files.len(), 41, "every page but the 404");
    assert_eq!(
        out.total_words,
        downloaded
            .iter()
            .map(|b| words(b).len() as u64)
            .sum::<u64>()
    );
    let ranked: Vec<(String, u64)> = out
        .top_words
        .iter()
        .map(|w| (w.word.clone(), w.count))
        .collect();
    assert_eq!(ranked, top(&downloaded, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_waits_for_its_source_to_finish() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let fetch = app
        .submit_ok(&fetch_job(&[pages.url("/hold/1")], json!({})))
        .await;
    pages
        .wait_for(
            "the held request",
            std::time::Duration::from_secs(10),
            |s| s.in_flight == 1,
        )
        .await;
    let count = app
        .submit_ok(&json!({"kind": "word_count", "params": {"source_job": fetch.id}}))
        .await;
    assert_eq!(app.job(count.id).await.status, JobStatus::Queued);
    pages.release(1);
    let count = app.wait_final(count.id).await;
    let fetch = app.job(fetch.id).await;
    assert!(
        count.started_at >= fetch.finished_at,
        "{count:?} ran before {fetch:?} ended"
    );
    assert_eq!(output(&count).files.len(), 1);
}

#[tokio::test]
async fn a_source_must_be_a_fetch_job_that_saves_its_pages() {
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let ghost = faena::job::JobId::new();
    let count = |source: String| json!({"kind": "word_count", "params": {"source_job": source}});
    let resp = app.submit(&count(ghost.to_string())).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_source",
        "params.source_job",
    )
    .await;
    let sleep = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 0}}))
        .await;
    let resp = app.submit(&count(sleep.id.to_string())).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_source",
        "params.source_job",
    )
    .await;
    let unsaved = app
        .submit_ok(&fetch_job(
            &["http://127.0.0.1:9/".into()],
            json!({"save": false}),
        ))
        .await;
    let resp = app.submit(&count(unsaved.id.to_string())).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_source",
        "params.source_job",
    )
    .await;
    let both = json!({"kind": "word_count", "params": {"source_job": sleep.id, "texts": ["a"]}});
    problem_at(
        app.submit(&both).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_params",
        "params",
    )
    .await;
}

/// A source deleted while its count waits: the count fails with `input_gone`, it does not
/// report an empty success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_deleted_before_the_count_fails_it_with_input_gone() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let (fetch, _) = run_fetch(&app, &fetch_job(&[pages.url("/page/1")], json!({}))).await;
    // The count also waits for a short sleep, long enough to delete its source meanwhile.
    let gate = app
        .submit_ok(&json!({"kind": "sleep", "params": {"ms": 500}}))
        .await;
    let body =
        json!({"kind": "word_count", "params": {"source_job": fetch.id}, "depends_on": [gate.id]});
    let count = app.submit_ok(&body).await;
    assert_eq!(app.delete(fetch.id).await.status(), StatusCode::NO_CONTENT);
    assert!(
        !app.job(gate.id).await.is_final(),
        "the gate ended before the delete: make it longer"
    );
    let count = app.wait_final(count.id).await;
    assert_eq!(app.job(gate.id).await.status, JobStatus::Succeeded);
    assert_eq!(count.status, JobStatus::Failed, "{count:?}");
    assert_eq!(count.error.map(|e| e.code), Some(JobErrorCode::InputGone));
    // A new count of the deleted source is refused at once.
    let body = json!({"kind": "word_count", "params": {"source_job": fetch.id}});
    let resp = app.submit(&body).await;
    problem_at(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_source",
        "params.source_job",
    )
    .await;
}
