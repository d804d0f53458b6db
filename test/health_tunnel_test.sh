#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# "via": "tunnel" health checks, end to end, in network namespaces: the
# client - router - node topology of netns_lib.sh with two backends that
# run lb_decap and hold the VIPs on lo, IPv6 added. The VIP "web"
# (198.18.100.1) checks them through the tunnel; "plain" checks backend 1
# directly, on the same port; "web6" (fd00:100::1) checks backend 1 at
# fd00:3::1 (IPv6 in IPv6) and backend 2 at 198.18.3.2 (IPv6 in IPv4)
# through the tunnel.
#
#  1. Every check passes, lb_probe sits at the node's egress, and a probe
#     caught on the router is an IPIP packet from the tunnel source to a
#     backend with both checksums right (the node's NIC has TX checksum
#     offload off: the kernel finishes the inner one after lb_probe moved
#     the headers, as a NIC would).
#  2. Backend 1 loses 198.18.100.1 from lo: its tunnel check for web
#     fails, while its direct check and its tunnel check for web6 (whose
#     VIP it still holds) go on passing, and backend 2 stays up.
#  3. The VIP comes back: backend 1 is up again through the tunnel.
#  4. Backend 2 loses lb_decap: its tunnel checks fail, for both VIPs.
#  5. lbd killed and started again: it replaces its own lb_probe (one
#     filter, a new program) and the checks go on.
#  6. A reload to direct checks: both are up again (the direct check
#     cannot see the missing decap), and lb_probe leaves the egress.
#  7. Back to tunnel checks, then lbd --unload: lb_probe goes with the
#     rest of the data path.
#
# Usage: health_tunnel_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

build=$(cd "${1:?usage: health_tunnel_test.sh BUILD_DIR SOURCE_DIR}" && pwd)
src=$(cd "${2:?usage: health_tunnel_test.sh BUILD_DIR SOURCE_DIR}" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root health_tunnel_test
netns_private health_tunnel_test "$0" "$@"
netns_init

lbd=$build/user/lbd
lbctl=$build/user/lbctl
tag=hct$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
sock=$work/lbd.sock
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
}

step() { netns_step "$@"; }
fail() { netns_fail health_tunnel_test "$work/lbd.log" "$@"; }

netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "$be1" "$be2"
nsx "$lb" ethtool -K l0 tx off >/dev/null
# IPv6: the node fd00:1::2 behind the router's fd00:1::fe, which routes
# the VIPs' fd00:100::/64 to it and reaches the backends' fd00:3::/64.
nsx "$rt" sysctl -qw net.ipv6.conf.all.forwarding=1
nsx "$rt" ip -6 addr add fd00:1::fe/64 dev r1 nodad
nsx "$rt" ip -6 addr add fd00:3::fe/64 dev br0 nodad
nsx "$rt" ip -6 route add fd00:100::/64 via fd00:1::2
nsx "$lb" ip -6 addr add fd00:1::2/64 dev l0 nodad
nsx "$lb" ip -6 route add default via fd00:1::fe
# Each backend answers on every address, IPv4 and IPv6: the VIPs and its own.
i=1
for ns in $be1 $be2; do
	nsx "$ns" ip -6 addr add "fd00:3::$i/64" dev b0 nodad
	nsx "$ns" ip -6 addr add fd00:100::1/128 dev lo nodad
	nsx "$ns" ip -6 route add default via fd00:3::fe
	nsx "$ns" "$src/test/echo_server.py" "be$i" :: 80 </dev/null >/dev/null 2>&1 &
	i=$((i + 1))
done

