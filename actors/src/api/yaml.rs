//! YAML manifests turned into JSON-shaped data the way Kubernetes turns
//! them (sigs.k8s.io/yaml over go-yaml v2), so a manifest means here what it
//! means to `kubectl` and the API server.
//!
//! That is YAML 1.1 for plain (unquoted) scalars: `0755` is the octal number
//! 493, `0x1F` is 31, `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `~` and
//! `null` are null, underscores in numbers are ignored, a whole-number float
//! is a JSON integer, and a plain timestamp becomes an RFC 3339 string.
//! Quoted and block scalars are always strings. Non-string mapping keys
//! become their JSON text (`80:` is the key `"80"`). Anchors, aliases and
//! `<<` merge keys are expanded, within a node budget that stops
//! "billion laughs" documents.
//!
//! Deliberate differences: `.inf` and `.nan` are rejected (Kubernetes fails
//! later, when it encodes them as JSON); a duplicate mapping key keeps its
//! last value.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// The deepest nesting of mappings and sequences accepted, as for JSON.
pub const MAX_DEPTH: usize = 128;

/// The most nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 1_000_000;

/// Why a YAML document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// The text is not well-formed YAML.
    #[error("yaml: line {line}: {message}")]
    Syntax {
        /// The 1-based line of the problem.
        line: usize,
        /// What the scanner found.
        message: String,
    },
    /// The document has a shape JSON cannot hold (a mapping as a key, an
    /// infinite number, an unknown alias, nesting or expansion too large).
    #[error("yaml: {0}")]
    Unsupported(String),
}

/// Every document of a YAML stream, as JSON values; an empty document is
/// `null`.
pub fn documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    loop {
        let (event, _mark) = parser.next_token().map_err(|e| YamlError::Syntax {
            line: e.marker().line(),
            message: e.info().to_owned(),
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event)?;
    }
    Ok(builder.documents)
}

/// The first document of a YAML stream as a JSON value (`null` when there
/// is none), which is what the API server reads from a YAML body.
pub fn first_document(text: &str) -> Result<Value, YamlError> {
    Ok(documents(text)?.into_iter().next().unwrap_or(Value::Null))
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        merges: Vec<Value>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    documents: Vec<Value>,
    nodes: usize,
    started: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart => {
                self.started += 1;
                self.stack.clear();
            }
            Event::DocumentEnd => {
                if self.documents.len() < self.started {
                    self.documents.push(Value::Null);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_ref())?;
                self.push_value(value, anchor, 1, Some((text, style)))?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open()?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open()?;
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(YamlError::Unsupported("unbalanced collection".to_owned()));
                };
                let (value, anchor) = match frame {
                    Frame::Seq { items, anchor } => (Value::Array(items), anchor),
                    Frame::Map {
                        mut map,
                        merges,
                        anchor,
                        ..
                    } => {
                        apply_merges(&mut map, merges)?;
                        (Value::Object(map), anchor)
                    }
                };
                self.push_value(value, anchor, 0, None)?;
            }
            Event::Alias(id) => {
                let Some((value, size)) = self.anchors.get(&id).cloned() else {
                    return Err(YamlError::Unsupported(format!(
                        "unknown anchor {id} referenced"
                    )));
                };
                self.push_value(value, 0, size, None)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::Unsupported("exceeded max depth".to_owned()));
        }
        self.charge(1)
    }

    fn charge(&mut self, nodes: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(YamlError::Unsupported(
                "document expands to too many nodes (aliases?)".to_owned(),
            ));
        }
        Ok(())
    }

    /// Places a finished node in its parent (or as the document), recording
    /// it under its anchor. `cost` is what the node adds to the budget.
    fn push_value(
        &mut self,
        value: Value,
        anchor: usize,
        cost: usize,
        scalar: Option<(String, TScalarStyle)>,
    ) -> Result<(), YamlError> {
        self.charge(cost)?;
        if anchor != 0 {
            let size = count_nodes(&value);
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.documents.len() < self.started {
                    self.documents.push(value);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, key, merges, ..
            }) => match key.take() {
                None => {
                    let is_merge = matches!(&scalar, Some((t, TScalarStyle::Plain)) if t == "<<");
                    *key = Some(if is_merge {
                        MERGE_KEY.to_owned()
                    } else {
                        key_string(&value)?
                    });
                }
                Some(k) if k == MERGE_KEY => merges.push(value),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

/// Marks a pending `<<` key; not a string YAML text can produce as a key.
const MERGE_KEY: &str = "\u{0}<<merge>>";

/// Merges `<<` sources into `map`: keys already present win, and earlier
/// sources win over later ones.
fn apply_merges(map: &mut Map<String, Value>, merges: Vec<Value>) -> Result<(), YamlError> {
    for merge in merges {
        let sources = match merge {
            Value::Array(items) => items,
            other => vec![other],
        };
        for source in sources {
            let Value::Object(source) = source else {
                return Err(YamlError::Unsupported(
                    "map merge requires map or sequence of maps as the value".to_owned(),
                ));
            };
            for (k, v) in source {
                map.entry(k).or_insert(v);
            }
        }
    }
    Ok(())
}

fn count_nodes(value: &Value) -> usize {
    let mut count = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        count += 1;
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// A mapping key as sigs.k8s.io/yaml writes it into JSON.
fn key_string(value: &Value) -> Result<String, YamlError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => Err(YamlError::Unsupported(
            "unsupported map key: a mapping or sequence".to_owned(),
        )),
    }
}

/// Resolves one scalar to a JSON value by YAML 1.1's rules for plain
/// scalars, honouring explicit `!!str`-style tags.
fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, YamlError> {
    let tag = tag.filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!");
    if let Some(tag) = tag {
        match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => return Ok(Value::String(text.to_owned())),
            "null" => return Ok(Value::Null),
            _ => {}
        }
    } else if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    resolve_plain(text)
}

