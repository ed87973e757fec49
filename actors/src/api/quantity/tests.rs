//! Tests for [`Quantity`]: apimachinery's own cases and quirks, arithmetic,
//! serde, and seeded runs of random and garbage input.

use std::collections::hash_map::DefaultHasher;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use QuantityFormat::{BinarySI, DecimalExponent, DecimalSI};

fn q(s: &str) -> Quantity {
    match Quantity::parse(s) {
        Ok(q) => q,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

/// Input, printed text, milli value and format, drawn from apimachinery's
/// quantity_test.go (TestQuantityParse, TestQuantityParseEmit, TestParseQuantity)
/// and checked against apimachinery itself. Rows marked "saturated" are where
/// apimachinery's `MilliValue` overflows `int64` (its result is undefined there).
const PARSE_TABLE: &[(&str, &str, i64, QuantityFormat)] = &[
    ("0", "0", 0, DecimalSI),
    ("0n", "0", 0, DecimalSI),
    ("0Ki", "0", 0, BinarySI),
    ("1", "1", 1000, DecimalSI),
    ("1Ki", "1Ki", 1024000, BinarySI),
    ("8Ki", "8Ki", 8192000, BinarySI),
    ("7Mi", "7Mi", 7340032000, BinarySI),
    ("6Gi", "6Gi", 6442450944000, BinarySI),
    ("5Ti", "5Ti", 5497558138880000, BinarySI),
    ("4Pi", "4Pi", 4503599627370496000, BinarySI),
    ("3Ei", "3Ei", i64::MAX, BinarySI), // saturated
    ("10Ti", "10Ti", 10995116277760000, BinarySI),
    ("100Ti", "100Ti", 109951162777600000, BinarySI),
    ("5n", "5n", 1, DecimalSI),
    ("4u", "4u", 1, DecimalSI),
    ("3m", "3m", 3, DecimalSI),
    ("9", "9", 9000, DecimalSI),
    ("8k", "8k", 8000000, DecimalSI),
    ("50k", "50k", 50000000, DecimalSI),
    ("7M", "7M", 7000000000, DecimalSI),
    ("6G", "6G", 6000000000000, DecimalSI),
    ("5T", "5T", 5000000000000000, DecimalSI),
    ("40T", "40T", 40000000000000000, DecimalSI),
    ("300T", "300T", 300000000000000000, DecimalSI),
    ("2P", "2P", 2000000000000000000, DecimalSI),
    ("1E", "1E", i64::MAX, DecimalSI), // saturated
    ("1E-3", "1E-3", 1, DecimalExponent),
    ("1e3", "1e3", 1000000, DecimalExponent),
    ("1E6", "1E6", 1000000000, DecimalExponent),
    ("1e9", "1e9", 1000000000000, DecimalExponent),
    ("1E12", "1E12", 1000000000000000, DecimalExponent),
    ("1e15", "1e15", 1000000000000000000, DecimalExponent),
    ("1E18", "1E18", i64::MAX, DecimalExponent), // saturated
    ("1e14", "100e12", 100000000000000000, DecimalExponent),
    ("1e13", "10e12", 10000000000000000, DecimalExponent),
    ("100.035k", "100.035k", 100035000, DecimalSI),
    ("0.001", "1m", 1, DecimalSI),
    ("0.0005k", "500m", 500, DecimalSI),
    ("0.005", "5m", 5, DecimalSI),
    ("0.05", "50m", 50, DecimalSI),
    ("0.5", "500m", 500, DecimalSI),
    ("0.00050k", "500m", 500, DecimalSI),
    ("0.5e0", "500e-3", 500, DecimalExponent),
    ("0.5e-1", "50e-3", 50, DecimalExponent),
    ("0.5e-2", "5e-3", 5, DecimalExponent),
    ("10.035M", "10.035M", 10035000000, DecimalSI),
    ("1.2e3", "1200", 1200000, DecimalExponent),
    ("1.3E+6", "1300e3", 1300000000, DecimalExponent),
    ("1.40e9", "1400e6", 1400000000000, DecimalExponent),
    ("1.53E12", "1530e9", 1530000000000000, DecimalExponent),
    ("1.6e15", "1600e12", 1600000000000000000, DecimalExponent),
    ("1.7E18", "1700e15", i64::MAX, DecimalExponent), // saturated
    ("9.01", "9010m", 9010, DecimalSI),
    ("8.1k", "8100", 8100000, DecimalSI),
    ("7.123456M", "7.123456M", 7123456000, DecimalSI),
    ("6.987654321G", "6.987654321G", 6987654321000, DecimalSI),
    ("5.444T", "5.444T", 5444000000000000, DecimalSI),
    ("40.1T", "40100G", 40100000000000000, DecimalSI),
    ("300.2T", "300200G", 300200000000000000, DecimalSI),
    ("2.5P", "2500T", 2500000000000000000, DecimalSI),
    ("1.01E", "1010P", i64::MAX, DecimalSI), // saturated
    ("3.001n", "4n", 1, DecimalSI),
    ("1.1E-9", "2e-9", 1, DecimalExponent),
    ("0.0000000001", "1n", 1, DecimalSI),
    ("0.0000000005", "1n", 1, DecimalSI),
    ("0.5e-9", "1e-9", 1, DecimalExponent),
    ("0.9n", "1n", 1, DecimalSI),
    ("0.00000012345", "124n", 1, DecimalSI),
    ("0.00000012354", "124n", 1, DecimalSI),
    ("9Ei", "9223372036854775807", i64::MAX, BinarySI), // saturated
    (
        "9223372036854775807Ki",
        "9223372036854775807",
        i64::MAX,
        BinarySI,
    ), // saturated
    ("12E", "12E", i64::MAX, DecimalSI),                // saturated
    ("100.035Ki", "102435840m", 102435840, BinarySI),
    ("0.5Mi", "512Ki", 524288000, BinarySI),
    ("0.05Gi", "53687091200m", 53687091200, BinarySI),
    ("0.025Ti", "27487790694400m", 27487790694400, BinarySI),
    ("0.000000000001Ki", "2n", 1, DecimalSI),
    (".001", "1m", 1, DecimalSI),
    (".0001k", "100m", 100, DecimalSI),
    ("1.", "1.", 1000, DecimalSI),
    ("1.G", "1.G", 1000000000000, DecimalSI),
    ("1024Mi", "1Gi", 1073741824000, BinarySI),
    ("1000M", "1G", 1000000000000, DecimalSI),
    (".001Ki", "1024m", 1024, BinarySI),
    (".000001Ki", "1024u", 2, DecimalSI),
    (".000000001Ki", "1024n", 1, DecimalSI),
    ("1000m", "1", 1000, DecimalSI),
    ("1.5Gi", "1536Mi", 1610612736000, BinarySI),
    ("1536Mi", "1536Mi", 1610612736000, BinarySI),
    ("1.5", "1500m", 1500, DecimalSI),
    ("-1.5", "-1500m", -1500, DecimalSI),
    ("+1", "+1", 1000, DecimalSI),
    ("01", "01", 1000, DecimalSI),
    ("1E3", "1E3", 1000000, DecimalExponent),
    (
        "999999999999999999.1",
        "999999999999999999100m",
        i64::MAX,
        DecimalSI,
    ), // saturated
    (
        "9999999999999999999000m",
        "9999999999999999999",
        i64::MAX,
        DecimalSI,
    ), // saturated
    (
        "1.0000000000000000001E",
        "1000000000000000000100m",
        i64::MAX,
        DecimalSI,
    ), // saturated
    ("-10.0E", "-10E", i64::MIN, DecimalSI), // saturated
    ("-1.0E", "-1E", i64::MIN, DecimalSI),   // saturated
    (
        "10000000000000000000.1",
        "10000000000000000000100m",
        i64::MAX,
        DecimalSI,
    ), // saturated
    ("0.5Ki", "512", 512000, BinarySI),
    ("-0.5Mi", "-512Ki", -524288000, BinarySI),
    ("1.1Ki", "1126400m", 1126400, BinarySI),
    ("2Ki", "2Ki", 2048000, BinarySI),
    ("-1.1e-3", "-1100e-6", -2, DecimalExponent),
    ("Ki", "0", 0, BinarySI),
    (".", "0", 0, DecimalSI),
];

/// Every apimachinery table case parses to apimachinery's printed text, milli
/// value and format.
#[test]
fn parsing_apimachinery_cases_gives_their_text_milli_value_and_format() {
    for &(input, text, milli, format) in PARSE_TABLE {
        let parsed = q(input);
        assert_eq!(parsed.to_string(), text, "text of {input:?}");
        assert_eq!(parsed.milli_value(), milli, "milli value of {input:?}");
        assert_eq!(parsed.format(), format, "format of {input:?}");
    }
}

/// A leading '-' negates the value and a leading '+' keeps it, without changing
/// the format (apimachinery's "negative version of everything").
#[test]
fn signing_a_table_input_negates_or_keeps_its_value_and_format() {
    for &(input, _, _, format) in PARSE_TABLE {
        if input.starts_with(['-', '+']) {
            continue;
        }
        let plain = q(input);
        let negative = q(&format!("-{input}"));
        let positive = q(&format!("+{input}"));
        assert_eq!(negative.as_nanos(), -plain.as_nanos(), "-{input}");
        assert_eq!(negative.format(), format, "-{input}");
        assert_eq!(positive, plain, "+{input}");
        assert_eq!(positive.format(), format, "+{input}");
    }
}

/// Printing a quantity and parsing the text gives back the same value, and the
/// canonical text is a fixed point.
#[test]
fn printed_text_parses_back_to_the_same_value() {
    for &(input, _, _, _) in PARSE_TABLE {
        let parsed = q(input);
        assert_eq!(q(&parsed.to_string()), parsed, "{input:?}");
        let canonical = parsed.canonical();
        assert_eq!(q(&canonical).canonical(), canonical, "{input:?}");
    }
}

/// Malformed strings are rejected with apimachinery's reason, and the error
/// message names the input.
#[test]
fn malformed_strings_are_rejected_with_apimachinery_reason_naming_the_input() {
    let format = |s: &str| QuantityError::Format { input: s.into() };
    let suffix = |s: &str| QuantityError::Suffix { input: s.into() };
    let numeric = |s: &str| QuantityError::Numeric { input: s.into() };
    let cases = [
        ("", format("")),
        ("1.2.3", format("1.2.3")),
        ("abc", format("abc")),
        ("aoeu", format("aoeu")),
        ("5 Mi", format("5 Mi")),
        ("1Kb", format("1Kb")),
        (" 1", format(" 1")),
        ("1 ", format("1 ")),
        ("1.1.M", format("1.1.M")),
        ("1+1.0M", format("1+1.0M")),
        ("0.1am", format("0.1am")),
        ("-3.01e-", suffix("-3.01e-")),
        ("--1", suffix("--1")),
        ("1K", suffix("1K")),
        ("0.1mi", suffix("0.1mi")),
        (".5i", suffix(".5i")),
        ("1i", suffix("1i")),
        ("-3.01i", suffix("-3.01i")),
        ("1ee3", suffix("1ee3")),
        ("1e99999999999999999999", suffix("1e99999999999999999999")),
        // apimachinery's slow path needs a digit; its fast path does not
        // ("Ki" parses as zero).
        ("Pi", numeric("Pi")),
        ("Ei", numeric("Ei")),
        (".e-10", numeric(".e-10")),
    ];
    for (input, expected) in cases {
        let err = Quantity::parse(input).expect_err(input);
        assert_eq!(err, expected, "{input:?}");
        assert!(err.to_string().contains(&format!("{input:?}")), "{err}");
    }
    assert_eq!(
        format("1.2.3").to_string(),
        "quantity \"1.2.3\": quantities must match the regular expression \
         '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

/// Decimal magnitudes of 2^127 nano units or more are refused as out of range,
/// never wrapped; just below the bound they are exact.
#[test]
fn decimal_values_beyond_i128_nano_units_are_out_of_range() {
    for input in [
        "1e30",
        "-1e30",
        "170141183460469231731687303715.884105728",
        "1e100",
    ] {
        assert_eq!(
            Quantity::parse(input),
            Err(QuantityError::OutOfRange {
                input: input.into()
            }),
            "{input}"
        );
    }
    let max = q("170141183460469231731687303715.884105727");
    assert_eq!(max.as_nanos(), i128::MAX);
    assert_eq!(max.to_string(), "170141183460469231731687303715884105727n");
    assert_eq!(
        q("-170141183460469231731687303715884105727n").as_nanos(),
        -i128::MAX
    );
    // Zero stays zero however large its exponent.
    assert!(q("0e99999").is_zero());
    // Exponents past 32 bits are taken at face value, not wrapped.
    assert!(matches!(
        Quantity::parse("1e4294967299"),
        Err(QuantityError::OutOfRange { .. })
    ));
    assert_eq!(q("1e-4294967299").as_nanos(), 1);
}

/// Quantities built in code print exactly as apimachinery's TestQuantityString
/// expects, and their negations print with a leading '-'.
#[test]
fn values_built_in_code_print_in_apimachinery_canonical_form() {
    const N: i128 = 1_000_000_000;
    let cases: &[(i128, QuantityFormat, &str)] = &[
        (1024 * 1024 * 1024 * N, BinarySI, "1Gi"),
        (300 * 1024 * 1024 * N, BinarySI, "300Mi"),
        (6 * 1024 * N, BinarySI, "6Ki"),
        (1001 * 1024 * 1024 * 1024 * N, BinarySI, "1001Gi"),
        (1024 * 1024 * 1024 * 1024 * N, BinarySI, "1Ti"),
        (5 * N, BinarySI, "5"),
        (500_000_000, BinarySI, "500m"),
        (N * N, DecimalSI, "1G"),
        (1_000_000, DecimalSI, "1m"),
        (80_000_000, DecimalSI, "80m"),
        (1_080_000_000, DecimalSI, "1080m"),
        (300_000_000 * N, DecimalSI, "300M"),
        (1_000_000_000_000 * N, DecimalSI, "1T"),
        (1_234_567_000_000 * N, DecimalSI, "1234567M"),
        (1_234_567_000_000, BinarySI, "1234567m"),
        (3000 * N, DecimalSI, "3k"),
        (1025 * N, BinarySI, "1025"),
        (0, DecimalSI, "0"),
        (0, BinarySI, "0"),
        (0, DecimalExponent, "0"),
        (N * N, DecimalExponent, "1e9"),
        (1_000_000, DecimalExponent, "1e-3"),
        (1, DecimalExponent, "1e-9"),
        (80_000_000, DecimalExponent, "80e-3"),
        (300_000_000 * N, DecimalExponent, "300e6"),
        (1_000_000_000_000 * N, DecimalExponent, "1e12"),
        (1000 * N, DecimalExponent, "1e3"),
        (3000 * N, DecimalExponent, "3e3"),
        (1, DecimalSI, "1n"),
        (80, DecimalSI, "80n"),
        (1080, DecimalSI, "1080n"),
        (1000, DecimalSI, "1u"),
        (80_000, DecimalSI, "80u"),
        (1_080_000, DecimalSI, "1080u"),
    ];
    for &(nanos, format, text) in cases {
        let Some(value) = Quantity::from_nanos(nanos, format) else {
            panic!("{nanos} is representable");
        };
        assert_eq!(value.to_string(), text, "{nanos} {format:?}");
        if nanos != 0 {
            assert_eq!((-value).to_string(), format!("-{text}"), "-{nanos}");
        }
    }
}

/// Non-canonical spellings print in canonical form (apimachinery's
/// TestQuantityString alternates and TestQuantityParseEmit), negated too.
#[test]
fn non_canonical_spellings_print_canonically() {
    let cases = [
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("5000m", "5"),
        ("0.5", "500m"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
    ];
    for (input, text) in cases {
        assert_eq!(q(input).to_string(), text, "{input}");
        if !q(input).is_zero() {
            assert_eq!(q(&format!("-{input}")).to_string(), format!("-{text}"));
        }
    }
}

/// Where apimachinery's fast parser keeps the input as the quantity's text, so
/// do we ("+1", "01", "1.", "1E3", "100.035k"); `canonical` ignores it, and
/// arithmetic drops it.
#[test]
fn input_text_is_kept_exactly_where_apimachinery_keeps_it() {
    let kept = [
        ("+1", "1"),
        ("01", "1"),
        ("1.", "1"),
        ("1.G", "1G"),
        ("1E3", "1e3"),
        ("1e+3", "1e3"),
        ("1e03", "1e3"),
        ("100.035k", "100035"),
        ("+3Ki", "3Ki"),
        ("007Mi", "7Mi"),
    ];
    for (input, canonical) in kept {
        let parsed = q(input);
        assert_eq!(parsed.to_string(), input);
        assert_eq!(parsed.canonical(), canonical, "{input}");
        let zero = Quantity::default();
        let sum = parsed.checked_add(&zero).expect("in range");
        assert_eq!(sum.to_string(), canonical, "{input} + 0");
    }
    for (input, text) in [
        ("1000m", "1"),
        ("8Ki", "8Ki"),
        ("1024Ki", "1Mi"),
        ("+1000", "1k"),
    ] {
        assert_eq!(q(input).to_string(), text, "{input}");
    }
}

/// `value` and `milli_value` round away from zero, as apimachinery's int64
/// path does, and saturate instead of overflowing.
#[test]
fn value_and_milli_value_round_away_from_zero_and_saturate() {
    let cases = [
        ("0", 0, 0),
        ("1.1", 2, 1100),
        ("-1.1", -2, -1100),
        ("1n", 1, 1),
        ("-1n", -1, -1),
        ("999m", 1, 999),
        ("1.5m", 1, 2),
        ("-1.5m", -1, -2),
        ("2Ki", 2048, 2_048_000),
        ("1e20", i64::MAX, i64::MAX),
        ("-1e20", i64::MIN, i64::MIN),
        ("9223372036854775807", i64::MAX, i64::MAX),
        ("9223372036854775.807", 9_223_372_036_854_776, i64::MAX),
    ];
    for (input, value, milli) in cases {
        assert_eq!(q(input).value(), value, "value of {input}");
        assert_eq!(q(input).milli_value(), milli, "milli value of {input}");
    }
}

/// Equality, ordering and hashing compare values only, whatever the suffix or
/// kept text (apimachinery's Cmp cases included).
#[test]
fn comparison_equality_and_hashing_use_the_value_only() {
    let hash = |x: &Quantity| {
        let mut h = DefaultHasher::new();
        x.hash(&mut h);
        h.finish()
    };
    for group in [
        ["1k", "1000", "1e3", "+1000.000"],
        ["1Ki", "1024", "1.024k", "0.0009765625Mi"],
    ] {
        for a in group {
            for b in group {
                assert_eq!(q(a), q(b), "{a} == {b}");
                assert_eq!(hash(&q(a)), hash(&q(b)), "hash {a} == {b}");
            }
        }
    }
    assert!(q("100m") > q("50m"));
    assert!(q("50m") < q("100m"));
    assert!(q("10000T") > q("100Gi"));
    assert!(q("-1") < q("0"));
    assert_eq!(q("0").cmp(&q("-0")), Ordering::Equal);
    assert_eq!(q("1Mi").signum(), 1);
    assert_eq!(q("-1n").signum(), -1);
    assert_eq!(q("0Ki").signum(), 0);
}

/// Addition and subtraction are exact; a zero left side takes the right side's
/// format, as in apimachinery's TestAdd, TestSub and the zero-suffix tests.
#[test]
fn adding_and_subtracting_follow_apimachinery_formats() {
    let add = |a: &Quantity, b: &Quantity| a.checked_add(b).expect("in range");
    let sub = |a: &Quantity, b: &Quantity| a.checked_sub(b).expect("in range");
    let ten = Quantity::new(10, DecimalSI);
    let ten_bin = Quantity::new(10, BinarySI);
    let one_bin = Quantity::new(1, BinarySI);
    let zero = Quantity::default();
    assert_eq!(add(&ten, &ten), Quantity::new(20, DecimalSI));
    assert_eq!(add(&ten, &one_bin).format(), DecimalSI);
    assert_eq!(
        add(&ten_bin, &Quantity::new(1, DecimalSI)).format(),
        BinarySI
    );
    assert_eq!(sub(&ten, &ten), zero);
    assert_eq!(sub(&ten_bin, &Quantity::new(1, DecimalSI)).to_string(), "9");
    assert_eq!(sub(&zero, &Quantity::new(50, DecimalSI)).to_string(), "-50");
    for text in ["100m", "1Gi"] {
        assert_eq!(add(&q(text), &zero).to_string(), text);
        assert_eq!(add(&zero, &q(text)).to_string(), text);
        assert_eq!(sub(&q(text), &zero).to_string(), text);
        assert_eq!(sub(&zero, &q(text)).to_string(), (-q(text)).to_string());
    }
    assert_eq!(add(&q("1.5Gi"), &q("512Mi")).to_string(), "2Gi");
    assert_eq!(sub(&q("1"), &q("1n")).to_string(), "999999999n");
}

/// Arithmetic past the representable range returns `None` instead of
/// wrapping or panicking.
#[test]
fn arithmetic_past_the_range_returns_none() {
    let max = Quantity::from_nanos(i128::MAX, DecimalSI).expect("max is representable");
    let min = -&max;
    assert!(max.checked_add(&q("1n")).is_none());
    assert!(min.checked_sub(&q("1n")).is_none());
    assert!(min.checked_sub(&max).is_none());
    assert!(Quantity::from_nanos(i128::MIN, DecimalSI).is_none());
    assert_eq!(max.checked_sub(&max), Some(Quantity::default()));
}

/// Negation flips the value, keeps the format, and prints canonically
/// (apimachinery's TestQuantityNeg); double negation is the identity.
#[test]
fn negation_flips_the_value_and_keeps_the_format() {
    assert_eq!((-q("9.01")).to_string(), "-9010m");
    assert_eq!((-q("-1Ki")).to_string(), "1Ki");
    assert_eq!((-q("+1")).to_string(), "-1");
    assert_eq!((-q("1Mi")).format(), BinarySI);
    for &(input, _, _, _) in PARSE_TABLE {
        assert_eq!(-(-q(input)), q(input), "{input}");
    }
}

/// Binary-suffixed values are capped at 2^63-1 units, silently, as
/// apimachinery caps them; decimal ones are not.
#[test]
fn binary_values_are_capped_at_two_to_the_63_units() {
    for input in [
        "8Ei",
        "9Ei",
        "9223372036854775807Ki",
        "99999999999999999999999999999999999999999Ki",
    ] {
        let capped = q(input);
        assert_eq!(capped.value(), i64::MAX, "{input}");
        assert_eq!(
            capped.as_nanos(),
            i128::from(i64::MAX) * 1_000_000_000,
            "{input}"
        );
        assert_eq!(capped.format(), BinarySI);
        assert_eq!(q(&format!("-{input}")).value(), -i64::MAX, "-{input}");
    }
    assert_eq!(q("7Ei").to_string(), "7Ei");
    assert_eq!(q("9223372036854775808").to_string(), "9223372036854775808");
}

/// A decimal value at 10^21 or more prints with an exponent rather than the
/// wrong number some apimachinery releases print ("1000E" once printed "1");
/// binary values past Ei print as multiples of Ei.
#[test]
fn values_past_the_largest_suffix_still_print_their_value() {
    assert_eq!(q("1000E").to_string(), "1e21");
    assert_eq!(q("-1000000E").to_string(), "-1e24");
    assert_eq!(q("12E").to_string(), "12E");
    assert_eq!(q("1000E").format(), DecimalSI);
    let eight_ei = Quantity::from_nanos((8i128 << 60) * 1_000_000_000, BinarySI).expect("ok");
    assert_eq!(eight_ei.to_string(), "8Ei");
    let sixteen_ei = eight_ei.checked_add(&eight_ei).expect("in range");
    assert_eq!(sixteen_ei.to_string(), "16Ei");
    let big = Quantity::from_nanos((1i128 << 70) * 1_000_000_000, BinarySI).expect("in range");
    assert_eq!(big.to_string(), "1024Ei");
    for text in ["1e21", "-1e24"] {
        assert_eq!(q(text).to_string(), text);
    }
    // As in apimachinery, binary text past the cap reads back capped.
    assert_eq!(q("1024Ei").value(), i64::MAX);
}

/// `new` and `from_milli` print as apimachinery's NewQuantity and
/// NewMilliQuantity results do, and read back to the same number.
#[test]
fn constructors_print_like_apimachinery_constructors() {
    let whole = [
        (1, DecimalSI, "1"),
        (1000, DecimalSI, "1k"),
        (1_234_000, DecimalSI, "1234k"),
        (1024, BinarySI, "1Ki"),
        (1_000_000, DecimalExponent, "1e6"),
        (1024 * 1024, BinarySI, "1Mi"),
    ];
    for (value, format, text) in whole {
        let built = Quantity::new(value, format);
        assert_eq!(built.to_string(), text);
        assert_eq!(q(text).value(), value);
    }
    let milli = [
        (1, DecimalSI, "1m"),
        (1000, DecimalSI, "1"),
        (1_234_000, DecimalSI, "1234"),
        (1024, BinarySI, "1024m"),
        (1_000_000, DecimalExponent, "1e3"),
        (1024 * 1024, BinarySI, "1048576m"),
    ];
    for (value, format, text) in milli {
        let built = Quantity::from_milli(value, format);
        assert_eq!(built.to_string(), text);
        assert_eq!(q(text).milli_value(), value);
    }
}

/// Serialization writes the text as a JSON string; deserialization reads
/// strings (trimmed, as apimachinery trims), integers, fractions and null.
#[test]
fn serde_writes_a_string_and_reads_strings_numbers_and_null() {
    let to_json = |x: &Quantity| serde_json::to_string(x).expect("serializes");
    let from_json = |s: &str| -> Quantity {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s} should deserialize: {e}"))
    };
    assert_eq!(to_json(&q("1.5Gi")), "\"1536Mi\"");
    assert_eq!(to_json(&q("+1")), "\"+1\"");
    let cases = [
        ("\"1536Mi\"", "1536Mi"),
        ("\" 1\"", "1"),
        ("\"1 \"", "1"),
        ("1", "1"),
        (" 1", "1"),
        ("1 ", "1"),
        ("10", "10"),
        ("-1", "-1"),
        (" -1", "-1"),
        ("0.5", "500m"),
        ("18446744073709551615", "18446744073709551615"),
        ("null", "0"),
    ];
    for (json, text) in cases {
        assert_eq!(from_json(json).to_string(), text, "{json}");
    }
    for &(input, _, _, _) in PARSE_TABLE {
        let parsed = q(input);
        assert_eq!(from_json(&to_json(&parsed)), parsed, "{input}");
    }
    #[derive(serde::Deserialize)]
    struct Limits {
        cpu: Quantity,
        memory: Option<Quantity>,
    }
    let limits: Limits = serde_json::from_str(r#"{"cpu": 0.25, "memory": null}"#).expect("ok");
    assert_eq!(limits.cpu.to_string(), "250m");
    assert!(limits.memory.is_none());
}

/// Deserializing a malformed quantity fails, and the error names the input.
#[test]
fn deserializing_a_malformed_quantity_fails_naming_the_input() {
    let err = serde_json::from_str::<Quantity>("\"5 Mi\"").expect_err("invalid");
    assert!(err.to_string().contains("\"5 Mi\""), "{err}");
    assert!(serde_json::from_str::<Quantity>("true").is_err());
    assert!(serde_json::from_str::<Quantity>("[1]").is_err());
}

/// Seeded garbage never panics the parser, and whatever parses prints text that
/// parses back to the same value. On failure the seed is printed.
#[test]
fn garbage_strings_never_panic_and_whatever_parses_round_trips() {
    let seed = 0x51A7_u64;
    let mut rng = StdRng::seed_from_u64(seed);
    let alphabet: Vec<char> = "0123456789.+-eEinumkKMGTPx i\u{0}é\u{2028}"
        .chars()
        .collect();
    for round in 0..20_000 {
        let len = rng.gen_range(0..16);
        let input: String = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        if let Ok(parsed) = Quantity::parse(&input) {
            let text = parsed.to_string();
            let reparsed = Quantity::parse(&text);
            assert_eq!(
                reparsed.as_ref().ok(),
                Some(&parsed),
                "seed {seed} round {round}: {input:?} printed {text:?}"
            );
            let _ = (parsed.value(), parsed.milli_value(), parsed.canonical());
        }
    }
}

/// Random values in every format print text that parses back to the same
/// value (apimachinery's JSON round-trip property), binary values past the
/// 2^63-1 cap excepted since parsing caps them.
#[test]
fn random_values_round_trip_through_their_text_in_every_format() {
    let seed = 0x00DD_BA11_u64;
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 0..20_000 {
        let magnitude: i128 = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..1_000_000),
            1 => i128::from(rng.gen::<i64>()),
            2 => {
                (i128::from(rng.gen_range(0..1024_i64)) << (10 * rng.gen_range(0..7)))
                    * 1_000_000_000
            }
            _ => rng.gen::<i128>() >> rng.gen_range(1..100),
        };
        let format = [DecimalSI, BinarySI, DecimalExponent][rng.gen_range(0..3)];
        let Some(value) = Quantity::from_nanos(magnitude, format) else {
            continue;
        };
        if format == BinarySI && magnitude.unsigned_abs() > BINARY_CAP_NANOS {
            continue;
        }
        let text = value.to_string();
        assert_eq!(
            Quantity::parse(&text).ok().as_ref(),
            Some(&value),
            "seed {seed} round {round}: {magnitude} {format:?} printed {text:?}"
        );
    }
}
