//! Defaults of the kinds other than Pod: workloads (apps/v1, batch/v1),
//! Service and Endpoints, Secret, Namespace, Node, persistent storage,
//! EndpointSlice, HorizontalPodAutoscaler (autoscaling/v2) and RBAC bindings.

use super::pod::{default_pod_template, round_up_to_milli};
use crate::api::apps::{
    DaemonSet, DaemonSetUpdateStrategy, Deployment, DeploymentStrategy, ReplicaSet,
    RollingUpdateDaemonSet, RollingUpdateDeployment, RollingUpdateStatefulSetStrategy, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetUpdateStrategy,
};
use crate::api::autoscaling::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use crate::api::batch::{CronJob, Job};
use crate::api::core::{
    ClientIPConfig, Endpoints, Namespace, NamespaceStatus, Node, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus, Secret, Service,
    SessionAffinityConfig,
};
use crate::api::discovery::EndpointSlice;
use crate::api::intstr::IntOrString;
use crate::api::meta::ByteString;
use crate::api::rbac::{RoleRef, Subject};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// core/v1 `SetDefaults_Service`.
pub(super) fn default_service(svc: &mut Service) {
    let spec = &mut svc.spec;
    if spec.session_affinity.is_empty() {
        spec.session_affinity = "None".to_owned();
    }
    if spec.session_affinity == "None" {
        spec.session_affinity_config = None;
    }
    if spec.type_.is_empty() {
        spec.type_ = "ClusterIP".to_owned();
    }
    for port in &mut spec.ports {
        if port.protocol.is_empty() {
            port.protocol = "TCP".to_owned();
        }
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    let externally_accessible = spec.type_ == "LoadBalancer"
        || spec.type_ == "NodePort"
        || (spec.type_ == "ClusterIP" && !spec.external_ips.is_empty());
    if externally_accessible && spec.external_traffic_policy.is_empty() {
        spec.external_traffic_policy = "Cluster".to_owned();
    }
    if spec.internal_traffic_policy.is_none()
        && ["NodePort", "LoadBalancer", "ClusterIP"].contains(&spec.type_.as_str())
    {
        spec.internal_traffic_policy = Some("Cluster".to_owned());
    }
    if spec.session_affinity == "ClientIP" {
        let has_timeout = spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .is_some();
        if !has_timeout {
            spec.session_affinity_config = Some(SessionAffinityConfig {
                client_ip: Some(ClientIPConfig {
                    timeout_seconds: Some(10800),
                }),
            });
        }
    }
    if spec.type_ == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
}

/// core/v1 `SetDefaults_Endpoints`: port protocols.
pub(super) fn default_endpoints(ep: &mut Endpoints) {
    for port in ep.subsets.iter_mut().flat_map(|s| s.ports.iter_mut()) {
        if port.protocol.is_empty() {
            port.protocol = "TCP".to_owned();
        }
    }
}

/// core/v1 `SetDefaults_Secret` (`type: Opaque`) plus the v1 conversion's
/// merge of `stringData` into `data`, which then empties `stringData`.
pub(super) fn default_secret(secret: &mut Secret) {
    if secret.type_.is_empty() {
        secret.type_ = "Opaque".to_owned();
    }
    for (key, value) in std::mem::take(&mut secret.string_data) {
        secret.data.insert(key, ByteString(value.into_bytes()));
    }
}

/// core/v1 `SetDefaults_NamespaceStatus`: `phase: Active`.
pub(super) fn default_namespace(ns: &mut Namespace) {
    let status = ns.status.get_or_insert_with(NamespaceStatus::default);
    if status.phase.is_empty() {
        status.phase = "Active".to_owned();
    }
}

/// core/v1 `SetDefaults_NodeStatus`: allocatable defaults to capacity.
pub(super) fn default_node(node: &mut Node) {
    if let Some(status) = &mut node.status {
        if status.allocatable.is_empty() && !status.capacity.is_empty() {
            status.allocatable = status.capacity.clone();
        }
        round_up_to_milli(&mut status.capacity);
        round_up_to_milli(&mut status.allocatable);
    }
}

/// core/v1 `SetDefaults_PersistentVolume`.
pub(super) fn default_persistent_volume(pv: &mut PersistentVolume) {
    let status = pv
        .status
        .get_or_insert_with(PersistentVolumeStatus::default);
    if status.phase.is_empty() {
        status.phase = "Pending".to_owned();
    }
    if pv.spec.persistent_volume_reclaim_policy.is_empty() {
        pv.spec.persistent_volume_reclaim_policy = "Retain".to_owned();
    }
    if pv.spec.volume_mode.is_none() {
        pv.spec.volume_mode = Some("Filesystem".to_owned());
    }
    if let Some(hp) = &mut pv.spec.host_path {
        if hp.type_.is_none() {
            hp.type_ = Some(String::new());
        }
    }
    round_up_to_milli(&mut pv.spec.capacity);
}

/// core/v1 `SetDefaults_PersistentVolumeClaim` and its spec's defaults.
pub(super) fn default_persistent_volume_claim(pvc: &mut PersistentVolumeClaim) {
    let status = pvc
        .status
        .get_or_insert_with(PersistentVolumeClaimStatus::default);
    if status.phase.is_empty() {
        status.phase = "Pending".to_owned();
    }
    if pvc.spec.volume_mode.is_none() {
        pvc.spec.volume_mode = Some("Filesystem".to_owned());
    }
    round_up_to_milli(&mut pvc.spec.resources.requests);
    round_up_to_milli(&mut pvc.spec.resources.limits);
}

/// apps/v1 `SetDefaults_Deployment`.
pub(super) fn default_deployment(d: &mut Deployment) {
    let spec = &mut d.spec;
    spec.replicas.get_or_insert(1);
    let strategy = spec
        .strategy
        .get_or_insert_with(DeploymentStrategy::default);
    if strategy.type_.is_empty() {
        strategy.type_ = "RollingUpdate".to_owned();
    }
    if strategy.type_ == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        ru.max_unavailable
            .get_or_insert_with(|| IntOrString::from("25%"));
        ru.max_surge.get_or_insert_with(|| IntOrString::from("25%"));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    default_pod_template(&mut spec.template);
}

/// apps/v1 `SetDefaults_ReplicaSet`.
pub(super) fn default_replica_set(rs: &mut ReplicaSet) {
    rs.spec.replicas.get_or_insert(1);
    default_pod_template(&mut rs.spec.template);
}

/// apps/v1 `SetDefaults_StatefulSet`, and the claim defaults for each
/// volume claim template.
pub(super) fn default_stateful_set(ss: &mut StatefulSet) {
    let spec = &mut ss.spec;
    if spec.pod_management_policy.is_empty() {
        spec.pod_management_policy = "OrderedReady".to_owned();
    }
    let strategy = spec
        .update_strategy
        .get_or_insert_with(StatefulSetUpdateStrategy::default);
    if strategy.type_.is_empty() {
        strategy.type_ = "RollingUpdate".to_owned();
        strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
    }
    if strategy.type_ == "RollingUpdate" {
        if let Some(ru) = &mut strategy.rolling_update {
            ru.partition.get_or_insert(0);
        }
    }
    let policy = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    for value in [&mut policy.when_deleted, &mut policy.when_scaled] {
        if value.is_empty() {
            *value = "Retain".to_owned();
        }
    }
    spec.replicas.get_or_insert(1);
    spec.revision_history_limit.get_or_insert(10);
    for claim in &mut spec.volume_claim_templates {
        default_persistent_volume_claim(claim);
    }
    default_pod_template(&mut spec.template);
}

/// apps/v1 `SetDefaults_DaemonSet`.
pub(super) fn default_daemon_set(ds: &mut DaemonSet) {
    let spec = &mut ds.spec;
    let strategy = spec
        .update_strategy
        .get_or_insert_with(DaemonSetUpdateStrategy::default);
    if strategy.type_.is_empty() {
        strategy.type_ = "RollingUpdate".to_owned();
    }
    if strategy.type_ == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        ru.max_unavailable.get_or_insert(IntOrString::Int(1));
        ru.max_surge.get_or_insert(IntOrString::Int(0));
    }
    spec.revision_history_limit.get_or_insert(10);
    default_pod_template(&mut spec.template);
}

