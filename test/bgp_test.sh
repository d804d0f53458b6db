#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Scale-out over real BGP, in network namespaces (docs/scale-out.md): a
# router running BIRD 2 with ECMP (L4 hashing) and a BGP session to each of
# three LB nodes; each node runs lbd, which keeps a host route per VIP in
# table 100, and BIRD, which exports that table (IPv4 routes over an IPv4
# session, IPv6 routes over an IPv6 one); node 2 runs FRR instead, IPv4
# only. Four backends behind the router; two clients hold long-lived TCP
# connections through the VIP.
#   1. every node announces: the router's route to the IPv4 VIP has three
#      next hops, to the IPv6 VIP two (nodes 1 and 3), and new connections
#      to either spread over those nodes and the backends;
#   2. lbctl node drain on one node: the router drops that next hop, and
#      none of the held connections breaks;
#   3. lbctl node undrain brings it back, still with none broken;
#   4. a node's lbd and BIRD killed and its link down: the router stops
#      using it at once; 3. then the node added back (link up, lbd and
#      BIRD started): the router uses it again, and of the connections held
#      through both none breaks; a node whose BIRD goes
#      silent with its link up is dropped when the router's hold timer
#      (6 s) runs out;
#   5. two backends' health checks fail and the VIP (need 3) falls below its
#      need: every node withdraws it, and announces it again once one recovers.
# lbd's routes and the drain outlive SIGKILL, a failed route write (the
# link down) is logged and retried, and lbd --unload removes the routes.
#
# Usage: bgp_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
# BGP_TEST_TRACE=1 traces every command.
set -euo pipefail
[ -n "${BGP_TEST_TRACE:-}" ] && set -x

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root bgp_test
frr=/usr/lib/frr
if ! command -v bird >/dev/null || ! [ -x "$frr/bgpd" ]; then
	[ "${CI:-}" = true ] && { echo "bgp_test: needs bird and frr (scripts/setup.sh)" >&2; exit 1; }
	echo "bgp_test: needs bird and frr: skipped"
	exit 77
fi
netns_private bgp_test "$0" "$@"
netns_init

lbd=$build/user/lbd
lbctl=$build/user/lbctl
tag=bgp$$
rt=$tag-rt be1=$tag-b1
clients=(1 2)
backends=(1 2 3 4)
nodes=(1 2 3)
work=$NETNS_WORK
vip=198.18.100.1
vip6=fd00:100::1
# Node 2 runs FRR instead of BIRD, with what docs/scale-out.md gives.
# FRR 8.4's zebra imports IPv4 tables only: node 2 announces no IPv6 VIP.
frr_node=2
pids=()

test_cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}

