//! `metadata` validation (apimachinery's `ValidateObjectMeta`): name or
//! generateName, namespace, generation, labels, annotations (keys and total
//! size), owner references and finalizers.

use std::collections::BTreeMap;

use super::helpers::{json_value, validate_nonnegative, NameRule};
use crate::api::meta::ObjectMeta;
use crate::api::validation::{
    is_dns1123_label, is_qualified_name, validate_labels, FieldError, FieldErrors, FieldPath,
};

/// The most bytes all annotation keys and values of one object may hold.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers Kubernetes knows without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// Every problem with an object's metadata (apimachinery's
/// `ValidateObjectMeta`). `namespaced` says whether the kind lives in a
/// namespace; `name_rule` is the kind's rule for names.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_rule: NameRule,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !meta.generate_name.is_empty() {
        for msg in name_rule.check(&meta.generate_name, true) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                &meta.generate_name,
                msg,
            ));
        }
    }
    if meta.name.is_empty() {
        // The server names the object from generateName before validating.
        if meta.generate_name.is_empty() {
            errs.push(FieldError::required(
                &path.child("name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in name_rule.check(&meta.name, false) {
            errs.push(FieldError::invalid(&path.child("name"), &meta.name, msg));
        }
    }
    let ns_path = path.child("namespace");
    if namespaced {
        if meta.namespace.is_empty() {
            errs.push(FieldError::required(&ns_path, ""));
        } else {
            for msg in is_dns1123_label(&meta.namespace) {
                errs.push(FieldError::invalid(&ns_path, &meta.namespace, msg));
            }
        }
    } else if !meta.namespace.is_empty() {
        errs.push(FieldError::forbidden(&ns_path, "not allowed on this type"));
    }
    if let Some(generation) = meta.generation {
        errs.extend(validate_nonnegative(generation, &path.child("generation")));
    }
    errs.extend(validate_labels(&meta.labels, &path.child("labels")));
    errs.extend(validate_annotations(
        &meta.annotations,
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta,
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        &meta.finalizers,
        &path.child("finalizers"),
    ));
    errs
}

/// apimachinery's `ValidateAnnotations`: keys are qualified names (checked
/// lower-cased) and all keys and values together fit in 256 KiB.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut total = 0usize;
    for (key, value) in annotations {
        for msg in is_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, key, msg));
        }
        total = total.saturating_add(key.len()).saturating_add(value.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path,
            Some(TOTAL_ANNOTATION_SIZE_LIMIT),
        ));
    }
    errs
}

fn validate_owner_references(meta: &ObjectMeta, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut first_controller: Option<String> = None;
    for owner in &meta.owner_references {
        let version = owner
            .api_version
            .split_once('/')
            .map_or(owner.api_version.as_str(), |(_, v)| v);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                &owner.api_version,
                "version must not be empty",
            ));
        }
        if owner.kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                &owner.kind,
                "kind must not be empty",
            ));
        }
        if owner.name.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                &owner.name,
                "name must not be empty",
            ));
        }
        if owner.uid.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                &owner.uid.0,
                "uid must not be empty",
            ));
        }
        if owner.controller == Some(true) {
            let current = format!("{}/{}", owner.kind, owner.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    json_value(&meta.owner_references),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for finalizer in finalizers {
        let msgs = is_qualified_name(finalizer);
        let had_errors = !msgs.is_empty();
        for msg in msgs {
            errs.push(FieldError::invalid(path, finalizer, msg));
        }
        if !had_errors
            && !finalizer.contains('/')
            && !STANDARD_FINALIZERS.contains(&finalizer.as_str())
        {
            errs.push(FieldError::invalid(
                path,
                finalizer,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}
