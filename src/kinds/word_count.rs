//! `word_count`: words, lines and bytes of texts, and the most frequent words, counted by
//! [`faena_kernels::word_count`] on the CPU pool, in parallel across texts and within large
//! ones.
//!
//! The texts are given inline (`texts`) or are the pages a `fetch_urls` job saved
//! (`source_job`); the job then depends on that job and runs once it has succeeded. A word is
//! a maximal run of non-whitespace characters, exactly as Python's `str.split()` counts them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{JobId, Limits, SpecError};

pub use faena_kernels::word_count::{Accumulator, FileCounts, WordCounts as Output, WordFrequency};

/// Parameters of `word_count`: exactly one of `source_job` and `texts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WordCountParams, example = json!({"texts": ["to be or not to be"], "top": 3}))]
pub struct Params {
    /// A `fetch_urls` job (with `save: true`) whose saved pages to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_job: Option<JobId>,
    /// Texts to count, given inline (within the request body limit), at most 10,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texts: Option<Vec<String>>,
    /// How many of the most frequent words to report, 0 to 100 (default 10).
    #[serde(default = "default_top")]
    pub top: usize,
}

fn default_top() -> usize {
    10
}

/// Most texts given inline.
pub const MAX_TEXTS: usize = 10_000;
/// Largest `top`.
pub const MAX_TOP: usize = 100;

impl Params {
    pub fn validate(&self, _limits: &Limits) -> Result<(), SpecError> {
        match (&self.source_job, &self.texts) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(SpecError::params(
                    "give exactly one of `source_job` and `texts`",
                ));
            }
            (None, Some(texts)) if texts.len() > MAX_TEXTS => {
                return Err(SpecError::param(
                    "texts",
                    format!("at most {MAX_TEXTS} texts, got {}", texts.len()),
                ));
            }
            _ => {}
        }
        if self.top > MAX_TOP {
            return Err(SpecError::param(
                "top",
                format!("top must be between 0 and {MAX_TOP}, got {}", self.top),
            ));
        }
        Ok(())
    }
}

/// Counts the inline texts of `params` (on the current rayon pool).
pub fn run_inline(params: &Params, ctl: &Ctl) -> Result<Output, Stopped> {
    let texts = params.texts.as_deref().unwrap_or_default();
    faena_kernels::word_count::count_inline(texts, params.top, ctl.kernel())
}