/// batch/v1 `SetDefaults_Job`.
pub(super) fn default_job(job: &mut Job) {
    let spec = &mut job.spec;
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    if job.metadata.labels.is_empty() && !spec.template.metadata.labels.is_empty() {
        job.metadata.labels = spec.template.metadata.labels.clone();
    }
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".to_owned());
    spec.suspend.get_or_insert(false);
    if let Some(policy) = &mut spec.pod_failure_policy {
        for pattern in policy
            .rules
            .iter_mut()
            .flat_map(|r| r.on_pod_conditions.iter_mut())
        {
            if pattern.status.is_empty() {
                pattern.status = "True".to_owned();
            }
        }
    }
    if spec.pod_replacement_policy.is_none() {
        spec.pod_replacement_policy = Some(if spec.pod_failure_policy.is_some() {
            "Failed".to_owned()
        } else {
            "TerminatingOrFailed".to_owned()
        });
    }
    default_pod_template(&mut spec.template);
}

/// batch/v1 `SetDefaults_CronJob`; the job template gets pod defaults only,
/// as in Kubernetes (Job-level defaults apply when a Job is created).
pub(super) fn default_cron_job(cj: &mut CronJob) {
    let spec = &mut cj.spec;
    if spec.concurrency_policy.is_empty() {
        spec.concurrency_policy = "Allow".to_owned();
    }
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    default_pod_template(&mut spec.job_template.spec.template);
}

