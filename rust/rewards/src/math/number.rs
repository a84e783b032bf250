//! Exact numbers: rationals of any size (within [`MAX_BITS`]), decimal literals kept as written, and
//! the one tolerance rule by which a decimal approximation matches an exact value.
//!
//! Sizes are bounded so that a hostile answer (`10^{10^{10}}`, `99999!`) costs microseconds: an
//! operation whose result would need more than [`MAX_BITS`] bits gives `None` ("not exactly
//! computable"), and the caller falls back to comparing structure.

use num_bigint::{BigInt, Sign};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

pub type Q = BigRational;

/// Largest numerator or denominator computed exactly: 2^16384 ≈ 10^4932.
pub const MAX_BITS: u64 = 16_384;
/// Decimal digits a literal may have to be turned into an exact rational.
pub const MAX_DIGITS: usize = 4_900;
/// Relative difference within which a decimal approximation equals an exact value.
pub const RELATIVE_TOLERANCE: f64 = 1e-6;
/// 1 / (relative error of the last digits of a printed f64): 16-17 significant digits carry noise.
const PRINTED_DOUBLE_NOISE: i64 = 1_000_000_000_000_000;

fn fits(q: &Q) -> bool {
    q.numer().bits() <= MAX_BITS && q.denom().bits() <= MAX_BITS
}

fn checked(q: Q) -> Option<Q> {
    fits(&q).then_some(q)
}

pub fn integer(n: i64) -> Q {
    Q::from_integer(BigInt::from(n))
}

/// A decimal literal as written: digits before and after the point, and a power of ten (`1.5e-3`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal {
    /// All digits, leading zeros removed (`"0"` for zero).
    pub digits: String,
    /// How many of `digits` (counted from the right) follow the decimal point, after removing
    /// trailing zeros of the fraction: `2.50` -> digits "25", places 1.
    pub places: u32,
    /// Power of ten from scientific notation.
    pub exponent: i64,
    /// The literal had digits after its point that were not all zero (`0.5`, not `5.0`): it may be an
    /// approximation of an exact value.
    pub fractional: bool,
}

impl Decimal {
    /// `integer` and `fraction` are ASCII digit strings (either may be empty, not both).
    pub fn parse(integer: &str, fraction: &str, exponent: i64) -> Decimal {
        let fraction_trimmed = fraction.trim_end_matches('0');
        let mut digits: String = format!("{integer}{fraction_trimmed}")
            .trim_start_matches('0')
            .to_string();
        if digits.is_empty() {
            digits.push('0');
        }
        Decimal {
            places: fraction_trimmed.len() as u32,
            fractional: !fraction_trimmed.is_empty(),
            exponent,
            digits,
        }
    }

    /// The exact value, when small enough to compute.
    pub fn value(&self) -> Option<Q> {
        if self.digits.len() > MAX_DIGITS {
            return None;
        }
        let mantissa: BigInt = self.digits.parse().ok()?;
        let shift = self.exponent.checked_sub(i64::from(self.places))?;
        let scale = pow10(shift.unsigned_abs())?;
        checked(if shift >= 0 {
            Q::from_integer(mantissa * scale)
        } else {
            Q::new(mantissa, scale)
        })
    }

    /// Decimal places of the written value (`0.0833` -> 4, `1.5e-3` -> 4, `12` -> 0).
    pub fn written_places(&self) -> i64 {
        (i64::from(self.places) - self.exponent).max(0)
    }

    pub fn to_f64(&self) -> f64 {
        let text = format!("{}e{}", self.digits, self.exponent - i64::from(self.places));
        text.parse().unwrap_or(f64::NAN)
    }
}

fn pow10(n: u64) -> Option<BigInt> {
    // 10^n has about 3.33 n bits.
    (n.saturating_mul(10) / 3 <= MAX_BITS).then(|| num_traits::pow(BigInt::from(10), n as usize))
}

pub fn add(a: &Q, b: &Q) -> Option<Q> {
    checked(a + b)
}

