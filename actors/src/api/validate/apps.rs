//! `apps/v1` validation (Kubernetes' `pkg/apis/apps/validation`):
//! Deployments, ReplicaSets, StatefulSets, DaemonSets, ControllerRevisions.

use super::container::VolumeNames;
use super::helpers::{
    int_or_percent_value, int_or_string_value, is_not_more_than_100_percent, json_value,
    validate_nonnegative, validate_positive_int_or_percent, NameRule,
};
use super::meta::validate_object_meta;
use super::pod::validate_pod_template;
use super::volume::validate_persistent_volume_claim_spec;
use crate::api::apps::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use crate::api::core::PodTemplateSpec;
use crate::api::selector::{LabelSelector, LabelSelectorValidationOptions, Selector};
use crate::api::validation::{validate_labels, FieldError, FieldErrors, FieldPath};

fn metadata() -> FieldPath {
    FieldPath::new("metadata")
}

/// The selector checks shared by the workloads: required, valid, non-empty.
/// `kind` names the workload in the empty-selector message, as Kubernetes
/// words it (ReplicaSets say "deployment" there too).
pub(super) fn validate_workload_selector(
    selector: Option<&LabelSelector>,
    kind: &str,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    match selector {
        None => errs.push(FieldError::required(path, "")),
        Some(s) => {
            errs.extend(s.validate(LabelSelectorValidationOptions::default(), path));
            if s.match_labels.is_empty() && s.match_expressions.is_empty() {
                errs.push(FieldError::invalid(
                    path,
                    json_value(s),
                    format!("empty selector is invalid for {kind}"),
                ));
            }
        }
    }
    errs
}

/// The selector must select the template's labels, unless it is empty.
/// Returns `None` when the selector cannot be built.
pub(super) fn selector_matches_template(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    path: &FieldPath,
) -> Option<FieldErrors> {
    let selector: Selector = LabelSelector::optional_to_selector(selector).ok()?;
    let mut errs = FieldErrors::new();
    if !selector.is_empty() && !selector.matches(&template.metadata.labels) {
        errs.push(FieldError::invalid(
            &path.child("metadata").child("labels"),
            super::helpers::map_value(&template.metadata.labels),
            "`selector` does not match template `labels`",
        ));
    }
    Some(errs)
}

/// apps' `ValidatePodTemplateSpecForReplicaSet`.
fn validate_template_for_replica_set(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    kind: &str,
    spec_path: &FieldPath,
) -> FieldErrors {
    let path = spec_path.child("template");
    let Some(mut errs) = selector_matches_template(selector, template, &path) else {
        let mut errs = FieldErrors::new();
        errs.push(FieldError::invalid(
            &spec_path.child("selector"),
            json_value(&selector),
            "invalid label selector",
        ));
        return errs;
    };
    errs.extend(validate_pod_template(template, &VolumeNames::new(), &path));
    errs.extend(require_restart_always(template, kind, &path));
    errs
}

fn require_restart_always(template: &PodTemplateSpec, kind: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let sp = path.child("spec");
    if template.spec.restart_policy != "Always" {
        errs.push(FieldError::not_supported(
            &sp.child("restartPolicy"),
            &template.spec.restart_policy,
            &["Always"],
        ));
    }
    if template.spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            &sp.child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errs
}

