//! Tests for the name and label rules, field paths and field errors. Every
//! expected message below was produced by apimachinery itself.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

const LABEL_REGEX: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_REGEX: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_REGEX: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_KEY_SHAPE: &str = "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const NAME_PART_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const PREFIX_PART_REGEX: &str = "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const C_IDENT_REGEX: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')";
const ENV_REGEX: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const RELAXED_ENV: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

fn check(rule: &str, f: fn(&str) -> Vec<String>, cases: Vec<(String, Vec<&str>)>) {
    for (input, expected) in cases {
        assert_eq!(f(&input), expected, "{rule}({input:?})");
    }
}

/// `is_dns1123_label` accepts exactly what apimachinery's `IsDNS1123Label` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_dns1123_label_is_lowercase_alphanumeric_and_dashes_up_to_63_bytes() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("a".to_owned(), vec![]),
        ("ab".to_owned(), vec![]),
        ("a-1".to_owned(), vec![]),
        ("a--1--2--b".to_owned(), vec![]),
        ("0".to_owned(), vec![]),
        ("1-a".to_owned(), vec![]),
        ("a".repeat(63), vec![]),
        (String::new(), vec![LABEL_REGEX]),
        ("A".to_owned(), vec![LABEL_REGEX]),
        ("aBc".to_owned(), vec![LABEL_REGEX]),
        ("a-".to_owned(), vec![LABEL_REGEX]),
        ("-a".to_owned(), vec![LABEL_REGEX]),
        ("a.b".to_owned(), vec!["must not contain dots"]),
        ("a_b".to_owned(), vec![LABEL_REGEX]),
        ("a b".to_owned(), vec![LABEL_REGEX]),
        ("a".repeat(64), vec!["must be no more than 63 characters"]),
        ("a..b".to_owned(), vec![LABEL_REGEX]),
        ("é".to_owned(), vec![LABEL_REGEX]),
        (
            format!("{}{}", "a".repeat(64), ".b"),
            vec![
                "must be no more than 63 characters",
                "must not contain dots",
            ],
        ),
    ];
    check("IsDNS1123Label", is_dns1123_label, cases);
}

/// `is_dns1123_subdomain` accepts exactly what apimachinery's `IsDNS1123Subdomain` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_dns1123_subdomain_is_dot_separated_labels_up_to_253_bytes() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("a".to_owned(), vec![]),
        ("a.b".to_owned(), vec![]),
        ("a-1.b-2".to_owned(), vec![]),
        ("1.a".to_owned(), vec![]),
        (
            format!(
                "{}{}{}{}{}{}{}",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(61)
            ),
            vec![],
        ),
        (String::new(), vec![SUBDOMAIN_REGEX]),
        ("A.b".to_owned(), vec![SUBDOMAIN_REGEX]),
        ("a..b".to_owned(), vec![SUBDOMAIN_REGEX]),
        (".a".to_owned(), vec![SUBDOMAIN_REGEX]),
        ("a.".to_owned(), vec![SUBDOMAIN_REGEX]),
        ("a_b".to_owned(), vec![SUBDOMAIN_REGEX]),
        (
            format!(
                "{}{}{}{}{}{}{}",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(62)
            ),
            vec!["must be no more than 253 characters"],
        ),
    ];
    check("IsDNS1123Subdomain", is_dns1123_subdomain, cases);
}

/// `is_dns1035_label` accepts exactly what apimachinery's `IsDNS1035Label` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_dns1035_label_must_start_with_a_letter() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("a".to_owned(), vec![]),
        ("a-1".to_owned(), vec![]),
        ("a".repeat(63), vec![]),
        ("0".to_owned(), vec![DNS1035_REGEX]),
        ("1a".to_owned(), vec![DNS1035_REGEX]),
        ("A".to_owned(), vec![DNS1035_REGEX]),
        ("a-".to_owned(), vec![DNS1035_REGEX]),
        ("a.b".to_owned(), vec![DNS1035_REGEX]),
        ("a".repeat(64), vec!["must be no more than 63 characters"]),
    ];
    check("IsDNS1035Label", is_dns1035_label, cases);
}

