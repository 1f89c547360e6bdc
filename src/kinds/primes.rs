//! `count_primes`: a segmented, wheel-30 sieve of Eratosthenes.
//! (draft)

use std::sync::LazyLock;

use rayon::prelude::*;

use super::control::{Ctl, Stopped};

/// Largest `end` accepted by [`count_primes`].
pub const MAX_END: u64 = 10_000_000_000_000;

/// Residues modulo 30 that are coprime to 30; bit `k` of a sieve byte stands for `30 * i + RES[k]`.
const RES: [u64; 8] = [1, 7, 11, 13, 17, 19, 23, 29];

/// Bytes per segment.
const SEG_BYTES: usize = 256 * 1024;
/// Most segments a worker sieves in one go.
const MAX_CHUNK_SEGS: usize = 64;

/// Primes whose multiples come from the pre-sieve patterns, grouped so that each group's product
/// (its pattern's length in bytes) stays below 64 KiB.
const PRESIEVE_GROUPS: [&[u64]; 14] = [
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
const PRESIEVE_MAX: u64 = 163;

/// For each group, one period of the sieve bytes with exactly the multiples of its primes
/// crossed off.
static PATTERNS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    PRESIEVE_GROUPS
        .iter()
        .map(|group| {
            let len: u64 = group.iter().product();
            let mut pat = vec![0xFF_u8; len as usize];
            for &p in *group {
                for (k, s) in RES.iter().enumerate() {
                    // first byte i whose bit k (the number 30 * i + s) is a multiple of p
                    let first = (0..p).find(|i| (30 * i + s) % p == 0).unwrap_or(p);
                    for byte in pat.iter_mut().skip(first as usize).step_by(p as usize) {
                        *byte &= !(1 << k);
                    }
                }
            }
            pat
        })
        .collect()
});

/// Bit index of each residue modulo 30 (only meaningful for residues coprime to 30).
const fn res_bit(r: u64) -> usize {
    let mut k = 0;
    while k < 8 {
        if RES[k] == r {
            return k;
        }
        k += 1;
    }
    0
}

/// `MASK[ri][j]`: the AND-mask that clears `p * q` where `p % 30 == RES[ri]`, `q % 30 == RES[j]`.
const MASK: [[u8; 8]; 8] = {
    let mut m = [[0u8; 8]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 8 {
            m[ri][j] = !(1u8 << res_bit(RES[ri] * RES[j] % 30));
            j += 1;
        }
        ri += 1;
    }
    m
};

/// `CORR[ri][j] = floor(RES[ri] * s_j / 30)` with `s_8 = 31`: the carry into the byte index.
const CORR: [[usize; 9]; 8] = {
    let mut c = [[0usize; 9]; 8];
    let mut ri = 0;
    while ri < 8 {
        let mut j = 0;
        while j < 9 {
            let s = if j < 8 { RES[j] } else { 31 };
            c[ri][j] = (RES[ri] * s / 30) as usize;
            j += 1;
        }
        ri += 1;
    }
    c
};

/// Gaps between consecutive wheel residues (`s_{j+1} - s_j`, with `s_8 = 31`).
const GAP: [usize; 8] = [6, 4, 2, 4, 2, 4, 6, 2];

/// Byte offset from the multiple `p * q` with `q % 30 == RES[j]` to the next one.
#[inline(always)]
const fn step(ri: usize, a: usize, j: usize) -> usize {
    a * GAP[j] + CORR[ri][j + 1] - CORR[ri][j]
}

/// Byte offset of `p * (30b + RES[j])` from `p * (30b + 1)`.
#[inline(always)]
const fn rel(ri: usize, a: usize, j: usize) -> usize {
    a * (RES[j] as usize - 1) + CORR[ri][j]
}

/// One sieving prime `p = 30 * a + RES[ri]` (the class `ri` is implied by which list holds it)
/// and `base`, the byte of `p * (30 * k + 1)`, relative to the current segment, for the wheel
/// cycle `k` of its multiples that is not finished yet (negative if it started in an earlier
/// segment).
#[derive(Clone, Copy)]
struct SievingPrime {
    a: u32,
    base: i32,
}

/// Crosses off, within `seg[..len]`, the multiples of one wheel cycle starting at byte `b`,
/// skipping those outside `0..len` by diverting them to the spare byte `seg[len]`.
#[inline(always)]
fn cross_cycle_clamped<const RI: usize>(seg: &mut [u8], len: usize, b: isize, a: usize) {
    let m = MASK[RI];
    for (j, mask) in m.iter().enumerate() {
        let x = (b + rel(RI, a, j) as isize) as usize;
        seg[x.min(len)] &= mask;
    }
}

