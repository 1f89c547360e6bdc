//! Parsing and validation of submissions by the built-in kinds, and the registry's own rules.

use serde_json::{Value, json};

use super::*;
use crate::job::{JobId, SubmitOptions};
use crate::kinds::Builtins;

/// The built-in kinds with their default bounds, every one enabled.
pub(super) fn builtins() -> Registry {
    Builtins::default_registry()
}

pub(super) fn submit_with(registry: &Registry, body: Value) -> Result<Submission, SpecError> {
    registry.submission(SubmitRequest::from_json(body)?, &Limits::default())
}

fn submit(body: Value) -> Result<Submission, SpecError> {
    submit_with(&builtins(), body)
}

#[test]
fn defaults_are_filled_in() {
    let s = submit(json!({"kind": "sleep", "params": {"ms": 5}})).unwrap();
    let opts = s.options;
    assert_eq!(s.kind, "sleep");
    assert_eq!(s.params, json!({"ms": 5}));
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
    let s = submit(body).unwrap();
    assert_eq!(s.depends_on, vec![a, b]);
    let many: Vec<JobId> = (0..101).map(|_| JobId::new()).collect();
    let body = json!({"kind": "sleep", "params": {"ms": 1}, "depends_on": many});
    let err = submit(body).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("depends_on"));
}

#[test]
fn a_disabled_kind_is_refused_and_named() {
    let mut registry = builtins();
    registry.enable_only(&["sleep", "factorial"]).unwrap();
    let err = submit_with(&registry, json!({"kind": "count_primes", "params": {}})).unwrap_err();
    assert_eq!(err.code, SpecErrorCode::KindDisabled);
    assert!(
        err.message.ends_with("enabled kinds: factorial, sleep"),
        "{}",
        err.message
    );
    let err = submit_with(&registry, json!({"kind": "nope"})).unwrap_err();
    assert_eq!(err.code, SpecErrorCode::UnknownKind);
    assert!(
        err.message
            .ends_with("count_primes, factorial, sleep, fetch_urls, word_count"),
        "{}",
        err.message
    );
    assert_eq!(registry.of_class(JobClass::Cpu), ["factorial"]);
    assert_eq!(registry.of_class(JobClass::Io), ["sleep"]);
}

#[test]
fn names_are_unique_and_enabling_an_unknown_kind_is_an_error() {
    let mut registry = builtins();
    let again = registry
        .register(crate::kinds::Sleep::default())
        .unwrap_err();
    assert_eq!(again, RegistryError::Duplicate("sleep".into()));
    let err = registry.enable_only(&["sleep", "nope"]).unwrap_err();
    assert!(matches!(err, RegistryError::Unknown { ref name, .. } if name == "nope"));
    registry.enable_only::<&str>(&[]).unwrap();
    assert_eq!(registry.enabled().count(), 5);
}

#[test]
fn a_word_count_over_a_source_names_it() {
    let source = JobId::new();
    let s = submit(json!({"kind": "word_count", "params": {"source_job": source}})).unwrap();
    assert_eq!(s.sources, [source]);
    assert_eq!(s.params, json!({"source_job": source, "top": 10}));
}

#[test]
fn schemas_carry_the_configured_bounds() {
    let registry = builtins();
    let schema = registry.get("factorial").unwrap().params_schema();
    assert_eq!(
        schema.pointer("/properties/numbers/items/maximum"),
        Some(&json!(crate::kinds::factorial::DEFAULT_MAX_N))
    );
    assert!(!schema.to_string().contains("$ref"));
    let output = registry.get("factorial").unwrap().output_schema();
    assert!(
        output
            .pointer("/properties/results/items/properties/leading_digits")
            .is_some()
    );
}
