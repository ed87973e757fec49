//! Kubernetes name, label, port and environment-variable rules with
//! apimachinery's exact error messages, plus the field paths and field errors
//! that validation reports through.
//!
//! Each `is_*` function mirrors the apimachinery function of the same name:
//! it returns the list of reasons the value is invalid, empty when it is valid.
//! The messages are apimachinery v0.36's byte for byte, including its mix of
//! "characters" (util/validation: DNS names) and "bytes" (api/validate/content:
//! label keys and values) in length errors.

mod field;

pub use field::{
    go_json_string, go_quote, BadValue, FieldError, FieldErrorKind, FieldErrors, FieldPath,
};

pub(crate) use field::path_string;

#[cfg(test)]
mod tests;

/// The longest DNS-1123 label (RFC 1123).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// The longest DNS-1123 subdomain (RFC 1123).
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// The longest DNS-1035 label (RFC 1035).
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// The longest label value, and the longest name part of a label key.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const C_IDENTIFIER_FMT: &str = "[A-Za-z_][A-Za-z0-9_]*";
const C_IDENTIFIER_ERR_MSG: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'";
const ENV_VAR_NAME_FMT: &str = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const ENV_VAR_NAME_ERR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const RELAXED_ENV_VAR_NAME_ERR_MSG: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

/// apimachinery's `MaxLenError` from util/validation (DNS names).
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// apimachinery's `MaxLenError` from api/validate/content (label keys and values).
pub fn content_max_len_error(length: usize) -> String {
    format!("must be no more than {length} bytes")
}

/// apimachinery's `EmptyError`.
pub fn empty_error() -> String {
    "must be non-empty".to_owned()
}

