#!/usr/bin/env bash
# The install commands users copy: every line of the install blocks of README.md and
# docs/operations.md (those marked "install-commands") runs here, against the package
# built from this tree, installed with dpkg into a throw-away root; the unit's own
# ExecStartPre and ExecStart lines start the installed agent in a private network
# namespace, and the installed dnsguardctl asks it for its status. A command in those
# blocks that this test does not know how to run fails it, so the docs cannot drift.
source "$(dirname "$0")/integration/lib.sh"
require_root

(cd "$BUILD_DIR" && cpack -G DEB -B "$TEST_TMP/pkg" >"$TEST_TMP/cpack.log" 2>&1) || { cat "$TEST_TMP/cpack.log"; exit 1; }
deb=$(ls "$TEST_TMP"/pkg/dnsguard_*_amd64.deb | head -1)
make_ns host
# fresh_root NAME: an empty root with a dpkg database, and no agent running.
agent=
fresh_root() {
  if [[ -n $agent ]]; then
    kill "$agent"
    wait "$agent" 2>/dev/null
    local pid kept=()  # ended: the cleanup must not signal its pid again
    for pid in "${_pids[@]}"; do [[ $pid == "$agent" ]] || kept+=("$pid"); done
    _pids=("${kept[@]}")
  fi
  agent=
  root="$TEST_TMP/root-$1"
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
  touch "$root/var/lib/dpkg/status"
  rm -rf "$TEST_TMP/run" "$TEST_TMP/state"
}
sock="$TEST_TMP/run/dnsguard/dnsguard.sock"

# The installed unit's command line with its paths moved into the throw-away root.
unit_command() {  # unit_command ExecStart|ExecStartPre
  sed -n "s/^$1=//p" "$root/usr/lib/systemd/system/dnsguardd.service" |
    sed -e "s|/usr/sbin/|$root/usr/sbin/|g" -e "s|/etc/dnsguard/|$root/etc/dnsguard/|g" \
      -e "s|/run/dnsguard/|$TEST_TMP/run/dnsguard/|g" -e "s|/var/lib/dnsguard|$TEST_TMP/state|g"
}
installed_status() { in_ns "$host" "$root/usr/bin/dnsguardctl" --socket "$sock" status; }

run_install_command() {  # run_install_command LINE
  local line=$1
  case $line in
    "./scripts/install-deps.sh && ./scripts/build.sh && (cd build && cpack -G DEB)" | "./scripts/install-deps.sh && ./scripts/build.sh" | "(cd build && cpack -G DEB)"*)
      check "$line (the package this test built)" test -s "$deb" ;;
    "apt-get install -y ./"*dnsguard_*_amd64.deb)
      check "$line (dpkg into a throw-away root)" \
        dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb"
      check "the package installed the agent, the CLI, the unit and the default policy" \
        test -x "$root/usr/sbin/dnsguardd" -a -x "$root/usr/bin/dnsguardctl" \
        -a -s "$root/usr/lib/systemd/system/dnsguardd.service" -a -s "$root/etc/dnsguard/policy.toml"
      ran_install=1
      check "the docs are installed" test -s "$root/usr/share/doc/dnsguard/docs/policy.md" ;;
    '$EDITOR /etc/dnsguard/policy.toml'*)
      echo "   (skipped: $line is the user's edit)" ;;
    "dnsguardd --check-policy /etc/dnsguard/policy.toml")
      check_output "$line" 'ok \(policy default-monitor version 1\)' \
        "$root/usr/sbin/dnsguardd" --check-policy "$root/etc/dnsguard/policy.toml"
      pre=$(unit_command ExecStartPre)
      check "the unit's ExecStartPre is the same check" bash -c "[[ -n '$pre' ]] && $pre" ;;
    "systemctl enable --now dnsguardd")
      check "systemctl enable dnsguardd (offline, in the root)" systemctl --root="$root" enable dnsguardd
      check "the unit is wanted by multi-user.target" \
        test -L "$root/etc/systemd/system/multi-user.target.wants/dnsguardd.service"
      # --now: the unit's ExecStart, in a namespace of its own.
      mkdir -p "$TEST_TMP/run/dnsguard" "$TEST_TMP/state"
      read -ra exec_start <<<"$(unit_command ExecStart)"
      start_bg "$host" "$TEST_TMP/agent.log" "${exec_start[@]}"
      agent=${_pids[-1]}
      wait_for "the installed agent to serve" 10 installed_status ;;
    "dnsguardctl status")
      check_output "$line: the installed agent enforces the default policy" \
        'policy +default-monitor version 1' installed_status
      ran_status=1 ;;
    *)
      check "a command this test knows how to run: $line" false ;;
  esac
}

for doc in README.md docs/operations.md; do
  fresh_root "${doc//\//-}"
  ran_install=0 ran_status=0
  block=$(awk '/install-commands/ { marked = 1; next } marked && /^```sh/ { inside = 1; next }
               inside && /^```/ { exit } inside { print }' "$SOURCE_DIR/$doc")
  check "$doc has a marked install block" test -n "$block"
  while IFS= read -r line; do
    line=${line%%#*}                    # comments
    line=${line%"${line##*[![:space:]]}"}  # trailing blanks
    [[ -z $line ]] && continue
    run_install_command "$line"
  done <<<"$block"
  check "$doc's install block installs the package and asks the agent for its status" \
    test "$ran_install$ran_status" = 11
done
finish
