#!/usr/bin/env python3
"""Writes actors/src/api/protobuf/schema.rs: the wire schema of the Kubernetes
protobuf messages Hive decodes (field numbers, types and the JSON names they map to).

Kubernetes clients (kubectl's `create` subcommands, client-go's typed clientsets) send
built-in objects as `application/vnd.kubernetes.protobuf`. Hive keeps objects as JSON,
so the REST edge turns such a body into the JSON the same object has. That needs, per
message, each field's number, wire type and JSON name; this script reads them from
Kubernetes' own definitions, so the table is never typed by hand:

  - `generated.proto` of each API package gives messages, field numbers and types;
  - the Go types beside it give each field's JSON name (`json:"..."` next to
    `protobuf:"...,name=..."`) and which fields are inlined (`json:",inline"`).

Usage (with checkouts of github.com/kubernetes/api and kubernetes/apimachinery):

  tools/k8s-proto-schema.py --api ../api --apimachinery ../apimachinery \
      --api-commit $(git -C ../api rev-parse HEAD) > actors/src/api/protobuf/schema.rs

Only messages reachable from the kinds Hive serves (ROOTS) are written.
"""

import argparse
import os
import re
import sys

API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "coordination/v1", "discovery/v1",
    "networking/v1", "autoscaling/v1", "autoscaling/v2", "rbac/v1",
]
APIMACHINERY_PACKAGES = ["pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource"]

# Every kind in actors/src/api/object.rs RESOURCES and api/convert.rs
# ALTERNATE_VERSIONS, plus the bodies of other verbs.
ROOTS = [
    "api.core.v1." + k for k in [
        "Namespace", "Pod", "Node", "Service", "Endpoints", "ConfigMap", "Secret", "Event",
        "ServiceAccount", "PersistentVolume", "PersistentVolumeClaim",
    ]
] + [
    "api.apps.v1." + k for k in [
        "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision",
    ]
] + [
    "api.batch.v1.Job", "api.batch.v1.CronJob", "api.coordination.v1.Lease",
    "api.discovery.v1.EndpointSlice", "api.networking.v1.Ingress",
    "api.autoscaling.v2.HorizontalPodAutoscaler", "api.autoscaling.v1.Scale",
    "api.autoscaling.v1.HorizontalPodAutoscaler",
    "api.rbac.v1.Role", "api.rbac.v1.ClusterRole", "api.rbac.v1.RoleBinding",
    "api.rbac.v1.ClusterRoleBinding",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions",
]

# Messages with a JSON form of their own (decoded by hand in protobuf/mod.rs): their
# fields are written but not followed further.
SPECIAL = {
    "apimachinery.pkg.apis.meta.v1.Time",
    "apimachinery.pkg.apis.meta.v1.MicroTime",
    "apimachinery.pkg.apis.meta.v1.Duration",
    "apimachinery.pkg.apis.meta.v1.FieldsV1",
    "apimachinery.pkg.api.resource.Quantity",
    "apimachinery.pkg.util.intstr.IntOrString",
    "apimachinery.pkg.runtime.RawExtension",
}

SCALARS = {
    "string": "Str", "bytes": "Bytes", "bool": "Bool", "int32": "I32", "int64": "I64",
    "uint32": "U32", "uint64": "U64", "double": "F64", "float": "F32",
}

