//! Pod validation (core's `ValidatePod`, `ValidatePodSpec`,
//! `ValidatePodTemplateSpec`): volumes, containers, policies, scheduling
//! constraints (tolerations, affinity, topology spread) and host settings.

use super::container::{
    check_container_port_duplicates, validate_containers, validate_init_containers, VolumeNames,
};
use super::helpers::{invalid_each, required_enum, validate_nonnegative, NameRule};
use super::meta::{validate_annotations, validate_object_meta};
use super::volume::validate_volumes;
use crate::api::core::{
    Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm,
    PodSpec, PodTemplateSpec, Toleration, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use crate::api::selector::LabelSelectorValidationOptions;
use crate::api::validation::{
    inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_valid_label_value,
    validate_label_name, validate_labels, FieldError, FieldErrors, FieldPath,
};

const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A Pod: metadata and spec.
pub(super) fn validate_pod(pod: &Pod) -> FieldErrors {
    let mut errs = validate_object_meta(
        &pod.metadata,
        true,
        NameRule::Dns1123Subdomain,
        &FieldPath::new("metadata"),
    );
    let opts = PodSpecOptions {
        resource_is_pod: true,
        ..PodSpecOptions::default()
    };
    errs.extend(validate_pod_spec(&pod.spec, &opts, &FieldPath::new("spec")));
    errs
}

/// A pod template as workloads embed it (core's `ValidatePodTemplateSpec`):
/// labels and annotations are reported under `<path>.labels` and
/// `<path>.annotations`, as Kubernetes reports them. `extra_volumes` are
/// names mounts may use besides the pod's volumes (a StatefulSet's claims).
pub fn validate_pod_template(
    template: &PodTemplateSpec,
    extra_volumes: &VolumeNames,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = validate_labels(&template.metadata.labels, &path.child("labels"));
    errs.extend(validate_annotations(
        &template.metadata.annotations,
        &path.child("annotations"),
    ));
    let opts = PodSpecOptions {
        resource_is_pod: false,
        extra_volumes: extra_volumes.clone(),
    };
    errs.extend(validate_pod_spec(
        &template.spec,
        &opts,
        &path.child("spec"),
    ));
    errs
}

/// What a pod spec is validated as (core's `PodValidationOptions`, in part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpecOptions {
    /// The spec belongs to a Pod rather than a template: host ports must
    /// then equal container ports on the host network (defaulting fills
    /// them in for pods only).
    pub resource_is_pod: bool,
    /// Names that volume mounts may use besides the pod's own volumes (a
    /// StatefulSet's claim templates).
    pub extra_volumes: VolumeNames,
}

