//! One segment of the sieve behind the hard special leaves: the odd numbers of a window, a bit
//! each, with a counter per block of bits so that counting a prefix skips whole blocks.
//!
//! Removing a number is `O(1)` (clear its bit, decrement its block's counter, branch-free);
//! counting the numbers left up to `n` moves a [`Cursor`] forward from where the previous count
//! of the same pass stopped, so one pass of increasing `n` over a segment of `B` bits costs
//! `O(B / 512 + 64 + leaves)` word operations.

use rayon::prelude::*;

use crate::Stopped;

/// 64-bit words per block counter: 512 numbers' bits.
const BLOCK_WORDS: usize = 8;

/// Bit `i` stands for the odd number `2·(k0 + i) + 1`; it is set while that number has not been
/// removed.
#[derive(Debug, Default)]
pub(super) struct Segment {
    bits: Vec<u64>,
    /// `counts[j]` = the set bits in words `j·BLOCK_WORDS..(j + 1)·BLOCK_WORDS`.
    counts: Vec<u32>,
    k0: u64,
    len: usize,
    /// The set bits in the whole segment.
    remaining: u64,
}

/// Where a forward count over a [`Segment`] stands: the set bits in the words before `word`.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    word: usize,
    count: u64,
}

impl Segment {
    /// The smallest segment worth having, in bits: one block.
    pub const MIN_BITS: u64 = 64 * BLOCK_WORDS as u64;

    /// Starts over on the `len` odd numbers from `2·k0 + 1`, with the odd multiples of the
    /// `small` primes removed (those primes included).
    pub fn reset(&mut self, k0: u64, len: usize, small: &[u32]) {
        self.k0 = k0;
        self.len = len;
        let words = len.div_ceil(64);
        self.bits.clear();
        self.bits.resize(words, !0);
        if !len.is_multiple_of(64) {
            self.bits[words - 1] = (1 << (len % 64)) - 1;
        }
        // The small primes remove the most numbers: clear their bits alone, count once after.
        for &p in small {
            let (first, step) = self.first_multiple(u64::from(p));
            let mut i = first;
            while i < len {
                self.bits[i / 64] &= !(1 << (i % 64));
                i += step;
            }
        }
        self.counts.clear();
        self.counts.extend(
            self.bits
                .chunks(BLOCK_WORDS)
                .map(|block| block.iter().map(|w| w.count_ones()).sum::<u32>()),
        );
        self.remaining = self.counts.iter().map(|&c| u64::from(c)).sum();
    }

    /// The index of the first odd multiple of the odd prime `p` in the segment that is `>= p`,
    /// possibly past the end, and the step between multiples.
    fn first_multiple(&self, p: u64) -> (usize, usize) {
        let lo = 2 * self.k0 + 1;
        let q = lo.div_ceil(p).max(1) | 1;
        let first = ((q * p - 1) / 2 - self.k0).min(self.len as u64);
        (first as usize, p as usize)
    }

    /// The numbers the segment stands for: `[lo, hi)` (`hi` even numbers included).
    pub fn number_range(&self) -> (u64, u64) {
        (2 * self.k0 + 1, 2 * (self.k0 + self.len as u64) + 1)
    }

    /// The numbers not yet removed.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Removes the odd multiples of the odd prime `p`, `p` itself included.
    pub fn cross_off(&mut self, p: u64) {
        let (mut i, step) = self.first_multiple(p);
        while i < self.len {
            let (w, bit) = (i / 64, i % 64);
            let was = (self.bits[w] >> bit) & 1;
            self.bits[w] &= !(1 << bit);
            self.counts[w / BLOCK_WORDS] -= was as u32;
            self.remaining -= was;
            i += step;
        }
    }

    /// The numbers left in the segment that are `<= n`, for `n` in [`number_range`](Self::number_range)
    /// and not below the `n` of the cursor's previous count.
    pub fn count_upto(&self, cursor: &mut Cursor, n: u64) -> u64 {
        let end = ((n - 1) / 2 - self.k0) as usize + 1;
        let target = end / 64;
        while cursor.word < target {
            if cursor.word.is_multiple_of(BLOCK_WORDS) && cursor.word + BLOCK_WORDS <= target {
                cursor.count += u64::from(self.counts[cursor.word / BLOCK_WORDS]);
                cursor.word += BLOCK_WORDS;
            } else {
                cursor.count += u64::from(self.bits[cursor.word].count_ones());
                cursor.word += 1;
            }
        }
        let partial = match end % 64 {
            0 => 0,
            r => (self.bits[target] & ((1 << r) - 1)).count_ones(),
        };
        cursor.count + u64::from(partial)
    }
}

/// Runs `chunk(first, last)` over `segments` segments cut into about `per_thread` chunks per
/// thread of the current pool, in parallel; the chunks' results in segment order (their sums
/// combine in order), or the first stop.
pub(super) fn par_chunks<T, F>(segments: u64, per_thread: u64, chunk: F) -> Result<Vec<T>, Stopped>
where
    T: Send,
    F: Fn(u64, u64) -> Result<T, Stopped> + Sync,
{
    let threads = rayon::current_num_threads().max(1) as u64;
    let per_chunk = segments.div_ceil(threads * per_thread).max(1);
    (0..segments.div_ceil(per_chunk))
        .into_par_iter()
        .map(|i| {
            let first = i * per_chunk;
            chunk(first, (first + per_chunk).min(segments))
        })
        .collect()
}
