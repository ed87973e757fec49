//! Kubernetes `resource.Quantity`: a fixed-point number with a unit suffix, as
//! used for CPU, memory and every other resource amount.
//!
//! Parsing, canonical formatting, rounding and comparison follow
//! k8s.io/apimachinery/pkg/api/resource exactly, including its less obvious
//! habits:
//!
//! - a value is kept only down to nano units, and a finer non-zero value is
//!   rounded away from zero ("0.9n" is "1n");
//! - a binary-suffixed value is capped, silently, at 2^63-1 ("9Ei" is 2^63-1),
//!   so a larger binary value made by arithmetic prints text ("16Ei") that
//!   reads back capped;
//! - a quantity remembers the kind of suffix it was written with and prints
//!   itself in canonical form for that kind ("1.5Gi" prints as "1536Mi");
//! - when apimachinery's fast parser keeps the input string as the quantity's
//!   text, so do we: "+1", "01" and "1E3" print back as written, while "1000m"
//!   prints as "1".
//!
//! The value is an exact integer count of nano units in an `i128`; no floating
//! point is involved. Deliberate differences from apimachinery:
//!
//! - a magnitude of 2^127 nano units (about 1.7e29) or more is rejected with
//!   [`QuantityError::OutOfRange`] where apimachinery keeps arbitrary
//!   precision; arithmetic past it is refused rather than wrapped;
//! - a decimal value at 10^21 or beyond prints with an exponent ("1000E" prints
//!   as "1e21") where some apimachinery releases print the wrong number ("1");
//!   binary values past "Ei" print as multiples of "Ei";
//! - [`Quantity::value`] and [`Quantity::milli_value`] saturate at the `i64`
//!   bounds where apimachinery's result is undefined, and always round away
//!   from zero; apimachinery does so only for values it holds as `int64`, and
//!   for negative values in its arbitrary-precision form rounds toward +inf,
//!   even flipping the sign ("-73931e-12" has a `MilliValue` of 1 there);
//! - an exponent beyond 32 bits is taken at face value (a large one is out of
//!   range, a small one rounds to "1n"), where apimachinery silently wraps it
//!   ("1e4294967299" is 1000 there);
//! - a JSON number with a fraction or exponent reaches us through serde as an
//!   `f64`, so "1e3" as a bare JSON number becomes "1k" (apimachinery keeps the
//!   exponent form) and digits beyond an `f64`'s 17 are lost. JSON strings,
//!   which is what every Kubernetes client sends, are exact.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Neg;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(test)]
mod tests;

/// The regular expression apimachinery quotes when a quantity is malformed.
pub const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
/// apimachinery caps binary-suffixed quantities at this many units (2^63-1).
const BINARY_CAP_NANOS: u128 = (i64::MAX as u128) * (NANOS_PER_UNIT as u128);
/// u128::MAX is below 10^39, so a magnitude of 39 integer digits or more
/// never fits.
const MAX_DIGITS: i64 = 39;

/// Why a string is not a quantity. Each variant names the input and carries
/// apimachinery's own wording, so a user sees what Kubernetes would tell them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape number-then-suffix (apimachinery's
    /// `ErrFormatWrong`).
    #[error("quantity {input:?}: quantities must match the regular expression '{QUANTITY_REGEX}'")]
    Format {
        /// The rejected input.
        input: String,
    },
    /// The number part has no digits where digits are required
    /// (apimachinery's `ErrNumeric`).
    #[error("quantity {input:?}: unable to parse numeric part of quantity")]
    Numeric {
        /// The rejected input.
        input: String,
    },
    /// The suffix is not one of n, u, m, k, M, G, T, P, E, Ki..Ei or an
    /// exponent (apimachinery's `ErrSuffix`).
    #[error("quantity {input:?}: unable to parse quantity's suffix")]
    Suffix {
        /// The rejected input.
        input: String,
    },
    /// The value is well formed but too large for Hive's exact representation
    /// (2^127 nano units, about 1.7e29).
    #[error("quantity {input:?}: magnitude must be below 2^127 nano units (about 1.7e29)")]
    OutOfRange {
        /// The rejected input.
        input: String,
    },
}

