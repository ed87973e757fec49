//! Helpers shared by the API object-model tests: the manifest corpus, the
//! "input is contained in output" comparison, and the k8s-openapi oracle.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hive_actors::api::{decode_object, defaults, validate, yaml, Format, Object, Warning};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Every manifest of the corpus, in file-name order.
pub fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// A corpus manifest: its bytes and its JSON form.
pub struct Manifest {
    /// Where it came from.
    pub path: PathBuf,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The document as JSON, read the way Kubernetes reads YAML.
    pub json: Value,
}

/// Loads one corpus manifest.
pub fn load(path: &Path) -> Manifest {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let text = String::from_utf8(bytes.clone()).expect("corpus files are UTF-8");
    let json = yaml::first_document(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Manifest {
        path: path.to_owned(),
        bytes,
        json,
    }
}

/// Decodes strictly, failing on any unknown field.
pub fn decode_strict(bytes: &[u8], format: Format) -> Result<Object, String> {
    let (object, warnings) = decode_object(bytes, format, true).map_err(|e| e.to_string())?;
    if !warnings.is_empty() {
        let w: Vec<String> = warnings.iter().map(Warning::to_string).collect();
        return Err(format!("warnings under strict decoding: {w:?}"));
    }
    Ok(object)
}

/// What the REST edge does before validation: the namespace from the URL
/// (`default` here) and defaulting.
pub fn prepare(object: &mut Object) {
    if object.info().namespaced && object.metadata().namespace.is_empty() {
        object.metadata_mut().namespace = "default".to_owned();
    }
    defaults::default_object(object);
}

/// Decodes leniently, prepares, and returns the validation errors as
/// `(field, kind code, message)` triples.
pub fn validation_errors(
    bytes: &[u8],
    format: Format,
) -> Result<Vec<(String, String, String)>, String> {
    let (mut object, _) = decode_object(bytes, format, false).map_err(|e| e.to_string())?;
    prepare(&mut object);
    Ok(validate::validate_object(&object)
        .iter()
        .map(|e| (e.field.clone(), e.kind.code().to_owned(), e.to_string()))
        .collect())
}

/// Whether a value is what Go's `omitempty` drops.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Every field of `input` is in `output` with the same value, except empty
/// values, which Kubernetes' JSON may drop. Returns the differences.
pub fn contained_in(input: &Value, output: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    compare(input, output, String::new(), &mut diffs);
    diffs
}

fn compare(input: &Value, output: &Value, path: String, diffs: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(w) => compare(v, w, p, diffs),
                    None if is_empty_value(v) => {}
                    None => diffs.push(format!("{p}: missing from output (input {v})")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                diffs.push(format!("{path}: {} items in, {} out", a.len(), b.len()));
                return;
            }
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                compare(v, w, format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => diffs.push(format!("{path}: {a} in, {b} out")),
    }
}

fn oracle_round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Our JSON read by k8s-openapi (Kubernetes 1.32's schema) and written back.
pub fn k8s_openapi_round_trip(kind: &str, value: &Value) -> Result<Value, String> {
    use k8s_openapi::api::{
        apps, autoscaling, batch, coordination, core, discovery, networking, rbac,
    };
    match kind {
        "Namespace" => oracle_round_trip::<core::v1::Namespace>(value),
        "Pod" => oracle_round_trip::<core::v1::Pod>(value),
        "Node" => oracle_round_trip::<core::v1::Node>(value),
        "Service" => oracle_round_trip::<core::v1::Service>(value),
        "Endpoints" => oracle_round_trip::<core::v1::Endpoints>(value),
        "ConfigMap" => oracle_round_trip::<core::v1::ConfigMap>(value),
        "Secret" => oracle_round_trip::<core::v1::Secret>(value),
        "Event" => oracle_round_trip::<core::v1::Event>(value),
        "ServiceAccount" => oracle_round_trip::<core::v1::ServiceAccount>(value),
        "PersistentVolume" => oracle_round_trip::<core::v1::PersistentVolume>(value),
        "PersistentVolumeClaim" => oracle_round_trip::<core::v1::PersistentVolumeClaim>(value),
        "Deployment" => oracle_round_trip::<apps::v1::Deployment>(value),
        "ReplicaSet" => oracle_round_trip::<apps::v1::ReplicaSet>(value),
        "StatefulSet" => oracle_round_trip::<apps::v1::StatefulSet>(value),
        "DaemonSet" => oracle_round_trip::<apps::v1::DaemonSet>(value),
        "ControllerRevision" => oracle_round_trip::<apps::v1::ControllerRevision>(value),
        "Job" => oracle_round_trip::<batch::v1::Job>(value),
        "CronJob" => oracle_round_trip::<batch::v1::CronJob>(value),
        "Lease" => oracle_round_trip::<coordination::v1::Lease>(value),
        "EndpointSlice" => oracle_round_trip::<discovery::v1::EndpointSlice>(value),
        "Ingress" => oracle_round_trip::<networking::v1::Ingress>(value),
        "HorizontalPodAutoscaler" => {
            oracle_round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(value)
        }
        "Role" => oracle_round_trip::<rbac::v1::Role>(value),
        "ClusterRole" => oracle_round_trip::<rbac::v1::ClusterRole>(value),
        "RoleBinding" => oracle_round_trip::<rbac::v1::RoleBinding>(value),
        "ClusterRoleBinding" => oracle_round_trip::<rbac::v1::ClusterRoleBinding>(value),
        other => Err(format!("no oracle for {other}")),
    }
}

/// Where two JSON values differ, both ways.
pub fn json_diff(ours: &Value, theirs: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    exact(ours, theirs, String::new(), &mut diffs);
    diffs
}

fn exact(a: &Value, b: &Value, path: String, diffs: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(w) => exact(v, w, p, diffs),
                    None => diffs.push(format!("{p}: only ours has {v}")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    diffs.push(format!("{path}.{k}: only theirs has {w}"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                exact(v, w, format!("{path}[{i}]"), diffs);
            }
        }
        (x, y) if x == y => {}
        (x, y) => diffs.push(format!("{path}: ours {x}, theirs {y}")),
    }
}
