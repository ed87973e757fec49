//! The OpenAPI v3 documents kubectl reads: `/openapi/v3` (one entry per
//! group-version) and `/openapi/v3/<api|apis/group>/<version>`.
//!
//! kubectl 1.32 uses them for two things. Before sending a manifest it checks that
//! the server validates fields itself: a PATCH operation for the kind, marked with
//! `x-kubernetes-group-version-kind`, that takes the `fieldValidation` query
//! parameter; it then sends `fieldValidation=Strict` and leaves the checking to the
//! server (which refuses unknown fields with 400). And `kubectl explain` reads the
//! kinds' schemas from `components.schemas`, found by the same extension.

use serde_json::{json, Map, Value};

use std::sync::OnceLock;

use schemars::gen::SchemaSettings;

use crate::api::object::{ResourceInfo, RESOURCES};

use super::discovery;

/// Changes whenever the documents change, so clients may cache them by URL.
const HASH: &str = concat!("hive-", env!("CARGO_PKG_VERSION"));

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group-version's document is.
pub fn root() -> Value {
    let mut paths = Map::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter() {
        if seen.contains(&(r.group, r.version)) {
            continue;
        }
        seen.push((r.group, r.version));
        let path = gv_path(r.group, r.version);
        paths.insert(
            path.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={HASH}") }),
        );
    }
    json!({ "paths": paths })
}

fn gvk(info: &ResourceInfo) -> Value {
    json!({"group": info.group, "version": info.version, "kind": info.kind})
}

fn query_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", "uniqueItems": true},
    })
}

fn write_params() -> Vec<Value> {
    vec![
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid value: All.",
        ),
        query_param(
            "fieldManager",
            "A name associated with the actor or entity that is making these changes.",
        ),
        query_param(
            "fieldValidation",
            "How the server treats unknown or duplicate fields: Ignore, Warn or Strict.",
        ),
    ]
}

fn operation(
    info: &ResourceInfo,
    action: &str,
    id: &str,
    params: Vec<Value>,
    schema: &str,
) -> Value {
    let schema_ref = json!({"$ref": format!("#/components/schemas/{schema}")});
    let mut op = json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(info),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}},
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    op
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The operation id suffix Kubernetes uses, e.g. `AppsV1NamespacedDeployment`.
fn kind_id(info: &ResourceInfo) -> String {
    let group = match info.group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    let scope = if info.namespaced { "Namespaced" } else { "" };
    format!(
        "{}{}{scope}{}",
        capitalized(group),
        capitalized(info.version),
        info.kind
    )
}

/// The schema name of a kind, as Kubernetes' documents name it
/// (`io.k8s.api.apps.v1.Deployment`).
pub fn schema_name(info: &ResourceInfo) -> String {
    let group = match info.group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("io.k8s.api.{group}.{}.{}", info.version, info.kind)
}

/// `/openapi/v3/<gv path>`: the paths of every resource in the group-version, and
/// the schemas of their kinds, if the group-version is served.
pub fn group_version(group: &str, version: &str) -> Option<Value> {
    if !discovery::serves(group, version) {
        return None;
    }
    let prefix = format!("/{}", gv_path(group, version));
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let schema = schema_name(r);
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let id = kind_id(r);
        let mut patch_params = write_params();
        patch_params.push(query_param(
            "force",
            "Force is going to \"force\" Apply requests.",
        ));
        paths.insert(
            format!("{base}/{{name}}"),
            json!({
                "get": operation(r, "get", &format!("read{id}"), vec![], &schema),
                "put": operation(r, "put", &format!("replace{id}"), write_params(), &schema),
                "patch": operation(r, "patch", &format!("patch{id}"), patch_params, &schema),
                "delete": operation(r, "delete", &format!("delete{id}"), vec![query_param("dryRun", "When present, indicates that modifications should not be persisted.")], &schema),
            }),
        );
        paths.insert(
            base,
            json!({
                "get": operation(r, "list", &format!("list{id}"), vec![], &schema),
                "post": operation(r, "post", &format!("create{id}"), write_params(), &schema),
            }),
        );
        add_kind_schema(r, &mut schemas);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Hive", "version": HASH},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// [`group_version`] as JSON text, built once per process (the documents are a pure
/// function of the registry).
pub fn group_version_text(group: &str, version: &str) -> Option<&'static str> {
    static DOCS: OnceLock<Vec<(&'static str, &'static str, String)>> = OnceLock::new();
    let docs = DOCS.get_or_init(|| {
        let mut out: Vec<(&'static str, &'static str, String)> = Vec::new();
        for r in RESOURCES.iter() {
            if out.iter().any(|(g, v, _)| *g == r.group && *v == r.version) {
                continue;
            }
            if let Some(doc) = group_version(r.group, r.version) {
                out.push((r.group, r.version, doc.to_string()));
            }
        }
        out
    });
    docs.iter()
        .find(|(g, v, _)| *g == group && *v == version)
        .map(|(_, _, text)| text.as_str())
}

/// The schema of a kind, from Kubernetes' own definitions (k8s-openapi), with the
/// group-version-kind extension kubectl finds it by; `schemas` receives it and
/// every schema it refers to.
fn add_kind_schema(info: &ResourceInfo, schemas: &mut Map<String, Value>) {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let found = kind_schemas::subschema(info, &mut gen);
    for (name, schema) in gen.take_definitions() {
        let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
        ref_siblings_to_all_of(&mut value);
        schemas.insert(name, value);
    }
    let name = schema_name(info);
    if !found {
        schemas.insert(
            name.clone(),
            json!({"type": "object", "description": format!("{} ({}).", info.kind, info.api_version())}),
        );
    }
    if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
        schema.insert("x-kubernetes-group-version-kind".into(), json!([gvk(info)]));
    }
}

