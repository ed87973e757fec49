//! Server-side printing: the `Table` (meta.k8s.io/v1) that `kubectl get` asks for.
//!
//! Each kind has Kubernetes' columns (pods: NAME READY STATUS RESTARTS AGE, and IP,
//! NODE, ... at priority 1 for `-o wide`); kinds without their own printer get NAME
//! and AGE. Cells are computed from the object's JSON, so one printer serves an
//! object however it was read. Everything here is a pure function of the objects and
//! the current time.

use serde_json::{json, Value};

use crate::api::object::ResourceInfo;
use crate::api::Time;

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// The object's metadata as a `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(value: &str) -> Option<IncludeObject> {
        match value {
            "None" => Some(IncludeObject::None),
            "Metadata" | "" => Some(IncludeObject::Metadata),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// Whether an `Accept` header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// A column: its name, type, format and priority (0 always shown, 1 for `-o wide`).
struct Column(&'static str, &'static str, &'static str, u8);

const NAME: Column = Column("Name", "string", "name", 0);
const AGE: Column = Column("Age", "string", "", 0);

fn columns(info: &ResourceInfo) -> Vec<Column> {
    let s = |name, priority| Column(name, "string", "", priority);
    let i = |name, priority| Column(name, "integer", "", priority);
    match (info.group, info.plural) {
        ("", "pods") => vec![
            NAME,
            s("Ready", 0),
            s("Status", 0),
            i("Restarts", 0),
            AGE,
            s("IP", 1),
            s("Node", 1),
            s("Nominated Node", 1),
            s("Readiness Gates", 1),
        ],
        ("apps", "deployments") => vec![
            NAME,
            s("Ready", 0),
            i("Up-to-date", 0),
            i("Available", 0),
            AGE,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("apps", "replicasets") => vec![
            NAME,
            i("Desired", 0),
            i("Current", 0),
            i("Ready", 0),
            AGE,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("apps", "statefulsets") => {
            vec![NAME, s("Ready", 0), AGE, s("Containers", 1), s("Images", 1)]
        }
        ("apps", "daemonsets") => vec![
            NAME,
            i("Desired", 0),
            i("Current", 0),
            i("Ready", 0),
            i("Up-to-date", 0),
            i("Available", 0),
            s("Node Selector", 0),
            AGE,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("", "services") => vec![
            NAME,
            s("Type", 0),
            s("Cluster-IP", 0),
            s("External-IP", 0),
            s("Port(s)", 0),
            AGE,
            s("Selector", 1),
        ],
        ("", "configmaps") => vec![NAME, i("Data", 0), AGE],
        ("", "secrets") => vec![NAME, s("Type", 0), i("Data", 0), AGE],
        ("", "namespaces") => vec![NAME, s("Status", 0), AGE],
        ("", "nodes") => vec![
            NAME,
            s("Status", 0),
            s("Roles", 0),
            AGE,
            s("Version", 0),
            s("Internal-IP", 1),
            s("External-IP", 1),
            s("OS-Image", 1),
            s("Kernel-Version", 1),
            s("Container-Runtime", 1),
        ],
        ("", "endpoints") => vec![NAME, s("Endpoints", 0), AGE],
        ("", "events") => vec![
            s("Last Seen", 0),
            s("Type", 0),
            s("Reason", 0),
            s("Object", 0),
            s("Message", 0),
        ],
        ("", "serviceaccounts") => vec![NAME, i("Secrets", 0), AGE],
        ("batch", "jobs") => vec![
            NAME,
            s("Status", 0),
            s("Completions", 0),
            AGE,
            s("Containers", 1),
            s("Images", 1),
            s("Selector", 1),
        ],
        ("batch", "cronjobs") => vec![
            NAME,
            s("Schedule", 0),
            s("Suspend", 0),
            i("Active", 0),
            s("Last Schedule", 0),
            AGE,
        ],
        ("coordination.k8s.io", "leases") => vec![NAME, s("Holder", 0), AGE],
        ("", "persistentvolumes") => vec![
            NAME,
            s("Capacity", 0),
            s("Access Modes", 0),
            s("Reclaim Policy", 0),
            s("Status", 0),
            s("Claim", 0),
            s("StorageClass", 0),
            s("VolumeAttributesClass", 0),
            s("Reason", 0),
            AGE,
            s("VolumeMode", 1),
        ],
        ("", "persistentvolumeclaims") => vec![
            NAME,
            s("Status", 0),
            s("Volume", 0),
            s("Capacity", 0),
            s("Access Modes", 0),
            s("StorageClass", 0),
            s("VolumeAttributesClass", 0),
            AGE,
            s("VolumeMode", 1),
        ],
        ("apps", "controllerrevisions") => {
            vec![NAME, s("Controller", 0), i("Revision", 0), AGE]
        }
        ("discovery.k8s.io", "endpointslices") => vec![
            NAME,
            s("AddressType", 0),
            s("Ports", 0),
            s("Endpoints", 0),
            AGE,
        ],
        ("networking.k8s.io", "ingresses") => vec![
            NAME,
            s("Class", 0),
            s("Hosts", 0),
            s("Address", 0),
            s("Ports", 0),
            AGE,
        ],
        ("autoscaling", "horizontalpodautoscalers") => vec![
            NAME,
            s("Reference", 0),
            s("Targets", 0),
            s("MinPods", 0),
            i("MaxPods", 0),
            i("Replicas", 0),
            AGE,
        ],
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            vec![NAME, s("Created At", 0)]
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => vec![
            NAME,
            s("Role", 0),
            AGE,
            s("Users", 1),
            s("Groups", 1),
            s("ServiceAccounts", 1),
        ],
        _ => vec![NAME, AGE],
    }
}

/// The Table of `objects` of kind `info` at `now`, with `resource_version` and
/// `continue_token` as its list metadata.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    now: Time,
    include: IncludeObject,
    resource_version: &str,
    continue_token: &str,
) -> Value {
    let definitions: Vec<Value> = columns(info)
        .iter()
        .map(|Column(name, ty, format, priority)| {
            json!({
                "name": name,
                "type": ty,
                "format": format,
                "description": description(name),
                "priority": priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(info, o, now, include)).collect();
    let mut metadata = json!({});
    if !resource_version.is_empty() {
        metadata["resourceVersion"] = json!(resource_version);
    }
    if !continue_token.is_empty() {
        metadata["continue"] = json!(continue_token);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn description(column: &str) -> &'static str {
    match column {
        "Name" => "Name must be unique within a namespace.",
        "Age" => "CreationTimestamp is a timestamp representing the server time when this object was created.",
        _ => "",
    }
}

fn row(info: &ResourceInfo, object: &Value, now: Time, include: IncludeObject) -> Value {
    let mut row = json!({ "cells": cells(info, object, now) });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
            });
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s.to_owned()
    }
}

/// The age of an object created at `creationTimestamp`, as kubectl prints it.
fn age(object: &Value, now: Time) -> String {
    match Time::parse(str_at(object, "/metadata/creationTimestamp")) {
        Ok(created) => human_duration(now.seconds - created.seconds),
        Err(_) => "<unknown>".to_owned(),
    }
}

/// apimachinery's `duration.HumanDuration`: `45s`, `3m12s`, `5h2m`, `3d4h`, `2y30d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let seconds = seconds.max(0);
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    let days = hours / 24;
    let years = days / 365;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else if days < 365 * 8 {
        match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        }
    } else {
        format!("{years}y")
    }
}

fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let key = str_at(e, "/key");
        let values: Vec<&str> = array_at(e, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match str_at(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    or_none(&parts.join(","))
}

fn map_selector(selector: Option<&Value>) -> String {
    let parts: Vec<String> = selector
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    or_none(&parts.join(","))
}

fn containers_and_images(object: &Value) -> (String, String) {
    let containers = array_at(object, "/spec/template/spec/containers");
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn cells(info: &ResourceInfo, o: &Value, now: Time) -> Vec<Value> {
    let name = json!(str_at(o, "/metadata/name"));
    let age = json!(age(o, now));
    match (info.group, info.plural) {
        ("", "pods") => pod_cells(o, name, age),
        ("apps", "deployments") => {
            let (containers, images) = containers_and_images(o);
            let desired = o
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            vec![
                name,
                json!(format!("{}/{desired}", int_at(o, "/status/readyReplicas"))),
                json!(int_at(o, "/status/updatedReplicas")),
                json!(int_at(o, "/status/availableReplicas")),
                age,
                json!(containers),
                json!(images),
                json!(selector_string(
                    o.pointer("/spec/selector").unwrap_or(&Value::Null)
                )),
            ]
        }
        ("apps", "replicasets") => {
            let (containers, images) = containers_and_images(o);
            vec![
                name,
                json!(o
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)),
                json!(int_at(o, "/status/replicas")),
                json!(int_at(o, "/status/readyReplicas")),
                age,
                json!(containers),
                json!(images),
                json!(selector_string(
                    o.pointer("/spec/selector").unwrap_or(&Value::Null)
                )),
            ]
        }
        ("apps", "statefulsets") => {
            let (containers, images) = containers_and_images(o);
            let desired = o
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            vec![
                name,
                json!(format!("{}/{desired}", int_at(o, "/status/readyReplicas"))),
                age,
                json!(containers),
                json!(images),
            ]
        }
        ("apps", "daemonsets") => {
            let (containers, images) = containers_and_images(o);
            vec![
                name,
                json!(int_at(o, "/status/desiredNumberScheduled")),
                json!(int_at(o, "/status/currentNumberScheduled")),
                json!(int_at(o, "/status/numberReady")),
                json!(int_at(o, "/status/updatedNumberScheduled")),
                json!(int_at(o, "/status/numberAvailable")),
                json!(map_selector(o.pointer("/spec/template/spec/nodeSelector"))),
                age,
                json!(containers),
                json!(images),
                json!(selector_string(
                    o.pointer("/spec/selector").unwrap_or(&Value::Null)
                )),
            ]
        }
        ("", "services") => service_cells(o, name, age),
        ("", "configmaps") => {
            let count = |p| {
                o.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            vec![name, json!(count("/data") + count("/binaryData")), age]
        }
        ("", "secrets") => {
            let data = o
                .pointer("/data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            let ty = match str_at(o, "/type") {
                "" => "Opaque",
                t => t,
            };
            vec![name, json!(ty), json!(data), age]
        }
        ("", "namespaces") => {
            let phase = match str_at(o, "/status/phase") {
                "" => "Active",
                p => p,
            };
            vec![name, json!(phase), age]
        }
        ("", "nodes") => node_cells(o, name, age),
        ("", "endpoints") => vec![name, json!(endpoints_string(o)), age],
        ("", "events") => {
            let last = match Time::parse(str_at(o, "/lastTimestamp")) {
                Ok(t) => human_duration(now.seconds - t.seconds),
                Err(_) => "<unknown>".to_owned(),
            };
            let object = format!(
                "{}/{}",
                str_at(o, "/involvedObject/kind").to_lowercase(),
                str_at(o, "/involvedObject/name")
            );
            vec![
                json!(last),
                json!(str_at(o, "/type")),
                json!(str_at(o, "/reason")),
                json!(object),
                json!(str_at(o, "/message")),
            ]
        }
        ("", "serviceaccounts") => vec![name, json!(array_at(o, "/secrets").len()), age],
        ("batch", "jobs") => {
            let (containers, images) = containers_and_images(o);
            let completions = o
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let conditions = array_at(o, "/status/conditions");
            let has = |ty: &str| {
                conditions
                    .iter()
                    .any(|c| str_at(c, "/type") == ty && str_at(c, "/status") == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else {
                "Running"
            };
            vec![
                name,
                json!(status),
                json!(format!("{}/{completions}", int_at(o, "/status/succeeded"))),
                age,
                json!(containers),
                json!(images),
                json!(selector_string(
                    o.pointer("/spec/selector").unwrap_or(&Value::Null)
                )),
            ]
        }
        ("batch", "cronjobs") => {
            let last = match Time::parse(str_at(o, "/status/lastScheduleTime")) {
                Ok(t) => human_duration(now.seconds - t.seconds),
                Err(_) => "<none>".to_owned(),
            };
            let suspend = o
                .pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            vec![
                name,
                json!(str_at(o, "/spec/schedule")),
                json!(if suspend { "True" } else { "False" }),
                json!(array_at(o, "/status/active").len()),
                json!(last),
                age,
            ]
        }
        ("coordination.k8s.io", "leases") => {
            vec![name, json!(str_at(o, "/spec/holderIdentity")), age]
        }
        ("", "persistentvolumes") => volume_cells(o, name, age, true),
        ("", "persistentvolumeclaims") => volume_cells(o, name, age, false),
        ("apps", "controllerrevisions") => {
            let controller = array_at(o, "/metadata/ownerReferences")
                .iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .map_or("<none>".to_owned(), |r| {
                    let group = str_at(r, "/apiVersion")
                        .rsplit_once('/')
                        .map_or("", |(g, _)| g);
                    let kind = str_at(r, "/kind").to_lowercase();
                    let kind = if group.is_empty() {
                        kind
                    } else {
                        format!("{kind}.{group}")
                    };
                    format!("{kind}/{}", str_at(r, "/name"))
                });
            vec![name, json!(controller), json!(int_at(o, "/revision")), age]
        }
        ("discovery.k8s.io", "endpointslices") => {
            let ports: Vec<String> = array_at(o, "/ports")
                .iter()
                .map(|p| int_at(p, "/port").to_string())
                .collect();
            let addresses: Vec<String> = array_at(o, "/endpoints")
                .iter()
                .flat_map(|e| array_at(e, "/addresses"))
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            let ports = if ports.is_empty() {
                "<unset>".to_owned()
            } else {
                ports.join(",")
            };
            vec![
                name,
                json!(str_at(o, "/addressType")),
                json!(ports),
                json!(first_three(addresses)),
                age,
            ]
        }
        ("networking.k8s.io", "ingresses") => ingress_cells(o, name, age),
        ("autoscaling", "horizontalpodautoscalers") => hpa_cells(o, name, age),
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            vec![name, json!(str_at(o, "/metadata/creationTimestamp"))]
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            let subjects = |kind: &str| {
                let names: Vec<String> = array_at(o, "/subjects")
                    .iter()
                    .filter(|s| str_at(s, "/kind") == kind)
                    .map(|s| match str_at(s, "/namespace") {
                        ns if kind == "ServiceAccount" => format!("{ns}/{}", str_at(s, "/name")),
                        _ => str_at(s, "/name").to_owned(),
                    })
                    .collect();
                names.join(", ")
            };
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    str_at(o, "/roleRef/kind"),
                    str_at(o, "/roleRef/name")
                )),
                age,
                json!(subjects("User")),
                json!(subjects("Group")),
                json!(subjects("ServiceAccount")),
            ]
        }
        _ => vec![name, age],
    }
}

/// `a,b,c` or, past three, `a,b,c + N more...` (kubectl's list abbreviation).
fn first_three(mut items: Vec<String>) -> String {
    if items.len() > 3 {
        let more = items.len() - 3;
        items.truncate(3);
        return format!("{} + {more} more...", items.join(","));
    }
    or_none(&items.join(","))
}

/// Access modes as kubectl abbreviates them.
fn access_modes(modes: &[Value]) -> String {
    let short: Vec<&str> = modes
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    short.join(",")
}

/// A PersistentVolume's (`pv`) or a PersistentVolumeClaim's row.
fn volume_cells(o: &Value, name: Value, age: Value, pv: bool) -> Vec<Value> {
    let unset = |s: &str| match s {
        "" => "<unset>".to_owned(),
        s => s.to_owned(),
    };
    let class = json!(str_at(o, "/spec/storageClassName"));
    let attributes = json!(unset(str_at(o, "/spec/volumeAttributesClassName")));
    let mode = json!(match str_at(o, "/spec/volumeMode") {
        "" => "Filesystem",
        m => m,
    });
    if pv {
        let claim = match str_at(o, "/spec/claimRef/name") {
            "" => String::new(),
            n => format!("{}/{n}", str_at(o, "/spec/claimRef/namespace")),
        };
        vec![
            name,
            json!(str_at(o, "/spec/capacity/storage")),
            json!(access_modes(array_at(o, "/spec/accessModes"))),
            json!(match str_at(o, "/spec/persistentVolumeReclaimPolicy") {
                "" => "Retain",
                p => p,
            }),
            json!(str_at(o, "/status/phase")),
            json!(claim),
            class,
            attributes,
            json!(str_at(o, "/status/reason")),
            age,
            mode,
        ]
    } else {
        let bound = str_at(o, "/status/phase") == "Bound";
        let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
            "Terminating"
        } else {
            match str_at(o, "/status/phase") {
                "" => "Pending",
                p => p,
            }
        };
        vec![
            name,
            json!(phase),
            json!(str_at(o, "/spec/volumeName")),
            json!(if bound {
                str_at(o, "/status/capacity/storage")
            } else {
                ""
            }),
            json!(if bound {
                access_modes(array_at(o, "/status/accessModes"))
            } else {
                String::new()
            }),
            class,
            attributes,
            age,
            mode,
        ]
    }
}

fn ingress_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let mut hosts: Vec<String> = array_at(o, "/spec/rules")
        .iter()
        .map(|r| str_at(r, "/host"))
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    hosts.dedup();
    let hosts = match hosts.len() {
        0 => "*".to_owned(),
        n if n > 3 => format!("{} + {} more...", hosts[..3].join(","), n - 3),
        _ => hosts.join(","),
    };
    let address: Vec<&str> = array_at(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| match str_at(i, "/ip") {
            "" => str_at(i, "/hostname"),
            ip => ip,
        })
        .collect();
    let ports = if array_at(o, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name,
        json!(or_none(str_at(o, "/spec/ingressClassName"))),
        json!(hosts),
        json!(address.join(",")),
        json!(ports),
        age,
    ]
}

/// A HorizontalPodAutoscaler's row: `TARGETS` like kubectl 1.32's,
/// `cpu: 40%/50%` (`<unknown>` before a measurement).
fn hpa_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(o, "/spec/scaleTargetRef/kind"),
        str_at(o, "/spec/scaleTargetRef/name")
    );
    let current = array_at(o, "/status/currentMetrics");
    let targets: Vec<String> = array_at(o, "/spec/metrics")
        .iter()
        .map(|m| {
            let ty = str_at(m, "/type");
            let source = match ty {
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                "Pods" => "pods",
                "Object" => "object",
                _ => "external",
            };
            let spec = m.get(source).unwrap_or(&Value::Null);
            let metric = match ty {
                "Resource" | "ContainerResource" => str_at(spec, "/name").to_owned(),
                _ => str_at(spec, "/metric/name").to_owned(),
            };
            let now = current
                .iter()
                .find(|c| str_at(c, "/type") == ty)
                .and_then(|c| c.get(source))
                .filter(|c| match ty {
                    "Resource" | "ContainerResource" => str_at(c, "/name") == metric,
                    _ => str_at(c, "/metric/name") == metric,
                })
                .map(|c| c.get("current").unwrap_or(&Value::Null));
            let target = spec.get("target").unwrap_or(&Value::Null);
            let (want, have) = match str_at(target, "/type") {
                "Utilization" => (
                    format!("{}%", int_at(target, "/averageUtilization")),
                    now.and_then(|c| c.get("averageUtilization"))
                        .and_then(Value::as_i64)
                        .map(|u| format!("{u}%")),
                ),
                "AverageValue" => (
                    str_at(target, "/averageValue").to_owned(),
                    now.map(|c| str_at(c, "/averageValue").to_owned()),
                ),
                _ => (
                    str_at(target, "/value").to_owned(),
                    now.map(|c| str_at(c, "/value").to_owned()),
                ),
            };
            let have = have
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "<unknown>".to_owned());
            format!("{metric}: {have}/{want}")
        })
        .collect();
    let min = o
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or("<unset>".to_owned(), |m| m.to_string());
    vec![
        name,
        json!(reference),
        json!(or_none(&targets.join(", "))),
        json!(min),
        json!(int_at(o, "/spec/maxReplicas")),
        json!(int_at(o, "/status/currentReplicas")),
        age,
    ]
}