/// How a quantity prints itself: the kind of suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuantityFormat {
    /// Powers of ten written as an exponent, e.g. "12e6".
    DecimalExponent,
    /// Powers of 1024 written as Ki, Mi, Gi, Ti, Pi, Ei, e.g. "12Mi".
    BinarySI,
    /// Powers of 1000 written as n, u, m, k, M, G, T, P, E, e.g. "12M".
    #[default]
    DecimalSI,
}

impl QuantityFormat {
    /// apimachinery's name for the format ("DecimalSI", "BinarySI", "DecimalExponent").
    pub fn as_str(self) -> &'static str {
        match self {
            QuantityFormat::DecimalExponent => "DecimalExponent",
            QuantityFormat::BinarySI => "BinarySI",
            QuantityFormat::DecimalSI => "DecimalSI",
        }
    }
}

/// A Kubernetes resource quantity such as "500m", "1.5Gi" or "2".
///
/// Equality, ordering and hashing look at the value only: "1k" == "1000" ==
/// "1e3", as apimachinery's `Cmp` and `Equal` have it.
#[derive(Debug, Clone, Default)]
pub struct Quantity {
    /// The exact value in nano units; never `i128::MIN`, so negation is total.
    nanos: i128,
    format: QuantityFormat,
    /// The input text, kept exactly when apimachinery keeps it.
    original: Option<Box<str>>,
}

impl Quantity {
    /// Parses a quantity as apimachinery's `ParseQuantity` does. Surrounding
    /// whitespace is an error here (it is trimmed only when decoding JSON).
    pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
        parse(input)
    }

    /// `value` whole units, printed in `format` (apimachinery's `NewQuantity`).
    pub fn new(value: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANOS_PER_UNIT,
            format,
            original: None,
        }
    }

    /// `milli` thousandths of a unit, printed in `format` (apimachinery's
    /// `NewMilliQuantity`).
    pub fn from_milli(milli: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: i128::from(milli) * NANOS_PER_MILLI,
            format,
            original: None,
        }
    }

    /// An exact count of nano units, or `None` for `i128::MIN`, which has no
    /// negation and so is outside the representable range.
    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> Option<Quantity> {
        (nanos != i128::MIN).then_some(Quantity {
            nanos,
            format,
            original: None,
        })
    }

    /// The exact value in nano units.
    pub fn as_nanos(&self) -> i128 {
        self.nanos
    }

    /// The kind of suffix this quantity prints with.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1 as the value is negative, zero or positive.
    pub fn signum(&self) -> i32 {
        match self.nanos.cmp(&0) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    /// The value in whole units, rounded away from zero ("1.1" is 2, "-1.1" is
    /// -2), as apimachinery's `Value`; saturates at the `i64` bounds.
    pub fn value(&self) -> i64 {
        scaled_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded away from zero ("1n" is 1), as
    /// apimachinery's `MilliValue`; saturates at the `i64` bounds.
    pub fn milli_value(&self) -> i64 {
        scaled_away_from_zero(self.nanos, NANOS_PER_MILLI)
    }

    /// `self + other`, or `None` past the representable range. When `self` is
    /// zero the result takes `other`'s format, as apimachinery's `Add` does.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let nanos = self.nanos.checked_add(other.nanos)?;
        self.arithmetic_result(nanos, other)
    }

    /// `self - other`, or `None` past the representable range. When `self` is
    /// zero the result takes `other`'s format, as apimachinery's `Sub` does.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        let nanos = self.nanos.checked_sub(other.nanos)?;
        self.arithmetic_result(nanos, other)
    }

    fn arithmetic_result(&self, nanos: i128, other: &Quantity) -> Option<Quantity> {
        let format = if self.nanos == 0 {
            other.format
        } else {
            self.format
        };
        Quantity::from_nanos(nanos, format)
    }

    /// The canonical text for this value and format, ignoring any input text
    /// the quantity kept: what apimachinery's `CanonicalizeBytes` produces.
    pub fn canonical(&self) -> String {
        canonical(self.nanos, self.format)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    /// The negated value, in the same format (apimachinery's `Neg`).
    fn neg(self) -> Quantity {
        Quantity {
            nanos: -self.nanos,
            format: self.format,
            original: None,
        }
    }
}

