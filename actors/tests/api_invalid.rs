//! Invalid manifests: each must be rejected, without panicking, with the
//! field path (and error kind) the Kubernetes API server reports. A manifest
//! with several problems reports all of them.

mod api_support;

use api_support::validation_errors;
use hive_actors::api::{decode_object, DecodeError, Format};

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n";

/// A pod manifest with `spec` as given (YAML, indented two spaces).
fn pod(spec: &str) -> String {
    format!("{POD}spec:\n{spec}")
}

/// A Deployment with the given spec body.
fn deployment(spec: &str) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n{spec}")
}

const TEMPLATE: &str = "  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.27\n";

/// One validation case: a manifest and the `(field, code)` pairs that must
/// all be among its errors.
struct Case {
    name: &'static str,
    manifest: String,
    expected: Vec<(&'static str, &'static str)>,
}

fn case(
    name: &'static str,
    manifest: impl Into<String>,
    expected: &[(&'static str, &'static str)],
) -> Case {
    Case {
        name,
        manifest: manifest.into(),
        expected: expected.to_vec(),
    }
}

const INVALID: &str = "FieldValueInvalid";
const REQUIRED: &str = "FieldValueRequired";
const DUPLICATE: &str = "FieldValueDuplicate";
const NOT_SUPPORTED: &str = "FieldValueNotSupported";
const NOT_FOUND: &str = "FieldValueNotFound";
const FORBIDDEN: &str = "FieldValueForbidden";
const TOO_LONG: &str = "FieldValueTooLong";

fn c1(image: &str) -> String {
    format!("  containers:\n  - name: c\n    image: {image}\n")
}

