//! faena as a library with a kind of its own: `sha256_chain` hashes a string over and over
//! (SHA-256 of SHA-256 of … of the input) on the CPU pool, with progress and cancellation,
//! served beside the five built-in kinds by the same server as `faena serve`, with the same
//! flags and `FAENA_*` variables.
//!
//! ```text
//! cargo run --example custom_kind                                   # on 127.0.0.1:8080
//! FAENA_LISTEN=127.0.0.1:9000 cargo run --example custom_kind -- --kinds sha256_chain,sleep
//! curl -X POST 'localhost:8080/jobs?wait_ms=10000' -H 'content-type: application/json' \
//!      -d '{"kind": "sha256_chain", "params": {"input": "faena", "rounds": 1000000}}'
//! ```
//!
//! The kind is this file: its parameters and result (serde types with JSON Schemas, which
//! `/openapi.json`, `GET /kinds` and the dashboard's form show), their checks, and its run.

use std::process::ExitCode;

use faena::job::SpecError;
use faena::kind::{Ctl, JobClass, KernelCtl, Kind, KindError, Stopped, schema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Rounds hashed between two looks at the stop flag (about a millisecond of work).
const CHUNK: u64 = 4096;

/// The kind, with the most rounds one job may ask for.
pub struct Sha256Chain {
    pub max_rounds: u64,
}

/// Parameters of `sha256_chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"input": "faena", "rounds": 1000000}))]
pub struct Params {
    /// The text hashed first (its UTF-8 bytes), at most 4096 bytes.
    pub input: String,
    /// How many times to hash: the first round hashes `input`, each next one the 32 bytes
    /// of the round before.
    pub rounds: u64,
}

/// Result of `sha256_chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Output {
    /// The last round's digest, in lower-case hex.
    pub digest: String,
    pub rounds: u64,
}

/// Most bytes of `input`.
const MAX_INPUT: usize = 4096;

impl Kind for Sha256Chain {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "sha256_chain"
    }

    fn class(&self) -> JobClass {
        JobClass::Cpu
    }

    fn summary(&self) -> &str {
        "Hash a string with SHA-256 `rounds` times over (CPU)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        if p.input.len() > MAX_INPUT {
            let got = p.input.len();
            let why = format!("input must be at most {MAX_INPUT} bytes, got {got}");
            return Err(SpecError::param("input", why));
        }
        if p.rounds == 0 || p.rounds > self.max_rounds {
            let why = format!("rounds must be 1 to {}, got {}", self.max_rounds, p.rounds);
            return Err(SpecError::param("rounds", why));
        }
        Ok(())
    }

    fn limits(&self) -> serde_json::Value {
        serde_json::json!({ "max_rounds": self.max_rounds, "max_input_bytes": MAX_INPUT })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/input/maxLength", MAX_INPUT);
        schema::set(&mut s, "/properties/rounds/minimum", 1);
        schema::set(&mut s, "/properties/rounds/maximum", self.max_rounds);
        s
    }

    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        let rounds = p.rounds;
        let digest = ctl
            .on_cpu(move |k| chain(p.input.as_bytes(), rounds, k))
            .await?;
        Ok(Output { digest, rounds })
    }
}

/// SHA-256 applied `rounds` times, starting from `input`; progress counts rounds.
fn chain(input: &[u8], rounds: u64, ctl: &KernelCtl) -> Result<String, Stopped> {
    ctl.set_total(rounds);
    let mut digest: [u8; 32] = Sha256::digest(input).into();
    let mut done = 1;
    while done < rounds {
        ctl.check()?;
        let n = CHUNK.min(rounds - done);
        for _ in 0..n {
            digest = Sha256::digest(digest).into();
        }
        done += n;
        ctl.advance(n);
    }
    ctl.advance(1);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn main() -> ExitCode {
    faena::Server::builder()
        .kind(Sha256Chain {
            max_rounds: 1_000_000_000,
        })
        .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_chain_digests() {
        let ctl = KernelCtl::default();
        let once = chain(b"abc", 1, &ctl).unwrap();
        // FIPS 180-2's example.
        assert_eq!(
            once,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&once[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let twice = chain(b"abc", 2, &ctl).unwrap();
        assert_eq!(twice, format!("{:x}", Sha256::digest(&bytes)));
        assert_eq!(ctl.progress().get(), (2, 2));
    }
}
