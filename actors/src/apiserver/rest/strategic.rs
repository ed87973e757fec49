//! Strategic merge patch (`application/strategic-merge-patch+json`), the patch
//! `kubectl apply`, `kubectl edit`, `kubectl label` and `kubectl annotate` send.
//!
//! It is a JSON merge patch, except that some lists are merged element by element
//! by a merge key instead of being replaced: containers and volumes by `name`,
//! container ports by `containerPort`, service ports by `port`, volume mounts by
//! `mountPath`, and so on (the `patchStrategy:"merge"` tags of Kubernetes' types).
//! kubectl's directives are honoured: `$patch: delete|replace|merge` on a map or a
//! list element, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and
//! `$retainKeys`. Pure functions over JSON values.

use serde_json::{Map, Value};

/// Why a strategic merge patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicError {
    /// The patch is not a JSON object.
    #[error("a strategic merge patch must be a JSON object")]
    NotAnObject,
    /// A merge-by-key list element lacks its merge key.
    #[error("{path}: map in a list merged by key {key:?} has no {key:?}")]
    MissingMergeKey {
        /// The list's path.
        path: String,
        /// The merge key.
        key: &'static str,
    },
    /// An unknown `$patch` directive.
    #[error("{path}: unknown patch type {value:?}")]
    UnknownDirective {
        /// Where.
        path: String,
        /// The directive's value.
        value: String,
    },
}

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListStrategy {
    /// Replaced by the patch's list (the default).
    Replace,
    /// Maps merged by this key.
    MergeByKey(&'static str),
    /// Primitive values, merged as a set union.
    MergeSet,
}

/// The strategy of list `field` whose parent is at `parent` (a `.`-joined path of
/// field names, list indexes left out).
fn list_strategy(parent: &str, field: &str) -> ListStrategy {
    use ListStrategy::*;
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => MergeByKey("name"),
        "volumeMounts" => MergeByKey("mountPath"),
        "volumeDevices" => MergeByKey("devicePath"),
        "hostAliases" => MergeByKey("ip"),
        "ownerReferences" => MergeByKey("uid"),
        "topologySpreadConstraints" => MergeByKey("topologyKey"),
        "conditions" | "addresses" => MergeByKey("type"),
        "finalizers" => MergeSet,
        "ports" => {
            // A Service's (and an EndpointSubset's) ports merge by `port`; a
            // container's by `containerPort`.
            if parent.ends_with("containers")
                || parent.ends_with("initContainers")
                || parent.ends_with("ephemeralContainers")
            {
                MergeByKey("containerPort")
            } else if parent == "spec" {
                MergeByKey("port")
            } else {
                Replace
            }
        }
        _ => Replace,
    }
}

/// The merge key of list `field` under `parent` (a `.`-joined path of field names),
/// if its elements are merged by key.
pub fn merge_key(parent: &str, field: &str) -> Option<&'static str> {
    match list_strategy(parent, field) {
        ListStrategy::MergeByKey(k) => Some(k),
        _ => None,
    }
}

