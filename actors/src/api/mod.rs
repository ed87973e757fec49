//! The Kubernetes API object model: the pure value types and rules every API
//! object is built from, behaving exactly as k8s.io/apimachinery does.
//!
//! What lives here: `resource.Quantity` ([`quantity`]), name, label and port rules
//! with apimachinery's exact error messages plus field paths and field errors
//! ([`validation`]), and label and field selectors ([`selector`]).
//!
//! What does not: storage, watches, HTTP, or any I/O. Everything in this module is
//! a pure function of its input, so it can be tested without actors and reused on
//! archived bytes.
//!
//! The reference is apimachinery v0.36 (Kubernetes 1.36); each module names the
//! places where Hive deliberately differs.

pub mod quantity;
pub mod selector;
pub mod validation;

pub use quantity::{Quantity, QuantityError, QuantityFormat};
pub use selector::{
    FieldSelector, Fields, LabelSelector, LabelSelectorOperator, LabelSelectorRequirement, Labels,
    Requirement, Selector, SelectorError,
};
pub use validation::{BadValue, FieldError, FieldErrorKind, FieldErrors, FieldPath};
