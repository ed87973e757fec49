//! Pod defaults (core/v1 `SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, `SetDefaults_Probe`, volume sources, ports,
//! resource lists).

use std::collections::BTreeMap;

use crate::api::core::{
    Container, EmptyDirVolumeSource, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    Volume,
};
use crate::api::quantity::Quantity;

/// The mode bits projected files get unless a volume says otherwise (0644).
const DEFAULT_MODE: i32 = 0o644;

/// A whole Pod: the spec, then the pod-only defaults (requests copied from
/// limits, service links on, host ports for host-network pods).
pub(super) fn default_pod(pod: &mut Pod) {
    default_pod_spec(&mut pod.spec);
    let spec = &mut pod.spec;
    for ctr in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        for (name, limit) in &ctr.resources.limits {
            ctr.resources
                .requests
                .entry(name.clone())
                .or_insert_with(|| limit.clone());
        }
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    if spec.host_network {
        for ctr in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut())
        {
            for port in &mut ctr.ports {
                if port.host_port == 0 {
                    port.host_port = port.container_port;
                }
            }
        }
    }
}

/// A pod template's spec.
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(&mut template.spec);
}

/// core/v1 `SetDefaults_PodSpec` and everything nested in a pod spec.
pub fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.is_empty() {
        spec.dns_policy = "ClusterFirst".to_owned();
    }
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".to_owned();
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(PodSecurityContext::default());
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(30);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = "default-scheduler".to_owned();
    }
    // The v1 conversion keeps the deprecated field and its replacement equal.
    if spec.service_account_name.is_empty() {
        spec.service_account_name = spec.service_account.clone();
    }
    spec.service_account = spec.service_account_name.clone();
    for ctr in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut())
    {
        default_container(ctr);
    }
    for volume in &mut spec.volumes {
        default_volume(volume);
    }
    round_up_to_milli(&mut spec.overhead);
}

/// core/v1 `SetDefaults_Container` and what a container holds: pull policy
/// from the image tag, termination message, port protocols, probes,
/// field-selector versions, resource rounding.
pub fn default_container(ctr: &mut Container) {
    if ctr.image_pull_policy.is_empty() {
        ctr.image_pull_policy = if image_tag(&ctr.image) == Some("latest") {
            "Always".to_owned()
        } else {
            "IfNotPresent".to_owned()
        };
    }
    if ctr.termination_message_path.is_empty() {
        ctr.termination_message_path = "/dev/termination-log".to_owned();
    }
    if ctr.termination_message_policy.is_empty() {
        ctr.termination_message_policy = "File".to_owned();
    }
    for port in &mut ctr.ports {
        if port.protocol.is_empty() {
            port.protocol = "TCP".to_owned();
        }
    }
    for probe in [
        ctr.liveness_probe.as_mut(),
        ctr.readiness_probe.as_mut(),
        ctr.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = &mut ctr.lifecycle {
        for handler in [lifecycle.post_start.as_mut(), lifecycle.pre_stop.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(http) = &mut handler.http_get {
                default_http_get(http);
            }
        }
    }
    for var in &mut ctr.env {
        if let Some(field_ref) = var.value_from.as_mut().and_then(|f| f.field_ref.as_mut()) {
            if field_ref.api_version.is_empty() {
                field_ref.api_version = "v1".to_owned();
            }
        }
    }
    round_up_to_milli(&mut ctr.resources.limits);
    round_up_to_milli(&mut ctr.resources.requests);
}

/// The tag of an image reference, as Kubernetes' `ParseImageName` finds it:
/// `latest` when there is neither a tag nor a digest, `None` for a digest
/// without a tag.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest.is_some() => None,
        None => Some("latest"),
    }
}

