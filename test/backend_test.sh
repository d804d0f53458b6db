#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# sluice-backend, the backend hosts' tool: `up` from a config file makes
# two plain hosts serve a VIP through a running lbd (real connections reach
# both), `status` shows the decap counters moving, `down` takes away
# exactly what `up` added (the connections stop, sysctls come back), and
# bad input is refused with the line and the exit code the man page gives,
# changing nothing; a foreign XDP program is not replaced.
#
# Usage: backend_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root backend_test
netns_private backend_test "$0" "$@"
netns_init

tool=(bash "$build/scripts/backend/sluice-backend")
export SLUICE_DECAP=$build/kern/lb_decap.bpf.o
tag=bet$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
	true
}
step() { echo "== $*"; }
fail() { netns_fail backend_test "$work/lbd.log" "$@"; }
on() { # NS ARGS...: the tool in a backend namespace, with its own state dir
	local ns=$1
	shift
	nsx "$ns" env SLUICE_BACKEND_STATE="$work/state-$ns" "${tool[@]}" "$@"
}
rc_of() { # WANT NS ARGS...: the tool must exit WANT
	local want=$1 rc=0
	shift
	on "$@" >"$work/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "sluice-backend ${*:2} exited $rc, want $want: $(cat "$work/out")"
}

netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backend_hosts "$rt" "$be1" "$be2"
cat >"$work/lbd.json" <<JSON
{ "interface": "l0", "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state", "control_socket": "$work/lbd.sock", "control_group": "nogroup",
  "vips": [ { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
              "table_size": 251,
              "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" } ] } ] }
JSON
nsenter --net="/run/netns/$lb" "$build/user/lbd" --config "$work/lbd.json" >"$work/lbd.log" 2>&1 &
lbd_pid=$!
for _ in $(seq 100); do grep -q 'control socket ' "$work/lbd.log" && break; sleep 0.05; done
cat >"$work/backend.conf" <<'CONF'
# the test's backends
interfaces = b0
vips = 198.18.100.1 fd00:100::1   # both families
xdp_mode = native
CONF

# Whole outputs, not pipes into grep -q: with pipefail, a grep that stops
# early would fail the pipeline it is in.
lo_has() { [[ $(nsx "$1" ip addr show dev lo) == *" $2/"* ]]; }
has_xdp() { [[ $(nsx "$1" ip -d link show b0) == *prog/xdp* ]]; }

# N connections through the VIP; the backends that answered, one a line.
conns() { netns_vip_conns "$cl" "$1" 2; }

step "bad input: refused with where and why, nothing changed"
printf 'interfaces = b0\nvips 198.18.100.1\n' >"$work/bad1.conf"
rc_of 78 "$be1" --config "$work/bad1.conf" up
grep -q "bad1.conf:2: expected KEY = VALUE" "$work/out" || fail "said: $(cat "$work/out")"
printf 'interfaces = b0\ncolour = blue\n' >"$work/bad2.conf"
rc_of 78 "$be1" --config "$work/bad2.conf" up
grep -q 'bad2.conf:2: unknown key "colour"' "$work/out" || fail "said: $(cat "$work/out")"
rc_of 65 "$be1" --interface b0 --vip 198.18.100.300 up
grep -q 'VIP "198.18.100.300": not an IP address' "$work/out" || fail "said: $(cat "$work/out")"
rc_of 65 "$be1" --interface nope0 --vip 198.18.100.1 up
rc_of 64 "$be1" sideways
has_xdp "$be1" && fail "a refused up attached a program"
lo_has "$be1" 198.18.100.1 && fail "a refused up added a VIP"

step "up from the config file: both hosts serve the VIP through lbd"
for ns in $be1 $be2; do
	nsx "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0
	on "$ns" --config "$work/backend.conf" up >"$work/out" || fail "up: $(cat "$work/out")"
