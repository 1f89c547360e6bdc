//! The fast route of `factorial`: `n!` and `5^m` enclosed between rigorous lower and upper
//! bounds of a few hundred bits, which fix `⌊n! / 10^m⌋`'s length and leading digits exactly
//! almost always, without the full product; when they do not, the caller falls back to the
//! exact route ([`super::exact`]).
//!
//! # Bounds
//!
//! A [`Lower`] bound of `x` is `M · 2^s ≤ x < M · 2^s · (1 + 2^-256)^d` (`x = M · 2^s` if
//! `d = 0`): each of the `d` truncations so far dropped low bits of a mantissa left with at
//! least 2^256 (it keeps 256 to 320 bits), so it lost less than one part in 2^256 of it.
//! Products of lower bounds are lower bounds whose `d` add up; with `d ≤ 2^255`,
//! `(1 + 2^-256)^d ≤ 1 + 2d · 2^-256` turns it into an upper bound ([`Lower::upper`]).
//!
//! - **`n!`**: the integers `2..=n`, several to a 64-bit word while they fit, multiplied into a
//!   five-limb mantissa ([`range_product`]) in parallel pieces whose bounds are multiplied.
//! - **`5^m`** by square-and-multiply on bounds.
//!
//! # Why it is exact
//!
//! With `10^m = 5^m · 2^m`, the two bounds give `q_lo ≤ n! / 10^m ≤ q_hi`, both computed by exact
//! integer floor divisions, so `q_lo ≤ ⌊n! / 10^m⌋ ≤ q_hi`. If `q_lo` and `q_hi` have the same
//! number `t ≥ 20` of digits and the same first 20, so has every integer between them: `n!` has
//! `m + t` digits (as in [`super::exact`]) and those leading digits. `m` is chosen so that `q`
//! has about 40 digits; the bounds differ by far less than one, so the test fails only if
//! digits 21 to 40 of `n!` are all 9s — the caller then computes the exact quotient.

use rayon::prelude::*;
use rug::Integer;
use rug::integer::Order;

use super::{FactorialFacts, LEADING, facts, log10_factorial};
use crate::{Ctl, Stopped};

/// Limbs of the mantissa of [`range_product`]: a truncation leaves at least four full limbs.
const LIMBS: usize = 5;
/// Bits a truncated mantissa keeps at least (2^-MIN_BITS bounds the relative loss of a drop).
const MIN_BITS: u32 = 256;
/// Bits [`Lower::truncate`] keeps.
const KEEP: u32 = 320;
/// Integers multiplied by one task of [`factorial_lower`], a few milliseconds of work.
const PIECE: u64 = 1 << 20;
/// Digits of `q` past the [`LEADING`] ones: the margin that makes the bounds agree.
const EXTRA: u64 = 20;

/// A lower bound `mant · 2^shift` of some `x`, with `x < mant · 2^shift · (1 + 2^-256)^drops`
/// (and `x = mant · 2^shift` when `drops` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lower {
    mant: Integer,
    shift: u64,
    drops: u64,
}

impl Lower {
    fn exact(x: u32) -> Self {
        Self {
            mant: Integer::from(x),
            shift: 0,
            drops: 0,
        }
    }

    /// A lower bound of the product of the numbers these bound.
    fn mul(&self, other: &Lower) -> Lower {
        let mut product = Lower {
            mant: Integer::from(&self.mant * &other.mant),
            shift: self.shift + other.shift,
            drops: self.drops + other.drops,
        };
        product.truncate();
        product
    }

    /// Drops all but the top [`KEEP`] bits of the mantissa, if it has more.
    fn truncate(&mut self) {
        let bits = self.mant.significant_bits();
        if bits > KEEP {
            self.mant >>= bits - KEEP;
            self.shift += u64::from(bits - KEEP);
            self.drops += 1;
        }
    }

    /// `U` with `x ≤ U · 2^shift`: `U = mant` if nothing was dropped; else, as
    /// `(1 + 2^-256)^d ≤ 1 + 2d · 2^-256` for `d ≤ 2^255` (far more drops than any factorial up
    /// to `u64::MAX` makes), `mant · (1 + 2d · 2^-256)` rounded up.
    fn upper(&self) -> Integer {
        if self.drops == 0 {
            return self.mant.clone();
        }
        let slack = Integer::from(&self.mant * self.drops) << 1u32 >> MIN_BITS;
        slack + &self.mant + 1u32
    }
}

/// The facts of `n!` from bounds, or `None` when the bounds do not settle them (the caller
/// then computes them exactly). Runs on the current rayon pool.
pub(super) fn facts_from_bounds(n: u64, ctl: &Ctl) -> Result<Option<FactorialFacts>, Stopped> {
    let guess = log10_factorial(n).floor() as u64 + 1;
    let mut m = guess.saturating_sub(LEADING + EXTRA);
    let (f, p) = rayon::join(|| factorial_lower(n, ctl), || pow5_lower(m));
    let (f, mut p) = (f?, p);
    let f_hi = f.upper();
    loop {
        ctl.check()?;
        // n! / 10^m lies in [f.mant / p_hi, f_hi / p.mant] · 2^k.
        let k = i128::from(f.shift) - i128::from(p.shift) - i128::from(m);
        let lo = scaled_div(&f.mant, &p.upper(), k).to_string();
        let hi = scaled_div(&f_hi, &p.mant, k).to_string();
        let t = hi.len() as u64;
        if t < LEADING && m > 0 {
            // The guess was too high: aim lower.
            m = m.saturating_sub(LEADING + EXTRA - t);
            p = pow5_lower(m);
            continue;
        }
        let settled = lo.len() == hi.len() && lo[..lo.len().min(20)] == hi[..hi.len().min(20)];
        return Ok(settled.then(|| facts(n, m + t, &lo)));
    }
}