/// `is_qualified_name` accepts exactly what apimachinery's `IsQualifiedName` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_qualified_name_is_an_optional_subdomain_prefix_and_a_63_byte_name() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("simple".to_owned(), vec![]),
        ("now-with-dashes".to_owned(), vec![]),
        ("1234".to_owned(), vec![]),
        ("now.with.dots/now-with-dashes".to_owned(), vec![]),
        (
            "now-with.dashes-and.dots/now_with_underscores".to_owned(),
            vec![],
        ),
        ("Upper.Case".to_owned(), vec![]),
        ("example.com/Upper.Case".to_owned(), vec![]),
        ("a".repeat(63), vec![]),
        (
            format!(
                "{}{}{}{}{}{}{}{}{}",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(61),
                "/",
                "b".repeat(63)
            ),
            vec![],
        ),
        (
            String::new(),
            vec!["name part must be non-empty", NAME_PART_REGEX],
        ),
        ("nospecialchars%^=@".to_owned(), vec![NAME_PART_REGEX]),
        ("cantendwithadash-".to_owned(), vec![NAME_PART_REGEX]),
        ("-cantstartwithadash-".to_owned(), vec![NAME_PART_REGEX]),
        ("only/one/slash".to_owned(), vec![LABEL_KEY_SHAPE]),
        ("Example.com/abc".to_owned(), vec![PREFIX_PART_REGEX]),
        ("example_com/abc".to_owned(), vec![PREFIX_PART_REGEX]),
        (
            "example.com/".to_owned(),
            vec!["name part must be non-empty", NAME_PART_REGEX],
        ),
        ("/simple".to_owned(), vec!["prefix part must be non-empty"]),
        (
            "a".repeat(64),
            vec!["name part must be no more than 63 bytes"],
        ),
        (
            format!(
                "{}{}{}{}{}{}{}{}",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(63),
                ".",
                "a".repeat(62),
                "/a"
            ),
            vec!["prefix part must be no more than 253 bytes"],
        ),
        (
            "/".to_owned(),
            vec![
                "prefix part must be non-empty",
                "name part must be non-empty",
                NAME_PART_REGEX,
            ],
        ),
    ];
    check("IsQualifiedName", is_qualified_name, cases);
}

/// `is_valid_label_value` accepts exactly what apimachinery's `IsValidLabelValue` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_label_value_is_empty_or_a_63_byte_name() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (String::new(), vec![]),
        ("simple".to_owned(), vec![]),
        ("now-with-dashes".to_owned(), vec![]),
        ("1234".to_owned(), vec![]),
        ("Upper.Case_1".to_owned(), vec![]),
        ("a".repeat(63), vec![]),
        ("nospecialchars%^=@".to_owned(), vec![LABEL_VALUE_REGEX]),
        (
            "Tama-nui-te-rā.is.Māori.sun".to_owned(),
            vec![LABEL_VALUE_REGEX],
        ),
        ("-starts-with-dash".to_owned(), vec![LABEL_VALUE_REGEX]),
        ("ends.with.dot.".to_owned(), vec![LABEL_VALUE_REGEX]),
        ("a".repeat(64), vec!["must be no more than 63 bytes"]),
        (
            "-".repeat(64),
            vec!["must be no more than 63 bytes", LABEL_VALUE_REGEX],
        ),
    ];
    check("IsValidLabelValue", is_valid_label_value, cases);
}

/// `is_c_identifier` accepts exactly what apimachinery's `IsCIdentifier` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_c_identifier_starts_with_a_letter_or_underscore() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("a".to_owned(), vec![]),
        ("A".to_owned(), vec![]),
        ("_".to_owned(), vec![]),
        ("a_b1".to_owned(), vec![]),
        (String::new(), vec![C_IDENT_REGEX]),
        ("1a".to_owned(), vec![C_IDENT_REGEX]),
        ("a-b".to_owned(), vec![C_IDENT_REGEX]),
        ("a.b".to_owned(), vec![C_IDENT_REGEX]),
        ("é".to_owned(), vec![C_IDENT_REGEX]),
    ];
    check("IsCIdentifier", is_c_identifier, cases);
}

