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

pub(super) mod simd;
mod tally;

pub use tally::Tally;

use rayon::prelude::*;

use simd::BLOCK;

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
    let mut counts = TextCounts {
        bytes: text.len() as u64,
        ..TextCounts::default()
    };
    // 1 when the byte before the block is whitespace; the start of the text counts as such.
    let mut after_ws = 1;
    for block in Blocks::new(text) {
        let starts = !block.ws & (block.ws << 1 | after_ws);
        counts.words += u64::from(starts.count_ones());
        counts.lines += u64::from(block.newlines.count_ones());
        after_ws = block.ws >> 63;
    }
    counts
}

/// Counts the words, lines and bytes of `text` and adds its words to `tally`, in one pass.
pub fn count_and_tally(text: &[u8], tally: &mut Tally) -> TextCounts {
    let mut counts = TextCounts {
        bytes: text.len() as u64,
        ..TextCounts::default()
    };
    let mut after_ws = 1;
    let mut word_start = 0;
    for block in Blocks::new(text) {
        let follows_ws = block.ws << 1 | after_ws;
        let starts = !block.ws & follows_ws;
        counts.words += u64::from(starts.count_ones());
        counts.lines += u64::from(block.newlines.count_ones());
        // Starts and ends alternate: a word starts, the whitespace after it ends it.
        let mut edges = starts | (block.ws & !follows_ws);
        while edges != 0 {
            let bit = edges & edges.wrapping_neg();
            let at = block.base + edges.trailing_zeros() as usize;
            if starts & bit != 0 {
                word_start = at;
            } else {
                tally.add_word(text, word_start, at);
            }
            edges ^= bit;
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

/// The length of the multi-byte whitespace character at the start of `bytes`, or 0.
#[inline]
fn wide_ws_len(bytes: &[u8]) -> u32 {
    match *bytes {
        [0xC2, 0x85 | 0xA0, ..] => 2,
        [0xE1, 0x9A, 0x80, ..]
        | [0xE2, 0x80, 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF, ..]
        | [0xE2, 0x81, 0x9F, ..]
        | [0xE3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// One block of a text: bit `i` of each mask stands for byte `base + i`.
struct Block {
    base: usize,
    /// The bytes of whitespace characters, multi-byte ones included. Bytes past the end of the
    /// text (the padding of a last, short block) count as whitespace.
    ws: u64,
    newlines: u64,
}

/// The blocks of a text, in order.
struct Blocks<'a> {
    text: &'a [u8],
    base: usize,
    /// Bits of the next block that belong to a whitespace character begun in this one.
    spill: u64,
}

impl<'a> Blocks<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            base: 0,
            spill: 0,
        }
    }

    /// Marks the bytes of the multi-byte whitespace characters that start at `leads` (bits of
    /// the current block) in `ws`, and in `self.spill` for those that run into the next block.
    #[cold]
    fn mark_wide(&mut self, mut leads: u64, ws: &mut u64) {
        while leads != 0 {
            let at = leads.trailing_zeros();
            let len = wide_ws_len(&self.text[self.base + at as usize..]);
            let bits = ((1_u128 << len) - 1) << at;
            *ws |= bits as u64;
            self.spill |= (bits >> 64) as u64;
            leads &= leads - 1;
        }
    }
}

impl Iterator for Blocks<'_> {
    type Item = Block;

    #[inline]
    fn next(&mut self) -> Option<Block> {
        let rest = self.text.get(self.base..).filter(|rest| !rest.is_empty())?;
        let masks = match rest.first_chunk::<BLOCK>() {
            Some(block) => simd::classify(block),
            None => {
                let mut padded = [b' '; BLOCK];
                padded[..rest.len()].copy_from_slice(rest);
                simd::classify(&padded)
            }
        };
        let mut ws = masks.ws | std::mem::take(&mut self.spill);
        if masks.leads != 0 {
            self.mark_wide(masks.leads, &mut ws);
        }
        let block = Block {
            base: self.base,
            ws,
            newlines: masks.newlines,
        };
        self.base += BLOCK;
        Some(block)
    }
}
