//! `factorial`: for each n of a list, the exact number of decimal digits of n!, its trailing
//! zeros and its leading digits, by [`faena_kernels::factorial`]. The numbers run in parallel
//! on the CPU pool; progress counts numbers done.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{Limits, SpecError};

pub use faena_kernels::factorial::FactorialFacts;

/// Default cap on n (`--max-factorial-n`).
pub const DEFAULT_MAX_N: u64 = 10_000_000;

/// Parameters of `factorial`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FactorialParams, example = json!({"numbers": [50000, 60000, 70000, 80000]}))]
pub struct Params {
    /// 1 to 100 numbers, each 0 ≤ n ≤ 10,000,000 (the cap is configurable).
    pub numbers: Vec<u64>,
}

/// Result of `factorial`: one entry per number, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = FactorialResult)]
pub struct Output {
    pub results: Vec<FactorialFacts>,
}

impl Params {
    pub fn validate(&self, limits: &Limits) -> Result<(), SpecError> {
        let count = self.numbers.len();
        if count == 0 || count > limits.max_factorial_numbers {
            return Err(SpecError::param(
                "numbers",
                format!(
                    "numbers must hold 1 to {} values, got {count}",
                    limits.max_factorial_numbers
                ),
            ));
        }
        if let Some((i, n)) = self
            .numbers
            .iter()
            .enumerate()
            .find(|(_, n)| **n > limits.max_factorial_n)
        {
            return Err(SpecError::param(
                format!("numbers[{i}]"),
                format!("n must be at most {}, got {n}", limits.max_factorial_n),
            ));
        }
        Ok(())
    }
}

/// Computes the facts of every n in parallel; call it inside the CPU pool.
pub fn run(params: &Params, ctl: &Ctl) -> Result<Output, Stopped> {
    let results = faena_kernels::factorial::facts_of_all(&params.numbers, ctl.kernel())?;
    Ok(Output { results })
}
