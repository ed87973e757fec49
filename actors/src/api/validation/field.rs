//! Field paths and field errors: apimachinery's `field.Path`, `field.Error` and
//! `field.ErrorList`, printing exactly as Kubernetes prints them, e.g.
//! `spec.containers[0].name: Invalid value: "Foo": a lowercase RFC 1123 label ...`.

use std::collections::HashSet;
use std::fmt::{self, Write as _};

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// A named field; printed after a dot unless it is the root.
    Name(String),
    /// A list index or map key; printed in brackets.
    Subscript(String),
}

/// The path from an object's root to one field, such as
/// `spec.containers[0].name` or `metadata.labels[app]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

impl FieldPath {
    /// A path rooted at the field `name` (apimachinery's `NewPath`).
    pub fn new(name: impl Into<String>) -> FieldPath {
        FieldPath {
            segments: vec![Segment::Name(name.into())],
        }
    }

    /// This path followed by the field `name`.
    pub fn child(&self, name: impl Into<String>) -> FieldPath {
        self.with(Segment::Name(name.into()))
    }

    /// This path subscripted by a list index, e.g. `containers[0]`.
    pub fn index(&self, index: usize) -> FieldPath {
        self.with(Segment::Subscript(index.to_string()))
    }

    /// This path subscripted by a map key, e.g. `labels[app]`. Keys are printed
    /// unquoted, as apimachinery prints them.
    pub fn key(&self, key: impl Into<String>) -> FieldPath {
        self.with(Segment::Subscript(key.into()))
    }

    fn with(&self, segment: Segment) -> FieldPath {
        let mut segments = self.segments.clone();
        segments.push(segment);
        FieldPath { segments }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Name(name) if !name.is_empty() => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    f.write_str(name)?;
                }
                // apimachinery stores an empty name like an empty subscript.
                Segment::Name(_) => f.write_str("[]")?,
                Segment::Subscript(sub) => write!(f, "[{sub}]")?,
            }
        }
        Ok(())
    }
}

/// Renders an optional path the way apimachinery renders a nil `*field.Path`.
pub(crate) fn path_string(path: Option<&FieldPath>) -> String {
    path.map_or_else(|| "<nil>".to_owned(), ToString::to_string)
}

/// What kind of problem a [`FieldError`] reports (apimachinery's `ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A looked-up value does not exist.
    NotFound,
    /// A required value is missing.
    Required,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A value is malformed.
    Invalid,
    /// A value is not one of an enumeration's members.
    NotSupported,
    /// A valid value is not allowed here.
    Forbidden,
    /// A value is too long; the value itself is not shown.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// A list has too few items.
    TooFew,
    /// Something went wrong that is not the user's input.
    Internal,
    /// A value has the wrong type for its schema.
    TypeInvalid,
    /// A value is too short.
    TooShort,
}

impl FieldErrorKind {
    /// The stable machine-readable code, as in a Kubernetes `StatusCause`.
    pub fn code(self) -> &'static str {
        match self {
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::TooFew => "FieldValueTooFew",
            FieldErrorKind::Internal => "InternalError",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorKind::TooShort => "FieldValueTooShort",
        }
    }

    /// The human-readable phrase that starts the error body.
    pub fn message(self) -> &'static str {
        match self {
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::TooFew => "Too few",
            FieldErrorKind::Internal => "Internal error",
            FieldErrorKind::TooShort => "Too short",
        }
    }

    /// Whether the error body shows the offending value.
    fn shows_value(self) -> bool {
        !matches!(
            self,
            FieldErrorKind::Required
                | FieldErrorKind::Forbidden
                | FieldErrorKind::TooLong
                | FieldErrorKind::TooShort
                | FieldErrorKind::Internal
        )
    }
}

/// The offending value of a [`FieldError`], kept with enough type to print it
/// as apimachinery does: strings quoted, numbers and booleans bare, anything
/// else as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BadValue {
    /// A string, printed Go-quoted: `"Foo"`.
    Str(String),
    /// An integer, printed bare: `80`.
    Int(i64),
    /// A boolean, printed bare: `true`.
    Bool(bool),
    /// Anything else, already rendered as Go's `encoding/json` would render it.
    Json(String),
}

