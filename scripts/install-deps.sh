#!/usr/bin/env bash
# Installs every Debian 12 package dnsguard needs to build, test and run its demo.
# Services that the packages ship (unbound, named) are not started: the tests start
# their own instances inside network namespaces.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git
  # libraries the agent links
  libtomlplusplus-dev libnftnl-dev libmnl-dev libnetfilter-queue-dev libssl-dev libsystemd-dev libfstrm-dev
  libmicrohttpd-dev libpsl-dev publicsuffix
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # tests, benchmarks, fuzzing (clang's libFuzzer) and sanitizers
  googletest libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # kernel tooling used by tests and the demo
  nftables iproute2 iptables iputils-ping procps systemd
  # real DNS peers and clients for integration tests
  unbound dnsmasq-base bind9 bind9-dnsutils socat curl dnsperf iodine
  # packaging and deployment checks
  dpkg-dev file man-db python3-yaml
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get install)" >&2
  exit 1
fi

# Keep package scripts from starting system-wide DNS servers on the host.
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