/// A Deployment.
pub(super) fn validate_deployment(d: &Deployment) -> FieldErrors {
    let mut errs = validate_object_meta(&d.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let spec = &d.spec;
    let sp = FieldPath::new("spec");
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(1)),
        &sp.child("replicas"),
    ));
    errs.extend(validate_workload_selector(
        spec.selector.as_ref(),
        "deployment",
        &sp.child("selector"),
    ));
    errs.extend(validate_template_for_replica_set(
        spec.selector.as_ref(),
        &spec.template,
        "ReplicaSet",
        &sp,
    ));
    let strategy_path = sp.child("strategy");
    let strategy = spec.strategy.clone().unwrap_or_default();
    match strategy.type_.as_str() {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    &strategy_path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(
                &strategy_path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = strategy_path.child("rollingUpdate");
                let unavailable = ru.max_unavailable.clone().unwrap_or_default();
                let surge = ru.max_surge.clone().unwrap_or_default();
                errs.extend(validate_positive_int_or_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    &surge,
                    &rp.child("maxSurge"),
                ));
                if int_or_percent_value(&unavailable) == 0 && int_or_percent_value(&surge) == 0 {
                    errs.push(FieldError::invalid(
                        &rp.child("maxUnavailable"),
                        int_or_string_value(&unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(is_not_more_than_100_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
            }
        },
        other => errs.push(FieldError::not_supported(
            &strategy_path,
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds),
        &sp.child("minReadySeconds"),
    ));
    if let Some(limit) = spec.revision_history_limit {
        errs.extend(validate_nonnegative(
            i64::from(limit),
            &sp.child("revisionHistoryLimit"),
        ));
    }
    if let Some(deadline) = spec.progress_deadline_seconds {
        let dp = sp.child("progressDeadlineSeconds");
        errs.extend(validate_nonnegative(i64::from(deadline), &dp));
        if deadline <= spec.min_ready_seconds {
            errs.push(FieldError::invalid(
                &dp,
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// A ReplicaSet.
pub(super) fn validate_replica_set(rs: &ReplicaSet) -> FieldErrors {
    let mut errs =
        validate_object_meta(&rs.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let spec = &rs.spec;
    let sp = FieldPath::new("spec");
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(1)),
        &sp.child("replicas"),
    ));
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds),
        &sp.child("minReadySeconds"),
    ));
    errs.extend(validate_workload_selector(
        spec.selector.as_ref(),
        "deployment",
        &sp.child("selector"),
    ));
    errs.extend(validate_template_for_replica_set(
        spec.selector.as_ref(),
        &spec.template,
        "ReplicaSet",
        &sp,
    ));
    errs
}

/// A StatefulSet.
pub(super) fn validate_stateful_set(ss: &StatefulSet) -> FieldErrors {
    let mut errs = validate_object_meta(&ss.metadata, true, NameRule::Dns1123Label, &metadata());
    let spec = &ss.spec;
    let sp = FieldPath::new("spec");
    match spec.pod_management_policy.as_str() {
        "" => errs.push(FieldError::required(&sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            &sp.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let up = sp.child("updateStrategy");
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    match strategy.type_.as_str() {
        "" => errs.push(FieldError::required(&up, "")),
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                errs.push(FieldError::invalid(
                    &up.child("rollingUpdate"),
                    json_value(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &strategy.rolling_update {
                let rp = up.child("rollingUpdate");
                errs.extend(validate_nonnegative(
                    i64::from(ru.partition.unwrap_or(0)),
                    &rp.child("partition"),
                ));
                if let Some(mu) = &ru.max_unavailable {
                    let mp = rp.child("maxUnavailable");
                    errs.extend(validate_positive_int_or_percent(mu, &mp));
                    if int_or_percent_value(mu) == 0 {
                        errs.push(FieldError::invalid(
                            &mp,
                            int_or_string_value(mu),
                            "cannot be 0",
                        ));
                    }
                    errs.extend(is_not_more_than_100_percent(mu, &mp));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            &up,
            json_value(&strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let pp = sp.child("persistentVolumeClaimRetentionPolicy");
        for (field, value) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            if value != "Retain" && value != "Delete" {
                errs.push(FieldError::not_supported(
                    &pp.child(field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(1)),
        &sp.child("replicas"),
    ));
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds),
        &sp.child("minReadySeconds"),
    ));
    if let Some(ordinals) = &spec.ordinals {
        errs.extend(validate_nonnegative(
            i64::from(ordinals.start),
            &sp.child("ordinals.start"),
        ));
    }
    errs.extend(validate_workload_selector(
        spec.selector.as_ref(),
        "statefulset",
        &sp.child("selector"),
    ));
    let tp = sp.child("template");
    match selector_matches_template(spec.selector.as_ref(), &spec.template, &tp) {
        Some(match_errs) => {
            errs.extend(match_errs);
            let claims: VolumeNames = spec
                .volume_claim_templates
                .iter()
                .map(|c| c.metadata.name.clone())
                .collect();
            errs.extend(validate_pod_template(&spec.template, &claims, &tp));
        }
        None => errs.push(FieldError::invalid(
            &sp.child("selector"),
            json_value(&spec.selector),
            "",
        )),
    }
    errs.extend(require_restart_always(&spec.template, "StatefulSet", &tp));
    let cp = sp.child("volumeClaimTemplates");
    for (i, claim) in spec.volume_claim_templates.iter().enumerate() {
        let p = cp.index(i);
        errs.extend(validate_labels(
            &claim.metadata.labels,
            &p.child("metadata").child("labels"),
        ));
        errs.extend(validate_persistent_volume_claim_spec(
            &claim.spec,
            &p.child("spec"),
        ));
    }
    errs
}

/// A DaemonSet.
pub(super) fn validate_daemon_set(ds: &DaemonSet) -> FieldErrors {
    let mut errs =
        validate_object_meta(&ds.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    let spec = &ds.spec;
    let sp = FieldPath::new("spec");
    let selector = spec.selector.as_ref();
    if let Some(s) = selector {
        errs.extend(s.validate(
            LabelSelectorValidationOptions::default(),
            &sp.child("selector"),
        ));
    }
    let tp = sp.child("template");
    if let Ok(sel) = LabelSelector::optional_to_selector(selector) {
        if !sel.matches(&spec.template.metadata.labels) {
            errs.push(FieldError::invalid(
                &tp.child("metadata").child("labels"),
                super::helpers::map_value(&spec.template.metadata.labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    if let Some(s) = selector {
        if s.match_labels.is_empty() && s.match_expressions.is_empty() {
            errs.push(FieldError::invalid(
                &sp.child("selector"),
                json_value(s),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    errs.extend(validate_pod_template(
        &spec.template,
        &VolumeNames::new(),
        &tp,
    ));
    errs.extend(require_restart_always(&spec.template, "DaemonSet", &tp));
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds),
        &sp.child("minReadySeconds"),
    ));
    let up = sp.child("updateStrategy");
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    match strategy.type_.as_str() {
        "OnDelete" => {}
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(&up.child("rollingUpdate"), "")),
            Some(ru) => {
                let rp = up.child("rollingUpdate");
                let unavailable = ru.max_unavailable.clone().unwrap_or_default();
                let surge = ru.max_surge.clone().unwrap_or_default();
                errs.extend(validate_positive_int_or_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(validate_positive_int_or_percent(
                    &surge,
                    &rp.child("maxSurge"),
                ));
                errs.extend(is_not_more_than_100_percent(
                    &unavailable,
                    &rp.child("maxUnavailable"),
                ));
                errs.extend(is_not_more_than_100_percent(&surge, &rp.child("maxSurge")));
                let has_unavailable = int_or_percent_value(&unavailable) != 0;
                let has_surge = int_or_percent_value(&surge) != 0;
                if has_unavailable && has_surge {
                    errs.push(FieldError::invalid(
                        &rp.child("maxSurge"),
                        int_or_string_value(&surge),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    errs.push(FieldError::required(
                        &rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            &up,
            json_value(&strategy),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    if let Some(limit) = spec.revision_history_limit {
        errs.extend(validate_nonnegative(
            i64::from(limit),
            &sp.child("revisionHistoryLimit"),
        ));
    }
    errs
}

/// A ControllerRevision.
pub(super) fn validate_controller_revision(cr: &ControllerRevision) -> FieldErrors {
    let mut errs =
        validate_object_meta(&cr.metadata, true, NameRule::Dns1123Subdomain, &metadata());
    if cr.data.is_none() {
        errs.push(FieldError::required(
            &FieldPath::new("data"),
            "data is mandatory",
        ));
    }
    errs.extend(validate_nonnegative(
        cr.revision,
        &FieldPath::new("revision"),
    ));
    errs
}
