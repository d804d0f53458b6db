#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end through real namespaces: client -> router -> sluice node (lb_xdp,
# native XDP on a veth) -> router -> two backends (lb_decap, VIP on lo), with
# the backends answering the client directly. Checks what a user would see:
# ping answered by the node, TCP connections spread over both backends, an
# upload too big for the tunnel MTU completing through path MTU discovery,
# and the node's own address still reachable (passed traffic).
#
# Usage: e2e_datapath.sh BUILD_DIR   (root)
set -euo pipefail

build=${1:?usage: e2e_datapath.sh BUILD_DIR}
loader=$build/test/lb_testload
decap=$build/kern/lb_decap.bpf.o
pass=$build/kern/lb_pass.bpf.o

. "$(dirname "$0")/netns_lib.sh"
netns_require_root e2e_datapath
netns_init

tag=lbe2e$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
loader_pid=

test_cleanup() {
	[ -n "$loader_pid" ] && kill "$loader_pid" 2>/dev/null
}

fail() {
	echo "e2e_datapath: FAIL: $*" >&2
	exit 1
}

netns_topology "$cl" "$rt" "$lb" "$pass"
netns_add "$be1" "$be2"
# The node's MAC is the one lb_testload writes into lb_cfg.
nsx "$lb" ip link set l0 address 02:00:00:00:00:01

# Backends on a bridge behind the router.
ip link add b0 netns "$be1" type veth peer name rb1 netns "$rt"
ip link add b0 netns "$be2" type veth peer name rb2 netns "$rt"
nsx "$rt" ip link add br0 type bridge
nsx "$rt" ip addr add 198.18.3.254/24 dev br0
for l in br0 rb1 rb2; do nsx "$rt" ip link set "$l" up; done
nsx "$rt" ip link set rb1 master br0
nsx "$rt" ip link set rb2 master br0

# Each backend answers with its name and the byte count it received.
cat >"$work/serve" <<'SH'
#!/bin/sh
n=$(wc -c)
echo "$1 $n"
SH
chmod +x "$work/serve"

i=1
for ns in $be1 $be2; do
	nsx "$ns" ip addr add "198.18.3.$i/24" dev b0
	nsx "$ns" ip addr add 198.18.100.1/32 dev lo
	nsx "$ns" ip link set b0 up
	nsx "$ns" ip route add default via 198.18.3.254
	nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.b0.rp_filter=0
	nsx "$ns" ip link set dev b0 xdp obj "$decap" sec xdp
	nsx "$ns" socat TCP-LISTEN:80,bind=198.18.100.1,reuseaddr,fork \
		EXEC:"$work/serve be$i" </dev/null >/dev/null 2>&1 &
	i=$((i + 1))
done

ip netns exec "$lb" "$loader" l0 1500 >"$work/stats.json" 2>"$work/loader.err" &
loader_pid=$!
for _ in $(seq 50); do
	grep -q attached "$work/loader.err" && break
	kill -0 "$loader_pid" 2>/dev/null || fail "loader died: $(cat "$work/loader.err")"
	sleep 0.1
done
grep -q attached "$work/loader.err" || fail "loader did not attach"
# Wait for the socat listeners.
for ns in $be1 $be2; do
	for _ in $(seq 50); do
		nsx "$ns" ss -ltn | grep -q '198.18.100.1:80' && break
		sleep 0.1
	done
done

echo "1. ping to the VIP is answered by the node"
nsx "$cl" ping -c 2 -W 2 -q 198.18.100.1 >/dev/null || fail "no echo reply from the VIP"

echo "2. passed traffic: the node's own address answers"
nsx "$cl" ping -c 1 -W 2 -q 198.18.1.2 >/dev/null || fail "node address unreachable"

echo "3. 40 TCP connections reach both backends"
: >"$work/answers"
for n in $(seq 40); do
	nsx "$cl" socat -T 5 - TCP:198.18.100.1:80,connect-timeout=5 </dev/null >>"$work/answers" ||
		fail "connection $n failed"
done
grep -c '^be1 0$' "$work/answers" >/dev/null || fail "be1 never answered: $(sort "$work/answers" | uniq -c)"
grep -c '^be2 0$' "$work/answers" >/dev/null || fail "be2 never answered: $(sort "$work/answers" | uniq -c)"
[ "$(grep -c '^be[12] 0$' "$work/answers")" -eq 40 ] || fail "answers: $(cat "$work/answers")"

echo "4. a 200 kB upload completes through path MTU discovery"
head -c 200000 /dev/urandom >"$work/upload"
answer=$(nsx "$cl" socat -T 10 - TCP:198.18.100.1:80,connect-timeout=5 <"$work/upload") ||
	fail "upload connection failed"
case "$answer" in
be[12]\ 200000) ;;
*) fail "upload answer: '$answer'" ;;
esac
nsx "$cl" ip route get 198.18.100.1 | grep -q 'mtu 1480' ||
	fail "client learned no path MTU: $(nsx "$cl" ip route get 198.18.100.1)"

kill -TERM "$loader_pid"
wait "$loader_pid" || fail "loader exited with status $?: $(cat "$work/loader.err")"
loader_pid=
stats=$(cat "$work/stats.json")
echo "node counters: $stats"
/usr/bin/python3 - "$stats" <<'PY' || fail "counters"
import json, sys
s = json.loads(sys.argv[1])
assert s["event"]["icmp_echo"] >= 2, "echo replies not counted"
assert s["event"]["too_big_sent"] >= 1, "no frag-needed sent"
assert s["backend_packets"]["1"] > 0 and s["backend_packets"]["2"] > 0, "a backend got nothing"
assert sum(v for k, v in s["drop"].items()) == 0, "drops: %r" % s["drop"]
PY
echo "e2e_datapath: all passed"
