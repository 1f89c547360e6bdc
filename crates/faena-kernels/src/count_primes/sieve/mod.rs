//! `count_primes`: counting the primes in `[start, end)` with a segmented sieve of Eratosthenes
//! on a modulo-30 wheel, run in parallel on the current rayon pool.
//!
//! - **Wheel.** Only numbers coprime to 30 are stored: byte `i` of the sieve holds the eight
//!   numbers `30 * i + {1, 7, 11, 13, 17, 19, 23, 29}`, one per bit. 2, 3 and 5 are counted
//!   separately.
//! - **Segments.** `[start, end)` is cut into segments of 256 KiB to 1 MiB of sieve bytes (7.8 to
//!   31 million numbers; see `segment_bytes`), each sieved on its own with the primes up to
//!   `sqrt(end)`, which a small segmented sieve finds once per call and every worker shares
//!   read-only.
//! - **Pre-sieve.** A segment starts as a copy of the sieve of 7..=163 alone, assembled from
//!   periodic patterns (`presieve`), so those primes, which have the most multiples, cost a few
//!   vectorised sweeps instead of individual writes.
//! - **Crossing off.** Each larger prime `p` then crosses off its multiples `p * q`, `q >= p`
//!   coprime to 30. Small primes (below 32 KiB) do it eight per wheel cycle at fixed byte
//!   offsets (`wheel`), in L1-sized parts of the segment; medium ones (up to the segment's
//!   size) the same way over the whole segment; large ones, which miss most segments, wait in
//!   the bucket of the segment of their next multiple, so a segment only visits the primes
//!   that hit it (`bucket`, the bucket sieve of T. Oliveira e Silva).
//! - **Counting.** What is left set is prime; after masking the numbers outside
//!   `[start, end)` in the first and last byte, a popcount of the segment counts them.
//! - **Parallelism.** Consecutive segments are grouped into chunks, many more than threads, and
//!   rayon counts the chunks in parallel. Within a chunk each prime's position carries over from
//!   one segment to the next, so only the start of a chunk pays a division per prime; high up,
//!   where that is much, chunks are longer (`chunk_segments`).
//! - **Control.** Progress is one unit per segment; cancellation is checked before every segment
//!   and a few times within one, i.e. well under every 10 ms.

mod bucket;
mod presieve;
mod wheel;

#[cfg(test)]
mod tests;

use rayon::prelude::*;

use crate::{Ctl, Stopped};
use bucket::Buckets;
use wheel::{Crosser, RES};

/// Largest `end` accepted by [`count_primes`]: 10^16. The one-off work per call grows with
/// `sqrt(end)`: finding the 5.8 million primes up to 10^8 (tens of ms) and, per chunk of
/// segments, a position for each (46 MB per worker at the top, most of it in buckets). Wider ranges than a few 10^11
/// numbers this high are counted analytically instead (`super::method`).
pub const MAX_END: u64 = 10_000_000_000_000_000;

/// Bounds on the sieve bytes per segment; see [`segment_bytes`].
const MIN_SEGMENT_BYTES: u64 = 256 * 1024;
const MAX_SEGMENT_BYTES: u64 = 1024 * 1024;

/// The primes below this many bytes (whose wheel cycles fit many times in it) cross off their
/// multiples in parts of a segment this long, which stay in the L1 cache.
const SUB_SEGMENT_BYTES: u64 = 32 * 1024;

/// Upper bound on the segments in one chunk: enough to amortise a chunk's set-up, and it keeps
/// positions within a chunk inside `i32`.
const MAX_CHUNK_SEGMENTS: u64 = 64;

/// Chunks aimed for per thread, so that uneven chunks still balance out.
const CHUNKS_PER_THREAD: u64 = 8;

/// Counts the primes `p` with `start <= p < end`.
///
/// Precondition: `start < end <= MAX_END` (the caller validates). Runs on the current rayon pool:
/// call it inside `pool.install`. Adds its segments to the progress total of `ctl`, reports one
/// unit per segment done, and returns `Err(Stopped)` soon after `ctl` is cancelled.
pub fn count_primes(start: u64, end: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    debug_assert!(start < end && end <= MAX_END, "bad range [{start}, {end})");
    if start >= end {
        return Ok(0);
    }
    ctl.check()?;
    let below_wheel = [2, 3, 5].iter().filter(|&&p| start <= p && p < end).count() as u64;
    let (lo, hi) = (start / 30, end.div_ceil(30));
    let primes = sieving_primes(end.saturating_sub(1).isqrt(), ctl)?;

    let segment_bytes = segment_bytes(end);
    let segments = (hi - lo).div_ceil(segment_bytes);
    let threads = rayon::current_num_threads().max(1) as u64;
    let per_chunk = chunk_segments(segments, threads, primes.len() as u64, segment_bytes);
    let run = Run {
        start,
        end,
        lo,
        hi,
        segment_bytes,
        primes: &primes,
        ctl,
    };
    ctl.add_total(segments);
    let sieved = (0..segments.div_ceil(per_chunk))
        .into_par_iter()
        .map(|chunk| {
            let first = chunk * per_chunk;
            run.count_chunk(first, (first + per_chunk).min(segments))
        })
        .try_reduce(|| 0, |x, y| Ok(x + y))?;
    Ok(sieved + below_wheel)
}

