#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# lbd as systemd runs it, without a running systemd: the installed units
# (lbd's, sluice-backend's) pass `systemd-analyze verify` without a
# complaint; lbd starts, reloads
# and serves lbctl with only the capabilities the unit leaves it; and it
# tells a notify socket of the test's own READY=1 once attached,
# RELOADING=1 with MONOTONIC_USEC then READY=1 around each SIGHUP (a
# refused config too), WATCHDOG=1 when asked, STATUS= lines that follow
# the state (state saves failing, then recovered, too), and STOPPING=1 at
# SIGTERM. With its stderr on the journal
# (JOURNAL_STREAM), each log line carries its priority.
#
# Usage: systemd_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root systemd_test
netns_private systemd_test "$0" "$@"
netns_init

lbd=$build/user/lbd
lbctl=$build/user/lbctl
unit=$build/scripts/systemd/lbd.service
tag=sdt$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb
work=$NETNS_WORK
lbd_pid= listen_pid=

test_cleanup() {
	umount "$work/state" 2>/dev/null
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
	[ -n "$listen_pid" ] && kill "$listen_pid" 2>/dev/null
	true
}
step() { echo "== $*"; }
fail() {
	echo "systemd_test: FAIL: $*" >&2
	[ -f "$work/notify.log" ] && sed 's/^/  notify: /' "$work/notify.log" >&2
	[ -f "$work/lbd.log" ] && sed 's/^/  lbd log: /' "$work/lbd.log" >&2
	exit 1
}

step "the unit: systemd-analyze verify has nothing to say"
prefix_sbin=$(sed -n 's#^ExecStart=\(.*\)/lbd --config .*#\1#p' "$unit")
[ -n "$prefix_sbin" ] || fail "no ExecStart in $unit"
sed "s#$prefix_sbin/lbctl#$lbctl#g; s#$prefix_sbin/lbd#$lbd#g" "$unit" >"$work/lbd.service"
systemd-analyze verify --man=no "$work/lbd.service" >"$work/verify" 2>&1 ||
	fail "verify exited $?: $(cat "$work/verify")"
[ ! -s "$work/verify" ] || fail "verify complained: $(cat "$work/verify")"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
install -m 0755 "$build/scripts/backend/sluice-backend" "$work/sluice-backend"
sed "s#$prefix_sbin/sluice-backend#$work/sluice-backend#g" \
	"$build/scripts/backend/sluice-backend.service" >"$work/sluice-backend.service"
systemd-analyze verify --man=no "$work/sluice-backend.service" >"$work/verify" 2>&1 ||
	fail "verify sluice-backend.service exited $?: $(cat "$work/verify")"
[ ! -s "$work/verify" ] || fail "verify complained of sluice-backend.service: $(cat "$work/verify")"
caps=$(netns_unit_caps "$build")
[ -n "$caps" ] || fail "the unit names no capabilities"

netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
# systemd mounts bpffs at boot; without CAP_SYS_ADMIN lbd could not.
mount -t bpf bpf /sys/fs/bpf
sock=$work/run/lbd.sock
vip_cfg() { # BACKENDS...: the config with these backends
	local b list=
	for b in "$@"; do list+="${list:+, }{ \"address\": \"$b\" }"; done
	cat <<JSON
{ "interface": "l0", "next_hop": "02:00:00:00:00:fe",
  "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state", "control_socket": "$sock", "control_group": "nogroup",
  "vips": [ { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
              "table_size": 251, "backends": [ $list ] } ] }
JSON
}
vip_cfg 198.18.3.1 198.18.3.2 >"$work/lbd.json"
# A file system of its own, so that a step below can make it read-only.
mkdir -p "$work/state"
mount -t tmpfs -o size=4m systemd-test-state "$work/state"

# Every datagram lbd sends, one line each ("|" for its newlines); and,
# when the first READY=1 arrives, whether lbd's XDP link was pinned by then.
/usr/bin/python3 - "$work/notify.sock" "$work/notify.log" /sys/fs/bpf/sluice/l0/link \
	"$work/ready_link" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.time() + 120
with open(sys.argv[2], "w", buffering=1) as out:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        if msg.startswith("READY=1") and not os.path.exists(sys.argv[4]):
            with open(sys.argv[4], "w") as f:
                f.write("pinned" if os.path.exists(sys.argv[3]) else "not pinned")
        out.write(msg.replace("\n", "|") + "\n")
        if "STOPPING=1" in msg:
            break
PY
listen_pid=$!
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done

wait_for() { # PATTERN FILE WHAT: a line of FILE matching PATTERN, within 10 s
	for _ in $(seq 100); do
		grep -qE "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$3"
}

step "start with the unit's capabilities only ($caps): READY=1 with a status"
: >"$work/lbd.log"
journal=$(stat -c '%d:%i' "$work/lbd.log")
nsenter --net="/run/netns/$lb" env NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=300000 \
	JOURNAL_STREAM="$journal" setpriv --bounding-set "$caps" --inh-caps -all \
	"$lbd" --config "$work/lbd.json" 2>>"$work/lbd.log" &
lbd_pid=$!
wait_for '^READY=1\|STATUS=l0: 1 VIPs, 2 backends \(2 in\); generation 1$' "$work/notify.log" \
	"no READY=1 with the right status"
[ "$(cat "$work/ready_link")" = pinned ] ||
	fail "READY=1 came before the XDP link was pinned: $(cat "$work/ready_link")"
grep -q '^<6>lbd\[info\]: l0: attached' "$work/lbd.log" ||
	fail "log lines on the journal carry no priority: $(head -3 "$work/lbd.log")"