fn validation_cases() -> Vec<Case> {
    let big = "x".repeat(300 * 1024);
    vec![
        case("uppercase pod name", POD.replace("name: p", "name: Web") + &c1("a:1"), &[("metadata.name", INVALID)]),
        case("pod name too long", POD.replace("name: p", &format!("name: {}", "a".repeat(254))) + &c1("a:1"), &[("metadata.name", INVALID)]),
        case("missing name", "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n".to_owned() + &c1("a:1"), &[("metadata.name", REQUIRED)]),
        case("bad namespace", POD.replace("name: p", "name: p\n  namespace: Bad_NS") + &c1("a:1"), &[("metadata.namespace", INVALID)]),
        case("bad label key", POD.replace("name: p", "name: p\n  labels:\n    'bad key!': x") + &c1("a:1"), &[("metadata.labels", INVALID)]),
        case("label value too long", POD.replace("name: p", &format!("name: p\n  labels:\n    app: {}", "v".repeat(64))) + &c1("a:1"), &[("metadata.labels", INVALID)]),
        case("bad annotation key", POD.replace("name: p", "name: p\n  annotations:\n    '-bad': x") + &c1("a:1"), &[("metadata.annotations", INVALID)]),
        case("annotations over 256KiB", POD.replace("name: p", &format!("name: p\n  annotations:\n    big: {big}")) + &c1("a:1"), &[("metadata.annotations", TOO_LONG)]),
        case("two controller owners", POD.replace("name: p", "name: p\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: a, uid: u1, controller: true}\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: b, uid: u2, controller: true}") + &c1("a:1"), &[("metadata.ownerReferences", INVALID)]),
        case("bad finalizer", POD.replace("name: p", "name: p\n  finalizers: [cleanup]") + &c1("a:1"), &[("metadata.finalizers", INVALID)]),
        case("selector does not match template", deployment(&format!("  selector:\n    matchLabels:\n      app: api\n{TEMPLATE}")), &[("spec.template.metadata.labels", INVALID)]),
        case("missing selector", deployment(TEMPLATE), &[("spec.selector", REQUIRED)]),
        case("empty selector", deployment(&format!("  selector: {{}}\n{TEMPLATE}")), &[("spec.selector", INVALID)]),
        case("negative replicas", deployment(&format!("  replicas: -1\n  selector:\n    matchLabels:\n      app: web\n{TEMPLATE}")), &[("spec.replicas", INVALID)]),
        case("zero surge and zero unavailable", deployment(&format!("  selector:\n    matchLabels:\n      app: web\n  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0\n{TEMPLATE}")), &[("spec.strategy.rollingUpdate.maxUnavailable", INVALID)]),
        case("percent without percent sign", deployment(&format!("  selector:\n    matchLabels:\n      app: web\n  strategy:\n    rollingUpdate:\n      maxSurge: '50'\n{TEMPLATE}")), &[("spec.strategy.rollingUpdate.maxSurge", INVALID)]),
        case("unknown strategy", deployment(&format!("  selector:\n    matchLabels:\n      app: web\n  strategy:\n    type: BlueGreen\n{TEMPLATE}")), &[("spec.strategy", NOT_SUPPORTED)]),
        case("deployment pods that do not restart", deployment(&format!("  selector:\n    matchLabels:\n      app: web\n{TEMPLATE}      restartPolicy: Never\n")), &[("spec.template.spec.restartPolicy", NOT_SUPPORTED)]),
        case("bad selector operator", deployment(&format!("  selector:\n    matchExpressions:\n    - {{key: app, operator: Like, values: [web]}}\n{TEMPLATE}")), &[("spec.selector.matchExpressions[0].operator", INVALID)]),
        case("replicaset selector mismatch", format!("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: r\nspec:\n  selector:\n    matchLabels:\n      app: other\n{TEMPLATE}"), &[("spec.template.metadata.labels", INVALID)]),
        case("statefulset mismatch and policy", format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  podManagementPolicy: Random\n  selector:\n    matchLabels:\n      app: db\n{TEMPLATE}"), &[("spec.template.metadata.labels", INVALID), ("spec.podManagementPolicy", INVALID)]),
        case("statefulset name with dots", format!("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web.v1\nspec:\n  selector:\n    matchLabels:\n      app: web\n{TEMPLATE}"), &[("metadata.name", INVALID)]),
        case("daemonset selector mismatch", format!("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\nspec:\n  selector:\n    matchLabels:\n      app: agent\n{TEMPLATE}"), &[("spec.template.metadata.labels", INVALID)]),
        case("job manual selector mismatch", format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  manualSelector: true\n  selector:\n    matchLabels:\n      app: other\n{TEMPLATE}      restartPolicy: Never\n"), &[("spec.template.metadata.labels", INVALID)]),
        case("job pods that always restart", format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n{TEMPLATE}"), &[("spec.template.spec.restartPolicy", REQUIRED)]),
        case("cron schedule with four fields", format!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  schedule: '* * * *'\n  jobTemplate:\n    spec:\n{}      restartPolicy: OnFailure\n", TEMPLATE.replace("\n  ", "\n      ").replacen("  template", "      template", 1)), &[("spec.schedule", INVALID)]),
        case("cronjob name over 52 characters", format!("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n{}      restartPolicy: OnFailure\n", "c".repeat(53), TEMPLATE.replace("\n  ", "\n      ").replacen("  template", "      template", 1)), &[("metadata.name", INVALID)]),
        case("duplicate container names", pod("  containers:\n  - {name: app, image: a:1}\n  - {name: app, image: b:1}\n"), &[("spec.containers[1].name", DUPLICATE)]),
        case("init container named like a container", pod("  initContainers:\n  - {name: app, image: a:1}\n  containers:\n  - {name: app, image: b:1}\n"), &[("spec.initContainers[0].name", DUPLICATE)]),
        case("container without image", pod("  containers:\n  - name: app\n"), &[("spec.containers[0].image", REQUIRED)]),
        case("bad container name", pod("  containers:\n  - {name: My_App, image: a:1}\n"), &[("spec.containers[0].name", INVALID)]),
        case("no containers", pod("  containers: []\n"), &[("spec.containers", REQUIRED)]),
        case("port out of range", pod("  containers:\n  - {name: a, image: a:1, ports: [{containerPort: 70000}]}\n"), &[("spec.containers[0].ports[0].containerPort", INVALID)]),
        case("duplicate container port", pod("  containers:\n  - {name: a, image: a:1, ports: [{containerPort: 80}]}\n  - {name: b, image: b:1, ports: [{containerPort: 80}]}\n"), &[("spec.containers[1].ports[0].containerPort", DUPLICATE)]),
        case("duplicate host port", pod("  containers:\n  - {name: a, image: a:1, ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 8080}]}\n"), &[("spec.containers[0].ports[1].hostPort", DUPLICATE)]),
        case("bad port name", pod("  containers:\n  - {name: a, image: a:1, ports: [{name: HTTP_PORT, containerPort: 80}]}\n"), &[("spec.containers[0].ports[0].name", INVALID)]),
        case("bad protocol", pod("  containers:\n  - {name: a, image: a:1, ports: [{containerPort: 80, protocol: HTTP}]}\n"), &[("spec.containers[0].ports[0].protocol", NOT_SUPPORTED)]),
        case("requests above limits", pod("  containers:\n  - name: a\n    image: a:1\n    resources:\n      requests: {cpu: '2'}\n      limits: {cpu: 500m}\n"), &[("spec.containers[0].resources.requests", INVALID)]),
        case("negative quantity", pod("  containers:\n  - name: a\n    image: a:1\n    resources:\n      limits: {memory: '-1Gi'}\n"), &[("spec.containers[0].resources.limits[memory]", INVALID)]),
        case("unknown resource name", pod("  containers:\n  - name: a\n    image: a:1\n    resources:\n      requests: {cpus: '1'}\n"), &[("spec.containers[0].resources.requests[cpus]", INVALID)]),
        case("mount of a missing volume", pod("  containers:\n  - name: a\n    image: a:1\n    volumeMounts: [{name: data, mountPath: /data}]\n"), &[("spec.containers[0].volumeMounts[0].name", NOT_FOUND)]),
        case("duplicate volume names", pod(&format!("{}  volumes:\n  - {{name: v, emptyDir: {{}}}}\n  - {{name: v, emptyDir: {{}}}}\n", c1("a:1"))), &[("spec.volumes[1].name", DUPLICATE)]),
        case("volume with two sources", pod(&format!("{}  volumes:\n  - {{name: v, emptyDir: {{}}, hostPath: {{path: /x}}}}\n", c1("a:1"))), &[("spec.volumes[0].hostPath", FORBIDDEN)]),
        case("secret volume without name", pod(&format!("{}  volumes:\n  - {{name: v, secret: {{defaultMode: 4095}}}}\n", c1("a:1"))), &[("spec.volumes[0].secret.secretName", REQUIRED), ("spec.volumes[0].secret.defaultMode", INVALID)]),
        case("bad restart policy", pod(&format!("{}  restartPolicy: Sometimes\n", c1("a:1"))), &[("spec.restartPolicy", NOT_SUPPORTED)]),
        case("bad dns policy", pod(&format!("{}  dnsPolicy: Google\n", c1("a:1"))), &[("spec.dnsPolicy", NOT_SUPPORTED)]),
        case("probe with two handlers", pod("  containers:\n  - name: a\n    image: a:1\n    readinessProbe:\n      httpGet: {port: 80}\n      tcpSocket: {port: 80}\n"), &[("spec.containers[0].readinessProbe.tcpSocket", FORBIDDEN)]),
        case("liveness success threshold", pod("  containers:\n  - name: a\n    image: a:1\n    livenessProbe:\n      exec: {command: ['true']}\n      successThreshold: 2\n"), &[("spec.containers[0].livenessProbe.successThreshold", INVALID)]),
        case("probe on a plain init container", pod("  initContainers:\n  - name: i\n    image: a:1\n    livenessProbe: {exec: {command: ['true']}}\n  containers:\n  - {name: a, image: a:1}\n"), &[("spec.initContainers[0].livenessProbe", FORBIDDEN)]),
        case("env value and valueFrom", pod("  containers:\n  - name: a\n    image: a:1\n    env:\n    - name: X\n      value: x\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"), &[("spec.containers[0].env[0].valueFrom", INVALID)]),
        case("unsupported downward API field", pod("  containers:\n  - name: a\n    image: a:1\n    env:\n    - name: X\n      valueFrom: {fieldRef: {fieldPath: spec.containers}}\n"), &[("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", NOT_SUPPORTED)]),
        case("toleration without key needs Exists", pod(&format!("{}  tolerations:\n  - {{operator: Equal, value: x}}\n", c1("a:1"))), &[("spec.tolerations[0].operator", INVALID)]),
        case("affinity weight and spread skew", pod(&format!("{}  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 0\n        preference: {{matchExpressions: [{{key: a, operator: Exists}}]}}\n  topologySpreadConstraints:\n  - {{maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}}\n", c1("a:1"))), &[("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", INVALID), ("spec.topologySpreadConstraints[0].maxSkew", INVALID)]),
        case("service port names required", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n  - port: 443\n", &[("spec.ports[0].name", REQUIRED), ("spec.ports[1].name", REQUIRED)]),
        case("service duplicate port", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n", &[("spec.ports[1]", DUPLICATE)]),
        case("service duplicate port names", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - {name: web, port: 80}\n  - {name: web, port: 81}\n", &[("spec.ports[1].name", DUPLICATE)]),
        case("service type", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  type: Internal\n  ports:\n  - port: 80\n", &[("spec.type", NOT_SUPPORTED)]),
        case("service name must be a DNS-1035 label", "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1svc\nspec:\n  ports:\n  - port: 80\n", &[("metadata.name", INVALID)]),
        case("nodePort on ClusterIP", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - {port: 80, nodePort: 30080}\n", &[("spec.ports[0].nodePort", FORBIDDEN)]),
        case("configmap key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  'bad key': x\n", &[("data[bad key]", INVALID)]),
        case("tls secret without key", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/tls\ndata:\n  tls.crt: eA==\n", &[("data[tls.key]", REQUIRED)]),
        case("ingress path without type", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\nspec:\n  rules:\n  - host: a.example.com\n    http:\n      paths:\n      - path: /\n        backend: {service: {name: s, port: {number: 80}}}\n", &[("spec.rules[0].http.paths[0].pathType", REQUIRED)]),
        case("ingress port name and number", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\nspec:\n  defaultBackend: {service: {name: s, port: {name: http, number: 80}}}\n", &[("spec.defaultBackend", INVALID)]),
        case("ingress host is an IP", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\nspec:\n  rules:\n  - host: 10.0.0.1\n", &[("spec.rules[0].host", INVALID)]),
        case("hpa bounds and target", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\nspec:\n  scaleTargetRef: {kind: Deployment, name: d}\n  minReplicas: 5\n  maxReplicas: 2\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 0}}\n", &[("spec.maxReplicas", INVALID), ("spec.metrics[0].resource.target.averageUtilization", INVALID)]),
        case("role rule without verbs", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\nrules:\n- apiGroups: ['']\n  resources: [pods]\n", &[("rules[0].verbs", REQUIRED)]),
        case("rolebinding to a deployment", "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: b\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Deployment, name: x}\n", &[("roleRef.kind", NOT_SUPPORTED)]),
        case("cluster binding of a service account without namespace", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: b\nsubjects:\n- {kind: ServiceAccount, name: sa}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n", &[("subjects[0].namespace", REQUIRED)]),
        case("namespace name with a dot", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team.a\n", &[("metadata.name", INVALID)]),
        case("namespace on a cluster-scoped kind", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n  namespace: default\n", &[("metadata.namespace", FORBIDDEN)]),
        case("lease duration", "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l\nspec:\n  leaseDurationSeconds: 0\n", &[("spec.leaseDurationSeconds", INVALID)]),
        case("endpointslice address type", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: e\naddressType: IPv5\nendpoints: []\n", &[("addressType", NOT_SUPPORTED)]),
        case("claim without storage", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: c\nspec:\n  accessModes: [ReadWriteOnce]\n", &[("spec.resources[storage]", REQUIRED)]),
        case("volume without capacity or modes", "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: v\nspec:\n  hostPath: {path: /x}\n", &[("spec.accessModes", REQUIRED), ("spec.capacity", REQUIRED)]),
        case("node taint effect", "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\nspec:\n  taints:\n  - {key: a, effect: Sometimes}\n", &[("spec.taints[0].effect", NOT_SUPPORTED)]),
        case("endpoints address", "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: e\nsubsets:\n- addresses: [{ip: not-an-ip}]\n  ports: [{port: 80}]\n", &[("subsets[0].addresses[0].ip", INVALID)]),
        case(
            "every problem is reported, not just the first",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad\n  labels: {'a b': c}\nspec:\n  restartPolicy: Maybe\n  containers:\n  - {name: app, ports: [{containerPort: 0}]}\n  - {name: app, image: x:1}\n",
            &[
                ("metadata.name", INVALID),
                ("metadata.labels", INVALID),
                ("spec.containers[0].image", REQUIRED),
                ("spec.containers[0].ports[0].containerPort", REQUIRED),
                ("spec.containers[1].name", DUPLICATE),
                ("spec.restartPolicy", NOT_SUPPORTED),
            ],
        ),
    ]
}

/// Every invalid manifest is rejected with the errors Kubernetes reports, at
/// the same field paths.
#[test]
fn invalid_manifests_are_rejected_at_the_expected_paths() {
    let cases = validation_cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let errors = match validation_errors(case.manifest.as_bytes(), Format::Yaml) {
            Ok(errors) => errors,
            Err(e) => {
                failures.push(format!("{}: did not decode: {e}", case.name));
                continue;
            }
        };
        for (field, code) in &case.expected {
            if !errors.iter().any(|(f, c, _)| f == field && c == code) {
                let got: Vec<&str> = errors.iter().map(|(_, _, m)| m.as_str()).collect();
                failures.push(format!("{}: no {code} at {field}; got {got:#?}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A few errors checked word for word against the API server's messages.
#[test]
fn error_messages_read_as_kubernetes_writes_them() {
    let errors = |manifest: String| -> Vec<String> {
        validation_errors(manifest.as_bytes(), Format::Yaml)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, _, m)| m)
            .collect()
    };
    let selector = errors(deployment(&format!(
        "  selector:\n    matchLabels:\n      app: api\n{TEMPLATE}"
    )));
    assert!(
        selector.contains(&"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`".to_owned()),
        "{selector:#?}"
    );
    let limits = errors(pod("  containers:\n  - name: a\n    image: a:1\n    resources:\n      requests: {cpu: '2'}\n      limits: {cpu: 500m}\n"));
    assert!(
        limits.contains(&"spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 500m".to_owned()),
        "{limits:#?}"
    );
    let image = errors(pod("  containers:\n  - name: a\n"));
    assert!(
        image.contains(&"spec.containers[0].image: Required value".to_owned()),
        "{image:#?}"
    );
    let policy = errors(pod(&format!("{}  restartPolicy: Sometimes\n", c1("a:1"))));
    assert!(
        policy.contains(&"spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".to_owned()),
        "{policy:#?}"
    );
}

/// One decode-level case: bytes that must fail to decode, and a test on
/// the error.
struct DecodeCase {
    name: &'static str,
    bytes: String,
    format: Format,
    check: fn(&DecodeError) -> bool,
}

fn invalid_path(e: &DecodeError, expected: &str) -> bool {
    matches!(e, DecodeError::Invalid { path, .. } if path == expected)
}

fn decode_cases() -> Vec<DecodeCase> {
    let d = |name, bytes: &str, format, check| DecodeCase {
        name,
        bytes: bytes.to_owned(),
        format,
        check,
    };
    vec![
        d("string replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: three}\n", Format::Yaml, |e| invalid_path(e, "spec.replicas")),
        d("containers as a map", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":{\"name\":\"a\"}}}", Format::Json, |e| invalid_path(e, "spec.containers")),
        d("malformed quantity", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: a, resources: {limits: {cpu: 1.5.5Gi}}}\n", Format::Yaml, |e| invalid_path(e, "spec.containers[0].resources.limits.cpu")),
        d("port as text", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: a, ports: [{containerPort: http}]}\n", Format::Yaml, |e| invalid_path(e, "spec.containers[0].ports[0].containerPort")),
        d("unquoted yes in args", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: a, args: [--appendonly, yes]}\n", Format::Yaml, |e| invalid_path(e, "spec.containers[0].args[1]")),
        d("surge beyond int32", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  strategy: {rollingUpdate: {maxSurge: 99999999999}}\n", Format::Yaml, |e| invalid_path(e, "spec.strategy.rollingUpdate.maxSurge")),
        d("malformed timestamp", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: yesterday}\n", Format::Yaml, |e| invalid_path(e, "metadata.creationTimestamp")),
        d("secret data that is not base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: 'not base64!'}\n", Format::Yaml, |e| invalid_path(e, "data.password")),
        d("labels as a list", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: [a, b]}\n", Format::Yaml, |e| invalid_path(e, "metadata.labels")),
        d("unknown field under strict", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replica: 3}\n", Format::Yaml, |e| e.to_string() == "strict decoding error: unknown field \"spec.replica\""),
        d("missing kind", "{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"}}", Format::Json, |e| matches!(e, DecodeError::MissingKind(_))),
        d("missing apiVersion", "kind: Pod\nmetadata: {name: p}\n", Format::Yaml, |e| matches!(e, DecodeError::MissingApiVersion(_))),
        d("unknown kind", "apiVersion: v1\nkind: Widget\n", Format::Yaml, |e| e.to_string() == "no kind \"Widget\" is registered for version \"v1\""),
        d("unknown version", "apiVersion: apps/v2\nkind: Deployment\n", Format::Yaml, |e| matches!(e, DecodeError::UnknownKind { .. })),
        d("a list, not an object", "[1, 2, 3]", Format::Json, |e| matches!(e, DecodeError::NotAnObject)),
        d("broken JSON", "{\"apiVersion\": \"v1\", ", Format::Json, |e| matches!(e, DecodeError::Syntax(_))),
        d("broken YAML", "apiVersion: v1\nkind: [Pod\n", Format::Yaml, |e| matches!(e, DecodeError::Syntax(_))),
        d("kind that is a number", "{\"apiVersion\":\"v1\",\"kind\":5}", Format::Json, |e| matches!(e, DecodeError::MissingKind(_))),
    ]
}

/// Wrong types, unknown kinds and malformed documents fail to decode with
/// the offending field's path, as the API server's decoder reports them.
#[test]
fn malformed_manifests_fail_to_decode_with_the_field_path() {
    let mut failures = Vec::new();
    for case in decode_cases() {
        match decode_object(case.bytes.as_bytes(), case.format, true) {
            Ok(_) => failures.push(format!("{}: decoded", case.name)),
            Err(e) if !(case.check)(&e) => {
                failures.push(format!("{}: unexpected error {e:?}", case.name))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Without strict validation, unknown fields become warnings that name
/// every unknown path, nested ones included.
#[test]
fn unknown_fields_are_warnings_unless_strict() {
    let manifest = deployment(&format!("  replica: 3\n  selector:\n    matchLabels:\n      app: web\n{TEMPLATE}        imagePullPolicyy: Always\n"));
    let result = decode_object(manifest.as_bytes(), Format::Yaml, false);
    let warnings: Vec<String> = result
        .map(|(_, w)| w.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    assert_eq!(
        warnings,
        [
            "unknown field \"spec.replica\"",
            "unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
        ]
    );
}
