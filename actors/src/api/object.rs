//! The registry of kinds Hive serves and the [`Object`] enum that holds any
//! one of them.
//!
//! [`RESOURCES`] is the static table the REST edge builds discovery from:
//! group, version, kind, plural and singular resource names, scope, short
//! names, and the storage key prefix. Keys follow Kubernetes' own etcd layout,
//! including its historical names (`/registry/minions/<node>`,
//! `/registry/services/specs/<ns>/<name>`, `/registry/ingress/<ns>/<name>`),
//! so a dump of our store reads like a dump of theirs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::meta::ObjectMeta;
use super::{apps, autoscaling, batch, coordination, core, discovery, networking, rbac};

/// One kind Hive serves: its names, its scope and where it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceInfo {
    /// The API group; `""` for the core group.
    pub group: &'static str,
    /// The version, e.g. `v1`.
    pub version: &'static str,
    /// The kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// The plural resource name used in URLs, e.g. `deployments`.
    pub plural: &'static str,
    /// The singular resource name, e.g. `deployment`.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts, e.g. `deploy`.
    pub short_names: &'static [&'static str],
    /// Categories the kind belongs to; `kubectl get all` lists category `all`.
    pub categories: &'static [&'static str],
    /// The key prefix under `/registry/`, as in Kubernetes' etcd layout.
    pub storage_prefix: &'static str,
}

impl ResourceInfo {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group, version and kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind {
            group: self.group.to_owned(),
            version: self.version.to_owned(),
            kind: self.kind.to_owned(),
        }
    }

    /// The storage key of the object `name` in `namespace` (ignored for
    /// cluster-scoped kinds): `/registry/<prefix>/<namespace>/<name>` or
    /// `/registry/<prefix>/<name>`.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("/registry/{}/{namespace}/{name}", self.storage_prefix)
        } else {
            format!("/registry/{}/{name}", self.storage_prefix)
        }
    }

    /// The key prefix that every object of this kind (in `namespace`, when
    /// given and the kind is namespaced) is stored under, ending in `/`.
    pub fn key_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{ns}/", self.storage_prefix),
            _ => format!("/registry/{}/", self.storage_prefix),
        }
    }
}

/// A group, version and kind (apimachinery's `schema.GroupVersionKind`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersionKind {
    /// The API group; `""` for the core group.
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
}

impl GroupVersionKind {
    /// Splits an `apiVersion` (`apps/v1` or `v1`) and pairs it with `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> GroupVersionKind {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        GroupVersionKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, Kind={}", self.api_version(), self.kind)
    }
}

/// A typed API object of one registered kind.
pub trait Resource {
    /// The kind's registry entry.
    const INFO: &'static ResourceInfo;

    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;

    /// The object's metadata, for changing.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// Sets `apiVersion` and `kind` to this kind's.
    fn set_type_meta(&mut self);

    /// The object's storage key (see [`ResourceInfo::key`]).
    fn key(&self) -> String {
        let meta = self.metadata();
        Self::INFO.key(&meta.namespace, &meta.name)
    }
}

macro_rules! info {
    ($name:ident, $group:literal, $version:literal, $kind:literal, $plural:literal, $singular:literal, $namespaced:literal, [$($short:literal),*], $all:literal, $prefix:literal) => {
        #[doc = concat!("The registry entry of `", $kind, "`.")]
        pub const $name: ResourceInfo = ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $namespaced,
            short_names: &[$($short),*],
            categories: if $all { &["all"] } else { &[] },
            storage_prefix: $prefix,
        };
    };
}

