//! Parsing and validation of submissions.

use super::*;
use crate::job::JobId;
use serde_json::json;

fn submit(body: Value) -> Result<(JobSpec, SubmitOptions), SpecError> {
    let s = SubmitRequest::from_json(body)?.validate(&Limits::default())?;
    Ok((s.spec, s.options))
}

#[test]
fn defaults_are_filled_in() {
    let (spec, opts) = submit(json!({"kind": "sleep", "params": {"ms": 5}})).unwrap();
    assert_eq!(spec.kind(), JobKind::Sleep);
    assert_eq!(spec.params_json(), json!({"ms": 5}));
    assert_eq!(
        opts,
        SubmitOptions {
            timeout_ms: 60_000,
            priority: 0,
            max_attempts: 3,
            run_after: None,
        }
    );
}

#[test]
fn errors_name_the_field_at_fault() {
    for (body, code, field) in bad_submissions() {
        let err = submit(body.clone()).expect_err(&body.to_string());
        assert_eq!(
            (err.code, err.field.as_deref()),
            (code, Some(field)),
            "{body}: {err}"
        );
    }
}

/// Bad submissions, with the code and the field their error must name.
fn bad_submissions() -> Vec<(Value, SpecErrorCode, &'static str)> {
    vec![
        (json!({"params": {}}), SpecErrorCode::InvalidField, "kind"),
        (json!({"kind": "nope"}), SpecErrorCode::UnknownKind, "kind"),
        (
            json!({"kind": "sleep", "params": {"ms": "x"}}),
            SpecErrorCode::InvalidParams,
            "params.ms",
        ),
        (
            json!({"kind": "sleep", "params": {}}),
            SpecErrorCode::InvalidParams,
            "params.ms",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1, "x": 2}}),
            SpecErrorCode::InvalidParams,
            "params.x",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "timeout_ms": 0}),
            SpecErrorCode::InvalidField,
            "timeout_ms",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "timeout_ms": -5}),
            SpecErrorCode::InvalidField,
            "timeout_ms",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "priority": 101}),
            SpecErrorCode::InvalidField,
            "priority",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "max_attempts": 0}),
            SpecErrorCode::InvalidField,
            "max_attempts",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "bogus": 0}),
            SpecErrorCode::InvalidField,
            "bogus",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, ".": 0}),
            SpecErrorCode::InvalidField,
            ".",
        ),
        (
            json!({"kind": "factorial", "params": {"numbers": [1, -2]}}),
            SpecErrorCode::InvalidParams,
            "params.numbers[1]",
        ),
        (
            json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": ["x"]}),
            SpecErrorCode::InvalidField,
            "depends_on[0]",
        ),
        (
            json!({"kind": "count_primes", "params": [0, 10]}),
            SpecErrorCode::InvalidParams,
            "params",
        ),
        (
            json!({"kind": "word_count", "params": {}}),
            SpecErrorCode::InvalidParams,
            "params",
        ),
        (
            json!({"kind": "fetch_urls", "params": {"urls": ["http://a.example/", "gopher://x/"]}}),
            SpecErrorCode::InvalidParams,
            "params.urls[1]",
        ),
    ]
}

#[test]
fn a_body_that_is_not_an_object_is_refused_as_a_whole() {
    // An array lining up with the fields would otherwise be read as the object.
    let array = json!(["sleep", {"ms": 1}, null, null, null, null]);
    for body in [array, json!(42), json!(null), json!("sleep")] {
        let err = submit(body.clone()).expect_err(&body.to_string());
        assert_eq!((err.code, err.field), (SpecErrorCode::InvalidField, None));
    }
}

#[test]
fn dependencies_are_distinct_and_bounded() {
    let a = JobId::new();
    let b = JobId::new();
    let body = json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": [a, b, a]});
    let s = SubmitRequest::from_json(body)
        .unwrap()
        .validate(&Limits::default())
        .unwrap();
    assert_eq!(s.depends_on, vec![a, b]);
    let many: Vec<JobId> = (0..101).map(|_| JobId::new()).collect();
    let body = json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": many});
    let err = SubmitRequest::from_json(body)
        .unwrap()
        .validate(&Limits::default())
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("depends_on"));
}
