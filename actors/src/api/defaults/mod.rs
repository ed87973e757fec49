//! Defaulting as the Kubernetes API server applies it between decoding and
//! validation (the `SetDefaults_*` functions of each group's v1 package):
//! `restartPolicy: Always`, `imagePullPolicy` from the image tag, probe
//! timings, Service `type: ClusterIP` and `targetPort = port`, Deployment
//! `replicas: 1` and a 25%/25% rolling update, Job `backoffLimit: 6`, and
//! the rest listed per function.
//!
//! Defaulting is idempotent: applying it twice gives the same object. It
//! also performs the two conversions Kubernetes does on the way in, since
//! Hive keeps one version of each kind: a Secret's `stringData` is merged
//! into `data`, and a pod's deprecated `serviceAccount` and
//! `serviceAccountName` are made to agree.
//!
//! Not done here, because Kubernetes does them in admission or the storage
//! strategy rather than in defaulting: the default service account, a Job's
//! generated selector, a Namespace's `kubernetes` finalizer, uid and
//! timestamps.

mod pod;
mod workloads;

use super::object::Object;

pub use pod::{default_container, default_pod_spec, default_pod_template};

/// Fills in every defaulted field of `object`.
pub fn default_object(object: &mut Object) {
    match object {
        Object::Pod(pod) => pod::default_pod(pod),
        Object::Service(svc) => workloads::default_service(svc),
        Object::Endpoints(ep) => workloads::default_endpoints(ep),
        Object::Secret(secret) => workloads::default_secret(secret),
        Object::Namespace(ns) => workloads::default_namespace(ns),
        Object::Node(node) => workloads::default_node(node),
        Object::PersistentVolume(pv) => workloads::default_persistent_volume(pv),
        Object::PersistentVolumeClaim(pvc) => workloads::default_persistent_volume_claim(pvc),
        Object::Deployment(d) => workloads::default_deployment(d),
        Object::ReplicaSet(rs) => workloads::default_replica_set(rs),
        Object::StatefulSet(ss) => workloads::default_stateful_set(ss),
        Object::DaemonSet(ds) => workloads::default_daemon_set(ds),
        Object::Job(job) => workloads::default_job(job),
        Object::CronJob(cj) => workloads::default_cron_job(cj),
        Object::EndpointSlice(slice) => workloads::default_endpoint_slice(slice),
        Object::HorizontalPodAutoscaler(hpa) => workloads::default_hpa(hpa),
        Object::RoleBinding(b) => workloads::default_binding(&mut b.role_ref, &mut b.subjects),
        Object::ClusterRoleBinding(b) => {
            workloads::default_binding(&mut b.role_ref, &mut b.subjects)
        }
        Object::ConfigMap(_)
        | Object::Event(_)
        | Object::ServiceAccount(_)
        | Object::ControllerRevision(_)
        | Object::Lease(_)
        | Object::Ingress(_)
        | Object::Role(_)
        | Object::ClusterRole(_) => {}
    }
}

#[cfg(test)]
mod tests;
