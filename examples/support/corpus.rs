//! The deterministic text pages of the benchmarks (shared by the `pages` server and the
//! `word_count_kernel` benchmark): words from a fixed vocabulary, some of them non-ASCII, drawn
//! Zipf-like, in lines of about 80 bytes, the same bytes for the same page index every time.

/// The vocabulary, most frequent first.
pub const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "Python",
    "process",
    "thread",
    "asyncio",
    "concurrency",
    "parallel",
    "prime",
    "factorial",
    "año",
    "niño",
    "corazón",
    "mañana",
    "über",
    "straße",
    "café",
    "naïve",
    "Ωmega",
    "日本",
];

/// The page `i`: `bytes` bytes of words and newlines, reproducible from `i`.
pub fn page(i: u64, bytes: usize) -> String {
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut text = String::with_capacity(bytes + 16);
    let mut line = 0;
    while text.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Zipf-like: small indices far more often.
        let r = (state % 10_000) as f64 / 10_000.0;
        let word = WORDS[((r * r * r) * WORDS.len() as f64) as usize];
        text.push_str(word);
        line += word.len() + 1;
        if line >= 80 {
            text.push('\n');
            line = 0;
        } else {
            text.push(' ');
        }
    }
    // Cut at a character boundary at or below `bytes`, then pad with spaces to the size.
    let mut cut = bytes.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    while text.len() < bytes {
        text.push(' ');
    }
    text
}