impl BadValue {
    /// A list of strings, printed as Go's JSON encoder prints a `[]string`;
    /// `None` is a nil slice and prints as `null`.
    pub fn strings<S: AsRef<str>>(values: Option<&[S]>) -> BadValue {
        let Some(values) = values else {
            return BadValue::Json("null".to_owned());
        };
        let items: Vec<String> = values.iter().map(|v| go_json_string(v.as_ref())).collect();
        BadValue::Json(format!("[{}]", items.join(",")))
    }

    /// A value of a named string type (such as an operator), which Go's error
    /// printer renders through JSON rather than `%q`.
    pub fn named_string(value: &str) -> BadValue {
        BadValue::Json(go_json_string(value))
    }
}

impl From<&str> for BadValue {
    fn from(value: &str) -> BadValue {
        BadValue::Str(value.to_owned())
    }
}

impl From<String> for BadValue {
    fn from(value: String) -> BadValue {
        BadValue::Str(value)
    }
}

impl From<&String> for BadValue {
    fn from(value: &String) -> BadValue {
        BadValue::Str(value.clone())
    }
}

impl From<i64> for BadValue {
    fn from(value: i64) -> BadValue {
        BadValue::Int(value)
    }
}

impl From<i32> for BadValue {
    fn from(value: i32) -> BadValue {
        BadValue::Int(i64::from(value))
    }
}

impl From<bool> for BadValue {
    fn from(value: bool) -> BadValue {
        BadValue::Bool(value)
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => f.write_str(&go_quote(s)),
            BadValue::Int(i) => write!(f, "{i}"),
            BadValue::Bool(b) => write!(f, "{b}"),
            BadValue::Json(json) => f.write_str(json),
        }
    }
}

/// One field-level validation failure (apimachinery's `field.Error`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldError {
    /// What kind of failure this is.
    pub kind: FieldErrorKind,
    /// The rendered path of the offending field, e.g. `spec.containers[0].name`.
    pub field: String,
    /// The offending value; `None` when it is deliberately not shown.
    pub bad_value: Option<BadValue>,
    /// Why the value is wrong; may be empty.
    pub detail: String,
}