/// Sieve bytes per segment for a run ending at `end`.
///
/// Small primes want a segment that stays in L2 (256 KiB). But each sieving prime also costs a
/// fixed amount per segment, and high up, with many primes below `sqrt(end)` that have only a
/// few multiples per segment, that overhead dominates; so there the segment grows with
/// `sqrt(end)`, up to 1 MiB (a few ms of work, which keeps cancellation checks frequent).
fn segment_bytes(end: u64) -> u64 {
    end.isqrt()
        .next_power_of_two()
        .clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES)
}

/// Segments per chunk: enough chunks for the threads to balance out, but each long enough that
/// its set-up, a division and a bucket placement per sieving prime, stays a small part of it.
fn chunk_segments(segments: u64, threads: u64, primes: u64, segment_bytes: u64) -> u64 {
    let balanced = segments / (threads * CHUNKS_PER_THREAD);
    // A prime's set-up costs about as much as sieving 8 bytes high up: take 16 times that.
    let amortised = (16 * 8 * primes).div_ceil(segment_bytes);
    balanced
        .max(amortised)
        .min(segments.div_ceil(threads))
        .clamp(1, MAX_CHUNK_SEGMENTS)
}

/// Odd numbers per block of [`sieving_primes`]: 256 KiB of flags.
const BASE_BLOCK: u64 = 1 << 18;

/// The primes `p` with `presieve::MAX < p <= limit`, by a sieve of the odd numbers in blocks
/// of [`BASE_BLOCK`] (a few ms of work each, near `limit` = 10^8) sieved in parallel, checking
/// `ctl` before each.
fn sieving_primes(limit: u64, ctl: &Ctl) -> Result<Vec<u32>, Stopped> {
    if limit <= presieve::MAX {
        return Ok(Vec::new());
    }
    let base = small_odd_primes(limit.isqrt());
    // Flag `i` of a block from `k0` stands for the odd number 2·(k0 + i) + 1.
    let last_k = (limit - 1) / 2;
    let blocks: Vec<Vec<u32>> = (0..=last_k / BASE_BLOCK)
        .into_par_iter()
        .map_init(
            || vec![false; BASE_BLOCK as usize],
            |composite, block| {
                ctl.check()?;
                let k0 = block * BASE_BLOCK;
                let len = (last_k + 1 - k0).min(BASE_BLOCK);
                Ok(odd_primes_in_block(
                    &mut composite[..len as usize],
                    k0,
                    &base,
                ))
            },
        )
        .collect::<Result<_, Stopped>>()?;
    Ok(blocks.concat())
}

/// The primes above the pre-sieve among the odd numbers `2·(k0 + i) + 1` for `i` below
/// `composite.len()`, sieved with the odd primes `base` (up to the square root of the block's
/// end at least), using `composite` as scratch.
fn odd_primes_in_block(composite: &mut [bool], k0: u64, base: &[u64]) -> Vec<u32> {
    let len = composite.len() as u64;
    let (lo, hi) = (2 * k0 + 1, 2 * (k0 + len) - 1);
    composite.fill(false);
    for &p in base.iter().take_while(|&&p| p * p <= hi) {
        // The first odd multiple of p from max(p², lo): p itself stays a prime.
        let first = (p * p).max(lo.div_ceil(p) * p);
        let first = if first % 2 == 0 { first + p } else { first };
        for i in ((first - 1) / 2 - k0..len).step_by(p as usize) {
            composite[i as usize] = true;
        }
    }
    (0..len)
        .filter(|&i| !composite[i as usize])
        .map(|i| 2 * (k0 + i) + 1)
        .filter(|&n| n > presieve::MAX)
        .map(|n| n as u32)
        .collect()
}