/// Crosses off the multiples of all `primes` of class `RI` in `seg[..len]` (`seg[len]` is a
/// spare byte) and moves their state on to the next segment.
#[inline(never)]
fn cross_class<const RI: usize>(seg: &mut [u8], len: usize, primes: &mut [SievingPrime]) {
    let seg = &mut seg[..=len];
    let m = MASK[RI];
    let ilen = len as isize;
    for sp in primes.iter_mut() {
        let a = sp.a as usize;
        let p = 30 * a + RES[RI] as usize;
        let mut b = sp.base as isize;
        let o7 = rel(RI, a, 7);
        if b < 0 {
            cross_cycle_clamped::<RI>(seg, len, b, a);
            if b + o7 as isize >= ilen {
                // The cycle runs past this (short) segment too.
                sp.base = (b - ilen) as i32;
                continue;
            }
            b += p as isize;
        }
        let o1 = rel(RI, a, 1);
        let o2 = rel(RI, a, 2);
        let o3 = rel(RI, a, 3);
        let o4 = rel(RI, a, 4);
        let o5 = rel(RI, a, 5);
        let o6 = rel(RI, a, 6);
        let mut i = b as usize;
        while i + o7 < len {
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
            cross_cycle_clamped::<RI>(seg, len, b, a);
        }
        sp.base = (b - ilen) as i32;
    }
}

fn cross_all(seg: &mut [u8], len: usize, classes: &mut [Vec<SievingPrime>; 8]) {
    let [c0, c1, c2, c3, c4, c5, c6, c7] = classes;
    cross_class::<0>(seg, len, c0);
    cross_class::<1>(seg, len, c1);
    cross_class::<2>(seg, len, c2);
    cross_class::<3>(seg, len, c3);
    cross_class::<4>(seg, len, c4);
    cross_class::<5>(seg, len, c5);
    cross_class::<6>(seg, len, c6);
    cross_class::<7>(seg, len, c7);
}

/// Odd primes `p` with `PRESIEVE_MAX < p <= limit`, by a plain sieve.
fn sieving_primes(limit: u64) -> Vec<u32> {
    let n = limit as usize;
    if n <= PRESIEVE_MAX as usize {
        return Vec::new();
    }
    // composite[i] is about 2i + 1
    let mut composite = vec![false; n / 2 + 1];
    let mut i = 3;
    while i * i <= n {
        if !composite[i / 2] {
            let mut m = i * i;
            while m <= n {
                composite[m / 2] = true;
                m += 2 * i;
            }
        }
        i += 2;
    }
    (PRESIEVE_MAX as usize + 1..=n)
        .filter(|&k| k % 2 == 1 && !composite[k / 2])
        .map(|k| k as u32)
        .collect()
}

/// Fills `seg` (global bytes `lo..lo + seg.len()`) with the AND of the pre-sieve patterns.
#[inline(never)]
fn presieve(seg: &mut [u8], lo: u64) {
    let pats: &[Vec<u8>] = &PATTERNS;
    let [a, b, c] = [&pats[..4], &pats[4..8], &pats[8..]];
    and_patterns::<true>(seg, lo, a);
    and_patterns::<false>(seg, lo, b);
    and_patterns::<false>(seg, lo, c);
}

/// `seg &= p0 & p1 & p2 & p3` (or `seg = ...` when `FIRST`) for up to 6 `patterns`, each
/// repeating with its own period from the global byte `lo` on; one pass to keep memory traffic
/// down.
#[inline(always)]
fn and_patterns<const FIRST: bool>(seg: &mut [u8], lo: u64, patterns: &[Vec<u8>]) {
    const N: usize = 6;
    debug_assert!(patterns.len() <= N);
    let mut offs = [0usize; N];
    let mut lens = [usize::MAX; N];
    for (k, pat) in patterns.iter().enumerate() {
        offs[k] = (lo % pat.len() as u64) as usize;
        lens[k] = pat.len();
    }
    let mut done = 0;
    while done < seg.len() {
        let mut n = seg.len() - done;
        for k in 0..patterns.len() {
            n = n.min(lens[k] - offs[k]);
        }
        let dst = &mut seg[done..done + n];
        if FIRST {
            dst.fill(0xFF);
        }
        let mut k = 0;
        while k < patterns.len() {
            // four patterns per sweep over `dst` (repeating one if fewer are left): fewer
            // passes, and no tail cases
            let src = |k: usize| patterns.get(k).map(|pat| &pat[offs[k]..][..n]);
            let w = &patterns[k][offs[k]..][..n];
            let x = src(k + 1).unwrap_or(w);
            let y = src(k + 2).unwrap_or(w);
            let z = src(k + 3).unwrap_or(w);
            for ((((d, w), x), y), z) in dst.iter_mut().zip(w).zip(x).zip(y).zip(z) {
                *d &= w & x & y & z;
            }
            k += 4;
        }
        for k in 0..patterns.len() {
            offs[k] += n;
            if offs[k] == lens[k] {
                offs[k] = 0;
            }
        }
        done += n;
    }
}

