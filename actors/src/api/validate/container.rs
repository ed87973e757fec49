//! Container validation (core's `validateContainers`,
//! `validateInitContainers` and what they call): names, images, ports,
//! environment, volume mounts, resources, probes, lifecycle hooks, pull and
//! termination-message policies.

use std::collections::BTreeSet;

use super::env::{validate_env, validate_env_from};
use super::helpers::{invalid_each, json_value, required_enum};
use super::probe::{validate_lifecycle_handler, validate_probe, ProbeKind};
use super::resources::validate_resource_requirements;
use crate::api::core::{Container, ContainerPort, VolumeMount};
use crate::api::validation::{
    is_dns1123_label, is_valid_port_name, is_valid_port_num, FieldError, FieldErrors, FieldPath,
};

/// Protocols a port may use, sorted as Kubernetes lists them.
pub const PORT_PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

const NOT_FOR_PLAIN_INIT: &str = "may not be set for init containers without restartPolicy=Always";

/// The volumes of a pod, by name, that mounts may refer to.
pub type VolumeNames = BTreeSet<String>;

/// Regular containers (`spec.containers`).
pub(super) fn validate_containers(
    containers: &[Container],
    volumes: &VolumeNames,
    grace_period: Option<i64>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if containers.is_empty() {
        errs.push(FieldError::required(path, ""));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, ctr) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(ctr, volumes, grace_period, &p));
        if !names.insert(ctr.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &ctr.name));
        }
        errs.extend(validate_probe(
            ctr.liveness_probe.as_ref(),
            ProbeKind::Liveness,
            &p,
        ));
        errs.extend(validate_probe(
            ctr.readiness_probe.as_ref(),
            ProbeKind::Readiness,
            &p,
        ));
        errs.extend(validate_probe(
            ctr.startup_probe.as_ref(),
            ProbeKind::Startup,
            &p,
        ));
        if ctr.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(containers, path));
    errs
}

/// Init containers (`spec.initContainers`); names must also differ from the
/// regular containers'.
pub(super) fn validate_init_containers(
    init: &[Container],
    regular: &[Container],
    volumes: &VolumeNames,
    grace_period: Option<i64>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, ctr) in init.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(ctr, volumes, grace_period, &p));
        let mut sidecar = false;
        if let Some(policy) = &ctr.restart_policy {
            if policy == "Always" {
                sidecar = true;
            } else {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    policy,
                    &["Always"],
                ));
            }
        }
        if names.contains(ctr.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &ctr.name));
        } else if !ctr.name.is_empty() {
            names.insert(ctr.name.as_str());
        }
        errs.extend(check_host_port_conflicts(std::slice::from_ref(ctr), path));
        if sidecar {
            errs.extend(validate_probe(
                ctr.liveness_probe.as_ref(),
                ProbeKind::Liveness,
                &p,
            ));
            errs.extend(validate_probe(
                ctr.readiness_probe.as_ref(),
                ProbeKind::Readiness,
                &p,
            ));
            errs.extend(validate_probe(
                ctr.startup_probe.as_ref(),
                ProbeKind::Startup,
                &p,
            ));
        } else {
            let forbidden = [
                ("lifecycle", ctr.lifecycle.is_some()),
                ("livenessProbe", ctr.liveness_probe.is_some()),
                ("readinessProbe", ctr.readiness_probe.is_some()),
                ("startupProbe", ctr.startup_probe.is_some()),
            ];
            for (field, set) in forbidden {
                if set {
                    errs.push(FieldError::forbidden(&p.child(field), NOT_FOR_PLAIN_INIT));
                }
            }
        }
    }
    errs
}

