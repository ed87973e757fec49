//! Server-side apply (`PATCH` with `application/apply-patch+yaml`): what
//! `kubectl apply --server-side` sends. Pure functions over JSON values.
//!
//! Each field manager owns a set of fields, recorded in `metadata.managedFields` as
//! Kubernetes records them (`FieldsV1`: `f:<field>` for map keys, `k:{...}` for the
//! elements of lists merged by key, `.` for such an element itself). An apply by
//! manager M with configuration C:
//!
//! 1. **Conflicts.** A field C sets to a value different from the live one, owned by
//!    another manager, is a conflict: 409 `Conflict` listing each one (cause type
//!    `FieldManagerConflict`), unless `force`, which takes the fields over.
//! 2. **Removal.** Fields M applied before and C no longer sets are removed from the
//!    object, unless another manager owns them too.
//! 3. **Merge.** C is merged into the object as a strategic merge patch (maps
//!    recursively, lists of containers, ports, env... by their merge key, other lists
//!    and scalars replaced).
//! 4. **Ownership.** M's `Apply` entry becomes exactly the fields of C; forced fields
//!    leave their former managers; managers left with nothing are dropped.
//!
//! Writes other than apply record an `Update` entry for their manager
//! ([`record_update`]): the fields they change become its own, so a later apply that
//! changes them conflicts with it, as in Kubernetes.
//!
//! Simplifications against Kubernetes' structured-merge-diff, stated so nobody relies
//! on them: list merge keys come from the strategic-merge table ([`super::strategic`])
//! with one key per list, not from the OpenAPI schema; the scale and status
//! subresources record no `Update` entry; `spec.selector` and lists
//! without a merge key are atomic.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::strategic;

/// A field's path in `FieldsV1` keys (`f:spec`, `k:{"name":"c"}`, ...).
pub type FieldPath = Vec<String>;

/// One manager's claim on a field that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    /// Its operation (`Apply` or `Update`).
    pub operation: String,
    /// The API version it used.
    pub api_version: String,
    /// The field, printed as Kubernetes prints it (`.spec.replicas`).
    pub field: String,
}

impl Conflict {
    /// `"manager"`, with `using <apiVersion>` for an `Update` manager.
    pub fn manager_text(&self) -> String {
        if self.operation == "Update" {
            format!("{:?} using {}", self.manager, self.api_version)
        } else {
            format!("{:?}", self.manager)
        }
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (409).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The request or configuration is unusable (400).
    #[error("{0}")]
    BadRequest(String),
}

/// Kubernetes' wording of an apply conflict.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager_text(),
            c.field
        );
    }
    let mut managers: Vec<String> = conflicts.iter().map(Conflict::manager_text).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in &managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| &c.manager_text() == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Managed {
    manager: String,
    operation: String,
    api_version: String,
    time: Value,
    subresource: String,
    fields: BTreeSet<FieldPath>,
}

impl Managed {
    fn parse(v: &Value) -> Option<Managed> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let mut fields = BTreeSet::new();
        if let Some(f) = v.get("fieldsV1") {
            parse_fields(f, &mut Vec::new(), &mut fields);
        }
        Some(Managed {
            manager: s("manager"),
            operation: s("operation"),
            api_version: s("apiVersion"),
            time: v.get("time").cloned().unwrap_or(Value::Null),
            subresource: s("subresource"),
            fields,
        })
    }

    fn to_json(&self) -> Value {
        let mut m = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": render_fields(&self.fields),
        });
        if !self.time.is_null() {
            m["time"] = self.time.clone();
        }
        if !self.subresource.is_empty() {
            m["subresource"] = json!(self.subresource);
        }
        m
    }
}

fn parse_fields(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let Value::Object(map) = v else {
        return;
    };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (k, child) in map {
        if k == "." {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            continue;
        }
        path.push(k.clone());
        parse_fields(child, path, out);
        path.pop();
    }
}

/// The `FieldsV1` JSON of a set of paths.
pub fn render_fields(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        insert_path(&mut root, path);
    }
    Value::Object(root)
}

fn insert_path(node: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let child = node
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    let Value::Object(m) = child else {
        return;
    };
    if rest.is_empty() {
        if first.starts_with("k:") {
            m.insert(".".to_owned(), json!({}));
        }
    } else {
        insert_path(m, rest);
    }
}