/// OpenAPI 3.0 ignores the siblings of a `$ref`; Kubernetes' documents therefore
/// write a described reference as `allOf: [{$ref}]` plus the description, and
/// kubectl explain reads them that way.
fn ref_siblings_to_all_of(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.len() > 1 {
                if let Some(r) = map.remove("$ref") {
                    map.insert("allOf".into(), json!([{ "$ref": r }]));
                }
            }
            map.values_mut().for_each(ref_siblings_to_all_of);
        }
        Value::Array(items) => items.iter_mut().for_each(ref_siblings_to_all_of),
        _ => {}
    }
}

/// The k8s-openapi type of each served kind.
mod kind_schemas {
    use k8s_openapi::api::{
        apps, autoscaling, batch, coordination, core, discovery, networking, rbac,
    };
    use schemars::gen::SchemaGenerator;

    use crate::api::object::ResourceInfo;

    /// Adds the schema of `info`'s kind (and what it refers to) to `gen`; false if
    /// the kind has no known schema.
    pub fn subschema(info: &ResourceInfo, gen: &mut SchemaGenerator) -> bool {
        macro_rules! kinds {
            ($($group:literal, $kind:literal => $ty:ty;)*) => {
                match (info.group, info.kind) {
                    $(($group, $kind) => { gen.subschema_for::<$ty>(); true })*
                    _ => false,
                }
            };
        }
        kinds! {
            "", "Namespace" => core::v1::Namespace;
            "", "Pod" => core::v1::Pod;
            "", "Node" => core::v1::Node;
            "", "Service" => core::v1::Service;
            "", "Endpoints" => core::v1::Endpoints;
            "", "ConfigMap" => core::v1::ConfigMap;
            "", "Secret" => core::v1::Secret;
            "", "Event" => core::v1::Event;
            "", "ServiceAccount" => core::v1::ServiceAccount;
            "", "PersistentVolume" => core::v1::PersistentVolume;
            "", "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim;
            "apps", "Deployment" => apps::v1::Deployment;
            "apps", "ReplicaSet" => apps::v1::ReplicaSet;
            "apps", "StatefulSet" => apps::v1::StatefulSet;
            "apps", "DaemonSet" => apps::v1::DaemonSet;
            "apps", "ControllerRevision" => apps::v1::ControllerRevision;
            "batch", "Job" => batch::v1::Job;
            "batch", "CronJob" => batch::v1::CronJob;
            "coordination.k8s.io", "Lease" => coordination::v1::Lease;
            "discovery.k8s.io", "EndpointSlice" => discovery::v1::EndpointSlice;
            "networking.k8s.io", "Ingress" => networking::v1::Ingress;
            "autoscaling", "HorizontalPodAutoscaler" => autoscaling::v2::HorizontalPodAutoscaler;
            "rbac.authorization.k8s.io", "Role" => rbac::v1::Role;
            "rbac.authorization.k8s.io", "ClusterRole" => rbac::v1::ClusterRole;
            "rbac.authorization.k8s.io", "RoleBinding" => rbac::v1::RoleBinding;
            "rbac.authorization.k8s.io", "ClusterRoleBinding" => rbac::v1::ClusterRoleBinding;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root lists every served group-version once, with a URL under /openapi/v3.
    #[test]
    fn the_root_lists_every_group_version() {
        let root = root();
        let paths = root["paths"].as_object().expect("paths");
        assert!(paths.contains_key("api/v1"));
        assert!(paths.contains_key("apis/apps/v1"));
        assert!(paths.contains_key("apis/autoscaling/v2"));
        let url = paths["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap_or("");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
    }

    /// Each kind has a PATCH operation, marked with its GVK, that takes
    /// fieldValidation: what kubectl looks for before validating on the server.
    #[test]
    fn every_kind_patch_takes_field_validation() {
        for r in RESOURCES.iter() {
            let doc = group_version(r.group, r.version).expect("served");
            let found = doc["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|p| p.get("patch"))
                .filter(|op| op["x-kubernetes-group-version-kind"] == gvk(r))
                .any(|op| {
                    op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                    })
                });
            assert!(found, "{}", r.kind);
        }
        let core = group_version("", "v1").expect("core");
        assert!(core["paths"]
            .get("/api/v1/namespaces/{namespace}/pods/{name}")
            .is_some());
        assert!(core["paths"].get("/api/v1/nodes/{name}").is_some());
        assert!(group_version("apps", "v9").is_none());
    }

    /// Each kind's schema is Kubernetes' own, found by its GVK extension, and the
    /// schemas it refers to are in the same document, referenced the way kubectl
    /// explain follows them.
    #[test]
    fn kind_schemas_are_kubernetes_definitions_with_resolvable_refs() {
        let doc = group_version("apps", "v1").expect("apps");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let spec_ref = deployment["properties"]["spec"]["allOf"][0]["$ref"]
            .as_str()
            .expect("spec is a described reference");
        let spec_name = spec_ref.trim_start_matches("#/components/schemas/");
        let spec = &schemas[spec_name];
        assert!(spec["properties"]["replicas"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("desired pods")));
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling {r}");
        }
    }
}
