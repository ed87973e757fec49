//! Tests for label and field selectors. Expected strings and error messages
//! were produced by apimachinery itself.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::api::validation::FieldPath;

const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const LABEL_KEY_SHAPE: &str = "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const NAME_PART_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// Label selector strings parse to apimachinery's canonical string, or fail
/// with apimachinery's exact message (cases from TestSelectorParse,
/// TestSetSelectorParser and the lexer quirks).
#[test]
fn label_selector_strings_parse_and_fail_exactly_as_apimachinery() {
    let unable = |m: &str| format!("unable to parse requirement: {m}");
    let value_err = |path: &str, v: &str| {
        unable(&format!(
            "{path}: Invalid value: \"{v}\": {LABEL_VALUE_MSG}"
        ))
    };
    let int_err = |v: &str| {
        unable(&format!(
            "values[0]: Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer"
        ))
    };
    let cases: Vec<(&str, Result<&str, String>)> = vec![
        ("", Ok("")),
        ("x=a", Ok("x=a")),
        ("x=a,y=b,z=c", Ok("x=a,y=b,z=c")),
        ("x!=a,y=b", Ok("x!=a,y=b")),
        ("x=", Ok("x=")),
        ("x= ", Ok("x=")),
        ("x=,z= ", Ok("x=,z=")),
        ("x= ,z= ", Ok("x=,z=")),
        ("!x", Ok("!x")),
        ("x>1", Ok("x>1")),
        ("x>1,z<5", Ok("x>1,z<5")),
        ("x==", Ok("x==")),
        ("\rx", Ok("x")),
        ("a ", Ok("a")),
        ("notin=in", Ok("notin=in")),
        ("in in (in)", Ok("in in (in)")),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            Ok("this-is-another-dns.domain.com/key-with-dash in (so,what)"),
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            Ok("0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
        ),
        ("foo  in\t (abc)", Ok("foo in (abc)")),
        ("x notin\n (abc)", Ok("x notin (abc)")),
        ("x in (abc,)", Ok("x in (,abc)")),
        ("x in (abc,abc)", Ok("x in (abc)")),
        ("x in ()", Ok("x in ()")),
        ("x notin ( )", Ok("x notin ()")),
        ("x notin (, a)", Ok("x notin (,a)")),
        ("x in (a,,a,,a,,a,,)", Ok("x in (,a)")),
        ("x in (c,b,a)", Ok("x in (a,b,c)")),
        ("a in (x,y,notin, z,in)", Ok("a in (in,notin,x,y,z)")),
        (
            "x notin (abc,,def),bar,z in (),w",
            Ok("bar,w,x notin (,abc,def),z in ()"),
        ),
        ("x,y in (a)", Ok("x,y in (a)")),
        ("x=a||y=b", Err(value_err("values[0][x]", "a||y"))),
        (
            "x==a==b",
            Err("found '==', expected: ',' or 'end of string'".into()),
        ),
        (
            "!x=a",
            Err("found '=', expected: ',' or 'end of string'".into()),
        ),
        ("x<a", Err(int_err("a"))),
        ("x>", Err(int_err(""))),
        ("x<9223372036854775808", Err(int_err("9223372036854775808"))),
        ("x>-1", Err(value_err("values[0][x]", "-1"))),
        ("x in (-bad)", Err(value_err("values[0][x]", "-bad"))),
        (
            "x,,y",
            Err("found ',', expected: identifier after ','".into()),
        ),
        (
            "x=a,",
            Err("found '', expected: identifier after ','".into()),
        ),
        (
            ",x,y",
            Err("found ',', expected: !, identifier, or 'end of string'".into()),
        ),
        (
            "(",
            Err("found '(', expected: !, identifier, or 'end of string'".into()),
        ),
        (
            "x nott in (y)",
            Err(unable(&format!("found 'nott', expected: {OPERATORS}"))),
        ),
        (
            "a (",
            Err(unable(&format!("found '(', expected: {OPERATORS}"))),
        ),
        (
            "x!a",
            Err(unable(&format!("found '!', expected: {OPERATORS}"))),
        ),
        (
            "a in (xyz abc)",
            Err(unable("found 'abc', expected: ',' or ')'")),
        ),
        ("x in (a", Err(unable("found '', expected: ',' or ')'"))),
        (
            "a notin(",
            Err(unable("found '', expected: ',', ')' or identifier")),
        ),
        ("x=(a)", Err(unable("found '(', expected: identifier"))),
        ("!", Err(unable("found '', expected: identifier"))),
        ("!!x", Err(unable("found '!', expected: identifier"))),
        (
            "a in (xyz)b notin ()",
            Err("found 'b', expected: ',' or 'end of string'".into()),
        ),
        (
            "x=a b",
            Err("found 'b', expected: ',' or 'end of string'".into()),
        ),
        // A NUL byte ends the token it is in, as in apimachinery's lexer.
        (
            "a=b\u{0}junk",
            Err("found 'junk', expected: ',' or 'end of string'".into()),
        ),
        (
            "a\u{0}b",
            Err(unable(&format!("found 'b', expected: {OPERATORS}"))),
        ),
        (
            "a/b/c",
            Err(unable(&format!(
                "<nil>: Invalid value: \"a/b/c\": {LABEL_KEY_SHAPE}"
            ))),
        ),
        (
            "é",
            Err(unable(&format!(
                "<nil>: Invalid value: \"é\": {NAME_PART_REGEX}"
            ))),
        ),
    ];
    for (input, expected) in cases {
        let got = Selector::parse(input)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map(str::to_owned), "{input:?}");
    }
}