#[inline(never)]
fn popcount(bytes: &[u8]) -> u64 {
    let (words, rest) = bytes.as_chunks::<8>();
    let w: u64 = words
        .iter()
        .map(|w| u64::from(u64::from_ne_bytes(*w).count_ones()))
        .sum();
    w + rest.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// Counts primes p with `start <= p < end`.
pub fn count_primes(start: u64, end: u64, ctl: &Ctl) -> Result<u64, Stopped> {
    debug_assert!(start < end && end <= MAX_END);
    ctl.check()?;
    let small = [2, 3, 5].iter().filter(|&&p| start <= p && p < end).count() as u64;
    let lo = start / 30;
    let hi = end.div_ceil(30);
    let first_mask = mask_where(|k| 30 * lo + RES[k] >= start);
    let last_mask = mask_where(|k| 30 * (hi - 1) + RES[k] < end);
    let primes = sieving_primes((end - 1).isqrt());
    ctl.check()?;
    let n_seg = (hi - lo).div_ceil(SEG_BYTES as u64) as usize;
    let threads = rayon::current_num_threads().max(1);
    let per_chunk = (n_seg / (threads * 16)).clamp(1, MAX_CHUNK_SEGS);
    let per_chunk: usize = std::env::var("PC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(per_chunk);
    let n_chunks = n_seg.div_ceil(per_chunk);
    ctl.set_total(n_seg as u64);
    let env = Env {
        lo,
        hi,
        end,
        first_mask,
        last_mask,
        primes: &primes,
        ctl,
    };
    let counted = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let first = c * per_chunk;
            let last = (first + per_chunk).min(n_seg);
            env.count_chunk(first, last)
        })
        .try_reduce(|| 0, |x, y| Ok(x + y))?;
    Ok(counted + small)
}

fn mask_where(keep: impl Fn(usize) -> bool) -> u8 {
    (0..8).filter(|&k| keep(k)).fold(0u8, |m, k| m | (1 << k))
}

struct Env<'a> {
    lo: u64,
    hi: u64,
    end: u64,
    first_mask: u8,
    last_mask: u8,
    primes: &'a [u32],
    ctl: &'a Ctl,
}

