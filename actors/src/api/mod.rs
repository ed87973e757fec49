//! The Kubernetes API object model: the pure value types and rules every API
//! object is built from, behaving exactly as k8s.io/apimachinery does.
//!
//! What lives here: `resource.Quantity` ([`quantity`]), name, label and port rules
//! with apimachinery's exact error messages plus field paths and field errors
//! ([`validation`]), label and field selectors ([`selector`]), the typed
//! objects in Kubernetes' JSON shape ([`meta`], [`core`], [`apps`], [`batch`],
//! [`coordination`], [`discovery`], [`networking`], [`autoscaling`], [`rbac`]),
//! the registry of kinds and the [`Object`] enum ([`object`]), decoding with
//! unknown-field reporting ([`decode`], YAML as Kubernetes reads it in [`yaml`]), defaulting ([`defaults`]) and object
//! validation ([`validate`]).
//!
//! What does not: storage, watches, HTTP, or any I/O. Everything in this module is
//! a pure function of its input, so it can be tested without actors and reused on
//! archived bytes.
//!
//! The reference is apimachinery v0.36 (Kubernetes 1.36); each module names the
//! places where Hive deliberately differs.

#![warn(missing_docs)]

pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod convert;
pub mod coordination;
pub mod core;
pub mod decode;
pub mod defaults;
pub mod discovery;
pub mod intstr;
pub mod meta;
pub mod networking;
pub mod object;
pub mod protobuf;
pub mod quantity;
pub mod rbac;
pub mod selector;
pub mod status;
pub mod time;
pub mod validate;
pub mod validation;
pub mod yaml;

pub use decode::{decode_object, DecodeError, Format, Warning};
pub use intstr::IntOrString;
pub use meta::{ObjectMeta, TypeMeta, Uid};
pub use object::{GroupVersionKind, Object, Resource, ResourceInfo, RESOURCES};
pub use quantity::{Quantity, QuantityError, QuantityFormat};
pub use selector::{
    FieldSelector, Fields, LabelSelector, LabelSelectorOperator, LabelSelectorRequirement, Labels,
    Requirement, Selector, SelectorError,
};
pub use status::{ListMeta, Scale, Status, StatusCause, StatusDetails};
pub use time::{MicroTime, Time};
pub use validation::{BadValue, FieldError, FieldErrorKind, FieldErrors, FieldPath};