/// Key errors carry the path given to `parse_at`, as with apimachinery's
/// `field.WithPath`.
#[test]
fn parse_at_reports_errors_under_the_given_path() {
    let path = FieldPath::new("spec").child("selector");
    let err = Selector::parse_at("a/b/c", Some(&path)).expect_err("invalid key");
    assert!(
        err.to_string()
            .starts_with("unable to parse requirement: spec.selector: Invalid value: \"a/b/c\""),
        "{err}"
    );
    let err = Selector::parse_at("x=-1", Some(&path)).expect_err("invalid value");
    assert!(
        err.to_string()
            .starts_with("unable to parse requirement: spec.selector.values[0][x]:"),
        "{err}"
    );
}

/// Parsing sorts requirements by key, so equal selectors print equally
/// whatever their input order.
#[test]
fn parsing_is_deterministic_whatever_the_input_order() {
    assert_eq!(sel("x=a,a=x").to_string(), sel("a=x,x=a").to_string());
    assert_eq!(sel("x=a,a=x"), sel("a=x,x=a"));
    assert_eq!(sel("b,a=1,a!=2").to_string(), "a=1,a!=2,b");
}

/// Selectors match label sets as apimachinery's TestSelectorMatches and
/// TestRequirementSelectorMatching say.
#[test]
fn selectors_match_label_sets_like_apimachinery() {
    let set = labels(&[("foo", "bar"), ("baz", "blah")]);
    let cases: Vec<(&str, BTreeMap<String, String>, bool)> = vec![
        ("", labels(&[("x", "y")]), true),
        ("x=y", labels(&[("x", "y")]), true),
        ("x=y,z=w", labels(&[("x", "y"), ("z", "w")]), true),
        ("x!=y,z!=w", labels(&[("x", "z"), ("z", "a")]), true),
        ("notin=in", labels(&[("notin", "in")]), true),
        ("x", labels(&[("x", "z")]), true),
        ("!x", labels(&[("y", "z")]), true),
        ("x>1", labels(&[("x", "2")]), true),
        ("x<1", labels(&[("x", "0")]), true),
        ("x=z", labels(&[]), false),
        ("x=y", labels(&[("x", "z")]), false),
        ("x=y,z=w", labels(&[("x", "w"), ("z", "w")]), false),
        ("x!=y,z!=w", labels(&[("x", "z"), ("z", "w")]), false),
        ("x", labels(&[("y", "z")]), false),
        ("!x", labels(&[("x", "z")]), false),
        ("x>1", labels(&[("x", "0")]), false),
        ("x<1", labels(&[("x", "2")]), false),
        ("z>1", labels(&[("z", "v2")]), false),
        ("z>1", labels(&[]), false),
        ("x notin (),y", labels(&[("y", "")]), true),
        ("!x,y", labels(&[("y", "")]), true),
        ("x notin (),!y", labels(&[("y", "")]), false),
        ("x in ()", labels(&[("y", "baz")]), false),
        ("x in ()", labels(&[("x", "")]), true),
        ("foo=bar,baz=blah", set.clone(), true),
        ("foo=blah", set.clone(), false),
        ("foo=bar,foobar=bar,baz=blah", set, false),
    ];
    for (input, set, expected) in cases {
        assert_eq!(sel(input).matches(&set), expected, "{input:?} on {set:?}");
    }
    let hashed: std::collections::HashMap<String, String> =
        [("a".to_owned(), "1".to_owned())].into_iter().collect();
    assert!(sel("a in (1,2)").matches(&hashed));
}