/// Metadata fields the server owns, never part of an apply.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The fields a configuration sets.
pub fn fields_of(config: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Value::Object(map) = config else {
        return out;
    };
    for (k, v) in map {
        if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
            continue;
        }
        if k == "metadata" {
            if let Value::Object(meta) = v {
                for (mk, mv) in meta {
                    if SERVER_METADATA.contains(&mk.as_str()) {
                        continue;
                    }
                    let path = vec!["f:metadata".to_owned(), format!("f:{mk}")];
                    collect(mv, "metadata", mk, path, &mut out);
                }
            }
            continue;
        }
        collect(v, "", k, vec![format!("f:{k}")], &mut out);
    }
    out
}

/// Whether a map field is owned as a whole.
fn atomic_map(parent: &str, field: &str) -> bool {
    field == "selector" && parent.ends_with("spec") && parent != "spec.template.spec"
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The merge key of list `field` under `parent`, if it is merged by key.
fn merge_key(parent: &str, field: &str) -> Option<&'static str> {
    strategic::merge_key(parent, field)
}

fn item_key(key: &str, item: &Value) -> Option<String> {
    let k = item.get(key)?;
    Some(format!("k:{}", json!({ key: k })))
}

fn collect(v: &Value, parent: &str, field: &str, path: FieldPath, out: &mut BTreeSet<FieldPath>) {
    let ctx = join(parent, field);
    match v {
        Value::Object(m) if !m.is_empty() && !atomic_map(parent, field) => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(format!("f:{k}"));
                collect(child, &ctx, k, p, out);
            }
        }
        Value::Array(items) => match merge_key(parent, field) {
            Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                for item in items {
                    let Some(k) = item_key(key, item) else {
                        continue;
                    };
                    let mut p = path.clone();
                    p.push(k);
                    out.insert(p.clone());
                    if let Value::Object(m) = item {
                        for (ik, iv) in m {
                            let mut ip = p.clone();
                            ip.push(format!("f:{ik}"));
                            collect(iv, &ctx, ik, ip, out);
                        }
                    }
                }
            }
            _ => {
                out.insert(path);
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

/// The value at `path` in `v`.
fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for k in path {
        cur = step(cur, k)?;
    }
    Some(cur)
}

fn parse_key(k: &str) -> Option<(String, Value)> {
    let spec: Map<String, Value> = serde_json::from_str(k.strip_prefix("k:")?).ok()?;
    spec.into_iter().next()
}

fn step<'a>(cur: &'a Value, k: &str) -> Option<&'a Value> {
    if let Some(f) = k.strip_prefix("f:") {
        return cur.get(f);
    }
    let (key, want) = parse_key(k)?;
    cur.as_array()?
        .iter()
        .find(|i| i.get(&key).is_some_and(|v| *v == want))
}

/// Removes the field at `path` from `v` (a map key, or a list element by key).
fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        let next = if let Some(f) = k.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let Some((key, want)) = parse_key(k) else {
                return;
            };
            cur.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|i| i.get(&key).is_some_and(|v| *v == want))
            })
        };
        let Some(next) = next else {
            return;
        };
        cur = next;
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Value::Object(m) = cur {
            m.remove(f);
        }
    } else if let Some((key, want)) = parse_key(last) {
        if let Value::Array(a) = cur {
            a.retain(|i| i.get(&key).is_none_or(|v| *v != want));
        }
    }
}

/// `.spec.template.spec.containers[name="web"].image`, as Kubernetes prints a path.
pub fn print_path(path: &[String]) -> String {
    let mut out = String::new();
    for k in path {
        if let Some(f) = k.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some((key, v)) = parse_key(k) {
            out.push_str(&format!("[{key}={v}]"));
        } else {
            out.push_str(k);
        }
    }
    out
}

/// What an apply asks.
#[derive(Debug, Clone)]
pub struct ApplyRequest<'a> {
    /// `fieldManager` (required).
    pub manager: &'a str,
    /// `force`: take over conflicting fields.
    pub force: bool,
    /// The configuration's apiVersion, recorded with the manager.
    pub api_version: &'a str,
    /// Now, as the entry's time (RFC 3339).
    pub now: Value,
    /// `""` or `status`.
    pub subresource: &'a str,
}

/// The configuration with what the server owns taken out.
fn strip(config: &Value) -> Value {
    let mut c = config.clone();
    if let Some(Value::Object(meta)) = c.get_mut("metadata") {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
        meta.remove("uid");
        meta.remove("creationTimestamp");
        meta.remove("generation");
    }
    c
}