impl Neg for &Quantity {
    type Output = Quantity;

    /// The negated value, in the same format (apimachinery's `Neg`).
    fn neg(self) -> Quantity {
        -self.clone()
    }
}

impl fmt::Display for Quantity {
    /// The quantity's text: the input as written when apimachinery would keep
    /// it, the canonical form otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.original {
            Some(text) => f.write_str(text),
            None => f.write_str(&self.canonical()),
        }
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        parse(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string (trimmed, as apimachinery's `UnmarshalJSON` trims), a
    /// number, or null (the zero quantity).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity string such as \"500m\" or \"1Gi\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        parse(v.trim()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        // `f64`'s Display is the shortest decimal that reads back as the same
        // float, with no exponent: the number the JSON text most likely spelled.
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }
}

/// `nanos / per`, rounded away from zero, saturated to `i64`.
fn scaled_away_from_zero(nanos: i128, per: i128) -> i64 {
    let quotient = nanos / per;
    let rounded = match (nanos % per).cmp(&0) {
        Ordering::Greater => quotient + 1,
        Ordering::Less => quotient - 1,
        Ordering::Equal => quotient,
    };
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

/// The pieces apimachinery's `parseQuantityString` splits a quantity into.
struct Scanned<'a> {
    positive: bool,
    /// Sign, integer and fraction digits exactly as written.
    value: &'a str,
    /// Integer digits without leading zeros, "0" when there are none.
    num: &'a str,
    /// Fraction digits as written.
    denom: &'a str,
    suffix: &'a str,
}

/// A faithful port of apimachinery's scanner; `None` is `ErrFormatWrong`.
fn scan(s: &str) -> Option<Scanned<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let zero = Scanned {
        positive: true,
        value: "0",
        num: "0",
        denom: "",
        suffix: "",
    };
    let mut positive = true;
    let mut pos = 0;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(Scanned { positive, ..zero });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Some(Scanned {
            positive,
            value: s,
            num: s.get(num_start..)?,
            ..zero
        });
    }
    let num = match s.get(num_start..pos)? {
        "" => "0",
        digits => digits,
    };
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = s.get(denom_start..pos)?;
        if pos >= end {
            return Some(Scanned {
                positive,
                value: s,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let value = s.get(..pos)?;
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return None;
    }
    Some(Scanned {
        positive,
        value,
        num,
        denom,
        suffix: s.get(suffix_start..)?,
    })
}

/// The base (2 or 10), exponent and format a suffix stands for.
fn interpret(suffix: &str) -> Option<(u32, i64, QuantityFormat)> {
    use QuantityFormat::{BinarySI, DecimalExponent, DecimalSI};
    let (base, exponent, format) = match suffix {
        "" => (10, 0, DecimalSI),
        "n" => (10, -9, DecimalSI),
        "u" => (10, -6, DecimalSI),
        "m" => (10, -3, DecimalSI),
        "k" => (10, 3, DecimalSI),
        "M" => (10, 6, DecimalSI),
        "G" => (10, 9, DecimalSI),
        "T" => (10, 12, DecimalSI),
        "P" => (10, 15, DecimalSI),
        "E" => (10, 18, DecimalSI),
        "Ki" => (2, 10, BinarySI),
        "Mi" => (2, 20, BinarySI),
        "Gi" => (2, 30, BinarySI),
        "Ti" => (2, 40, BinarySI),
        "Pi" => (2, 50, BinarySI),
        "Ei" => (2, 60, BinarySI),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            // Go's strconv.ParseInt and Rust's i64 parser accept the same
            // syntax here: an optional sign and decimal digits.
            (10, rest.parse::<i64>().ok()?, DecimalExponent)
        }
    };
    Some((base, exponent, format))
}

