#!/usr/bin/env bash
# The fleet: three agents in three namespaces serve the API over TCP with mutual TLS
# (certificates made here with openssl), driven by dnsguardctl from a manager namespace
# on a bridge. Checks roles (admin applies; a reader's apply is PERMISSION_DENIED and
# changes nothing), clients refused at the handshake (no certificate, expired, another
# CA; plaintext; TLS 1.2), certificate reload on SIGHUP with the rules untouched, fan-out
# with an agent down, --canary, and fleet status showing who runs which policy.
source "$(dirname "$0")/lib.sh"
require_root

# ---- certificates: the how-to's script, then the bad ones by hand ----
pki="$TEST_TMP/pki"
make_certs() { bash "$SOURCE_DIR/examples/certificates/make-certs.sh" "$@" >/dev/null; }
make_certs "$pki" ca
make_certs "$TEST_TMP/other-pki" ca "another CA"
make_certs "$pki" agent agent-a IP:198.51.100.11
make_certs "$pki" agent agent-b IP:198.51.100.12
make_certs "$pki" agent agent-c IP:198.51.100.13
make_certs "$pki" client admin
make_certs "$pki" client reader
make_certs "$TEST_TMP/other-pki" client admin  # the right name from the wrong CA
cp "$TEST_TMP/other-pki/admin.crt" "$pki/stranger.crt"
cp "$TEST_TMP/other-pki/admin.key" "$pki/stranger.key"
# An expired admin certificate: `openssl ca` can set the validity window in the past.
cat >"$pki/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $pki/index.txt
new_certs_dir = $pki
serial = $pki/serial
default_md = sha256
policy = anything
copy_extensions = copy
[anything]
commonName = supplied
EOF
: >"$pki/index.txt"
echo 1000 >"$pki/serial"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/expired.key" -out "$pki/expired.csr" \
  -subj "/CN=admin" -addext "extendedKeyUsage=clientAuth" 2>/dev/null
openssl ca -batch -config "$pki/ca.cnf" -cert "$pki/ca.crt" -keyfile "$pki/ca.key" -in "$pki/expired.csr" \
  -out "$pki/expired.crt" -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null

# ---- three agents behind a bridge in the manager's namespace ----
make_ns mgr
ip -n "$mgr" link add br0 type bridge
ip -n "$mgr" link set br0 up
addr "$mgr" br0 198.51.100.1/24
declare -A ns_of agent_pid_of
for x in a b c; do
  make_ns "ns_$x"
  ns_name="ns_$x"
  ns_of[$x]=${!ns_name}
  link "${ns_of[$x]}" eth0 "$mgr" "v-$x"
  ip -n "$mgr" link set "v-$x" master br0
done
addr "${ns_of[a]}" eth0 198.51.100.11/24
addr "${ns_of[b]}" eth0 198.51.100.12/24
addr "${ns_of[c]}" eth0 198.51.100.13/24
address_of() { case $1 in a) echo 198.51.100.11 ;; b) echo 198.51.100.12 ;; c) echo 198.51.100.13 ;; esac; }

start_remote_agent() {  # start_remote_agent X: dnsguardd in ns_X, Unix socket and TCP
  local x=$1
  start_bg "${ns_of[$x]}" "$TEST_TMP/agent-$x.log" "$DAEMON" --socket "$TEST_TMP/$x.sock" \
    --state-dir "$TEST_TMP/state-$x" --listen "$(address_of "$x"):7853" --tls-cert "$pki/agent-$x.crt" \
    --tls-key "$pki/agent-$x.key" --client-ca "$pki/ca.crt" --admin-identity admin
  agent_pid_of[$x]=${_pids[-1]}
  wait_for "agent $x" 10 local_ctl "$x" status
}
local_ctl() { local x=$1; shift; in_ns "${ns_of[$x]}" "$CTL" --socket "$TEST_TMP/$x.sock" "$@"; }
for x in a b c; do start_remote_agent "$x"; done

as() {  # as IDENTITY CTL-ARGS...: dnsguardctl in the manager namespace with IDENTITY's certificate
  local who=$1
  shift
  local creds=(--ca "$pki/ca.crt")
  [[ $who != none ]] && creds+=(--tls-cert "$pki/$who.crt" --tls-key "$pki/$who.key")
  in_ns "$mgr" "$CTL" "${creds[@]}" --timeout 20s "$@"
}
policy() { corp_policy fleet "$2" >"$1"; }  # policy FILE VERSION
policy "$TEST_TMP/v1.toml" 1
policy "$TEST_TMP/v2.toml" 2
policy "$TEST_TMP/v3.toml" 3
generation_of() { local_ctl "$1" status | awk '$1 == "generation" { print $2 }'; }
A=198.51.100.11:7853 B=198.51.100.12:7853 C=198.51.100.13:7853

echo "# roles over mutual TLS"
check_output "an admin applies over TCP" "^$A +ok +fleet v1 " as admin --agent $A apply "$TEST_TMP/v1.toml"
check_output "the agent enforces it (nft, in its namespace)" 'table inet dnsguard' in_ns "${ns_of[a]}" nft list tables
in_ns "${ns_of[a]}" nft list table inet dnsguard >"$TEST_TMP/a-before.nft" 2>/dev/null
check_output "a reader may read status" "^$A +ok +fleet v1 " as reader --agent $A status
check_status "a reader's apply fails (exit 1)" 1 as reader --agent $A apply "$TEST_TMP/v2.toml"
check_output "with PERMISSION_DENIED naming the admin role" 'permission denied: Apply needs the admin role.*\(admin|reader' \
  as reader --agent $A apply "$TEST_TMP/v2.toml"
