//! Crossing off the multiples of the sieving primes, one modulo-30 wheel cycle at a time.
//!
//! A sieve byte `i` holds the numbers `30 * i + RES[k]` in bit `k`. For a prime
//! `p = 30 * a + RES[ri]`, the multiples `p * q` with `q` coprime to 30 come in cycles of eight:
//! `q = 30 * c + RES[j]` for `j = 0..8` lands on byte `p * c + a + rel(ri, a, j)` (see [`rel`])
//! and bit `MASK[ri][j]`, and the next cycle is exactly `p` bytes further on. So a prime's
//! whole state is the byte where its current cycle starts, and the inner loop crosses off eight
//! multiples at fixed offsets per step.

use super::{Ctl, Stopped};

/// Residues modulo 30 that are coprime to 30; bit `k` of a sieve byte stands for
/// `30 * i + RES[k]`.
pub(super) const RES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];

/// The bit standing for residue `r` (which must be coprime to 30).
pub(super) const fn res_bit(r: u64) -> usize {
    let mut k = 0;
    while k < 8 {
        if RES[k] == r {
            return k;
        }
        k += 1;
    }
    0
}

/// `MASK[ri][j]` clears the bit of `p * q` where `p % 30 == RES[ri]` and `q % 30 == RES[j]`.
pub(super) const MASK: [[u8; 8]; 8] = {
    let mut m = [[0; 8]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            m[ri][j] = !(1 << res_bit(RES[ri] * RES[j] % 30));
            j += 1;
        }
        ri += 1;
    }
    m
};

/// `CARRY[ri][j] = RES[ri] * RES[j] / 30`: what the product of the residues carries into the
/// byte index.
pub(super) const CARRY: [[usize; 8]; 8] = {
    let mut c = [[0; 8]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            c[ri][j] = (RES[ri] * RES[j] / 30) as usize;
            j += 1;
        }
        ri += 1;
    }
    c
};

/// Byte offset of `p * (30 * c + RES[j])` from `p * (30 * c + 1)`, for `p = 30 * a + RES[ri]`.
#[inline(always)]
const fn rel(ri: usize, a: usize, j: usize) -> usize {
    a * (RES[j] as usize - 1) + CARRY[ri][j]
}

/// A sieving prime `p = 30 * a + RES[ri]` (its class `ri` is implied by the list holding it)
/// and `base`, the byte where its current wheel cycle starts, relative to the current segment.
/// `base` is negative when that cycle began in an earlier segment and is not finished yet.
#[derive(Clone, Copy)]
struct SievingPrime {
    a: u32,
    base: i32,
}

/// The sieving primes of one worker, grouped by residue class, with their positions.
pub(super) struct Crosser {
    classes: [Vec<SievingPrime>; 8],
}

impl Crosser {
    /// State for crossing off the multiples of `primes` (all > 5 and with `p * p` below the
    /// run's end) from global byte `lo` on. Positions are kept as `i32` relative to the current
    /// segment, so the caller must stay below 2^31 bytes past `lo` and `p * p / 30 - lo`.
    pub(super) fn new(primes: &[u32], lo: u64) -> Self {
        let mut classes: [Vec<SievingPrime>; 8] =
            std::array::from_fn(|_| Vec::with_capacity(primes.len() / 8 + 16));
        for &p in primes {
            let p = u64::from(p);
            // The first multiple to cross off is p * q for the smallest q >= q_min coprime to
            // 30. As every residue 0..30 has a coprime residue at or above it, that q lies in
            // the wheel cycle starting at p * (30 * (q_min / 30) + 1), i.e. at byte
            // p * (q_min / 30) + p / 30. The cycle's members below p * q_min are either before
            // `lo` (skipped as negative positions) or p times a number in (1, p): composite,
            // so crossing them off is harmless.
            let q_min = p.max((30 * lo).div_ceil(p));
            let base = p * (q_min / 30) + p / 30;
            classes[res_bit(p % 30)].push(SievingPrime {
                a: (p / 30) as u32,
                base: (base as i64 - lo as i64) as i32,
            });
        }
        Self { classes }
    }

