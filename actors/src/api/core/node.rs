//! Nodes (`core/v1.Node`): the machines pods run on, their taints, capacity
//! and conditions.

use std::collections::BTreeMap;

use crate::api::meta::is_false;
use crate::api::meta::is_zero_i64;
use crate::api::meta::Condition;
use crate::api::meta::ObjectMeta;
use crate::api::quantity::Quantity;
use crate::api::time::Time;
use serde::{Deserialize, Serialize};

/// A worker machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The group/version this object is written in; set on decode.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The kind, `Node`; set on decode.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired state.
    #[serde(default)]
    pub spec: NodeSpec,
    /// The observed state, reported by the node agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
}

/// The desired state of a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    /// The pod IP range assigned to the node.
    #[serde(rename = "podCIDR", default, skip_serializing_if = "String::is_empty")]
    pub pod_cidr: String,
    /// The pod IP ranges, one per family.
    #[serde(rename = "podCIDRs", default, skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<String>,
    /// The cloud provider's id for the node.
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,
    /// Whether new pods may not be scheduled here (cordoned).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unschedulable: bool,
    /// Taints that repel pods that do not tolerate them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// A mark on a node that repels pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// The taint key.
    #[serde(default)]
    pub key: String,
    /// The taint value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    #[serde(default)]
    pub effect: String,
    /// When a `NoExecute` taint was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<Time>,
}

/// The observed state of a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Total resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capacity: BTreeMap<String, Quantity>,
    /// Resources available to pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocatable: BTreeMap<String, Quantity>,
    /// Deprecated lifecycle phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    /// `Ready`, `MemoryPressure`, `DiskPressure`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Addresses the node is reachable at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// Ports of daemons on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon_endpoints: Option<NodeDaemonEndpoints>,
    /// Versions and ids of the node's software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
    /// Images on the node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ContainerImage>,
    /// Volumes in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_in_use: Vec<String>,
    /// Volumes attached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_attached: Vec<AttachedVolume>,
}

/// One address of a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAddress {
    /// `Hostname`, `InternalIP`, `ExternalIP`...
    #[serde(rename = "type", default)]
    pub type_: String,
    /// The address.
    #[serde(default)]
    pub address: String,
}

/// Ports of daemons on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeDaemonEndpoints {
    /// The node agent's endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_endpoint: Option<DaemonEndpoint>,
}

/// A daemon's port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonEndpoint {
    /// The port.
    #[serde(rename = "Port", default)]
    pub port: i32,
}

/// Versions and ids of a node's software.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    /// The machine id.
    #[serde(rename = "machineID", default)]
    pub machine_id: String,
    /// The system UUID.
    #[serde(rename = "systemUUID", default)]
    pub system_uuid: String,
    /// The boot id.
    #[serde(rename = "bootID", default)]
    pub boot_id: String,
    /// The kernel version.
    #[serde(default)]
    pub kernel_version: String,
    /// The OS image.
    #[serde(default)]
    pub os_image: String,
    /// The container runtime version.
    #[serde(default)]
    pub container_runtime_version: String,
    /// The node agent version.
    #[serde(default)]
    pub kubelet_version: String,
    /// The service proxy version.
    #[serde(default)]
    pub kube_proxy_version: String,
    /// `linux`.
    #[serde(default)]
    pub operating_system: String,
    /// `amd64`, `arm64`...
    #[serde(default)]
    pub architecture: String,
}

/// An image on a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// Names and digests of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Its size.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub size_bytes: i64,
}

/// A volume attached to a node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedVolume {
    /// The volume's name.
    #[serde(default)]
    pub name: String,
    /// Where it is attached.
    #[serde(default)]
    pub device_path: String,
}
