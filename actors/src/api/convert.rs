//! Kinds served at more than one version: each is stored at one version (the one in
//! [`RESOURCES`](crate::api::object::RESOURCES)) and converted at the edge, as
//! Kubernetes converts through its internal version.
//!
//! Today that is the HorizontalPodAutoscaler, stored as `autoscaling/v2` and also
//! served as `autoscaling/v1` (what `kubectl autoscale` creates). `v1` only knows a
//! CPU utilization target; everything else of `v2` travels in the annotations
//! Kubernetes uses for it (`autoscaling.alpha.kubernetes.io/metrics`, `behavior`,
//! `conditions`, `current-metrics`), so a `v2` object read and written back through
//! `v1` loses nothing.

use serde_json::{json, Map, Value};

use crate::api::object::{ResourceInfo, HORIZONTAL_POD_AUTOSCALER};

/// `autoscaling/v1` HorizontalPodAutoscaler: served, converted to and from
/// [`HORIZONTAL_POD_AUTOSCALER`] (`autoscaling/v2`).
pub const HORIZONTAL_POD_AUTOSCALER_V1: ResourceInfo = ResourceInfo {
    version: "v1",
    ..HORIZONTAL_POD_AUTOSCALER
};

/// Every kind served at a version other than its storage version.
pub static ALTERNATE_VERSIONS: [&ResourceInfo; 1] = [&HORIZONTAL_POD_AUTOSCALER_V1];

/// The served entry for a group, version and plural that is an alternate version
/// ([`storage_of`] gives the stored kind it converts to).
pub fn lookup_alternate(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    ALTERNATE_VERSIONS
        .iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The stored kind of a served one (itself when it is stored as served).
pub fn storage_of(served: &'static ResourceInfo) -> &'static ResourceInfo {
    if converts(served) {
        &HORIZONTAL_POD_AUTOSCALER
    } else {
        served
    }
}

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

/// Whether `served`'s version shows objects differently from how they are stored
/// (when it does not, the stored JSON can be sent as it is).
pub fn converts(served: &ResourceInfo) -> bool {
    served == &HORIZONTAL_POD_AUTOSCALER_V1
}

/// The stored JSON of `served`'s kind as `served`'s version shows it.
pub fn to_served(served: &ResourceInfo, stored: Value) -> Value {
    if converts(served) {
        hpa_v2_to_v1(stored)
    } else {
        stored
    }
}

/// A body of `served`'s version as the stored version.
pub fn from_served(served: &ResourceInfo, body: Value) -> Value {
    if converts(served) {
        hpa_v1_to_v2(body)
    } else {
        body
    }
}

/// Whether a v2 metric is the one v1 has a field for: average CPU utilization.
fn is_cpu_utilization(metric: &Value) -> bool {
    metric["type"] == "Resource"
        && metric["resource"]["name"] == "cpu"
        && metric["resource"]["target"]["type"] == "Utilization"
}

/// Sets (or, for an empty list or null, leaves out) an annotation holding JSON.
fn annotate(annotations: &mut Map<String, Value>, key: &str, value: &Value) {
    let empty = value.is_null() || value.as_array().is_some_and(Vec::is_empty);
    if !empty {
        annotations.insert(key.to_owned(), Value::String(value.to_string()));
    }
}

/// An HPA taken apart for conversion: its spec, status and annotations, removed from
/// the object, which keeps the rest (kind, metadata).
struct Parts {
    spec: Value,
    status: Value,
    annotations: Map<String, Value>,
}

impl Parts {
    /// Takes `object` apart and sets its `apiVersion` to the target's.
    fn take(object: &mut Map<String, Value>, api_version: &str) -> Parts {
        object.insert("apiVersion".into(), json!(api_version));
        let annotations = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|m| m.remove("annotations"))
            .and_then(|a| match a {
                Value::Object(a) => Some(a),
                _ => None,
            })
            .unwrap_or_default();
        Parts {
            spec: object.remove("spec").unwrap_or(Value::Null),
            status: object.remove("status").unwrap_or(Value::Null),
            annotations,
        }
    }

    /// Puts the converted spec and status (the status only if there was one) and the
    /// annotations (if any are left) back.
    fn put(
        self,
        object: &mut Map<String, Value>,
        spec: Map<String, Value>,
        status: Map<String, Value>,
    ) {
        if !self.annotations.is_empty() {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("annotations".into(), Value::Object(self.annotations));
            }
        }
        object.insert("spec".into(), Value::Object(spec));
        if !self.status.is_null() {
            object.insert("status".into(), Value::Object(status));
        }
    }
}

/// The fields both versions share, copied as they are.
fn shared(from: &Value, fields: &[&str]) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| from.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect()
}

const SHARED_SPEC: [&str; 3] = ["scaleTargetRef", "minReplicas", "maxReplicas"];
const SHARED_STATUS: [&str; 4] = [
    "observedGeneration",
    "lastScaleTime",
    "currentReplicas",
    "desiredReplicas",
];

/// `list` without the item at `skip`.
fn without(list: &[Value], skip: Option<usize>) -> Value {
    Value::Array(
        list.iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, m)| m.clone())
            .collect(),
    )
}

