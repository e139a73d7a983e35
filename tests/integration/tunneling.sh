#!/usr/bin/env bash
# DNS tunneling end to end: a real iodine client on the workstation talks through the
# designated unbound resolver to iodined servers in another namespace (unbound delegates
# tun1.test and tun2.test to them with stub zones). Without detection the tunnel comes up
# and carries pings; with detection it never comes up, the agent reports the tunnel, and
# ordinary lookups through the same resolver keep working.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
make_ns tun
link "$res" to-tun "$tun" to-res
addr "$res" to-tun 198.51.100.1/24;   addr "$tun" to-res 198.51.100.53/24
addr "$tun" to-res 198.51.100.54/24

unbound_config='server:
  qname-minimisation: no
  local-zone: "tun1.test." transparent
  local-zone: "tun2.test." transparent
stub-zone:
  name: "tun1.test"
  stub-addr: 198.51.100.53
stub-zone:
  name: "tun2.test"
  stub-addr: 198.51.100.54'
start_unbound "$res" corp 192.0.2.53

# Two tunnel servers, each with its own domain and tunnel network (iodined -c: queries
# come from the resolver, not from the client).
start_iodined() {  # start_iodined NAME LISTEN TUNNEL_NET DOMAIN
  start_bg "$tun" "$TEST_TMP/iodined-$1.log" iodined -f -c -P tunnelpw -d "dns-$1" -l "$2" "$3" "$4"
  wait_for "iodined $1" 10 in_ns "$tun" ip link show "dns-$1"
}
start_iodined one 198.51.100.53 203.0.113.1/27 tun1.test
start_iodined two 198.51.100.54 203.0.113.33/27 tun2.test

write_policy() {  # write_policy FILE TUNNELING_ENABLED
  {
    corp_policy tunneling 1
    cat <<TOML
[inspect]
enabled = true
[inspect.tunneling]
enabled = $2
action = "drop"
TOML
  } >"$1"
}
write_policy "$TEST_TMP/off.toml" false
write_policy "$TEST_TMP/on.toml" true

# start_iodine NAME DOMAIN [ARGS...]: the client in the workstation, through the resolver
# only (-r: no direct "raw" mode); sets $iodine_pid.
iodine_pid=
start_iodine() {
  local name=$1 domain=$2
  shift 2
  start_bg "$ws" "$TEST_TMP/iodine-$name.log" iodine -f -r -P tunnelpw -d "dns-$name" "$@" 192.0.2.53 "$domain"
  iodine_pid=${_pids[-1]}
}
stop_iodine() {
  kill "$iodine_pid" 2>/dev/null
  wait "$iodine_pid" 2>/dev/null
}
tunnel_up() { grep -q 'Connection setup complete' "$TEST_TMP/iodine-$1.log"; }
detected() { output_has "\"registered_domain\":\"${1//./\\.}\"" ctl -o json events --kind tunnel; }
# never_up NAME SECONDS: the tunnel must not come up within SECONDS (a window several
# times what it took without detection); fails as soon as it does.
never_up() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    tunnel_up "$1" && return 1
    kill -0 "$iodine_pid" 2>/dev/null || return 0  # iodine gave up
    sleep 0.5
  done
  return 0
}
answered() { grep -q '^www\.example\.test\..*192\.0\.2\.80' <<<"$(in_ns "$ws" dig +tries=1 +time=2 @192.0.2.53 www.example.test 2>&1)"; }

start_agent "$ws"

# Without detection both tunnels work: iodine with its defaults (it picks NULL records)
# and iodine forced to TXT records. This is what the detector must stop.
check_output "apply with detection off" 'as generation 1' ctl apply "$TEST_TMP/off.toml"
started=$SECONDS
start_iodine null-off tun1.test
wait_for "the NULL tunnel to come up without detection" 60 tunnel_up null-off
up_seconds=$((SECONDS - started + 1))
window=$((up_seconds * 5 > 15 ? up_seconds * 5 : 15))
echo "   the NULL tunnel came up in about $up_seconds s; with detection it gets $window s to try."
check "pings cross the NULL tunnel without detection" in_ns "$ws" ping -c 2 -W 2 -I dns-null-off 203.0.113.1
stop_iodine
start_iodine txt-off tun2.test -T TXT
wait_for "the TXT tunnel to come up without detection" 60 tunnel_up txt-off
check "pings cross the TXT tunnel without detection" in_ns "$ws" ping -c 2 -W 2 -I dns-txt-off 203.0.113.33
stop_iodine

# With detection on neither comes up; ordinary lookups keep working meanwhile.
check_output "apply with detection on" 'as generation 2' ctl apply "$TEST_TMP/on.toml"
start_iodine null tun1.test
check "ordinary lookups work while iodine tries" answered
wait_for "the NULL tunnel to be detected" 90 detected tun1.test
check "the NULL tunnel never came up" never_up null "$window"
stop_iodine
check_output "the agent reported the NULL tunnel with its signals and score" \
  '"registered_domain":"tun1\.test","signals":\["tunnel_type"\],"score":' ctl -o json events --kind tunnel

start_iodine txt tun2.test -T TXT
wait_for "the TXT tunnel to be detected" 90 detected tun2.test
check "the TXT tunnel never came up" never_up txt "$window"
stop_iodine
check_output "the TXT tunnel was detected" '"registered_domain":"tun2\.test"' ctl -o json events --kind tunnel
check "ordinary lookups still work" answered
check_output "stats count both detections" 'inspect_tunnel_detections +2 ' ctl stats
finish
