//! Crossing off the multiples of the large sieving primes, those whose wheel cycle is longer
//! than a segment, with buckets (Tomás Oliveira e Silva's bucket sieve, as primesieve's
//! `EratBig`).
//!
//! A large prime has at most a few multiples in any one segment and none in most, so visiting
//! every large prime in every segment (as [`super::wheel::Crosser`] does) is mostly wasted work
//! high up. Instead each large prime waits in the bucket of the segment that holds its next
//! multiple. Sieving a segment empties its bucket: each entry crosses off its multiples there
//! and moves on to the bucket of the segment of its next multiple. So a segment costs only the
//! multiples that fall in it.
//!
//! An entry is a prime `p = 30 * a + RES[ri]`, the index `j` of its current multiple `p * q`
//! in the wheel cycle (`q % 30 == RES[j]`) and that multiple's byte within its segment. The
//! buckets form a ring indexed by segment, long enough that no entry ever lands a full turn
//! ahead.

use super::wheel::{CARRY, MASK, RES, res_bit};
use super::{Ctl, Stopped};

/// One step of the wheel, for `idx = 8 * ri + j`: the bit to clear for the multiple `p * q`
/// (`p % 30 == RES[ri]`, `q % 30 == RES[j]`), and the byte distance to the next multiple,
/// `a * dres + dcarry` for `p = 30 * a + RES[ri]`.
#[derive(Clone, Copy)]
struct Step {
    mask: u8,
    dres: u8,
    dcarry: u8,
    next: u8,
}

/// [`Step`]s for every `8 * ri + j`.
const STEPS: [Step; 64] = {
    let mut steps = [Step {
        mask: 0,
        dres: 0,
        dcarry: 0,
        next: 0,
    }; 64];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            // The multiple after the cycle's last is the next cycle's first: q + 2, and the
            // byte index carries the whole of RES[ri] past the last product's carry.
            let (dres, dcarry) = if j < 7 {
                (RES[j + 1] - RES[j], CARRY[ri][j + 1] - CARRY[ri][j])
            } else {
                (31 - RES[7], RES[ri] as usize - CARRY[ri][7])
            };
            steps[8 * ri + j] = Step {
                mask: MASK[ri][j],
                dres: dres as u8,
                dcarry: dcarry as u8,
                next: (8 * ri + (j + 1) % 8) as u8,
            };
            j += 1;
        }
        ri += 1;
    }
    steps
};

/// For a residue `r` in `0..30`, the index of the smallest `RES[j] >= r`.
const NEXT_RES: [u8; 30] = {
    let mut next = [0; 30];
    let mut r = 0;
    while r < 30 {
        let mut j = 0;
        while RES[j] < r as u64 {
            j += 1;
        }
        next[r] = j as u8;
        r += 1;
    }
    next
};

/// Bits of [`Entry::word`] below the byte position: the wheel index `8 * ri + j`.
const IDX_BITS: u32 = 6;

/// Blocks of entries crossed off between two looks at `ctl`.
const CHECK_EVERY_BLOCKS: usize = 64;

/// A large prime waiting in a bucket.
#[derive(Clone, Copy)]
struct Entry {
    /// `p / 30`.
    a: u32,
    /// The byte of the next multiple within its segment, shifted left by [`IDX_BITS`], and the
    /// wheel index `8 * ri + j` of that multiple.
    word: u32,
}

/// Entries per block of a bucket: buckets are lists of blocks drawn from a shared pool, so
/// memory stays near one entry per prime however the primes spread over the buckets.
const BLOCK: usize = 1024;

/// The large primes of one chunk of segments, each in the bucket of its next multiple.
pub(super) struct Buckets<'a> {
    /// The ring of buckets: slot `(current + k) & (len - 1)` holds the entries whose next
    /// multiple is `k` segments after the current one, in full blocks and a partly filled one.
    full: Vec<Vec<Vec<Entry>>>,
    heads: Vec<Vec<Entry>>,
    /// Empty blocks, each with room for [`BLOCK`] entries.
    free: Vec<Vec<Entry>>,
    /// Slot of the segment to sieve next.
    current: usize,
    /// The primes whose square lies past the segment to sieve next (sorted): each joins the
    /// ring at the segment that holds its square, its first multiple.
    pending: &'a [u32],
    /// Global byte where the segment to sieve next starts.
    seg_lo: u64,
    /// `log2` of the segment size in bytes: segments start every `1 << shift` bytes.
    shift: u32,
}

impl<'a> Buckets<'a> {
    /// Buckets for crossing off the multiples `p * q`, `q >= p` coprime to 30, of `primes`
    /// (sorted, all > 30) in segments of `1 << shift` bytes from global byte `lo` on.
    pub(super) fn new(primes: &'a [u32], lo: u64, shift: u32) -> Self {
        debug_assert!(shift + IDX_BITS <= 32);
        let max_a = u64::from(primes.last().copied().unwrap_or(0)) / 30;
        // A prime's first multiple from `lo` on lies at most 7 * a + 1 bytes past it, and each
        // step is at most 6 * a + 29 bytes: the ring must reach both without wrapping around.
        let reach = (((7 * max_a + 30) >> shift) + 2).next_power_of_two() as usize;
        let split = primes.partition_point(|&p| u64::from(p).pow(2) <= 30 * lo);
        let (started, pending) = primes.split_at(split);
        let mut buckets = Self {
            full: vec![Vec::new(); reach],
            heads: (0..reach).map(|_| Vec::with_capacity(BLOCK)).collect(),
            free: Vec::new(),
            current: 0,
            pending,
            seg_lo: lo,
            shift,
        };
        for &p in started {
            let p = u64::from(p);
            let (byte, idx) = first_multiple(p, (30 * lo).div_ceil(p));
            buckets.push(byte - lo, Entry::new(p, 0, idx));
        }
        buckets
    }

