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
        schemas.insert(schema, kind_schema(r));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Hive", "version": HASH},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// The schema of a kind: an object with the kind's group-version-kind extension.
fn kind_schema(info: &ResourceInfo) -> Value {
    json!({
        "type": "object",
        "description": format!("{} ({}).", info.kind, info.api_version()),
        "x-kubernetes-group-version-kind": [gvk(info)],
    })
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
}
