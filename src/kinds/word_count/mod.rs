//! `word_count`: words, lines and bytes of texts, and the most frequent words, counted by
//! [`faena_kernels::word_count`] on the CPU pool, in parallel across texts and within large
//! ones.
//!
//! The texts are given inline (`texts`) or are the pages a `fetch_urls` job saved
//! (`source_job`, read by [`pages`]); the job then depends on that job and runs once it has
//! succeeded. A word is a maximal run of non-whitespace characters, exactly as Python's
//! `str.split()` counts them.

mod pages;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::job::{JobId, SpecError};
use crate::kind::{Ctl, JobClass, Kind, KindError, schema};

pub use faena_kernels::word_count::{FileCounts, WordCounts as Output, WordFrequency};

/// Most texts given inline.
pub const MAX_TEXTS: usize = 10_000;
/// Largest `top`.
pub const MAX_TOP: usize = 100;

/// The kind.
#[derive(Debug, Clone, Default)]
pub struct WordCount;

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
    #[schema(default = 10)]
    pub top: usize,
}

fn default_top() -> usize {
    10
}

impl Kind for WordCount {
    type Params = Params;
    type Output = Output;

    fn name(&self) -> &str {
        "word_count"
    }

    fn class(&self) -> JobClass {
        JobClass::Cpu
    }

    fn summary(&self) -> &str {
        "Count the words, lines and bytes of texts or of a fetch_urls job's pages (CPU)."
    }

    fn validate(&self, p: &Params) -> Result<(), SpecError> {
        match (&p.source_job, &p.texts) {
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
        if p.top > MAX_TOP {
            return Err(SpecError::param(
                "top",
                format!("top must be between 0 and {MAX_TOP}, got {}", p.top),
            ));
        }
        Ok(())
    }

    fn limits(&self) -> serde_json::Value {
        json!({ "max_texts": MAX_TEXTS, "max_top": MAX_TOP })
    }

    fn params_schema(&self) -> serde_json::Value {
        let mut s = schema::of::<Params>();
        schema::set(&mut s, "/properties/texts/maxItems", MAX_TEXTS);
        schema::set(&mut s, "/properties/top/maximum", MAX_TOP);
        s
    }

    fn sources(&self, p: &Params) -> Vec<JobId> {
        p.source_job.into_iter().collect()
    }

    async fn run(&self, p: Params, ctl: Ctl) -> Result<Output, KindError> {
        match (p.source_job, p.texts) {
            (Some(source), _) => pages::count(source, p.top, &ctl).await,
            (None, texts) => {
                let texts = texts.unwrap_or_default();
                let top = p.top;
                ctl.on_cpu(move |k| faena_kernels::word_count::count_inline(&texts, top, k))
                    .await
            }
        }
    }
}
