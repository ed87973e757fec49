//! Label selectors: requirements, selectors, matching and canonical printing
//! (apimachinery's `labels.Requirement` and `labels.Selector`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use super::lexer;
use super::SelectorError;
use crate::api::validation::{
    is_qualified_name, is_valid_label_value, path_string, BadValue, FieldError, FieldErrorKind,
    FieldErrors, FieldPath,
};

/// A set of labels a selector can be matched against.
pub trait Labels {
    /// The value of `key`, if the label is present.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// How a requirement relates a label to its values (apimachinery's
/// `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key=value`.
    Equals,
    /// `key==value`, the same as `=`.
    DoubleEquals,
    /// `key in (a,b)`.
    In,
    /// `key!=value`: the label is absent or differs.
    NotEquals,
    /// `key notin (a,b)`: the label is absent or none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `key>n`: the label is an integer greater than n.
    GreaterThan,
    /// `key<n`: the label is an integer less than n.
    LessThan,
}

impl Operator {
    /// apimachinery's spelling of the operator ("!", "=", "in", "gt", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::DoesNotExist => "!",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::In => "in",
            Operator::NotEquals => "!=",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One condition of a label selector: a key, an operator and values. Only
/// valid requirements can be built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking it as apimachinery's `NewRequirement`
    /// does: a qualified-name key; one value for `=`, `==`, `!=`; at least one
    /// for `in`, `notin`; none for exists and does-not-exist; one integer for
    /// `>` and `<`; every value a valid label value.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        Requirement::checked(key.into(), operator, values, None, false)
            .map_err(SelectorError::Invalid)
    }

    /// `NewRequirement` with an optional field path for its errors; a missing
    /// `values` list (Go's nil slice) prints as `null` when `nil_values`.
    pub(crate) fn checked(
        key: String,
        operator: Operator,
        values: Vec<String>,
        path: Option<&FieldPath>,
        nil_values: bool,
    ) -> Result<Requirement, FieldErrors> {
        let mut errs = FieldErrors::new();
        let child = |name: &str| match path {
            Some(p) => p.child(name),
            None => FieldPath::new(name),
        };
        if let Some(err) = validate_label_key(&key, Some(&child("key"))) {
            errs.push(err);
        }
        let values_path = child("values");
        let bad_values = || {
            let shown = (!(nil_values && values.is_empty())).then_some(values.as_slice());
            BadValue::strings(shown)
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(FieldError::invalid(
                &values_path,
                bad_values(),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(FieldError::invalid(
                    &values_path,
                    bad_values(),
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(FieldError::invalid(
                    &values_path,
                    bad_values(),
                    "values set must be empty for exists and does not exist",
                ))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        &values_path,
                        bad_values(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            &values_path.index(i),
                            value,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            let msgs = is_valid_label_value(value);
            if !msgs.is_empty() {
                let path = values_path.index(i).key(key.as_str());
                errs.push(FieldError::invalid(&path, value, msgs.join("; ")));
            }
        }
        errs.into_result()?;
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, in the order given (parsed selectors sort and deduplicate
    /// them).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Whether `labels` satisfy this requirement (apimachinery's
    /// `Requirement.Matches`). A missing label satisfies `!=`, `notin` and
    /// does-not-exist; `>` and `<` need the label to be an integer.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let label = labels.label(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                label.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => label.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(label), [wanted]) = (label, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(have), Ok(wanted)) = (label.parse::<i64>(), wanted.parse::<i64>()) else {
                    return false;
                };
                match self.operator {
                    Operator::GreaterThan => have > wanted,
                    _ => have < wanted,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// apimachinery's `Requirement.String`: multiple values print sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        f.write_str(&values.join(","))?;
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// apimachinery's `validateLabelKey`: one error joining every reason.
pub(crate) fn validate_label_key(key: &str, path: Option<&FieldPath>) -> Option<FieldError> {
    let msgs = is_qualified_name(key);
    (!msgs.is_empty()).then(|| FieldError {
        kind: FieldErrorKind::Invalid,
        field: path_string(path),
        bad_value: Some(BadValue::from(key)),
        detail: msgs.join("; "),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    Nothing,
    All(Vec<Requirement>),
}

/// A label selector: the conjunction of its requirements, kept sorted by key.
/// The empty selector matches everything; [`Selector::nothing`] matches
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    inner: Inner,
}

impl Default for Selector {
    fn default() -> Selector {
        Selector::everything()
    }
}

impl Selector {
    /// The selector that matches every label set (apimachinery's `Everything`).
    pub fn everything() -> Selector {
        Selector {
            inner: Inner::All(Vec::new()),
        }
    }

    /// The selector that matches no label set (apimachinery's `Nothing`).
    pub fn nothing() -> Selector {
        Selector {
            inner: Inner::Nothing,
        }
    }

    /// Parses the label selector syntax exactly as apimachinery's
    /// `labels.Parse` does, including its error messages.
    pub fn parse(selector: &str) -> Result<Selector, SelectorError> {
        Selector::parse_at(selector, None)
    }

    /// [`Selector::parse`] with a field path for key and value errors, as
    /// `labels.Parse(s, field.WithPath(path))` has it.
    pub fn parse_at(selector: &str, path: Option<&FieldPath>) -> Result<Selector, SelectorError> {
        let requirements = lexer::parse(selector, path)?;
        Ok(Selector::everything().add(requirements))
    }

    /// A selector requiring each label of `set` to have its value, without
    /// validating them (apimachinery's `SelectorFromValidatedSet`).
    pub fn from_set(set: &BTreeMap<String, String>) -> Selector {
        let requirements = set
            .iter()
            .map(|(key, value)| Requirement {
                key: key.clone(),
                operator: Operator::Equals,
                values: vec![value.clone()],
            })
            .collect();
        Selector::everything().add(requirements)
    }

    /// [`Selector::from_set`] after checking every key and value, reporting
    /// the first invalid label in key order (apimachinery's
    /// `ValidatedSelectorFromSet`).
    pub fn validated_from_set(set: &BTreeMap<String, String>) -> Result<Selector, SelectorError> {
        let requirements = set
            .iter()
            .map(|(k, v)| Requirement::new(k.clone(), Operator::Equals, vec![v.clone()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector::everything().add(requirements))
    }

    /// This selector with more requirements, re-sorted by key; adding to
    /// [`Selector::nothing`] leaves it matching nothing.
    pub fn add(&self, requirements: Vec<Requirement>) -> Selector {
        match &self.inner {
            Inner::Nothing => Selector::nothing(),
            Inner::All(existing) => {
                let mut all = existing.clone();
                all.extend(requirements);
                all.sort_by(|a, b| a.key.cmp(&b.key));
                Selector {
                    inner: Inner::All(all),
                }
            }
        }
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match &self.inner {
            Inner::Nothing => false,
            Inner::All(requirements) => requirements.iter().all(|r| r.matches(labels)),
        }
    }

    /// Whether the selector restricts nothing (it has no requirements).
    pub fn is_empty(&self) -> bool {
        matches!(&self.inner, Inner::All(r) if r.is_empty())
    }

    /// Whether this is the selector that matches nothing.
    pub fn matches_nothing(&self) -> bool {
        self.inner == Inner::Nothing
    }

    /// The requirements in key order; `None` for [`Selector::nothing`].
    pub fn requirements(&self) -> Option<&[Requirement]> {
        match &self.inner {
            Inner::Nothing => None,
            Inner::All(requirements) => Some(requirements),
        }
    }

    /// The single value the selector requires `label` to have, if its first
    /// requirement on `label` is an `=`, `==` or one-value `in`.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let requirement = self.requirements()?.iter().find(|r| r.key == label)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [only]) => Some(only),
            _ => None,
        }
    }
}

impl fmt::Display for Selector {
    /// The canonical string: requirements in key order, joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements().unwrap_or_default().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}
