//! The `word_count` kernel: words, lines and bytes of texts, and optionally how often each
//! case-folded word occurs, counted on raw bytes without decoding them.
//!
//! - **Words** are those of Python's `str.split()` on the text decoded as UTF-8 lossily: maximal
//!   runs of characters other than Unicode White_Space and U+001C..U+001F. In lossy decoding an
//!   ASCII byte is always a character of its own, and the multi-byte whitespace characters
//!   (U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) start with
//!   a lead byte (C2, E1, E2, E3) that never continues another sequence; so wherever the bytes
//!   of one of them appear, they are that character. Every other byte, invalid ones included, is
//!   part of a word.
//! - **Blocks.** The text is read 64 bytes at a time; [`simd::classify`] marks the ASCII
//!   whitespace, the newlines and the candidate lead bytes as bits of a `u64`. The few candidates
//!   are checked one by one, and a whitespace character that runs into the next block carries
//!   its remaining bits over. A word starts at each non-whitespace byte that follows whitespace
//!   (or the start of the text): a shift, an and-not and a popcount per block.
//! - **Tally.** Counting also the words themselves walks the word starts and ends of each block
//!   and adds each word to a [`Tally`].
//! - **Parallelism.** [`count_texts`] cuts large texts into pieces of about 256 KiB just after
//!   ASCII whitespace, so that no word or character straddles two pieces, and counts the pieces
//!   on the current rayon pool, one tally per worker, merged at the end.

mod blocks;
mod short_words;
pub(super) mod simd;
mod tally;

pub use tally::Tally;

use rayon::prelude::*;

use blocks::Blocks;
use simd::Classify;

/// Bytes per piece in [`count_texts`]: well under a millisecond of counting and a millisecond
/// of tallying, or about 10 ms when nearly every word is new, so `stop` is polled often.
const PIECE: usize = 256 << 10;

/// Counts of one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextCounts {
    /// Words, as Python's `str.split()` finds them.
    pub words: u64,
    /// `\n` bytes, as `wc -l` counts them.
    pub lines: u64,
    /// Length in bytes.
    pub bytes: u64,
}

impl TextCounts {
    /// Adds `other`'s counts to these: the counts of two texts one after the other, if the first
    /// ends in whitespace (as the pieces of [`split_at_whitespace`] do).
    pub fn add(&mut self, other: TextCounts) {
        self.words += other.words;
        self.lines += other.lines;
        self.bytes += other.bytes;
    }
}