/// The odd primes up to `limit` (small: `limit <= 10^5` or so), by a plain sieve.
fn small_odd_primes(limit: u64) -> Vec<u64> {
    let n = limit as usize;
    let mut composite = vec![false; n + 1];
    let mut primes = Vec::new();
    for i in (3..=n).step_by(2) {
        if !composite[i] {
            primes.push(i as u64);
            for m in (i * i..=n).step_by(2 * i) {
                composite[m] = true;
            }
        }
    }
    primes
}

/// The number of set bits in `bytes`.
fn popcount(bytes: &[u8]) -> u64 {
    let (words, rest) = bytes.as_chunks::<8>();
    let words: u64 = words
        .iter()
        .map(|w| u64::from(u64::from_ne_bytes(*w).count_ones()))
        .sum();
    words + rest.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// One call's shared, read-only parameters.
struct Run<'a> {
    start: u64,
    end: u64,
    /// First and one-past-last sieve byte of `[start, end)`.
    lo: u64,
    hi: u64,
    segment_bytes: u64,
    /// The primes above the pre-sieve up to `sqrt(end)`.
    primes: &'a [u32],
    ctl: &'a Ctl,
}

impl Run<'_> {
    /// Counts the primes > 5 in the segments `first..last`, sieving them one after the other.
    fn count_chunk(&self, first: u64, last: u64) -> Result<u64, Stopped> {
        self.ctl.check()?;
        let chunk_lo = self.lo + first * self.segment_bytes;
        let chunk_hi = (self.lo + last * self.segment_bytes).min(self.hi);
        // Primes whose square is past the chunk have nothing to cross off in it.
        let limit = self.end.min(30 * chunk_hi);
        let used = self
            .primes
            .partition_point(|&p| u64::from(p).pow(2) < limit);
        // Primes whose wheel cycle is longer than a segment go to the buckets.
        let medium = self.primes[..used].partition_point(|&p| u64::from(p) <= self.segment_bytes);
        let small = self.primes[..medium].partition_point(|&p| u64::from(p) < SUB_SEGMENT_BYTES);
        let mut small_crosser = Crosser::new(&self.primes[..small], chunk_lo);
        let mut crosser = Crosser::new(&self.primes[small..medium], chunk_lo);
        let shift = self.segment_bytes.trailing_zeros();
        let mut buckets = Buckets::new(&self.primes[medium..used], chunk_lo, shift);
        let mut buf = vec![0; self.segment_bytes as usize + 1];
        let mut count = 0;
        let mut seg_lo = chunk_lo;
        while seg_lo < chunk_hi {
            self.ctl.check()?;
            let len = (chunk_hi - seg_lo).min(self.segment_bytes) as usize;
            presieve::presieve(&mut buf[..len], seg_lo);
            if seg_lo <= presieve::MAX / 30 {
                presieve::fix_first_bytes(&mut buf[..len], seg_lo);
            }
            cross_off_in_parts(&mut small_crosser, &mut buf, len, self.ctl)?;
            crosser.cross_off(&mut buf, len, self.ctl)?;
            buckets.cross_off(&mut buf, len, self.ctl)?;
            let seg = &mut buf[..len];
            if seg_lo == self.lo {
                seg[0] &= bits_where(|n| n >= self.start, self.lo);
            }
            if seg_lo + len as u64 == self.hi {
                seg[len - 1] &= bits_where(|n| n < self.end, self.hi - 1);
            }
            count += popcount(seg);
            self.ctl.advance(1);
            seg_lo += len as u64;
        }
        Ok(count)
    }
}

/// Crosses off the multiples of the small primes of `crosser` in `buf[..len]` one L1-sized part
/// at a time: they have many multiples in each.
fn cross_off_in_parts(
    crosser: &mut Crosser,
    buf: &mut [u8],
    len: usize,
    ctl: &Ctl,
) -> Result<(), Stopped> {
    let mut at = 0;
    while at < len {
        let n = (len - at).min(SUB_SEGMENT_BYTES as usize);
        // The byte after the part is the crosser's spare: the next part's first byte, or the
        // segment's spare.
        let after = buf[at + n];
        crosser.cross_off(&mut buf[at..], n, ctl)?;
        buf[at + n] = after;
        at += n;
    }
    Ok(())
}

/// The bits of sieve byte `byte` whose numbers satisfy `keep`.
fn bits_where(keep: impl Fn(u64) -> bool, byte: u64) -> u8 {
    (0..8)
        .filter(|&k| keep(30 * byte + RES[k]))
        .fold(0, |bits, k| bits | 1 << k)
}
