//! Label and field selectors, parsed, matched and printed exactly as
//! apimachinery's `labels` and `fields` packages do.
//!
//! - [`Selector`] and [`Requirement`]: label selectors in the string syntax
//!   (`a=b,c!=d,e in (x,y),f notin (z),g,!h`, also `==`, `>` and `<`), matched
//!   against any [`Labels`] and printed back in canonical, key-sorted form.
//! - [`LabelSelector`]: the API object (`matchLabels` + `matchExpressions`),
//!   its validation, and its conversion to a [`Selector`].
//! - [`FieldSelector`]: `metadata.name=x,spec.nodeName!=y`, matched through the
//!   [`Fields`] trait so callers can look fields up in whatever form an object
//!   is stored.
//!
//! One deliberate difference: requirements on the same key keep their input
//! order when sorted (a stable sort), where Go's unstable sort may reorder them
//! once a selector has more than twelve requirements.

mod fields;
mod label_selector;
mod labels;
mod lexer;

pub use fields::{
    escape_value, unescape_value, FieldOperator, FieldRequirement, FieldSelector, Fields,
};
pub use label_selector::{
    LabelSelector, LabelSelectorOperator, LabelSelectorRequirement, LabelSelectorValidationOptions,
};
pub use labels::{Labels, Operator, Requirement, Selector};

use crate::api::validation::{go_quote, FieldErrors};

#[cfg(test)]
mod tests;

/// Why a selector could not be built, worded as apimachinery words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string breaks the grammar between requirements,
    /// e.g. "found ',', expected: !, identifier, or 'end of string'".
    #[error("{0}")]
    Syntax(String),
    /// One requirement of a label selector string breaks the grammar.
    #[error("unable to parse requirement: {0}")]
    RequirementSyntax(String),
    /// One requirement of a label selector string has an invalid key or value.
    #[error("unable to parse requirement: {0}")]
    RequirementInvalid(FieldErrors),
    /// A requirement built from parts has an invalid key, operator or values
    /// (apimachinery's `NewRequirement` errors).
    #[error("{0}")]
    Invalid(FieldErrors),
    /// A `LabelSelector` uses an operator other than In, NotIn, Exists or
    /// DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    UnknownOperator(String),
    /// A field selector term has no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole selector string.
        selector: String,
        /// The term that could not be split.
        term: String,
    },
    /// A field selector value has a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value has an unescaped `,` or `=`; apimachinery prints
    /// the character as its code point number.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedChar(char),
}