# config VIA: web's checks go VIA; plain's are always direct.
config() {
	cat <<EOF
{
  "interface": "l0",
  "tunnel_source": { "ipv4": "198.18.1.2", "ipv6": "fd00:1::2" },
  "state_dir": "$work/state",
  "control_socket": "$sock",
  "vips": [
    { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
      "table_size": 251,
      "health_check": { "type": "tcp", "via": "$1", "interval_ms": 200, "timeout_ms": 150,
                        "rise": 1, "fall": 2 },
      "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" } ] },
    { "name": "plain", "address": "198.18.100.2", "port": 80, "protocol": "tcp",
      "table_size": 251,
      "health_check": { "type": "tcp", "interval_ms": 200, "timeout_ms": 150,
                        "rise": 1, "fall": 2 },
      "backends": [ { "address": "198.18.3.1" } ] },
    { "name": "web6", "address": "fd00:100::1", "port": 80, "protocol": "tcp",
      "table_size": 251,
      "health_check": { "type": "tcp", "via": "$1", "interval_ms": 200, "timeout_ms": 150,
                        "rise": 1, "fall": 2 },
      "backends": [ { "address": "fd00:3::1" }, { "address": "198.18.3.2" } ] }
  ]
}
EOF
}
config tunnel >"$work/lbd.json"

# lbd runs with lbd.service's capabilities only: a tunnel probe marks and
# binds its socket, and a capability the unit lacks shows there.
caps=$(netns_unit_caps "$build")
[ -n "$caps" ] || fail "lbd.service names no capabilities"
# systemd mounts bpffs at boot; without CAP_SYS_ADMIN lbd could not.
mount -t bpf bpf /sys/fs/bpf
start_lbd() {
	: >"$work/lbd.log"
	nsenter --net="/run/netns/$lb" setpriv --bounding-set "$caps" --inh-caps -all \
		"$lbd" --config "$work/lbd.json" >"$work/lbd.log" 2>&1 &
	lbd_pid=$!
	for _ in $(seq 100); do
		grep -q 'control socket ' "$work/lbd.log" && break
		kill -0 "$lbd_pid" 2>/dev/null || fail "lbd died"
		sleep 0.05
	done
	grep -q 'control socket ' "$work/lbd.log" || fail "lbd did not start"
	grep -q 'Kernel error' "$work/lbd.log" && fail "libbpf's noise in the log"
	return 0
}
start_lbd

# Every (VIP, backend)'s health as lbctl reports it, "VIP ADDRESS STATE" a line.
healths() {
	"$lbctl" -s "$sock" -j backend list | /usr/bin/python3 -c "import json, sys
for b in json.load(sys.stdin): print(b['vip'], b['address'], b['health']['state'])"
}
# expect "VIP BACKEND STATE"...: all of them within 6 s (30 intervals).
expect() {
	local end=$((SECONDS + 6)) line missing
	for _ in $(seq 100); do
		healths >"$work/health"
		missing=
		for line in "$@"; do
			grep -qxF "$line" "$work/health" || missing="$missing, $line"
		done
		[ -z "$missing" ] && return 0
		[ "$SECONDS" -lt "$end" ] || break
		sleep 0.1
	done
	fail "not yet${missing#,} after 6 s; health: $(paste -sd, "$work/health")"
}
# stays "VIP BACKEND STATE"...: all of them hold for a second (5 intervals).
stays() {
	local line
	for _ in $(seq 5); do
		healths >"$work/health"
		for line in "$@"; do
			grep -qxF "$line" "$work/health" ||
				fail "$line did not hold; health: $(paste -sd, "$work/health")"
		done
		sleep 0.2
	done
}
egress_filters() { nsx "$lb" tc filter show dev l0 egress; }
# Counted from tc's output once it succeeded: a failing tc is no count.
probe_filters() {
	local out
	out=$(egress_filters) || { echo "tc failed"; return; }
	grep -c 'lb_probe' <<<"$out" || true
}
# The id of the lb_probe lbd attached last.
probe_id() { sed -n 's/.*lb_probe attached at TC egress (program id \([0-9]*\)).*/\1/p' "$work/lbd.log"; }

step "1. every check passes; probes leave tunnelled, with correct checksums"
expect "web 198.18.3.1 up" "web 198.18.3.2 up" "plain 198.18.3.1 up" "web6 fd00:3::1 up" \
	"web6 198.18.3.2 up"