/// core/v1 `SetDefaults_Probe` and its handler's defaults.
fn default_probe(probe: &mut Probe) {
    if probe.timeout_seconds == 0 {
        probe.timeout_seconds = 1;
    }
    if probe.period_seconds == 0 {
        probe.period_seconds = 10;
    }
    if probe.success_threshold == 0 {
        probe.success_threshold = 1;
    }
    if probe.failure_threshold == 0 {
        probe.failure_threshold = 3;
    }
    if let Some(http) = &mut probe.http_get {
        default_http_get(http);
    }
    if let Some(grpc) = &mut probe.grpc {
        if grpc.service.is_none() {
            grpc.service = Some(String::new());
        }
    }
}

fn default_http_get(http: &mut crate::api::core::HTTPGetAction) {
    if http.path.is_empty() {
        http.path = "/".to_owned();
    }
    if http.scheme.is_empty() {
        http.scheme = "HTTP".to_owned();
    }
}

/// core/v1 `SetDefaults_Volume` and the volume sources' defaults: a volume
/// without a source is an emptyDir; projected files get mode 0644.
fn default_volume(volume: &mut Volume) {
    let has_source = volume.host_path.is_some()
        || volume.empty_dir.is_some()
        || volume.secret.is_some()
        || volume.nfs.is_some()
        || volume.persistent_volume_claim.is_some()
        || volume.downward_api.is_some()
        || volume.config_map.is_some()
        || volume.csi.is_some()
        || volume.projected.is_some();
    if !has_source {
        volume.empty_dir = Some(EmptyDirVolumeSource::default());
    }
    if let Some(hp) = &mut volume.host_path {
        if hp.type_.is_none() {
            hp.type_ = Some(String::new());
        }
    }
    if let Some(secret) = &mut volume.secret {
        secret.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(cm) = &mut volume.config_map {
        cm.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(dapi) = &mut volume.downward_api {
        dapi.default_mode.get_or_insert(DEFAULT_MODE);
        for item in &mut dapi.items {
            if let Some(f) = &mut item.field_ref {
                if f.api_version.is_empty() {
                    f.api_version = "v1".to_owned();
                }
            }
        }
    }
    if let Some(projected) = &mut volume.projected {
        projected.default_mode.get_or_insert(DEFAULT_MODE);
        for source in &mut projected.sources {
            if let Some(token) = &mut source.service_account_token {
                token.expiration_seconds.get_or_insert(3600);
            }
            if let Some(dapi) = &mut source.downward_api {
                for item in &mut dapi.items {
                    if let Some(f) = &mut item.field_ref {
                        if f.api_version.is_empty() {
                            f.api_version = "v1".to_owned();
                        }
                    }
                }
            }
        }
    }
}

/// core/v1 `SetDefaults_ResourceList`: amounts finer than a milli-unit are
/// rounded up (away from zero) to one.
pub(super) fn round_up_to_milli(list: &mut BTreeMap<String, Quantity>) {
    const NANOS_PER_MILLI: i128 = 1_000_000;
    for quantity in list.values_mut() {
        let nanos = quantity.as_nanos();
        let rem = nanos % NANOS_PER_MILLI;
        if rem == 0 {
            continue;
        }
        let rounded = nanos - rem + rem.signum() * NANOS_PER_MILLI;
        if let Some(q) = Quantity::from_nanos(rounded, quantity.format()) {
            *quantity = q;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image_tag;

    /// The pull policy hinges on the tag Kubernetes' image parser finds.
    #[test]
    fn image_tags_are_found_as_kubernetes_finds_them() {
        assert_eq!(image_tag("nginx"), Some("latest"));
        assert_eq!(image_tag("nginx:1.27"), Some("1.27"));
        assert_eq!(image_tag("localhost:5000/app"), Some("latest"));
        assert_eq!(image_tag("localhost:5000/app:v2"), Some("v2"));
        assert_eq!(image_tag("nginx@sha256:abc"), None);
        assert_eq!(image_tag("nginx:1.27@sha256:abc"), Some("1.27"));
    }
}