/// discovery/v1 `SetDefaults_EndpointPort`.
pub(super) fn default_endpoint_slice(slice: &mut EndpointSlice) {
    for port in &mut slice.ports {
        port.name.get_or_insert_with(String::new);
        port.protocol.get_or_insert_with(|| "TCP".to_owned());
    }
}

/// autoscaling/v2 `SetDefaults_HorizontalPodAutoscaler`: one replica at
/// least, 80% average CPU when no metric is given, and default scaling
/// rules wherever a `behavior` leaves them out.
pub(super) fn default_hpa(hpa: &mut HorizontalPodAutoscaler) {
    let spec = &mut hpa.spec;
    spec.min_replicas.get_or_insert(1);
    if spec.metrics.is_empty() {
        spec.metrics.push(MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_owned(),
                target: MetricTarget {
                    type_: "Utilization".to_owned(),
                    average_utilization: Some(80),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    if let Some(behavior) = &mut spec.behavior {
        let up = HPAScalingRules {
            stabilization_window_seconds: Some(0),
            select_policy: Some("Max".to_owned()),
            policies: vec![policy("Pods", 4, 15), policy("Percent", 100, 15)],
        };
        let down = HPAScalingRules {
            stabilization_window_seconds: None,
            select_policy: Some("Max".to_owned()),
            policies: vec![policy("Percent", 100, 15)],
        };
        behavior.scale_up = Some(merge_rules(behavior.scale_up.take(), up));
        behavior.scale_down = Some(merge_rules(behavior.scale_down.take(), down));
    }
}

fn policy(type_: &str, value: i32, period_seconds: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.to_owned(),
        value,
        period_seconds,
    }
}

/// autoscaling's `copyHPAScalingRules`: what the user set wins.
fn merge_rules(from: Option<HPAScalingRules>, mut to: HPAScalingRules) -> HPAScalingRules {
    let Some(from) = from else {
        return to;
    };
    if from.select_policy.is_some() {
        to.select_policy = from.select_policy;
    }
    if from.stabilization_window_seconds.is_some() {
        to.stabilization_window_seconds = from.stabilization_window_seconds;
    }
    if !from.policies.is_empty() {
        to.policies = from.policies;
    }
    to
}

/// rbac/v1 `SetDefaults_*RoleBinding` and `SetDefaults_Subject`.
pub(super) fn default_binding(role_ref: &mut RoleRef, subjects: &mut [Subject]) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = RBAC_GROUP.to_owned();
    }
    for subject in subjects {
        if subject.api_group.is_empty() && (subject.kind == "User" || subject.kind == "Group") {
            subject.api_group = RBAC_GROUP.to_owned();
        }
    }
}