/// apimachinery's `InclusiveRangeError`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// apimachinery's `RegexError`: the message, examples, and the regex quoted.
pub fn regex_error(msg: &str, regex: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{regex}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(regex);
    out.push_str("')");
    out
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Matches `first (middle* last)?` over bytes: non-empty, `first` holds for
/// the first byte, `last` for the final one (when there are two or more), and
/// `middle` for everything in between.
fn matches_shape(
    value: &str,
    first: impl Fn(u8) -> bool,
    middle: impl Fn(u8) -> bool,
    last: impl Fn(u8) -> bool,
) -> bool {
    match value.as_bytes() {
        [] => false,
        [only] => first(*only),
        [head, inner @ .., tail] => first(*head) && inner.iter().all(|&c| middle(c)) && last(*tail),
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(value: &str) -> bool {
    matches_shape(
        value,
        is_lower_alnum,
        |c| c == b'-' || is_lower_alnum(c),
        is_lower_alnum,
    )
}

/// Labels joined by dots, with no length limit per label.
fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_label_key_name(value: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    matches_shape(
        value,
        alnum,
        |c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'),
        alnum,
    )
}

/// Whether `value` is a DNS label as RFC 1123 defines it (apimachinery's
/// `IsDNS1123Label`): at most 63 lowercase alphanumerics or '-', starting and
/// ending alphanumeric.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Whether `value` is a DNS subdomain as RFC 1123 defines it (apimachinery's
/// `IsDNS1123Subdomain`): at most 253 bytes of dot-separated DNS labels. This
/// is the rule for most object names.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain(value, max_len_error)
}

/// The subdomain rule with a choice of length message, since apimachinery's
/// two copies of it word the length error differently.
fn dns1123_subdomain(value: &str, len_error: fn(usize) -> String) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Whether `value` is a DNS label as RFC 1035 defines it (apimachinery's
/// `IsDNS1035Label`): like an RFC 1123 label but starting with a letter. This
/// is the rule for Service names.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    let valid = matches_shape(
        value,
        |c| c.is_ascii_lowercase(),
        |c| c == b'-' || is_lower_alnum(c),
        is_lower_alnum,
    );
    if !valid {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Whether `value` is a qualified name, the syntax of label and annotation
/// keys (apimachinery's `IsQualifiedName`, now `content.IsLabelKey`): an
/// optional DNS-subdomain prefix and '/', then a name of at most 63
/// alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                let prefix_errs = dns1123_subdomain(prefix, content_max_len_error);
                errs.extend(prefix_errs.into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            content_max_len_error(LABEL_VALUE_MAX_LENGTH)
        ));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Whether `value` is a valid label value (apimachinery's `IsValidLabelValue`,
/// now `content.IsLabelValue`): empty, or at most 63 alphanumerics, '-', '_'
/// or '.', starting and ending alphanumeric.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(content_max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Whether `value` is a C identifier (apimachinery's `IsCIdentifier`): a
/// letter or '_' followed by letters, digits or '_'. Length is not checked.
pub fn is_c_identifier(value: &str) -> Vec<String> {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let valid = matches_shape(
        value,
        |c| c.is_ascii_alphabetic() || c == b'_',
        ident,
        ident,
    );
    if valid {
        Vec::new()
    } else {
        vec![regex_error(
            C_IDENTIFIER_ERR_MSG,
            C_IDENTIFIER_FMT,
            &["my_name", "MY_NAME", "MyName"],
        )]
    }
}

/// Whether `value` is an environment variable name under the strict rule
/// (apimachinery's `IsEnvVarName`): letters, digits, '_', '-' or '.', not
/// starting with a digit, and not `.`, `..` or starting with `..`.
///
/// Pods in recent Kubernetes releases are validated with the relaxed rule
/// ([`is_relaxed_env_var_name`], feature RelaxedEnvironmentVariableValidation);
/// this is the strict form for callers that want it.
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let rest = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_');
    let valid = matches_shape(
        value,
        |c| c.is_ascii_alphabetic() || matches!(c, b'-' | b'.' | b'_'),
        rest,
        rest,
    );
    let mut errs = Vec::new();
    if !valid {
        errs.push(regex_error(
            ENV_VAR_NAME_ERR_MSG,
            ENV_VAR_NAME_FMT,
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    errs.extend(chdir_prefix_errors(value));
    errs
}

/// Whether `value` is an environment variable name under the relaxed rule
/// (apimachinery's `IsRelaxedEnvVarName`): non-empty printable ASCII other
/// than '='.
pub fn is_relaxed_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push(format!("environment variable name {}", empty_error()));
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_VAR_NAME_ERR_MSG.to_owned());
    }
    errs
}

fn chdir_prefix_errors(value: &str) -> Option<String> {
    match value {
        "." => Some("must not be '.'".to_owned()),
        ".." => Some("must not be '..'".to_owned()),
        v if v.starts_with("..") => Some("must not start with '..'".to_owned()),
        _ => None,
    }
}

/// Whether `port` is a valid, non-zero port number (apimachinery's
/// `IsValidPortNum`): 1 to 65535.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Whether `port` is a valid port name, an IANA_SVC_NAME (apimachinery's
/// `IsValidPortName`): at most 15 of [-a-z0-9] with at least one letter, no
/// leading, trailing or doubled hyphen.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let bytes = port.as_bytes();
    if bytes.len() > 15 {
        errs.push(max_len_error(15));
    }
    if bytes.is_empty() || !bytes.iter().all(|&c| c == b'-' || is_lower_alnum(c)) {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !bytes.iter().any(u8::is_ascii_lowercase) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if bytes.first() == Some(&b'-') || bytes.last() == Some(&b'-') {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    errs
}

/// apimachinery's `ValidateLabelName`: one error per reason the key is invalid.
pub fn validate_label_name(name: &str, path: &FieldPath) -> FieldErrors {
    is_qualified_name(name)
        .into_iter()
        .map(|msg| FieldError::invalid(path, name, msg))
        .collect()
}

/// apimachinery's `ValidateLabels`, in key order: every error is reported at
/// `path` itself, not at the label's key.
pub fn validate_labels(
    labels: &std::collections::BTreeMap<String, String>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (key, value) in labels {
        errs.extend(validate_label_name(key, path));
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(path, value, msg));
        }
    }
    errs
}