"$lbctl" -s "$sock" status >/dev/null || fail "lbctl status with the unit's capabilities"
"$lbctl" -s "$sock" block add 198.19.0.0/16 >/dev/null || fail "block add with the unit's capabilities"
"$lbctl" -s "$sock" backend drain web 198.18.3.2 >/dev/null || fail "drain with the unit's capabilities"
wait_for 'STATUS=l0: 1 VIPs, 2 backends \(1 in\); generation 1$' "$work/notify.log" \
	"STATUS did not follow the drain"

step "STATUS says while the state file cannot be written, and stops once it can"
mount -o remount,ro "$work/state"
rc=0
"$lbctl" -s "$sock" backend undrain web 198.18.3.2 >"$work/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "undrain with a read-only state dir: exit $rc: $(cat "$work/out")"
wait_for 'STATUS=l0: 1 VIPs, 2 backends \(2 in\); generation 1; state saves failing, retrying$' \
	"$work/notify.log" "STATUS did not say the saves fail"
mount -o remount,rw "$work/state"
# The same line came before: wait for it as the latest.
for _ in $(seq 50); do
	grep 'STATUS=' "$work/notify.log" | tail -1 | grep -q 'STATUS=l0: 1 VIPs, 2 backends (2 in); generation 1$' &&
		break
	sleep 0.1
done
grep 'STATUS=' "$work/notify.log" | tail -1 | grep -q 'STATUS=l0: 1 VIPs, 2 backends (2 in); generation 1$' ||
	fail "STATUS still says the saves fail once the file can be written"
grep -q '"state": *"drain"' "$work/state/state.json" &&
	fail "the saved state still has the drain: $(cat "$work/state/state.json")"
"$lbctl" -s "$sock" backend drain web 198.18.3.2 >/dev/null || fail "drain again"

step "WATCHDOG=1 from the loop, as often as WATCHDOG_USEC asks"
n0=$(grep -c '^WATCHDOG=1$' "$work/notify.log" || true)
sleep 1
n=$(($(grep -c '^WATCHDOG=1$' "$work/notify.log" || true) - n0))
[ "$n" -ge 3 ] || fail "$n WATCHDOG=1 in a second at 300 ms"

step "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 with the new generation"
vip_cfg 198.18.3.1 198.18.3.2 198.18.3.3 >"$work/lbd.json"
kill -HUP "$lbd_pid"
wait_for '^READY=1\|STATUS=l0: 1 VIPs, 3 backends \(2 in\); generation 2$' "$work/notify.log" \
	"no READY=1 after the reload"
grep -qE '^RELOADING=1\|MONOTONIC_USEC=[0-9]{4,}\|' "$work/notify.log" ||
	fail "no RELOADING=1 with MONOTONIC_USEC"
awk '/^RELOADING=1/ { r = NR } /^READY=1/ { y = NR } END { exit !(r && y > r) }' \
	"$work/notify.log" || fail "READY=1 did not follow RELOADING=1"

step "ExecReload: returns once the file is applied, and fails (78) on a refused one"
reload_cmd=$(sed -n 's#^ExecReload=\(.*\)$#\1#p' "$unit")
[[ $reload_cmd == "$prefix_sbin/lbctl config apply "* ]] || fail "ExecReload: $reload_cmd"
vip_cfg 198.18.3.1 198.18.3.2 >"$work/lbd.json"
"$lbctl" -s "$sock" config apply "$work/lbd.json" >"$work/out" ||
	fail "the unit's reload: $(cat "$work/out")"
tail -1 "$work/notify.log" | grep -q '^READY=1|STATUS=l0: 1 VIPs, 2 backends (1 in); generation 3$' ||
	fail "lbctl returned before READY=1: $(tail -1 "$work/notify.log")"
echo '{ "interface": "l0", "vips": [' >"$work/bad.json"
rc=0
"$lbctl" -s "$sock" config apply "$work/bad.json" >"$work/out" 2>&1 || rc=$?
[ "$rc" = 78 ] || fail "a refused config: lbctl exited $rc: $(cat "$work/out")"
vip_cfg 198.18.3.1 198.18.3.2 198.18.3.3 >"$work/lbd.json"
kill -HUP "$lbd_pid"
wait_for '^READY=1\|STATUS=l0: 1 VIPs, 3 backends \(2 in\); generation 4$' "$work/notify.log" \
	"no READY=1 after the reload back"

step "a refused config: RELOADING=1 and READY=1 again, the running config stays"
echo '{ "interface": "l0", "vips": [' >"$work/lbd.json"
before=$(grep -c '^READY=1' "$work/notify.log")
lines=$(wc -l <"$work/notify.log")
kill -HUP "$lbd_pid"
for _ in $(seq 100); do
	[ "$(grep -c '^READY=1' "$work/notify.log")" -gt "$before" ] && break
	sleep 0.1
done
[ "$(grep -c '^READY=1' "$work/notify.log")" -gt "$before" ] || fail "no READY=1 after a refused config"
# RELOADING=1, then READY=1 with the running config's status, both new.
tail -n +"$((lines + 1))" "$work/notify.log" | grep -v '^WATCHDOG=1$' >"$work/refused.log"
awk '/^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|/ { r = NR } /^READY=1\|STATUS=l0: 1 VIPs, 3 backends \(2 in\); generation 4$/ { y = NR } END { exit !(r && y > r) }' \
	"$work/refused.log" || fail "after a refused config: $(cat "$work/refused.log")"
kill -0 "$lbd_pid" || fail "lbd died of a bad config"

step "SIGTERM: STOPPING=1, exit 0"
kill -TERM "$lbd_pid"
rc=0
wait "$lbd_pid" || rc=$?
lbd_pid=
[ "$rc" -eq 0 ] || fail "lbd exited $rc"
wait_for '^STOPPING=1' "$work/notify.log" "no STOPPING=1"
echo "systemd_test: all passed"