impl FieldError {
    /// An error of any kind, at `path`.
    pub fn new(
        kind: FieldErrorKind,
        path: &FieldPath,
        bad_value: Option<BadValue>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError {
            kind,
            field: path.to_string(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// A required value is missing (apimachinery's `field.Required`).
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError::new(FieldErrorKind::Required, path, None, detail)
    }

    /// A value is malformed (apimachinery's `field.Invalid`).
    pub fn invalid(
        path: &FieldPath,
        value: impl Into<BadValue>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError::new(FieldErrorKind::Invalid, path, Some(value.into()), detail)
    }

    /// A value that must be unique is repeated (apimachinery's `field.Duplicate`).
    pub fn duplicate(path: &FieldPath, value: impl Into<BadValue>) -> FieldError {
        FieldError::new(FieldErrorKind::Duplicate, path, Some(value.into()), "")
    }

    /// A looked-up value does not exist (apimachinery's `field.NotFound`).
    pub fn not_found(path: &FieldPath, value: impl Into<BadValue>) -> FieldError {
        FieldError::new(FieldErrorKind::NotFound, path, Some(value.into()), "")
    }

    /// A value outside an enumeration; lists the supported values
    /// (apimachinery's `field.NotSupported`).
    pub fn not_supported<S: AsRef<str>>(
        path: &FieldPath,
        value: impl Into<BadValue>,
        supported: &[S],
    ) -> FieldError {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(
            FieldErrorKind::NotSupported,
            path,
            Some(value.into()),
            detail,
        )
    }

    /// A valid value that is not allowed here (apimachinery's `field.Forbidden`).
    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError::new(FieldErrorKind::Forbidden, path, None, detail)
    }

    /// A value longer than `max_bytes`, or simply too long when no limit is
    /// given (apimachinery's `field.TooLong`).
    pub fn too_long(path: &FieldPath, max_bytes: Option<usize>) -> FieldError {
        let detail = match max_bytes {
            Some(1) => "may not be more than 1 byte".to_owned(),
            Some(max) => format!("may not be more than {max} bytes"),
            None => "value is too long".to_owned(),
        };
        let omitted = Some(BadValue::Str("<value omitted>".to_owned()));
        FieldError::new(FieldErrorKind::TooLong, path, omitted, detail)
    }

    /// A list with `actual` items where at most `max` are allowed; either may
    /// be unknown (apimachinery's `field.TooMany`).
    pub fn too_many(path: &FieldPath, actual: Option<usize>, max: Option<usize>) -> FieldError {
        let detail = match max {
            Some(1) => "must have at most 1 item".to_owned(),
            Some(max) => format!("must have at most {max} items"),
            None => "has too many items".to_owned(),
        };
        let actual = actual.map(|n| BadValue::Int(i64::try_from(n).unwrap_or(i64::MAX)));
        FieldError::new(FieldErrorKind::TooMany, path, actual, detail)
    }

    /// A failure that is not about the user's input (apimachinery's
    /// `field.InternalError`).
    pub fn internal(path: &FieldPath, error: &dyn fmt::Display) -> FieldError {
        FieldError::new(FieldErrorKind::Internal, path, None, error.to_string())
    }

    /// The message without the field name (apimachinery's `ErrorBody`).
    pub fn body(&self) -> String {
        let mut body = self.kind.message().to_owned();
        if self.kind.shows_value() {
            if let Some(value) = &self.bad_value {
                let _ = write!(body, ": {value}");
            }
        }
        if !self.detail.is_empty() {
            let _ = write!(body, ": {}", self.detail);
        }
        body
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// A list of field errors (apimachinery's `field.ErrorList`). It prints as
/// apimachinery's aggregate does: one error alone, several as `[a, b]`,
/// repeated messages once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// An empty list.
    pub fn new() -> FieldErrors {
        FieldErrors(Vec::new())
    }

    /// Appends one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Whether there are no errors: the value passed validation.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many errors there are, counting repeats.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// The errors as a slice.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(())` when empty, otherwise `Err(self)`: the end of a validation.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl Extend<FieldError> for FieldErrors {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl FromIterator<FieldError> for FieldErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> FieldErrors {
        FieldErrors(iter.into_iter().collect())
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(errors: Vec<FieldError>) -> FieldErrors {
        FieldErrors(errors)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen = HashSet::new();
        let messages: Vec<String> = self
            .0
            .iter()
            .map(ToString::to_string)
            .filter(|message| seen.insert(message.clone()))
            .collect();
        match messages.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for FieldErrors {}

/// Quotes a string as Go's `strconv.Quote` (and so `%q`) does.
///
/// Go decides which non-ASCII characters are printable from Unicode tables; this
/// escapes controls, separators, format characters, private-use code points,
/// noncharacters and the unassigned planes, but carries no table of the
/// unassigned code points inside the first two planes, which it prints as they
/// are where Go would escape them.
pub fn go_quote(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let b = c as u32 as usize;
                out.push_str("\\x");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`, exact for ASCII and approximated beyond it.
fn go_is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let cp = c as u32;
    let private_use =
        (0xE000..=0xF8FF).contains(&cp) || (0xF0000..=0xFFFFD).contains(&cp) || cp >= 0x100000;
    let noncharacter = (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE;
    // Outside the first two planes only these blocks are assigned (Unicode 15).
    let unassigned = match cp >> 16 {
        0 | 1 => false,
        2 => !matches!(cp, 0x20000..=0x2A6DF | 0x2A700..=0x2B739 | 0x2B740..=0x2B81D
            | 0x2B820..=0x2CEA1 | 0x2CEB0..=0x2EBE0 | 0x2F800..=0x2FA1D),
        3 => !matches!(cp, 0x30000..=0x3134A | 0x31350..=0x323AF),
        14 => !(0xE0100..=0xE01EF).contains(&cp),
        _ => true,
    };
    if private_use || noncharacter || unassigned {
        return false;
    }
    let format = matches!(
        cp,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
    );
    !(c.is_control() || c.is_whitespace() || format)
}

/// Renders a string as Go's `encoding/json` does (HTML-safe escaping, Go 1.22+
/// short escapes for backspace and form feed).
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
