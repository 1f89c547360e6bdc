//! Validation of `fetch_urls` parameters, page names and character counts (the fetching
//! itself is tested end to end against local servers in `tests/api/fetch.rs`).

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn params(value: serde_json::Value) -> Params {
    serde_json::from_value(value).unwrap()
}

#[test]
fn defaults_are_filled_in() {
    let p = params(json!({"urls": ["http://a.example/"]}));
    assert_eq!(
        (p.concurrency, p.url_timeout_ms, p.save),
        (16, 10_000, true)
    );
    assert_eq!(FetchLimits::default().check(&p), Ok(()));
}

#[test]
fn a_bad_url_is_named_by_its_index() {
    let limits = FetchLimits::default();
    for (bad, why) in [
        ("ftp://a.example/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("/relative", "not a valid URL"),
        ("http://", "not a valid URL"),
        ("", "not a valid URL"),
    ] {
        let p = params(json!({"urls": ["http://ok.example/", "https://ok.example/x", bad]}));
        let err = limits.check(&p).expect_err(bad);
        assert_eq!(err.field.as_deref(), Some("params.urls[2]"), "{bad}");
        assert!(err.message.contains(why), "{bad}: {}", err.message);
    }
    let long = format!("http://a.example/{}", "x".repeat(MAX_URL_LEN));
    let err = limits.check(&params(json!({"urls": [long]}))).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("params.urls[0]"));
}

#[test]
fn counts_and_ranges_are_checked() {
    let limits = FetchLimits::default();
    let many: Vec<String> = (0..=limits.max_urls)
        .map(|i| format!("http://a.example/{i}"))
        .collect();
    let cases = [
        (json!({"urls": []}), "params.urls"),
        (json!({"urls": many}), "params.urls"),
        (
            json!({"urls": ["http://a.example/"], "concurrency": 0}),
            "params.concurrency",
        ),
        (
            json!({"urls": ["http://a.example/"], "concurrency": 1001}),
            "params.concurrency",
        ),
        (
            json!({"urls": ["http://a.example/"], "url_timeout_ms": 0}),
            "params.url_timeout_ms",
        ),
        (
            json!({"urls": ["http://a.example/"], "url_timeout_ms": 300_001}),
            "params.url_timeout_ms",
        ),
    ];
    for (value, field) in cases {
        let err = limits.check(&params(value)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some(field));
    }
    let max =
        json!({"urls": ["http://a.example/"], "concurrency": 1000, "url_timeout_ms": 300_000});
    assert_eq!(limits.check(&params(max)), Ok(()));
}

#[test]
fn names_are_derived_safely() {
    let cases = [
        ("http://example.com/", 0, "00000-example.com"),
        (
            "https://en.wikipedia.org/wiki/Python_(programming_language)",
            7,
            "00007-en.wikipedia.org-wiki-Python_-programming_language",
        ),
        (
            "http://a.example/../../etc/passwd",
            12,
            "00012-a.example-etc-passwd",
        ),
        (
            "http://a.example/..%2F..%2Fetc",
            3,
            "00003-a.example-2F.-2Fetc",
        ),
        ("http://[::1]:8080/x/y.html?q=1", 9999, "09999-1-x-y.html"),
        (
            "http://a.example/%00%0a/.hidden",
            1,
            "00001-a.example-00-0a-hidden",
        ),
    ];
    for (url, index, want) in cases {
        assert_eq!(file_name(index, &Url::parse(url).unwrap()), want, "{url}");
    }
}

proptest! {
    #[test]
    fn names_never_hold_a_separator(path in "\\PC{0,300}", index in 0usize..10_000) {
        let Ok(url) = Url::parse(&format!("http://h.example/{path}")) else { return Ok(()) };
        let name = file_name(index, &url);
        let prefix = format!("{index:05}-");
        prop_assert!(name.starts_with(&prefix));
        prop_assert!(name.len() <= names::MAX_NAME_LEN);
        prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)));
        prop_assert!(!name.contains(".."));
    }

    #[test]
    fn chars_are_counted_as_python_does(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let want = String::from_utf8_lossy(&bytes).chars().count() as u64;
        prop_assert_eq!(count_chars(&bytes), want);
    }

    #[test]
    fn chars_of_valid_text(text in "\\PC{0,200}") {
        prop_assert_eq!(count_chars(text.as_bytes()), text.chars().count() as u64);
    }
}

#[test]
fn page_error_names_match_the_wire_and_transience_is_as_documented() {
    use super::PageErrorCode as C;
    let all = [
        C::Timeout,
        C::Connect,
        C::Dns,
        C::TooLarge,
        C::HttpStatus,
        C::BlockedAddress,
        C::TooManyRedirects,
        C::RedirectLoop,
        C::BadRedirect,
        C::Body,
        C::Protocol,
        C::BadUrl,
        C::SaveFailed,
        C::Internal,
    ];
    for code in all {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::json!(code.as_str())
        );
    }
    let transient: Vec<&str> = all
        .iter()
        .filter(|c| c.is_transient(None))
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        transient,
        [
            "timeout",
            "connect",
            "dns",
            "body",
            "protocol",
            "save_failed"
        ]
    );
    for (status, transient) in [
        (404, false),
        (400, false),
        (408, true),
        (429, true),
        (500, true),
        (503, true),
    ] {
        assert_eq!(
            C::HttpStatus.is_transient(Some(status)),
            transient,
            "{status}"
        );
    }
}
