//! Pre-sieving: a fresh segment starts as a copy of the sieve of the primes 7..=163 alone,
//! assembled from precomputed periodic patterns instead of crossing those primes off one by one
//! (they have by far the most multiples).

use std::sync::LazyLock;

use super::wheel::{RES, res_bit};

/// The pre-sieved primes, grouped so that each group's product (its pattern's period in bytes)
/// stays below 64 KiB and the patterns together fit in L2 beside a segment.
const GROUPS: [&[u64]; 14] = [
    &[7, 83, 89],
    &[11, 73, 79],
    &[13, 67, 71],
    &[17, 59, 61],
    &[23, 47, 53],
    &[37, 41, 43],
    &[19, 29, 31],
    &[97, 101],
    &[103, 107],
    &[109, 113],
    &[127, 131],
    &[137, 139],
    &[149, 151],
    &[157, 163],
];

/// The largest pre-sieved prime; the sieving proper starts above it.
pub(super) const MAX: u64 = 163;

/// For each group, one period of sieve bytes with the multiples of the group's primes (the
/// primes themselves included) crossed off.
static PATTERNS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    GROUPS
        .iter()
        .map(|group| {
            let period: u64 = group.iter().product();
            let mut pattern = vec![0xFF_u8; period as usize];
            for &p in *group {
                for (k, r) in RES.iter().enumerate() {
                    // the first byte whose bit k, the number 30 * i + r, is a multiple of p
                    let first = (0..p).find(|i| (30 * i + r).is_multiple_of(p)).unwrap_or(p);
                    for byte in pattern.iter_mut().skip(first as usize).step_by(p as usize) {
                        *byte &= !(1 << k);
                    }
                }
            }
            pattern
        })
        .collect()
});

/// Fills `seg`, the sieve bytes from global byte `lo` on, with the numbers coprime to 30 and to
/// every pre-sieved prime (1 included, the pre-sieved primes themselves excluded; see
/// [`fix_first_bytes`]).
pub(super) fn presieve(seg: &mut [u8], lo: u64) {
    let patterns: &[Vec<u8>] = &PATTERNS;
    let (first, rest) = patterns.split_at(4);
    and_patterns::<true>(seg, lo, first);
    for group in rest.chunks(4) {
        and_patterns::<false>(seg, lo, group);
    }
}

/// Corrects a pre-sieved segment starting at global byte `lo` where it overlaps the first six
/// bytes (numbers below 180): un-marks 1 and marks the pre-sieved primes as prime again.
pub(super) fn fix_first_bytes(seg: &mut [u8], lo: u64) {
    let mut set = |n: u64, prime: bool| {
        if let Some(byte) = (n / 30)
            .checked_sub(lo)
            .and_then(|i| seg.get_mut(i as usize))
        {
            let bit = 1 << res_bit(n % 30);
            *byte = if prime { *byte | bit } else { *byte & !bit };
        }
    };
    set(1, false);
    for &p in GROUPS.iter().copied().flatten() {
        set(p, true);
    }
}

/// `seg &= p0 & p1 & p2 & p3` (`seg = ...` if `FIRST`) for up to four `patterns`, each repeating
/// with its own period from global byte `lo` on: a few streams per sweep keep the memory traffic
/// on `seg` down.
#[inline(always)]
fn and_patterns<const FIRST: bool>(seg: &mut [u8], lo: u64, patterns: &[Vec<u8>]) {
    let Some((p0, others)) = patterns.split_first() else {
        return;
    };
    debug_assert!(others.len() <= 3);
    // Positions in the patterns; the missing ones repeat `p0`, which changes nothing.
    let mut pats: [&[u8]; 4] = [p0; 4];
    for (slot, p) in pats[1..].iter_mut().zip(others) {
        *slot = p;
    }
    let mut offs = pats.map(|p| (lo % p.len() as u64) as usize);
    let mut done = 0;
    while done < seg.len() {
        // the longest run in which no pattern wraps around
        let n = (0..4).fold(seg.len() - done, |n, k| n.min(pats[k].len() - offs[k]));
        let [w, x, y, z] = [0, 1, 2, 3].map(|k| &pats[k][offs[k]..][..n]);
        let dst = &mut seg[done..done + n];
        for ((((d, w), x), y), z) in dst.iter_mut().zip(w).zip(x).zip(y).zip(z) {
            let v = w & x & y & z;
            *d = if FIRST { v } else { *d & v };
        }
        for k in 0..4 {
            offs[k] += n;
            if offs[k] == pats[k].len() {
                offs[k] = 0;
            }
        }
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presieve_keeps_exactly_the_numbers_free_of_small_factors() {
        let primes: Vec<u64> = GROUPS.iter().copied().flatten().copied().collect();
        for lo in [0, 1, 1000, 17_016, 17_017, 123_456_789, 33_333_333_333] {
            let mut seg = vec![0; 70_000];
            presieve(&mut seg, lo);
            for (i, byte) in seg.iter().enumerate() {
                for (k, r) in RES.iter().enumerate() {
                    let n = 30 * (lo + i as u64) + r;
                    let free = primes.iter().all(|&p| !n.is_multiple_of(p));
                    assert_eq!(byte >> k & 1 == 1, free, "lo {lo}: {n}");
                }
            }
        }
    }
}
