//! Word frequencies: hash maps from word, as it appears, to occurrences (short words packed
//! into 16 bytes, in a table of their own, [`ShortWords`]), one per worker, merged at the end;
//! case is folded once per distinct word when the top of them is asked for, not once per
//! occurrence.

use std::cmp::Ordering;

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use super::short_words::{Key, ShortWords};

/// Words of at most this many bytes are packed into 16 bytes (see [`pack`]).
const SHORT: usize = 15;

/// How often each word occurs, as it appears in the text (any bytes).
///
/// [`Tally::top`] folds words like Python's `str.lower()`: ASCII words by ASCII lower-casing,
/// any other word by `String::from_utf8_lossy(word).to_lowercase()`, and adds up the counts
/// of words that fold alike. Every folded word is valid UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Words of up to [`SHORT`] bytes, [`pack`]ed, → occurrences (never 0). Most words are
    /// short: they cost no allocation and compare as two integers. Random seeds keep crafted
    /// input from colliding on purpose.
    short: ShortWords,
    /// Longer words → occurrences (never 0).
    long: HashMap<Box<[u8]>, u64, RandomState>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no word has been tallied.
    pub fn is_empty(&self) -> bool {
        self.short.len() == 0 && self.long.is_empty()
    }

    /// Counts one occurrence of `word` (a maximal run of non-whitespace bytes).
    pub fn add(&mut self, word: &[u8]) {
        self.add_word(word, 0, word.len());
    }

    /// Counts one occurrence of the word `text[start..end]`. A short word with 16 bytes of
    /// text from its start is loaded as two `u64` and masked, without a loop or a branch;
    /// inlined into the counting loops.
    #[inline(always)]
    pub(super) fn add_word(&mut self, text: &[u8], start: usize, end: usize) {
        let len = end - start;
        match text.get(start..start + 16) {
            Some(bytes) if len <= SHORT => {
                let lo = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
                let hi = u64::from_le_bytes(bytes[8..].try_into().expect("8 bytes"));
                // The low `len` bytes: all of `lo` from 8 on, none of `hi` up to 8.
                let lo = lo & (u64::MAX >> (8 * (8 - len.min(8))));
                let hi = hi & ((u64::MAX >> 1) >> (8 * (16 - len.max(8)) - 1));
                self.short.add([lo, hi | (len as u64) << 56], 1);
            }
            _ => self.add_word_slowly(text, start, end),
        }
    }

    /// [`Tally::add_word`] for long words and for short ones near the end of the text.
    #[cold]
    #[inline(never)]
    fn add_word_slowly(&mut self, text: &[u8], start: usize, end: usize) {
        let len = end - start;
        if len <= SHORT {
            let mut bytes = [0; 16];
            bytes[..len].copy_from_slice(&text[start..end]);
            self.short.add(pack(u128::from_le_bytes(bytes), len), 1);
        } else {
            // Looked up by reference: a key is allocated only the first time a word is seen.
            *self.long.entry_ref(&text[start..end]).or_insert(0) += 1;
        }
    }

    /// Adds `other`'s occurrences to these (the smaller maps go into the larger).
    pub fn merge(&mut self, mut other: Tally) {
        self.short.merge(other.short);
        merge_into(&mut self.long, &mut other.long);
    }

    /// The `n` most frequent folded words, by count descending and then by word ascending
    /// (byte order), so ties come out the same every time.
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut folded: HashMap<Vec<u8>, u64, RandomState> = HashMap::default();
        for (key, count) in self.short.iter() {
            let bytes = (u128::from(key[0]) | u128::from(key[1]) << 64).to_le_bytes();
            *folded
                .entry(fold(&bytes[..usize::from(bytes[SHORT])]))
                .or_insert(0) += count;
        }
        for (word, &count) in &self.long {
            *folded.entry(fold(word)).or_insert(0) += count;
        }
        let mut entries: Vec<(&[u8], u64)> =
            folded.iter().map(|(w, &c)| (w.as_slice(), c)).collect();
        if n < entries.len() {
            entries.select_nth_unstable_by(n, by_rank);
            entries.truncate(n);
        }
        entries.sort_unstable_by(by_rank);
        entries
            .into_iter()
            .map(|(word, count)| (String::from_utf8_lossy(word).into_owned(), count))
            .collect()
    }
}

/// `word` lower-cased as Python's `str.lower()` would, after decoding it as UTF-8 (lossily).
fn fold(word: &[u8]) -> Vec<u8> {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    match std::str::from_utf8(word) {
        // `str::to_lowercase` maps each character on its own but for a final sigma; mapping
        // the characters directly saves a `String`.
        Ok(word) if !word.contains('\u{3a3}') => {
            let mut folded = Vec::with_capacity(word.len());
            for c in word.chars().flat_map(char::to_lowercase) {
                let mut utf8 = [0; 4];
                folded.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            folded
        }
        _ => String::from_utf8_lossy(word).to_lowercase().into_bytes(),
    }
}

/// Adds the counts of `from` to `into`, after swapping them if `from` is the larger.
fn merge_into<K: Eq + std::hash::Hash>(
    into: &mut HashMap<K, u64, RandomState>,
    from: &mut HashMap<K, u64, RandomState>,
) {
    if from.len() > into.len() {
        std::mem::swap(into, from);
    }
    for (word, n) in from.drain() {
        *into.entry(word).or_insert(0) += n;
    }
}

/// A word of at most [`SHORT`] bytes as a key: `word` holds its bytes in little-endian
/// order and zeros above them; the top byte is set to its length (words may contain NUL).
#[inline]
fn pack(word: u128, len: usize) -> Key {
    let key = word | (len as u128) << (8 * SHORT);
    [key as u64, (key >> 64) as u64]
}

/// The order of [`Tally::top`]: more frequent first, then the smaller word.
fn by_rank(a: &(&[u8], u64), b: &(&[u8], u64)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0))
}
