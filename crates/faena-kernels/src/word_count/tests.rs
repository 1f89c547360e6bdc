//! Tests of the counting kernel: known values (every whitespace character, invalid UTF-8,
//! characters across block boundaries), and property tests against a naive reference built on
//! `String::from_utf8_lossy` and `str::split`, which is what Python's `str.split()` does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::count::simd::{BLOCK, classify, classify_scalar};
use super::count::{
    Tally, TextCounts, count, count_and_tally, count_texts, count_texts_in_pieces,
    split_at_whitespace,
};

/// The whitespace of Python's `str.split()` outside ASCII.
const WIDE_WS: [char; 17] = [
    '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}',
    '\u{202f}',
];
const MORE_WIDE_WS: [char; 2] = ['\u{205f}', '\u{3000}'];
/// ... and in ASCII.
const ASCII_WS: &[u8] = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ";
/// Characters that share a lead byte and more with whitespace but are not whitespace.
const NEAR_MISSES: [char; 10] = [
    '\u{86}', '\u{a1}', '\u{1681}', '\u{180e}', '\u{200b}', '\u{2027}', '\u{202e}', '\u{2060}',
    '\u{3001}', '\u{feff}',
];

fn wide_ws() -> impl Iterator<Item = char> {
    WIDE_WS.into_iter().chain(MORE_WIDE_WS)
}