/// The object after applying `config` to `live` (`None`: it does not exist yet).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    req: &ApplyRequest<'_>,
) -> Result<Value, ApplyError> {
    if req.manager.is_empty() {
        return Err(ApplyError::BadRequest(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        ));
    }
    if !config.is_object() {
        return Err(ApplyError::BadRequest(
            "the apply configuration must be an object".into(),
        ));
    }
    let config = strip(config);
    let applied = fields_of(&config);
    let Some(live) = live else {
        let mut object = config;
        let entry = Managed {
            manager: req.manager.to_owned(),
            operation: "Apply".into(),
            api_version: req.api_version.to_owned(),
            time: req.now.clone(),
            subresource: req.subresource.to_owned(),
            fields: applied,
        };
        object["metadata"]["managedFields"] = json!([entry.to_json()]);
        return Ok(object);
    };
    let mut managers: Vec<Managed> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Managed::parse).collect())
        .unwrap_or_default();
    let mine = |m: &Managed| {
        m.manager == req.manager && m.operation == "Apply" && m.subresource == req.subresource
    };

    // 1. Conflicts: a field set to a new value that another manager owns.
    let mut conflicts = Vec::new();
    let mut taken: BTreeSet<FieldPath> = BTreeSet::new();
    for path in &applied {
        if path.last().is_some_and(|k| k.starts_with("k:")) {
            continue;
        }
        let (Some(now), Some(new)) = (get(live, path), get(&config, path)) else {
            continue;
        };
        if now == new {
            continue;
        }
        for m in managers.iter().filter(|m| !mine(m)) {
            if m.fields.contains(path) {
                conflicts.push(Conflict {
                    manager: m.manager.clone(),
                    operation: m.operation.clone(),
                    api_version: m.api_version.clone(),
                    field: print_path(path),
                });
                taken.insert(path.clone());
            }
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(ApplyError::Conflicts(conflicts));
    }

    // 2. Fields this manager applied before and no longer does, owned by nobody else.
    let before: BTreeSet<FieldPath> = managers
        .iter()
        .filter(|m| mine(m))
        .flat_map(|m| m.fields.iter().cloned())
        .collect();
    let mut object = live.clone();
    for path in before.difference(&applied) {
        let shared = managers
            .iter()
            .filter(|m| !mine(m))
            .any(|m| m.fields.contains(path));
        if !shared {
            remove(&mut object, path);
        }
    }

    // 3. Merge the configuration in.
    let mut object =
        strategic::apply(&object, &config).map_err(|e| ApplyError::BadRequest(e.to_string()))?;

    // 4. Ownership.
    for m in managers.iter_mut().filter(|m| !mine(m)) {
        m.fields.retain(|p| !taken.contains(p));
    }
    let unchanged = managers
        .iter()
        .find(|m| mine(m))
        .is_some_and(|m| m.fields == applied);
    let time = match managers.iter().find(|m| mine(m)) {
        Some(m) if unchanged => m.time.clone(),
        _ => req.now.clone(),
    };
    let position = managers.iter().position(mine);
    managers.retain(|m| !mine(m) && !m.fields.is_empty());
    let entry = Managed {
        manager: req.manager.to_owned(),
        operation: "Apply".into(),
        api_version: req.api_version.to_owned(),
        time,
        subresource: req.subresource.to_owned(),
        fields: applied,
    };
    let at = position.unwrap_or(managers.len()).min(managers.len());
    managers.insert(at, entry);
    object["metadata"]["managedFields"] =
        Value::Array(managers.iter().map(Managed::to_json).collect());
    Ok(object)
}

/// Who made a write that is not an apply, for [`record_update`].
#[derive(Debug, Clone)]
pub struct UpdateRequest<'a> {
    /// `fieldManager`, or the client's User-Agent up to its first `/`.
    pub manager: &'a str,
    /// The object's apiVersion.
    pub api_version: &'a str,
    /// Now (RFC 3339).
    pub now: Value,
}

fn is_item(path: &[String]) -> bool {
    path.last().is_some_and(|k| k.starts_with("k:"))
}