/// The empty selector matches everything and `nothing` matches nothing, even
/// after requirements are added to it.
#[test]
fn everything_matches_all_and_nothing_matches_none() {
    let any = labels(&[("a", "b")]);
    assert!(Selector::everything().matches(&any));
    assert!(Selector::everything().is_empty());
    assert!(Selector::default().matches(&labels(&[])));
    let nothing = Selector::nothing();
    assert!(!nothing.matches(&any));
    assert!(!nothing.is_empty());
    assert!(nothing.matches_nothing());
    assert_eq!(nothing.to_string(), "");
    assert!(nothing.requirements().is_none());
    let req = Requirement::new("a", Operator::Exists, vec![]).expect("valid");
    assert!(!nothing.add(vec![req.clone()]).matches(&any));
    assert!(Selector::everything().add(vec![req]).matches(&any));
}

/// `requires_exact_match` finds the value of the first requirement on a key
/// when it pins a single value (apimachinery's RequiresExactMatch).
#[test]
fn exact_match_is_reported_only_for_single_value_equality() {
    let cases = [
        ("key=value", Some("value")),
        ("key==value", Some("value")),
        ("key in (value)", Some("value")),
        ("key in (value,value2)", None),
        ("key!=value", None),
        ("key", None),
        ("other=value", None),
        ("key=value,key=value2", Some("value")),
        ("key!=value,key=value2", None),
    ];
    for (input, expected) in cases {
        assert_eq!(sel(input).requires_exact_match("key"), expected, "{input}");
    }
}

/// Requirements built from parts are checked as apimachinery's
/// NewRequirement checks them, with its messages.
#[test]
fn requirements_built_from_parts_are_validated_like_new_requirement() {
    let err = |key: &str, op, values: &[&str]| {
        Requirement::new(key, op, values.iter().map(|v| (*v).to_owned()).collect())
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err("a", Operator::In, &[]),
        "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        err("a", Operator::Equals, &["a", "b"]),
        "values: Invalid value: [\"a\",\"b\"]: exact-match compatibility requires one single value"
    );
    assert_eq!(
        err("a", Operator::GreaterThan, &["1", "2"]),
        "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
    );
    assert_eq!(
        err("a", Operator::Exists, &["<x>"]),
        format!(
            "[values: Invalid value: [\"\\u003cx\\u003e\"]: values set must be empty for exists and does not exist, values[0][a]: Invalid value: \"<x>\": {LABEL_VALUE_MSG}]"
        )
    );
    assert_eq!(
        err("", Operator::Equals, &[""]),
        format!("key: Invalid value: \"\": name part must be non-empty; {NAME_PART_REGEX}")
    );
    let ok = Requirement::new("a", Operator::NotIn, vec!["b".into(), "a".into()]).expect("valid");
    assert_eq!(ok.to_string(), "a notin (a,b)");
    assert_eq!(ok.values(), ["b", "a"]);
    assert_eq!(ok.key(), "a");
    assert_eq!(ok.operator().as_str(), "notin");
}