t0=$(date +%s.%N)
# Seconds since $1 (a date +%s.%N).
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
step() { echo "== $(elapsed "$t0") s: $*"; }
fail() {
	local i
	echo "bgp_test: FAIL: $*" >&2
	for i in "${nodes[@]}"; do
		[ -f "$work/n$i/lbd.log" ] && sed "s/^/  node $i lbd: /" "$work/n$i/lbd.log" | tail -20 >&2
	done
	nsx "$rt" ip route show >&2 || true
	nsx "$rt" ip -6 route show "$vip6/128" >&2 || true
	nsx "$rt" birdc -s "$work/rt/bird.ctl" show protocols >&2 || true
	nsx "$rt" birdc -s "$work/rt/bird.ctl" show route all for "$vip" >&2 || true
	for i in "${nodes[@]}"; do
		nsx "$tag-n$i" ip route show table 100 >&2 || true
		nsx "$tag-n$i" birdc -s "$work/n$i/bird.ctl" show route table sluice >&2 || true
		for f in "$work/n$i"/bird.log "$work/n$i"/frr/*.log; do
			[ -f "$f" ] && sed "s/^/  node $i $(basename "$f" .log): /" "$f" | tail -5 >&2
		done
	done
	exit 1
}

# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds, at most SECONDS
# and SECONDS x 20 tries, a pause of 0.05 s between.
wait_for() {
	local limit=$1 what=$2 i end
	shift 2
	end=$((SECONDS + limit))
	for i in $(seq $((limit * 20))); do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.05
	done
	fail "$what: not within $limit s"
}

# router_hops -4|-6 PREFIX: the router's next hops for PREFIX, sorted, on
# one line.
router_hops() {
	nsx "$rt" ip "$1" route show "$2" | grep -o 'via [0-9a-f.:]*' | awk '{ print $2 }' |
		sort | tr '\n' ' '
}
# web_count NODE FIELD: a counter of web's on the node (packets, nonsyn_miss).
web_count() {
	lbctl_n "$1" -j vip show web |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
hops_are() { [ "$(router_hops -4 "$vip/32")" = "${*:+$* }" ]; }
hops6_are() { [ "$(router_hops -6 "$vip6/128")" = "${*:+$* }" ]; }
lbctl_n() { local i=$1; shift; nsx "$tag-n$i" "$lbctl" -s "$work/n$i/lbd.sock" "$@"; }
# metric NODE SERIES: that series' value in a scrape of the node's lbd.
metric() {
	nsx "$tag-n$1" python3 -c 'import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:9650/metrics", timeout=5).read().decode()
for line in body.splitlines():
    if line.startswith(sys.argv[1] + " "):
        print(line.split()[-1])' "$2"
}

# hold_start NAME N SECONDS [ADDRESS]: N connections from each client to
# ADDRESS (the IPv4 VIP if none), held SECONDS.
hold_start() {
	local c
	for c in "${clients[@]}"; do
		nsx "$tag-c$c" python3 "$src/test/hold_conns.py" "${4:-$vip}" 80 "$2" "$3" \
			>"$work/$1.c$c.json" &
		hold_pids+=($!)
		pids+=($!)
	done
}
# hold_check NAME N MIN_ROUNDS BACKENDS: N connections opened, none broken,
# BACKENDS backends used.
hold_check() {
	local p
	for p in "${hold_pids[@]}"; do wait "$p" || fail "$1: a client failed"; done
	hold_pids=()
	cat "$work/$1".c*.json
	python3 -c 'import json, sys
n, rounds, used = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rs = [json.load(open(f)) for f in sys.argv[4:]]
per = {}
for r in rs:
    assert r["broken"] == 0 and r["rounds"] >= rounds, r
    for b, k in r["backends"].items():
        per[b] = per.get(b, 0) + k
assert sum(per.values()) == n and len(per) == used, per' "$2" "$3" "$4" "$work/$1".c*.json ||
		fail "$1: connections broke or missed a backend"
}
hold_pids=()

# --- the testbed ---------------------------------------------------------------
netns_add "$rt"
for i in "${nodes[@]}"; do netns_add "$tag-n$i"; done
# Client c on 198.18.(c-1).0/24 and fd00:(c-1)::/64. No DAD on any IPv6
# address: they work at once.
for c in "${clients[@]}"; do netns_client "$rt" "$tag-c$c" $((c - 1)); done

# ECMP with the 5-tuple: flows, not hosts, spread over the nodes.
nsx "$rt" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1
# node_link_up NODE: its link up with what taking it down removed (the
# IPv6 address and the default route), as the node's network config would.
node_link_up() {
	local n=$tag-n$1
	nsx "$n" ip -6 addr replace "fd00:1$1::2/64" dev "l$1" nodad
	nsx "$n" ip link set "l$1" up
	nsx "$n" ip route replace default via "198.18.1$1.254"
}
for i in "${nodes[@]}"; do
	n=$tag-n$i
	ip link add "l$i" netns "$n" type veth peer name "r$i" netns "$rt"
	nsx "$rt" ip addr add "198.18.1$i.254/24" dev "r$i"
	nsx "$rt" ip -6 addr add "fd00:1$i::fe/64" dev "r$i" nodad
	nsx "$rt" ip link set "r$i" up
	# A veth drops frames its peer sends with XDP_TX unless it runs XDP too.
	nsx "$rt" ip link set dev "r$i" xdp obj "$build/kern/lb_pass.bpf.o" sec xdp
	nsx "$n" ip addr add "198.18.1$i.2/24" dev "l$i"
	node_link_up "$i"
done
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "${backends[@]/#/$tag-b}"
netns_echo_servers "$src/test/echo_server.py" "${backends[@]/#/$tag-b}"
# The IPv6 VIP: IPv6 in IPv4 to the same backends, which answer from
# fd00:100::1 through the router's fd00:3::fe.
netns_backends6 "$rt" "${backends[@]/#/$tag-b}"
for b in "${backends[@]}"; do
	nsx "$tag-b$b" ip -6 addr add "$vip6/128" dev lo nodad
	ip netns exec "$tag-b$b" "$src/test/echo_server.py" "be$b" "$vip6" 80 </dev/null \
		>/dev/null 2>&1 &
	pids+=($!)
done
# The health check's port: a server of its own, so that it can fail alone.
for b in "${backends[@]}"; do
	# ip netns exec execs the server: $! is the server's own pid.
	ip netns exec "$tag-b$b" "$src/test/echo_server.py" "hc$b" 0.0.0.0 8080 </dev/null \
		>/dev/null 2>&1 &
	pids+=($!)
	echo $! >"$work/hc$b.pid"
done

# --- BIRD on the router: a session per node, ECMP into the kernel ---------------
mkdir -p "$work/rt"
{
	cat <<EOF
router id 198.18.0.254;
protocol device { }
protocol kernel {
	merge paths on limit 16;
	ipv4 { import none; export all; };
}
protocol kernel {
	merge paths on limit 16;
	ipv6 { import none; export all; };
}
template bgp node {
	local as 65000;
	hold time 6;
	keepalive time 2;
	connect retry time 1;
	ipv4 { import all; export none; };
}
template bgp node6 {
	local as 65000;
	hold time 6;
	keepalive time 2;
	connect retry time 1;
	ipv6 { import all; export none; };
}
EOF
	for i in "${nodes[@]}"; do
		echo "protocol bgp node$i from node { neighbor 198.18.1$i.2 as 65001; source address 198.18.1$i.254; }"
		[ "$i" = "$frr_node" ] ||
			echo "protocol bgp node${i}v6 from node6 { neighbor fd00:1$i::2 as 65001; source address fd00:1$i::fe; }"
	done
} >"$work/rt/bird.conf"
nsx "$rt" bird -f -c "$work/rt/bird.conf" -s "$work/rt/bird.ctl" -P "$work/rt/bird.pid" \
	>"$work/rt/bird.log" 2>&1 &
pids+=($!)

# --- each node: lbd announcing into table 100, BIRD exporting it ------------------
start_lbd() {
	local i=$1 n=$tag-n$1
	# A log per run: what this lbd said, not the one before.
	[ -f "$work/n$i/lbd.log" ] && cat "$work/n$i/lbd.log" >>"$work/n$i/lbd.old.log"
	: >"$work/n$i/lbd.log"
	nsenter --net="/run/netns/$n" "$lbd" --config "$work/n$i/lbd.json" >>"$work/n$i/lbd.log" 2>&1 &
	echo $! >"$work/n$i/lbd.pid"
	pids+=($!)
	wait_for 10 "node $i: lbd's control socket" grep -q 'control socket ' "$work/n$i/lbd.log"
}

# kill_lbd N: SIGKILL node N's lbd and reap it, so that its lock on the
# pins is gone before anything starts on them again.
kill_lbd() {
	local pid
	pid=$(cat "$work/n$1/lbd.pid")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
}

start_bird() {
	local i=$1
	nsx "$tag-n$i" bird -f -c "$work/n$i/bird.conf" -s "$work/n$i/bird.ctl" \
		-P "$work/n$i/bird.pid" >>"$work/n$i/bird.log" 2>&1 &
	pids+=($!)
}

# start_frr NODE: FRR's zebra and bgpd with the config in the node's frr/,
# as the user frr (root is not in the group frrvty that FRR's vty wants).
start_frr() {
	local i=$1 d=$work/n$1/frr
	chmod o+x "$work" "$work/n$i"
	chown -R frr:frr "$d"
	nsx "$tag-n$i" "$frr/zebra" -f "$d/zebra.conf" -i "$d/zebra.pid" -z "$d/zserv.api" \
		--vty_socket "$d" -u frr -g frr --log stdout >"$d/zebra.log" 2>&1 &
	pids+=($!)
	wait_for 10 "node $i: zebra's socket" test -S "$d/zserv.api"
	nsx "$tag-n$i" "$frr/bgpd" -f "$d/bgpd.conf" -i "$d/bgpd.pid" -z "$d/zserv.api" \
		--vty_socket "$d" -u frr -g frr --log stdout >"$d/bgpd.log" 2>&1 &
	pids+=($!)
}
for i in "${nodes[@]}"; do
	n=$tag-n$i
	mkdir -p "$work/n$i"
	cat >"$work/n$i/lbd.json" <<EOF
{
  "interface": "l$i",
  "tunnel_source": { "ipv4": "198.18.1$i.2" },
  "state_dir": "$work/n$i/state",
  "control_socket": "$work/n$i/lbd.sock",
  "announce": { "table": 100 },
  "metrics_listen": "127.0.0.1:9650",
  "vips": [
    { "name": "web", "address": "$vip", "port": 80, "protocol": "tcp", "table_size": 251,
      "need": 3,
      "health_check": { "type": "tcp", "port": 8080, "interval_ms": 300, "timeout_ms": 200,
                        "rise": 2, "fall": 2 },
      "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" },
                    { "address": "198.18.3.3" }, { "address": "198.18.3.4" } ] },
    { "name": "web6", "address": "$vip6", "port": 80, "protocol": "tcp", "table_size": 251,
      "health_check": { "type": "tcp", "port": 8080, "interval_ms": 300, "timeout_ms": 200,
                        "rise": 2, "fall": 2 },
      "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" },
                    { "address": "198.18.3.3" }, { "address": "198.18.3.4" } ] }
  ]
}
EOF
	# What docs/scale-out.md gives: learn lbd's routes (protocol 213) from
	# table 100, announce them with this node as the next hop; a kernel
	# protocol and a session per family.
	cat >"$work/n$i/bird.conf" <<EOF
router id 198.18.1$i.2;
ipv4 table sluice;
ipv6 table sluice6;
protocol device { }
protocol kernel sluice_routes {
	kernel table 100;
	learn;
	scan time 10;
	ipv4 { table sluice; import where krt_source = 213; export none; };
}
protocol kernel sluice_routes6 {
	kernel table 100;
	learn;
	scan time 10;
	ipv6 { table sluice6; import where krt_source = 213; export none; };
}
protocol bgp upstream {
	local 198.18.1$i.2 as 65001;
	neighbor 198.18.1$i.254 as 65000;
	hold time 6;
	keepalive time 2;
	connect retry time 1;
	ipv4 { table sluice; import none; export all; next hop self; };
}
protocol bgp upstream6 {
	local fd00:1$i::2 as 65001;
	neighbor fd00:1$i::fe as 65000;
	hold time 6;
	keepalive time 2;
	connect retry time 1;
	ipv6 { table sluice6; import none; export all; next hop self; };
}
EOF
	if [ "$i" = "$frr_node" ]; then
		mkdir -p "$work/n$i/frr"
		echo "ip import-table 100" >"$work/n$i/frr/zebra.conf"
		cat >"$work/n$i/frr/bgpd.conf" <<EOF
ip prefix-list VIPS seq 10 permit 198.18.100.0/24 ge 32
route-map SLUICE permit 10
 match ip address prefix-list VIPS
 set origin igp
!
router bgp 65001
 bgp router-id 198.18.1$i.2
 no bgp ebgp-requires-policy
 neighbor 198.18.1$i.254 remote-as 65000
 neighbor 198.18.1$i.254 timers 2 6
 address-family ipv4 unicast
  redistribute table 100 route-map SLUICE
  neighbor 198.18.1$i.254 next-hop-self
 exit-address-family
EOF
		start_frr "$i"
	else
		start_bird "$i"
	fi
	start_lbd "$i"
done

# --- 1. every node announces; connections spread over nodes and backends --------
step "1. three nodes announce $vip: the router has three next hops"
wait_for 20 "three next hops for $vip" hops_are 198.18.11.2 198.18.12.2 198.18.13.2
for i in "${nodes[@]}"; do
	lbctl_n "$i" -j vip show web | python3 -c 'import json, sys
a = json.load(sys.stdin)["announce"]
assert a["announced"] and a["reason"] == "healthy" and a["healthy"] == 4, a' ||
		fail "node $i: vip show does not say announced (healthy)"
	nsx "$tag-n$i" ip route show table 100 | grep -q "^$vip dev l$i proto 213 scope link" ||
		fail "node $i: no route in table 100"
	nsx "$tag-n$i" ip -6 route show table 100 | grep -q "^$vip6 dev l$i proto 213" ||
		fail "node $i: no IPv6 route in table 100"
done
step "1. the router has two IPv6 next hops for $vip6 (node 2 runs FRR: IPv4 only)"
wait_for 20 "two next hops for $vip6" hops6_are fd00:11::2 fd00:13::2

# spread VIP_NAME ADDRESS N NODE...: N new connections from each client to
# ADDRESS reach all four backends, and each NODE takes some of them.
spread() {
	local i flows
	hold_start "spread.$1" "$3" 1 "$2"
	hold_check "spread.$1" $(($3 * 2)) 1 4
	for i in "${@:4}"; do
		flows=$(lbctl_n "$i" -j vip show "$1" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["new_flows"])')
		echo "   node $i: $flows new flows to $1"
		[ "$flows" -gt 0 ] || fail "node $i carried no connection to $1"
	done
}
step "1. 2 x 40 new connections spread over the nodes and the four backends"
spread web "$vip" 40 "${nodes[@]}"
step "1. 2 x 20 new connections to $vip6 spread over the nodes and the four backends"
spread web6 "$vip6" 20 1 3

# --- 2 and 3. a node drained and added back: no connection broken --------------
step "2. 2 x 100 long-lived connections; node 1 drained while they live"
hold_start held 100 16
sleep 4
lbctl_n 1 node drain >"$work/drain.txt" || fail "lbctl node drain"
grep -q "node DRAINED" "$work/drain.txt" || fail "node drain output: $(cat "$work/drain.txt")"
grep -Eq "^web +$vip:80/tcp " "$work/drain.txt" || fail "node drain's VIP column: $(cat "$work/drain.txt")"
out=$(nsx "$tag-n1" ip route show table 100) || fail "ip route show table 100"
[ -z "$out" ] || fail "node 1 drained, its route stays: $out"
t_drain=$(date +%s.%N)
wait_for 15 "the router drops node 1" hops_are 198.18.12.2 198.18.13.2
echo "   the router stopped using node 1 $(elapsed "$t_drain") s after the drain"
lbctl_n 1 -j status | python3 -c 'import json, sys
n = json.load(sys.stdin)["node"]
assert n["drained"] and n["announce"]["routes"] == 0, n' || fail "status does not show the drain"
lbctl_n 1 -j vip show web | python3 -c 'import json, sys
a = json.load(sys.stdin)["announce"]
assert not a["announced"] and a["reason"] == "node_drained", a' || fail "vip show: node_drained"
[ "$(metric 1 sluice_node_drained)" = 1 ] || fail "metrics: sluice_node_drained"
[ "$(metric 1 'sluice_vip_announced{vip="web",reason="node_drained"}')" = 0 ] ||
	fail "metrics: sluice_vip_announced node_drained"
[ "$(metric 2 'sluice_vip_announced{vip="web",reason="healthy"}')" = 1 ] ||
	fail "metrics: sluice_vip_announced on node 2"
sleep 3
moved=$(($(web_count 2 nonsyn_miss) + $(web_count 3 nonsyn_miss)))
echo "   non-SYN misses on nodes 2 and 3 (flows that ECMP moved there): $moved"
[ "$moved" -gt 0 ] || fail "no flow moved to nodes 2 and 3: the drain proved nothing"

step "3. node 1 added back (undrain) while the connections live"
lbctl_n 1 node undrain >/dev/null || fail "lbctl node undrain"
t_undrain=$(date +%s.%N)
wait_for 15 "node 1 back in the router's route" hops_are 198.18.11.2 198.18.12.2 198.18.13.2
echo "   the router used node 1 again $(elapsed "$t_undrain") s after the undrain"
hold_check held 200 15 4

step "2. a drain outlives SIGKILL and a restart; SIGKILL withdraws nothing"
lbctl_n 1 node drain >/dev/null || fail "lbctl node drain"
wait_for 15 "the router drops node 1" hops_are 198.18.12.2 198.18.13.2
kill_lbd 2
sleep 1
hops_are 198.18.12.2 198.18.13.2 || fail "SIGKILL of node 2's lbd withdrew its route"
kill_lbd 1
start_lbd 1
start_lbd 2
grep -q "adopted" "$work/n2/lbd.log" || fail "node 2 did not adopt its data path"
grep -q "announcing $vip" "$work/n2/lbd.log" && fail "node 2's restarted lbd added its route again instead of adopting it"
lbctl_n 1 -j status | python3 -c 'import json, sys; assert json.load(sys.stdin)["node"]["drained"]' ||
	fail "the drain did not outlive a restart"
# On node 1 itself, where a wrong route would show before any router saw
# it; by now its first announcement pass has run (the status above came
# after it on the loop).
grep -q "announcing $vip" "$work/n1/lbd.log" && fail "node 1's restarted lbd announced while drained"
out=$(nsx "$tag-n1" ip route show table 100) || fail "ip route show table 100"
[ -z "$out" ] || fail "node 1 restarted drained, yet its route is there: $out"
hops_are 198.18.12.2 198.18.13.2 || fail "node 1 announced after its restart"
lbctl_n 1 node undrain >/dev/null || fail "lbctl node undrain"
wait_for 15 "node 1 back in the router's route" hops_are 198.18.11.2 198.18.12.2 198.18.13.2

# --- 5. below need: every node withdraws, and announces on recovery -------------
step "5. backends 1 and 2 fail their checks: web (need 3) withdrawn on every node"
kill "$(cat "$work/hc1.pid")" "$(cat "$work/hc2.pid")"
t_down=$(date +%s.%N)
wait_for 20 "the router drops $vip" hops_are ""
echo "   withdrawn from the router $(elapsed "$t_down") s after the check began to fail"
for i in "${nodes[@]}"; do
	lbctl_n "$i" -j vip show web | python3 -c 'import json, sys
a = json.load(sys.stdin)["announce"]
assert not a["announced"] and a["reason"] == "below_need" and a["healthy"] == 2, a' ||
		fail "node $i: vip show does not say below_need"
done
lbctl_n 1 vip list | grep -q "no (below_need 2/3)" || fail "vip list: below_need"
[ "$(metric 1 'sluice_vip_announced{vip="web",reason="below_need"}')" = 0 ] ||
	fail "metrics: sluice_vip_announced below_need"
[ "$(metric 1 'sluice_vip_healthy_backends{vip="web"}')" = 2 ] || fail "metrics: healthy backends"

step "5. backend 1 recovers: 3 of 4 meet the need, announced again on every node"
ip netns exec "$be1" "$src/test/echo_server.py" hc1 0.0.0.0 8080 </dev/null >/dev/null 2>&1 &
pids+=($!)
t_up=$(date +%s.%N)
wait_for 20 "three next hops again" hops_are 198.18.11.2 198.18.12.2 198.18.13.2
echo "   announced again $(elapsed "$t_up") s after the check passed again"

# --- 4. a node dies: the others carry on ------------------------------------------
step "4. node 3's lbd and BIRD killed and its link taken down, under 2 x 100 connections"
hold_start held4 100 20
sleep 4
kill -9 "$(cat "$work/n3/lbd.pid")" "$(cat "$work/n3/bird.pid")"
nsx "$tag-n3" ip link set l3 down
t_dead=$(date +%s.%N)
wait_for 15 "the router drops node 3" hops_are 198.18.11.2 198.18.12.2
echo "   the router stopped using node 3 $(elapsed "$t_dead") s after its link went down"
sleep 2

# --- 3. the dead node added back while the connections live ----------------------
step "3. node 3 added back (link up, lbd and BIRD started) under the same connections"
# The network first: lbd's checks would find every backend unreachable.
node_link_up 3
start_lbd 3
grep -q "adopted" "$work/n3/lbd.log" || fail "node 3 did not adopt its data path"
# Counters so far: what comes after the router takes node 3 back is the
# held flows it moves there.
packets=$(web_count 3 packets)
misses=$(web_count 3 nonsyn_miss)
start_bird 3
t_back=$(date +%s.%N)
wait_for 15 "node 3 back in the router's route" hops_are 198.18.11.2 198.18.12.2 198.18.13.2
echo "   the router used node 3 again $(elapsed "$t_back") s after its BIRD started"
sleep 3
for p in "${hold_pids[@]}"; do
	kill -0 "$p" 2>/dev/null || fail "the connections ended before node 3 had carried them"
done
packets=$(($(web_count 3 packets) - packets))
misses=$(($(web_count 3 nonsyn_miss) - misses))
# Linux's hash-threshold ECMP gives node 3 back the hash range it had, so
# the flows that return mostly find the entries node 3 kept for them.
echo "   node 3 since it came back: $packets packets, $misses non-SYN misses"
[ "$packets" -gt 0 ] || fail "node 3 carried none of the held connections: adding it back proved nothing"
# Backend 2 is still down by health: out of every node's table.
hold_check held4 200 20 3

# A killed BIRD closes its session at once (the kernel sends the FIN); a
# host that hangs or loses power sends nothing, which SIGSTOP imitates.
step "4. node 1's BIRD stopped (SIGSTOP), its link up: the router's hold timer (6 s) decides"
kill -STOP "$(cat "$work/n1/bird.pid")"
t_dead=$(date +%s.%N)
wait_for 15 "the router drops node 1" hops_are 198.18.12.2 198.18.13.2
echo "   the router stopped using node 1 $(elapsed "$t_dead") s after its BIRD went silent"
kill -9 "$(cat "$work/n1/bird.pid")"

# --- lbd --unload takes its routes with it -------------------------------------
step "lbd --unload on node 1 removes its route"
kill_lbd 1
nsx "$tag-n1" ip route show table 100 | grep -q "^$vip dev l1" ||
	fail "node 1's route went with its lbd"
nsenter --net="/run/netns/$tag-n1" "$lbd" --unload l1 >>"$work/n1/lbd.log" 2>&1 ||
	fail "lbd --unload"
out=$(nsx "$tag-n1" ip route show table all proto 213) || fail "ip route show"
[ -z "$out" ] || fail "--unload left a route: $out"
out=$(nsx "$tag-n1" ip -6 route show table all proto 213) || fail "ip -6 route show"
[ -z "$out" ] || fail "--unload left an IPv6 route: $out"

# --- a route write that fails is logged and retried ------------------------------
step "node 2's link down: the kernel drops the route, lbd's writes fail and are retried"
nsx "$tag-n2" ip link set l2 down
wait_for 5 "node 2: degraded" sh -c "ip netns exec $tag-n2 $lbctl -s $work/n2/lbd.sock status |
	grep -q 'announce: writing the VIP routes fails'"
grep -q "announce: cannot write the VIP routes in table 100" "$work/n2/lbd.log" ||
	fail "node 2: the failed write is not logged"
nsx "$tag-n2" ip link set l2 up
wait_for 10 "node 2: the route back in table 100" sh -c \
	"ip netns exec $tag-n2 ip route show table 100 | grep -q '^$vip dev l2'"
grep -q "announce: the VIP routes in table 100 are written again" "$work/n2/lbd.log" ||
	fail "node 2: the recovery is not logged"
kill -0 "$(cat "$work/n2/lbd.pid")" || fail "node 2's lbd died"

step "done"
echo "bgp_test: ok"
