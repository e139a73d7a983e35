# Shared helpers for integration tests. Each test builds its own network namespaces
# (named dg<pid>-*), starts its own peers, and on exit - pass, fail or interrupt -
# kills exactly the processes it started, by pid, and deletes its namespaces.
#
# Tests print one line per check and end with "N passed, N failed".

set -u
set -o pipefail

BUILD_DIR=${DNSGUARD_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CTL="$BUILD_DIR/cli/dnsguardctl"
NFT_TOOL="$BUILD_DIR/tests/dnsguard-nft-tool"
DAEMON="$BUILD_DIR/agent/daemon/dnsguardd"

NS_PREFIX="dg$$"
TEST_TMP=$(mktemp -d "/tmp/dnsguard-test.XXXXXX")
export DNSGUARD_SOCKET="$TEST_TMP/run/dnsguard.sock"
_namespaces=()
_pids=()
_passed=0
_failed=0

cleanup() {
  local pid ns
  for pid in "${_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${_pids[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${_namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  [[ -n ${KEEP_LOGS:-} ]] && cat "$TEST_TMP"/*.log >&2
  rm -rf "$TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "this test needs root (network namespaces and nftables)" >&2
    exit 1
  fi
}

# make_ns VAR: creates namespace $NS_PREFIX-VAR with lo up and stores its name in $VAR
# (not through $(...), whose subshell would lose the cleanup record).
make_ns() {
  local ns="$NS_PREFIX-$1"
  ip netns add "$ns" || { echo "cannot create namespace $ns" >&2; exit 1; }
  _namespaces+=("$ns")
  ip -n "$ns" link set lo up
  printf -v "$1" '%s' "$ns"
}

# in_ns NS CMD...: runs CMD inside NS.
in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# link NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link() {
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

# addr NS IF ADDRESS/LEN: IPv6 addresses skip duplicate detection so they are usable
# at once.
addr() {
  if [[ $3 == *:* ]]; then
    ip -n "$1" -6 addr add "$3" dev "$2" nodad
  else
    ip -n "$1" addr add "$3" dev "$2"
  fi
}

# start_bg NS LOGFILE CMD...: starts CMD in NS in the background and remembers its pid.
start_bg() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  _pids+=("$!")
}

# wait_for DESCRIPTION TIMEOUT_S CMD...: polls CMD until it succeeds; fails the test
# (and exits) when it has not within the timeout.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "FAIL: timed out after ${timeout}s waiting for: $what"
      _failed=$((_failed + 1))
      finish
    fi
    sleep 0.1
  done
}

# Records one check's outcome; on failure shows why and the command's output.
_report() {  # _report PASSED DESCRIPTION [REASON]
  if (($1)); then
    echo "ok: $2"
    _passed=$((_passed + 1))
  else
    echo "FAIL: $2${3:+ ($3)}"
    sed 's/^/    | /' "$TEST_TMP/last.out" | head -20
    _failed=$((_failed + 1))
  fi
}

# check DESCRIPTION CMD...: CMD must succeed.
check() {
  local what=$1
  shift
  "$@" >"$TEST_TMP/last.out" 2>&1
  _report $(($? == 0)) "$what"
}

# check_output DESCRIPTION PATTERN CMD...: CMD's output (stdout+stderr) must match the
# extended regular expression PATTERN, whatever CMD's exit status.
check_output() {
  local what=$1 pattern=$2
  shift 2
  "$@" >"$TEST_TMP/last.out" 2>&1
  grep -Eq -- "$pattern" "$TEST_TMP/last.out"
  _report $(($? == 0)) "$what" "no match for /$pattern/"
}

# output_has PATTERN CMD...: CMD succeeds and its whole output matches PATTERN (-E).
# For wait_for predicates: with pipefail, "CMD | grep -q" fails (SIGPIPE, 141) as soon
# as CMD writes on after the match, e.g. once the event ring holds more than a pipe's
# worth of events past it.
output_has() {
  local pattern=$1 out
  shift
  out=$("$@" 2>&1) || return 1
  grep -Eq -- "$pattern" <<<"$out"
}