/// Counts the words, lines and bytes of `text`, single-threaded.
pub fn count(text: &[u8]) -> TextCounts {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd::Avx2::detect() {
        // SAFETY: `detect` found the features `count_avx2` is compiled for.
        return unsafe { count_avx2(text, avx2) };
    }
    count_with(text, simd::Baseline)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
fn count_avx2(text: &[u8], avx2: simd::Avx2) -> TextCounts {
    count_with(text, avx2)
}

/// [`count`] without AVX2, for tests on CPUs that have it.
#[cfg(test)]
pub(super) fn count_baseline(text: &[u8]) -> TextCounts {
    count_with(text, simd::Baseline)
}

/// [`count`], inlined into each caller so as to be compiled for its instructions.
#[inline(always)]
fn count_with<C: Classify>(text: &[u8], classify: C) -> TextCounts {
    let mut counts = TextCounts {
        bytes: text.len() as u64,
        ..TextCounts::default()
    };
    // 1 when the byte before the block is whitespace; the start of the text counts as such.
    let mut after_ws = 1;
    for block in Blocks::new(text, classify) {
        let starts = !block.ws & (block.ws << 1 | after_ws);
        counts.words += u64::from(starts.count_ones());
        counts.lines += u64::from(block.newlines.count_ones());
        after_ws = block.ws >> 63;
    }
    counts
}

/// Counts the words, lines and bytes of `text` and adds its words to `tally`, in one pass.
pub fn count_and_tally(text: &[u8], tally: &mut Tally) -> TextCounts {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = simd::Avx2::detect() {
        // SAFETY: `detect` found the features `count_and_tally_avx2` is compiled for.
        return unsafe { count_and_tally_avx2(text, tally, avx2) };
    }
    count_and_tally_with(text, tally, simd::Baseline)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1,bmi2")]
fn count_and_tally_avx2(text: &[u8], tally: &mut Tally, avx2: simd::Avx2) -> TextCounts {
    count_and_tally_with(text, tally, avx2)
}

/// [`count_and_tally`] without AVX2, for tests on CPUs that have it.
#[cfg(test)]
pub(super) fn count_and_tally_baseline(text: &[u8], tally: &mut Tally) -> TextCounts {
    count_and_tally_with(text, tally, simd::Baseline)
}

/// [`count_and_tally`], inlined into each caller so as to be compiled for its instructions.
#[inline(always)]
fn count_and_tally_with<C: Classify>(text: &[u8], tally: &mut Tally, classify: C) -> TextCounts {
    let mut counts = TextCounts {
        bytes: text.len() as u64,
        ..TextCounts::default()
    };
    let mut after_ws = 1;
    let mut word_start = 0;
    for block in Blocks::new(text, classify) {
        let follows_ws = block.ws << 1 | after_ws;
        let mut starts = !block.ws & follows_ws;
        // The first whitespace byte after each word.
        let mut ends = block.ws & !follows_ws;
        counts.words += u64::from(starts.count_ones());
        counts.lines += u64::from(block.newlines.count_ones());
        // A word open since an earlier block ends first; then starts and ends pair up in
        // order, and a last start may be left open.
        if after_ws == 0 && ends != 0 {
            tally.add_word(
                text,
                word_start,
                block.base + ends.trailing_zeros() as usize,
            );
            ends &= ends - 1;
        }
        while ends != 0 {
            let start = block.base + starts.trailing_zeros() as usize;
            tally.add_word(text, start, block.base + ends.trailing_zeros() as usize);
            starts &= starts - 1;
            ends &= ends - 1;
        }
        if starts != 0 {
            word_start = block.base + starts.trailing_zeros() as usize;
        }
        after_ws = block.ws >> 63;
    }
    // A last block that is not padded (the text fills it) may end inside a word.
    if after_ws == 0 {
        tally.add_word(text, word_start, text.len());
    }
    counts
}

/// Splits `text` into pieces of at least `piece` bytes (the last may be shorter), each ending
/// just after an ASCII whitespace byte, so that no character or word straddles two pieces and
/// the pieces' counts add up to the text's. A piece grows until it finds whitespace: a text
/// without any is one piece. An empty text has no pieces.
pub fn split_at_whitespace(text: &[u8], piece: usize) -> Vec<&[u8]> {
    let piece = piece.max(1);
    let mut pieces = Vec::with_capacity(text.len() / piece + 1);
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest
            .get(piece - 1..)
            .and_then(|tail| tail.iter().position(|&b| is_ascii_ws(b)))
            .map_or(rest.len(), |at| piece + at);
        let (head, tail) = rest.split_at(end);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

/// Counts each of `texts` (and tallies their words together if `with_tally`) in parallel on
/// the current rayon pool. Returns the counts in the order of `texts` and the tally (empty
/// without `with_tally`), or `None` if `stop()` returned true; it is polled before every piece
/// of about 256 KiB.
pub fn count_texts(
    texts: &[&[u8]],
    with_tally: bool,
    stop: &(dyn Fn() -> bool + Sync),
) -> Option<(Vec<TextCounts>, Tally)> {
    count_texts_in_pieces(texts, with_tally, stop, PIECE)
}

/// [`count_texts`] with pieces of about `piece` bytes.
pub(super) fn count_texts_in_pieces(
    texts: &[&[u8]],
    with_tally: bool,
    stop: &(dyn Fn() -> bool + Sync),
    piece: usize,
) -> Option<(Vec<TextCounts>, Tally)> {
    if stop() {
        return None;
    }
    let pieces: Vec<(usize, &[u8])> = texts
        .iter()
        .enumerate()
        .flat_map(|(i, text)| {
            split_at_whitespace(text, piece)
                .into_iter()
                .map(move |p| (i, p))
        })
        .collect();
    let done = pieces
        .par_iter()
        .try_fold(Part::default, |mut part, &(i, piece)| {
            if stop() {
                return None;
            }
            let counts = if with_tally {
                count_and_tally(piece, &mut part.tally)
            } else {
                count(piece)
            };
            part.counts.push((i, counts));
            Some(part)
        })
        .try_reduce(Part::default, |a, b| Some(a.merge(b)))?;
    let mut counts = vec![TextCounts::default(); texts.len()];
    for (i, piece_counts) in done.counts {
        counts[i].add(piece_counts);
    }
    Some((counts, done.tally))
}

/// What one worker of [`count_texts`] has counted: each piece's counts, by text index, and the
/// tally of their words.
#[derive(Default)]
struct Part {
    counts: Vec<(usize, TextCounts)>,
    tally: Tally,
}

impl Part {
    fn merge(mut self, other: Part) -> Part {
        self.counts.extend(other.counts);
        self.tally.merge(other.tally);
        self
    }
}

/// ASCII whitespace as Python's `str.split()` sees it.
fn is_ascii_ws(b: u8) -> bool {
    matches!(b, 0x09..=0x0D | 0x1C..=0x20)
}