fn hpa_v2_to_v1(mut hpa: Value) -> Value {
    let Some(object) = hpa.as_object_mut() else {
        return hpa;
    };
    let mut parts = Parts::take(object, "autoscaling/v1");
    let (spec, status) = (&parts.spec, &parts.status);

    let mut v1_spec = shared(spec, &SHARED_SPEC);
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let cpu = metrics.iter().position(is_cpu_utilization);
    if let Some(i) = cpu {
        v1_spec.insert(
            "targetCPUUtilizationPercentage".into(),
            metrics[i]["resource"]["target"]["averageUtilization"].clone(),
        );
    }

    let mut v1_status = shared(status, &SHARED_STATUS);
    if !v1_status.contains_key("desiredReplicas") && !status.is_null() {
        v1_status.insert("desiredReplicas".into(), json!(0));
    }
    let current = status["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let current_cpu = current.iter().position(|m| {
        m["type"] == "Resource"
            && m["resource"]["name"] == "cpu"
            && m["resource"]["current"]["averageUtilization"].is_number()
    });
    if let Some(i) = current_cpu {
        v1_status.insert(
            "currentCPUUtilizationPercentage".into(),
            current[i]["resource"]["current"]["averageUtilization"].clone(),
        );
    }

    let (behavior, conditions) = (spec["behavior"].clone(), status["conditions"].clone());
    let annotations = &mut parts.annotations;
    annotate(annotations, METRICS, &without(&metrics, cpu));
    annotate(annotations, BEHAVIOR, &behavior);
    annotate(
        annotations,
        CURRENT_METRICS,
        &without(&current, current_cpu),
    );
    annotate(annotations, CONDITIONS, &conditions);
    parts.put(object, v1_spec, v1_status);
    hpa
}

/// Takes an annotation holding JSON out of `annotations`; a value that does not
/// parse is left where it is.
fn take_annotation(annotations: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let parsed = serde_json::from_str(annotations.get(key)?.as_str()?).ok()?;
    annotations.remove(key);
    Some(parsed)
}

fn hpa_v1_to_v2(mut hpa: Value) -> Value {
    let Some(object) = hpa.as_object_mut() else {
        return hpa;
    };
    let mut parts = Parts::take(object, "autoscaling/v2");
    let annotations = &mut parts.annotations;

    let mut v2_spec = shared(&parts.spec, &SHARED_SPEC);
    let mut metrics = Vec::new();
    if let Some(percent) = parts.spec.get("targetCPUUtilizationPercentage") {
        metrics.push(json!({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}
        }));
    }
    if let Some(Value::Array(others)) = take_annotation(annotations, METRICS) {
        metrics.extend(others);
    }
    if !metrics.is_empty() {
        v2_spec.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(behavior) = take_annotation(annotations, BEHAVIOR) {
        v2_spec.insert("behavior".into(), behavior);
    }

    let mut v2_status = shared(&parts.status, &SHARED_STATUS);
    let mut current = Vec::new();
    if let Some(percent) = parts.status.get("currentCPUUtilizationPercentage") {
        current.push(json!({
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": percent}}
        }));
    }
    if let Some(Value::Array(others)) = take_annotation(annotations, CURRENT_METRICS) {
        current.extend(others);
    }
    if !current.is_empty() {
        v2_status.insert("currentMetrics".into(), Value::Array(current));
    }
    if let Some(conditions) = take_annotation(annotations, CONDITIONS) {
        v2_status.insert("conditions".into(), conditions);
    }
    parts.put(object, v2_spec, v2_status);
    hpa
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {"team": "a"}},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60}}}
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
            },
            "status": {
                "observedGeneration": 3,
                "currentReplicas": 4,
                "desiredReplicas": 5,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu",
                        "current": {"averageUtilization": 75}}}
                ],
                "conditions": [{"type": "AbleToScale", "status": "True"}]
            }
        })
    }

    /// v1 shows the CPU target and current utilization in its own fields and keeps
    /// everything else of v2 in Kubernetes' annotations.
    #[test]
    fn a_v2_autoscaler_reads_as_v1_like_kubernetes_shows_it() {
        let v1 = to_served(&HORIZONTAL_POD_AUTOSCALER_V1, v2());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(
            v1["spec"],
            json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 60
            })
        );
        assert_eq!(
            v1["status"],
            json!({"observedGeneration": 3, "currentReplicas": 4, "desiredReplicas": 5,
                   "currentCPUUtilizationPercentage": 75})
        );
        let annotations = &v1["metadata"]["annotations"];
        assert_eq!(annotations["team"], "a");
        let metrics: Value =
            serde_json::from_str(annotations[METRICS].as_str().expect("metrics")).expect("JSON");
        assert_eq!(metrics[0]["resource"]["name"], "memory");
        assert!(annotations[BEHAVIOR].is_string());
        assert!(annotations[CONDITIONS].is_string());
        assert!(annotations.get(CURRENT_METRICS).is_none());
    }

    /// Through v1 and back is the same v2 object (the CPU metric moves to the front,
    /// which is where v1 writes it).
    #[test]
    fn v2_through_v1_and_back_loses_nothing() {
        let back = from_served(
            &HORIZONTAL_POD_AUTOSCALER_V1,
            to_served(&HORIZONTAL_POD_AUTOSCALER_V1, v2()),
        );
        let mut want = v2();
        want["spec"]["metrics"]
            .as_array_mut()
            .expect("metrics")
            .swap(0, 1);
        assert_eq!(back, want);
    }

    /// What `kubectl autoscale deployment web --min=1 --max=3 --cpu-percent=50` sends.
    #[test]
    fn a_v1_body_becomes_a_cpu_metric() {
        let body = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
            "status": {"currentReplicas": 0, "desiredReplicas": 0}
        });
        let v2 = from_served(&HORIZONTAL_POD_AUTOSCALER_V1, body);
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}])
        );
        assert!(v2["metadata"].get("annotations").is_none());
        assert_eq!(
            lookup_alternate("autoscaling", "v1", "horizontalpodautoscalers")
                .map(|served| (served.version, storage_of(served).version)),
            Some(("v1", "v2"))
        );
        assert!(lookup_alternate("autoscaling", "v2", "horizontalpodautoscalers").is_none());
    }
}