fn parse(input: &str) -> Result<Quantity, QuantityError> {
    let owned = || input.to_owned();
    if input.is_empty() {
        return Err(QuantityError::Format { input: owned() });
    }
    if input == "0" {
        return Ok(Quantity::default());
    }
    let scanned = scan(input).ok_or_else(|| QuantityError::Format { input: owned() })?;
    let (base, exponent, mut format) =
        interpret(scanned.suffix).ok_or_else(|| QuantityError::Suffix { input: owned() })?;
    let binary = base == 2;
    let (num, denom) = (scanned.num, scanned.denom);
    let denom_len = i64::try_from(denom.len()).unwrap_or(i64::MAX);
    let digit_count = i64::try_from(num.len() + denom.len()).unwrap_or(i64::MAX);

    // apimachinery takes an int64 fast path when the digits fit; only that path
    // may keep the input text, and only the other path caps and re-formats.
    let (precision, scale) = if binary {
        let precision = if denom.is_empty() {
            15 - i64::try_from(num.len()).unwrap_or(i64::MAX) - exponent * 3 / 10 - 1
        } else {
            -1
        };
        (precision, 0)
    } else {
        (18 - digit_count, exponent.saturating_sub(denom_len))
    };
    let fast = precision >= 0 && scale >= -9;

    let (exp10, bin_exp) = if binary {
        (-denom_len, u32::try_from(exponent).unwrap_or(0))
    } else {
        (exponent.saturating_sub(denom_len), 0)
    };
    let magnitude = magnitude_nanos(num, denom, exp10, bin_exp);
    let out_of_range = || QuantityError::OutOfRange { input: owned() };

    let mut original = None;
    let nanos = if fast {
        let nanos = magnitude.ok_or_else(out_of_range)?;
        if keeps_input_text(num, denom, binary, scale) {
            original = Some(input.into());
        }
        nanos
    } else {
        if !scanned.value.bytes().any(|c| c.is_ascii_digit()) {
            return Err(QuantityError::Numeric { input: owned() });
        }
        let nanos = match magnitude {
            Some(nanos) if !binary || nanos <= BINARY_CAP_NANOS => nanos,
            _ if binary => BINARY_CAP_NANOS,
            _ => return Err(out_of_range()),
        };
        if binary && nanos > 0 && nanos < NANOS_PER_UNIT as u128 {
            format = QuantityFormat::DecimalSI;
        }
        nanos
    };
    let nanos = i128::try_from(nanos).map_err(|_| out_of_range())?;
    Ok(Quantity {
        nanos: if scanned.positive { nanos } else { -nanos },
        format,
        original,
    })
}

/// apimachinery's rule for reusing the input as the quantity's text: the
/// digits are already in the canonical shape for their suffix.
fn keeps_input_text(num: &str, denom: &str, binary: bool, scale: i64) -> bool {
    if binary {
        // Binary fast-path inputs have at most 11 integer digits and no fraction.
        let value = num.parse::<u64>().unwrap_or(0);
        value & 0x07 != 0
    } else {
        let shifted = format!("{num}{denom}");
        scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
    }
}

