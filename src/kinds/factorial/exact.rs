//! The `factorial` kernel: exact facts about `n!` — its number of decimal digits, its number of
//! trailing zeros and its first (up to) 20 decimal digits — without ever printing `n!` in full.
//!
//! # Method
//!
//! * **Trailing zeros** come from Legendre's formula: `n!` holds `Σ ⌊n / 5^k⌋` factors of 5 and
//!   more factors of 2 than that, so that sum is the exponent of 10.
//! * **`n!` itself** is `2^e · O` with `e = n − popcount(n)` and `O` the odd part. The odd part is
//!   `O = Π_{i≥0} P_i^(i+1)`, where `P_i` is the product of the odd numbers in
//!   `(n / 2^(i+1), n / 2^i]`. Each `P_i` is a binary-splitting product tree (independent, so they
//!   run in parallel); the powers are folded in with Luschny's loop `p ← p·P_i; r ← r·p`. The power
//!   of two is never multiplied in, it only becomes a shift. `ctl.check()` runs between any two
//!   big-integer operations, so a cancelled run stops as soon as the current GMP call returns.
//! * **Digits and leading digits**: Stirling's series gives a floating-point guess `D` of the digit
//!   count; with `m = D − 22` the kernel computes, exactly in integers,
//!   `q = ⌊n! / 10^m⌋ = ⌊⌊O · 2^e / 2^m⌋ / 5^m⌋` (nested floors of positive divisions compose).
//!   `5^m` is built by square-and-multiply alongside `O`, checking between squarings.
//!
//! # Why it is exact
//!
//! The guess only chooses `m`; nothing is read off it. If `q ≥ 1` has `t` digits then
//! `10^(m+t−1) ≤ q·10^m ≤ n! < (q+1)·10^m ≤ 10^(m+t)`, so `n!` has exactly `m + t` digits, and its
//! leading digits are those of `q` as long as `q` has at least 20 of them. Should the guess ever be
//! too high for that (`q` too short), `m` is lowered and `q` recomputed; a guess that is too low
//! only makes `q` longer. Small `n` skip all this: `n!` is printed and read directly.

use rayon::prelude::*;
use rug::Integer;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kinds::{Ctl, Stopped};

/// Facts about n! that a job reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FactorialFacts {
    /// The argument of the factorial.
    pub n: u64,
    /// Number of decimal digits of `n!` (`0! = 1` has 1 digit).
    pub digits: u64,
    /// Number of trailing decimal zeros of `n!`.
    pub trailing_zeros: u64,
    /// The first `min(20, digits)` decimal digits of `n!`.
    pub leading_digits: String,
}

/// Default cap on n (the service makes it configurable).
pub const DEFAULT_MAX_N: u64 = 10_000_000;

/// How many leading digits are reported.
const LEADING: u64 = 20;
/// Up to this `n`, printing `n!` in full is cheaper than the division route (≤ 16 326 digits).
const DIRECT_MAX_N: u64 = 5_000;
/// Odd factors multiplied into one product-tree leaf with word-sized multiplications.
const LEAF_LEN: u64 = 64;
/// Product-tree ranges at least this long are split across threads; below it, forking costs
/// more than it gains.
const PAR_MIN_LEN: u64 = 8_192;

/// Products whose smaller factor has at least this many 64-bit words are split by `split_mul`
/// (one such GMP product takes tens of milliseconds).
const SPLIT_MIN_WORDS: usize = 1 << 18;

// Bit counts and shift amounts are u64 here but usize in rug; this makes the conversion lossless.
const _: () = assert!(usize::BITS >= u64::BITS, "64-bit targets only");

/// Exact facts of n!: number of decimal digits (0! = 1 has 1 digit), number of trailing zeros,
/// and its first min(20, digits) decimal digits as a string.
///
/// Runs on the current rayon pool (it forks with `rayon::join`) and returns `Err(Stopped)` soon
/// after `ctl` is cancelled.
pub fn factorial_facts(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
    ctl.check()?;
    if n <= DIRECT_MAX_N {
        direct(n, ctl)
    } else {
        by_division(n, ctl)
    }
}