/// Label sets become equality selectors in key order; the validated form
/// rejects the first bad label.
#[test]
fn label_sets_become_equality_selectors() {
    let set = labels(&[("b", "2"), ("a", "1")]);
    assert_eq!(Selector::from_set(&set).to_string(), "a=1,b=2");
    assert!(Selector::from_set(&set).matches(&set));
    assert!(Selector::from_set(&labels(&[])).is_empty());
    assert_eq!(
        Selector::validated_from_set(&set),
        Ok(Selector::from_set(&set))
    );
    let bad = labels(&[("a", "-1"), ("b/c/d", "x")]);
    let err = Selector::validated_from_set(&bad).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        format!("values[0][a]: Invalid value: \"-1\": {LABEL_VALUE_MSG}")
    );
}

/// A `LabelSelector` object converts as apimachinery's LabelSelectorAsSelector
/// does: empty selects everything, absent selects nothing, bad parts fail.
#[test]
fn label_selector_objects_convert_like_label_selector_as_selector() {
    let expr = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    };
    assert!(LabelSelector::default()
        .to_selector()
        .expect("valid")
        .is_empty());
    assert!(LabelSelector::optional_to_selector(None)
        .expect("valid")
        .matches_nothing());
    let object = LabelSelector {
        match_labels: labels(&[("tier", "web"), ("app", "shop")]),
        match_expressions: vec![
            expr("env", "In", &["prod", "canary"]),
            expr("legacy", "DoesNotExist", &[]),
            expr("app", "Exists", &[]),
        ],
    };
    let selector = object.to_selector().expect("valid");
    assert_eq!(
        selector.to_string(),
        "app=shop,app,env in (canary,prod),!legacy,tier=web"
    );
    let pod = labels(&[("app", "shop"), ("tier", "web"), ("env", "prod")]);
    assert!(selector.matches(&pod));
    let unknown = LabelSelector {
        match_expressions: vec![expr("a", "Gt", &["1"])],
        ..LabelSelector::default()
    };
    assert_eq!(
        unknown.to_selector().expect_err("unknown").to_string(),
        "\"Gt\" is not a valid label selector operator"
    );
    let empty_in = LabelSelector {
        match_expressions: vec![expr("a", "In", &[])],
        ..LabelSelector::default()
    };
    assert_eq!(
        empty_in.to_selector().expect_err("no values").to_string(),
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    );
}

/// `LabelSelector` validation reports what apimachinery's
/// ValidateLabelSelector reports, honouring its options.
#[test]
fn label_selector_objects_validate_like_validate_label_selector() {
    let path = FieldPath::new("spec").child("selector");
    let object = LabelSelector {
        match_labels: labels(&[("app", "-x")]),
        match_expressions: vec![
            LabelSelectorRequirement {
                key: "a".into(),
                operator: LabelSelectorOperator::In,
                values: vec![],
            },
            LabelSelectorRequirement {
                key: "b/c/d".into(),
                operator: LabelSelectorOperator::Exists,
                values: vec!["v".into()],
            },
            LabelSelectorRequirement {
                key: "e".into(),
                operator: "Foo".into(),
                values: vec!["bad value".into()],
            },
        ],
    };
    let texts: Vec<String> = object
        .validate(LabelSelectorValidationOptions::default(), &path)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        texts,
        vec![
            format!("spec.selector.matchLabels: Invalid value: \"-x\": {LABEL_VALUE_MSG}"),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".to_owned(),
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".to_owned(),
            format!("spec.selector.matchExpressions[1].key: Invalid value: \"b/c/d\": {LABEL_KEY_SHAPE}"),
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Foo\": not a valid selector operator".to_owned(),
            format!("spec.selector.matchExpressions[2].values[0]: Invalid value: \"bad value\": {LABEL_VALUE_MSG}"),
        ]
    );
    let lenient = LabelSelectorValidationOptions {
        allow_invalid_label_value_in_selector: true,
        allow_unknown_operator_in_requirement: true,
    };
    assert_eq!(object.validate(lenient, &path).len(), 4);
}

