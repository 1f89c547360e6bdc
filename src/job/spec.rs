//! What a user asks for: the kind of a job with its typed parameters ([`JobSpec`]) and the
//! options of the run ([`SubmitOptions`]), parsed and validated once, at the edge.
//!
//! Parsing goes from a JSON object to types in two steps so that every error names the field
//! at fault: first the envelope (`kind`, `params`, `timeout_ms`, ...), then the parameters of
//! the named kind.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::kinds::{count_primes, factorial, sleep};

use super::Limits;

/// The kinds of job faena runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Count the primes in `[start, end)` (CPU).
    CountPrimes,
    /// Digits, trailing zeros and leading digits of n! for a list of n (CPU).
    Factorial,
    /// Wait `ms` milliseconds (I/O).
    Sleep,
}

/// Where a kind runs: the CPU pool or the async runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobClass {
    Cpu,
    Io,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [Self::CountPrimes, Self::Factorial, Self::Sleep];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountPrimes => "count_primes",
            Self::Factorial => "factorial",
            Self::Sleep => "sleep",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn class(self) -> JobClass {
        match self {
            Self::CountPrimes | Self::Factorial => JobClass::Cpu,
            Self::Sleep => JobClass::Io,
        }
    }

    /// The kinds of one class, for claiming only what has a free slot.
    pub fn of_class(class: JobClass) -> Vec<JobKind> {
        Self::ALL
            .into_iter()
            .filter(|k| k.class() == class)
            .collect()
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's kind with its parameters, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum JobSpec {
    CountPrimes(count_primes::Params),
    Factorial(factorial::Params),
    Sleep(sleep::Params),
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::CountPrimes(_) => JobKind::CountPrimes,
            Self::Factorial(_) => JobKind::Factorial,
            Self::Sleep(_) => JobKind::Sleep,
        }
    }

    /// Parses and validates the parameters of `kind` against `limits`.
    pub fn parse(kind: JobKind, params: Value, limits: &Limits) -> Result<Self, SpecError> {
        let spec = match kind {
            JobKind::CountPrimes => Self::CountPrimes(parse_params(params)?),
            JobKind::Factorial => Self::Factorial(parse_params(params)?),
            JobKind::Sleep => Self::Sleep(parse_params(params)?),
        };
        match &spec {
            Self::CountPrimes(p) => p.validate(limits),
            Self::Factorial(p) => p.validate(limits),
            Self::Sleep(p) => p.validate(limits),
        }?;
        Ok(spec)
    }

    /// Rebuilds the spec of a stored job (validated when it was accepted).
    pub fn from_stored(kind: JobKind, params: &Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            JobKind::CountPrimes => Self::CountPrimes(Deserialize::deserialize(params)?),
            JobKind::Factorial => Self::Factorial(Deserialize::deserialize(params)?),
            JobKind::Sleep => Self::Sleep(Deserialize::deserialize(params)?),
        })
    }

    /// The parameters as JSON, as stored and served.
    pub fn params_json(&self) -> Value {
        let value = match self {
            Self::CountPrimes(p) => serde_json::to_value(p),
            Self::Factorial(p) => serde_json::to_value(p),
            Self::Sleep(p) => serde_json::to_value(p),
        };
        // Plain structs of numbers always serialise.
        value.unwrap_or(Value::Null)
    }
}

/// The options of a job's runs, with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitOptions {
    pub timeout_ms: u64,
    pub priority: i32,
    pub max_attempts: u32,
}

/// The body of `POST /jobs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The kind of job.
    #[schema(value_type = JobKind)]
    pub kind: String,
    /// The kind's parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Option<Value>,
    /// Deadline of one run in ms, 1 ms to 24 h (default 60 s).
    #[schema(minimum = 1, maximum = 86_400_000)]
    pub timeout_ms: Option<u64>,
    /// -100..=100, higher runs first (default 0).
    #[schema(minimum = -100, maximum = 100)]
    pub priority: Option<i32>,
    /// Runs allowed when a run is interrupted by a crash, 1..=25 (default 3).
    #[schema(minimum = 1, maximum = 25)]
    pub max_attempts: Option<u32>,
}