pub fn mul(a: &Q, b: &Q) -> Option<Q> {
    checked(a * b)
}

pub fn div(a: &Q, b: &Q) -> Option<Q> {
    if b.is_zero() {
        return None;
    }
    checked(a / b)
}

/// `base^exponent` for a rational exponent: integer powers, and roots when the result is rational
/// (`8^{2/3}` = 4, `(9/4)^{1/2}` = 3/2); `None` when irrational, undefined or too large.
pub fn pow(base: &Q, exponent: &Q) -> Option<Q> {
    let (p, q) = (exponent.numer(), exponent.denom());
    let q = q.to_u32().filter(|q| *q <= 64)?;
    let rooted = if q == 1 { base.clone() } else { root(base, q)? };
    let p_abs = p.abs().to_u64()?;
    if rooted.is_zero() {
        return (p.sign() == Sign::Plus)
            .then(Q::zero)
            .or_else(|| p.is_zero().then(Q::one));
    }
    let bits = rooted.numer().bits().max(rooted.denom().bits());
    // |x|^n needs about n * bits(x) bits; 1 and -1 stay small whatever n is.
    if rooted.abs() != Q::one() && p_abs.saturating_mul(bits.saturating_sub(1).max(1)) > MAX_BITS {
        return None;
    }
    let powered = Q::new(
        num_traits::pow(rooted.numer().clone(), p_abs as usize),
        num_traits::pow(rooted.denom().clone(), p_abs as usize),
    );
    if p.sign() == Sign::Minus {
        div(&Q::one(), &powered)
    } else {
        checked(powered)
    }
}

/// The real `n`-th root when it is rational (odd roots of negatives included).
pub fn root(x: &Q, n: u32) -> Option<Q> {
    if n == 0 {
        return None;
    }
    if x.is_negative() {
        return if n % 2 == 1 {
            root(&-x, n).map(|r| -r)
        } else {
            None
        };
    }
    let exact_root = |v: &BigInt| {
        let r = v.nth_root(n);
        (num_traits::pow(r.clone(), n as usize) == *v).then_some(r)
    };
    Some(Q::new(exact_root(x.numer())?, exact_root(x.denom())?))
}

pub fn factorial(n: &Q) -> Option<Q> {
    if !n.is_integer() || n.is_negative() {
        return None;
    }
    let n = n.to_integer().to_u64().filter(|n| *n <= 1_500)?;
    let mut product = BigInt::one();
    for k in 2..=n {
        product *= k;
    }
    checked(Q::from_integer(product))
}

pub fn binomial(n: &Q, k: &Q) -> Option<Q> {
    if !n.is_integer() || !k.is_integer() {
        return None;
    }
    let (n, k) = (n.to_integer(), k.to_integer());
    if k.is_negative() || k > n || n.is_negative() {
        return Some(Q::zero());
    }
    let k = k.clone().min(&n - &k).to_u64().filter(|k| *k <= 5_000)?;
    let mut result = BigInt::one();
    for i in 0..k {
        result = result * (&n - i) / (i + 1);
        if result.bits() > MAX_BITS {
            return None;
        }
    }
    Some(Q::from_integer(result))
}

pub fn floor(x: &Q) -> Q {
    Q::from_integer(x.floor().to_integer())
}

pub fn ceil(x: &Q) -> Q {
    Q::from_integer(x.ceil().to_integer())
}

pub fn to_f64(q: &Q) -> f64 {
    q.to_f64().unwrap_or(f64::NAN)
}