egress_filters | grep -q 'lb_probe' || fail "no lb_probe at l0's egress: $(egress_filters)"
out=$(nsx "$rt" /usr/bin/python3 "$src/test/tunnel_capture.py" r1 198.18.1.2 198.18.100.1 80 3) ||
	fail "tunnelled probe on the wire: $out"
echo "   $out"

step "2. backend 1 without 198.18.100.1 on lo: web's check down; plain's and web6's up"
nsx "$be1" ip addr del 198.18.100.1/32 dev lo
expect "web 198.18.3.1 down"
grep -q 'health: 198.18.100.1:80 tcp via 198.18.3.1 is down (timeout after 150 ms)' \
	"$work/lbd.log" || fail "no log line for the failed tunnel check"
stays "plain 198.18.3.1 up" "web6 fd00:3::1 up" "web 198.18.3.2 up"
"$lbctl" -s "$sock" -j backend list web | grep -q '"address":"198.18.3.1".*"effective":"out"' ||
	fail "backend 1 is not out of web's table: $("$lbctl" -s "$sock" backend list web)"

step "3. the VIP back on lo: backend 1 up again through the tunnel"
nsx "$be1" ip addr add 198.18.100.1/32 dev lo
expect "web 198.18.3.1 up"

step "4. backend 2 without lb_decap: its tunnel checks fail, IPv4 and IPv6 inside"
nsx "$be2" ip link set dev b0 xdp off
expect "web 198.18.3.2 down" "web6 198.18.3.2 down"
stays "web 198.18.3.1 up"

step "5. lbd killed and started again: lb_probe replaced in place"
first=$(probe_id)
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
[ "$(probe_filters)" = 1 ] || fail "lb_probe did not stay when lbd died: $(egress_filters)"
start_lbd
[ -n "$(probe_id)" ] && [ "$(probe_id)" != "$first" ] ||
	fail "lb_probe not replaced: program $first, then '$(probe_id)'"
[ "$(probe_filters)" = 1 ] || fail "not one lb_probe filter: $(egress_filters)"
egress_filters | grep -q "id $(probe_id) " || fail "the filter does not run the new program"
expect "web 198.18.3.2 down"
stays "web 198.18.3.1 up"

step "6. reload to direct checks: both up, lb_probe gone"
config direct >"$work/lbd.json"
kill -HUP "$lbd_pid"
expect "web 198.18.3.2 up" "web6 198.18.3.2 up"
for _ in $(seq 20); do
	[ "$(probe_filters)" = 0 ] && break
	sleep 0.1
done
[ "$(probe_filters)" = 0 ] || fail "lb_probe still at l0's egress: $(egress_filters)"
grep -q 'tunnel probes: no check needs them; lb_probe removed' "$work/lbd.log" ||
	fail "the removal was not logged"

step "7. tunnel checks again, then lbd --unload: lb_probe removed with the rest"
config tunnel >"$work/lbd.json"
kill -HUP "$lbd_pid"
for _ in $(seq 20); do
	[ "$(probe_filters)" = 1 ] && break
	sleep 0.1
done
[ "$(probe_filters)" = 1 ] || fail "lb_probe not back after the reload: $(egress_filters)"
expect "web 198.18.3.2 down"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || fail "lbd exited non-zero"
lbd_pid=
[ "$(probe_filters)" = 1 ] || fail "lb_probe did not stay when lbd exited"
nsenter --net="/run/netns/$lb" "$lbd" --unload l0 >"$work/unload.log" 2>&1 ||
	fail "lbd --unload: $(cat "$work/unload.log")"
[ "$(probe_filters)" = 0 ] || fail "lb_probe still at l0's egress after --unload: $(egress_filters)"
[ ! -e /sys/fs/bpf/sluice/l0 ] || fail "pins left after --unload"
echo "health_tunnel_test: ok"