impl SubmitRequest {
    /// Parses a request body (already known to be JSON).
    pub fn from_json(body: Value) -> Result<Self, SpecError> {
        from_value(body, "")
    }

    /// Checks everything and fills in defaults.
    pub fn validate(self, limits: &Limits) -> Result<(JobSpec, SubmitOptions), SpecError> {
        let kind = JobKind::parse(&self.kind).ok_or_else(|| SpecError {
            code: SpecErrorCode::UnknownKind,
            field: Some("kind".into()),
            message: format!(
                "unknown kind `{}`; known kinds: {}",
                self.kind.chars().take(64).collect::<String>(),
                JobKind::ALL.map(JobKind::as_str).join(", ")
            ),
        })?;
        let timeout_ms = self.timeout_ms.unwrap_or(limits.default_timeout_ms);
        check_range("timeout_ms", timeout_ms, 1, limits.max_timeout_ms)?;
        let priority = self.priority.unwrap_or(limits.default_priority);
        check_range("priority", priority, -100, 100)?;
        let max_attempts = self.max_attempts.unwrap_or(limits.default_max_attempts);
        check_range("max_attempts", max_attempts, 1, 25)?;
        let params = self
            .params
            .unwrap_or_else(|| Value::Object(Default::default()));
        let spec = JobSpec::parse(kind, params, limits)?;
        let options = SubmitOptions {
            timeout_ms,
            priority,
            max_attempts,
        };
        Ok((spec, options))
    }
}

/// Stable codes of validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorCode {
    /// `kind` names no job kind.
    UnknownKind,
    /// A field of `params` is missing, of the wrong type or out of range.
    InvalidParams,
    /// A field of the request (outside `params`) is missing, of the wrong type or out of range.
    InvalidField,
}

impl SpecErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownKind => "unknown_kind",
            Self::InvalidParams => "invalid_params",
            Self::InvalidField => "invalid_field",
        }
    }
}

/// Why a submission was refused, naming the field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    pub code: SpecErrorCode,
    /// Dotted path of the field, e.g. `params.numbers[3]`.
    pub field: Option<String>,
    pub message: String,
}

impl SpecError {
    /// A parameter of the kind is out of its documented range.
    pub fn param(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: SpecErrorCode::InvalidParams,
            field: Some(format!("params.{}", field.into())),
            message: message.into(),
        }
    }
}

fn check_range<T: PartialOrd + fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), SpecError> {
    if value < min || value > max {
        return Err(SpecError {
            code: SpecErrorCode::InvalidField,
            field: Some(field.into()),
            message: format!("{field} must be between {min} and {max}, got {value}"),
        });
    }
    Ok(())
}

fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, SpecError> {
    from_value(params, "params")
}

/// Deserialises `value`, turning serde's error into one that names the field (under `prefix`).
fn from_value<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // A missing field is reported at the object that should hold it (an unknown one at
        // the field itself): add its name.
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let mut field = if path == "." { String::new() } else { path };
        if let Some(name) = missing {
            field = if field.is_empty() {
                name.to_string()
            } else {
                format!("{field}.{name}")
            };
        }
        let field = match (prefix.is_empty(), field.is_empty()) {
            (true, _) => field,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{field}"),
        };
        let code = if prefix == "params" {
            SpecErrorCode::InvalidParams
        } else {
            SpecErrorCode::InvalidField
        };
        SpecError {
            code,
            message: if field.is_empty() {
                inner
            } else {
                format!("{field}: {inner}")
            },
            field: (!field.is_empty()).then_some(field),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn submit(body: Value) -> Result<(JobSpec, SubmitOptions), SpecError> {
        SubmitRequest::from_json(body)?.validate(&Limits::default())
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
                max_attempts: 3
            }
        );
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let cases = [
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
                json!({"kind": "factorial", "params": {"numbers": [1, -2]}}),
                SpecErrorCode::InvalidParams,
                "params.numbers[1]",
            ),
        ];
        for (body, code, field) in cases {
            let err = submit(body.clone()).expect_err(&body.to_string());
            assert_eq!(
                (err.code, err.field.as_deref()),
                (code, Some(field)),
                "{body}: {err}"
            );
        }
    }
}