/// `⌊num · 2^k / den⌋`, exactly.
fn scaled_div(num: &Integer, den: &Integer, k: i128) -> Integer {
    let shift = |k: i128| u32::try_from(k.unsigned_abs()).expect("shift within u32");
    if k >= 0 {
        Integer::from(num << shift(k)) / den
    } else {
        num / Integer::from(den << shift(k))
    }
}

/// A lower bound of `n!`, in parallel pieces of [`PIECE`] integers.
pub(super) fn factorial_lower(n: u64, ctl: &Ctl) -> Result<Lower, Stopped> {
    let pieces = n.div_ceil(PIECE);
    (0..pieces)
        .into_par_iter()
        .map(|i| {
            ctl.check()?;
            let a = (i * PIECE).max(2);
            let b = ((i + 1) * PIECE).min(n + 1);
            Ok(range_product(a, b))
        })
        .try_reduce(|| Lower::exact(1), |x, y| Ok(x.mul(&y)))
}

/// A lower bound of the product of the integers in `[a, b)` (all ≥ 1): as many of them to a
/// word as fit, each word multiplied into a [`LIMBS`]-limb mantissa that drops its lowest limb
/// when the product overflows it.
fn range_product(a: u64, b: u64) -> Lower {
    let mut limbs = [0u64; LIMBS];
    limbs[0] = 1;
    let (mut dropped, mut word) = (0u64, 1u64);
    for x in a..b {
        word = match word.checked_mul(x) {
            Some(w) => w,
            None => {
                dropped += u64::from(mul_limbs(&mut limbs, word));
                x
            }
        };
    }
    dropped += u64::from(mul_limbs(&mut limbs, word));
    Lower {
        mant: Integer::from_digits(&limbs, Order::Lsf),
        shift: 64 * dropped,
        drops: dropped,
    }
}

/// `limbs · w`, keeping the top [`LIMBS`] limbs; whether the lowest limb was dropped (then the
/// top limb is not zero: the mantissa kept is at least 2^256).
#[inline]
fn mul_limbs(limbs: &mut [u64; LIMBS], w: u64) -> bool {
    let mut carry = 0u64;
    for limb in limbs.iter_mut() {
        let p = u128::from(*limb) * u128::from(w) + u128::from(carry);
        *limb = p as u64;
        carry = (p >> 64) as u64;
    }
    if carry == 0 {
        return false;
    }
    limbs.copy_within(1.., 0);
    limbs[LIMBS - 1] = carry;
    true
}

/// A lower bound of `5^m`, by left-to-right square-and-multiply (a few dozen steps).
pub(super) fn pow5_lower(m: u64) -> Lower {
    let mut acc = Lower::exact(1);
    for bit in (0..u64::BITS - m.leading_zeros()).rev() {
        acc = acc.mul(&acc);
        if (m >> bit) & 1 == 1 {
            acc.mant *= 5u32;
            acc.truncate();
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rug::Complete;

    use super::*;

    /// Whether `b` bounds `x` as its type says.
    fn encloses(b: &Lower, x: &Integer) -> bool {
        let shift = u32::try_from(b.shift).expect("small shift");
        Integer::from(&b.mant << shift) <= *x && *x <= (b.upper() << shift)
    }

    #[test]
    fn factorial_bounds_enclose_n_factorial() {
        for n in [0u64, 1, 2, 20, 21, 100, 1000, 5000, 30_000] {
            let b = factorial_lower(n, &Ctl::default()).expect("not cancelled");
            let exact = Integer::factorial(u32::try_from(n).expect("small")).complete();
            assert!(encloses(&b, &exact), "n = {n}");
        }
    }

    #[test]
    fn truncations_keep_the_bounds_tight() {
        let b = factorial_lower(200_000, &Ctl::default()).expect("not cancelled");
        assert!(b.drops > 0 && b.mant.significant_bits() > MIN_BITS);
        let gap = b.upper() - &b.mant;
        assert!(gap.significant_bits() < b.mant.significant_bits() - 200);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn pow5_bounds_enclose_5_to_the_m(m in 0u64..20_000) {
            let exact = Integer::u_pow_u(5, u32::try_from(m).expect("small")).complete();
            prop_assert!(encloses(&pow5_lower(m), &exact));
        }

        #[test]
        fn range_products_enclose_the_product(a in 1u64..1 << 40, len in 0u64..300) {
            let exact = (a..a + len).fold(Integer::from(1), |acc, x| acc * x);
            prop_assert!(encloses(&range_product(a, a + len), &exact));
        }
    }
}