check_output "and changes nothing" '^1$' generation_of a
check_output "a reader cannot roll back either" 'permission denied: Rollback needs the admin role' \
  as reader --agent $A rollback

echo "# refused at the handshake"
check_output "no client certificate" "^$A +failed .*unreachable" as none --agent $A status
check_output "an expired certificate" "^$A +failed .*unreachable" as expired --agent $A status
check_output "a certificate from another CA" "^$A +failed .*unreachable" as stranger --agent $A status
check_output "the agent saw none of them as calls (generation unchanged)" '^1$' generation_of a
plaintext_fails() { ! in_ns "$mgr" curl -sf --max-time 3 --http2-prior-knowledge "http://$A/dnsguard.v1.DnsGuard/GetStatus"; }
check "plaintext HTTP/2 gets no answer" plaintext_fails
tls() {  # tls VERSION_FLAG: an openssl handshake with the admin certificate
  in_ns "$mgr" openssl s_client -connect "$A" "$1" -cert "$pki/admin.crt" -key "$pki/admin.key" \
    -CAfile "$pki/ca.crt" -alpn h2 </dev/null 2>&1
}
check_output "TLS 1.3 is what the agent speaks" 'New, TLSv1\.3, Cipher is TLS_|Protocol *: TLSv1\.3' tls -tls1_3
check_output "TLS 1.2 is refused (no session: cipher NONE)" 'Cipher is \(NONE\)' tls -tls1_2

echo "# certificate reload on SIGHUP"
make_certs "$pki" agent agent-a-renewed IP:198.51.100.11
cp "$pki/agent-a-renewed.crt" "$pki/agent-a.crt"
cp "$pki/agent-a-renewed.key" "$pki/agent-a.key"
kill -HUP "${agent_pid_of[a]}"
renewed() { output_has 'subject=CN *= *agent-a-renewed' tls -tls1_3; }
wait_for "the renewed certificate to be served" 10 renewed
check "the agent serves the renewed certificate" renewed
check_output "admin calls work with it" "^$A +ok +fleet v1 " as admin --agent $A status
in_ns "${ns_of[a]}" nft list table inet dnsguard >"$TEST_TMP/a-after.nft" 2>/dev/null
check "the rules were not touched" cmp "$TEST_TMP/a-before.nft" "$TEST_TMP/a-after.nft"
check_output "the Unix socket still serves" '^generation +1$' local_ctl a status
echo 'not a certificate' >"$pki/agent-a.crt"
kill -HUP "${agent_pid_of[a]}"
bad_reload_logged() { grep -q 'certificates not reloaded' "$TEST_TMP/agent-a.log"; }
wait_for "the bad reload to be logged" 10 bad_reload_logged
check_output "a bad certificate file keeps the old one in use" "^$A +ok " as admin --agent $A status

echo "# fan-out"
check_output "apply on three agents" 'apply on 3 agents: 3 ok' as admin --agent $A --agent $B --agent $C apply "$TEST_TMP/v2.toml"
printf '# the fleet\n%s\n%s\n\n%s\n' "$A" "$B" "$C" >"$TEST_TMP/fleet.txt"
check_output "status from an agents file: all on the same policy" 'fleet v2 [0-9a-f]{12}: 3 agents' \
  as admin --agents-file "$TEST_TMP/fleet.txt" status
kill "${agent_pid_of[c]}"
wait "${agent_pid_of[c]}" 2>/dev/null
check_status "with agent c stopped, apply exits 1" 1 as admin --agents-file "$TEST_TMP/fleet.txt" apply "$TEST_TMP/v3.toml"
cp "$TEST_TMP/last.out" "$TEST_TMP/fanout.out"
check_output "the output names it" "^$C +failed .*unreachable" cat "$TEST_TMP/fanout.out"
check_output "and the other two were applied" '^3$' generation_of a
check_output "(b too)" '^2$' generation_of b

echo "# canary"
check_status "--canary 1 with a failing first agent exits 1" 1 \
  as admin --agent $C --agent $A --agent $B apply --canary 1 "$TEST_TMP/v1.toml"
cp "$TEST_TMP/last.out" "$TEST_TMP/canary.out"
check_output "the others were not attempted" "^$A +skipped .*not attempted: the canary wave failed" cat "$TEST_TMP/canary.out"
check_output "and are untouched" '^3$' generation_of a
check_output "(b too)" '^2$' generation_of b
as admin --agent $A apply "$TEST_TMP/v2.toml" >/dev/null
check_output "status shows a split fleet: who runs which policy" 'agents disagree: 2 different policies' \
  as admin --agent $A --agent $B status
check_output "--canary 1 with a good first agent goes on to the rest" 'apply on 2 agents: 2 ok' \
  as admin --agent $A --agent $B apply --canary 1 "$TEST_TMP/v1.toml"
check_output "-o json: one object per agent" '^\{"agent":"198\.51\.100\.11:7853","result":"ok","policy":"fleet","version":1,' \
  as admin -o json --agent $A status
finish
