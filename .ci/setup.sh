#!/usr/bin/env bash
# Installs what Hive's tests and benchmarks need on a fresh Debian machine. Idempotent:
# packages already present are not fetched again.
set -euo pipefail

# Tests: iproute2/nftables/iptables for network-namespace hosts (testkit), busybox-static
# as a tiny root filesystem (node runtime). Benchmarks: etcd-server as the anchor,
# protobuf-compiler for the etcd-client crate, with libprotobuf-dev for the well-known
# types (google/protobuf/descriptor.proto) that etcd's protos import.
PKGS=(iproute2 nftables iptables busybox-static etcd-server protobuf-compiler libprotobuf-dev python3-venv)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
echo "setup: ok"