const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original` and returns the result.
pub fn apply(original: &Value, patch: &Value) -> Result<Value, StrategicError> {
    let Value::Object(patch) = patch else {
        return Err(StrategicError::NotAnObject);
    };
    let base = match original {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    merge_map(base, patch, "").map(Value::Object)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn merge_map(
    mut base: Map<String, Value>,
    patch: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, StrategicError> {
    match patch.get("$patch").and_then(Value::as_str) {
        None | Some("merge") => {}
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.remove("$patch");
            return Ok(strip_directives(replaced));
        }
        Some("delete") => return Ok(Map::new()),
        Some(other) => {
            return Err(StrategicError::UnknownDirective {
                path: path.to_owned(),
                value: other.to_owned(),
            })
        }
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        base.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with(SET_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE) {
            if let (Some(Value::Array(list)), Value::Array(gone)) = (base.get_mut(field), value) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        let here = join(path, key);
        match value {
            Value::Null => {
                base.remove(key);
            }
            Value::Object(p) => {
                let merged = match base.remove(key) {
                    Some(Value::Object(b)) => merge_map(b, p, &here)?,
                    _ => merge_map(Map::new(), p, &here)?,
                };
                if p.get("$patch").and_then(Value::as_str) != Some("delete") {
                    base.insert(key.clone(), Value::Object(merged));
                }
            }
            Value::Array(p) => {
                let order = patch
                    .get(&format!("{SET_ORDER}{key}"))
                    .and_then(Value::as_array);
                let merged = merge_list(base.remove(key), p, path, key, order)?;
                base.insert(key.clone(), merged);
            }
            scalar => {
                base.insert(key.clone(), scalar.clone());
            }
        }
    }
    // A `$setElementOrder` with no patch entry for its list still reorders it.
    for (key, order) in patch {
        if let (Some(field), Value::Array(order)) = (key.strip_prefix(SET_ORDER), order) {
            if !patch.contains_key(field) {
                if let Some(Value::Array(list)) = base.remove(field) {
                    let strategy = list_strategy(path, field);
                    base.insert(
                        field.to_owned(),
                        Value::Array(reorder(list, order, strategy)),
                    );
                }
            }
        }
    }
    Ok(base)
}

fn strip_directives(mut map: Map<String, Value>) -> Map<String, Value> {
    map.retain(|k, _| !k.starts_with('$'));
    for v in map.values_mut() {
        strip_value(v);
    }
    map
}

fn strip_value(v: &mut Value) {
    match v {
        Value::Object(m) => *m = strip_directives(std::mem::take(m)),
        Value::Array(items) => {
            items.retain(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"));
            items.iter_mut().for_each(strip_value);
        }
        _ => {}
    }
}

fn merge_list(
    base: Option<Value>,
    patch: &[Value],
    parent: &str,
    field: &str,
    order: Option<&Vec<Value>>,
) -> Result<Value, StrategicError> {
    let here = join(parent, field);
    let base = match base {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let strategy = list_strategy(parent, field);
    // `{"$patch": "replace"}` as an element replaces the whole list.
    let replace_all = patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    let merged = match strategy {
        _ if replace_all => patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .map(|mut v| {
                strip_value(&mut v);
                v
            })
            .collect(),
        ListStrategy::Replace => patch
            .iter()
            .cloned()
            .map(|mut v| {
                strip_value(&mut v);
                v
            })
            .collect(),
        ListStrategy::MergeSet => {
            let mut out = base;
            for v in patch {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        }
        ListStrategy::MergeByKey(key) => {
            let mut out = base;
            for item in patch {
                let Value::Object(item_map) = item else {
                    out.push(item.clone());
                    continue;
                };
                let Some(id) = item_map.get(key) else {
                    return Err(StrategicError::MissingMergeKey { path: here, key });
                };
                let position = out.iter().position(|o| o.get(key) == Some(id));
                let delete = item_map.get("$patch").and_then(Value::as_str) == Some("delete");
                match (position, delete) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => {
                        let existing = match out[i].take() {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        out[i] = Value::Object(merge_map(existing, item_map, &here)?);
                    }
                    (None, false) => {
                        out.push(Value::Object(merge_map(Map::new(), item_map, &here)?));
                    }
                }
            }
            out
        }
    };
    Ok(Value::Array(match order {
        Some(order) => reorder(merged, order, strategy),
        None => merged,
    }))
}

/// Orders `list` as `$setElementOrder` says; elements it does not name keep their
/// relative order after the named ones.
fn reorder(list: Vec<Value>, order: &[Value], strategy: ListStrategy) -> Vec<Value> {
    let id = |v: &Value| -> Option<Value> {
        match strategy {
            ListStrategy::MergeByKey(key) => v.get(key).cloned(),
            _ => Some(v.clone()),
        }
    };
    let wanted: Vec<Value> = order.iter().filter_map(id).collect();
    let mut rest = list;
    let mut out = Vec::with_capacity(rest.len());
    for w in &wanted {
        if let Some(i) = rest.iter().position(|v| id(v).as_ref() == Some(w)) {
            out.push(rest.remove(i));
        }
    }
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"replicas": 1, "template": {"spec": {
                "containers": [
                    {"name": "app", "image": "nginx:1.26",
                     "env": [{"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 80, "name": "http"}]},
                    {"name": "sidecar", "image": "busybox"}
                ],
                "volumes": [{"name": "data", "emptyDir": {}}]
            }}}
        })
    }

    /// kubectl apply's patch for a changed image and an added env var changes that
    /// container only, keeping the other container, its env and its ports.
    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let patch = json!({
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{
                    "name": "app",
                    "image": "nginx:1.27",
                    "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                    "env": [{"name": "B", "value": "2"}]
                }]
            }}}
        });
        let out = apply(&deployment(), &patch).expect("applies");
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().map(Vec::len), Some(2));
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["name"], "sidecar");
        assert!(out.to_string().find("$setElementOrder").is_none());
    }

    /// `$patch: delete` removes a keyed element; null removes a map key; a list
    /// without a merge strategy is replaced; finalizers merge as a set.
    #[test]
    fn deletions_replacements_and_sets() {
        let patch = json!({
            "metadata": {"labels": {"app": null, "tier": "fe"}, "finalizers": ["b", "a"]},
            "spec": {"template": {"spec": {
                "containers": [{"name": "sidecar", "$patch": "delete"}],
                "volumes": [{"name": "cache", "emptyDir": {}}],
                "tolerations": [{"key": "k"}]
            }}}
        });
        let out = apply(&deployment(), &patch).expect("applies");
        assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(spec["containers"].as_array().map(Vec::len), Some(1));
        assert_eq!(spec["volumes"].as_array().map(Vec::len), Some(2));
        assert_eq!(spec["tolerations"], json!([{"key": "k"}]));
    }

    /// Service ports merge by `port`, container ports by `containerPort`.
    #[test]
    fn ports_merge_by_the_key_of_their_owner() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
        let out = apply(&svc, &patch).expect("applies");
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 443}]}
        ]}}}});
        let out = apply(&deployment(), &patch).expect("applies");
        let ports = &out["spec"]["template"]["spec"]["containers"][0]["ports"];
        assert_eq!(ports.as_array().map(Vec::len), Some(2));
    }

    /// `$patch: replace` replaces a map or a list wholesale; `$setElementOrder`
    /// alone reorders; `$deleteFromPrimitiveList` removes set members.
    #[test]
    fn directives_replace_reorder_and_delete_from_sets() {
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}],
            "$setElementOrder/volumes": [{"name": "data"}]
        }}}, "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                          "labels": {"$patch": "replace", "new": "1"}}});
        let out = apply(&deployment(), &patch).expect("applies");
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "x"}])
        );
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        assert_eq!(out["metadata"]["labels"], json!({"new": "1"}));
        let reordered = apply(
            &deployment(),
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]
            }}}}),
        )
        .expect("applies");
        assert_eq!(
            reordered["spec"]["template"]["spec"]["containers"][0]["name"],
            "sidecar"
        );
    }

    /// Malformed patches are refused with the reason, never applied partly.
    #[test]
    fn malformed_patches_are_refused() {
        assert_eq!(
            apply(&deployment(), &json!([1])),
            Err(StrategicError::NotAnObject)
        );
        let e = apply(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        );
        assert!(matches!(
            e,
            Err(StrategicError::MissingMergeKey { key: "name", .. })
        ));
        let e = apply(&deployment(), &json!({"metadata": {"$patch": "explode"}}));
        assert!(matches!(e, Err(StrategicError::UnknownDirective { .. })));
    }
}
