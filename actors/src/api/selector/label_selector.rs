//! The `LabelSelector` API object (`matchLabels` + `matchExpressions`), its
//! validation (apimachinery's `ValidateLabelSelector`) and its conversion to a
//! [`Selector`] (apimachinery's `LabelSelectorAsSelector`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::labels::{Operator, Requirement, Selector};
use super::SelectorError;
use crate::api::validation::{
    is_valid_label_value, validate_label_name, validate_labels, BadValue, FieldError, FieldErrors,
    FieldPath,
};

/// A label query over a set of objects, as it appears in API objects: every
/// `matchLabels` pair and every `matchExpressions` requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// How the key relates to the values.
    pub operator: LabelSelectorOperator,
    /// The values; required for In and NotIn, forbidden for Exists and
    /// DoesNotExist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The operator of a [`LabelSelectorRequirement`]. Any other string is kept
/// as [`LabelSelectorOperator::Unknown`] so validation can report it, as the
/// Kubernetes API server does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelSelectorOperator {
    /// "In": the label's value is one of the values.
    In,
    /// "NotIn": the label is absent or its value is none of the values.
    NotIn,
    /// "Exists": the label is present.
    Exists,
    /// "DoesNotExist": the label is absent.
    DoesNotExist,
    /// Any other string.
    Unknown(String),
}

impl LabelSelectorOperator {
    /// The operator as spelled in the API.
    pub fn as_str(&self) -> &str {
        match self {
            LabelSelectorOperator::In => "In",
            LabelSelectorOperator::NotIn => "NotIn",
            LabelSelectorOperator::Exists => "Exists",
            LabelSelectorOperator::DoesNotExist => "DoesNotExist",
            LabelSelectorOperator::Unknown(other) => other,
        }
    }
}

impl From<&str> for LabelSelectorOperator {
    fn from(s: &str) -> LabelSelectorOperator {
        match s {
            "In" => LabelSelectorOperator::In,
            "NotIn" => LabelSelectorOperator::NotIn,
            "Exists" => LabelSelectorOperator::Exists,
            "DoesNotExist" => LabelSelectorOperator::DoesNotExist,
            other => LabelSelectorOperator::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for LabelSelectorOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LabelSelectorOperator {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LabelSelectorOperator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(LabelSelectorOperator::from(s.as_str()))
    }
}

/// Switches for [`LabelSelector::validate`], as apimachinery's
/// `LabelSelectorValidationOptions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelSelectorValidationOptions {
    /// Accept invalid label values in `matchExpressions` (only for objects
    /// that already hold them).
    pub allow_invalid_label_value_in_selector: bool,
    /// Accept operators other than In, NotIn, Exists and DoesNotExist.
    pub allow_unknown_operator_in_requirement: bool,
}

impl LabelSelector {
    /// The selector this object describes (apimachinery's
    /// `LabelSelectorAsSelector`): an empty object selects everything; the
    /// first invalid `matchLabels` entry (in key order) or `matchExpressions`
    /// entry is the error.
    pub fn to_selector(&self) -> Result<Selector, SelectorError> {
        if self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return Ok(Selector::everything());
        }
        let mut requirements =
            Vec::with_capacity(self.match_labels.len() + self.match_expressions.len());
        for (key, value) in &self.match_labels {
            requirements.push(Requirement::new(
                key.clone(),
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for expr in &self.match_expressions {
            let operator = match &expr.operator {
                LabelSelectorOperator::In => Operator::In,
                LabelSelectorOperator::NotIn => Operator::NotIn,
                LabelSelectorOperator::Exists => Operator::Exists,
                LabelSelectorOperator::DoesNotExist => Operator::DoesNotExist,
                LabelSelectorOperator::Unknown(other) => {
                    return Err(SelectorError::UnknownOperator(other.clone()))
                }
            };
            // apimachinery copies the values into a nil slice, so an empty
            // list prints as `null` in the error.
            let requirement =
                Requirement::checked(expr.key.clone(), operator, expr.values.clone(), None, true)
                    .map_err(SelectorError::Invalid)?;
            requirements.push(requirement);
        }
        Ok(Selector::everything().add(requirements))
    }

    /// [`LabelSelector::to_selector`] for an optional selector: an absent one
    /// selects nothing, as apimachinery has it for a nil `*LabelSelector`.
    pub fn optional_to_selector(
        selector: Option<&LabelSelector>,
    ) -> Result<Selector, SelectorError> {
        selector.map_or_else(|| Ok(Selector::nothing()), LabelSelector::to_selector)
    }

    /// Every problem with this selector, reported at `path` (apimachinery's
    /// `ValidateLabelSelector`). `matchLabels` entries are checked in key order.
    pub fn validate(&self, opts: LabelSelectorValidationOptions, path: &FieldPath) -> FieldErrors {
        let mut errs = validate_labels(&self.match_labels, &path.child("matchLabels"));
        let expressions = path.child("matchExpressions");
        for (i, expr) in self.match_expressions.iter().enumerate() {
            errs.extend(expr.validate(opts, &expressions.index(i)));
        }
        errs
    }
}

impl LabelSelectorRequirement {
    /// Every problem with this requirement, reported at `path` (apimachinery's
    /// `ValidateLabelSelectorRequirement`).
    pub fn validate(&self, opts: LabelSelectorValidationOptions, path: &FieldPath) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let values = path.child("values");
        match &self.operator {
            LabelSelectorOperator::In | LabelSelectorOperator::NotIn => {
                if self.values.is_empty() {
                    errs.push(FieldError::required(
                        &values,
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            LabelSelectorOperator::Exists | LabelSelectorOperator::DoesNotExist => {
                if !self.values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &values,
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            LabelSelectorOperator::Unknown(other) => {
                if !opts.allow_unknown_operator_in_requirement {
                    errs.push(FieldError::invalid(
                        &path.child("operator"),
                        BadValue::named_string(other),
                        "not a valid selector operator",
                    ));
                }
            }
        }
        errs.extend(validate_label_name(&self.key, &path.child("key")));
        if !opts.allow_invalid_label_value_in_selector {
            for (i, value) in self.values.iter().enumerate() {
                for msg in is_valid_label_value(value) {
                    errs.push(FieldError::invalid(&values.index(i), value, msg));
                }
            }
        }
        errs
    }
}
