//! `autoscaling/v2` validation (Kubernetes' `pkg/apis/autoscaling/validation`):
//! HorizontalPodAutoscalers.

use super::helpers::{invalid_each, is_valid_path_segment_name, NameRule};
use super::meta::validate_object_meta;
use crate::api::autoscaling::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler, MetricIdentifier,
    MetricSpec, MetricTarget,
};
use crate::api::selector::LabelSelectorValidationOptions;
use crate::api::validation::{is_qualified_name, FieldError, FieldErrors, FieldPath};

const METRIC_SOURCE_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
const MAX_PERIOD_SECONDS: i32 = 1800;

/// A HorizontalPodAutoscaler.
pub(super) fn validate_hpa(hpa: &HorizontalPodAutoscaler) -> FieldErrors {
    let mut errs = validate_object_meta(
        &hpa.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &FieldPath::new("metadata"),
    );
    let spec = &hpa.spec;
    let sp = FieldPath::new("spec");
    if let Some(min) = spec.min_replicas {
        if min < 1 {
            errs.push(FieldError::invalid(
                &sp.child("minReplicas"),
                min,
                "must be greater than or equal to 1",
            ));
        }
    }
    if spec.max_replicas < 1 {
        errs.push(FieldError::invalid(
            &sp.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than 0",
        ));
    }
    if spec.min_replicas.is_some_and(|min| spec.max_replicas < min) {
        errs.push(FieldError::invalid(
            &sp.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    errs.extend(validate_cross_version_ref(
        &spec.scale_target_ref,
        &sp.child("scaleTargetRef"),
    ));
    let mp = sp.child("metrics");
    for (i, metric) in spec.metrics.iter().enumerate() {
        errs.extend(validate_metric_spec(metric, &mp.index(i)));
    }
    if let Some(behavior) = &spec.behavior {
        let bp = sp.child("behavior");
        if let Some(rules) = &behavior.scale_up {
            errs.extend(validate_scaling_rules(rules, &bp.child("scaleUp")));
        }
        if let Some(rules) = &behavior.scale_down {
            errs.extend(validate_scaling_rules(rules, &bp.child("scaleDown")));
        }
    }
    errs
}

fn validate_cross_version_ref(r: &CrossVersionObjectReference, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (field, value) in [("kind", &r.kind), ("name", &r.name)] {
        if value.is_empty() {
            errs.push(FieldError::required(&path.child(field), ""));
        } else {
            errs.extend(invalid_each(
                &path.child(field),
                value,
                is_valid_path_segment_name(value),
            ));
        }
    }
    errs
}

fn validate_metric_spec(spec: &MetricSpec, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let tp = path.child("type");
    if spec.type_.is_empty() {
        errs.push(FieldError::required(
            &tp,
            "must specify a metric source type",
        ));
    }
    if !METRIC_SOURCE_TYPES.contains(&spec.type_.as_str()) {
        errs.push(FieldError::not_supported(
            &tp,
            &spec.type_,
            &METRIC_SOURCE_TYPES,
        ));
    }
    let present = [
        ("object", spec.object.is_some()),
        ("pods", spec.pods.is_some()),
        ("resource", spec.resource.is_some()),
        ("containerResource", spec.container_resource.is_some()),
        ("external", spec.external.is_some()),
    ];
    let expected = match spec.type_.as_str() {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "External" => "external",
        other => {
            errs.push(FieldError::not_supported(&tp, other, &METRIC_SOURCE_TYPES));
            ""
        }
    };
    if !expected.is_empty() && !present.iter().any(|(f, set)| *f == expected && *set) {
        errs.push(FieldError::required(
            &path.child(expected),
            "must populate information for the given metric source",
        ));
    }
    if present.iter().filter(|(_, set)| *set).count() != 1 {
        for (field, set) in present {
            if set && field != expected {
                errs.push(FieldError::forbidden(
                    &path.child(field),
                    "must populate the given metric source only",
                ));
            }
        }
    }
    if let Some(o) = &spec.object {
        let p = path.child("object");
        errs.extend(validate_cross_version_ref(
            &o.described_object,
            &p.child("describedObject"),
        ));
        errs.extend(validate_metric_identifier(&o.metric, &p.child("metric")));
        errs.extend(validate_metric_target(&o.target, &p.child("target")));
        if o.target.value.is_none() && o.target.average_value.is_none() {
            errs.push(FieldError::required(
                &p.child("target").child("averageValue"),
                "must set either a target value or averageValue",
            ));
        }
    }
    if let Some(pods) = &spec.pods {
        let p = path.child("pods");
        errs.extend(validate_metric_identifier(&pods.metric, &p.child("metric")));
        errs.extend(validate_metric_target(&pods.target, &p.child("target")));
        if pods.target.average_value.is_none() {
            errs.push(FieldError::required(
                &p.child("target").child("averageValue"),
                "must specify a positive target averageValue",
            ));
        }
    }
    if let Some(r) = &spec.resource {
        errs.extend(validate_resource_source(
            &r.name,
            &r.target,
            &path.child("resource"),
        ));
    }
    if let Some(r) = &spec.container_resource {
        let p = path.child("containerResource");
        errs.extend(validate_resource_source(&r.name, &r.target, &p));
        if r.container.is_empty() {
            errs.push(FieldError::required(
                &p.child("container"),
                "must specify a container",
            ));
        }
    }
    if let Some(e) = &spec.external {
        let p = path.child("external");
        errs.extend(validate_metric_identifier(&e.metric, &p.child("metric")));
        errs.extend(validate_metric_target(&e.target, &p.child("target")));
        match (&e.target.value, &e.target.average_value) {
            (None, None) => errs.push(FieldError::required(
                &p.child("target").child("averageValue"),
                "must set either a target value for metric or a per-pod target",
            )),
            (Some(_), Some(_)) => errs.push(FieldError::forbidden(
                &p.child("target").child("value"),
                "may not set both a target value for metric and a per-pod target",
            )),
            _ => {}
        }
    }
    errs
}

fn validate_resource_source(name: &str, target: &MetricTarget, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "must specify a resource name",
        ));
    } else {
        errs.extend(invalid_each(
            &path.child("name"),
            name,
            is_qualified_name(name),
        ));
    }
    let tp = path.child("target");
    errs.extend(validate_metric_target(target, &tp));
    match (target.average_utilization, &target.average_value) {
        (None, None) => errs.push(FieldError::required(
            &tp.child("averageUtilization"),
            "must set either a target raw value or a target utilization",
        )),
        (Some(_), Some(_)) => errs.push(FieldError::forbidden(
            &tp.child("averageValue"),
            "may not set both a target raw value and a target utilization",
        )),
        _ => {}
    }
    errs
}