/// `is_env_var_name` accepts exactly what apimachinery's `IsEnvVarName` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_strict_env_var_name_allows_dots_and_dashes_but_no_leading_digit_or_dot_dot() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("A".to_owned(), vec![]),
        ("my.env-name".to_owned(), vec![]),
        ("MY_ENV.NAME".to_owned(), vec![]),
        ("MyEnvName1".to_owned(), vec![]),
        ("-x".to_owned(), vec![]),
        (".x".to_owned(), vec![]),
        ("..x".to_owned(), vec!["must not start with '..'"]),
        (String::new(), vec![ENV_REGEX]),
        ("1A".to_owned(), vec![ENV_REGEX]),
        ("A=B".to_owned(), vec![ENV_REGEX]),
        (".".to_owned(), vec!["must not be '.'"]),
        ("..".to_owned(), vec!["must not be '..'"]),
        ("a b".to_owned(), vec![ENV_REGEX]),
    ];
    check("IsEnvVarName", is_env_var_name, cases);
}

/// `is_relaxed_env_var_name` accepts exactly what apimachinery's `IsRelaxedEnvVarName` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_relaxed_env_var_name_is_any_printable_ascii_but_equals() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("A".to_owned(), vec![]),
        ("1A".to_owned(), vec![]),
        (" a~".to_owned(), vec![]),
        (
            String::new(),
            vec!["environment variable name must be non-empty"],
        ),
        ("A=B".to_owned(), vec![RELAXED_ENV]),
        ("é".to_owned(), vec![RELAXED_ENV]),
        ("a\tb".to_owned(), vec![RELAXED_ENV]),
    ];
    check("IsRelaxedEnvVarName", is_relaxed_env_var_name, cases);
}