info!(
    NAMESPACE,
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    false,
    ["ns"],
    false,
    "namespaces"
);
info!(
    POD,
    "",
    "v1",
    "Pod",
    "pods",
    "pod",
    true,
    ["po"],
    true,
    "pods"
);
info!(
    NODE,
    "",
    "v1",
    "Node",
    "nodes",
    "node",
    false,
    ["no"],
    false,
    "minions"
);
info!(
    SERVICE,
    "",
    "v1",
    "Service",
    "services",
    "service",
    true,
    ["svc"],
    true,
    "services/specs"
);
info!(
    ENDPOINTS,
    "",
    "v1",
    "Endpoints",
    "endpoints",
    "endpoints",
    true,
    ["ep"],
    false,
    "services/endpoints"
);
info!(
    CONFIG_MAP,
    "",
    "v1",
    "ConfigMap",
    "configmaps",
    "configmap",
    true,
    ["cm"],
    false,
    "configmaps"
);
info!(
    SECRET,
    "",
    "v1",
    "Secret",
    "secrets",
    "secret",
    true,
    [],
    false,
    "secrets"
);
info!(
    EVENT,
    "",
    "v1",
    "Event",
    "events",
    "event",
    true,
    ["ev"],
    false,
    "events"
);
info!(
    SERVICE_ACCOUNT,
    "",
    "v1",
    "ServiceAccount",
    "serviceaccounts",
    "serviceaccount",
    true,
    ["sa"],
    false,
    "serviceaccounts"
);
info!(
    PERSISTENT_VOLUME,
    "",
    "v1",
    "PersistentVolume",
    "persistentvolumes",
    "persistentvolume",
    false,
    ["pv"],
    false,
    "persistentvolumes"
);
info!(
    PERSISTENT_VOLUME_CLAIM,
    "",
    "v1",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    true,
    ["pvc"],
    false,
    "persistentvolumeclaims"
);
info!(
    DEPLOYMENT,
    "apps",
    "v1",
    "Deployment",
    "deployments",
    "deployment",
    true,
    ["deploy"],
    true,
    "deployments"
);
info!(
    REPLICA_SET,
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    "replicaset",
    true,
    ["rs"],
    true,
    "replicasets"
);
info!(
    STATEFUL_SET,
    "apps",
    "v1",
    "StatefulSet",
    "statefulsets",
    "statefulset",
    true,
    ["sts"],
    true,
    "statefulsets"
);
info!(
    DAEMON_SET,
    "apps",
    "v1",
    "DaemonSet",
    "daemonsets",
    "daemonset",
    true,
    ["ds"],
    true,
    "daemonsets"
);
info!(
    CONTROLLER_REVISION,
    "apps",
    "v1",
    "ControllerRevision",
    "controllerrevisions",
    "controllerrevision",
    true,
    [],
    false,
    "controllerrevisions"
);
info!(
    JOB,
    "batch",
    "v1",
    "Job",
    "jobs",
    "job",
    true,
    [],
    true,
    "jobs"
);
info!(
    CRON_JOB,
    "batch",
    "v1",
    "CronJob",
    "cronjobs",
    "cronjob",
    true,
    ["cj"],
    true,
    "cronjobs"
);
info!(
    LEASE,
    "coordination.k8s.io",
    "v1",
    "Lease",
    "leases",
    "lease",
    true,
    [],
    false,
    "leases"
);
info!(
    ENDPOINT_SLICE,
    "discovery.k8s.io",
    "v1",
    "EndpointSlice",
    "endpointslices",
    "endpointslice",
    true,
    [],
    false,
    "endpointslices"
);
info!(
    INGRESS,
    "networking.k8s.io",
    "v1",
    "Ingress",
    "ingresses",
    "ingress",
    true,
    ["ing"],
    false,
    "ingress"
);
info!(
    HORIZONTAL_POD_AUTOSCALER,
    "autoscaling",
    "v2",
    "HorizontalPodAutoscaler",
    "horizontalpodautoscalers",
    "horizontalpodautoscaler",
    true,
    ["hpa"],
    true,
    "horizontalpodautoscalers"
);
info!(
    ROLE,
    "rbac.authorization.k8s.io",
    "v1",
    "Role",
    "roles",
    "role",
    true,
    [],
    false,
    "roles"
);
info!(
    CLUSTER_ROLE,
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRole",
    "clusterroles",
    "clusterrole",
    false,
    [],
    false,
    "clusterroles"
);
info!(
    ROLE_BINDING,
    "rbac.authorization.k8s.io",
    "v1",
    "RoleBinding",
    "rolebindings",
    "rolebinding",
    true,
    [],
    false,
    "rolebindings"
);
info!(
    CLUSTER_ROLE_BINDING,
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    "clusterrolebinding",
    false,
    [],
    false,
    "clusterrolebindings"
);

/// Every kind Hive serves, core group first, then by group.
pub static RESOURCES: [&ResourceInfo; 26] = [
    &NAMESPACE,
    &POD,
    &NODE,
    &SERVICE,
    &ENDPOINTS,
    &CONFIG_MAP,
    &SECRET,
    &EVENT,
    &SERVICE_ACCOUNT,
    &PERSISTENT_VOLUME,
    &PERSISTENT_VOLUME_CLAIM,
    &DEPLOYMENT,
    &REPLICA_SET,
    &STATEFUL_SET,
    &DAEMON_SET,
    &CONTROLLER_REVISION,
    &JOB,
    &CRON_JOB,
    &LEASE,
    &ENDPOINT_SLICE,
    &INGRESS,
    &HORIZONTAL_POD_AUTOSCALER,
    &ROLE,
    &CLUSTER_ROLE,
    &ROLE_BINDING,
    &CLUSTER_ROLE_BINDING,
];

/// The registry entry for an `apiVersion` and `kind`, if Hive serves it.
pub fn lookup_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let gvk = GroupVersionKind::from_api_version(api_version, kind);
    RESOURCES
        .iter()
        .copied()
        .find(|r| r.group == gvk.group && r.version == gvk.version && r.kind == gvk.kind)
}

