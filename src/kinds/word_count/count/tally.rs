//! Word frequencies: hash maps from case-folded word to occurrences (short words packed into 16
//! bytes), one per worker, merged at the end; and the top of them, most frequent first.

use std::cmp::Ordering;

use foldhash::fast::RandomState;
use hashbrown::HashMap;

/// Folded words of at most this many bytes are packed into 16 bytes (see [`pack`]).
const SHORT: usize = 15;

/// `0x01` in every byte of a `u128`.
const ONES: u128 = u128::MAX / 0xFF;

/// How often each case-folded word occurs.
///
/// A word is folded like Python's `str.lower()`: ASCII words by ASCII lower-casing, any other
/// word by `String::from_utf8_lossy(word).to_lowercase()`. So every folded word is valid UTF-8.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Folded words of up to [`SHORT`] bytes, [`pack`]ed, → occurrences (never 0). Most words
    /// are short: they cost no allocation and compare as two integers. foldhash's random seed
    /// keeps crafted input from colliding on purpose.
    short: HashMap<Packed, u64, RandomState>,
    /// Longer folded words → occurrences (never 0).
    long: HashMap<Box<[u8]>, u64, RandomState>,
    /// Scratch space for folding one word, reused from word to word.
    folded: Vec<u8>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of distinct folded words.
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// Whether no word has been tallied.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one occurrence of `word` (a maximal run of non-whitespace bytes), folded.
    pub fn add(&mut self, word: &[u8]) {
        self.add_word(word, 0, word.len());
    }

    /// Counts one occurrence of the word `text[start..end]`. A short ASCII word with 16 bytes
    /// of text from its start is loaded, masked and lower-cased as one `u128`, without a loop.
    #[inline]
    pub(super) fn add_word(&mut self, text: &[u8], start: usize, end: usize) {
        let len = end - start;
        if len <= SHORT {
            let bytes = match text[start..].first_chunk::<16>() {
                Some(bytes) => u128::from_le_bytes(*bytes),
                None => {
                    let mut bytes = [0; 16];
                    bytes[..len].copy_from_slice(&text[start..end]);
                    u128::from_le_bytes(bytes)
                }
            };
            let word = bytes & ((1 << (8 * len)) - 1);
            if word & (ONES * 0x80) == 0 {
                *self
                    .short
                    .entry(pack(ascii_lowercase(word), len))
                    .or_insert(0) += 1;
                return;
            }
        }
        self.add_folded_slowly(&text[start..end]);
    }

    /// Folds `word` into `self.folded`, then counts it.
    #[cold]
    fn add_folded_slowly(&mut self, word: &[u8]) {
        self.folded.clear();
        if word.is_ascii() {
            self.folded.extend(word.iter().map(u8::to_ascii_lowercase));
        } else {
            match std::str::from_utf8(word) {
                // `str::to_lowercase` maps each character on its own but for a final sigma;
                // this way saves allocating a `String` per word.
                Ok(word) if !word.contains('\u{3a3}') => {
                    for c in word.chars().flat_map(char::to_lowercase) {
                        let mut utf8 = [0; 4];
                        self.folded
                            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    }
                }
                _ => {
                    let folded = String::from_utf8_lossy(word).to_lowercase();
                    self.folded.extend_from_slice(folded.as_bytes());
                }
            }
        }
        let folded = &self.folded[..];
        if folded.len() <= SHORT {
            let mut padded = [0; 16];
            padded[..folded.len()].copy_from_slice(folded);
            let key = pack(u128::from_le_bytes(padded), folded.len());
            *self.short.entry(key).or_insert(0) += 1;
        } else {
            // Looked up by reference: a key is allocated only the first time a word is seen.
            *self.long.entry_ref(folded).or_insert(0) += 1;
        }
    }

    /// Adds `other`'s occurrences to these (the smaller maps go into the larger).
    pub fn merge(&mut self, mut other: Tally) {
        merge_into(&mut self.short, &mut other.short);
        merge_into(&mut self.long, &mut other.long);
    }

    /// The `n` most frequent words, by count descending and then by word ascending (byte
    /// order), so ties come out the same every time.
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let short: Vec<([u8; 16], u64)> = self
            .short
            .iter()
            .map(|(&key, &count)| (key.bytes(), count))
            .collect();
        let short = short
            .iter()
            .map(|(bytes, count)| (&bytes[..usize::from(bytes[SHORT])], *count));
        let long = self.long.iter().map(|(word, &count)| (&**word, count));
        let mut entries: Vec<(&[u8], u64)> = short.chain(long).collect();
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

/// Equal when the same words have the same counts.
impl PartialEq for Tally {
    fn eq(&self, other: &Self) -> bool {
        self.short == other.short && self.long == other.long
    }
}

impl Eq for Tally {}

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

/// A folded word of at most [`SHORT`] bytes as a key: `word` holds its bytes in little-endian
/// order and zeros above them; the top byte is set to its length (words may contain NUL).
#[inline]
fn pack(word: u128, len: usize) -> Packed {
    let key = word | (len as u128) << (8 * SHORT);
    Packed([key as u64, (key >> 64) as u64])
}

/// A packed word, as two `u64` rather than a `u128` so that a map entry takes 24 bytes, not 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed([u64; 2]);

impl Packed {
    fn bytes(self) -> [u8; 16] {
        (u128::from(self.0[0]) | u128::from(self.0[1]) << 64).to_le_bytes()
    }
}

impl std::hash::Hash for Packed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
        state.write_u64(self.0[1]);
    }
}

/// ASCII lower-casing of the bytes of `word`, all below 0x80, sixteen at once: a byte is
/// upper-case when adding 0x80 - b'A' sets its top bit and adding 0x80 - (b'Z' + 1) does not
/// (neither sum carries into the next byte), and it gets 0x20 = 0x80 >> 2 added.
#[inline]
fn ascii_lowercase(word: u128) -> u128 {
    let at_least_a = word + ONES * u128::from(0x80 - b'A');
    let past_z = word + ONES * u128::from(0x80 - b'Z' - 1);
    word | (((at_least_a ^ past_z) & (ONES * 0x80)) >> 2)
}

/// The order of [`Tally::top`]: more frequent first, then the smaller word.
fn by_rank(a: &(&[u8], u64), b: &(&[u8], u64)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0))
}
