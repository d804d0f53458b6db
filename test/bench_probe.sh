#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What a tunnel health probe costs lbd beside a direct one (docs/
# architecture.md, tunnel probes). Not a test: it asserts nothing. The
# netns_lib.sh topology with one backend namespace that holds N addresses
# (each a backend of one VIP, with lb_decap and the VIP on lo) and a server
# that accepts and closes; lbd checks all N every 100 ms, first directly,
# then through the tunnel, and the CPU time lbd used (user + system, from
# /proc) is printed per probe. Probes whose connect() sends the SYN run
# lb_probe in lbd's own system time; the answers are softirq work that
# lands wherever it lands, so the numbers are rough.
#
# Usage: test/bench_probe.sh BUILD_DIR SOURCE_DIR [N [SECONDS]]   (root)
set -euo pipefail

build=$(cd "${1:?usage: bench_probe.sh BUILD_DIR SOURCE_DIR [N [SECONDS]]}" && pwd)
src=$(cd "${2:?usage: bench_probe.sh BUILD_DIR SOURCE_DIR [N [SECONDS]]}" && pwd)
n=${3:-100}
seconds=${4:-10}
[ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "N: 1..200" >&2; exit 2; }

. "$src/test/netns_lib.sh"
netns_require_root bench_probe
netns_private bench_probe "$0" "$@"
netns_init

tag=bprb$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be=$tag-b1
work=$NETNS_WORK
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
}

netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "$be"
nsx "$lb" ethtool -K l0 tx off >/dev/null
for i in $(seq 2 "$n"); do
	nsx "$be" ip addr add "198.18.3.$((i + 10))/24" dev b0
done
nsx "$be" /usr/bin/python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80))
s.listen(4096)
while True:
    s.accept()[0].close()
" </dev/null >/dev/null 2>&1 &

backends() {
	local i sep=
	for i in $(seq 1 "$n"); do
		[ "$i" = 1 ] && printf '{ "address": "198.18.3.1" }' && continue
		printf ', { "address": "198.18.3.%d" }' $((i + 10))
	done
}

# run VIA: lbd's CPU ticks over the window, after a second to settle.
run() {
	cat >"$work/lbd.json" <<EOF
{ "interface": "l0", "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state-$1", "control_socket": "$work/lbd.sock",
  "vips": [ { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
    "table_size": 65537,
    "health_check": { "type": "tcp", "via": "$1", "interval_ms": 100, "timeout_ms": 90,
                      "rise": 1, "fall": 1 },
    "backends": [ $(backends) ] } ] }
EOF
	nsenter --net="/run/netns/$lb" "$build/user/lbd" --config "$work/lbd.json" \
		>"$work/lbd-$1.log" 2>&1 &
	lbd_pid=$!
	sleep 2
	local a b p q hz down
	hz=$(getconf CLK_TCK)
	p=$(probes)
	a=$(awk '{ print $14 + $15 }' "/proc/$lbd_pid/stat")
	sleep "$seconds"
	b=$(awk '{ print $14 + $15 }' "/proc/$lbd_pid/stat")
	q=$(probes)
	if [ "$1" = tunnel ]; then prog_cost; fi
	down=$(grep -c ' is down ' "$work/lbd-$1.log" || true)
	kill -TERM "$lbd_pid"
	wait "$lbd_pid" || true
	lbd_pid=
	awk -v t=$((b - a)) -v hz="$hz" -v probes=$((q - p)) -v s="$seconds" -v via="$1" \
		-v down="$down" 'BEGIN { ms = t * 1000 / hz;
		printf "%-6s %6d probes in %d s: lbd %4.0f ms CPU, %5.1f us a probe, %4.1f%% of a core; %d went down\n",
		via, probes, s, ms, ms * 1000 / probes, ms / (s * 10), down }'
}

# Probes finished since lbd started.
probes() {
	"$build/user/lbctl" -s "$work/lbd.sock" -j status |
		/usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['health']['probes'])"
}

# lb_probe on its own, as attached (on the maps lbd wrote): a SYN to the
# VIP marked for backend id 1, and the same SYN unmarked. A run changes
# the packet it is given, and BPF_PROG_TEST_RUN's repeat runs the program
# again on the changed one (the second encapsulation fails), so each of
# 300 runs is a call of its own and their durations are averaged.
prog_cost() {
	local id mark total i d
	id=$(sed -n 's/.*lb_probe attached at TC egress (program id \([0-9]*\)).*/\1/p' \
		"$work/lbd-tunnel.log" | tail -1)
	nsx "$lb" /usr/bin/python3 - "$work" <<'PY'
import struct, sys
from scapy.all import Ether, IP, TCP
syn = Ether(dst="02:00:00:00:00:fe", src="02:00:00:00:00:01") / \
    IP(src="198.18.1.2", dst="198.18.100.1") / TCP(sport=40000, dport=80, flags="S")
open(sys.argv[1] + "/syn", "wb").write(bytes(syn))
# struct __sk_buff starts len, pkt_type, mark.
open(sys.argv[1] + "/marked", "wb").write(struct.pack("<III", 0, 0, 0x51ce0001))
open(sys.argv[1] + "/unmarked", "wb").write(struct.pack("<III", 0, 0, 0))
PY
	for mark in marked unmarked; do
		total=0
		for i in $(seq 300); do
			d=$(nsx "$lb" bpftool prog run id "$id" data_in "$work/syn" \
				ctx_in "$work/$mark" data_out "$work/out" |
				sed -n 's/.*[Dd]uration[^0-9]*\([0-9]*\).*/\1/p')
			total=$((total + d))
		done
		echo "lb_probe, $mark SYN: $((total / 300)) ns a run," \
			"$(stat -c %s "$work/out") bytes out of $(stat -c %s "$work/syn")"
	done
}

for _ in 1 2 3; do
	run direct
	run tunnel
done