fn is_py_ws(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn naive_words(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .split(is_py_ws)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn naive_counts(text: &[u8]) -> TextCounts {
    TextCounts {
        words: naive_words(text).len() as u64,
        lines: text.iter().filter(|&&b| b == b'\n').count() as u64,
        bytes: text.len() as u64,
    }
}

/// Every folded word of `texts` with its count, most frequent first, then by word.
fn naive_top(texts: &[&[u8]]) -> Vec<(String, u64)> {
    let mut tally = HashMap::new();
    for word in texts.iter().flat_map(|text| naive_words(text)) {
        *tally.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    let mut top: Vec<(String, u64)> = tally.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top
}

fn tally_of(text: &[u8]) -> Tally {
    let mut tally = Tally::new();
    count_and_tally(text, &mut tally);
    tally
}

fn words(text: &[u8]) -> u64 {
    let counts = count(text);
    assert_eq!(counts, naive_counts(text), "count of {text:?}");
    counts.words
}

#[test]
fn known_values() {
    assert_eq!(words("  hola\u{a0}mundo\tcruel\n".as_bytes()), 3);
    assert_eq!(words(b""), 0);
    assert_eq!(words("\u{3000}a\u{2003}b".as_bytes()), 2);
    assert_eq!(words(b" \t\n\r\x0b\x0c \n"), 0);
    assert_eq!(words(b"a\x1cb\x1dc\x1ed\x1fe"), 5);
    assert_eq!(words(b"one"), 1);
    let counts = count(b"a b\nc\n\n");
    assert_eq!(
        counts,
        TextCounts {
            words: 3,
            lines: 3,
            bytes: 7
        }
    );
}

#[test]
fn each_wide_whitespace_alone_and_between_letters() {
    for c in wide_ws() {
        assert_eq!(words(c.to_string().as_bytes()), 0, "{c:?} alone");
        assert_eq!(
            words(format!("a{c}b").as_bytes()),
            2,
            "{c:?} between letters"
        );
        assert_eq!(
            words(format!("{c}{c}ab{c}").as_bytes()),
            1,
            "{c:?} around a word"
        );
    }
    for c in NEAR_MISSES {
        assert_eq!(
            words(format!("a{c}b").as_bytes()),
            1,
            "{c:?} is not whitespace"
        );
    }
}

#[test]
fn invalid_utf8_is_part_of_words() {
    assert_eq!(words(b"\xE2\x80 a"), 2);
    assert_eq!(words(b"\xC2"), 1);
    assert_eq!(words(b"a \xC2"), 2);
    assert_eq!(words(b"\xC2\xC2\xA0"), 1);
    assert_eq!(words(b"\xE2\x80\xE2\x80\xA8x"), 2);
    assert_eq!(words(b"a\xE3\x80 b\xE1\x9A\xE1\x9A\x80c"), 3);
    assert_eq!(words(b"\x80\xA0 \xFF\xFE\n\xF0\x9F"), 3);
    assert_eq!(words(b"\xE2\x80\x80\xA8"), 1);
}

#[test]
fn characters_across_block_boundaries() {
    for k in BLOCK - 8..=BLOCK + 8 {
        let x = "x".repeat(k);
        for c in wide_ws() {
            let whole = format!("{x}{c}Y");
            assert_eq!(words(whole.as_bytes()), 2, "{c:?} after {k} bytes");
            let top = tally_of(whole.as_bytes()).top(3);
            assert_eq!(top, vec![(x.clone(), 1), ("y".to_owned(), 1)]);
            assert_eq!(words(format!("{x}{c}").as_bytes()), 1);
            let truncated = &whole.as_bytes()[..k + c.len_utf8() - 1];
            assert_eq!(words(&[truncated, b"y"].concat()), 1);
        }
        for &b in ASCII_WS {
            assert_eq!(words(&[x.as_bytes(), &[b], b"y"].concat()), 2);
        }
    }
}

#[test]
fn tally_folds_case_and_ranks_by_count_then_word() {
    let text = "b a B c A b HOLA hola \u{c9}t\u{e9} \u{e9}T\u{c9} \u{3a3}\u{391}\u{3a3}";
    let tally = tally_of(text.as_bytes());
    let expected = [
        ("b", 3),
        ("a", 2),
        ("hola", 2),
        ("\u{e9}t\u{e9}", 2),
        ("c", 1),
    ];
    let mut expected: Vec<(String, u64)> =
        expected.iter().map(|&(w, n)| (w.to_owned(), n)).collect();
    expected.push(("\u{3c3}\u{3b1}\u{3c2}".to_owned(), 1)); // final sigma
    assert_eq!(tally.top(10), expected);
    assert_eq!(tally.top(2), expected[..2]);
    assert_eq!(tally.top(0), vec![]);
    assert_eq!(tally.top(usize::MAX).len(), 6);
    assert!(Tally::new().is_empty());
}

#[test]
fn tally_packs_short_words_and_keeps_long_ones() {
    let top = |text: &str| tally_of(text.as_bytes()).top(10);
    // The Kelvin sign folds to an ASCII k.
    assert_eq!(top("k K \u{212a}"), [("k".to_owned(), 3)]);
    assert_eq!(
        top("kelvin KELVIN \u{212a}elvin"),
        [("kelvin".to_owned(), 3)]
    );
    assert_eq!(top("a\0 a A"), [("a".to_owned(), 2), ("a\0".to_owned(), 1)]);
    for n in 13..=18 {
        let (upper, lower) = ("X".repeat(n), "x".repeat(n));
        let expected = [(lower.clone(), 3), ("y".to_owned(), 1)];
        assert_eq!(
            top(&format!("{upper} {lower}\n{upper}\ty")),
            expected,
            "{n} bytes"
        );
        assert_eq!(
            top(&format!("y {upper} {lower} {upper}")),
            expected,
            "{n} bytes at the end"
        );
        let accented = format!("{upper}\u{c9} {lower}\u{e9}");
        assert_eq!(top(&accented), [(format!("{lower}\u{e9}"), 2)]);
    }
}

#[test]
fn split_at_whitespace_known_values() {
    assert_eq!(
        split_at_whitespace(b"ab cd ef", 2),
        [&b"ab "[..], b"cd ", b"ef"]
    );
    assert_eq!(
        split_at_whitespace(b"ab cd ef", 0),
        [&b"ab "[..], b"cd ", b"ef"]
    );
    assert_eq!(split_at_whitespace(b"ab cd ef", 4), [&b"ab cd "[..], b"ef"]);
    assert_eq!(split_at_whitespace(b"abcdef", 2), [b"abcdef"]);
    assert_eq!(
        split_at_whitespace(b"a\xC2\xA0b c", 1),
        [&b"a\xC2\xA0b "[..], b"c"]
    );
    assert!(split_at_whitespace(b"", 3).is_empty());
}

#[test]
fn count_texts_stops() {
    let text = "word ".repeat(1000);
    let texts = [text.as_bytes(); 4];
    assert_eq!(count_texts(&texts, true, &|| true), None);
    let polls = AtomicUsize::new(0);
    let stop_later = || polls.fetch_add(1, Ordering::Relaxed) >= 10;
    assert_eq!(count_texts_in_pieces(&texts, true, &stop_later, 64), None);
}

#[test]
fn count_texts_splits_large_texts() {
    let text =
        "Lorem ipsum dolor\u{a0}sit amet,\nconsectetur\u{3000}adipiscing elit. ".repeat(60_000);
    let texts = [text.as_bytes(), b"", b"Lorem x"];
    let (counts, tally) = count_texts(&texts, true, &|| false).expect("not stopped");
    assert!(text.len() > 3 << 20);
    let expected: Vec<TextCounts> = texts.iter().map(|t| count(t)).collect();
    assert_eq!(counts, expected);
    assert_eq!(counts[0].words, 8 * 60_000);
    assert_eq!(
        tally.top(2),
        [
            ("lorem".to_owned(), 60_001),
            ("adipiscing".to_owned(), 60_000)
        ]
    );
}

/// Byte strings made of the bytes that matter: letters, every whitespace character, its
/// truncations, near misses, continuation and lead bytes alone, and anything else.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let ws: Vec<char> = wide_ws().collect();
    let token = prop_oneof![
        6 => prop::sample::select(&b"aAbBzZ9.,\xC3\xA9"[..]).prop_map(|b| vec![b]),
        3 => prop::sample::select(ASCII_WS).prop_map(|b| vec![b]),
        3 => prop::sample::select(ws.clone()).prop_map(|c| c.to_string().into_bytes()),
        1 => (prop::sample::select(ws), 1..=2_usize).prop_map(|(c, n)| {
            let bytes = c.to_string().into_bytes();
            bytes[..n.min(bytes.len() - 1)].to_vec()
        }),
        1 => prop::sample::select(&NEAR_MISSES[..]).prop_map(|c| c.to_string().into_bytes()),
        2 => (0x80_u8..=0xBF).prop_map(|b| vec![b]),
        2 => prop::sample::select(&[0xC2_u8, 0xE1, 0xE2, 0xE3][..]).prop_map(|b| vec![b]),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..300).prop_map(|tokens| tokens.concat())
}

/// Strings of arbitrary characters, whitespace and letters with interesting lower cases.
fn unicode_text() -> impl Strategy<Value = String> {
    let ws: Vec<char> = wide_ws()
        .chain(ASCII_WS.iter().map(|&b| char::from(b)))
        .collect();
    let letters = vec![
        'a', 'Z', '\u{c9}', '\u{3a3}', '\u{130}', '\u{1e9e}', '\u{df}', '\u{3b1}',
    ];
    let c = prop_oneof![
        3 => prop::sample::select(ws),
        3 => prop::sample::select(letters),
        2 => any::<char>(),
    ];
    prop::collection::vec(c, 0..200).prop_map(|cs| cs.into_iter().collect())
}

/// Words of 0 to 24 letters, some of which fold to the same word, and some of which are long.
fn word_soup() -> impl Strategy<Value = String> {
    let letter = prop::sample::select(vec!['a', 'A', 'b', 'B', '\0', '\u{212a}', 'k', '\u{c9}']);
    let word = prop::collection::vec(letter, 0..24).prop_map(String::from_iter);
    prop::collection::vec(word, 0..40).prop_map(|words| words.join(" "))
}

fn any_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        tricky_bytes(),
        unicode_text().prop_map(String::into_bytes),
        word_soup().prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn count_matches_naive(text in any_text()) {
        prop_assert_eq!(count(&text), naive_counts(&text));
    }

    #[test]
    fn count_and_tally_matches_naive(text in any_text()) {
        let mut tally = Tally::new();
        prop_assert_eq!(count_and_tally(&text, &mut tally), naive_counts(&text));
        prop_assert_eq!(tally.top(usize::MAX), naive_top(&[&text]));
    }

    #[test]
    fn pieces_add_up_to_the_whole(text in any_text(), piece in 0..100_usize) {
        let pieces = split_at_whitespace(&text, piece);
        prop_assert_eq!(pieces.concat(), text.clone());
        let (mut sum, mut merged) = (TextCounts::default(), Tally::new());
        for (i, p) in pieces.iter().enumerate() {
            if i + 1 < pieces.len() {
                prop_assert!(p.len() >= piece && p.last().is_some_and(|b| ASCII_WS.contains(b)));
            }
            sum.add(count(p));
            merged.merge(tally_of(p));
        }
        prop_assert_eq!(sum, count(&text));
        prop_assert!(merged == tally_of(&text));
    }
}

proptest! {
    // Slower per case (a rayon run, several texts), and the texts are covered above.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn count_texts_matches_naive(
        texts in prop::collection::vec(any_text(), 0..6),
        with_tally: bool,
        piece in 1..200_usize,
    ) {
        let texts: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
        let (counts, tally) = count_texts_in_pieces(&texts, with_tally, &|| false, piece)
            .expect("not stopped");
        let expected: Vec<TextCounts> = texts.iter().map(|t| naive_counts(t)).collect();
        prop_assert_eq!(counts, expected);
        let expected_top = if with_tally { naive_top(&texts) } else { vec![] };
        prop_assert_eq!(tally.top(usize::MAX), expected_top);
    }
}

