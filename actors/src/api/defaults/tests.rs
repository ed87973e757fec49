use serde_json::{json, Value};

use super::default_object;
use crate::api::{decode_object, Format, Object};

/// Decodes `manifest`, defaults it, and returns its JSON.
fn defaulted(manifest: Value) -> Value {
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let (mut object, _): (Object, _) = match decode_object(&bytes, Format::Json, true) {
        Ok(decoded) => decoded,
        Err(e) => panic!("test manifest does not decode: {e}"),
    };
    default_object(&mut object);
    serde_json::to_value(&object).unwrap_or_default()
}

fn pod(containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
}

/// A bare pod gets Kubernetes' pod-level defaults.
#[test]
fn pod_spec_defaults_match_kubernetes() {
    let out = defaulted(pod(json!([{"name": "a", "image": "nginx:1.27"}])));
    let spec = &out["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
}

/// The pull policy is Always for `:latest` or no tag, IfNotPresent otherwise.
#[test]
fn image_pull_policy_follows_the_image_tag() {
    let out = defaulted(pod(json!([
        {"name": "a", "image": "nginx"},
        {"name": "b", "image": "nginx:latest"},
        {"name": "c", "image": "nginx:1.27"},
        {"name": "d", "image": "nginx@sha256:abcd"},
        {"name": "e", "image": "nginx", "imagePullPolicy": "Never"}
    ])));
    let policies: Vec<&Value> = (0..5)
        .map(|i| &out["spec"]["containers"][i]["imagePullPolicy"])
        .collect();
    assert_eq!(
        policies,
        ["Always", "Always", "IfNotPresent", "IfNotPresent", "Never"]
    );
}

/// Containers get termination-message, port-protocol and probe defaults.
#[test]
fn container_ports_and_probes_are_defaulted() {
    let out = defaulted(pod(json!([{
        "name": "a", "image": "nginx:1.27",
        "ports": [{"containerPort": 80}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
        "resources": {"limits": {"cpu": "500m"}}
    }])));
    let c = &out["spec"]["containers"][0];
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1,
            "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    // Pods (not templates) copy limits into missing requests.
    assert_eq!(c["resources"]["requests"], json!({"cpu": "500m"}));
}

/// Services default to ClusterIP, no affinity, TCP, and targetPort = port.
#[test]
fn service_defaults_match_kubernetes() {
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
    );
    let spec = &out["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(
        spec["ports"][0],
        json!({"protocol": "TCP", "port": 80, "targetPort": 80})
    );
    assert_eq!(spec["ports"][1]["targetPort"], "dns");
    let lb = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
    );
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(
        lb["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
        10800
    );
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}})
}

/// Deployments get one replica, a 25%/25% rolling update, 10 revisions and
/// a 600-second progress deadline; the template gets pod defaults.
#[test]
fn deployment_defaults_match_kubernetes() {
    let out = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template()}}),
    );
    let spec = &out["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    // Templates do not get the pod-only defaults.
    assert_eq!(spec["template"]["spec"].get("enableServiceLinks"), None);
}

/// A Recreate deployment gets no rolling-update parameters.
#[test]
fn recreate_deployments_get_no_rolling_update() {
    let out = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"strategy": {"type": "Recreate"}, "template": template()}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

/// StatefulSets, DaemonSets and ReplicaSets get their apps/v1 defaults.
#[test]
fn other_workload_defaults_match_kubernetes() {
    let sts = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
        "spec": {"template": template(), "volumeClaimTemplates": [{"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
    );
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        sts["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        sts["spec"]["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
        "Filesystem"
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["status"]["phase"],
        "Pending"
    );
    let ds = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"template": template()}}),
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    let rs = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "spec": {"template": template()}}),
    );
    assert_eq!(rs["spec"]["replicas"], 1);
}

/// Jobs get backoffLimit 6 and one completion run one at a time; CronJobs
/// get their history limits and Allow.
#[test]
fn batch_defaults_match_kubernetes() {
    let job = defaulted(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": template()}}),
    );
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 6);
    assert_eq!(spec["completions"], 1);
    assert_eq!(spec["parallelism"], 1);
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(job["metadata"]["labels"], json!({"app": "x"}));
    let parallel = defaulted(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"parallelism": 4, "template": template()}}),
    );
    assert_eq!(parallel["spec"].get("completions"), None);
    let cj = defaulted(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}}),
    );
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(cj["spec"]["suspend"], false);
}

/// An HPA without metrics scales on 80% average CPU, from one replica.
#[test]
fn hpa_defaults_to_cpu_utilization() {
    let out = defaulted(
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}, "spec": {"maxReplicas": 5,
        "scaleTargetRef": {"kind": "Deployment", "name": "d"}, "behavior": {"scaleDown": {"selectPolicy": "Min"}}}}),
    );
    assert_eq!(out["spec"]["minReplicas"], 1);
    assert_eq!(
        out["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    assert_eq!(out["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Min");
    assert_eq!(
        out["spec"]["behavior"]["scaleUp"]["policies"][0],
        json!({"type": "Pods", "value": 4, "periodSeconds": 15})
    );
}

/// A Secret's stringData is merged into data (base64 in JSON) and its type
/// defaults to Opaque.
#[test]
fn secret_string_data_is_merged_into_data() {
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "YQ=="}, "stringData": {"b": "hello", "a": "override"}}),
    );
    assert_eq!(out["type"], "Opaque");
    assert_eq!(out["data"], json!({"a": "b3ZlcnJpZGU=", "b": "aGVsbG8="}));
    assert_eq!(out.get("stringData"), None);
}

/// Volumes: no source means emptyDir; projected files get mode 0644.
#[test]
fn volume_defaults_match_kubernetes() {
    let mut p = pod(json!([{"name": "a", "image": "x:1"}]));
    p["spec"]["volumes"] = json!([{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}},
        {"name": "h", "hostPath": {"path": "/x"}}]);
    let out = defaulted(p);
    assert_eq!(
        out["spec"]["volumes"][0],
        json!({"name": "v", "emptyDir": {}})
    );
    assert_eq!(out["spec"]["volumes"][1]["secret"]["defaultMode"], 420);
    assert_eq!(out["spec"]["volumes"][2]["hostPath"]["type"], "");
}

/// Quantities finer than a milli-unit round up, as SetDefaults_ResourceList does.
#[test]
fn resource_quantities_round_up_to_milli_units() {
    let out = defaulted(pod(json!([{"name": "a", "image": "x:1",
        "resources": {"requests": {"cpu": "100u", "memory": "1Gi"}}}])));
    assert_eq!(
        out["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "1m", "memory": "1Gi"})
    );
}
