//! Tests of the sieve: known values of π(x), exhaustive small windows, windows near the caps,
//! property tests against a Miller-Rabin reference, windows of several segments high up (where
//! the bucket sieve works) against a plain sieve, cancellation and progress.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::control::midway::cancel;

fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    (u128::from(a) * u128::from(b) % u128::from(m)) as u64
}

fn pow_mod(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Deterministic Miller-Rabin: these bases decide primality exactly for every `u64`.
fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
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

/// `PI[n]` = the number of primes below `n`, by Miller-Rabin, for the small windows.
const SMALL: u64 = 1_000_000;
static PI: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut pi = vec![0; SMALL as usize + 1];
    for n in 0..SMALL {
        pi[n as usize + 1] = pi[n as usize] + u64::from(is_prime(n));
    }
    pi
});

fn count(start: u64, end: u64) -> u64 {
    count_primes(start, end, &Ctl::default()).expect("not cancelled")
}

#[test]
fn pi_of_powers_of_ten() {
    let want = [
        4, 25, 168, 1229, 9592, 78498, 664_579, 5_761_455, 50_847_534,
    ];
    for (k, &want) in (1..).zip(&want) {
        assert_eq!(count(0, 10u64.pow(k)), want, "pi(10^{k})");
    }
}

#[test]
fn known_windows() {
    let e9 = 1_000_000_000;
    assert_eq!(count(e9, e9 + 10_000_000), 482_449);
    let quarters = [22_044, 19_494, 18_700, 18_260];
    for (k, want) in (0..).zip(quarters) {
        assert_eq!(count(k * 250_000, (k + 1) * 250_000), want, "quarter {k}");
    }
}

/// About 0.2 s in a release build.
#[test]
fn last_billion_below_10_pow_12() {
    assert_eq!(count(999_000_000_000, 1_000_000_000_000), 36_192_139);
}

#[test]
fn every_tiny_window_near_zero() {
    for end in 1..=200 {
        for start in 0..end {
            assert_eq!(
                count(start, end),
                PI[end as usize] - PI[start as usize],
                "[{start}, {end})"
            );
        }
    }
}

#[test]
fn tiny_windows_high_up() {
    // one number, windows within one sieve byte, and across byte and segment boundaries
    let largest_below_e12 = 999_999_999_989;
    for start in largest_below_e12 - 40..largest_below_e12 + 12 {
        for len in [1, 2, 7, 29, 30, 31, 61] {
            assert_eq!(
                count(start, start + len),
                naive(start, start + len),
                "[{start}, +{len})"
            );
        }
    }
    for start in [MAX_END - 1, MAX_END - 30, MAX_END - 100_000] {
        assert_eq!(
            count(start, MAX_END),
            naive(start, MAX_END),
            "[{start}, MAX_END)"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn small_windows_match_miller_rabin(a in 0..=SMALL, b in 0..=SMALL) {
        let (start, end) = (a.min(b), a.max(b));
        prop_assume!(start < end);
        prop_assert_eq!(count(start, end), PI[end as usize] - PI[start as usize]);
    }

    #[test]
    fn tiny_windows_match_miller_rabin(start in 0..SMALL - 200, len in 1..=200u64) {
        let end = start + len;
        prop_assert_eq!(count(start, end), PI[end as usize] - PI[start as usize]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn windows_below_10_pow_12_match_miller_rabin(
        start in 0..1_000_000_000_000 - 100_000u64,
        len in 1..=100_000u64,
    ) {
        prop_assert_eq!(count(start, start + len), naive(start, start + len));
    }
}

/// The odd primes up to 3.2·10^7: enough for [`plain`] below 10^15 + 2.4·10^13.
static BASE: LazyLock<Vec<u64>> = LazyLock::new(|| small_odd_primes(32_000_000));

/// The primes in `[start, end)` by a plain sieve of the window's odd numbers, all at once,
/// with the odd primes up to `sqrt(end)`: no wheel, no segments, no buckets.
fn plain(start: u64, end: u64) -> u64 {
    let root = (end - 1).isqrt();
    assert!(root <= 32_000_000, "end {end} too large for BASE");
    let two = u64::from(start <= 2 && 2 < end);
    let lo = start | 1;
    if lo >= end {
        return two;
    }
    // Flag `i` stands for the odd number lo + 2·i.
    let n = (end - lo).div_ceil(2);
    let mut composite = vec![false; n as usize];
    for &p in BASE.iter().take_while(|&&p| p <= root) {
        let first = (p * p).max(lo.div_ceil(p) * p);
        let first = if first % 2 == 0 { first + p } else { first };
        for i in ((first - lo) / 2..n).step_by(p as usize) {
            composite[i as usize] = true;
        }
    }
    let odd = composite.iter().filter(|&&c| !c).count() as u64;
    odd - u64::from(lo == 1) + two
}

#[test]
fn plain_sieve_agrees_with_miller_rabin() {
    for (start, end) in [
        (0, 10_000),
        (1, 2),
        (2, 3),
        (999_999_000_000, 999_999_100_000),
    ] {
        assert_eq!(plain(start, end), naive(start, end), "[{start}, {end})");
    }
}

/// Windows of several segments where large primes go through the buckets (from about 1.1·10^12
/// on), across prime squares (primes joining the buckets midway) and up to 10^15.
#[test]
fn windows_of_several_segments_high_up_match_a_plain_sieve() {
    let p = 1_048_583u64; // the first prime above a 1 MiB segment's bytes
    for (start, end) in [
        (999_950_000_000, 1_000_050_000_000),
        (p * p - 40_000_000, p * p + 40_000_000),
        (10_000_000_000_000, 10_000_100_000_000),
        (999_999_950_000_000, 1_000_000_050_000_000),
        (1_000_000_000_000_000, 1_000_000_003_000_000),
    ] {
        assert_eq!(count(start, end), plain(start, end), "[{start}, {end})");
    }
}

/// A few million numbers at the top of the sieve, where 5.7 million primes are in buckets.
#[test]
fn windows_at_the_top_match_miller_rabin() {
    for (start, end) in [
        (MAX_END - 2_000_000, MAX_END),
        (MAX_END / 2, MAX_END / 2 + 1_000_000),
    ] {
        assert_eq!(count(start, end), naive(start, end), "[{start}, {end})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random windows of up to 3·10^7 numbers from 10^12 to 10^15, with every sort of start.
    #[test]
    fn windows_high_up_match_a_plain_sieve(
        start in 1_000_000_000_000..1_000_000_000_000_000u64,
        len in 1..=30_000_000u64,
    ) {
        prop_assert_eq!(count(start, start + len), plain(start, start + len));
    }
}

#[test]
fn cancelled_before_the_call() {
    let ctl = Ctl::default();
    ctl.stop();
    let started = Instant::now();
    assert_eq!(count_primes(0, MAX_END, &ctl), Err(Stopped));
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn cancelled_while_running() {
    let run = cancel(
        |elapsed, _| elapsed.as_millis() >= 50,
        |ctl| count_primes(0, 1_000_000_000_000, ctl),
    );
    assert_eq!(run.result, Err(Stopped));
    assert!(
        run.latency < Duration::from_millis(100),
        "returned {:?} after the cancel",
        run.latency
    );
    let (done, total) = run.progress;
    assert!(done < total, "{done} of {total} segments done");
}

#[test]
fn progress_ends_complete() {
    let ctl = Ctl::default();
    assert_eq!(count_primes(0, 1_000_000_000, &ctl), Ok(50_847_534));
    let (done, total) = ctl.progress().get();
    assert!(total > 1, "total {total}");
    assert_eq!(done, total);
}