#[test]
fn simd_classify_matches_scalar() {
    // Every byte value at every position of a block.
    for shift in 0..=255_u8 {
        let block: [u8; BLOCK] =
            std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(shift));
        assert_eq!(classify(&block), classify_scalar(&block), "shift {shift}");
    }
    let ascii: [u8; BLOCK] = std::array::from_fn(|i| b"ab \n\x1f\x7f"[i % 6]);
    assert_eq!(classify(&ascii), classify_scalar(&ascii));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_classify_matches_scalar() {
    use super::count::simd::{Avx2, Classify};
    let Some(avx2) = Avx2::detect() else {
        eprintln!("no AVX2 on this CPU: nothing to compare");
        return;
    };
    for shift in 0..=255_u8 {
        let block: [u8; BLOCK] =
            std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(shift));
        assert_eq!(
            avx2.classify(&block),
            classify_scalar(&block),
            "shift {shift}"
        );
    }
}

/// The counting loops compiled for the baseline and for AVX2 agree (the property tests above
/// run whichever this CPU picks).
#[test]
fn baseline_loops_match_naive() {
    let text = "a\u{a0}b  ñ\u{3000}x\n".repeat(50) + &"word ".repeat(40);
    let mut tally = Tally::new();
    let counts = super::count::count_and_tally_baseline(text.as_bytes(), &mut tally);
    assert_eq!(counts, naive_counts(text.as_bytes()));
    assert_eq!(super::count::count_baseline(text.as_bytes()), counts);
    assert_eq!(tally.top(usize::MAX), naive_top(&[text.as_bytes()]));
}