/// The registry entry for a group, version and plural resource name (a REST
/// path's parts), if Hive serves it.
pub fn lookup_resource(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

macro_rules! objects {
    ($($variant:ident($ty:ty) => $info:ident,)*) => {
        /// Any object of a registered kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant(Box<$ty>),
            )*
        }

        $(
            impl Resource for $ty {
                const INFO: &'static ResourceInfo = &$info;

                fn metadata(&self) -> &ObjectMeta {
                    &self.metadata
                }

                fn metadata_mut(&mut self) -> &mut ObjectMeta {
                    &mut self.metadata
                }

                fn set_type_meta(&mut self) {
                    self.api_version = $info.api_version();
                    self.kind = $info.kind.to_owned();
                }
            }

            impl From<$ty> for Object {
                fn from(object: $ty) -> Object {
                    Object::$variant(Box::new(object))
                }
            }
        )*

        impl Object {
            /// The registry entry of the object's kind.
            pub fn info(&self) -> &'static ResourceInfo {
                match self {
                    $(Object::$variant(_) => &$info,)*
                }
            }

            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(o) => &o.metadata,)*
                }
            }

            /// The object's metadata, for changing.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$variant(o) => &mut o.metadata,)*
                }
            }

            /// Sets `apiVersion` and `kind` to the object's kind's.
            pub fn set_type_meta(&mut self) {
                match self {
                    $(Object::$variant(o) => o.set_type_meta(),)*
                }
            }

            /// Builds the typed object of kind `info` from a deserializer.
            pub(crate) fn deserialize_as<'de, D: Deserializer<'de>>(
                info: &ResourceInfo,
                deserializer: D,
            ) -> Result<Object, D::Error> {
                $(
                    if info.kind == $info.kind && info.group == $info.group {
                        let mut object = <$ty>::deserialize(deserializer)?;
                        object.set_type_meta();
                        return Ok(Object::$variant(Box::new(object)));
                    }
                )*
                Err(serde::de::Error::custom(format_args!("no kind {:?} is registered", info.kind)))
            }
        }

        impl Serialize for Object {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Object::$variant(o) => o.serialize(serializer),)*
                }
            }
        }
    };
}

objects! {
    Namespace(core::Namespace) => NAMESPACE,
    Pod(core::Pod) => POD,
    Node(core::Node) => NODE,
    Service(core::Service) => SERVICE,
    Endpoints(core::Endpoints) => ENDPOINTS,
    ConfigMap(core::ConfigMap) => CONFIG_MAP,
    Secret(core::Secret) => SECRET,
    Event(core::Event) => EVENT,
    ServiceAccount(core::ServiceAccount) => SERVICE_ACCOUNT,
    PersistentVolume(core::PersistentVolume) => PERSISTENT_VOLUME,
    PersistentVolumeClaim(core::PersistentVolumeClaim) => PERSISTENT_VOLUME_CLAIM,
    Deployment(apps::Deployment) => DEPLOYMENT,
    ReplicaSet(apps::ReplicaSet) => REPLICA_SET,
    StatefulSet(apps::StatefulSet) => STATEFUL_SET,
    DaemonSet(apps::DaemonSet) => DAEMON_SET,
    ControllerRevision(apps::ControllerRevision) => CONTROLLER_REVISION,
    Job(batch::Job) => JOB,
    CronJob(batch::CronJob) => CRON_JOB,
    Lease(coordination::Lease) => LEASE,
    EndpointSlice(discovery::EndpointSlice) => ENDPOINT_SLICE,
    Ingress(networking::Ingress) => INGRESS,
    HorizontalPodAutoscaler(autoscaling::HorizontalPodAutoscaler) => HORIZONTAL_POD_AUTOSCALER,
    Role(rbac::Role) => ROLE,
    ClusterRole(rbac::ClusterRole) => CLUSTER_ROLE,
    RoleBinding(rbac::RoleBinding) => ROLE_BINDING,
    ClusterRoleBinding(rbac::ClusterRoleBinding) => CLUSTER_ROLE_BINDING,
}

impl Object {
    /// The object's storage key: `/registry/<prefix>/<namespace>/<name>` for
    /// namespaced kinds, `/registry/<prefix>/<name>` for cluster-scoped ones.
    pub fn key(&self) -> String {
        let meta = self.metadata();
        self.info().key(&meta.namespace, &meta.name)
    }

    /// The object's group, version and kind.
    pub fn gvk(&self) -> GroupVersionKind {
        self.info().gvk()
    }

