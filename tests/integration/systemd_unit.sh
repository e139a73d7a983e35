#!/usr/bin/env bash
# systemd/dnsguardd.service passes `systemd-analyze verify` and keeps its exposure
# score (systemd-analyze security) at or below the figure in docs/operations.md. The unit
# names /usr/sbin/dnsguardd; the check uses a copy pointing at the build tree.
source "$(dirname "$0")/lib.sh"

unit="$TEST_TMP/dnsguardd.service"
sed "s|/usr/sbin/dnsguardd|$BUILD_DIR/agent/daemon/dnsguardd|g" "$SOURCE_DIR/systemd/dnsguardd.service" >"$unit"
check "systemd-analyze verify accepts the unit" systemd-analyze verify "$unit"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for dnsguardd.service: \([0-9.]*\).*/\1/p')
echo "exposure level: ${score:-unknown}"
check "exposure level is at most 2.2 (docs/operations.md)" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.2) }'
check_output "ExecStartPre validates the policy" '^ExecStartPre=.*--check-policy' cat "$unit"
check_output "the daemon reports readiness (Type=notify)" '^Type=notify' cat "$unit"
finish