/// Prints `n!` in full and reads the facts off the string.
fn direct(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
    let full = odd_factorial(n, ctl)? << to_usize(two_exponent(n));
    let s = full.to_string();
    Ok(facts(n, len(&s), &s))
}

/// Computes `q = ⌊n! / 10^m⌋` for a guessed `m` and reads the facts off `q` (see module doc).
fn by_division(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
    let e = two_exponent(n);
    // The float-to-int cast saturates (NaN and negatives become 0): any value is a valid guess.
    let guess = log10_factorial(n).floor() as u64 + 1;
    let mut m = guess.saturating_sub(LEADING + 2);
    let (odd, five) = rayon::join(|| odd_factorial(n, ctl), || pow5(m, ctl));
    let (odd, mut five) = (odd?, five?);
    loop {
        ctl.check()?;
        let scaled = if e >= m {
            Integer::from(&odd << to_usize(e - m))
        } else {
            Integer::from(&odd >> to_usize(m - e))
        };
        ctl.check()?;
        let q = scaled / &five;
        let s = q.to_string();
        if m == 0 || (q != 0 && len(&s) >= LEADING) {
            return Ok(facts(n, m + len(&s), &s));
        }
        // The guess was too high (never seen in practice): aim lower and redo the division.
        m = if q == 0 {
            m / 2
        } else {
            m.saturating_sub(LEADING + 2 - len(&s))
        };
        five = pow5(m, ctl)?;
    }
}

/// Builds the facts from the digit count and a decimal string that starts like `n!`.
fn facts(n: u64, digits: u64, prefix: &str) -> FactorialFacts {
    let k = prefix.len().min(to_usize(LEADING));
    FactorialFacts {
        n,
        digits,
        trailing_zeros: trailing_zeros(n),
        leading_digits: prefix[..k].to_owned(),
    }
}

/// Legendre's formula for the exponent of 5 in `n!`, which is the exponent of 10.
fn trailing_zeros(n: u64) -> u64 {
    let mut zeros = 0;
    let mut q = n;
    while q >= 5 {
        q /= 5;
        zeros += q;
    }
    zeros
}

/// Exponent of 2 in `n!` (Legendre's formula in closed form).
fn two_exponent(n: u64) -> u64 {
    n - u64::from(n.count_ones())
}

/// Stirling's series for `log10(n!)`; only a guess, accurate to far better than one digit.
fn log10_factorial(n: u64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let x = n as f64;
    let ln = x * x.ln() - x + 0.5 * (std::f64::consts::TAU * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x);
    ln / std::f64::consts::LN_10
}

/// The odd part of `n!` (see module doc).
fn odd_factorial(n: u64, ctl: &Ctl) -> Result<Integer, Stopped> {
    let levels = u64::from(u64::BITS - n.leading_zeros());
    let parts = (0..levels)
        .into_par_iter()
        .map(|i| odd_range_product(n >> (i + 1), n >> i, ctl))
        .collect::<Result<Vec<_>, _>>()?;
    // O = Π_i p_i with p_i = P_i⋯P_top, the odd numbers up to n >> i. After the step for P_i,
    // p = p_i and r = p_(i+1)⋯p_top: r lags a step, so both products of a step read only the old
    // p and can run in parallel.
    let (mut r, mut p) = (Integer::from(1), Integer::from(1));
    for part in parts.iter().rev() {
        ctl.check()?;
        let (r2, p2) = rayon::join(|| Integer::from(&r * &p), || Integer::from(&p * part));
        (r, p) = (r2, p2);
    }
    split_mul(&r, &p, ctl)
}

