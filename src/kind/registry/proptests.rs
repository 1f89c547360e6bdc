//! Properties of the submission parser, on generated input: any JSON value either validates or
//! is refused with a stable code naming the field at fault (never a panic); every valid
//! submission of each kind is accepted, with its parameters normalised into a form that reads
//! back, from the store's text, as the same spec; and every number out of its range is refused
//! naming its field.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::*;
use crate::job::{JobId, SubmitOptions};
use crate::kinds::count_primes::MAX_END;

static REGISTRY: LazyLock<Registry> = LazyLock::new(super::tests::builtins);

/// The bounds of the built-in kinds and of every job, by default.
struct Bounds {
    max_primes_end: u64,
    max_factorial_n: u64,
    max_factorial_numbers: usize,
    max_sleep_ms: u64,
    max_fetch_concurrency: u32,
    max_timeout_ms: u64,
    default_timeout_ms: u64,
    default_priority: i32,
    default_max_attempts: u32,
}

fn limits() -> Bounds {
    let l = Limits::default();
    Bounds {
        max_primes_end: MAX_END,
        max_factorial_n: crate::kinds::factorial::DEFAULT_MAX_N,
        max_factorial_numbers: crate::kinds::factorial::DEFAULT_MAX_NUMBERS,
        max_sleep_ms: crate::kinds::sleep::DEFAULT_MAX_MS,
        max_fetch_concurrency: crate::kinds::fetch_urls::FetchLimits::default().max_concurrency,
        max_timeout_ms: l.max_timeout_ms,
        default_timeout_ms: l.default_timeout_ms,
        default_priority: l.default_priority,
        default_max_attempts: l.default_max_attempts,
    }
}

fn validate(body: Value) -> Result<Submission, SpecError> {
    super::tests::submit_with(&REGISTRY, body)
}

/// The parameters a run gets back from what the store keeps (the params as JSON text),
/// parsed by their kind again: the stored form is itself a valid submission of the same job.
fn as_stored(s: &Submission) -> Result<Value, String> {
    let text = s.params.to_string();
    let params: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let kind = REGISTRY.get(s.kind.as_str()).ok_or("no such kind")?;
    kind.parse(params)
        .map(|p| p.params)
        .map_err(|e| e.to_string())
}

/// The names a submission's objects use, so that generated objects often hit them.
const KEYS: &[&str] = &[
    "kind",
    "params",
    "timeout_ms",
    "priority",
    "max_attempts",
    "depends_on",
    "ms",
    "start",
    "end",
    "numbers",
    "urls",
    "concurrency",
    "url_timeout_ms",
    "save",
    "retry_transient",
    "texts",
    "source_job",
    "top",
];

const TEXTS: &[&str] = &[
    "count_primes",
    "factorial",
    "sleep",
    "fetch_urls",
    "word_count",
    "nope",
    "",
    "http://a.example/",
    "gopher://a.example/",
    "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYS).prop_map(String::from),
        1 => "[a-z_.\\[\\]0-9]{0,8}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0..20u64).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(&[0, 1, 100, 101, 3_600_001, MAX_END, MAX_END + 1, u64::MAX][..])
            .prop_map(Value::from),
    ]
}

/// Any JSON value, biased towards the names and values a submission uses.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        select(TEXTS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A body: mostly an object with a kind (known or not), params and perhaps other members, or
/// a valid submission with one member changed.
fn body() -> impl Strategy<Value = Value> {
    let envelope = (
        select(TEXTS),
        value(),
        prop::collection::vec((key(), value()), 0..3),
    )
        .prop_map(|(kind, params, more)| {
            let mut body: Map<String, Value> = more.into_iter().collect();
            body.insert("kind".into(), kind.into());
            body.insert("params".into(), params);
            Value::Object(body)
        });
    // A valid submission with one member of its params or of itself replaced (or added).
    let mutated = (valid_params(), any::<bool>(), key(), value()).prop_map(
        |((kind, params, _), in_params, key, v)| {
            let mut body = json!({"kind": kind, "params": params});
            let target = if in_params {
                &mut body["params"]
            } else {
                &mut body
            };
            target[key] = v;
            body
        },
    );
    prop_oneof![1 => value(), 2 => envelope, 2 => mutated]
}

