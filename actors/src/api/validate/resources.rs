//! Container resource validation (core's `ValidateResourceRequirements`):
//! resource names, non-negative amounts, and requests within limits.

use super::helpers::{invalid_each, IS_NEGATIVE_ERROR_MSG};
use crate::api::core::ResourceRequirements;
use crate::api::quantity::Quantity;
use crate::api::validation::{is_qualified_name, FieldError, FieldErrors, FieldPath};

/// Resource names containers may request without a domain prefix.
fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// core's `ValidateResourceRequirements` for a container.
pub(super) fn validate_resource_requirements(
    req: &ResourceRequirements,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    for (name, quantity) in &req.limits {
        let p = lim_path.key(name.clone());
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_nonnegative_quantity(quantity, &p));
    }
    for (name, quantity) in &req.requests {
        let p = req_path.key(name.clone());
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_nonnegative_quantity(quantity, &p));
        match req.limits.get(name) {
            Some(limit) if !overcommit_allowed(name) && quantity != limit => {
                errs.push(FieldError::invalid(
                    &req_path,
                    quantity.to_string(),
                    format!("must be equal to {name} limit of {limit}"),
                ));
            }
            Some(limit) if quantity > limit => {
                errs.push(FieldError::invalid(
                    &req_path,
                    quantity.to_string(),
                    format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
            None if !overcommit_allowed(name) => {
                errs.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            _ => {}
        }
    }
    errs
}

/// Whether requests may be below limits: not for hugepages or extended
/// (domain-prefixed, non-kubernetes.io) resources.
fn overcommit_allowed(name: &str) -> bool {
    if name.starts_with("hugepages-") {
        return false;
    }
    match name.split_once('/') {
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
        None => true,
    }
}

fn validate_container_resource_name(name: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = invalid_each(path, name, is_qualified_name(name));
    if !name.contains('/') && !is_standard_container_resource(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
    errs
}

/// core's `ValidateNonnegativeQuantity`.
pub(super) fn validate_nonnegative_quantity(value: &Quantity, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if value.signum() < 0 {
        errs.push(FieldError::invalid(
            path,
            value.to_string(),
            IS_NEGATIVE_ERROR_MSG,
        ));
    }
    errs
}
