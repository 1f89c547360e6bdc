//! `factorial`: for each n of a list, the exact number of decimal digits of n!, its trailing
//! zeros and its leading digits, by [`faena_kernels::factorial`]. The numbers run in parallel
//! on the CPU pool; progress counts numbers done.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::job::SpecError;
use crate::kind::{Ctl, JobClass, Kind, KindError, schema};

pub use faena_kernels::factorial::FactorialFacts;

/// Default cap on n (`--max-factorial-n`).
pub const DEFAULT_MAX_N: u64 = 10_000_000;
/// Default cap on the numbers of one job.
pub const DEFAULT_MAX_NUMBERS: usize = 100;

/// The kind, with the bounds it accepts.
#[derive(Debug, Clone)]
pub struct Factorial {
    /// Largest n.
    pub max_n: u64,
    /// Most numbers in one job.
    pub max_numbers: usize,
}

impl Default for Factorial {
    fn default() -> Self {
        Self {
            max_n: DEFAULT_MAX_N,
            max_numbers: DEFAULT_MAX_NUMBERS,
        }
    }
}

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

impl Kind for Factorial {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "factorial"
    }

    fn class(&self) -> JobClass {
        JobClass::Cpu
    }

    fn summary(&self) -> &str {
        "Digits, trailing zeros and leading digits of n! for a list of n (CPU)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        let count = p.numbers.len();
        if count == 0 || count > self.max_numbers {
            return Err(SpecError::param(
                "numbers",
                format!(
                    "numbers must hold 1 to {} values, got {count}",
                    self.max_numbers
                ),
            ));
        }
        if let Some((i, n)) = (p.numbers.iter().enumerate()).find(|(_, n)| **n > self.max_n) {
            return Err(SpecError::param(
                format!("numbers[{i}]"),
                format!("n must be at most {}, got {n}", self.max_n),
            ));
        }
        Ok(())
    }

    fn limits(&self) -> serde_json::Value {
        json!({ "max_n": self.max_n, "max_numbers": self.max_numbers })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/numbers/minItems", 1);
        schema::set(&mut s, "/properties/numbers/maxItems", self.max_numbers);
        schema::set(&mut s, "/properties/numbers/items/maximum", self.max_n);
        s
    }

    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        let results = ctl
            .on_cpu(move |k| faena_kernels::factorial::facts_of_all(&p.numbers, k))
            .await?;
        Ok(Output { results })
    }
}