/// Whether `field` is `key` or lies under it (`key.x`, `key[3]`).
fn under(field: &str, key: &str) -> bool {
    field
        .strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// Checks that a refusal of `body` names a field consistent with its code.
fn check_refusal(body: &Value, err: &SpecError) -> Result<(), TestCaseError> {
    prop_assert!(!err.message.is_empty());
    prop_assert!(
        ["unknown_kind", "invalid_params", "invalid_field"].contains(&err.code.as_str()),
        "{err:?}"
    );
    let Value::Object(members) = body else {
        // A body that is not an object is refused as a whole.
        prop_assert_eq!(err.code, SpecErrorCode::InvalidField);
        prop_assert_eq!(&err.field, &None);
        return Ok(());
    };
    let Some(field) = err.field.as_deref() else {
        // The one member whose name cannot be a field: the empty name, unknown.
        prop_assert!(members.contains_key(""), "{err:?}");
        prop_assert_eq!(err.code, SpecErrorCode::InvalidField);
        return Ok(());
    };
    prop_assert!(!field.is_empty(), "{err:?}");
    match err.code {
        SpecErrorCode::UnknownKind | SpecErrorCode::KindDisabled => prop_assert_eq!(field, "kind"),
        SpecErrorCode::InvalidParams => prop_assert!(under(field, "params"), "{err:?}"),
        SpecErrorCode::InvalidField => prop_assert!(
            field == "kind" || members.keys().any(|k| under(field, k)),
            "{err:?} names no member of {body}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_json_body_is_accepted_or_refused_naming_its_field(body in body()) {
        match validate(body.clone()) {
            Ok(submission) => {
                prop_assert_eq!(as_stored(&submission), Ok(submission.params));
            }
            Err(err) => check_refusal(&body, &err)?,
        }
    }
}

/// Parameters of a valid job of each kind, as given (defaults left out at random), with the
/// kind and the parameters as they must be stored (defaults filled in).
fn valid_params() -> impl Strategy<Value = (&'static str, Value, Value)> {
    let l = limits();
    let count_primes = (0..l.max_primes_end, 1..=l.max_primes_end).prop_map(|(a, b)| {
        let (start, end) = if a < b { (a, b) } else { (b - 1, a + 1) };
        let params = json!({"start": start, "end": end});
        ("count_primes", params.clone(), params)
    });
    let factorial = prop::collection::vec(0..=l.max_factorial_n, 1..=l.max_factorial_numbers)
        .prop_map(|numbers| {
            let params = json!({ "numbers": numbers });
            ("factorial", params.clone(), params)
        });
    let sleep = (0..=l.max_sleep_ms).prop_map(|ms| {
        let params = json!({ "ms": ms });
        ("sleep", params.clone(), params)
    });
    let url = "https?://[a-z]{1,10}\\.example(:[0-9]{1,4})?/[a-zA-Z0-9_~/-]{0,20}";
    let fetch_urls = (
        prop::collection::vec(url, 1..20),
        prop::option::of(1..=l.max_fetch_concurrency),
        prop::option::of(1..=crate::kinds::fetch_urls::MAX_URL_TIMEOUT_MS),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(urls, concurrency, url_timeout_ms, save, retry_transient)| {
                let mut given = json!({ "urls": urls });
                for (key, v) in [
                    ("concurrency", concurrency.map(Value::from)),
                    ("url_timeout_ms", url_timeout_ms.map(Value::from)),
                    ("save", save.map(Value::from)),
                    ("retry_transient", retry_transient.map(Value::from)),
                ] {
                    if let Some(v) = v {
                        given[key] = v;
                    }
                }
                let stored = json!({
                    "urls": urls,
                    "concurrency": concurrency.unwrap_or(16),
                    "url_timeout_ms": url_timeout_ms.unwrap_or(10_000),
                    "save": save.unwrap_or(true),
                    "retry_transient": retry_transient.unwrap_or(false),
                });
                ("fetch_urls", given, stored)
            },
        );
    let source = prop_oneof![
        any::<u128>().prop_map(|n| json!({ "source_job": JobId::from(uuid::Uuid::from_u128(n)) })),
        prop::collection::vec(any::<String>(), 0..5).prop_map(|texts| json!({ "texts": texts })),
    ];
    let word_count = (source, prop::option::of(0..=100usize)).prop_map(|(mut given, top)| {
        let mut stored = given.clone();
        stored["top"] = top.unwrap_or(10).into();
        if let Some(top) = top {
            given["top"] = top.into();
        }
        ("word_count", given, stored)
    });
    prop_oneof![count_primes, factorial, sleep, fetch_urls, word_count]
}

/// Options of a valid job, as given (`None`: left out).
fn valid_options() -> impl Strategy<Value = (Option<u64>, Option<i32>, Option<u32>)> {
    (
        prop::option::of(1..=limits().max_timeout_ms),
        prop::option::of(-100..=100i32),
        prop::option::of(1..=25u32),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn valid_submissions_are_accepted_and_read_back_as_the_same_spec(
        (kind, given, stored) in valid_params(),
        (timeout_ms, priority, max_attempts) in valid_options(),
        deps in prop::collection::vec(0..4u128, 0..6),
    ) {
        let deps: Vec<JobId> = deps.into_iter().map(|n| uuid::Uuid::from_u128(n).into()).collect();
        let mut body = json!({"kind": kind, "params": given, "depends_on": deps});
        for (key, v) in [
            ("timeout_ms", timeout_ms.map(Value::from)),
            ("priority", priority.map(Value::from)),
            ("max_attempts", max_attempts.map(Value::from)),
        ] {
            if let Some(v) = v {
                body[key] = v;
            }
        }
        let s = validate(body.clone()).map_err(|e| TestCaseError::fail(format!("{body}: {e:?}")))?;
        prop_assert_eq!(s.kind, kind);
        prop_assert_eq!(&s.params, &stored);
        prop_assert_eq!(as_stored(&s), Ok(stored));
        let l = limits();
        prop_assert_eq!(s.options, SubmitOptions {
            timeout_ms: timeout_ms.unwrap_or(l.default_timeout_ms),
            priority: priority.unwrap_or(l.default_priority),
            max_attempts: max_attempts.unwrap_or(l.default_max_attempts),
            run_after: None,
        });
        let mut distinct = deps.clone();
        let mut seen = std::collections::HashSet::new();
        distinct.retain(|id| seen.insert(*id));
        prop_assert_eq!(s.depends_on, distinct);
    }
}

/// A number out of the range of the field `field`, in a body otherwise valid, with the code
/// its refusal must have.
fn out_of_range() -> impl Strategy<Value = (Value, SpecErrorCode, String)> {
    let l = limits();
    let params = SpecErrorCode::InvalidParams;
    let envelope = SpecErrorCode::InvalidField;
    let past = |max: u64| prop_oneof![max + 1..=u64::MAX, Just(max + 1)];
    let negative = i64::MIN..0;
    let job = |kind: &str, params: Value| json!({"kind": kind, "params": params});
    let sleep = |extra: (&str, Value)| {
        let mut body = json!({"kind": "sleep", "params": {"ms": 1}});
        body[extra.0] = extra.1;
        body
    };
    prop_oneof![
        past(l.max_sleep_ms).prop_map(move |ms| (
            job("sleep", json!({"ms": ms})),
            params,
            "params.ms".into()
        )),
        negative.clone().prop_map(move |ms| (
            job("sleep", json!({"ms": ms})),
            params,
            "params.ms".into()
        )),
        (0..l.max_primes_end, past(l.max_primes_end)).prop_map(move |(start, end)| {
            (
                job("count_primes", json!({"start": start, "end": end})),
                params,
                "params.end".into(),
            )
        }),
        (0..=l.max_primes_end, 0..=l.max_primes_end).prop_map(move |(a, b)| {
            let (start, end) = (a.max(b), a.min(b));
            (
                job("count_primes", json!({"start": start, "end": end})),
                params,
                "params.end".into(),
            )
        }),
        negative.clone().prop_map(move |start| {
            (
                job("count_primes", json!({"start": start, "end": 10})),
                params,
                "params.start".into(),
            )
        }),
        (
            prop::collection::vec(0..=l.max_factorial_n, 1..20),
            any::<prop::sample::Index>(),
            prop_oneof![
                past(l.max_factorial_n).prop_map(Value::from),
                negative.clone().prop_map(Value::from),
            ]
        )
            .prop_map(move |(numbers, at, bad)| {
                let at = at.index(numbers.len());
                let mut numbers: Vec<Value> = numbers.into_iter().map(Value::from).collect();
                numbers[at] = bad;
                (
                    job("factorial", json!({ "numbers": numbers })),
                    params,
                    format!("params.numbers[{at}]"),
                )
            }),
        (l.max_factorial_numbers + 1..200).prop_map(move |n| {
            (
                job("factorial", json!({"numbers": vec![1; n]})),
                params,
                "params.numbers".into(),
            )
        }),
        prop_oneof![Just(0), past(u64::from(l.max_fetch_concurrency))].prop_map(move |c| {
            let p = json!({"urls": ["http://a.example/"], "concurrency": c});
            (job("fetch_urls", p), params, "params.concurrency".into())
        }),
        prop_oneof![Just(0), past(crate::kinds::fetch_urls::MAX_URL_TIMEOUT_MS)].prop_map(
            move |t| {
                let p = json!({"urls": ["http://a.example/"], "url_timeout_ms": t});
                (job("fetch_urls", p), params, "params.url_timeout_ms".into())
            }
        ),
        past(100).prop_map(move |top| {
            (
                job("word_count", json!({"texts": [], "top": top})),
                params,
                "params.top".into(),
            )
        }),
        prop_oneof![Just(0), past(l.max_timeout_ms)].prop_map(move |t| {
            (
                sleep(("timeout_ms", t.into())),
                envelope,
                "timeout_ms".into(),
            )
        }),
        negative.clone().prop_map(move |t| (
            sleep(("timeout_ms", t.into())),
            envelope,
            "timeout_ms".into()
        )),
        prop_oneof![i64::MIN..-100, 101..=i64::MAX]
            .prop_map(move |p| { (sleep(("priority", p.into())), envelope, "priority".into()) }),
        prop_oneof![Just(0), past(25)].prop_map(move |n| {
            (
                sleep(("max_attempts", n.into())),
                envelope,
                "max_attempts".into(),
            )
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn numbers_out_of_range_are_refused_naming_their_field((body, code, field) in out_of_range()) {
        let err = validate(body.clone()).expect_err(&body.to_string());
        prop_assert_eq!((err.code, err.field.as_deref()), (code, Some(field.as_str())), "{}: {}", body, err);
    }
}