/// The magnitude of `num.denom × 10^exp10 × 2^bin_exp` in nano units, rounded
/// away from zero; `None` when it does not fit in a `u128`.
fn magnitude_nanos(num: &str, denom: &str, exp10: i64, bin_exp: u32) -> Option<u128> {
    let mut digits: Vec<u8> = num
        .bytes()
        .chain(denom.bytes())
        .map(|c| c.wrapping_sub(b'0'))
        .skip_while(|&d| d == 0)
        .collect();
    // `e` is the power of ten that turns `digits` into nano units.
    let mut e = exp10.saturating_add(9);
    while digits.last() == Some(&0) {
        digits.pop();
        e = e.saturating_add(1);
    }
    if digits.is_empty() {
        return Some(0);
    }
    let len = |digits: &Vec<u8>| i64::try_from(digits.len()).unwrap_or(i64::MAX);
    if len(&digits).saturating_add(e) > MAX_DIGITS {
        return None;
    }
    if bin_exp > 0 {
        if len(&digits).saturating_add(e) < -20 {
            // Below 1e-20 nano units even 2^60 cannot lift it to one nano unit.
            return Some(1);
        }
        let mut remaining = bin_exp;
        while remaining > 0 {
            let step = remaining.min(10);
            multiply_digits(&mut digits, 1 << step);
            remaining -= step;
        }
    }
    let digit_len = len(&digits);
    if digit_len.saturating_add(e) > MAX_DIGITS {
        return None;
    }
    let (integer, fraction): (&[u8], &[u8]) = if e >= 0 {
        (&digits, &[])
    } else {
        let fraction_len = usize::try_from(e.unsigned_abs()).unwrap_or(usize::MAX);
        if fraction_len >= digits.len() {
            return Some(1);
        }
        digits.split_at(digits.len() - fraction_len)
    };
    let mut acc: u128 = 0;
    for &d in integer {
        acc = acc.checked_mul(10)?.checked_add(u128::from(d))?;
    }
    if e > 0 {
        acc = acc.checked_mul(10u128.checked_pow(u32::try_from(e).ok()?)?)?;
    }
    if fraction.iter().any(|&d| d != 0) {
        acc = acc.checked_add(1)?;
    }
    Some(acc)
}

/// Multiplies a big-endian decimal digit string by a small factor, in place.
fn multiply_digits(digits: &mut Vec<u8>, factor: u32) {
    let mut carry: u32 = 0;
    for d in digits.iter_mut().rev() {
        let product = u32::from(*d) * factor + carry;
        *d = (product % 10) as u8;
        carry = product / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// apimachinery's `CanonicalizeBytes`: no precision lost, no fractional
/// digits, the largest suffix possible.
fn canonical(nanos: i128, format: QuantityFormat) -> String {
    if nanos == 0 {
        return "0".to_owned();
    }
    let binary = format == QuantityFormat::BinarySI
        && nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT as u128
        && nanos % NANOS_PER_UNIT == 0;
    if binary {
        let mut mantissa = nanos / NANOS_PER_UNIT;
        let mut power = 0;
        // Past "Ei" there is no suffix; apimachinery would drop the exponent.
        while power < 6 && mantissa % 1024 == 0 {
            mantissa /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        return format!("{mantissa}{suffix}");
    }
    // Move factors of ten into the exponent, keeping it a multiple of three.
    let mut mantissa = nanos;
    let mut exponent: i32 = -9;
    while mantissa % 1000 == 0 {
        mantissa /= 1000;
        exponent += 3;
    }
    let suffix = match (format, exponent) {
        (QuantityFormat::DecimalExponent, 0) => String::new(),
        (QuantityFormat::DecimalExponent, _) => format!("e{exponent}"),
        (_, -9) => "n".to_owned(),
        (_, -6) => "u".to_owned(),
        (_, -3) => "m".to_owned(),
        (_, 0) => String::new(),
        (_, 3) => "k".to_owned(),
        (_, 6) => "M".to_owned(),
        (_, 9) => "G".to_owned(),
        (_, 12) => "T".to_owned(),
        (_, 15) => "P".to_owned(),
        (_, 18) => "E".to_owned(),
        // DecimalSI has no suffix past "E": fall back to an exponent rather
        // than print the wrong number.
        (_, _) => format!("e{exponent}"),
    };
    format!("{mantissa}{suffix}")
}
