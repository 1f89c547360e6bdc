//! Counting words: words, lines and bytes of texts, and the most frequent words, counted on the
//! current rayon pool in parallel across texts and within large ones. A word is a maximal run
//! of non-whitespace characters, exactly as Python's `str.split()` counts them.
//!
//! Texts come in batches ([`Accumulator::add`]), so that a caller reading them from somewhere
//! (the pages a job saved) can count one batch while it reads the next.

mod count;
#[cfg(test)]
mod tests;

pub use count::{Tally, TextCounts, count, count_and_tally, count_texts, split_at_whitespace};

use serde::{Deserialize, Serialize};

use crate::{Ctl, Stopped};

/// Result of `word_count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(as = WordCountResult))]
pub struct WordCounts {
    pub total_words: u64,
    pub total_lines: u64,
    pub total_bytes: u64,
    /// One per text (`text-0`, ...) or saved page (by its name), in order.
    pub files: Vec<FileCounts>,
    /// The most frequent words, lower-cased, most frequent first (ties: alphabetical).
    pub top_words: Vec<WordFrequency>,
}

/// Counts of one text or page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FileCounts {
    pub name: String,
    pub words: u64,
    /// `\n` characters, as `wc -l` counts lines.
    pub lines: u64,
    pub bytes: u64,
}

/// A word and how often it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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

    pub fn finish(self) -> WordCounts {
        WordCounts {
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

/// Counts `texts`, named `text-0`, `text-1`, ... (on the current rayon pool), reporting the
/// `top` most frequent words.
pub fn count_inline(texts: &[String], top: usize, ctl: &Ctl) -> Result<WordCounts, Stopped> {
    ctl.set_total(texts.len() as u64);
    let mut acc = Accumulator::new(top);
    let names = (0..texts.len()).map(|i| format!("text-{i}")).collect();
    let bytes: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    acc.add(names, &bytes, ctl)?;
    Ok(acc.finish())
}
