//! Small rules shared by the validators: name rules per kind, non-negative
//! numbers, enumerations, IPs, percentages and ports given by number or name.

use std::collections::BTreeMap;

use crate::api::intstr::IntOrString;
use crate::api::validation::{
    go_quote, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_valid_port_name,
    is_valid_port_num, regex_error, BadValue, FieldError, FieldErrors, FieldPath,
};

/// Which rule an object's name must follow (apimachinery's `ValidateNameFunc`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// An RFC 1123 subdomain: most kinds.
    Dns1123Subdomain,
    /// An RFC 1123 label: namespaces, StatefulSets.
    Dns1123Label,
    /// An RFC 1035 label: services.
    Dns1035Label,
    /// A URL path segment: RBAC kinds (`system:node` is valid).
    PathSegment,
}

impl NameRule {
    /// Why `name` breaks the rule; `prefix` means it is a `generateName`,
    /// which may end in a dash.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
            NameRule::Dns1123Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment => is_valid_path_segment_name(name),
        }
    }
}

/// apimachinery's `maskTrailingDash`, quirk included: a trailing dash and
/// the character before it become one `a`.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
    }
    name.to_owned()
}

/// apimachinery's `IsValidPathSegmentName`.
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    for illegal in [".", ".."] {
        if name == illegal {
            return vec![format!("may not be '{illegal}'")];
        }
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// The message apimachinery gives a negative number.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";

/// apimachinery's `ValidateNonnegativeField`.
pub fn validate_nonnegative(value: i64, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if value < 0 {
        errs.push(FieldError::invalid(path, value, IS_NEGATIVE_ERROR_MSG));
    }
    errs
}

/// `Invalid` at `path` for each message.
pub fn invalid_each(path: &FieldPath, value: &str, msgs: Vec<String>) -> FieldErrors {
    msgs.into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

/// `Required` when `value` is empty, `NotSupported` when it is not one of
/// `supported` (listed in the order Kubernetes lists them, sorted).
pub fn required_enum(value: &str, supported: &[&str], path: &FieldPath) -> Option<FieldError> {
    if value.is_empty() {
        Some(FieldError::required(path, ""))
    } else {
        optional_enum(value, supported, path)
    }
}

/// `NotSupported` when `value` is set and not one of `supported`.
pub fn optional_enum(value: &str, supported: &[&str], path: &FieldPath) -> Option<FieldError> {
    if value.is_empty() || supported.contains(&value) {
        None
    } else {
        Some(FieldError::not_supported(path, value, supported))
    }
}

/// apimachinery's `IsValidIP` message.
pub const INVALID_IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/// Whether `value` is an IPv4 or IPv6 address.
pub fn is_ip(value: &str) -> bool {
    value.parse::<std::net::IpAddr>().is_ok()
}

/// Whether `value` is a CIDR such as `10.0.0.0/16`.
pub fn is_cidr(value: &str) -> bool {
    let Some((ip, bits)) = value.split_once('/') else {
        return false;
    };
    let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max) && !bits.starts_with('+')
}

/// apimachinery's `IsValidPercent`.
pub fn is_valid_percent(value: &str) -> Vec<String> {
    let ok = value
        .strip_suffix('%')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Vec::new()
    } else {
        vec![regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            &["1%", "93%"],
        )]
    }
}

/// How an [`IntOrString`] prints as a bad value: bare number or quoted string.
pub fn int_or_string_value(value: &IntOrString) -> BadValue {
    match value {
        IntOrString::Int(i) => BadValue::Int(i64::from(*i)),
        IntOrString::String(s) => BadValue::Str(s.clone()),
    }
}

/// apps' `ValidatePositiveIntOrPercent`.
pub fn validate_positive_int_or_percent(value: &IntOrString, path: &FieldPath) -> FieldErrors {
    match value {
        IntOrString::String(s) => is_valid_percent(s)
            .into_iter()
            .map(|msg| FieldError::invalid(path, int_or_string_value(value), msg))
            .collect(),
        IntOrString::Int(i) => validate_nonnegative(i64::from(*i), path),
    }
}

/// apps' `getIntOrPercentValue`: the number or the percentage, 0 otherwise.
pub fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(_) => value.percent().unwrap_or(0),
    }
}

/// apps' `IsNotMoreThan100Percent`.
pub fn is_not_more_than_100_percent(value: &IntOrString, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if value.percent().is_some_and(|p| p > 100) {
        errs.push(FieldError::invalid(
            path,
            int_or_string_value(value),
            "must not be greater than 100%",
        ));
    }
    errs
}

/// core's `ValidatePortNumOrName`.
pub fn validate_port_num_or_name(port: &IntOrString, path: &FieldPath) -> FieldErrors {
    match port {
        IntOrString::Int(i) => is_valid_port_num(i64::from(*i))
            .into_iter()
            .map(|msg| FieldError::invalid(path, *i, msg))
            .collect(),
        IntOrString::String(s) if s.is_empty() => {
            let mut errs = FieldErrors::new();
            errs.push(FieldError::required(path, ""));
            errs
        }
        IntOrString::String(s) => invalid_each(path, s, is_valid_port_name(s)),
    }
}

/// A label map as apimachinery prints it as a bad value: Go's `%#v`,
/// `map[string]string{"app":"web", "tier":"db"}`, keys sorted.
pub fn map_value(map: &BTreeMap<String, String>) -> BadValue {
    let entries: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
        .collect();
    BadValue::Json(format!("map[string]string{{{}}}", entries.join(", ")))
}

/// Any serializable value as a JSON bad value.
pub fn json_value<T: serde::Serialize>(value: &T) -> BadValue {
    BadValue::Json(serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()))
}
