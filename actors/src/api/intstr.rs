//! `intstr.IntOrString`: a field that holds either a number or a string, such
//! as a Service's `targetPort` (a port number or a port name) or a Deployment's
//! `maxSurge` (a count or a percentage).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is either an `int32` or a string, written in JSON as whichever
/// it is (apimachinery's `intstr.IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A number, e.g. `8080` or `1`.
    Int(i32),
    /// A string, e.g. `"http"` or `"25%"`.
    String(String),
}

impl Default for IntOrString {
    fn default() -> IntOrString {
        IntOrString::Int(0)
    }
}

impl IntOrString {
    /// The percentage this value spells (`"25%"` is 25), if it is a string
    /// of digits followed by `%` (apimachinery's `IsValidPercent` shape).
    pub fn percent(&self) -> Option<i64> {
        match self {
            IntOrString::String(s) => {
                let digits = s.strip_suffix('%')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()
            }
            IntOrString::Int(_) => None,
        }
    }

    /// The value scaled against `total`: an int as is, a percentage of
    /// `total` rounded up or down (apimachinery's `GetScaledValueFromIntOrPercent`).
    /// `None` for a string that is not a percentage.
    pub fn scaled_value(&self, total: i64, round_up: bool) -> Option<i64> {
        match self {
            IntOrString::Int(i) => Some(i64::from(*i)),
            IntOrString::String(_) => {
                let pct = self.percent()?;
                let product = pct.checked_mul(total)?;
                Some(if round_up {
                    (product + 99).div_euclid(100)
                } else {
                    product.div_euclid(100)
                })
            }
        }
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl From<i32> for IntOrString {
    fn from(i: i32) -> IntOrString {
        IntOrString::Int(i)
    }
}

impl From<&str> for IntOrString {
    fn from(s: &str) -> IntOrString {
        IntOrString::String(s.to_owned())
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(i) => serializer.serialize_i32(*i),
            IntOrString::String(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IntOrString, D::Error> {
        deserializer.deserialize_any(IntOrStringVisitor)
    }
}

struct IntOrStringVisitor;

impl Visitor<'_> for IntOrStringVisitor {
    type Value = IntOrString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an int32 or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
        i32::try_from(v)
            .map(IntOrString::Int)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
        Ok(IntOrString::String(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::IntOrString;

    /// Numbers and strings decode to their variants and print back unchanged.
    #[test]
    fn ints_and_strings_round_trip() {
        for text in ["8080", "\"http\"", "\"25%\""] {
            let value: Result<IntOrString, _> = serde_json::from_str(text);
            let back = value.map(|v| serde_json::to_string(&v).unwrap_or_default());
            assert_eq!(back.ok().as_deref(), Some(text));
        }
        assert!(serde_json::from_str::<IntOrString>("3000000000").is_err());
        assert!(serde_json::from_str::<IntOrString>("1.5").is_err());
    }

    /// Percentages scale against a total, rounding as asked.
    #[test]
    fn percentages_scale_against_a_total() {
        let pct = IntOrString::from("25%");
        assert_eq!(pct.percent(), Some(25));
        assert_eq!(pct.scaled_value(10, true), Some(3));
        assert_eq!(pct.scaled_value(10, false), Some(2));
        assert_eq!(IntOrString::Int(4).scaled_value(10, true), Some(4));
        assert_eq!(IntOrString::from("x%").scaled_value(10, true), None);
        assert_eq!(IntOrString::from("%").percent(), None);
    }
}
