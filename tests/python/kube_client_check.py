"""The official Kubernetes Python client against a Hive server.

Run with KUBECONFIG pointing at the server's admin kubeconfig. Lists, creates,
patches, replaces, deletes and watches pods and deployments, and resumes a watch
from a resourceVersion after the server ended the stream. Exits non-zero with the
reason on the first failure; prints "python client: ok" on success.
"""

import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NS = "pyns"


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def pod(name, image="busybox:1.36"):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image=image)]),
    )


def main():
    config.load_kube_config()
    core = client.CoreV1Api()
    apps = client.AppsV1Api()

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    names = [n.metadata.name for n in core.list_namespace().items]
    check(NS in names, f"namespace {NS} listed, got {names}")

    created = core.create_namespaced_pod(NS, pod("p1"))
    check(created.metadata.uid, "a created pod has a uid")
    pods = core.list_namespaced_pod(NS, label_selector="app=py")
    check([p.metadata.name for p in pods.items] == ["p1"], "list by label finds p1")
    rv = pods.metadata.resource_version

    patched = core.patch_namespaced_pod("p1", NS, {"metadata": {"labels": {"tier": "fe"}}})
    check(patched.metadata.labels.get("tier") == "fe", "patch adds a label")
    current = core.read_namespaced_pod("p1", NS)
    current.metadata.annotations = {"note": "replaced"}
    replaced = core.replace_namespaced_pod("p1", NS, current)
    check(replaced.metadata.annotations.get("note") == "replaced", "replace sets an annotation")
    stale = current
    stale.metadata.annotations = {"note": "stale"}
    try:
        core.replace_namespaced_pod("p1", NS, stale)
        check(False, "a stale replace is refused")
    except ApiException as e:
        check(e.status == 409, f"a stale replace is 409, got {e.status}")

    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="d1"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "d1"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "d1"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:1.27")]),
            ),
        ),
    )
    apps.create_namespaced_deployment(NS, deployment)
    scaled = apps.patch_namespaced_deployment("d1", NS, {"spec": {"replicas": 3}})
    check(scaled.spec.replicas == 3, "a deployment patch sets replicas")
    d = apps.read_namespaced_deployment("d1", NS)
    d.spec.template.spec.containers[0].image = "nginx:1.28"
    replaced = apps.replace_namespaced_deployment("d1", NS, d)
    check(replaced.spec.template.spec.containers[0].image == "nginx:1.28", "replace changes the image")
    check(replaced.metadata.generation == 3, f"generation counts spec changes, got {replaced.metadata.generation}")
    check(len(apps.list_deployment_for_all_namespaces().items) >= 1, "deployments listed across namespaces")

    # Watch from the list's resourceVersion: the label patch, the replace, and a new
    # pod arrive in order. The server ends the stream after timeout_seconds; the
    # watch resumes from the last resourceVersion seen and misses nothing.
    w = watch.Watch()
    seen = []
    last_rv = rv
    for event in w.stream(core.list_namespaced_pod, NS, resource_version=rv, timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
        last_rv = event["object"].metadata.resource_version
    check(seen[:2] == [("MODIFIED", "p1"), ("MODIFIED", "p1")], f"watch saw the changes, got {seen}")

    core.create_namespaced_pod(NS, pod("p2"))
    core.delete_namespaced_pod("p1", NS, grace_period_seconds=0)
    resumed = []
    deadline = time.time() + 30
    while len(resumed) < 2 and time.time() < deadline:
        for event in watch.Watch().stream(
            core.list_namespaced_pod, NS, resource_version=last_rv, timeout_seconds=2
        ):
            resumed.append((event["type"], event["object"].metadata.name))
            last_rv = event["object"].metadata.resource_version
    check(resumed[:2] == [("ADDED", "p2"), ("DELETED", "p1")], f"resumed watch, got {resumed}")

    apps.delete_namespaced_deployment("d1", NS)
    try:
        apps.read_namespaced_deployment("d1", NS)
        check(False, "a deleted deployment is gone")
    except ApiException as e:
        check(e.status == 404, f"a deleted deployment is 404, got {e.status}")
    print("python client: ok")


if __name__ == "__main__":
    main()
