//! `word_count`: words, lines and bytes of texts, and the most frequent words, counted on the
//! CPU pool in parallel across texts and within large ones.
//!
//! The texts are given inline (`texts`) or are the pages a `fetch_urls` job saved
//! (`source_job`); the job then depends on that job and runs once it has succeeded. A word is
//! a maximal run of non-whitespace characters, exactly as Python's `str.split()` counts them.

mod count;
#[cfg(test)]
mod tests;

pub use count::{Tally, TextCounts, count, count_and_tally, count_texts, split_at_whitespace};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Ctl, Stopped};
use crate::job::{JobId, Limits, SpecError};

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

/// Result of `word_count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = WordCountResult)]
pub struct Output {
    pub total_words: u64,
    pub total_lines: u64,
    pub total_bytes: u64,
    /// One per text (`text-0`, ...) or saved page (by its name), in order.
    pub files: Vec<FileCounts>,
    /// The most frequent words, lower-cased, most frequent first (ties: alphabetical).
    pub top_words: Vec<WordFrequency>,
}

/// Counts of one text or page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileCounts {
    pub name: String,
    pub words: u64,
    /// `\n` characters, as `wc -l` counts lines.
    pub lines: u64,
    pub bytes: u64,
}

/// A word and how often it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WordFrequency {
    pub word: String,
    pub count: u64,
}

/// Counts gathered over batches of texts.
#[derive(Debug)]
pub struct Accumulator {
    files: Vec<FileCounts>,
    total: TextCounts,
    tally: Tally,
    top: usize,
}

impl Accumulator {
    pub fn new(top: usize) -> Self {
        Self {
            files: Vec::new(),
            total: TextCounts::default(),
            tally: Tally::new(),
            top,
        }
    }

    /// Counts a batch of named texts on the current rayon pool.
    pub fn add(&mut self, names: Vec<String>, texts: &[&[u8]], ctl: &Ctl) -> Result<(), Stopped> {
        let stop = || ctl.is_stopped();
        let (counts, tally) = count_texts(texts, self.top > 0, &stop).ok_or(Stopped)?;
        for (name, c) in names.into_iter().zip(counts) {
            self.total.add(c);
            self.files.push(FileCounts {
                name,
                words: c.words,
                lines: c.lines,
                bytes: c.bytes,
            });
        }
        self.tally.merge(tally);
        ctl.advance(texts.len() as u64);
        Ok(())
    }

    pub fn finish(self) -> Output {
        Output {
            total_words: self.total.words,
            total_lines: self.total.lines,
            total_bytes: self.total.bytes,
            files: self.files,
            top_words: (self.tally.top(self.top).into_iter())
                .map(|(word, count)| WordFrequency { word, count })
                .collect(),
        }
    }
}

/// Counts the inline texts of `params` (on the current rayon pool).
pub fn run_inline(params: &Params, ctl: &Ctl) -> Result<Output, Stopped> {
    let texts = params.texts.as_deref().unwrap_or_default();
    ctl.set_total(texts.len() as u64);
    let mut acc = Accumulator::new(params.top);
    let names = (0..texts.len()).map(|i| format!("text-{i}")).collect();
    let bytes: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    acc.add(names, &bytes, ctl)?;
    Ok(acc.finish())
}