fn pod_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let statuses = array_at(o, "/status/containerStatuses");
    let total = array_at(o, "/spec/containers").len();
    let ready = statuses
        .iter()
        .filter(|s| s.get("ready").and_then(Value::as_bool).unwrap_or(false))
        .count();
    let restarts: i64 = statuses.iter().map(|s| int_at(s, "/restartCount")).sum();
    let mut reason = match str_at(o, "/status/reason") {
        "" => str_at(o, "/status/phase").to_owned(),
        r => r.to_owned(),
    };
    if reason.is_empty() {
        reason = "Pending".to_owned();
    }
    for s in statuses {
        let waiting = str_at(s, "/state/waiting/reason");
        let terminated = str_at(s, "/state/terminated/reason");
        if !waiting.is_empty() && waiting != "PodInitializing" {
            reason = waiting.to_owned();
        } else if !terminated.is_empty() {
            reason = terminated.to_owned();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".to_owned();
    }
    let gates = array_at(o, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = array_at(o, "/status/conditions");
        let met = gates
            .iter()
            .filter(|g| {
                conditions.iter().any(|c| {
                    str_at(c, "/type") == str_at(g, "/conditionType")
                        && str_at(c, "/status") == "True"
                })
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name,
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age,
        json!(or_none(str_at(o, "/status/podIP"))),
        json!(or_none(str_at(o, "/spec/nodeName"))),
        json!(or_none(str_at(o, "/status/nominatedNodeName"))),
        json!(gates),
    ]
}

fn service_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let ty = match str_at(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = or_none(str_at(o, "/spec/clusterIP"));
    let mut external: Vec<String> = array_at(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| match str_at(i, "/ip") {
            "" => str_at(i, "/hostname").to_owned(),
            ip => ip.to_owned(),
        })
        .collect();
    external.extend(
        array_at(o, "/spec/externalIPs")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    let external = match (ty, external.is_empty()) {
        ("ExternalName", _) => str_at(o, "/spec/externalName").to_owned(),
        ("LoadBalancer", true) => "<pending>".to_owned(),
        (_, true) => "<none>".to_owned(),
        (_, false) => external.join(","),
    };
    let ports: Vec<String> = array_at(o, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = match str_at(p, "/protocol") {
                "" => "TCP",
                pr => pr,
            };
            match int_at(p, "/nodePort") {
                0 => format!("{}/{protocol}", int_at(p, "/port")),
                node => format!("{}:{node}/{protocol}", int_at(p, "/port")),
            }
        })
        .collect();
    vec![
        name,
        json!(ty),
        json!(cluster_ip),
        json!(external),
        json!(or_none(&ports.join(","))),
        age,
        json!(map_selector(o.pointer("/spec/selector"))),
    ]
}

fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let conditions = array_at(o, "/status/conditions");
    let ready = conditions.iter().find(|c| str_at(c, "/type") == "Ready");
    let mut status = match ready.map(|c| str_at(c, "/status")) {
        Some("True") => "Ready".to_owned(),
        _ => "NotReady".to_owned(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    let address = |ty: &str| {
        array_at(o, "/status/addresses")
            .iter()
            .find(|a| str_at(a, "/type") == ty)
            .map_or("<none>".to_owned(), |a| str_at(a, "/address").to_owned())
    };
    vec![
        name,
        json!(status),
        json!(or_none(&roles.join(","))),
        age,
        json!(str_at(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(or_none(str_at(o, "/status/nodeInfo/osImage"))),
        json!(or_none(str_at(o, "/status/nodeInfo/kernelVersion"))),
        json!(or_none(str_at(
            o,
            "/status/nodeInfo/containerRuntimeVersion"
        ))),
    ]
}

fn endpoints_string(o: &Value) -> String {
    let mut out = Vec::new();
    for subset in array_at(o, "/subsets") {
        let ports = array_at(subset, "/ports");
        for address in array_at(subset, "/addresses") {
            let ip = str_at(address, "/ip");
            if ports.is_empty() {
                out.push(ip.to_owned());
            }
            for p in ports {
                out.push(format!("{ip}:{}", int_at(p, "/port")));
            }
        }
    }
    if out.len() > 3 {
        let more = out.len() - 3;
        out.truncate(3);
        return format!("{} + {more} more...", out.join(","));
    }
    or_none(&out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::object::{CONFIG_MAP, DEPLOYMENT, NODE, POD, SECRET, SERVICE};

    const NOW: Time = Time {
        seconds: 1_700_000_000,
    };

    fn created(seconds_ago: i64) -> String {
        let t = Time::from_unix(NOW.seconds - seconds_ago);
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn header(t: &Value) -> Vec<(String, i64)> {
        t["columnDefinitions"]
            .as_array()
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or("").to_owned(),
                            c["priority"].as_i64().unwrap_or(-1),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ages read as kubectl prints them, across every band of HumanDuration.
    #[test]
    fn ages_are_printed_like_kubectl() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (192, "3m12s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400, "9y"),
            (-5, "<invalid>"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(seconds), want, "{seconds}s");
        }
    }

    /// A pod row has Kubernetes' columns: ready containers, a status that prefers a
    /// waiting container's reason, the restart sum, the age, and IP/node for -o wide.
    #[test]
    fn pod_rows_show_readiness_status_restarts_and_placement() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "shop", "creationTimestamp": created(300)},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.5",
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                    {"name": "b", "ready": false, "restartCount": 1,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                ]
            }
        });
        let t = table(&POD, &[pod], NOW, IncludeObject::Metadata, "42", "");
        let names: Vec<String> = header(&t).into_iter().map(|(n, _)| n).collect();
        assert_eq!(&names[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
        assert_eq!(header(&t)[5], ("IP".to_owned(), 1));
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web-1",
                "1/2",
                "CrashLoopBackOff",
                3,
                "5m",
                "10.0.0.5",
                "n1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "shop");
        assert_eq!(t["metadata"]["resourceVersion"], "42");
        let pending = json!({"metadata": {"name": "p", "deletionTimestamp": created(1)}, "spec": {"containers": [{"name": "a"}]}});
        let t = table(&POD, &[pending], NOW, IncludeObject::None, "", "");
        assert_eq!(t["rows"][0]["cells"][1], "0/1");
        assert_eq!(t["rows"][0]["cells"][2], "Terminating");
        assert!(t["rows"][0].get("object").is_none());
    }

    /// Deployment rows: ready/desired, up-to-date, available, and wide columns.
    #[test]
    fn deployment_rows_show_replica_counts() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": created(7200)},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        let t = table(&DEPLOYMENT, &[d], NOW, IncludeObject::Object, "", "c1");
        let names: Vec<String> = header(&t).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "2/3", 3, 2, "120m", "nginx", "nginx:1.27", "app=web"])
        );
        assert_eq!(t["rows"][0]["object"]["spec"]["replicas"], 3);
        assert_eq!(t["metadata"]["continue"], "c1");
    }

    /// Service rows print type, cluster IP, external IP and ports as kubectl does.
    #[test]
    fn service_rows_show_type_addresses_and_ports() {
        let s = json!({
            "metadata": {"name": "web", "creationTimestamp": created(10)},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}
        });
        let t = table(&SERVICE, &[s], NOW, IncludeObject::None, "", "");
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "NodePort",
                "10.96.0.10",
                "<none>",
                "80:30080/TCP,53/UDP",
                "10s",
                "app=web"
            ])
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}});
        let t = table(&SERVICE, &[lb], NOW, IncludeObject::None, "", "");
        assert_eq!(t["rows"][0]["cells"][3], "<pending>");
        assert_eq!(t["rows"][0]["cells"][4], "<none>");
        assert_eq!(t["rows"][0]["cells"][5], "<unknown>");
    }

    /// ConfigMaps and Secrets count their keys; Secrets show their type.
    #[test]
    fn config_rows_count_keys() {
        let cm = json!({"metadata": {"name": "c", "creationTimestamp": created(1)}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        let t = table(&CONFIG_MAP, &[cm], NOW, IncludeObject::None, "", "");
        assert_eq!(t["rows"][0]["cells"], json!(["c", 3, "1s"]));
        let secret = json!({"metadata": {"name": "s", "creationTimestamp": created(1)}, "data": {"k": "dg=="}});
        let t = table(&SECRET, &[secret], NOW, IncludeObject::None, "", "");
        assert_eq!(t["rows"][0]["cells"], json!(["s", "Opaque", 1, "1s"]));
    }

    /// Node rows derive status from the Ready condition and roles from labels.
    #[test]
    fn node_rows_show_readiness_and_roles() {
        let n = json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}, "creationTimestamp": created(60)},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.1.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-hive"}}
        });
        let t = table(&NODE, &[n], NOW, IncludeObject::None, "", "");
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "Ready,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane");
        assert_eq!(cells[4], "v1.32.0-hive");
        assert_eq!(cells[5], "10.1.0.2");
        assert_eq!(cells[6], "<none>");
    }

    /// kubectl's Accept header for `get` selects a Table; a plain one does not.
    #[test]
    fn the_table_media_type_is_recognised() {
        assert!(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert!(!wants_table("application/json"));
        assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
        assert_eq!(IncludeObject::parse("bogus"), None);
    }

    /// Every kind's rows have one cell per column, whatever the object holds.
    #[test]
    fn every_kind_has_a_cell_per_column() {
        let bare = json!({"metadata": {"name": "x", "creationTimestamp": created(5)}});
        for info in crate::api::object::RESOURCES {
            let t = table(
                info,
                std::slice::from_ref(&bare),
                NOW,
                IncludeObject::None,
                "",
                "",
            );
            let cells = t["rows"][0]["cells"].as_array().map_or(0, Vec::len);
            assert_eq!(header(&t).len(), cells, "{}", info.kind);
        }
    }

    /// Ingresses, autoscalers and bindings print the columns kubectl shows for them.
    #[test]
    fn ingress_hpa_and_binding_rows_match_kubectl() {
        use crate::api::object::{HORIZONTAL_POD_AUTOSCALER, INGRESS, ROLE_BINDING};
        let cells = |info, o: Value| {
            table(info, &[o], NOW, IncludeObject::None, "", "")["rows"][0]["cells"].clone()
        };
        let ingress = json!({
            "metadata": {"name": "ing", "creationTimestamp": created(60)},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.com"]}],
                     "rules": [{"host": "a.com"}, {"host": "b.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}
        });
        assert_eq!(
            cells(&INGRESS, ingress),
            json!(["ing", "nginx", "a.com,b.com", "10.0.0.9", "80, 443", "60s"])
        );
        let hpa = json!({
            "metadata": {"name": "web", "creationTimestamp": created(60)},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
                ]
            },
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}
            ]}
        });
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALER, hpa),
            json!([
                "web",
                "Deployment/web",
                "cpu: 40%/50%, memory: <unknown>/100Mi",
                "1",
                5,
                2,
                "60s"
            ])
        );
        let binding = json!({
            "metadata": {"name": "rb", "creationTimestamp": created(60)},
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "User", "name": "bob"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "pb"},
                {"kind": "Group", "name": "devs"}
            ]
        });
        assert_eq!(
            cells(&ROLE_BINDING, binding),
            json!(["rb", "Role/reader", "60s", "bob", "devs", "pb/sa"])
        );
    }
}