/// `is_valid_port_name` accepts exactly what apimachinery's `IsValidPortName` accepts and rejects the
/// rest with its messages, in its order.
#[test]
fn a_port_name_is_an_iana_service_name() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("http".to_owned(), vec![]),
        ("h".to_owned(), vec![]),
        ("web-8080".to_owned(), vec![]),
        ("a-b-c".to_owned(), vec![]),
        (
            String::new(),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
        (
            "1234".to_owned(),
            vec!["must contain at least one letter (a-z)"],
        ),
        (
            "HTTP".to_owned(),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
        (
            "-http".to_owned(),
            vec!["must not begin or end with a hyphen"],
        ),
        (
            "http-".to_owned(),
            vec!["must not begin or end with a hyphen"],
        ),
        (
            "ht--tp".to_owned(),
            vec!["must not contain consecutive hyphens"],
        ),
        ("a".repeat(16), vec!["must be no more than 15 characters"]),
        (
            "h_t".to_owned(),
            vec!["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
        ),
        (
            "-".to_owned(),
            vec![
                "must contain at least one letter (a-z)",
                "must not begin or end with a hyphen",
            ],
        ),
    ];
    check("IsValidPortName", is_valid_port_name, cases);
}

/// Port numbers are valid from 1 to 65535 inclusive.
#[test]
fn a_port_number_is_between_1_and_65535() {
    for port in [1, 80, 65535] {
        assert!(is_valid_port_num(port).is_empty(), "{port}");
    }
    for port in [0, -1, 65536, i64::MAX] {
        assert_eq!(
            is_valid_port_num(port),
            vec!["must be between 1 and 65535, inclusive"],
            "{port}"
        );
    }
}

/// Paths print as apimachinery prints them: dotted names, bracketed indices and
/// unquoted keys, an empty name as "[]".
#[test]
fn field_paths_print_like_apimachinery() {
    let spec = FieldPath::new("spec");
    assert_eq!(spec.to_string(), "spec");
    assert_eq!(
        spec.child("containers").index(0).child("name").to_string(),
        "spec.containers[0].name"
    );
    assert_eq!(
        FieldPath::new("metadata")
            .child("labels")
            .key("app")
            .to_string(),
        "metadata.labels[app]"
    );
    assert_eq!(spec.key("a.b/c").to_string(), "spec[a.b/c]");
    assert_eq!(FieldPath::new("").to_string(), "[]");
    assert_eq!(FieldPath::new("a").child("").to_string(), "a[]");
    assert_eq!(path_string(None), "<nil>");
}

/// Each kind of field error prints exactly as apimachinery's `Error()` does
/// (expected strings produced by apimachinery).
#[test]
fn field_errors_print_like_apimachinery() {
    let name = FieldPath::new("spec")
        .child("containers")
        .index(0)
        .child("name");
    let ports = FieldPath::new("spec").child("ports");
    let policy = FieldPath::new("spec").child("restartPolicy");
    let annotations = FieldPath::new("metadata").child("annotations");
    let containers = FieldPath::new("spec").child("containers");
    let cases = [
        (FieldError::required(&name, ""), "spec.containers[0].name: Required value"),
        (
            FieldError::required(&name, "name is needed"),
            "spec.containers[0].name: Required value: name is needed",
        ),
        (
            FieldError::invalid(&name, "Foo", "bad"),
            "spec.containers[0].name: Invalid value: \"Foo\": bad",
        ),
        (
            FieldError::invalid(
                &ports.index(0).child("port"),
                0,
                "must be between 1 and 65535, inclusive",
            ),
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (FieldError::invalid(&name, true, ""), "spec.containers[0].name: Invalid value: true"),
        (
            FieldError::duplicate(&ports.index(1).child("name"), "http"),
            "spec.ports[1].name: Duplicate value: \"http\"",
        ),
        (
            FieldError::not_supported(&policy, "Sometimes", &["Always", "Never", "OnFailure"]),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\"",
        ),
        (
            FieldError::not_supported::<&str>(&policy, "Sometimes", &[]),
            "spec.restartPolicy: Unsupported value: \"Sometimes\"",
        ),
        (
            FieldError::forbidden(&name, "may not be set"),
            "spec.containers[0].name: Forbidden: may not be set",
        ),
        (
            FieldError::too_long(&annotations, Some(262_144)),
            "metadata.annotations: Too long: may not be more than 262144 bytes",
        ),
        (
            FieldError::too_long(&annotations, Some(1)),
            "metadata.annotations: Too long: may not be more than 1 byte",
        ),
        (
            FieldError::too_long(&annotations, None),
            "metadata.annotations: Too long: value is too long",
        ),
        (
            FieldError::too_many(&containers, Some(5), Some(3)),
            "spec.containers: Too many: 5: must have at most 3 items",
        ),
        (
            FieldError::too_many(&containers, None, Some(1)),
            "spec.containers: Too many: must have at most 1 item",
        ),
        (
            FieldError::too_many(&containers, Some(2), None),
            "spec.containers: Too many: 2: has too many items",
        ),
        (
            FieldError::internal(&FieldPath::new("spec"), &"boom"),
            "spec: Internal error: boom",
        ),
        (
            FieldError::not_found(&FieldPath::new("spec").key("a.b/c"), "y"),
            "spec[a.b/c]: Not found: \"y\"",
        ),
        (
            FieldError::invalid(
                &FieldPath::new("metadata").child("labels").key("app"),
                "a\"b\\c\n\t\u{1}é\u{a0}\u{200b}",
                "q",
            ),
            "metadata.labels[app]: Invalid value: \"a\\\"b\\\\c\\n\\t\\x01é\\u00a0\\u200b\": q",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
    assert_eq!(FieldErrorKind::Invalid.code(), "FieldValueInvalid");
    assert_eq!(FieldErrorKind::Internal.code(), "InternalError");
}

/// An error list prints as apimachinery's aggregate: nothing when empty, one
/// error bare, several in brackets, repeated messages once.
#[test]
fn error_lists_print_like_an_apimachinery_aggregate() {
    let name = FieldPath::new("spec")
        .child("containers")
        .index(0)
        .child("name");
    let required = FieldError::required(&name, "");
    let invalid = FieldError::invalid(&name, "Foo", "bad");
    assert_eq!(FieldErrors::new().to_string(), "");
    assert!(FieldErrors::new().into_result().is_ok());
    let one = FieldErrors::from(vec![required.clone(), required.clone()]);
    assert_eq!(one.to_string(), "spec.containers[0].name: Required value");
    assert_eq!(one.len(), 2);
    let many: FieldErrors = [required.clone(), invalid, required].into_iter().collect();
    assert_eq!(
        many.to_string(),
        "[spec.containers[0].name: Required value, spec.containers[0].name: Invalid value: \"Foo\": bad]"
    );
    assert!(many.into_result().is_err());
}

/// Quoting follows Go's `strconv.Quote` and JSON rendering follows Go's
/// `encoding/json`, HTML-safe escapes included.
#[test]
fn values_are_quoted_as_go_quotes_them() {
    let cases = [
        ("", "\"\""),
        ("plain", "\"plain\""),
        ("tab\tnl\ncr\r", "\"tab\\tnl\\ncr\\r\""),
        ("\u{7}\u{8}\u{b}\u{c}\u{7f}", "\"\\a\\b\\v\\f\\x7f\""),
        ("ünïcode ✓ 日本", "\"ünïcode ✓ 日本\""),
        (
            "\u{85}\u{2028}\u{feff}\u{e000}\u{10ffff}",
            "\"\\u0085\\u2028\\ufeff\\ue000\\U0010ffff\"",
        ),
    ];
    for (input, quoted) in cases {
        assert_eq!(go_quote(input), quoted, "{input:?}");
    }
    assert_eq!(
        go_json_string("<a&b>\"\\\u{8}\u{c}\u{1}\u{2029}é"),
        "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\b\\f\\u0001\\u2029é\""
    );
    assert_eq!(
        BadValue::strings(Some(&["a", "b"])).to_string(),
        "[\"a\",\"b\"]"
    );
    assert_eq!(BadValue::strings::<&str>(Some(&[])).to_string(), "[]");
    assert_eq!(BadValue::strings::<&str>(None).to_string(), "null");
    assert_eq!(BadValue::named_string("Foo").to_string(), "\"Foo\"");
}

/// Label maps are checked key by key in key order, every error reported at the
/// map's own path (apimachinery's `ValidateLabels`).
#[test]
fn label_maps_report_every_bad_key_and_value_at_the_map_path() {
    let path = FieldPath::new("metadata").child("labels");
    let mut labels = BTreeMap::new();
    labels.insert("app".to_owned(), "web".to_owned());
    assert!(validate_labels(&labels, &path).is_empty());
    labels.insert("-bad".to_owned(), "ok".to_owned());
    labels.insert("zone".to_owned(), "bad value".to_owned());
    let errs = validate_labels(&labels, &path);
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        vec![
            format!("metadata.labels: Invalid value: \"-bad\": {NAME_PART_REGEX}"),
            format!("metadata.labels: Invalid value: \"bad value\": {LABEL_VALUE_REGEX}"),
        ]
    );
    assert_eq!(validate_label_name("a/b/c", &path).len(), 1);
}

/// Seeded garbage never panics any rule, and every rule agrees with its
/// simplest restatement on what is valid. On failure the seed is printed.
#[test]
fn garbage_never_panics_the_rules() {
    let seed = 0xC0FFEE_u64;
    let mut rng = StdRng::seed_from_u64(seed);
    let alphabet: Vec<char> = "aZ09-_./= \u{0}é~\u{7f}".chars().collect();
    let rules: [fn(&str) -> Vec<String>; 9] = [
        is_dns1123_label,
        is_dns1123_subdomain,
        is_dns1035_label,
        is_qualified_name,
        is_valid_label_value,
        is_c_identifier,
        is_env_var_name,
        is_relaxed_env_var_name,
        is_valid_port_name,
    ];
    for round in 0..20_000 {
        let len = rng.gen_range(0..80);
        let input: String = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        for rule in rules {
            let _ = rule(&input);
        }
        let label_ok = is_dns1123_label(&input).is_empty();
        let simple = !input.is_empty()
            && input.len() <= 63
            && input
                .bytes()
                .all(|c| c == b'-' || c.is_ascii_lowercase() || c.is_ascii_digit())
            && !input.starts_with('-')
            && !input.ends_with('-');
        assert_eq!(label_ok, simple, "seed {seed} round {round}: {input:?}");
    }
}