FIELD = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP = re.compile(r"^\s*map<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def short(fq):
    """`k8s.io.api.core.v1.Pod` -> `api.core.v1.Pod`."""
    fq = fq.lstrip(".")
    return fq[len("k8s.io."):] if fq.startswith("k8s.io.") else fq


def parse_proto(path):
    """Messages of one generated.proto: {short name: [(kind, type, name, number)]}."""
    package = None
    messages = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.split("//")[0]
            m = re.match(r"^\s*package\s+([\w.]+)\s*;", line)
            if m:
                package = short(m.group(1))
                continue
            m = re.match(r"^message\s+(\w+)\s*{", line)
            if m:
                current = f"{package}.{m.group(1)}"
                messages[current] = []
                continue
            if re.match(r"^}", line):
                current = None
                continue
            if current is None:
                continue
            m = MAP.match(line)
            if m:
                messages[current].append(("map", (m.group(1), m.group(2)), m.group(3), int(m.group(4))))
                continue
            m = FIELD.match(line)
            if m:
                messages[current].append((m.group(1), m.group(2), m.group(3), int(m.group(4))))
            elif line.strip() and not line.strip().startswith(("option", "syntax", "import", "}")):
                sys.exit(f"{path}: cannot parse {line.strip()!r} in {current}")
    return package, messages


def parse_go_tags(path):
    """{(struct, proto field name): (json name, inline, omit zero)} from one Go file.

    "Omit zero" marks a value-typed (not pointer) scalar with `omitempty`: Go's
    protobuf marshaller always writes such a field, Go's JSON encoder leaves its zero
    value out, and the JSON form is what Hive wants.
    """
    tags = {}
    struct = None
    with open(path) as f:
        for line in f:
            m = re.match(r"^type\s+(\w+)\s+struct\s*{", line)
            if m:
                struct = m.group(1)
                continue
            if re.match(r"^}", line):
                struct = None
                continue
            if struct is None:
                continue
            m = re.search(r'json:"([^"]*)"', line)
            p = re.search(r'protobuf:"[^"]*name=(\w+)', line)
            if m and p:
                json_name = m.group(1).split(",")[0]
                options = m.group(1).split(",")[1:]
                go_type = re.match(r"^\s*\w+\s+(\S+)\s+`", line)
                scalar = go_type is not None and not go_type.group(1).startswith(("*", "[]", "map["))
                omit_zero = "omitempty" in options and scalar
                tags[(struct, p.group(1))] = (json_name, "inline" in options, omit_zero)
    return tags


def resolve(package, typ, messages):
    if typ in SCALARS:
        return SCALARS[typ]
    name = short(typ) if "." in typ else f"{package}.{typ}"
    if name not in messages:
        sys.exit(f"unknown message {typ} (from {package})")
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--apimachinery", required=True)
    ap.add_argument("--api-commit", default="unknown")
    args = ap.parse_args()

    messages, packages, tags = {}, {}, {}
    for root, pkgs in [(args.api, API_PACKAGES), (args.apimachinery, APIMACHINERY_PACKAGES)]:
        for pkg in pkgs:
            package, msgs = parse_proto(os.path.join(root, pkg, "generated.proto"))
            messages.update(msgs)
            for name in msgs:
                packages[name] = package
            for go in sorted(os.listdir(os.path.join(root, pkg))):
                if go.endswith(".go") and not go.endswith("_test.go") and not go.startswith(("generated", "zz_")):
                    for (struct, field), v in parse_go_tags(os.path.join(root, pkg, go)).items():
                        tags[(f"{package}.{struct}", field)] = v

    reachable, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        if name not in messages:
            sys.exit(f"root {name} not found")
        reachable.add(name)
        if name in SPECIAL:
            continue
        for kind, typ, _, _ in messages[name]:
            for t in (typ if kind == "map" else (typ,)):
                r = resolve(packages[name], t, messages)
                if r not in SCALARS.values():
                    todo.append(r)

    out = [
        "//! GENERATED by tools/k8s-proto-schema.py from kubernetes/api",
        f"//! {args.api_commit}; do not edit by hand.",
        "//!",
        "//! The wire schema of every Kubernetes protobuf message reachable from the kinds",
        "//! Hive serves: field numbers, wire types and the JSON names they map to.",
        "",
        "use super::{Field, Label::*, Message, Ty::*};",
        "",
        "/// Every message, sorted by name.",
        "#[rustfmt::skip]",
        "pub(super) static MESSAGES: &[Message] = &[",
    ]
    for name in sorted(reachable):
        out.append(f'    Message {{ name: "{name}", fields: &[')
        for kind, typ, field, number in sorted(messages[name], key=lambda f: f[3]):
            json_name, inline, omit_zero = tags.get((name, field), (field, False, False))
            if kind == "map":
                key = resolve(packages[name], typ[0], messages)
                val = resolve(packages[name], typ[1], messages)
                label, ty = f"Map({key})", val
            else:
                ty = resolve(packages[name], typ, messages)
                label = "Repeated" if kind == "repeated" else ("Inline" if inline else "Single")
            omit_zero = omit_zero and ty in SCALARS.values() and label == "Single"
            ty = ty if ty in SCALARS.values() else f'Msg("{ty}")'
            out.append(
                f'        Field {{ number: {number}, json: "{json_name}", label: {label}, ty: {ty}, '
                f'omit_zero: {"true" if omit_zero else "false"} }},'
            )
        out.append("    ] },")
    out.append("];")
    print("\n".join(out))
    print(f"{len(reachable)} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