/// `a · b`; when both are huge, as two half products on two threads, so that both cores work on
/// the last (largest) product and no single GMP call keeps a cancelled run going for long.
fn split_mul(a: &Integer, b: &Integer, ctl: &Ctl) -> Result<Integer, Stopped> {
    ctl.check()?;
    let (big, small) = if a.significant_digits::<u64>() >= b.significant_digits::<u64>() {
        (a, b)
    } else {
        (b, a)
    };
    // Splitting at a word boundary keeps both shifts cheap; rug counts bits in u32.
    let half_bits = u32::try_from(big.significant_digits::<u64>() / 2 * 64).ok();
    match half_bits {
        Some(half) if small.significant_digits::<u64>() >= SPLIT_MIN_WORDS => {
            let (high, low) = rayon::join(
                || Integer::from(big >> half) * small,
                || big.clone().keep_bits(half) * small,
            );
            ctl.check()?;
            Ok((high << half) + low)
        }
        _ => Ok(Integer::from(a * b)),
    }
}

/// Product of the odd numbers in `(lo, hi]`.
fn odd_range_product(lo: u64, hi: u64, ctl: &Ctl) -> Result<Integer, Stopped> {
    // The odd numbers 2j + 1 in (lo, hi] are those with j in [(lo + 1) / 2, (hi + 1) / 2).
    product_tree(lo.div_ceil(2), hi.div_ceil(2), ctl)
}

/// Product of `2j + 1` for `j` in `[a, b)`, by binary splitting.
fn product_tree(a: u64, b: u64, ctl: &Ctl) -> Result<Integer, Stopped> {
    if b.saturating_sub(a) <= LEAF_LEN {
        let mut acc = Integer::from(1);
        let mut word: u64 = 1;
        for j in a..b {
            let x = 2 * j + 1;
            word = match word.checked_mul(x) {
                Some(w) => w,
                None => {
                    acc *= word;
                    x
                }
            };
        }
        return Ok(acc * word);
    }
    let mid = a + (b - a) / 2;
    let (left, right) = if b - a >= PAR_MIN_LEN {
        rayon::join(|| product_tree(a, mid, ctl), || product_tree(mid, b, ctl))
    } else {
        (product_tree(a, mid, ctl), product_tree(mid, b, ctl))
    };
    let (left, right) = (left?, right?);
    ctl.check()?;
    Ok(left * right)
}

/// `5^m` by left-to-right square-and-multiply, checking between squarings.
fn pow5(m: u64, ctl: &Ctl) -> Result<Integer, Stopped> {
    let mut acc = Integer::from(1);
    for bit in (0..u64::BITS - m.leading_zeros()).rev() {
        ctl.check()?;
        acc.square_mut();
        if (m >> bit) & 1 == 1 {
            acc *= 5u32;
        }
    }
    Ok(acc)
}

/// Length of an ASCII string as u64.
fn len(s: &str) -> u64 {
    s.len() as u64
}

