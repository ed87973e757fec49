//! Field selectors (`metadata.name=x,spec.nodeName!=y`), parsed, escaped and
//! printed as apimachinery's `fields` package does, and matched through the
//! [`Fields`] trait so callers can read fields from any representation of an
//! object, archived bytes included.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use super::SelectorError;

/// An object's selectable fields, looked up by name ("metadata.name").
///
/// A missing field reads as the empty string, as in apimachinery: `f=`
/// matches an object without `f`, and `f!=x` matches it too.
pub trait Fields {
    /// The value of `field`, if the object has it.
    fn field(&self, field: &str) -> Option<Cow<'_, str>>;
}

impl Fields for BTreeMap<String, String> {
    fn field(&self, field: &str) -> Option<Cow<'_, str>> {
        self.get(field).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl<S: BuildHasher> Fields for HashMap<String, String, S> {
    fn field(&self, field: &str) -> Option<Cow<'_, str>> {
        self.get(field).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// The operators a field selector supports; `==` parses as [`FieldOperator::Equals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field name, e.g. "spec.nodeName".
    pub field: String,
    /// Whether the field must equal or differ from the value.
    pub operator: FieldOperator,
    /// The unescaped value.
    pub value: String,
}

impl FieldRequirement {
    fn matches_value(&self, actual: Option<&str>) -> bool {
        let equal = actual.unwrap_or("") == self.value;
        match self.operator {
            FieldOperator::Equals => equal,
            FieldOperator::NotEquals => !equal,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    Nothing,
    All(Vec<FieldRequirement>),
}

/// A field selector: the conjunction of its terms. The empty selector matches
/// everything; [`FieldSelector::nothing`] matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    inner: Inner,
}

impl Default for FieldSelector {
    fn default() -> FieldSelector {
        FieldSelector::everything()
    }
}

impl FieldSelector {
    /// The selector that matches every object (apimachinery's `Everything`).
    pub fn everything() -> FieldSelector {
        FieldSelector {
            inner: Inner::All(Vec::new()),
        }
    }

    /// The selector that matches no object (apimachinery's `Nothing`).
    pub fn nothing() -> FieldSelector {
        FieldSelector {
            inner: Inner::Nothing,
        }
    }

    /// A selector of exactly these terms, in this order.
    pub fn from_requirements(requirements: Vec<FieldRequirement>) -> FieldSelector {
        FieldSelector {
            inner: Inner::All(requirements),
        }
    }

    /// A selector requiring each field of `set` to equal its value
    /// (apimachinery's `SelectorFromSet`), in field order.
    pub fn from_set(set: &BTreeMap<String, String>) -> FieldSelector {
        FieldSelector::from_requirements(
            set.iter()
                .map(|(field, value)| FieldRequirement {
                    field: field.clone(),
                    operator: FieldOperator::Equals,
                    value: value.clone(),
                })
                .collect(),
        )
    }

    /// Parses `a=b,c!=d` as apimachinery's `fields.ParseSelector` does: terms
    /// split on unescaped commas and sorted as text, the first `!=`, `==` or
    /// `=` splits a term, values are unescaped (`\\`, `\,`, `\=`), empty
    /// terms and terms with an empty field and empty value are dropped.
    pub fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let (field, operator, raw) =
                split_term(term).ok_or_else(|| SelectorError::FieldTerm {
                    selector: selector.to_owned(),
                    term: term.to_owned(),
                })?;
            let value = unescape_value(raw)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                operator,
                value,
            });
        }
        Ok(FieldSelector::from_requirements(requirements))
    }

    /// Whether the object whose fields `fields` reads satisfies every term.
    pub fn matches<F: Fields + ?Sized>(&self, fields: &F) -> bool {
        self.matches_with(|name| fields.field(name))
    }

    /// [`FieldSelector::matches`] with a lookup closure, for objects that are
    /// not a [`Fields`] implementation (e.g. a view over archived bytes).
    pub fn matches_with<'a, G>(&self, get: G) -> bool
    where
        G: Fn(&str) -> Option<Cow<'a, str>>,
    {
        match &self.inner {
            Inner::Nothing => false,
            Inner::All(terms) => terms
                .iter()
                .all(|term| term.matches_value(get(&term.field).as_deref())),
        }
    }

    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        matches!(&self.inner, Inner::All(terms) if terms.is_empty())
    }

    /// Whether this is the selector that matches nothing.
    pub fn matches_nothing(&self) -> bool {
        self.inner == Inner::Nothing
    }

    /// The terms; `None` for [`FieldSelector::nothing`].
    pub fn requirements(&self) -> Option<&[FieldRequirement]> {
        match &self.inner {
            Inner::Nothing => None,
            Inner::All(terms) => Some(terms),
        }
    }

    /// The value the first `=` term on `field` requires, if there is one
    /// (apimachinery's `RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements()?
            .iter()
            .find(|t| t.operator == FieldOperator::Equals && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// Rewrites every term's field and value with `f`, dropping terms that
    /// come back with both empty (apimachinery's `Transform`), e.g. to map a
    /// legacy field name onto the current one.
    pub fn transform<E>(
        &self,
        mut f: impl FnMut(&str, &str) -> Result<(String, String), E>,
    ) -> Result<FieldSelector, E> {
        let Inner::All(terms) = &self.inner else {
            return Ok(FieldSelector::nothing());
        };
        let mut out = Vec::with_capacity(terms.len());
        for term in terms {
            let (field, value) = f(&term.field, &term.value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            out.push(FieldRequirement {
                field,
                operator: term.operator,
                value,
            });
        }
        Ok(FieldSelector::from_requirements(out))
    }
}

impl fmt::Display for FieldSelector {
    /// The selector string: terms joined by commas, values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.requirements().unwrap_or_default().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

/// Escapes `\`, `,` and `=` in a field selector value (apimachinery's
/// `EscapeValue`).
pub fn escape_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', ',', '=']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Reverses [`escape_value`], rejecting unknown escapes and bare `,` or `=`
/// (apimachinery's `UnescapeValue`).
pub fn unescape_value(value: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(value.len());
    let mut in_slash = false;
    for c in value.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::InvalidEscape(format!("\\{c}")));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(SelectorError::UnescapedChar(c)),
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::InvalidEscape("\\".to_owned()));
    }
    Ok(out)
}

/// Splits on commas not preceded by a backslash escape, keeping escapes.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator: at each position `!=` is tried, then
/// `==`, then `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}