fn validate_metric_target(target: &MetricTarget, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if target.type_.is_empty() {
        errs.push(FieldError::required(
            &path.child("type"),
            "must specify a metric target type",
        ));
    }
    if !["Utilization", "Value", "AverageValue"].contains(&target.type_.as_str()) {
        errs.push(FieldError::invalid(
            &path.child("type"),
            crate::api::validation::BadValue::named_string(&target.type_),
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for (field, value) in [
        ("value", &target.value),
        ("averageValue", &target.average_value),
    ] {
        if let Some(q) = value {
            if q.signum() != 1 {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    q.to_string(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = target.average_utilization {
        if u < 1 {
            errs.push(FieldError::invalid(
                &path.child("averageUtilization"),
                u,
                "must be greater than 0",
            ));
        }
    }
    errs
}

fn validate_metric_identifier(id: &MetricIdentifier, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if id.name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "must specify a metric name",
        ));
    } else {
        errs.extend(invalid_each(
            &path.child("name"),
            &id.name,
            is_valid_path_segment_name(&id.name),
        ));
    }
    if let Some(selector) = &id.selector {
        errs.extend(selector.validate(
            LabelSelectorValidationOptions::default(),
            &path.child("selector"),
        ));
    }
    errs
}

fn validate_scaling_rules(rules: &HPAScalingRules, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(window) = rules.stabilization_window_seconds {
        let wp = path.child("stabilizationWindowSeconds");
        if window < 0 {
            errs.push(FieldError::invalid(
                &wp,
                window,
                "must be greater than or equal to zero",
            ));
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldError::invalid(
                &wp,
                window,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(policy) = &rules.select_policy {
        if !["Disabled", "Max", "Min"].contains(&policy.as_str()) {
            errs.push(FieldError::not_supported(
                &path.child("selectPolicy"),
                policy,
                &["Disabled", "Max", "Min"],
            ));
        }
    }
    let pp = path.child("policies");
    if rules.policies.is_empty() {
        errs.push(FieldError::required(
            &pp,
            "must specify at least one Policy",
        ));
    }
    for (i, policy) in rules.policies.iter().enumerate() {
        let p = pp.index(i);
        if policy.type_ != "Pods" && policy.type_ != "Percent" {
            errs.push(FieldError::not_supported(
                &p.child("type"),
                &policy.type_,
                &["Percent", "Pods"],
            ));
        }
        if policy.value <= 0 {
            errs.push(FieldError::invalid(
                &p.child("value"),
                policy.value,
                "must be greater than zero",
            ));
        }
        if policy.period_seconds <= 0 {
            errs.push(FieldError::invalid(
                &p.child("periodSeconds"),
                policy.period_seconds,
                "must be greater than zero",
            ));
        }
        if policy.period_seconds > MAX_PERIOD_SECONDS {
            errs.push(FieldError::invalid(
                &p.child("periodSeconds"),
                policy.period_seconds,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    errs
}