    /// Files `e` (whose byte is 0) under the multiple at `byte` past the current segment's start.
    #[inline(always)]
    fn push(&mut self, byte: u64, mut e: Entry) {
        let slot = (self.current + (byte >> self.shift) as usize) & (self.heads.len() - 1);
        e.word |= ((byte & ((1 << self.shift) - 1)) as u32) << IDX_BITS;
        let head = &mut self.heads[slot];
        if head.len() == BLOCK {
            let fresh = self.free.pop().unwrap_or_else(|| Vec::with_capacity(BLOCK));
            self.full[slot].push(std::mem::replace(head, fresh));
        }
        head.push(e);
    }

    /// Takes the blocks of the current segment's bucket out of the ring.
    fn take_current(&mut self) -> Vec<Vec<Entry>> {
        let mut blocks = std::mem::take(&mut self.full[self.current]);
        if !self.heads[self.current].is_empty() {
            let fresh = self.free.pop().unwrap_or_else(|| Vec::with_capacity(BLOCK));
            blocks.push(std::mem::replace(&mut self.heads[self.current], fresh));
        }
        blocks
    }

    /// Crosses off the multiples in the current segment, `seg[..len]` (`len` is `1 << shift`
    /// but for the last segment of a run; `seg[len]` is a spare byte that absorbs writes past
    /// it), and moves on to the next segment.
    pub(super) fn cross_off(
        &mut self,
        seg: &mut [u8],
        len: usize,
        ctl: &Ctl,
    ) -> Result<(), Stopped> {
        let seg = &mut seg[..=len];
        let seg_hi = self.seg_lo + (1 << self.shift);
        let joining = self
            .pending
            .partition_point(|&p| u64::from(p).pow(2) / 30 < seg_hi);
        for &p in &self.pending[..joining] {
            let (byte, idx) = first_multiple(u64::from(p), u64::from(p));
            self.push(byte - self.seg_lo, Entry::new(u64::from(p), 0, idx));
        }
        self.pending = &self.pending[joining..];
        // One multiple per entry and pass, so no unpredictable loop per entry: an entry whose
        // next multiple is in this segment again goes back into its bucket for another pass.
        loop {
            let blocks = self.take_current();
            if blocks.is_empty() {
                break;
            }
            for (n, mut block) in blocks.into_iter().enumerate() {
                if n % CHECK_EVERY_BLOCKS == 0 {
                    ctl.check()?;
                }
                for e in &block {
                    let (byte, idx) = cross_once(seg, len, *e);
                    self.push(byte as u64, Entry { a: e.a, word: idx });
                }
                block.clear();
                self.free.push(block);
            }
        }
        self.current = (self.current + 1) & (self.heads.len() - 1);
        self.seg_lo = seg_hi;
        Ok(())
    }
}

/// Crosses off the multiple of `e` in `seg[..=len]` (past `len`: the spare byte) and returns
/// the byte (relative to the segment's start) and the wheel index of its next multiple.
#[inline(always)]
fn cross_once(seg: &mut [u8], len: usize, e: Entry) -> (usize, u32) {
    let byte = (e.word >> IDX_BITS) as usize;
    let step = STEPS[(e.word & ((1 << IDX_BITS) - 1)) as usize];
    seg[byte.min(len)] &= step.mask;
    let next = byte + e.a as usize * step.dres as usize + step.dcarry as usize;
    (next, u32::from(step.next))
}

impl Entry {
    /// The entry of prime `p` whose next multiple is at byte `byte` of its segment, with wheel
    /// index `idx`.
    fn new(p: u64, byte: u64, idx: u32) -> Self {
        Self {
            a: (p / 30) as u32,
            word: ((byte as u32) << IDX_BITS) | idx,
        }
    }
}

/// The global byte and wheel index of `p * q'` for the smallest `q' >= q` coprime to 30.
fn first_multiple(p: u64, q: u64) -> (u64, u32) {
    let j = NEXT_RES[(q % 30) as usize] as usize;
    let ri = res_bit(p % 30);
    // The byte of p * q' for q' = 30 * c + RES[j] (see `super::wheel`).
    let a = p / 30;
    let byte = p * (q / 30) + a + a * (RES[j] - 1) + CARRY[ri][j] as u64;
    (byte, (8 * ri + j) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly the multiples p * q with q >= p are crossed off, over several segments of
    /// several sizes, from starts below and above p².
    #[test]
    fn crosses_exactly_the_multiples_across_segments() {
        let primes = [31u32, 167, 1009, 65_537, 1_048_583, 2_000_003, 31_622_743];
        // From 0, from just below 1_048_583², and high up.
        for lo in [0, 36_650_876_900, 3_333_333_333_333] {
            for shift in [4, 9, 12] {
                let len = 1usize << shift;
                let segs = 24;
                let mut buckets = Buckets::new(&primes, lo, shift);
                for s in 0..segs {
                    let mut seg = vec![0xFF; len + 1];
                    buckets
                        .cross_off(&mut seg, len, &Ctl::default())
                        .expect("not cancelled");
                    for (i, byte) in seg[..len].iter().enumerate() {
                        for (k, r) in RES.iter().enumerate() {
                            let n = 30 * (lo + s * len as u64 + i as u64) + r;
                            let want = primes.iter().any(|&p| {
                                let p = u64::from(p);
                                n.is_multiple_of(p) && n / p >= p
                            });
                            assert_eq!(byte >> k & 1 == 0, want, "shift {shift} lo {lo}: {n}");
                        }
                    }
                }
            }
        }
    }
}