/// Lossless on the 64-bit targets this module is restricted to (asserted above).
fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use rug::Complete;
    use tokio_util::sync::CancellationToken;

    use super::*;

    /// The facts read off the full decimal expansion of `n!`.
    fn from_decimal(n: u64, s: &str) -> FactorialFacts {
        FactorialFacts {
            n,
            digits: len(s),
            trailing_zeros: len(s) - len(s.trim_end_matches('0')),
            leading_digits: s[..s.len().min(20)].to_owned(),
        }
    }

    /// The obvious way: multiply out `n!`, print it, read it.
    fn naive(n: u64) -> FactorialFacts {
        let mut f = Integer::from(1);
        for i in 2..=n {
            f *= i;
        }
        from_decimal(n, &f.to_string())
    }

    fn check(n: u64, digits: u64, trailing_zeros: u64, leading: Option<&str>) {
        let f = factorial_facts(n, &Ctl::default()).expect("not cancelled");
        assert_eq!(
            (f.n, f.digits, f.trailing_zeros),
            (n, digits, trailing_zeros)
        );
        assert_eq!(f.leading_digits.len() as u64, digits.min(20));
        if let Some(leading) = leading {
            assert_eq!(f.leading_digits, leading);
        }
    }

    #[test]
    fn known_values() {
        check(0, 1, 0, Some("1"));
        check(1, 1, 0, Some("1"));
        check(5, 3, 1, Some("120"));
        check(10, 7, 2, Some("3628800"));
        check(100, 158, 24, Some("93326215443944152681"));
        check(50_000, 213_237, 12_499, None);
        check(60_000, 260_635, 14_998, None);
        check(70_000, 308_760, 17_498, None);
        check(80_000, 357_507, 19_999, Some("30977222516622492863"));
        check(100_000, 456_574, 24_999, None);
        check(1_000_000, 5_565_709, 249_998, Some("82639316883312400623"));
    }

    #[test]
    #[ignore = "about 3 s at opt-level 3 with 2 cores"]
    fn ten_million() {
        check(10_000_000, 65_657_060, 2_499_999, None);
    }

    #[test]
    fn both_routes_match_naive_up_to_2000() {
        let ctl = Ctl::default();
        let mut f = Integer::from(1);
        for n in 0..=2000u64 {
            if n > 1 {
                f *= n;
            }
            let want = from_decimal(n, &f.to_string());
            assert_eq!(direct(n, &ctl), Ok(want.clone()), "direct, n = {n}");
            assert_eq!(by_division(n, &ctl), Ok(want), "division, n = {n}");
        }
    }

    #[test]
    fn odd_factorial_times_power_of_two_is_n_factorial() {
        let ctl = Ctl::default();
        for n in [0u64, 1, 2, 3, 64, 65, 1000, 8191, 8192, 8193, 40_000] {
            let got = odd_factorial(n, &ctl).expect("not cancelled") << to_usize(two_exponent(n));
            let n32 = u32::try_from(n).expect("small n");
            assert_eq!(got, Integer::factorial(n32).complete(), "n = {n}");
        }
    }

    #[test]
    fn split_mul_matches_plain_product() {
        let ctl = Ctl::default();
        let bits = 64 * SPLIT_MIN_WORDS as u32;
        let a = Integer::from(Integer::u_pow_u(3, bits / 3 * 2)) - 1u32;
        let b = Integer::from(Integer::u_pow_u(7, bits / 5 * 2)) + 1u32;
        let small = Integer::from(Integer::u_pow_u(5, 1000));
        for (x, y) in [(&a, &b), (&b, &a), (&a, &small)] {
            let want = Integer::from(x * y);
            assert_eq!(split_mul(x, y, &ctl), Ok(want));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn random_n_matches_naive(n in 0u64..=20_000) {
            prop_assert_eq!(factorial_facts(n, &Ctl::default()), Ok(naive(n)));
        }
    }

    #[test]
    fn cancelled_before_start_stops_at_once() {
        let token = CancellationToken::new();
        token.cancel();
        let ctl = Ctl::new(token);
        let start = Instant::now();
        assert_eq!(factorial_facts(DEFAULT_MAX_N, &ctl), Err(Stopped));
        assert_eq!(factorial_facts(3, &ctl), Err(Stopped));
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn cancelled_mid_run_stops_within_a_second() {
        let token = CancellationToken::new();
        let ctl = Ctl::new(token.clone());
        let worker = std::thread::spawn(move || {
            let result = factorial_facts(DEFAULT_MAX_N, &ctl);
            (result, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(100));
        let cancelled_at = Instant::now();
        token.cancel();
        let (result, stopped_at) = worker.join().expect("worker panicked");
        assert_eq!(result, Err(Stopped));
        let latency = stopped_at.duration_since(cancelled_at);
        assert!(latency < Duration::from_secs(1), "took {latency:?} to stop");
    }
}
