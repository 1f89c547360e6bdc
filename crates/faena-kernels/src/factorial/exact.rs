//! The exact route of `factorial`: `n!` multiplied out in full (its odd part, really), for small
//! `n` printed, for large `n` divided exactly by a power of ten. The fallback of the fast route
//! ([`super::bounds`]), and the reference it is tested against.
//!
//! # Method
//!
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

use super::{FactorialFacts, LEADING, facts, len, log10_factorial};
use crate::{Ctl, Stopped};

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

/// Prints `n!` in full and reads the facts off the string.
pub(super) fn direct(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
    let full = odd_factorial(n, ctl)? << to_usize(two_exponent(n));
    let s = full.to_string();
    Ok(facts(n, len(&s), &s))
}

/// Computes `q = ⌊n! / 10^m⌋` for a guessed `m` and reads the facts off `q` (see module doc).
pub(super) fn by_division(n: u64, ctl: &Ctl) -> Result<FactorialFacts, Stopped> {
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

/// Exponent of 2 in `n!` (Legendre's formula in closed form).
fn two_exponent(n: u64) -> u64 {
    n - u64::from(n.count_ones())
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

/// Lossless on the 64-bit targets this module is restricted to (asserted above).
fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use rug::Complete;

    use super::*;

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
}
