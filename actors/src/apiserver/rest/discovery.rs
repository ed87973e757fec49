//! Discovery documents, built from the registry of kinds ([`RESOURCES`]).
//!
//! kubectl learns what a server serves from these before anything else: the legacy
//! documents (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) and, when it
//! asks for `as=APIGroupDiscoveryList`, the aggregated v2 documents that say the same
//! in two requests. All of them are pure functions of the registry.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::convert::ALTERNATE_VERSIONS;
use crate::api::object::{ResourceInfo, RESOURCES};

/// The verbs every resource collection serves.
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The media type of aggregated discovery (v2), which kubectl 1.32 asks for first.
pub const AGGREGATED_MEDIA_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// A subresource a kind serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// Its name in URLs (`status`, `scale`).
    pub name: &'static str,
    /// The group of the object it takes and returns.
    pub group: &'static str,
    /// The version of that object.
    pub version: &'static str,
    /// The kind of that object.
    pub kind: &'static str,
}

/// Whether a kind has a `status` subresource (its status is written separately).
pub fn has_status(info: &ResourceInfo) -> bool {
    matches!(
        info.plural,
        "pods"
            | "nodes"
            | "services"
            | "namespaces"
            | "persistentvolumes"
            | "persistentvolumeclaims"
            | "deployments"
            | "replicasets"
            | "statefulsets"
            | "daemonsets"
            | "jobs"
            | "cronjobs"
            | "ingresses"
            | "horizontalpodautoscalers"
    )
}

/// Whether a kind has a `scale` subresource.
pub fn has_scale(info: &ResourceInfo) -> bool {
    matches!(info.plural, "deployments" | "replicasets" | "statefulsets")
}

/// The subresources `info` serves.
pub fn subresources(info: &ResourceInfo) -> Vec<Subresource> {
    let mut out = Vec::new();
    if has_status(info) {
        out.push(Subresource {
            name: "status",
            group: info.group,
            version: info.version,
            kind: info.kind,
        });
    }
    if has_scale(info) {
        out.push(Subresource {
            name: "scale",
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
        });
    }
    out
}

/// Every kind at every version served: the stored ones, then the alternate
/// versions ([`ALTERNATE_VERSIONS`]), so a group's stored version is preferred.
fn served() -> impl Iterator<Item = &'static ResourceInfo> {
    RESOURCES.iter().chain(ALTERNATE_VERSIONS.iter()).copied()
}

/// The groups other than core, each with its versions, in registry order.
fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in served().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Whether Hive serves any resource in `group`/`version` (`""` is core).
pub fn serves(group: &str, version: &str) -> bool {
    served().any(|r| r.group == group && r.version == version)
}

/// `/api`: the core group's versions (`APIVersions`).
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    })
}

fn group_json(name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": versions,
        "preferredVersion": versions[0],
    })
}