done
netns_echo_servers "$src/test/echo_server.py" "$be1" "$be2"
conns 30 >"$work/got" || fail "connections failed after up"
grep -q be1 "$work/got" && grep -q be2 "$work/got" || fail "not both: $(sort "$work/got" | uniq -c)"
[ "$(nsx "$be1" sysctl -n net.ipv4.conf.all.arp_ignore)" = 1 ] || fail "arp_ignore not set"
on "$be1" --config "$work/backend.conf" status >"$work/out" || fail "status: $(cat "$work/out")"
grep -Eq '^b0: lb_decap; ipip [1-9]' "$work/out" || fail "status: $(cat "$work/out")"
grep -q '^lo: fd00:100::1$' "$work/out" || fail "status: $(cat "$work/out")"
on "$be1" --config "$work/backend.conf" up >/dev/null || fail "a second up is not a no-op"

step "down takes away what up added, and only that"
nsx "$be1" ip addr add 198.18.100.9/32 dev lo	# the operator's own
on "$be1" down >"$work/out" || fail "down: $(cat "$work/out")"
has_xdp "$be1" && fail "lb_decap still on b0"
lo_has "$be1" 198.18.100.1 && fail "the VIP is still on lo"
lo_has "$be1" 198.18.100.9 || fail "down removed an address it did not add"
[ "$(nsx "$be1" sysctl -n net.ipv4.conf.all.arp_ignore)" = 0 ] || fail "arp_ignore not restored"
rc_of 3 "$be1" --config "$work/backend.conf" status
[[ $(on "$be1" down) == *"nothing to undo"* ]] || fail "a second down"

step "generic mode comes off at down too; a VIP written another way is the same VIP"
on "$be1" --mode generic --interface b0 --vip FD00:100:0::1 --vip 198.18.100.1 up \
	>"$work/out" || fail "up, generic: $(cat "$work/out")"
on "$be1" --mode generic --interface b0 --vip fd00:100::1 --vip 198.18.100.1 up \
	>"$work/out" || fail "a second up, the VIP written canonically: $(cat "$work/out")"
on "$be1" down >"$work/out" || fail "down, generic: $(cat "$work/out")"
has_xdp "$be1" && fail "a generic-mode lb_decap stayed on b0 after down"
lo_has "$be1" fd00:100::1 && fail "the IPv6 VIP is still on lo"

step "lb_decap taken off by hand: down undoes the rest and succeeds"
on "$be1" --config "$work/backend.conf" up >/dev/null || fail "up again"
nsx "$be1" ip link set dev b0 xdp off
on "$be1" down >"$work/out" || fail "down after a manual detach: $(cat "$work/out")"
lo_has "$be1" 198.18.100.1 && fail "the VIP is still on lo"

step "an up that fails part-way takes back what it did"
# A veth refuses native XDP while its peer's MTU is above a page.
nsx "$rt" ip link set dev rb1 mtu 9000
rc_of 1 "$be1" --config "$work/backend.conf" up
nsx "$rt" ip link set dev rb1 mtu 1500
grep -q "cannot attach lb_decap to b0; what this up had done is undone" "$work/out" ||
	fail "said: $(cat "$work/out")"
[ "$(nsx "$be1" sysctl -n net.ipv4.conf.all.arp_ignore)" = 0 ] || fail "arp_ignore left set"
[[ $(on "$be1" down) == *"nothing to undo"* ]] || fail "the failed up left notes"

step "native mode is native: a device without it is refused, not run in generic mode"
rc_of 1 "$be1" --mode native --interface lo --vip 198.18.100.1 up
grep -q "cannot attach lb_decap to lo" "$work/out" || fail "said: $(cat "$work/out")"
link=$(nsx "$be1" ip link show dev lo) || fail "ip link show lo"
[[ $link != *xdp* ]] || fail "lb_decap is on lo: $link"
lo_has "$be1" 198.18.100.1 && fail "a refused up added a VIP"

step "a foreign XDP program is not replaced"
nsx "$be1" ip link set dev b0 xdp obj "$build/kern/lb_pass.bpf.o" sec xdp
rc_of 1 "$be1" --config "$work/backend.conf" up
grep -q 'b0 runs another XDP program (lb_pass)' "$work/out" || fail "said: $(cat "$work/out")"
lo_has "$be1" 198.18.100.1 && fail "a refused up added a VIP"
link=$(nsx "$be1" ip -d link show dev b0) || fail "ip link show b0"
[[ $link == *lb_pass* ]] || fail "the foreign program was replaced: $link"
echo "backend_test: all passed"