    /// Crosses off the multiples in `seg[..len]` (the segment; `seg[len]` is a spare byte that
    /// absorbs writes outside it) and moves every prime on to the segment that follows.
    pub(super) fn cross_off(
        &mut self,
        seg: &mut [u8],
        len: usize,
        ctl: &Ctl,
    ) -> Result<(), Stopped> {
        let seg = &mut seg[..=len];
        let [c0, c1, c2, c3, c4, c5, c6, c7] = &mut self.classes;
        // A large segment high up is several ms of work: look at `ctl` now and then within it.
        cross_class::<0>(seg, len, c0);
        cross_class::<1>(seg, len, c1);
        ctl.check()?;
        cross_class::<2>(seg, len, c2);
        cross_class::<3>(seg, len, c3);
        ctl.check()?;
        cross_class::<4>(seg, len, c4);
        cross_class::<5>(seg, len, c5);
        ctl.check()?;
        cross_class::<6>(seg, len, c6);
        cross_class::<7>(seg, len, c7);
        Ok(())
    }
}

/// Crosses off the eight multiples of the wheel cycle starting at byte `b`, diverting those
/// outside `0..len` to the spare byte `seg[len]`. Branch-free: for primes with only a few
/// multiples per segment, mispredicted "is it in this segment" branches would cost more than
/// the wasted writes.
#[inline(always)]
fn cross_cycle_clamped<const RI: usize>(seg: &mut [u8], len: usize, b: isize, a: usize) {
    for (j, mask) in MASK[RI].iter().enumerate() {
        // A negative position wraps to a huge `usize`, which the `min` also diverts.
        let x = (b + rel(RI, a, j) as isize) as usize;
        seg[x.min(len)] &= mask;
    }
}

/// Crosses off the multiples of the class-`RI` `primes` in `seg[..len]` (`seg[len]` is spare).
fn cross_class<const RI: usize>(seg: &mut [u8], len: usize, primes: &mut [SievingPrime]) {
    let m = MASK[RI];
    let ilen = len as isize;
    for sp in primes {
        let a = sp.a as usize;
        let p = 30 * a + RES[RI] as usize;
        let o7 = rel(RI, a, 7);
        let mut b = sp.base as isize;
        if b < 0 {
            // The cycle begun in an earlier segment may still have multiples in this one.
            cross_cycle_clamped::<RI>(seg, len, b, a);
            if b + o7 as isize >= ilen {
                sp.base = (b - ilen) as i32;
                continue;
            }
            b += p as isize;
        }
        let [o1, o2, o3, o4, o5, o6] = [1, 2, 3, 4, 5, 6].map(|j| rel(RI, a, j));
        let mut i = b as usize;
        while i + o7 < len {
            // One bounds check per cycle: the offsets are all <= o7.
            let w = &mut seg[i..=i + o7];
            w[0] &= m[0];
            w[o1] &= m[1];
            w[o2] &= m[2];
            w[o3] &= m[3];
            w[o4] &= m[4];
            w[o5] &= m[5];
            w[o6] &= m[6];
            w[o7] &= m[7];
            i += p;
        }
        let b = i as isize;
        if b < ilen {
            // A cycle that straddles the segment's end: do its part here, the rest next time.
            cross_cycle_clamped::<RI>(seg, len, b, a);
        }
        sp.base = (b - ilen) as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every multiple p * q with q >= p is crossed off, and nothing but multiples p * q with
    /// q > 1 is, for segments shorter and longer than a cycle and starting anywhere.
    #[test]
    fn crosses_exactly_the_multiples_across_segments() {
        let primes = [
            167u32, 173, 179, 181, 191, 193, 197, 199, 211, 30011, 30013, 100_003,
        ];
        for &p in &primes {
            let p64 = u64::from(p);
            for lo in [0, 5, 12_345, 3_333_333_333, 33_333_333_333] {
                for len in [1, 77, 1000, 5000, 40_000] {
                    let mut crosser = Crosser::new(&[p], lo);
                    let segs = (40_000 / len).clamp(3, 100);
                    for s in 0..segs {
                        let mut seg = vec![0xFF; len + 1];
                        crosser
                            .cross_off(&mut seg, len, &Ctl::default())
                            .expect("not cancelled");
                        for (i, byte) in seg[..len].iter().enumerate() {
                            for (k, r) in RES.iter().enumerate() {
                                let n = 30 * (lo + (s * len + i) as u64) + r;
                                let crossed = byte >> k & 1 == 0;
                                let multiple = n.is_multiple_of(p64);
                                assert!(
                                    !(multiple && n / p64 >= p64) || crossed,
                                    "p {p} lo {lo} len {len}: {n} not crossed off"
                                );
                                assert!(
                                    !crossed || (multiple && n > p64),
                                    "p {p} lo {lo} len {len}: {n} crossed off"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
