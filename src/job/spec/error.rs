//! Validation errors: a stable code and the dotted path of the field at fault.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Stable codes of validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorCode {
    /// `kind` names no job kind.
    UnknownKind,
    /// `kind` names a job kind this server does not accept (`--kinds`).
    KindDisabled,
    /// A field of `params` is missing, of the wrong type or out of range.
    InvalidParams,
    /// A field of the request (outside `params`) is missing, of the wrong type or out of range.
    InvalidField,
}

impl SpecErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownKind => "unknown_kind",
            Self::KindDisabled => "kind_disabled",
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

    /// The parameters as a whole are wrong (e.g. two fields that exclude each other).
    pub fn params(message: impl Into<String>) -> Self {
        Self {
            code: SpecErrorCode::InvalidParams,
            field: Some("params".into()),
            message: message.into(),
        }
    }
}

pub(super) fn check_range<T: PartialOrd + fmt::Display>(
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

pub(crate) fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, SpecError> {
    from_value(params, "params")
}

/// Deserialises the object `value` into the struct `T`, turning serde's error into one that
/// names the field (under `prefix`).
pub(crate) fn from_value<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, SpecError> {
    let code = if prefix == "params" {
        SpecErrorCode::InvalidParams
    } else {
        SpecErrorCode::InvalidField
    };
    // Serde also reads a struct from an array, its fields by position (`"params": [0, 10]`);
    // the API documents objects only.
    if value.is_array() {
        let what = if prefix.is_empty() {
            "the body"
        } else {
            prefix
        };
        return Err(SpecError {
            code,
            field: (!prefix.is_empty()).then(|| prefix.to_string()),
            message: format!("{what} must be a JSON object, not an array"),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        // The root by its segments: a member named `.` displays as the root does.
        let at_root = err.path().iter().next().is_none();
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // A missing field is reported at the object that should hold it (an unknown one at
        // the field itself): add its name.
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let mut field = if at_root { String::new() } else { path };
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