fn resolve_plain(text: &str) -> Result<Value, YamlError> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Ok(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Ok(Value::Bool(false))
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(YamlError::Unsupported(format!(
                "json: unsupported value: {text}"
            )))
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(ts) = plain_timestamp(text) {
        return Ok(Value::String(ts));
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(n) = parse_go_int(&plain) {
        return Ok(n);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Ok(float_value(f));
        }
    }
    Ok(Value::String(text.to_owned()))
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: optional sign, then
/// `0x`/`0o`/`0b` prefixes or a leading `0` for octal.
fn parse_go_int(s: &str) -> Option<Value> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Value::Number(Number::from(value)))
    } else {
        Some(Value::Number(Number::from(magnitude)))
    }
}

/// go-yaml's float shape: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A float as Go's JSON encoder writes it: whole numbers without a fraction.
fn float_value(f: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if f.fract() == 0.0 && f.abs() < EXACT {
        // Exact: |f| < 2^53 and whole.
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A plain timestamp (`2001-12-14`, `2001-12-14T21:59:43Z`) as the RFC 3339
/// string Go writes for it.
fn plain_timestamp(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let date_ok = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    if !date_ok {
        return None;
    }
    if b.len() == 10 {
        return Some(format!("{text}T00:00:00Z"));
    }
    crate::api::time::Time::parse(text)
        .ok()
        .map(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Plain scalars resolve as go-yaml v2 resolves them (even the key `y` is
    /// `true`); quoted ones stay strings.
    #[test]
    fn plain_scalars_resolve_like_yaml_1_1() {
        let doc = first_document(
            "a: 0755\nb: yes\nc: 0x1F\nd: 'on'\ne: 1_000\nf: 09\ng: \"0755\"\nh: 1e3\ni: ~\nj: -12\nk: 1.5\nl: 2024-05-01\nm: .5\nnn: 0o17\no: +3\ny: 1\n",
        );
        assert_eq!(
            doc,
            Ok(
                json!({"a": 493, "b": true, "c": 31, "d": "on", "e": 1000, "f": 9, "g": "0755",
                "h": 1000, "i": null, "j": -12, "k": 1.5, "l": "2024-05-01T00:00:00Z", "m": 0.5,
                "nn": 15, "o": 3, "true": 1})
            )
        );
    }

    /// Anchors, aliases and merge keys expand; explicit keys win over merged ones.
    #[test]
    fn anchors_and_merge_keys_expand() {
        let doc = first_document("base: &b {p: 1, q: 2}\nother:\n  <<: *b\n  q: 3\nlist: [*b]\n");
        assert_eq!(
            doc,
            Ok(
                json!({"base": {"p": 1, "q": 2}, "other": {"p": 1, "q": 3}, "list": [{"p": 1, "q": 2}]})
            )
        );
    }

    /// Non-string keys become their JSON text, as sigs.k8s.io/yaml writes them.
    #[test]
    fn non_string_keys_become_strings() {
        assert_eq!(
            first_document("80: http\ntrue: 1\n"),
            Ok(json!({"80": "http", "true": 1}))
        );
    }

    /// A billion-laughs document is refused instead of expanded.
    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(
            first_document(&text),
            Err(YamlError::Unsupported(_))
        ));
    }

    /// Deep nesting is refused, and malformed text is a syntax error.
    #[test]
    fn deep_or_broken_documents_are_errors() {
        let deep = "[".repeat(500) + &"]".repeat(500);
        assert!(first_document(&deep).is_err());
        assert!(matches!(
            first_document("a: [1, 2"),
            Err(YamlError::Syntax { .. })
        ));
    }

    /// Every document of a stream is returned; the API server reads the first.
    #[test]
    fn streams_split_into_documents() {
        let docs = documents("a: 1\n---\nb: 2\n---\n");
        assert_eq!(docs.map(|d| d.len()), Ok(3));
        assert_eq!(first_document(""), Ok(Value::Null));
    }
}
