//! Object validation as the Kubernetes API server does it: every problem
//! with an object, each reported as a [`FieldError`] at its exact path with
//! apimachinery's wording, so `kubectl` users see the messages they know.
//!
//! [`validate_object`] is the entry point. It expects a defaulted object (the
//! API server defaults before it validates), so fields that defaulting fills
//! in, such as `spec.restartPolicy`, are reported as required when empty.
//! Namespaced objects must carry their namespace (the REST edge sets it from
//! the URL first).
//!
//! Deliberate differences from Kubernetes, each small:
//! - a Job without a selector is accepted unless `manualSelector` is true,
//!   since Kubernetes' Job strategy generates the selector before validation
//!   and Hive's storage strategy will do the same;
//! - a duplicate `containerPort`/`protocol` pair within a pod is rejected,
//!   where Kubernetes only warns;
//! - a StatefulSet's pod template is validated like any other (Kubernetes
//!   skips it), with the volume claim templates counted as volumes.

mod apps;
mod autoscaling;
mod batch;
mod container;
mod core;
mod cron;
mod env;
mod helpers;
mod meta;
mod network;
mod pod;
mod probe;
mod rbac;
mod resources;
mod volume;

use super::object::Object;
use super::validation::FieldErrors;

pub use container::VolumeNames;
pub use helpers::{validate_nonnegative, NameRule};
pub use meta::{validate_annotations, validate_object_meta};
pub use pod::{validate_pod_spec, validate_pod_template, PodSpecOptions};

#[cfg(test)]
mod tests;

/// Every problem with `object`, in the order Kubernetes reports them.
pub fn validate_object(object: &Object) -> FieldErrors {
    match object {
        Object::Namespace(o) => core::validate_namespace(o),
        Object::Pod(o) => pod::validate_pod(o),
        Object::Node(o) => core::validate_node(o),
        Object::Service(o) => network::validate_service(o),
        Object::Endpoints(o) => network::validate_endpoints(o),
        Object::ConfigMap(o) => core::validate_config_map(o),
        Object::Secret(o) => core::validate_secret(o),
        Object::Event(o) => core::validate_event(o),
        Object::ServiceAccount(o) => core::validate_service_account(o),
        Object::PersistentVolume(o) => volume::validate_persistent_volume(o),
        Object::PersistentVolumeClaim(o) => volume::validate_persistent_volume_claim(o),
        Object::Deployment(o) => apps::validate_deployment(o),
        Object::ReplicaSet(o) => apps::validate_replica_set(o),
        Object::StatefulSet(o) => apps::validate_stateful_set(o),
        Object::DaemonSet(o) => apps::validate_daemon_set(o),
        Object::ControllerRevision(o) => apps::validate_controller_revision(o),
        Object::Job(o) => batch::validate_job(o),
        Object::CronJob(o) => batch::validate_cron_job(o),
        Object::Lease(o) => core::validate_lease(o),
        Object::EndpointSlice(o) => network::validate_endpoint_slice(o),
        Object::Ingress(o) => network::validate_ingress(o),
        Object::HorizontalPodAutoscaler(o) => autoscaling::validate_hpa(o),
        Object::Role(o) => rbac::validate_role(o),
        Object::ClusterRole(o) => rbac::validate_cluster_role(o),
        Object::RoleBinding(o) => rbac::validate_role_binding(o),
        Object::ClusterRoleBinding(o) => rbac::validate_cluster_role_binding(o),
    }
}