# check_status DESCRIPTION STATUS CMD...: CMD must exit with exactly STATUS.
check_status() {
  local what=$1 expected=$2
  shift 2
  "$@" >"$TEST_TMP/last.out" 2>&1
  local got=$?
  _report $((got == expected)) "$what" "exit status $got, expected $expected"
}

# counter NS NAME: packets of a named counter in our table.
counter() {
  in_ns "$1" "$NFT_TOOL" counters | awk -v n="$2" '$1 == n { print $2 }'
}

finish() {
  echo "$_passed passed, $_failed failed"
  ((_failed == 0)) && exit 0
  exit 1
}

# ---- topologies ----

# resolver_link: namespaces $ws and $res joined by a veth pair: the workstation at
# 192.0.2.10 / fd00:53::10, the designated resolver's side at 192.0.2.53 / fd00:53::53.
resolver_link() {
  make_ns ws
  make_ns res
  link "$ws" to-res "$res" to-ws
  addr "$ws" to-res 192.0.2.10/24;  addr "$res" to-ws 192.0.2.53/24
  addr "$ws" to-res fd00:53::10/64; addr "$res" to-ws fd00:53::53/64
}

# corp_policy NAME VERSION [ADDRESS...]: the start of a policy whose one designated
# resolver, "corp", is at the ADDRESSes (default 192.0.2.53, resolver_link's); the
# sections a test needs follow it.
corp_policy() {
  local name=$1 version=$2
  shift 2
  (($#)) || set -- 192.0.2.53
  local addresses
  addresses=$(printf '"%s", ' "$@")
  printf '[policy]\nname = "%s"\nversion = %s\n[egress]\n[[egress.resolvers]]\nname = "corp"\naddresses = [%s]\n' \
    "$name" "$version" "${addresses%, }"
}

# workstation_topology: namespaces $ws, $res and $rogue; the workstation reaches the
# designated resolver at 192.0.2.53 / fd00:53::53 (unbound) and a rogue one at
# 203.0.113.53 / fd00:66::53 (dnsmasq, answering 203.0.113.99), both started.
workstation_topology() {
  resolver_link
  make_ns rogue
  link "$ws" to-rogue "$rogue" to-ws
  addr "$ws" to-rogue 203.0.113.10/24; addr "$rogue" to-ws 203.0.113.53/24
  addr "$ws" to-rogue fd00:66::10/64;  addr "$rogue" to-ws fd00:66::53/64
  start_unbound "$res" corp 192.0.2.53 fd00:53::53
  start_dnsmasq "$rogue" rogue 203.0.113.99 203.0.113.53 fd00:66::53
}

# ---- the agent ----

# start_agent NS: dnsguardd in NS, serving $DNSGUARD_SOCKET with its state in
# $TEST_TMP/state; sets $agent_pid. `ctl ARGS` runs dnsguardctl in the same namespace.
agent_pid=
agent_ns=
start_agent() {
  agent_ns=$1
  start_bg "$agent_ns" "$TEST_TMP/agent.log" "$DAEMON" --socket "$DNSGUARD_SOCKET" --state-dir "$TEST_TMP/state"
  agent_pid=${_pids[-1]}
  wait_for "the agent to serve" 10 ctl status
}
ctl() { in_ns "$agent_ns" "$CTL" "$@"; }

# What the agent holds, from /proc: agent_status KEY (a /proc/PID/status field such as
# VmRSS or Threads; kB for sizes) and agent_fds (open file descriptors).
agent_status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$agent_pid/status"; }
agent_fds() { ls "/proc/$agent_pid/fd" | wc -l; }
# inspected_packets: packets the inspector has judged since the agent started.
inspected_packets() { ctl stats | awk '$1 == "inspect_packets" { print $2 }'; }

# start_load FILE OUT SECONDS QPS TIMEOUT: dnsperf from $ws to 192.0.2.53 in the
# background (its pid in $load, which the cleanup ends too), returning once its queries
# reach the inspector.
load=
start_load() {
  # (Not through in_ns: $! must be dnsperf itself so signals and the cleanup reach it.)
  ip netns exec "$ws" dnsperf -s 192.0.2.53 -d "$1" -l "$3" -Q "$4" -t "$5" >"$2" 2>&1 &
  load=$!
  _pids+=("$load")
  _load_before=$(inspected_packets)
  _load_flowing() { (($(inspected_packets) > _load_before + 100)); }
  wait_for "the load to reach the inspector" 5 _load_flowing
}

# From a dnsperf report: dnsperf_count "Queries lost" FILE (the number on that line) and
# dnsperf_rcode NXDOMAIN FILE (answers with that response code; 0 when none).
dnsperf_count() { awk -v f="$1" '$0 ~ f { gsub(/[^0-9].*/, "", $3); print $3; exit }' "$2"; }
dnsperf_rcode() {
  awk -v r="$1" '/Response codes/ { for (i = 1; i <= NF; i++) if ($i == r) n = $(i + 1) + 0 } END { print n + 0 }' "$2"
}

# check_memory_flat DESCRIPTION GROWTH_KIB LIMIT_KIB: the agent's RSS grew less than
# LIMIT_KIB. In the sanitizer build RSS says nothing (AddressSanitizer keeps freed memory
# in quarantine on purpose), so there the agent is stopped with SIGTERM instead and must
# exit 0: LeakSanitizer fails the exit when anything allocated was never freed.
sanitized_agent() { grep -q __asan_init "$DAEMON" 2>/dev/null; }
check_memory_flat() {
  if sanitized_agent; then
    kill "$agent_pid"
    wait "$agent_pid"
    local status=$?
    : >"$TEST_TMP/last.out"
    _report $((status == 0)) "$1 (sanitizer build: LeakSanitizer finds no leak at exit)" "exit status $status"
    return
  fi
  : >"$TEST_TMP/last.out"
  _report $(($2 < $3)) "$1" "grew $2 KiB"
}

# ---- real DNS peers ----

# start_unbound NS NAME ADDRESS...: unbound answering example.test from local data:
# www.example.test, and the records in $unbound_data (one local-data value a line);
# $unbound_config is appended to its configuration (e.g. server options, stub zones).
unbound_data=""
unbound_config=""
start_unbound() {
  local ns=$1 name=$2
  shift 2
  local conf="$TEST_TMP/unbound-$name.conf" a line
  {
    echo "server:"
    for a in "$@"; do echo "  interface: $a"; done
    cat <<EOF
  port: 53
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "$TEST_TMP"
  use-syslog: no
  logfile: ""
  do-ip6: yes
  access-control: 0.0.0.0/0 allow
  access-control: ::/0 allow
  module-config: "iterator"
  local-zone: "example.test." static
  local-data: "www.example.test. 300 IN A 192.0.2.80"
  local-data: "www.example.test. 300 IN AAAA fd00:53::80"
EOF
    while IFS= read -r line; do [[ -n $line ]] && echo "  local-data: \"$line\""; done <<<"$unbound_data"
    printf '%s\n' "$unbound_config"
    printf 'remote-control:\n  control-enable: no\n'
  } >"$conf"
  start_bg "$ns" "$TEST_TMP/unbound-$name.log" unbound -d -c "$conf"
  for a in "$@"; do
    wait_for "unbound $name on $a" 10 in_ns "$ns" dig +short +tries=1 +time=1 "@$a" www.example.test
  done
}

# start_dnsmasq NS NAME ANSWER ADDRESS...: dnsmasq answering *.example.test with ANSWER.
start_dnsmasq() {
  local ns=$1 name=$2 answer=$3
  shift 3
  local args=(--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces
    --user=root --group=root --pid-file="$TEST_TMP/dnsmasq-$name.pid" "--address=/example.test/$answer")
  local a
  for a in "$@"; do args+=("--listen-address=$a"); done
  start_bg "$ns" "$TEST_TMP/dnsmasq-$name.log" dnsmasq "${args[@]}"
  for a in "$@"; do
    wait_for "dnsmasq $name on $a" 10 in_ns "$ns" dig +short +tries=1 +time=1 "@$a" www.example.test
  done
}