fn validate_container_common(
    ctr: &Container,
    volumes: &VolumeNames,
    grace_period: Option<i64>,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let name_path = path.child("name");
    if ctr.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(invalid_each(
            &name_path,
            &ctr.name,
            is_dns1123_label(&ctr.name),
        ));
    }
    if ctr.image.is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    if let Some(lifecycle) = &ctr.lifecycle {
        let lp = path.child("lifecycle");
        if let Some(h) = &lifecycle.post_start {
            errs.extend(validate_lifecycle_handler(
                h,
                grace_period,
                &lp.child("postStart"),
            ));
        }
        if let Some(h) = &lifecycle.pre_stop {
            errs.extend(validate_lifecycle_handler(
                h,
                grace_period,
                &lp.child("preStop"),
            ));
        }
    }
    errs.extend(required_enum(
        &ctr.termination_message_policy,
        &["FallbackToLogsOnError", "File"],
        &path.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_container_ports(&ctr.ports, &path.child("ports")));
    errs.extend(validate_env(&ctr.env, &path.child("env")));
    errs.extend(validate_env_from(&ctr.env_from, &path.child("envFrom")));
    errs.extend(validate_volume_mounts(
        &ctr.volume_mounts,
        volumes,
        &path.child("volumeMounts"),
    ));
    errs.extend(required_enum(
        &ctr.image_pull_policy,
        &["Always", "IfNotPresent", "Never"],
        &path.child("imagePullPolicy"),
    ));
    errs.extend(validate_resource_requirements(
        &ctr.resources,
        &path.child("resources"),
    ));
    if let Some(sc) = &ctr.security_context {
        let sp = path.child("securityContext");
        for (field, value) in [
            ("runAsUser", sc.run_as_user),
            ("runAsGroup", sc.run_as_group),
        ] {
            if let Some(v) = value {
                if !(0..=i64::from(i32::MAX)).contains(&v) {
                    errs.push(FieldError::invalid(
                        &sp.child(field),
                        v,
                        "must be between 0 and 2147483647, inclusive",
                    ));
                }
            }
        }
        if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
            errs.push(FieldError::invalid(
                &sp,
                json_value(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
    }
    errs
}

fn validate_container_ports(ports: &[ContainerPort], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if !port.name.is_empty() {
            let msgs = is_valid_port_name(&port.name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&p.child("name"), &port.name, msgs));
            } else if !names.insert(port.name.as_str()) {
                errs.push(FieldError::duplicate(&p.child("name"), &port.name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for msg in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    &p.child("containerPort"),
                    port.container_port,
                    msg,
                ));
            }
        }
        if port.host_port != 0 {
            for msg in is_valid_port_num(i64::from(port.host_port)) {
                errs.push(FieldError::invalid(
                    &p.child("hostPort"),
                    port.host_port,
                    msg,
                ));
            }
        }
        errs.extend(required_enum(
            &port.protocol,
            &PORT_PROTOCOLS,
            &p.child("protocol"),
        ));
    }
    errs
}

/// Host ports must not repeat within `containers` (core's
/// `AccumulateUniqueHostPorts`).
fn check_host_port_conflicts(containers: &[Container], path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen = BTreeSet::new();
    for (ci, ctr) in containers.iter().enumerate() {
        for (pi, port) in ctr.ports.iter().enumerate() {
            if port.host_port == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", port.protocol, port.host_ip, port.host_port);
            if seen.contains(&key) {
                let p = path.index(ci).child("ports").index(pi).child("hostPort");
                errs.push(FieldError::duplicate(&p, key));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

/// A `containerPort`/`protocol` pair may appear once per pod (a Hive rule;
/// Kubernetes only warns). `groups` pairs each container list with its path.
pub(super) fn check_container_port_duplicates(groups: &[(&[Container], FieldPath)]) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut seen = BTreeSet::new();
    for (containers, path) in groups {
        for (ci, ctr) in containers.iter().enumerate() {
            for (pi, port) in ctr.ports.iter().enumerate() {
                if port.container_port == 0 {
                    continue;
                }
                let key = format!("{}/{}", port.container_port, port.protocol);
                if !seen.insert(key.clone()) {
                    let p = path
                        .index(ci)
                        .child("ports")
                        .index(pi)
                        .child("containerPort");
                    errs.push(FieldError::duplicate(&p, key));
                }
            }
        }
    }
    errs
}

fn validate_volume_mounts(
    mounts: &[VolumeMount],
    volumes: &VolumeNames,
    path: &FieldPath,
) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let p = path.index(i);
        if mount.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains(&mount.name) {
            errs.push(FieldError::not_found(&p.child("name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                &mount.mount_path,
                "must be unique",
            ));
        }
        // Kubernetes reports sub-path problems against the list, not the item.
        if !mount.sub_path.is_empty() {
            errs.extend(validate_local_descending_path(
                &mount.sub_path,
                &path.child("subPath"),
            ));
        }
        if !mount.sub_path_expr.is_empty() {
            if !mount.sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    &p.child("subPathExpr"),
                    &mount.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                &mount.sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(propagation) = &mount.mount_propagation {
            errs.extend(required_enum(
                propagation,
                &["Bidirectional", "HostToContainer", "None"],
                &path.child("mountPropagation"),
            ));
        }
    }
    errs
}

/// core's `validateLocalDescendingPath`: relative, without `..` steps.
pub(super) fn validate_local_descending_path(target: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, path));
    errs
}

/// core's `validatePathNoBacksteps`.
pub(super) fn validate_path_no_backsteps(target: &str, path: &FieldPath) -> FieldErrors {
    let mut errs = FieldErrors::new();
    if target.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(path, target, "must not contain '..'"));
    }
    errs
}