/// The tolerance rule (see the module docs of `math`): does the decimal `approx`, written with
/// `places` decimal places, stand for the exact value `exact`? Within one unit of its last place
/// (rounded or truncated) and within a relative [`RELATIVE_TOLERANCE`].
pub fn decimal_approximates(approx: &Q, places: i64, exact: &Q) -> bool {
    let difference = (approx - exact).abs();
    if difference.is_zero() {
        return true;
    }
    // One unit in the last place, or the noise in the last digits of a printed double
    // (1.6363636363636365 for 18/11).
    let within_last_place = match pow10(places.unsigned_abs()) {
        Some(scale) => difference.clone() * Q::from_integer(scale) < Q::one(),
        None => false,
    } || difference.clone() * integer(PRINTED_DOUBLE_NOISE) <= exact.abs();
    // |d - v| <= 1e-6 |v|  <=>  10^6 |d - v| <= |v|
    within_last_place && (approx - exact).abs() * integer(1_000_000) <= exact.abs()
}

/// The same rule for an exact value known only as a float (a radical, π): `slack` covers the float's
/// own rounding.
pub fn decimal_approximates_f64(approx: f64, places: i64, exact: f64) -> bool {
    if !(approx.is_finite() && exact.is_finite()) {
        return false;
    }
    let difference = (approx - exact).abs();
    let slack = exact.abs().max(approx.abs()) / PRINTED_DOUBLE_NOISE as f64;
    let last_place = 10f64.powi(-(places.clamp(0, 300) as i32));
    difference < last_place + slack && difference <= RELATIVE_TOLERANCE * exact.abs() + slack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Q {
        let (i, f) = text.split_once('.').unwrap_or((text, ""));
        Decimal::parse(i, f, 0).value().unwrap()
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(q("2.50"), Q::new(5.into(), 2.into()));
        assert_eq!(
            Decimal::parse("1", "", 400).value(),
            pow(&integer(10), &integer(400))
        );
        assert_ne!(
            Decimal::parse("1", "", 400).value(),
            Decimal::parse("2", "", 400).value()
        );
        assert!(Decimal::parse("1", "", 100_000).value().is_none());
        assert!(!Decimal::parse("5", "00", 0).fractional);
    }

    #[test]
    fn powers_and_roots() {
        let two = integer(2);
        assert_ne!(pow(&two, &integer(1024)), pow(&two, &integer(1025)));
        assert_eq!(
            pow(&integer(8), &Q::new(2.into(), 3.into())),
            Some(integer(4))
        );
        assert_eq!(pow(&integer(2), &Q::new(1.into(), 2.into())), None);
        assert_eq!(root(&integer(-27), 3), Some(integer(-3)));
        assert!(pow(&integer(10), &integer(10_000_000_000)).is_none());
        assert_eq!(
            pow(&integer(-1), &integer(10_000_000_001)),
            Some(integer(-1))
        );
        assert_eq!(pow(&integer(0), &integer(-1)), None);
    }

    #[test]
    fn factorials_and_binomials_are_bounded() {
        assert_eq!(factorial(&integer(5)), Some(integer(120)));
        assert!(factorial(&integer(99_999)).is_none());
        assert_eq!(binomial(&integer(10), &integer(3)), Some(integer(120)));
    }

    #[test]
    fn tolerance_rule() {
        let twelfth = Q::new(1.into(), 12.into());
        assert!(decimal_approximates(&q("0.0833333333333333"), 16, &twelfth));
        assert!(!decimal_approximates(&q("0.083"), 3, &twelfth));
        let third = Q::new(1.into(), 3.into());
        assert!(decimal_approximates(&q("0.333333"), 6, &third));
        assert!(!decimal_approximates(&q("0.33333"), 5, &third));
        // one unit in the last place: a rounded integer is not "close" to a decimal gold
        assert!(!decimal_approximates(
            &q("5866608.1"),
            1,
            &integer(5_866_608)
        ));
        let eighteen_elevenths = Q::new(18.into(), 11.into());
        assert!(decimal_approximates(
            &q("1.6363636363636365"),
            16,
            &eighteen_elevenths
        ));
        assert!(decimal_approximates_f64(
            4.123105625617661,
            15,
            17f64.sqrt()
        ));
        assert!(!decimal_approximates_f64(1.414, 3, 2f64.sqrt()));
    }
}
