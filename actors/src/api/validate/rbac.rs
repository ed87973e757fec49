//! RBAC validation (Kubernetes' `pkg/apis/rbac/validation`): roles, cluster
//! roles and their bindings. RBAC names are URL path segments, so
//! `system:controller:foo` is a valid name.

use super::helpers::{invalid_each, is_valid_path_segment_name, NameRule};
use super::meta::validate_object_meta;
use crate::api::rbac::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use crate::api::selector::LabelSelectorValidationOptions;
use crate::api::validation::{is_dns1123_subdomain, FieldError, FieldErrors, FieldPath};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn metadata() -> FieldPath {
    FieldPath::new("metadata")
}

/// A Role.
pub(super) fn validate_role(role: &Role) -> FieldErrors {
    let mut errs = validate_object_meta(&role.metadata, true, NameRule::PathSegment, &metadata());
    for (i, rule) in role.rules.iter().enumerate() {
        errs.extend(validate_policy_rule(
            rule,
            true,
            &FieldPath::new("rules").index(i),
        ));
    }
    errs
}

/// A ClusterRole.
pub(super) fn validate_cluster_role(role: &ClusterRole) -> FieldErrors {
    let mut errs = validate_object_meta(&role.metadata, false, NameRule::PathSegment, &metadata());
    for (i, rule) in role.rules.iter().enumerate() {
        errs.extend(validate_policy_rule(
            rule,
            false,
            &FieldPath::new("rules").index(i),
        ));
    }
    if let Some(aggregation) = &role.aggregation_rule {
        let ap = FieldPath::new("aggregationRule").child("clusterRoleSelectors");
        if aggregation.cluster_role_selectors.is_empty() {
            errs.push(FieldError::required(
                &ap,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, selector) in aggregation.cluster_role_selectors.iter().enumerate() {
            errs.extend(selector.validate(LabelSelectorValidationOptions::default(), &ap.index(i)));
        }
    }
    errs
}

/// rbac's `ValidatePolicyRule`.
fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if rule.verbs.is_empty() {
        errs.push(FieldError::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    if !rule.non_resource_urls.is_empty() {
        if namespaced {
            errs.push(FieldError::invalid(
                &path.child("nonResourceURLs"),
                super::helpers::json_value(&rule.non_resource_urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !rule.api_groups.is_empty()
            || !rule.resources.is_empty()
            || !rule.resource_names.is_empty()
        {
            errs.push(FieldError::invalid(
                &path.child("nonResourceURLs"),
                super::helpers::json_value(&rule.non_resource_urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if rule.api_groups.is_empty() {
        errs.push(FieldError::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if rule.resources.is_empty() {
        errs.push(FieldError::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// A RoleBinding.
pub(super) fn validate_role_binding(binding: &RoleBinding) -> FieldErrors {
    let mut errs =
        validate_object_meta(&binding.metadata, true, NameRule::PathSegment, &metadata());
    errs.extend(validate_role_ref(
        &binding.role_ref,
        &["ClusterRole", "Role"],
    ));
    errs.extend(validate_subjects(&binding.subjects, true));
    errs
}

/// A ClusterRoleBinding.
pub(super) fn validate_cluster_role_binding(binding: &ClusterRoleBinding) -> FieldErrors {
    let mut errs =
        validate_object_meta(&binding.metadata, false, NameRule::PathSegment, &metadata());
    errs.extend(validate_role_ref(&binding.role_ref, &["ClusterRole"]));
    errs.extend(validate_subjects(&binding.subjects, false));
    errs
}

fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let rp = FieldPath::new("roleRef");
    if role_ref.api_group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            &rp.child("apiGroup"),
            &role_ref.api_group,
            &[RBAC_GROUP],
        ));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(
            &rp.child("kind"),
            &role_ref.kind,
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required(&rp.child("name"), ""));
    } else {
        errs.extend(invalid_each(
            &rp.child("name"),
            &role_ref.name,
            is_valid_path_segment_name(&role_ref.name),
        ));
    }
    errs
}

fn validate_subjects(subjects: &[Subject], namespaced: bool) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let sp = FieldPath::new("subjects");
    for (i, subject) in subjects.iter().enumerate() {
        let p = sp.index(i);
        if subject.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        match subject.kind.as_str() {
            "ServiceAccount" => {
                if !subject.name.is_empty() {
                    errs.extend(invalid_each(
                        &p.child("name"),
                        &subject.name,
                        is_dns1123_subdomain(&subject.name),
                    ));
                }
                if !subject.api_group.is_empty() {
                    errs.push(FieldError::not_supported(
                        &p.child("apiGroup"),
                        &subject.api_group,
                        &[""],
                    ));
                }
                if !namespaced && subject.namespace.is_empty() {
                    errs.push(FieldError::required(&p.child("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if subject.api_group != RBAC_GROUP {
                    errs.push(FieldError::not_supported(
                        &p.child("apiGroup"),
                        &subject.api_group,
                        &[RBAC_GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errs
}
