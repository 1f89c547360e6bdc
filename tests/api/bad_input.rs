//! Hostile input, in one table: huge numbers, deep JSON, invalid UTF-8, BOMs and NULs,
//! unknown fields, overlong strings, negative sizes, wrong methods and content types, bodies
//! that are not objects, bad ids and file names that try to climb out of their job. Each
//! request goes raw over the socket (exact bytes, exact path: a client library would resolve
//! `.` segments or add headers) and must get its exact 4xx, as a problem document with its
//! `code` and, where the API names one, its `field`. None may store anything.
//!
//! The cases whose path holds `{id}` run against an existing job (a finished `fetch_urls` job
//! with one saved page); the others run first, while the store is still empty.

use std::time::Duration;

use faena::api::jobs::JobPage;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fetch::{fetch_app_with, fetch_job, run_fetch};
use crate::helpers::TestApp;
use crate::pages::PageServer;

const JSON: Option<&str> = Some("application/json");
/// The default `--max-body-bytes`.
const BODY_LIMIT: usize = 1 << 20;
/// The name of the page the existing job saved.
const SAVED: &str = "00000-127.0.0.1-page-0";

/// One hostile request and the refusal it must get.
struct Case {
    name: &'static str,
    method: &'static str,
    /// Path and query as sent; `{id}` stands for the existing job.
    target: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    /// The `field` of the problem; `None`: the problem has none.
    field: Option<String>,
}

/// `method target` with `body` (typed as `content_type`); the refusal is set by [`Case::is`].
fn req(
    name: &'static str,
    method: &'static str,
    target: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case {
        name,
        method,
        target: target.into(),
        content_type,
        body: body.into(),
        status: 0,
        code: "",
        field: None,
    }
}

/// `POST /jobs` with a JSON body.
fn post(name: &'static str, body: impl Into<Vec<u8>>) -> Case {
    req(name, "POST", "/jobs", JSON, body)
}

/// `GET target`, no body.
fn get(name: &'static str, target: impl Into<String>) -> Case {
    req(name, "GET", target, None, "")
}

impl Case {
    fn is(mut self, status: u16, code: &'static str) -> Self {
        (self.status, self.code) = (status, code);
        self
    }

    fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// A valid sleep job with `extra` (JSON members) added at the top level.
fn sleep_with(extra: &str) -> String {
    format!(r#"{{"kind": "sleep", "params": {{"ms": 1}}, {extra}}}"#)
}

/// Every hostile request of this suite, one case a line or two (a table: not for rustfmt).
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let valid = br#"{"kind": "sleep", "params": {"ms": 1}}"#;
    let mega_kind = format!(r#"{{"kind": "{}", "params": {{}}}}"#, "k".repeat(1_000_000));
    let long_url = format!("http://a.example/{}", "u".repeat(100_000));
    let many_urls = vec!["http://a.example/"; 10_001];
    let over_limit = [&valid[..], &vec![b' '; BODY_LIMIT + 1 - valid.len()]].concat();
    let many_deps: Vec<String> = (0..101)
        .map(|i| format!("01936f0e-7b5a-7cc1-9f0e-{i:012}"))
        .collect();
    let unknown_dep = r#"{"kind": "sleep", "params": {"ms": 1},
        "depends_on": ["01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60"]}"#;
    let unknown_source = r#"{"kind": "word_count",
        "params": {"source_job": "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60"}}"#;
    let utf8_bom = [&b"\xEF\xBB\xBF"[..], valid].concat();
    let utf16: Vec<u8> = std::iter::once(0xFEFF_u16)
        .chain(std::str::from_utf8(valid).unwrap().encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    let a_uuid = "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60";
    vec![
        // Numbers too large for their type, or not integers at all.
        post("ms past u64::MAX", r#"{"kind": "sleep", "params": {"ms": 18446744073709551616}}"#)
            .is(422, "invalid_params").at("params.ms"),
        post("end of 1e400 (no f64 holds it)", r#"{"kind": "count_primes", "params": {"start": 0, "end": 1e400}}"#)
            .is(400, "malformed_json"),
        post("ms of 1.5", r#"{"kind": "sleep", "params": {"ms": 1.5}}"#)
            .is(422, "invalid_params").at("params.ms"),
        post("ms of 1.0 (a float, even if whole)", r#"{"kind": "sleep", "params": {"ms": 1.0}}"#)
            .is(422, "invalid_params").at("params.ms"),
        post("ms of 1e3", r#"{"kind": "sleep", "params": {"ms": 1e3}}"#)
            .is(422, "invalid_params").at("params.ms"),
        post("end of u64::MAX", r#"{"kind": "count_primes", "params": {"start": 0, "end": 18446744073709551615}}"#)
            .is(422, "invalid_params").at("params.end"),
        post("factorial of u64::MAX", r#"{"kind": "factorial", "params": {"numbers": [5, 18446744073709551615]}}"#)
            .is(422, "invalid_params").at("params.numbers[1]"),
        post("timeout_ms of 10^20", sleep_with(r#""timeout_ms": 100000000000000000000"#))
            .is(422, "invalid_field").at("timeout_ms"),
        post("priority past i32::MAX", sleep_with(r#""priority": 2147483648"#))
            .is(422, "invalid_field").at("priority"),
        post("max_attempts past u32::MAX", sleep_with(r#""max_attempts": 4294967296"#))
            .is(422, "invalid_field").at("max_attempts"),
        // Negative sizes and out-of-range options.
        post("ms of -1", r#"{"kind": "sleep", "params": {"ms": -1}}"#)
            .is(422, "invalid_params").at("params.ms"),
        post("timeout_ms of -1", sleep_with(r#""timeout_ms": -1"#))
            .is(422, "invalid_field").at("timeout_ms"),
        post("priority of -101", sleep_with(r#""priority": -101"#))
            .is(422, "invalid_field").at("priority"),
        post("priority of 1000", sleep_with(r#""priority": 1000"#))
            .is(422, "invalid_field").at("priority"),
        post("max_attempts of -1", sleep_with(r#""max_attempts": -1"#))
            .is(422, "invalid_field").at("max_attempts"),
        post("concurrency of -1", r#"{"kind": "fetch_urls", "params": {"urls": ["http://a.example/"], "concurrency": -1}}"#)
            .is(422, "invalid_params").at("params.concurrency"),
        post("top of -1", r#"{"kind": "word_count", "params": {"texts": ["a"], "top": -1}}"#)
            .is(422, "invalid_params").at("params.top"),
        get("limit=-1", "/jobs?limit=-1").is(400, "invalid_query").at("limit"),
        get("limit past u64::MAX", "/jobs?limit=99999999999999999999999").is(400, "invalid_query").at("limit"),
        req("wait_ms=-5 on a submission", "POST", "/jobs?wait_ms=-5", JSON, valid)
            .is(400, "invalid_query").at("wait_ms"),
        req("wait_ms=1e3 on a submission", "POST", "/jobs?wait_ms=1e3", JSON, valid)
            .is(400, "invalid_query").at("wait_ms"),
        // Nesting deep enough to overflow a recursive parser's stack.
        post("10,000 [", "[".repeat(10_000)).is(400, "malformed_json"),
        post("10,000 nested objects", format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)))
            .is(400, "malformed_json"),
        post("params nested 200 deep", format!(r#"{{"kind": "sleep", "params": {{"ms": {}1{}}}}}"#, "[".repeat(200), "]".repeat(200)))
            .is(400, "malformed_json"),
        // Bytes that are not UTF-8 JSON text.
        post("invalid UTF-8 in a string", &b"{\"kind\": \"sl\xFFeep\", \"params\": {\"ms\": 1}}"[..])
            .is(400, "malformed_json"),
        post("overlong UTF-8 encoding of /", &b"{\"kind\": \"sleep\xC0\xAF\", \"params\": {\"ms\": 1}}"[..])
            .is(400, "malformed_json"),
        post("a lone surrogate escape", r#"{"kind": "sleep\ud800", "params": {"ms": 1}}"#)
            .is(400, "malformed_json"),
        post("UTF-8 byte order mark", utf8_bom).is(400, "malformed_json"),
        post("UTF-16 with its byte order mark", utf16).is(400, "malformed_json"),
        post("raw NUL inside a string", &b"{\"kind\": \"sleep\0\", \"params\": {\"ms\": 1}}"[..])
            .is(400, "malformed_json"),
        post("NUL after the object", [&valid[..], b"\0"].concat()).is(400, "malformed_json"),
        post("escaped NUL in the kind", r#"{"kind": "sleep\u0000", "params": {"ms": 1}}"#)
            .is(422, "unknown_kind").at("kind"),
        post("escaped NUL in a URL's host", r#"{"kind": "fetch_urls", "params": {"urls": ["http://a\u0000b.example/"]}}"#)
            .is(422, "invalid_params").at("params.urls[0]"),
        // Not JSON, or JSON but not an object.
        post("an empty body", "").is(400, "malformed_json"),
        post("whitespace only", " \r\n\t ").is(400, "malformed_json"),
        post("two objects", [&valid[..], b" {}"].concat()).is(400, "malformed_json"),
        post("a comment", r#"{"kind": "sleep", /* */ "params": {"ms": 1}}"#).is(400, "malformed_json"),
        post("NaN", r#"{"kind": "sleep", "params": {"ms": NaN}}"#).is(400, "malformed_json"),
        post("single quotes", "{'kind': 'sleep', 'params': {'ms': 1}}").is(400, "malformed_json"),
        post("an array", "[]").is(422, "invalid_field"),
        post("an array lining up with the fields", r#"["sleep", {"ms": 1}, null, null, null, null]"#).is(422, "invalid_field"),
        post("a string", r#""sleep""#).is(422, "invalid_field"),
        post("null", "null").is(422, "invalid_field"),
        post("an empty object", "{}").is(422, "invalid_field").at("kind"),
        post("kind null", r#"{"kind": null}"#).is(422, "invalid_field").at("kind"),
        post("params an array", r#"{"kind": "sleep", "params": [1]}"#).is(422, "invalid_params").at("params"),
        post("params an array, in order", r#"{"kind": "count_primes", "params": [0, 10]}"#)
            .is(422, "invalid_params").at("params"),
        // Duplicated keys are not refused as such: the last one wins, and is what is checked.
        post("a duplicated key, the last one invalid", r#"{"kind": "sleep", "params": {"ms": 1}, "params": {"ms": -1}}"#)
            .is(422, "invalid_params").at("params.ms"),
        // Fields nobody asked for.
        post("unknown top-level field", sleep_with(r#""bogus": 1"#)).is(422, "invalid_field").at("bogus"),
        post("__proto__", sleep_with(r#""__proto__": {"admin": true}"#)).is(422, "invalid_field").at("__proto__"),
        post("a field in the wrong case", r#"{"Kind": "sleep", "params": {"ms": 1}}"#).is(422, "invalid_field").at("Kind"),
        post("unknown params field", r#"{"kind": "sleep", "params": {"ms": 1, "extra": true}}"#)
            .is(422, "invalid_params").at("params.extra"),
        // Too long, too many.
        post("a kind of 1 MB", mega_kind).is(422, "unknown_kind").at("kind"),
        post("a URL of 100 KB", json!({"kind": "fetch_urls", "params": {"urls": [long_url]}}).to_string())
            .is(422, "invalid_params").at("params.urls[0]"),
        post("10,001 URLs", json!({"kind": "fetch_urls", "params": {"urls": many_urls}}).to_string())
            .is(422, "invalid_params").at("params.urls"),
        post("101 dependencies", json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": many_deps}).to_string())
            .is(422, "invalid_field").at("depends_on"),
        post("a body one byte over the limit", over_limit).is(413, "payload_too_large"),
        // Names of things that do not exist.
        post("an unknown dependency", unknown_dep).is(422, "unknown_dependency").at("depends_on"),
        post("an unknown source job", unknown_source).is(422, "unknown_source").at("params.source_job"),
        // Bodies not declared as JSON.
        req("text/plain", "POST", "/jobs", Some("text/plain"), valid).is(415, "unsupported_media_type"),
        req("no content type", "POST", "/jobs", None, valid).is(415, "unsupported_media_type"),
        req("a form", "POST", "/jobs", Some("application/x-www-form-urlencoded"), "kind=sleep&ms=1")
            .is(415, "unsupported_media_type"),
        req("application/jsonx", "POST", "/jobs", Some("application/jsonx"), valid).is(415, "unsupported_media_type"),
        // Methods no route has.
        req("PUT /jobs", "PUT", "/jobs", JSON, valid).is(405, "method_not_allowed"),
        req("DELETE /jobs", "DELETE", "/jobs", None, "").is(405, "method_not_allowed"),
        req("PATCH /jobs/{id}", "PATCH", "/jobs/{id}", JSON, r#"{"status": "succeeded"}"#).is(405, "method_not_allowed"),
        req("PUT /jobs/{id}", "PUT", "/jobs/{id}", JSON, valid).is(405, "method_not_allowed"),
        req("POST /jobs/{id}", "POST", "/jobs/{id}", JSON, valid).is(405, "method_not_allowed"),
        req("DELETE a saved file", "DELETE", format!("/jobs/{{id}}/files/{SAVED}"), None, "").is(405, "method_not_allowed"),
        // Ids that are not UUIDs.
        get("an id that is not a UUID", "/jobs/not-a-uuid").is(400, "invalid_id").at("id"),
        get("an id with trailing junk", "/jobs/{id}0").is(400, "invalid_id").at("id"),
        get("an id with a NUL", format!("/jobs/{a_uuid}%00")).is(400, "invalid_id").at("id"),
        get("an id of 10 KB", format!("/jobs/{}", "f".repeat(10_000))).is(400, "invalid_id").at("id"),
        req("cancel of a bad id", "POST", "/jobs/..%2Fjobs/cancel", None, "").is(400, "invalid_id").at("id"),
        req("delete of a bad id", "DELETE", "/jobs/%2E%2E", None, "").is(400, "invalid_id").at("id"),
        get("files of a bad id", "/jobs/not-a-uuid/files").is(400, "invalid_id").at("id"),
        // File names that try to reach something else than a page of the job.
        get("../../etc/passwd, encoded", "/jobs/{id}/files/..%2F..%2Fetc%2Fpasswd").is(404, "file_not_found"),
        get("../../etc/passwd, dots encoded", "/jobs/{id}/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd").is(404, "file_not_found"),
        get("backslashes", "/jobs/{id}/files/..%5C..%5Cwindows%5Cwin.ini").is(404, "file_not_found"),
        get("an absolute path", "/jobs/{id}/files/%2Fetc%2Fpasswd").is(404, "file_not_found"),
        get("the saved name under ./", format!("/jobs/{{id}}/files/.%2F{SAVED}")).is(404, "file_not_found"),
        get("the saved name and a NUL", format!("/jobs/{{id}}/files/{SAVED}%00")).is(404, "file_not_found"),
        get("a NUL", "/jobs/{id}/files/%00").is(404, "file_not_found"),
        get("a CR LF and a header", "/jobs/{id}/files/x%0D%0ASet-Cookie:%20a=b").is(404, "file_not_found"),
        get("the name `.`", "/jobs/{id}/files/.").is(404, "file_not_found"),
        get("a name of 10 KB", format!("/jobs/{{id}}/files/{}", "n".repeat(10_000))).is(404, "file_not_found"),
        get("../../etc/passwd, raw", "/jobs/{id}/files/../../../etc/passwd").is(404, "not_found"),
        // Other refusals about the existing job.
        get("wait_ms=-5", "/jobs/{id}?wait_ms=-5").is(400, "invalid_query").at("wait_ms"),
        req("cancel of a finished job", "POST", "/jobs/{id}/cancel", None, "").is(409, "job_final"),
    ]
}

/// What the server answered: status, content type and body.
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Sends `case` as is on a new connection and reads the whole answer.
async fn send(app: &TestApp, case: &Case, target: &str) -> Answer {
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        case.method,
        app.addr,
        case.body.len()
    );
    if let Some(content_type) = case.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(app.addr).await.expect("a connection");
    let request = [head.as_bytes(), &case.body].concat();
    // The server may answer (and close) without reading a body it has no use for.
    let _ = stream.write_all(&request).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("{}: no answer within 30 s", case.name))
        .unwrap_or_else(|e| panic!("{}: reading the answer: {e}", case.name));
    parse_answer(&raw).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&raw[..raw.len().min(500)]);
        panic!("{}: not an HTTP answer: {text}", case.name)
    })
}

/// Parses an HTTP/1.1 answer (with a `Content-Length` or chunked body).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut body = raw[end + 4..].to_vec();
    if header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body)?;
    }
    Some(Answer {
        status,
        content_type: header("content-type").cloned(),
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line]).ok()?.split(';').next()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(line + 2..line + 2 + size)?);
        rest = rest.get(line + 4 + size..)?;
    }
}

/// How `answer` differs from what `case` expects; `None` when it is the expected refusal.
fn mismatch(case: &Case, answer: &Answer) -> Option<String> {
    let doc: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let text = |key: &str| doc[key].as_str().is_some_and(|s| !s.is_empty());
    let got = (
        answer.status,
        answer.content_type.as_deref(),
        doc["code"].as_str(),
        doc.get("field").and_then(Value::as_str),
    );
    let want = (
        case.status,
        Some("application/problem+json"),
        Some(case.code),
        case.field.as_deref(),
    );
    let well_formed = doc["status"] == case.status
        && doc["type"] == format!("urn:faena:problem:{}", case.code)
        && text("title")
        && text("detail");
    if got == want && well_formed {
        return None;
    }
    let body = String::from_utf8_lossy(&answer.body);
    let body: String = body.chars().take(400).collect();
    Some(format!(
        "{}: {} {}\n    got  {got:?}\n    want {want:?}\n    body {body}",
        case.name,
        case.method,
        case.target.chars().take(80).collect::<String>(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_4xx_and_store_nothing() {
    let pages = PageServer::start().await;
    let Some(app) = fetch_app_with(|_| {}).await else {
        return;
    };
    let (without_job, with_job): (Vec<_>, Vec<_>) = cases()
        .into_iter()
        .partition(|c| !c.target.contains("{id}"));
    assert!(without_job.len() + with_job.len() >= 40);

    // Every case is tried before failing, so that one run lists every wrong answer; after
    // each, the list of jobs must be as it was.
    let mut wrong = Vec::new();
    let mut check = async |cases: Vec<Case>, id: &str, mut jobs: JobPage| {
        for case in cases {
            let target = case.target.replace("{id}", id);
            let answer = send(&app, &case, &target).await;
            wrong.extend(mismatch(&case, &answer));
            let now = app.list_ok("limit=1000").await;
            if now.jobs != jobs.jobs {
                wrong.push(format!("{}: the jobs changed: {:?}", case.name, now.jobs));
                jobs = now;
            }
        }
    };
    let empty = app.list_ok("limit=1000").await;
    assert!(empty.jobs.is_empty());
    check(without_job, "", empty).await;

    let fetch = fetch_job(&[pages.url("/page/0?bytes=10")], json!({}));
    let (job, _) = run_fetch(&app, &fetch).await;
    let files = app.files(job.id).await.text().await.unwrap();
    assert!(files.contains(SAVED), "{files}");
    // The premise of the file names below: the real one is there.
    assert_eq!(
        app.file(job.id, SAVED).await.status(),
        reqwest::StatusCode::OK
    );
    let one = app.list_ok("limit=1000").await;
    check(with_job, &job.id.to_string(), one).await;
    assert_eq!(app.files(job.id).await.text().await.unwrap(), files);

    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}