    /// The object as a JSON value, in Kubernetes' shape.
    pub fn to_json_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

impl<'de> Deserialize<'de> for Object {
    /// Reads `apiVersion` and `kind`, then the typed object; unknown fields
    /// are dropped silently (use [`crate::api::decode_object`] to report them).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        use serde::de::Error as _;
        let value = serde_json::Value::deserialize(deserializer)?;
        let api_version = value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let kind = value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        let info = lookup_kind(api_version, kind).ok_or_else(|| {
            D::Error::custom(format_args!(
                "no kind {kind:?} is registered for version {api_version:?}"
            ))
        })?;
        Object::deserialize_as(info, value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Keys follow Kubernetes' etcd layout, historical names included.
    #[test]
    fn storage_keys_follow_the_kubernetes_etcd_layout() {
        let cases = [
            (&POD, "/registry/pods/shop/web"),
            (&NODE, "/registry/minions/web"),
            (&SERVICE, "/registry/services/specs/shop/web"),
            (&ENDPOINTS, "/registry/services/endpoints/shop/web"),
            (&INGRESS, "/registry/ingress/shop/web"),
            (&DEPLOYMENT, "/registry/deployments/shop/web"),
            (&CLUSTER_ROLE, "/registry/clusterroles/web"),
            (&NAMESPACE, "/registry/namespaces/web"),
            (
                &HORIZONTAL_POD_AUTOSCALER,
                "/registry/horizontalpodautoscalers/shop/web",
            ),
        ];
        for (info, key) in cases {
            assert_eq!(info.key("shop", "web"), key);
        }
        assert_eq!(POD.key_prefix(Some("shop")), "/registry/pods/shop/");
        assert_eq!(POD.key_prefix(None), "/registry/pods/");
        assert_eq!(NODE.key_prefix(Some("shop")), "/registry/minions/");
    }

    /// Kinds and resources are found by the names clients use.
    #[test]
    fn kinds_and_resources_are_looked_up_by_their_names() {
        assert_eq!(lookup_kind("apps/v1", "Deployment"), Some(&DEPLOYMENT));
        assert_eq!(lookup_kind("v1", "Pod"), Some(&POD));
        assert_eq!(lookup_kind("apps/v2", "Deployment"), None);
        assert_eq!(lookup_kind("v1", "Deployment"), None);
        assert_eq!(lookup_resource("", "v1", "services"), Some(&SERVICE));
        assert_eq!(
            lookup_resource("autoscaling", "v2", "horizontalpodautoscalers"),
            Some(&HORIZONTAL_POD_AUTOSCALER)
        );
        assert_eq!(
            GroupVersionKind::from_api_version("rbac.authorization.k8s.io/v1", "Role")
                .api_version(),
            "rbac.authorization.k8s.io/v1"
        );
        assert_eq!(DEPLOYMENT.gvk().to_string(), "apps/v1, Kind=Deployment");
    }

    /// The registry has no duplicate kind, resource or short name, and the
    /// cluster-scoped kinds are exactly Kubernetes' ones.
    #[test]
    fn the_registry_is_consistent() {
        let kinds: BTreeSet<_> = RESOURCES.iter().map(|r| (r.group, r.kind)).collect();
        let plurals: BTreeSet<_> = RESOURCES.iter().map(|r| (r.group, r.plural)).collect();
        let shorts: Vec<_> = RESOURCES
            .iter()
            .flat_map(|r| r.short_names.iter())
            .collect();
        let unique_shorts: BTreeSet<_> = shorts.iter().collect();
        assert_eq!(kinds.len(), RESOURCES.len());
        assert_eq!(plurals.len(), RESOURCES.len());
        assert_eq!(unique_shorts.len(), shorts.len());
        let cluster: BTreeSet<_> = RESOURCES
            .iter()
            .filter(|r| !r.namespaced)
            .map(|r| r.kind)
            .collect();
        let expected: BTreeSet<_> = [
            "Namespace",
            "Node",
            "PersistentVolume",
            "ClusterRole",
            "ClusterRoleBinding",
        ]
        .into_iter()
        .collect();
        assert_eq!(cluster, expected);
        let all: BTreeSet<_> = RESOURCES
            .iter()
            .filter(|r| r.categories.contains(&"all"))
            .map(|r| r.plural)
            .collect();
        assert!(all.contains("pods") && all.contains("deployments") && !all.contains("secrets"));
    }

    /// Objects carry their kind's type meta and dispatch to its registry entry.
    #[test]
    fn objects_dispatch_to_their_kind() {
        let mut object = Object::from(core::ConfigMap::default());
        object.set_type_meta();
        object.metadata_mut().name = "c".to_owned();
        object.metadata_mut().namespace = "ns".to_owned();
        assert_eq!(object.info(), &CONFIG_MAP);
        assert_eq!(object.key(), "/registry/configmaps/ns/c");
        let json = object.to_json_value().unwrap_or_default();
        assert_eq!(json["apiVersion"], "v1");
        assert_eq!(json["kind"], "ConfigMap");
        let back: Result<Object, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(object));
    }
}