/// Every problem with a pod spec (core's `ValidatePodSpec`).
pub fn validate_pod_spec(spec: &PodSpec, opts: &PodSpecOptions, path: &FieldPath) -> FieldErrors {
    let (mut volumes, mut errs) = validate_volumes(&spec.volumes, &path.child("volumes"));
    volumes.extend(opts.extra_volumes.iter().cloned());
    let grace = spec.termination_grace_period_seconds;
    let containers_path = path.child("containers");
    let init_path = path.child("initContainers");
    errs.extend(validate_containers(
        &spec.containers,
        &volumes,
        grace,
        &containers_path,
    ));
    errs.extend(validate_init_containers(
        &spec.init_containers,
        &spec.containers,
        &volumes,
        grace,
        &init_path,
    ));
    errs.extend(check_container_port_duplicates(&[
        (&spec.init_containers, init_path),
        (&spec.containers, containers_path.clone()),
    ]));
    if spec.host_network {
        for (ci, ctr) in spec.containers.iter().enumerate() {
            for (pi, port) in ctr.ports.iter().enumerate() {
                let template_ok = !opts.resource_is_pod && port.host_port == 0;
                if port.host_port != port.container_port && !template_ok {
                    errs.push(FieldError::invalid(
                        &containers_path
                            .index(ci)
                            .child("ports")
                            .index(pi)
                            .child("hostPort"),
                        port.host_port,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errs.extend(required_enum(
        &spec.restart_policy,
        &["Always", "OnFailure", "Never"],
        &path.child("restartPolicy"),
    ));
    errs.extend(required_enum(
        &spec.dns_policy,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &path.child("dnsPolicy"),
    ));
    errs.extend(validate_labels(
        &spec.node_selector,
        &path.child("nodeSelector"),
    ));
    if let Some(affinity) = &spec.affinity {
        errs.extend(validate_affinity(affinity, &path.child("affinity")));
    }
    errs.extend(validate_topology_spread(
        &spec.topology_spread_constraints,
        &path.child("topologySpreadConstraints"),
    ));
    if !spec.service_account_name.is_empty() {
        errs.extend(invalid_each(
            &path.child("serviceAccountName"),
            &spec.service_account_name,
            is_dns1123_subdomain(&spec.service_account_name),
        ));
    }
    if !spec.node_name.is_empty() {
        errs.extend(invalid_each(
            &path.child("nodeName"),
            &spec.node_name,
            is_dns1123_subdomain(&spec.node_name),
        ));
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                deadline,
                inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(grace) = grace {
        errs.extend(validate_nonnegative(
            grace,
            &path.child("terminationGracePeriodSeconds"),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !value.is_empty() {
            errs.extend(invalid_each(
                &path.child(field),
                value,
                is_dns1123_label(value),
            ));
        }
    }
    errs.extend(validate_tolerations(
        &spec.tolerations,
        &path.child("tolerations"),
    ));
    if !spec.priority_class_name.is_empty() {
        errs.extend(invalid_each(
            &path.child("priorityClassName"),
            &spec.priority_class_name,
            is_dns1123_subdomain(&spec.priority_class_name),
        ));
    }
    if let Some(policy) = &spec.preemption_policy {
        errs.extend(required_enum(
            policy,
            &["Never", "PreemptLowerPriority"],
            &path.child("preemptionPolicy"),
        ));
    }
    if let Some(os) = &spec.os {
        errs.extend(required_enum(
            &os.name,
            &["linux", "windows"],
            &path.child("os").child("name"),
        ));
    }
    errs
}

/// core's `ValidateTolerations`.
fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        if !t.key.is_empty() {
            errs.extend(validate_label_name(&t.key, &p.child("key")));
        }
        if t.key.is_empty() && t.operator != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                &t.operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                &t.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match t.operator.as_str() {
            "" | "Equal" => {
                let msgs = is_valid_label_value(&t.value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        &t.value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !t.value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        super::helpers::json_value(t),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !t.effect.is_empty() && !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                &t.effect,
                &TAINT_EFFECTS,
            ));
        }
    }
    errs
}

/// core's `validateAffinity`.
fn validate_affinity(affinity: &Affinity, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if let Some(node) = &affinity.node_affinity {
        let np = path.child("nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            errs.extend(validate_node_selector(
                required,
                &np.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            errs.extend(validate_weight(term.weight, &pp.index(i).child("weight")));
            errs.extend(validate_node_selector_term(
                &term.preference,
                &pp.index(i).child("preference"),
            ));
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (field, terms) in pod_terms {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let ap = path.child(field);
        let rp = ap.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in required.iter().enumerate() {
            errs.extend(validate_pod_affinity_term(term, &rp.index(i)));
        }
        errs.extend(validate_weighted_terms(
            preferred,
            &ap.child("preferredDuringSchedulingIgnoredDuringExecution"),
        ));
    }
    errs
}

fn validate_weighted_terms(terms: &[WeightedPodAffinityTerm], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, term) in terms.iter().enumerate() {
        errs.extend(validate_weight(term.weight, &path.index(i).child("weight")));
        errs.extend(validate_pod_affinity_term(
            &term.pod_affinity_term,
            &path.index(i).child("podAffinityTerm"),
        ));
    }
    errs
}

fn validate_weight(weight: i32, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if !(1..=100).contains(&weight) {
        errs.push(FieldError::invalid(
            path,
            weight,
            "must be in the range 1-100",
        ));
    }
    errs
}

/// core's `ValidateNodeSelector`.
pub(super) fn validate_node_selector(selector: &NodeSelector, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let tp = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        errs.push(FieldError::required(
            &tp,
            "must have at least one node selector term",
        ));
        return errs;
    }
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        errs.extend(validate_node_selector_term(term, &tp.index(i)));
    }
    errs
}

fn validate_node_selector_term(term: &NodeSelectorTerm, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (j, req) in term.match_expressions.iter().enumerate() {
        errs.extend(validate_node_selector_requirement(
            req,
            true,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, req) in term.match_fields.iter().enumerate() {
        errs.extend(validate_node_selector_requirement(
            req,
            false,
            &path.child("matchFields").index(j),
        ));
    }
    errs
}

fn validate_node_selector_requirement(
    req: &NodeSelectorRequirement,
    label: bool,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let values = path.child("values");
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.is_empty() {
                errs.push(FieldError::required(
                    &values,
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" if label => {
            if !req.values.is_empty() {
                errs.push(FieldError::forbidden(
                    &values,
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" if label => {
            if req.values.len() != 1 {
                errs.push(FieldError::required(
                    &values,
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            crate::api::validation::BadValue::named_string(other),
            "not a valid selector operator",
        )),
    }
    if label {
        errs.extend(validate_label_name(&req.key, &path.child("key")));
        for (i, value) in req.values.iter().enumerate() {
            errs.extend(invalid_each(
                &values.index(i),
                value,
                is_valid_label_value(value),
            ));
        }
    } else if req.key != "metadata.name" {
        errs.push(FieldError::invalid(
            &path.child("key"),
            &req.key,
            "not a valid field selector key",
        ));
    }
    errs
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &FieldPath) -> FieldErrors {
    let opts = LabelSelectorValidationOptions::default();
    let mut errs = FieldErrors::new();
    if let Some(selector) = &term.label_selector {
        errs.extend(selector.validate(opts, &path.child("labelSelector")));
    }
    if let Some(selector) = &term.namespace_selector {
        errs.extend(selector.validate(opts, &path.child("namespaceSelector")));
    }
    for name in &term.namespaces {
        errs.extend(invalid_each(
            &path.child("namespace"),
            name,
            is_dns1123_label(name),
        ));
    }
    let tk = path.child("topologyKey");
    if term.topology_key.is_empty() {
        errs.push(FieldError::required(&tk, "can not be empty"));
    }
    errs.extend(validate_label_name(&term.topology_key, &tk));
    errs
}

/// core's `validateTopologySpreadConstraints`.
fn validate_topology_spread(
    constraints: &[TopologySpreadConstraint],
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        let tk = p.child("topologyKey");
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(&tk, "can not be empty"));
        } else if let Some(first) = validate_label_name(&c.topology_key, &tk).into_iter().next() {
            errs.push(first);
        }
        let actions = ["DoNotSchedule", "ScheduleAnyway"];
        if !actions.contains(&c.when_unsatisfiable.as_str()) {
            errs.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &actions,
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errs.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(min) = c.min_domains {
            let mp = p.child("minDomains");
            if min <= 0 {
                errs.push(FieldError::invalid(&mp, min, "must be greater than zero"));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    &mp,
                    min,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (field, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(policy) = policy {
                errs.extend(required_enum(policy, &["Honor", "Ignore"], &p.child(field)));
            }
        }
        if let Some(selector) = &c.label_selector {
            errs.extend(selector.validate(
                LabelSelectorValidationOptions::default(),
                &p.child("labelSelector"),
            ));
        }
    }
    errs
}
