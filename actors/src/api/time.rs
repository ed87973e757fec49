//! `metav1.Time` and `metav1.MicroTime`: instants written as RFC 3339 strings,
//! in UTC, at second and microsecond precision respectively.
//!
//! Parsing accepts any RFC 3339 timestamp (any offset, any fraction), as Go's
//! `time.Parse(time.RFC3339, ..)` does; printing always uses UTC and `Z`, as
//! apimachinery's `MarshalJSON` does. A [`Time`] drops the fraction, since
//! Kubernetes' JSON form carries whole seconds only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a timestamp string is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing time {input:?} as \"2006-01-02T15:04:05Z07:00\": {reason}")]
pub struct TimeError {
    input: String,
    reason: &'static str,
}

/// An instant with second precision (apimachinery's `metav1.Time`), such as
/// `creationTimestamp`. Stored as seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
}

/// An instant with microsecond precision (apimachinery's `metav1.MicroTime`),
/// such as a Lease's `renewTime`. Stored as microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub micros: i64,
}

impl Time {
    /// The instant `seconds` after the Unix epoch.
    pub fn from_unix(seconds: i64) -> Time {
        Time { seconds }
    }

    /// Parses an RFC 3339 timestamp, dropping any fraction of a second.
    pub fn parse(input: &str) -> Result<Time, TimeError> {
        let (seconds, _) = parse_rfc3339(input)?;
        Ok(Time { seconds })
    }
}

impl MicroTime {
    /// The instant `micros` microseconds after the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> MicroTime {
        MicroTime { micros }
    }

    /// Parses an RFC 3339 timestamp, keeping microseconds.
    pub fn parse(input: &str) -> Result<MicroTime, TimeError> {
        let (seconds, nanos) = parse_rfc3339(input)?;
        let micros = seconds
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(i64::from(nanos / 1000)))
            .ok_or_else(|| err(input, "out of range"))?;
        Ok(MicroTime { micros })
    }
}

fn err(input: &str, reason: &'static str) -> TimeError {
    TimeError {
        input: input.to_owned(),
        reason,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads exactly `n` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into UTC seconds and nanos.
fn parse_rfc3339(input: &str) -> Result<(i64, u32), TimeError> {
    let b = input.as_bytes();
    let bad = |reason| err(input, reason);
    let year = digits(b, 0, 4).ok_or_else(|| bad("bad year"))?;
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !sep(4, b'-') || !sep(7, b'-') || !(sep(10, b'T') || sep(10, b't')) {
        return Err(bad("bad separator"));
    }
    if !sep(13, b':') || !sep(16, b':') {
        return Err(bad("bad separator"));
    }
    let month = digits(b, 5, 2).ok_or_else(|| bad("bad month"))?;
    let day = digits(b, 8, 2).ok_or_else(|| bad("bad day"))?;
    let hour = digits(b, 11, 2).ok_or_else(|| bad("bad hour"))?;
    let minute = digits(b, 14, 2).ok_or_else(|| bad("bad minute"))?;
    let second = digits(b, 17, 2).ok_or_else(|| bad("bad second"))?;
    if !(1..=12).contains(&month) {
        return Err(bad("month out of range"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(bad("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("time out of range"));
    }
    let mut at = 19;
    let mut nanos: u32 = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(bad("bad fraction"));
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() && sep(at + 3, b':') => {
            let oh = digits(b, at + 1, 2).ok_or_else(|| bad("bad offset"))?;
            let om = digits(b, at + 4, 2).ok_or_else(|| bad("bad offset"))?;
            if oh > 23 || om > 59 {
                return Err(bad("offset out of range"));
            }
            let total = oh * 3600 + om * 60;
            if sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return Err(bad("bad time zone")),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Ok((seconds, nanos))
}

fn write_date_time(f: &mut fmt::Formatter<'_>, seconds: i64) -> fmt::Result {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    write!(
        f,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_date_time(f, self.seconds)?;
        f.write_str("Z")
    }
}

impl fmt::Display for MicroTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_date_time(f, self.micros.div_euclid(1_000_000))?;
        write!(f, ".{:06}Z", self.micros.rem_euclid(1_000_000))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Time, D::Error> {
        let s = String::deserialize(deserializer)?;
        Time::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MicroTime, D::Error> {
        let s = String::deserialize(deserializer)?;
        MicroTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UTC timestamp prints back exactly as written.
    #[test]
    fn utc_timestamps_round_trip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(Time::parse(s).map(|t| t.to_string()).as_deref(), Ok(s));
        }
        let m = "2024-05-01T10:20:30.123456Z";
        assert_eq!(MicroTime::parse(m).map(|t| t.to_string()).as_deref(), Ok(m));
    }

    /// Offsets are folded into UTC and fractions dropped, as apimachinery prints.
    #[test]
    fn offsets_and_fractions_normalise_to_utc_seconds() {
        let t = Time::parse("2024-01-01T02:00:00.999+02:00");
        assert_eq!(
            t.map(|t| t.to_string()).as_deref(),
            Ok("2024-01-01T00:00:00Z")
        );
    }

    /// Malformed timestamps are errors, not panics.
    #[test]
    fn malformed_timestamps_are_rejected() {
        for s in [
            "",
            "2024",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert!(Time::parse(s).is_err(), "{s}");
        }
    }
}