/// `/apis`: every non-core group (`APIGroupList`).
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups()
        .iter()
        .map(|(name, versions)| group_json(name, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: one group (`APIGroup`), if served.
pub fn api_group(group: &str) -> Option<Value> {
    let (name, versions) = groups().into_iter().find(|(g, _)| *g == group)?;
    let mut doc = group_json(name, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `/api/v1` or `/apis/<group>/<version>`: the resources and subresources of a
/// group-version (`APIResourceList`), if served.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    if !serves(group, version) {
        return None;
    }
    let mut resources = Vec::new();
    for r in served().filter(|r| r.group == group && r.version == version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for sub in subresources(r) {
            let mut e = json!({
                "name": format!("{}/{}", r.plural, sub.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub.kind,
                "verbs": ["get", "patch", "update"],
            });
            if sub.group != r.group {
                e["group"] = json!(sub.group);
                e["version"] = json!(sub.version);
            }
            resources.push(e);
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    let subs: Vec<Value> = subresources(r)
        .iter()
        .map(|s| {
            json!({
                "subresource": s.name,
                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                "verbs": ["get", "patch", "update"],
            })
        })
        .collect();
    if !subs.is_empty() {
        entry["subresources"] = Value::Array(subs);
    }
    entry
}

/// Aggregated discovery (`APIGroupDiscoveryList`, apidiscovery.k8s.io/v2): for `/api`
/// the core group, for `/apis` every other group, each with all its resources.
pub fn aggregated(core: bool) -> Value {
    let mut by_group: BTreeMap<&str, Vec<(&str, Vec<Value>)>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in served().filter(|r| r.group.is_empty() == core) {
        if !order.contains(&r.group) {
            order.push(r.group);
        }
        let versions = by_group.entry(r.group).or_default();
        match versions.iter_mut().find(|(v, _)| *v == r.version) {
            Some((_, list)) => list.push(aggregated_resource(r)),
            None => versions.push((r.version, vec![aggregated_resource(r)])),
        }
    }
    let items: Vec<Value> = order
        .iter()
        .map(|group| {
            let versions: Vec<Value> = by_group
                .remove(group)
                .unwrap_or_default()
                .into_iter()
                .map(|(version, resources)| {
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let mut metadata = json!({"creationTimestamp": null});
            if !group.is_empty() {
                metadata["name"] = json!(group);
            }
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// Whether an `Accept` header asks for aggregated discovery.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"as=APIGroupDiscoveryList")
            && params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
    })
}

/// `/version`: the Kubernetes version this server speaks (`version.Info`).
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": format!("v1.32.0-hive.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered kind appears once in the legacy documents of its group-version,
    /// with Kubernetes' names, scope and short names.
    #[test]
    fn legacy_discovery_lists_every_registered_kind() {
        let mut seen = 0;
        for (group, versions) in std::iter::once(("", vec!["v1"])).chain(groups()) {
            for version in versions {
                let doc = api_resource_list(group, version).expect("served");
                let resources = doc["resources"].as_array().expect("list");
                seen += resources
                    .iter()
                    .filter(|r| !r["name"].as_str().unwrap_or("/").contains('/'))
                    .count();
            }
        }
        assert_eq!(seen, RESOURCES.len() + ALTERNATE_VERSIONS.len());
        let core = api_resource_list("", "v1").expect("core");
        let pods = core["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == "pods"))
            .expect("pods");
        assert_eq!(pods["kind"], "Pod");
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let apps = api_resource_list("apps", "v1").expect("apps");
        let scale = apps["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["name"] == "deployments/scale"))
            .expect("scale");
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        assert!(api_resource_list("apps", "v2").is_none());
        assert!(api_group("nosuch.io").is_none());
        assert_eq!(
            api_group("apps").expect("apps")["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
    }

    /// Aggregated discovery carries the same kinds, grouped, with scopes and subresources.
    #[test]
    fn aggregated_discovery_groups_resources_by_group_and_version() {
        let core = aggregated(true);
        assert_eq!(core["kind"], "APIGroupDiscoveryList");
        let items = core["items"].as_array().expect("items");
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let resources = items[0]["versions"][0]["resources"].as_array().expect("r");
        let nodes = resources
            .iter()
            .find(|r| r["resource"] == "nodes")
            .expect("nodes");
        assert_eq!(nodes["scope"], "Cluster");
        assert_eq!(nodes["subresources"][0]["subresource"], "status");
        let groups = aggregated(false);
        let names: Vec<&str> = groups["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["metadata"]["name"].as_str())
            .collect();
        assert!(names.contains(&"apps") && names.contains(&"rbac.authorization.k8s.io"));
        let total: usize = groups["items"]
            .as_array()
            .expect("items")
            .iter()
            .flat_map(|i| i["versions"].as_array().cloned().unwrap_or_default())
            .map(|v| v["resources"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(
            total + resources.len(),
            RESOURCES.len() + ALTERNATE_VERSIONS.len()
        );
        // autoscaling serves v2 (stored, preferred) and v1 (converted).
        let autoscaling = api_group("autoscaling").expect("autoscaling");
        assert_eq!(autoscaling["preferredVersion"]["version"], "v2");
        assert_eq!(autoscaling["versions"][1]["version"], "v1");
    }

    /// kubectl 1.32's Accept header selects aggregated discovery; a plain one does not.
    #[test]
    fn the_aggregated_media_type_is_recognised() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(kubectl));
        assert!(!wants_aggregated("application/json, */*"));
    }
}