/// `LabelSelector` reads and writes the Kubernetes JSON shape, keeping unknown
/// operators so validation can report them.
#[test]
fn label_selector_objects_use_the_kubernetes_json_shape() {
    let json = r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"env","operator":"NotIn","values":["dev"]},{"key":"x","operator":"Weird"}]}"#;
    let object: LabelSelector = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(
        object.match_expressions[0].operator,
        LabelSelectorOperator::NotIn
    );
    assert_eq!(
        object.match_expressions[1].operator,
        LabelSelectorOperator::Unknown("Weird".into())
    );
    assert_eq!(serde_json::to_string(&object).expect("serializes"), json);
    assert_eq!(
        serde_json::to_string(&LabelSelector::default()).expect("serializes"),
        "{}"
    );
    let empty: LabelSelector = serde_json::from_str("{}").expect("valid JSON");
    assert_eq!(empty, LabelSelector::default());
}

/// Field selector strings parse to apimachinery's string, or fail with its
/// exact message: sorted terms, first operator splits, escapes honoured.
#[test]
fn field_selector_strings_parse_and_fail_exactly_as_apimachinery() {
    let cases: Vec<(&str, Result<&str, &str>)> = vec![
        ("", Ok("")),
        ("metadata.name=x", Ok("metadata.name=x")),
        (
            "spec.nodeName!=y,metadata.name=x",
            Ok("metadata.name=x,spec.nodeName!=y"),
        ),
        ("a==b", Ok("a=b")),
        ("a==", Ok("a=")),
        ("a!=", Ok("a!=")),
        ("a=!b", Ok("a=!b")),
        ("!=x", Ok("!=x")),
        ("a=b\\=c", Ok("a=b\\=c")),
        ("a=b\\,c,d=e", Ok("a=b\\,c,d=e")),
        ("a=b\\\\", Ok("a=b\\\\")),
        ("=", Ok("")),
        ("=,a=b", Ok("a=b")),
        (",,a=b,", Ok("a=b")),
        ("z=1,a=2,m=3", Ok("a=2,m=3,z=1")),
        ("a=b,a=c", Ok("a=b,a=c")),
        ("é=ü", Ok("é=ü")),
        (
            "a=b=c",
            Err("invalid field selector: unescaped character in value: 61"),
        ),
        (
            "a!==b",
            Err("invalid field selector: unescaped character in value: 61"),
        ),
        (
            "a=b\\",
            Err("invalid field selector: invalid escape sequence: \\"),
        ),
        (
            "a=\\x",
            Err("invalid field selector: invalid escape sequence: \\x"),
        ),
        ("x", Err("invalid selector: 'x'; can't understand 'x'")),
        (
            "a,b=c",
            Err("invalid selector: 'a,b=c'; can't understand 'a'"),
        ),
        (
            "a=b,c",
            Err("invalid selector: 'a=b,c'; can't understand 'c'"),
        ),
    ];
    for (input, expected) in cases {
        let got = FieldSelector::parse(input)
            .map(|s| s.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned).map_err(str::to_owned),
            "{input:?}"
        );
    }
    assert!(FieldSelector::parse("=").expect("valid").is_empty());
}

/// A field selector matches through `Fields` or a closure; a missing field
/// reads as "" (so `f=` and `f!=x` match it), as in apimachinery.
#[test]
fn field_selectors_match_with_missing_fields_reading_as_empty() {
    let pod = labels(&[("metadata.name", "web-1"), ("spec.nodeName", "n1")]);
    let cases = [
        ("metadata.name=web-1", true),
        ("metadata.name=web-1,spec.nodeName!=n2", true),
        ("metadata.name=web-1,spec.nodeName!=n1", false),
        ("status.phase=", true),
        ("status.phase!=Running", true),
        ("status.phase=Running", false),
        ("", true),
    ];
    for (input, expected) in cases {
        let selector = FieldSelector::parse(input).expect("valid");
        assert_eq!(selector.matches(&pod), expected, "{input}");
        let by_closure = selector.matches_with(|name| match name {
            "metadata.name" => Some(Cow::Borrowed("web-1")),
            "spec.nodeName" => Some(Cow::Owned("n1".to_owned())),
            _ => None,
        });
        assert_eq!(by_closure, expected, "{input} through a closure");
    }
    assert!(!FieldSelector::nothing().matches(&pod));
    assert!(FieldSelector::nothing().matches_nothing());
    assert!(FieldSelector::everything().matches(&pod));
}