impl Env<'_> {
    fn count_chunk(&self, first_seg: usize, last_seg: usize) -> Result<u64, Stopped> {
        let seg_bytes = SEG_BYTES as u64;
        let c_lo = self.lo + first_seg as u64 * seg_bytes;
        let c_hi = (self.lo + last_seg as u64 * seg_bytes).min(self.hi);
        let limit = self.end.min(30 * c_hi);
        let mut classes: [Vec<SievingPrime>; 8] = Default::default();
        for &p in self.primes {
            let p = u64::from(p);
            if p * p >= limit {
                break;
            }
            let q_min = p.max((30 * c_lo).div_ceil(p));
            let (b, r) = (q_min / 30, q_min % 30);
            let j = RES.iter().position(|&s| s >= r).unwrap_or(8);
            let q = if j == 8 {
                30 * (b + 1) + 1
            } else {
                30 * b + RES[j]
            };
            // the wheel cycle holding p * q starts at p * (q - q % 30 + 1)
            let base = p * (q - q % 30 + 1) / 30;
            let ri = res_bit(p % 30);
            classes[ri].push(SievingPrime {
                a: (p / 30) as u32,
                base: (base as i64 - c_lo as i64) as i32,
            });
        }
        let mut buf = vec![0u8; SEG_BYTES + 1];
        let mut total = 0;
        let mut s_lo = c_lo;
        while s_lo < c_hi {
            self.ctl.check()?;
            let len = (c_hi - s_lo).min(seg_bytes) as usize;
            let seg = &mut buf[..len];
            presieve(seg, s_lo);
            if s_lo == 0 {
                seg[0] &= !1; // 1 is not prime
                for &p in PRESIEVE_GROUPS.iter().flat_map(|g| g.iter()) {
                    if let Some(b) = seg.get_mut((p / 30) as usize) {
                        *b |= 1 << res_bit(p % 30);
                    }
                }
            }
            cross_all(&mut buf[..=len], len, &mut classes);
            let seg = &mut buf[..len];
            if s_lo == self.lo {
                seg[0] &= self.first_mask;
            }
            if s_lo + len as u64 == self.hi {
                seg[len - 1] &= self.last_mask;
            }
            total += popcount(seg);
            self.ctl.advance(1);
            s_lo += len as u64;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
        (u128::from(a) * u128::from(b) % u128::from(m)) as u64
    }

    fn pow_mod(mut b: u64, mut e: u64, m: u64) -> u64 {
        let mut r = 1;
        b %= m;
        while e > 0 {
            if e & 1 == 1 {
                r = mul_mod(r, b, m);
            }
            b = mul_mod(b, b, m);
            e >>= 1;
        }
        r
    }

    /// Deterministic Miller-Rabin; these bases are exact for every u64.
    fn is_prime(n: u64) -> bool {
        const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
        if n < 2 {
            return false;
        }
        for p in BASES {
            if n % p == 0 {
                return n == p;
            }
        }
        let (mut d, mut s) = (n - 1, 0);
        while d % 2 == 0 {
            d /= 2;
            s += 1;
        }
        'bases: for a in BASES {
            let mut x = pow_mod(a, d, n);
            if x == 1 || x == n - 1 {
                continue;
            }
            for _ in 1..s {
                x = mul_mod(x, x, n);
                if x == n - 1 {
                    continue 'bases;
                }
            }
            return false;
        }
        true
    }

    fn naive(start: u64, end: u64) -> u64 {
        (start..end).filter(|&n| is_prime(n)).count() as u64
    }

    fn count(start: u64, end: u64) -> u64 {
        count_primes(start, end, &Ctl::default()).expect("not cancelled")
    }

    #[test]
    fn tmp_single_prime() {
        for len in [1000usize, 77, 5000] {
            for p in [
                101u64, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 30011, 30013,
                100003, 300007,
            ] {
                for c_lo in [0u64, 12345, 3_333_333_333, 33_333_333_333] {
                    let env = Env {
                        lo: 0,
                        hi: 0,
                        end: 0,
                        first_mask: 0,
                        last_mask: 0,
                        primes: &[],
                        ctl: &Ctl::default(),
                    };
                    let _ = env;
                    // emulate init
                    let q_min = p.max((30 * c_lo).div_ceil(p));
                    let (b, r) = (q_min / 30, q_min % 30);
                    let j = RES.iter().position(|&s| s >= r).unwrap_or(8);
                    let q = if j == 8 {
                        30 * (b + 1) + 1
                    } else {
                        30 * b + RES[j]
                    };
                    let base = p * (q - q % 30 + 1) / 30;
                    let ri = res_bit(p % 30);
                    let mut cls: [Vec<SievingPrime>; 8] = Default::default();
                    cls[ri].push(SievingPrime {
                        a: (p / 30) as u32,
                        base: (base as i64 - c_lo as i64) as i32,
                    });
                    let mut got = Vec::new();
                    for _ in 0..40 {
                        let mut buf = vec![0xFFu8; len + 1];
                        cross_all(&mut buf, len, &mut cls);
                        got.extend_from_slice(&buf[..len]);
                    }
                    for (i, byte) in got.iter().enumerate() {
                        for k in 0..8 {
                            let n = 30 * (c_lo + i as u64) + RES[k];
                            let have = byte >> k & 1 == 1;
                            let must_cross = n % p == 0 && n / p >= p;
                            let may_cross = n % p == 0 && n / p > 1;
                            let want = !must_cross;
                            if (must_cross && have) || (!have && !may_cross) {
                                panic!(
                                    "p {p} c_lo {c_lo} byte {i} bit {k} n {n} want {want} have {have}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn high_window_debug() {
        for (s, l) in [
            (999_000_000_000u64, 1_000_000u64),
            (999_000_000_000, 10_000_000),
        ] {
            assert_eq!(count(s, s + l), naive(s, s + l), "[{s}, +{l})");
        }
    }

    #[test]
    fn pi_powers_of_ten() {
        let want = [4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534];
        for (k, w) in want.iter().enumerate() {
            let n = 10u64.pow(k as u32 + 1);
            assert_eq!(
                count_primes(0, n, &Ctl::default()),
                Ok(*w),
                "pi(10^{})",
                k + 1
            );
        }
    }

    #[test]
    #[ignore]
    fn bench() {
        for threads in [2, 1] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for _ in 0..3 {
                let t = std::time::Instant::now();
                let n = pool.install(|| count_primes(0, 10_000_000_000, &Ctl::default()));
                eprintln!("t{threads} 1e10: {n:?} in {:?}", t.elapsed());
            }
            let t = std::time::Instant::now();
            let n =
                pool.install(|| count_primes(999_000_000_000, 1_000_000_000_000, &Ctl::default()));
            eprintln!("t{threads} [999e9,1e12): {n:?} in {:?}", t.elapsed());
        }
    }
}
