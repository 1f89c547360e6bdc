//! A job's result: the kernel's output serialised once, as JSON text, and kept as text from
//! the kernel to the store and to the client. A 10,000-page `fetch_urls` result is a few MB of
//! text; as a `serde_json::Value` tree it would be several times that, once per copy.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The result of a job that succeeded: valid JSON text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobResult(Box<RawValue>);

impl JobResult {
    /// Serialises a kernel's output.
    pub fn of<T: Serialize>(output: &T) -> serde_json::Result<Self> {
        serde_json::value::to_raw_value(output).map(Self)
    }

    /// Checks and wraps stored JSON text.
    pub fn from_json(text: String) -> serde_json::Result<Self> {
        RawValue::from_string(text).map(Self)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The result as a JSON tree (for tests and small results).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// The result as a typed output.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }
}

impl From<Value> for JobResult {
    fn from(value: Value) -> Self {
        // A `Value` always serialises.
        Self::of(&value).unwrap_or_else(|_| Self(RawValue::NULL.to_owned()))
    }
}

impl PartialEq for JobResult {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.value() == other.value()
    }
}

impl fmt::Debug for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.as_str();
        match text.char_indices().nth(200) {
            Some((cut, _)) => write!(f, "{}… ({} bytes)", &text[..cut], text.len()),
            None => f.write_str(text),
        }
    }
}
