//! `faena submit`: its options, and the `POST /jobs` body they make. A `--param k=v` value
//! that parses as JSON is taken as JSON (`numbers=[5,10]`, `save=false`), any other as a
//! string (`urls` needs JSON; `text=hello` is a string).

use clap::Args;
use serde_json::{Map, Value};

use super::http::ClientError;
use crate::job::JobId;

/// Options of `faena submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The kind of job (`faena kinds` lists the server's: count_primes, factorial, sleep,
    /// fetch_urls and word_count, and any it was built with).
    pub kind: String,
    /// A parameter of the job, KEY=VALUE (repeatable). VALUE is taken as JSON when it parses
    /// as JSON (`numbers=[5,10]`, `ms=500`, `save=false`), else as a string; quote a string
    /// that looks like JSON (`'text="42"'`).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, Value)>,
    /// All parameters as one JSON object (merged with --param; a key may not be in both).
    #[arg(long = "params", value_name = "JSON", value_parser = parse_object)]
    pub params_json: Option<Map<String, Value>>,
    /// Deadline of one run, in ms (server default: 60000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// -100..=100, higher runs first (server default: 0).
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i32>,
    /// Runs allowed when runs fail with a retryable error (server default: 3).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// A job that must be final before this one runs (repeatable).
    #[arg(long, value_name = "ID")]
    pub depends_on: Vec<JobId>,
    /// Do not start the job before this time (RFC 3339, e.g. 2026-01-31T12:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub run_after: Option<String>,
    /// Sent as `Idempotency-Key`: a repeat of the same submission gets the job the first one
    /// created instead of a new one.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Wait for the job to end, with a progress bar on a terminal, and print its result.
    #[arg(long)]
    pub wait: bool,
}

impl SubmitArgs {
    /// The body of `POST /jobs`; a key given twice is a usage error.
    pub fn body(&self) -> Result<Value, ClientError> {
        let mut params = self.params_json.clone().unwrap_or_default();
        for (key, value) in &self.params {
            if params.insert(key.clone(), value.clone()).is_some() {
                return Err(ClientError::Usage(format!(
                    "parameter `{key}` is given more than once"
                )));
            }
        }
        let mut body = Map::new();
        body.insert("kind".into(), self.kind.clone().into());
        body.insert("params".into(), params.into());
        let options = [
            ("timeout_ms", self.timeout_ms.map(Value::from)),
            ("priority", self.priority.map(Value::from)),
            ("max_attempts", self.max_attempts.map(Value::from)),
            ("run_after", self.run_after.clone().map(Value::from)),
        ];
        for (key, value) in options {
            if let Some(value) = value {
                body.insert(key.into(), value);
            }
        }
        if !self.depends_on.is_empty() {
            let ids = self.depends_on.iter().map(|id| id.to_string().into());
            body.insert("depends_on".into(), Value::Array(ids.collect()));
        }
        Ok(Value::Object(body))
    }
}

/// `KEY=VALUE` → the key and the value, as JSON if it parses, else as a string.
fn parse_param(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if key.is_empty() {
        return Err(format!("`{text}` has no key before `=`"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
    Ok((key.to_string(), value))
}

fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SubmitArgs,
    }

    fn body(args: &[&str]) -> Result<Value, ClientError> {
        let cli = Cli::try_parse_from(std::iter::once("submit").chain(args.iter().copied()))
            .expect("parses");
        cli.args.body()
    }

    #[test]
    fn values_that_parse_as_json_are_json_and_others_strings() {
        let got = body(&[
            "factorial",
            "--param",
            "numbers=[5,10]",
            "-p",
            "n=7",
            "-p",
            "flag=false",
            "-p",
            "word=hello",
            "-p",
            "quoted=\"42\"",
            "-p",
            "eq=a=b",
            "-p",
            "empty=",
        ])
        .unwrap();
        let want = json!({"kind": "factorial", "params": {"numbers": [5, 10], "n": 7,
            "flag": false, "word": "hello", "quoted": "42", "eq": "a=b", "empty": ""}});
        assert_eq!(got, want);
    }

    #[test]
    fn options_and_dependencies_go_in_the_body_only_when_given() {
        let dep = "01936f0e-7b5a-7cc1-9f0e-2d1c3b4a5f60";
        let got = body(&[
            "sleep",
            "--params",
            r#"{"ms": 5}"#,
            "--priority",
            "-5",
            "--timeout-ms",
            "900",
            "--max-attempts",
            "1",
            "--depends-on",
            dep,
            "--run-after",
            "2030-01-01T00:00:00Z",
        ])
        .unwrap();
        let want = json!({"kind": "sleep", "params": {"ms": 5}, "timeout_ms": 900,
            "priority": -5, "max_attempts": 1, "run_after": "2030-01-01T00:00:00Z",
            "depends_on": [dep]});
        assert_eq!(got, want);
        assert_eq!(
            body(&["sleep"]).unwrap(),
            json!({"kind": "sleep", "params": {}})
        );
    }

    #[test]
    fn a_key_given_twice_is_a_usage_error() {
        for args in [
            &["sleep", "-p", "ms=1", "-p", "ms=2"][..],
            &["sleep", "--params", r#"{"ms": 1}"#, "-p", "ms=2"][..],
        ] {
            assert!(matches!(body(args), Err(ClientError::Usage(_))), "{args:?}");
        }
    }

    #[test]
    fn malformed_params_are_refused_by_the_parser() {
        for args in [
            &["sleep", "-p", "novalue"][..],
            &["sleep", "-p", "=1"][..],
            &["sleep", "--params", "[1]"][..],
            &["sleep", "--depends-on", "not-a-uuid"][..],
        ] {
            let argv = std::iter::once("submit").chain(args.iter().copied());
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }
}
