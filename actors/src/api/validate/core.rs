//! Validation of the simpler core kinds and Leases: Namespace, Node,
//! ConfigMap, Secret, Event, ServiceAccount (core's `validation.go`) and
//! Lease (`coordination/validation`).

use std::collections::BTreeSet;

use super::env::is_config_map_key;
use super::helpers::{invalid_each, is_cidr, json_value, NameRule};
use super::meta::validate_object_meta;
use crate::api::coordination::Lease;
use crate::api::core::{ConfigMap, Event, Namespace, Node, Secret, ServiceAccount};
use crate::api::validation::{
    is_dns1123_subdomain, is_qualified_name, is_valid_label_value, validate_label_name, FieldError,
    FieldErrorKind, FieldErrors, FieldPath,
};

/// The most bytes a Secret's or ConfigMap's data may hold.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn metadata() -> FieldPath {
    FieldPath::new("metadata")
}

/// A Namespace.
pub(super) fn validate_namespace(ns: &Namespace) -> FieldErrors {
    let mut errs = validate_object_meta(&ns.metadata, false, NameRule::Dns1123Label, &metadata());
    let fp = FieldPath::new("spec").child("finalizers");
    for finalizer in ns.spec.iter().flat_map(|s| &s.finalizers) {
        errs.extend(invalid_each(&fp, finalizer, is_qualified_name(finalizer)));
        if !finalizer.contains('/')
            && !["kubernetes", "orphan", "foregroundDeletion"].contains(&finalizer.as_str())
        {
            errs.push(FieldError::invalid(
                &fp,
                finalizer,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// A Node.
pub(super) fn validate_node(node: &Node) -> FieldErrors {
    let mut errs = validate_object_meta(
        &node.metadata,
        false,
        NameRule::Dns1123Subdomain,
        &metadata(),
    );
    let sp = FieldPath::new("spec");
    let tp = sp.child("taints");
    let mut seen = BTreeSet::new();
    for (i, taint) in node.spec.taints.iter().enumerate() {
        let p = tp.index(i);
        errs.extend(validate_label_name(&taint.key, &p.child("key")));
        let msgs = is_valid_label_value(&taint.value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                &p.child("value"),
                &taint.value,
                msgs.join(";"),
            ));
        }
        let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
        if taint.effect.is_empty() {
            errs.push(FieldError::required(&p.child("effect"), ""));
        }
        if !effects.contains(&taint.effect.as_str()) {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                &taint.effect,
                &effects,
            ));
        }
        if !seen.insert((taint.key.clone(), taint.effect.clone())) {
            errs.push(FieldError::new(
                FieldErrorKind::Duplicate,
                &p,
                Some(json_value(taint)),
                "taints must be unique by key and effect pair",
            ));
        }
    }
    let cp = sp.child("podCIDRs");
    for (i, cidr) in node.spec.pod_cidrs.iter().enumerate() {
        if !is_cidr(cidr) {
            errs.push(FieldError::invalid(
                &cp.index(i),
                cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    if node.spec.pod_cidrs.len() > 2 {
        errs.push(FieldError::invalid(
            &cp,
            json_value(&node.spec.pod_cidrs),
            "may specify no more than one CIDR for each IP family",
        ));
    }
    errs
}

/// A ConfigMap.
pub(super) fn validate_config_map(cm: &ConfigMap) -> FieldErrors {
    let mut errs =
        validate_object_meta(&cm.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let mut total = 0usize;
    let dp = FieldPath::new("data");
    for (key, value) in &cm.data {
        errs.extend(invalid_each(
            &dp.key(key.clone()),
            key,
            is_config_map_key(key),
        ));
        if cm.binary_data.contains_key(key) {
            errs.push(FieldError::invalid(
                &dp.key(key.clone()),
                key,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(value.len());
    }
    let bp = FieldPath::new("binaryData");
    for (key, value) in &cm.binary_data {
        errs.extend(invalid_each(
            &bp.key(key.clone()),
            key,
            is_config_map_key(key),
        ));
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(
            &FieldPath::new(""),
            Some(MAX_SECRET_SIZE),
        ));
    }
    errs
}

/// A Secret, after `stringData` has been merged into `data` by defaulting.
pub(super) fn validate_secret(secret: &Secret) -> FieldErrors {
    let mut errs = validate_object_meta(
        &secret.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &metadata(),
    );
    let dp = FieldPath::new("data");
    let mut total = 0usize;
    let keys = secret.data.keys().chain(secret.string_data.keys());
    for key in keys.collect::<BTreeSet<_>>() {
        errs.extend(invalid_each(
            &dp.key(key.clone()),
            key,
            is_config_map_key(key),
        ));
    }
    for value in secret.data.values() {
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&dp, Some(MAX_SECRET_SIZE)));
    }
    let has = |key: &str| secret.data.contains_key(key) || secret.string_data.contains_key(key);
    match secret.type_.as_str() {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .get("kubernetes.io/service-account.name");
            if name.is_none_or(String::is_empty) {
                errs.push(FieldError::required(
                    &metadata()
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => errs.extend(validate_docker_config(secret, ".dockercfg", &dp)),
        "kubernetes.io/dockerconfigjson" => {
            errs.extend(validate_docker_config(secret, ".dockerconfigjson", &dp))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(&dp.key("username"), ""));
            errs.push(FieldError::required(&dp.key("password"), ""));
        }
        "kubernetes.io/ssh-auth"
            if secret
                .data
                .get("ssh-privatekey")
                .is_none_or(|v| v.0.is_empty()) =>
        {
            errs.push(FieldError::required(&dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(FieldError::required(&dp.key(key), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

fn validate_docker_config(secret: &Secret, key: &str, data_path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match secret.data.get(key) {
        None => errs.push(FieldError::required(&data_path.key(key), "")),
        Some(bytes) => {
            if let Err(e) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes.0)
            {
                errs.push(FieldError::invalid(
                    &data_path.key(key),
                    "<secret contents redacted>",
                    e.to_string(),
                ));
            }
        }
    }
    errs
}

/// A core/v1 Event (core's `ValidateEventCreate` for the v1 API).
pub(super) fn validate_event(event: &Event) -> FieldErrors {
    let mut errs = validate_object_meta(
        &event.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &metadata(),
    );
    let ns = event.metadata.namespace.as_str();
    let involved_ns = event.involved_object.namespace.as_str();
    let ip = FieldPath::new("involvedObject").child("namespace");
    let mismatch = if event.event_time.is_none() {
        if involved_ns.is_empty() {
            !ns.is_empty() && ns != "default"
        } else {
            ns != involved_ns
        }
    } else {
        involved_ns.is_empty() && ns != "default" && ns != "kube-system"
    };
    if mismatch {
        errs.push(FieldError::invalid(
            &ip,
            involved_ns,
            "does not match event.namespace",
        ));
    }
    if event.event_time.is_some() {
        let rc = FieldPath::new("reportingComponent");
        if event.reporting_component.is_empty() {
            errs.push(FieldError::required(&rc, ""));
        }
        errs.extend(invalid_each(
            &rc,
            &event.reporting_component,
            is_qualified_name(&event.reporting_component),
        ));
        let limits = [
            ("reportingInstance", &event.reporting_instance, 128),
            ("action", &event.action, 128),
            ("reason", &event.reason, 128),
        ];
        for (field, value, limit) in limits {
            if value.is_empty() {
                errs.push(FieldError::required(&FieldPath::new(field), ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(
                    &FieldPath::new(field),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if event.message.len() > 1024 {
            errs.push(FieldError::invalid(
                &FieldPath::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    if !event.type_.is_empty() && event.type_ != "Normal" && event.type_ != "Warning" {
        errs.push(FieldError::not_supported(
            &FieldPath::new("type"),
            &event.type_,
            &["Normal", "Warning"],
        ));
    }
    errs.extend(invalid_each(
        &FieldPath::new("namespace"),
        ns,
        if ns.is_empty() {
            Vec::new()
        } else {
            is_dns1123_subdomain(ns)
        },
    ));
    errs
}

/// A ServiceAccount.
pub(super) fn validate_service_account(sa: &ServiceAccount) -> FieldErrors {
    validate_object_meta(&sa.metadata, true, NameRule::Dns1123Subdomain, &metadata())
}

/// A Lease.
pub(super) fn validate_lease(lease: &Lease) -> FieldErrors {
    let mut errs = validate_object_meta(
        &lease.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &metadata(),
    );
    let Some(spec) = &lease.spec else {
        return errs;
    };
    let sp = FieldPath::new("spec");
    if let Some(d) = spec.lease_duration_seconds {
        if d <= 0 {
            errs.push(FieldError::invalid(
                &sp.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = spec.lease_transitions {
        if t < 0 {
            errs.push(FieldError::invalid(
                &sp.child("leaseTransitions"),
                t,
                "must be greater than or equal to 0",
            ));
        }
    }
    let has_strategy = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
    if spec
        .preferred_holder
        .as_deref()
        .is_some_and(|h| !h.is_empty())
        && !has_strategy
    {
        errs.push(FieldError::forbidden(
            &sp.child("preferredHolder"),
            "preferredHolder is only allowed if strategy is set",
        ));
    }
    errs
}