/// Records a write other than an apply (create, update, patch) in `new`'s
/// `metadata.managedFields`, as Kubernetes records an `Update` operation: the
/// fields it changed move to `manager`'s `Update` entry, fields it removed leave
/// every entry. A write that changes no field leaves the entries as they were.
/// When `new` carries no managedFields (clients seldom send them) it keeps `old`'s.
pub fn record_update(old: Option<&Value>, new: &mut Value, req: &UpdateRequest<'_>) {
    let sent = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let source = if sent { Some(&*new) } else { old };
    let mut managers: Vec<Managed> = source
        .and_then(|v| v.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Managed::parse).collect())
        .unwrap_or_default();
    let new_fields = fields_of(new);
    let old_fields = old.map(fields_of).unwrap_or_default();
    let changed: BTreeSet<FieldPath> = new_fields
        .iter()
        .filter(|p| {
            let before = old.and_then(|o| get(o, p));
            if is_item(p) {
                before.is_none()
            } else {
                before != get(new, p)
            }
        })
        .cloned()
        .collect();
    let removed: BTreeSet<FieldPath> = old_fields.difference(&new_fields).cloned().collect();
    if !changed.is_empty() || !removed.is_empty() {
        let mine = |m: &Managed| {
            m.manager == req.manager && m.operation == "Update" && m.subresource.is_empty()
        };
        for m in managers.iter_mut() {
            m.fields.retain(|p| !removed.contains(p));
            if !mine(m) {
                m.fields.retain(|p| !changed.contains(p));
            }
        }
        match managers.iter_mut().find(|m| mine(m)) {
            Some(m) => {
                m.fields.extend(changed);
                m.time = req.now.clone();
                m.api_version = req.api_version.to_owned();
            }
            None => managers.push(Managed {
                manager: req.manager.to_owned(),
                operation: "Update".into(),
                api_version: req.api_version.to_owned(),
                time: req.now.clone(),
                subresource: String::new(),
                fields: changed,
            }),
        }
        managers.retain(|m| !m.fields.is_empty());
    }
    if let Some(Value::Object(meta)) = new.get_mut("metadata") {
        if managers.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert(
                "managedFields".to_owned(),
                Value::Array(managers.iter().map(Managed::to_json).collect()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, image: &str, env: &[(&str, &str)]) -> Value {
        let env: Vec<Value> = env
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image, "env": env}]},
                },
            },
        })
    }

    fn req(manager: &str, force: bool) -> ApplyRequest<'_> {
        ApplyRequest {
            manager,
            force,
            api_version: "apps/v1",
            now: json!("2026-01-01T00:00:00Z"),
            subresource: "",
        }
    }

    /// The first apply creates the object with one Apply manager owning exactly the
    /// fields it set, in FieldsV1 form (keyed list elements with `.`).
    #[test]
    fn the_first_apply_records_its_fields() {
        let c = deployment(2, "nginx:1.26", &[("MODE", "prod")]);
        let o = apply(None, &c, &req("kubectl", false)).expect("applies");
        let mf = &o["metadata"]["managedFields"];
        assert_eq!(mf[0]["manager"], "kubectl");
        assert_eq!(mf[0]["operation"], "Apply");
        assert_eq!(mf[0]["fieldsType"], "FieldsV1");
        let f = &mf[0]["fieldsV1"];
        assert_eq!(f["f:spec"]["f:replicas"], json!({}));
        assert_eq!(f["f:spec"]["f:selector"], json!({}));
        let c0 = &f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
        assert_eq!(c0["."], json!({}));
        assert_eq!(c0["f:image"], json!({}));
        assert_eq!(c0["f:env"]["k:{\"name\":\"MODE\"}"]["f:value"], json!({}));
        assert_eq!(f["f:metadata"]["f:labels"]["f:app"], json!({}));
        assert!(f["f:metadata"].get("f:name").is_none());
        // FieldsV1 round-trips.
        let m = Managed::parse(&mf[0]).expect("parses");
        assert_eq!(m.fields, fields_of(&c));
    }

    /// A second apply by the same manager changes what it says and removes what it
    /// no longer says (the env var), keeping fields set by nobody's apply.
    #[test]
    fn reapplying_changes_and_prunes_the_managers_own_fields() {
        let c1 = deployment(2, "nginx:1.26", &[("MODE", "prod"), ("LEVEL", "debug")]);
        let mut live = apply(None, &c1, &req("kubectl", false)).expect("applies");
        live["spec"]["paused"] = json!(false); // set by someone else, unmanaged
        let c2 = deployment(3, "nginx:1.27", &[("MODE", "prod")]);
        let o = apply(Some(&live), &c2, &req("kubectl", false)).expect("applies");
        assert_eq!(o["spec"]["replicas"], 3);
        let c = &o["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.27");
        assert_eq!(c["env"], json!([{"name": "MODE", "value": "prod"}]));
        assert_eq!(o["spec"]["paused"], false);
        assert_eq!(
            o["metadata"]["managedFields"].as_array().map(Vec::len),
            Some(1)
        );
    }

    /// Another manager changing an owned field is a conflict naming the owner and
    /// the field; with force it takes the field over; setting the same value is no
    /// conflict and shares ownership.
    #[test]
    fn a_second_manager_conflicts_unless_forced() {
        let c1 = deployment(2, "nginx:1.26", &[]);
        let live = apply(None, &c1, &req("kubectl", false)).expect("applies");
        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 5}});
        match apply(Some(&live), &other, &req("scaler", false)) {
            Err(ApplyError::Conflicts(c)) => {
                assert_eq!(c.len(), 1);
                assert_eq!(c[0].manager, "kubectl");
                assert_eq!(c[0].field, ".spec.replicas");
                assert_eq!(
                    conflict_message(&c),
                    "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
                );
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let o = apply(Some(&live), &other, &req("scaler", true)).expect("forced");
        assert_eq!(o["spec"]["replicas"], 5);
        let mf = o["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(mf.len(), 2);
        assert!(mf[0]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        assert_eq!(mf[1]["manager"], "scaler");
        assert_eq!(mf[1]["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
        // The same value: no conflict, both own it.
        let same = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 2}});
        let o = apply(Some(&live), &same, &req("watcher", false)).expect("no conflict");
        assert_eq!(
            o["metadata"]["managedFields"].as_array().map(Vec::len),
            Some(2)
        );
    }

    /// Apply needs a field manager; paths print as Kubernetes prints them.
    #[test]
    fn requests_and_paths_are_checked_and_printed() {
        let c = deployment(1, "x", &[]);
        assert!(matches!(
            apply(None, &c, &req("", false)),
            Err(ApplyError::BadRequest(_))
        ));
        let p: FieldPath = vec![
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"web\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(print_path(&p), ".spec.containers[name=\"web\"].image");
        let many = vec![
            Conflict {
                manager: "a".into(),
                operation: "Update".into(),
                api_version: "v1".into(),
                field: ".x".into(),
            },
            Conflict {
                manager: "a".into(),
                operation: "Update".into(),
                api_version: "v1".into(),
                field: ".y".into(),
            },
        ];
        assert_eq!(
            conflict_message(&many),
            "Apply failed with 2 conflicts: conflicts with \"a\" using v1:\n- .x\n- .y"
        );
    }

    /// A write that is not an apply gives the fields it changed to its manager as
    /// an Update entry, taking them from an applier, who then conflicts with it
    /// ("using apps/v1"); an unchanged write keeps the entries as they were.
    #[test]
    fn updates_take_the_fields_they_change() {
        let c1 = deployment(2, "nginx:1.26", &[]);
        let live = apply(None, &c1, &req("kubectl", false)).expect("applies");
        let upd = UpdateRequest {
            manager: "kubectl-edit",
            api_version: "apps/v1",
            now: json!("2026-01-02T00:00:00Z"),
        };
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(4);
        edited["metadata"]
            .as_object_mut()
            .map(|m| m.remove("managedFields"));
        record_update(Some(&live), &mut edited, &upd);
        let mf = edited["metadata"]["managedFields"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(mf.len(), 2);
        assert_eq!(mf[1]["manager"], "kubectl-edit");
        assert_eq!(mf[1]["operation"], "Update");
        assert_eq!(mf[1]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert!(mf[0]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        match apply(Some(&edited), &c1, &req("kubectl", false)) {
            Err(ApplyError::Conflicts(c)) => assert_eq!(
                conflict_message(&c),
                "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
        let mut same = edited.clone();
        same["metadata"]
            .as_object_mut()
            .map(|m| m.remove("managedFields"));
        record_update(Some(&edited), &mut same, &upd);
        assert_eq!(
            same["metadata"]["managedFields"],
            edited["metadata"]["managedFields"]
        );
        // A create records every field it sets.
        let mut created = deployment(1, "x", &[]);
        record_update(None, &mut created, &upd);
        assert_eq!(
            created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"],
            json!({})
        );
    }
}
