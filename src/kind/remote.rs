//! Worker kinds: declared on the server (`--worker-kinds resize,send_email`) and run by remote
//! workers, in any language, that claim their jobs over HTTP (`POST /workers/claim`) and
//! answer for them (`/jobs/{id}/heartbeat`, `/complete`, `/fail`). The server stores and
//! checks their jobs like any other (a JSON object of parameters, checked against the kind's
//! JSON Schema when it has one: `--worker-kind-schema resize=schemas/resize.json`), queues,
//! retries, times out and rescues them; it never runs them: their class, [`JobClass::Worker`],
//! has no slots here.

use std::path::Path;
use std::sync::Arc;

use jsonschema::paths::LocationSegment;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Ctl, JobClass, Kind, KindError};
use crate::job::{JobError, JobErrorCode, SpecError};

/// A kind whose jobs remote workers run.
#[derive(Debug, Clone)]
pub struct WorkerKind {
    name: String,
    summary: String,
    schema: Option<Arc<Schema>>,
}

/// A worker kind's JSON Schema, as given and compiled.
#[derive(Debug)]
struct Schema {
    document: Value,
    validator: jsonschema::Validator,
}

/// Why a worker kind's schema is unusable.
#[derive(Debug, thiserror::Error)]
#[error("the JSON Schema of worker kind `{kind}` ({path}): {reason}")]
pub struct SchemaError {
    kind: String,
    path: String,
    reason: String,
}

impl WorkerKind {
    /// The worker kind `name` (`[a-z][a-z0-9_]{0,63}`, checked when it is registered).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let summary = format!("Run by remote workers (`POST /workers/claim` with kind `{name}`).");
        Self {
            name,
            summary,
            schema: None,
        }
    }

    /// This kind, its parameters checked against the JSON Schema `document` (any draft; the
    /// draft of its `$schema`, else 2020-12). References are resolved within the document
    /// only: nothing is fetched.
    pub fn with_schema(mut self, document: Value) -> Result<Self, String> {
        let validator = jsonschema::validator_for(&document).map_err(|e| e.to_string())?;
        self.schema = Some(Arc::new(Schema {
            document,
            validator,
        }));
        Ok(self)
    }

    /// This kind with the JSON Schema in the file `path`.
    pub fn with_schema_file(self, path: &Path) -> Result<Self, SchemaError> {
        let error = |reason: String| SchemaError {
            kind: self.name.clone(),
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| error(format!("not JSON: {e}")))?;
        let name = self.name.clone();
        self.with_schema(document).map_err(|reason| SchemaError {
            kind: name,
            path: path.display().to_string(),
            reason: format!("not a valid JSON Schema: {reason}"),
        })
    }
}

/// A worker kind's parameters: any JSON object, handed to the worker as submitted.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct WorkerParams(Map<String, Value>);

/// A worker kind's result: whatever JSON the worker completed the job with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct WorkerOutput(Value);

/// Longest message of a schema's verdict (it quotes the value at fault, which may be long).
const MAX_MESSAGE: usize = 300;

impl Kind for WorkerKind {
    type Params = WorkerParams;
    type Output = WorkerOutput;

    fn name(&self) -> &str {
        &self.name
    }

    fn class(&self) -> JobClass {
        JobClass::Worker
    }

    fn summary(&self) -> &str {
        &self.summary
    }

    /// Against the kind's schema, if it has one: the first error, naming its field.
    fn validate(&self, params: &WorkerParams) -> Result<(), SpecError> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let instance = Value::Object(params.0.clone());
        let Some(error) = schema.validator.iter_errors(&instance).next() else {
            return Ok(());
        };
        let mut message = error.to_string();
        if message.chars().count() > MAX_MESSAGE {
            message = message.chars().take(MAX_MESSAGE).collect::<String>() + "…";
        }
        let mut field = String::new();
        for segment in error.instance_path().iter() {
            match segment {
                LocationSegment::Index(i) => field.push_str(&format!("[{i}]")),
                LocationSegment::Property(name) if field.is_empty() => field.push_str(&name),
                LocationSegment::Property(name) => field.push_str(&format!(".{name}")),
            }
        }
        Err(match field.is_empty() {
            true => SpecError::params(message),
            false => SpecError::param(field, message),
        })
    }

    fn params_schema(&self) -> Value {
        match &self.schema {
            Some(schema) => schema.document.clone(),
            None => super::schema::of::<WorkerParams>(),
        }
    }

    async fn run(&self, _: WorkerParams, _: Ctl) -> Result<WorkerOutput, KindError> {
        // Never called: the class has no slots in the server.
        Err(KindError::Failed(JobError::new(
            JobErrorCode::Internal,
            format!("`{}` jobs run on remote workers", self.name),
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(v: Value) -> WorkerParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parameters_are_checked_against_the_schema_naming_the_field() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["path", "width"],
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "width": {"type": "integer", "minimum": 1, "maximum": 10000},
                "sizes": {"type": "array", "items": {"$ref": "#/$defs/size"}}
            },
            "additionalProperties": false,
            "$defs": {"size": {"type": "object", "properties": {"w": {"type": "integer"}}}}
        });
        let kind = WorkerKind::new("resize")
            .with_schema(schema.clone())
            .unwrap();
        assert_eq!(kind.params_schema(), schema);
        let ok = json!({"path": "a.png", "width": 640, "sizes": [{"w": 1}]});
        assert_eq!(kind.validate(&params(ok)), Ok(()));
        for (bad, field) in [
            (json!({"path": "a.png", "width": 0}), "params.width"),
            (json!({"path": "a.png", "width": "wide"}), "params.width"),
            (json!({"path": "", "width": 1}), "params.path"),
            (
                json!({"path": "a", "width": 1, "sizes": [{"w": 1}, {"w": "x"}]}),
                "params.sizes[1].w",
            ),
            (json!({"width": 1}), "params"),
            (json!({"path": "a", "width": 1, "extra": 1}), "params"),
        ] {
            let err = kind.validate(&params(bad.clone())).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{bad}: {err:?}");
            assert_eq!(err.code, crate::job::SpecErrorCode::InvalidParams);
            assert!(!err.message.is_empty());
        }
        // A long value at fault is quoted, cut short.
        let long = json!({"path": 1, "width": 1, "extra": "x".repeat(5000)});
        let err = kind.validate(&params(long)).unwrap_err();
        assert!(
            err.message.chars().count() <= MAX_MESSAGE + 1,
            "{}",
            err.message
        );
    }

    #[test]
    fn an_unusable_schema_is_refused() {
        assert!(
            WorkerKind::new("k")
                .with_schema(json!({"type": 12}))
                .is_err()
        );
        assert!(
            (WorkerKind::new("k").with_schema(json!({"$ref": "https://example.invalid/s.json"})))
                .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = WorkerKind::new("k").with_schema_file(&path).unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
        let missing = WorkerKind::new("k").with_schema_file(&dir.path().join("none.json"));
        assert!(missing.is_err());
    }
}
