#!/usr/bin/env bash
# The deployment artifacts: the Debian package built with CPack holds what it should
# (dpkg-deb --info, dpkg -c), and the Kubernetes and Ansible files parse as YAML and say
# what docs/operations.md promises (hostNetwork, NET_ADMIN/NET_RAW only, policy from a
# ConfigMap; the playbook's validate/apply/confirm steps).
source "$(dirname "$0")/integration/lib.sh"

# The package goes into the test's own directory, not among the build's outputs.
(cd "$BUILD_DIR" && cpack -G DEB -B "$TEST_TMP/pkg" >"$TEST_TMP/cpack.log" 2>&1) || { cat "$TEST_TMP/cpack.log"; exit 1; }
deb=$(ls "$TEST_TMP"/pkg/dnsguard_*_amd64.deb | head -1)
dpkg-deb --info "$deb" >"$TEST_TMP/info.txt"
dpkg -c "$deb" | awk '{ print $1, $6 }' >"$TEST_TMP/contents.txt"
check_output "package name, section and description" '^ Package: dnsguard$' cat "$TEST_TMP/info.txt"
check_output "library dependencies from dpkg-shlibdeps" '^ Depends: .*libgrpc\+\+[0-9.]+.*libnftnl11' cat "$TEST_TMP/info.txt"
check_output "the default policy is a conffile" '^ *[0-9]+ bytes, +1 lines +conffiles' cat "$TEST_TMP/info.txt"
for f in '-rwxr-xr-x ./usr/sbin/dnsguardd' '-rwxr-xr-x ./usr/bin/dnsguardctl' \
  '-rw-r--r-- ./usr/lib/systemd/system/dnsguardd.service' '-rw-r--r-- ./etc/dnsguard/policy.toml' \
  '-rw-r--r-- ./usr/share/man/man8/dnsguardd.8.gz' '-rw-r--r-- ./usr/share/man/man8/dnsguardctl.8.gz' \
  '-rw-r--r-- ./usr/share/doc/dnsguard/README.md' \
  '-rw-r--r-- ./usr/share/doc/dnsguard/examples/policies/workstation.toml'; do
  check "the package holds ${f#* }" grep -qxF -- "$f" "$TEST_TMP/contents.txt"
done
mkdir -p "$TEST_TMP/root"
dpkg-deb -x "$deb" "$TEST_TMP/root"
check_output "the installed default policy blocks nothing (monitor mode) and is valid" \
  'ok \(policy default-monitor version 1\)' "$TEST_TMP/root/usr/bin/dnsguardctl" validate "$TEST_TMP/root/etc/dnsguard/policy.toml"
check_output "dnsguardctl --version" '^dnsguardctl [0-9]+\.[0-9]+\.[0-9]+$' "$TEST_TMP/root/usr/bin/dnsguardctl" --version
check_output "dnsguardd --version" '^dnsguardd [0-9]+\.[0-9]+\.[0-9]+$' "$TEST_TMP/root/usr/sbin/dnsguardd" --version
printf '[policy]\nname = "x"\n' >"$TEST_TMP/no-version.toml"
check_status "-o json validate of a bad policy exits 1" 1 "$TEST_TMP/root/usr/bin/dnsguardctl" -o json validate "$TEST_TMP/no-version.toml"
cp "$TEST_TMP/last.out" "$TEST_TMP/validate.json"
check "... and prints the errors as JSON" python3 -c "
import json, sys
r = json.loads(open('$TEST_TMP/validate.json').read())
assert r['valid'] is False and r['errors'][0]['key'] == 'policy.version' and r['errors'][0]['line'] == 1, r"
check_output "the man pages render" 'dnsguardd - the dnsguard agent' \
  bash -c "MANWIDTH=100 man -l '$TEST_TMP/root/usr/share/man/man8/dnsguardd.8.gz' 2>/dev/null"
check "the binaries are stripped" bash -c "! file '$TEST_TMP/root/usr/sbin/dnsguardd' | grep -q 'not stripped'"

yaml_checks() {
  python3 - "$SOURCE_DIR/examples" <<'PY'
import sys, yaml
root = sys.argv[1]
docs = list(yaml.safe_load_all(open(f"{root}/kubernetes/dnsguard-daemonset.yaml")))
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"Namespace", "ConfigMap", "DaemonSet"}, kinds.keys()
ds = kinds["DaemonSet"]["spec"]["template"]["spec"]
assert ds["hostNetwork"] is True
c = ds["containers"][0]
caps = c["securityContext"]["capabilities"]
assert caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["NET_ADMIN", "NET_RAW"], caps
assert c["securityContext"]["privileged"] is False
assert "--policy=/etc/dnsguard/policy.toml" in c["args"]
assert any(a.startswith("--listen=") for a in c["args"]) and any(a.startswith("--client-ca=") for a in c["args"])
volumes = {v["name"]: v for v in ds["volumes"]}
assert volumes["policy"]["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
assert "policy.toml" in kinds["ConfigMap"]["data"]
play = yaml.safe_load(open(f"{root}/ansible/dnsguard.yml"))[0]
names = [t["name"] for t in play["tasks"]]
cmds = " ".join(str(t.get("ansible.builtin.command", {}).get("cmd", "")) for t in play["tasks"])
assert "--confirm-within" in cmds and "dnsguardctl confirm" in cmds, cmds
copy = [t for t in play["tasks"] if "ansible.builtin.copy" in t and "validate" in t["ansible.builtin.copy"]]
assert copy and "dnsguardctl validate %s" in copy[0]["ansible.builtin.copy"]["validate"]
print("ok:", len(docs), "Kubernetes documents,", len(names), "Ansible tasks")
PY
}
check_output "the Kubernetes manifest and the Ansible playbook parse and say what they should" '^ok: 3 Kubernetes' yaml_checks
finish