/// Values escape and unescape as apimachinery's EscapeValue and UnescapeValue;
/// sets, exact matches and transforms behave as in apimachinery.
#[test]
fn field_selector_values_sets_exact_matches_and_transforms() {
    assert_eq!(escape_value("a\\b,c=d"), "a\\\\b\\,c\\=d");
    assert_eq!(unescape_value("a\\\\b\\,c\\=d"), Ok("a\\b,c=d".to_owned()));
    assert_eq!(escape_value("plain"), Cow::Borrowed("plain"));
    let set = labels(&[("spec.nodeName", "n,1"), ("metadata.name", "x")]);
    let from_set = FieldSelector::from_set(&set);
    assert_eq!(from_set.to_string(), "metadata.name=x,spec.nodeName=n\\,1");
    assert_eq!(
        FieldSelector::parse(&from_set.to_string()),
        Ok(from_set.clone())
    );
    assert_eq!(from_set.requires_exact_match("spec.nodeName"), Some("n,1"));
    let not_equal = FieldSelector::parse("a!=1,a=2").expect("valid");
    assert_eq!(not_equal.requires_exact_match("a"), Some("2"));
    assert_eq!(not_equal.requires_exact_match("b"), None);
    let renamed = not_equal
        .transform(|field, value| -> Result<_, ()> {
            Ok(match (field, value) {
                ("a", "1") => (String::new(), String::new()),
                (f, v) => (format!("spec.{f}"), v.to_owned()),
            })
        })
        .expect("infallible");
    assert_eq!(renamed.to_string(), "spec.a=2");
    assert_eq!(
        not_equal.transform(|_, _| Err::<(String, String), _>("no")),
        Err("no")
    );
    let reqs = renamed.requirements().expect("terms");
    assert_eq!(reqs[0].operator, FieldOperator::Equals);
}

/// Seeded garbage never panics either parser, and whatever parses prints a
/// string that parses back to the same requirements. On failure the seed is
/// printed.
#[test]
fn garbage_never_panics_the_parsers_and_printed_selectors_reparse() {
    let seed = 0x5E1E_C70F_u64;
    let mut rng = StdRng::seed_from_u64(seed);
    let tokens = [
        "a", "b", "k8s.io/x", "in", "notin", "=", "==", "!=", "!", ">", "<", "(", ")", ",", " ",
        "\t", "\n", "\u{0}", "1", "-", "é", "\\", "x y", "_", ".",
    ];
    for round in 0..20_000 {
        let input: String = (0..rng.gen_range(0..12))
            .map(|_| tokens[rng.gen_range(0..tokens.len())])
            .collect();
        if let Ok(parsed) = Selector::parse(&input) {
            let text = parsed.to_string();
            let again = Selector::parse(&text);
            assert_eq!(
                again.as_ref().map(ToString::to_string),
                Ok(text.clone()),
                "seed {seed} round {round}: {input:?}"
            );
            let _ = parsed.matches(&labels(&[("a", "1"), ("b", "")]));
        }
        if let Ok(parsed) = FieldSelector::parse(&input) {
            // Printing re-sorts terms ("a==c,a=b" prints "a=c,a=b"), so compare
            // the terms as a set.
            let terms = |s: &FieldSelector| {
                let mut t: Vec<String> = s
                    .requirements()
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                t.sort();
                t
            };
            let again = FieldSelector::parse(&parsed.to_string());
            assert_eq!(
                again.as_ref().map(terms),
                Ok(terms(&parsed)),
                "seed {seed} round {round}: {input:?}"
            );
        }
    }
}
