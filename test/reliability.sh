#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The reliability suite: real TCP and UDP through sluice while backends,
# lbd and the program change around them, every broken connection counted.
# Builds the testbed of docs/testing.md in network namespaces (two clients,
# a router, the node running lbd, four backends running lb_decap), runs the
# scenarios of docs/reliability.md and prints one table: scenario, figure,
# PASS or FAIL. Exit 0 when every scenario passed.
#
# The pass figures are counts (broken connections, shares of connections,
# datagrams lost, packets dropped), never timings: the machine may be slow.
# Every wait is bounded.
#
# Usage: reliability.sh BUILD_DIR SOURCE_DIR [--long]   (root; CI=true makes a skip a failure)
# --long: more connections and longer runs (docs/reliability.md has its table).
# LBD_BIN=PATH runs another lbd binary (to see a scenario catch a known bug);
# REL_TRACE=1 traces every command.
set -euo pipefail
[ -z "${REL_TRACE:-}" ] || set -x

build=$(cd "${1:?usage: reliability.sh BUILD_DIR SOURCE_DIR [--long]}" && pwd)
src=$(cd "${2:?usage: reliability.sh BUILD_DIR SOURCE_DIR [--long]}" && pwd)
long=false
[ "${3:-}" = --long ] && long=true

. "$src/test/netns_lib.sh"
netns_require_root reliability
netns_private reliability "$0" "$@"
netns_init

lbd=${LBD_BIN:-$build/user/lbd}
lbd_next=$build/user/lbd-next
lbctl=$build/user/lbctl
hold=$build/test/hold
tag=rel$$
cl=$tag-c1 cl2=$tag-c2 rt=$tag-rt lb=$tag-lb
bes=("$tag-b1" "$tag-b2" "$tag-b3" "$tag-b4")
work=$NETNS_WORK
sock=$work/lbd.sock
pins=/sys/fs/bpf/sluice/l0
lbd_pid=
echod_pids=()
finished=false

# Short (CI) and long sizes. The pass figures are the same in both. The
# balance runs 4,000 connections, not the 2,000 the figure was set for: with
# 2,000, a 40% share misses by 3 points about once in 150 runs by chance.
if $long; then
	balance_n=20000 held_n=400 new_n=2000 run_s=60 pressure_n=3000
else
	balance_n=4000 held_n=200 new_n=500 run_s=10 pressure_n=1500
fi

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
	# A run cut short by fail: the rows it has.
	if ! $finished && [ -f "$work/results" ]; then print_table >&2; fi
	return 0
}

step() { echo "== $(date +%T) $*"; }
# A failure of the testbed itself, not a scenario's figure: stop here.
fail() {
	echo "reliability: FAIL: $*" >&2
	[ -f "$work/lbd.log" ] && tail -n 30 "$work/lbd.log" | sed 's/^/  lbd log: /' >&2
	exit 1
}

# --- results -------------------------------------------------------------------
# record NAME FIGURE OK: one row of the table; OK is a shell condition's status.
record() {
	local verdict=PASS
	[ "$3" -eq 0 ] || verdict=FAIL
	printf '%s\t%s\t%s\n' "$1" "$2" "$verdict" >>"$work/results"
	echo "   $verdict: $1: $2"
}
ok() { "$@" && echo 0 || echo 1; }

print_table() {
	echo
	echo "| scenario | figure | result |"
	echo "|---|---|---|"
	sort -n "$work/results" | awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
}

# --- the testbed ----------------------------------------------------------------
step "testbed: 2 clients, router, node, 4 backends; IPv4 and IPv6"
netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_topology6 "$cl" "$rt" "$lb"
netns_client "$rt" "$cl2" 2
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "${bes[@]}"
netns_backends6 "$rt" "${bes[@]}"
# Room for the outer header behind the node, as a jumbo-framed core would
# have: a client's full-size packet is forwarded, not answered with
# frag-needed (e2e_datapath.sh covers that path).
nsx "$lb" ip link set l0 mtu 1600
nsx "$rt" ip link set r1 mtu 1600
for i in 1 2 3 4; do
	nsx "$rt" ip link set "rb$i" mtu 1600
	nsx "${bes[i - 1]}" ip link set b0 mtu 1600
done
nsx "$rt" ip link set br0 mtu 1600

# Each backend: the VIPs on lo, an echo server (7000), an HTTP server (80)
# whose /id is its name, and iperf3 servers for the TCP (5201) and UDP (5202) VIPs.
start_echod() { # INDEX (0-3)
	# ip netns exec, not nsx: $! must be the server itself, to stop it.
	ip netns exec "${bes[$1]}" "$build/test/echod" "be$(($1 + 1))" 7000 </dev/null >/dev/null 2>&1 &
	echod_pids[$1]=$!
}
for i in 0 1 2 3; do
	ns=${bes[i]}
	for a in 198.18.100.2 198.18.100.3 198.18.100.4; do
		nsx "$ns" ip addr add "$a/32" dev lo
	done
	nsx "$ns" ip -6 addr add fd00:100::1/128 dev lo nodad
	start_echod "$i"
	mkdir -p "$work/www$i"
	echo "be$((i + 1))" >"$work/www$i/id"
	nsx "$ns" /usr/bin/python3 -m http.server 80 --bind :: --directory "$work/www$i" \
		</dev/null >/dev/null 2>&1 &
	nsx "$ns" iperf3 -s -p 5201 </dev/null >/dev/null 2>&1 &
	# Bound to the VIP: a UDP server on any address answers from its own.
	nsx "$ns" iperf3 -s -p 5202 -B 198.18.100.4 </dev/null >/dev/null 2>&1 &
done
for ns in "${bes[@]}"; do
	for _ in $(seq 100); do
		listening=$(nsx "$ns" ss -Hltn | awk '{ print $4 }' | grep -cE ':(80|7000|5201|5202)$' || true)
		[ "$listening" -ge 4 ] && break
		sleep 0.1
	done
	[ "$listening" -ge 4 ] || fail "$ns: the servers did not start"
done

# mkconf FILE [web_weights=W1,W2,W3,W4] [echo_backends=1,2,...] [flow_table_size=N]
mkconf() {
	/usr/bin/python3 - "$work" "$@" <<'PY'
import json, sys
work, out = sys.argv[1], sys.argv[2]
opt = dict(a.split("=", 1) for a in sys.argv[3:])
weights = [int(w) for w in opt.get("web_weights", "100,100,100,100").split(",")]
echo_ids = [int(i) for i in opt.get("echo_backends", "1,2,3,4").split(",")]
v4 = lambda i: "198.18.3.%d" % i
v6 = lambda i: "fd00:3::%d" % i
def backends(addr, ids, w=None):
    return [{"address": addr(i), "weight": (w or [100] * 4)[i - 1]} for i in ids]
def vip(name, address, port, proto, bes, **kw):
    return dict(name=name, address=address, port=port, protocol=proto, table_size=65537,
                backends=bes, **kw)
http = {"type": "http", "path": "/id", "interval_ms": 1000, "timeout_ms": 500}
# Fast checks on echo4, the VIP whose backend fails: down after 2 x 500 + 300 ms.
fast = {"type": "tcp", "interval_ms": 500, "timeout_ms": 300, "rise": 2, "fall": 2}
slow = {"type": "tcp", "interval_ms": 1000, "timeout_ms": 500}
conf = {
    "interface": "l0",
    "tunnel_source": {"ipv4": "198.18.1.2", "ipv6": "fd00:1::2"},
    "state_dir": work + "/state",
    "control_socket": work + "/lbd.sock",
    "vips": [
        vip("web4", "198.18.100.1", 80, "tcp", backends(v4, range(1, 5), weights), health_check=http),
        vip("web6", "fd00:100::1", 80, "tcp", backends(v6, range(1, 5)), health_check=http),
        vip("echo4", "198.18.100.1", 7000, "tcp", backends(v4, echo_ids), health_check=fast),
        vip("echo6", "fd00:100::1", 7000, "tcp", backends(v6, range(1, 5)), health_check=slow),
        # IPv4 clients, IPv6 backends: IPv4 in IPv6.
        vip("cross", "198.18.100.2", 7000, "tcp", backends(v6, range(1, 5)), health_check=slow),
        # iperf3's control connection and its data must meet one server:
        # l3 for TCP; the protocol is part of the flow hash, so its UDP
        # test's two VIPs have one backend.
        vip("iperf_tcp", "198.18.100.3", 5201, "tcp", backends(v4, range(1, 5)), hash="l3"),
        vip("iperf_ctl", "198.18.100.4", 5202, "tcp", backends(v4, [1])),
        vip("iperf_udp", "198.18.100.4", 5202, "udp", backends(v4, [1])),
    ],
}
if "flow_table_size" in opt:
    conf["flow_table_size"] = int(opt["flow_table_size"])
with open(out, "w") as f:
    json.dump(conf, f, indent=1)
    f.write("\n")
PY
}
# VIPs with health checks, times backends: what "all healthy" counts.
checked_backends=20

# --- lbd ---------------------------------------------------------------------------
log_mark() { wc -l <"$work/lbd.log"; }
log_since() { tail -n +$(($1 + 1)) "$work/lbd.log"; }
wait_log() { # MARK PATTERN
	for _ in $(seq 150); do
		log_since "$1" | grep -qE "$2" && return 0
		sleep 0.1
	done
	return 1
}
start_lbd() { # [BINARY]
	local bin=${1:-$lbd} mark
	touch "$work/lbd.log"
	mark=$(log_mark)
	nsenter --net="/run/netns/$lb" "$bin" --config "$work/lbd.json" >>"$work/lbd.log" 2>&1 &
	lbd_pid=$!
	wait_log "$mark" 'control socket ' || fail "lbd did not start"
	kill -0 "$lbd_pid" 2>/dev/null || fail "lbd died at start"
}
stop_lbd() { # [SIGNAL]
	kill -"${1:-TERM}" "$lbd_pid"
	wait "$lbd_pid" 2>/dev/null || true
	lbd_pid=
}
ctl() { "$lbctl" -s "$sock" "$@"; }
prog_id() {
	nsx "$lb" ip -j link show l0 | /usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)[0].get("xdp", {}).get("prog", {}).get("id", 0))'
}
# Backends of checked VIPs whose health is up.
healthy() {
	ctl -j backend list | /usr/bin/python3 -c '
import json, sys
print(sum(b["health"]["state"] == "up" for b in json.load(sys.stdin)))'
}
wait_healthy() {
	for _ in $(seq 120); do
		[ "$(healthy)" -eq "$checked_backends" ] && return 0
		sleep 0.5
	done
	fail "health: $(healthy) of $checked_backends backends up"
}

# --- traffic -------------------------------------------------------------------------
# hold_start NAME NS ADDRESS PORT N [INTERVAL_MS]: N connections held open,
# a message on each every INTERVAL_MS (default 10), until hold_stop NAME.
hold_start() {
	local name=$1 ns=$2 addr=$3 port=$4 n=$5 interval=${6:-10}
	rm -f "$work/$name".*
	nsx "$ns" "$hold" -n "$n" -i "$interval" -t $((run_s * 4 + 600)) -r "$work/$name.ready" \
		-s "$work/$name.stop" -o "$work/$name.report" "$addr" "$port" >"$work/$name.out" 2>&1 &
	echo $! >"$work/$name.pid"
	for _ in $(seq 600); do
		[ -f "$work/$name.ready" ] && return 0
		kill -0 "$(cat "$work/$name.pid")" 2>/dev/null || fail "hold $name: $(cat "$work/$name.out")"
		sleep 0.1
	done
	fail "hold $name: connections not open after 60 s"
}
hold_stop() { # NAME...
	local name
	for name in "$@"; do touch "$work/$name.stop"; done
	for name in "$@"; do
		wait "$(cat "$work/$name.pid")" || true
		[ -f "$work/$name.report" ] || fail "hold $name left no report: $(cat "$work/$name.out")"
	done
}
# broken NAME [BACKEND]: connections of NAME that did not end "ok", those
# on BACKEND left out.
broken() {
	awk -v skip="${2:-}" '$3 != "ok" && $2 != skip' "$work/$1.report" | wc -l
}
on_backend() { grep -c "^$2\$" "$work/$1.ready" || true; } # NAME BACKEND
# newconns NS ADDRESS PORT N: N new connections, one after another; each
# answering backend's name, or why it failed.
newconns() { nsx "$1" "$hold" -c -n "$4" -T 5000 "$2" "$3" || true; }
count() { grep -c "^$1\$" || true; } # LINE: lines of stdin equal to it
# shares N: of N lines of names on stdin, each backend's percentage and the total
shares() {
	sort | uniq -c | awk -v n="$1" '{ s[$2] = $1; t += $1 }
		END { for (i = 1; i <= 4; i++) printf "%.1f ", 100 * s["be" i] / n; print t }'
}
# Within TOLERANCE points of each WANT percentage, and TOTAL answers.
shares_ok() { # "P1 P2 P3 P4 TOTAL" "W1 W2 W3 W4" TOLERANCE TOTAL
	/usr/bin/python3 -c '
import sys
got, want = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
sys.exit(not (got[4] == int(sys.argv[4]) and all(abs(g - w) <= float(sys.argv[3]) for g, w in zip(got, want))))' \
		"$1" "$2" "$3" "$4"
}
# iperf3 CLIENT_NS ARGS...: the JSON report of a run (the error, if any, in it).
iperf() {
	local ns=$1
	shift
	nsx "$ns" iperf3 -J --connect-timeout 5000 "$@" 2>&1 || true
}
json_get() { # EXPRESSION on the JSON object d read from stdin; "error" if it fails
	/usr/bin/python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception:
    print("error")' "$1"
}

# --- start ---------------------------------------------------------------------------
mkconf "$work/lbd.json"
cp "$work/lbd.json" "$work/good.json"
start_lbd
wait_log 0 'next hop 198.18.1.254 is ' || fail "no next hop"
wait_healthy

# --- 1. balance ------------------------------------------------------------------------
step "1. balance: $balance_n new connections (curl, HTTP) over 4 equal backends, then weights 1:2:3:4"
curl_ids() { # NS URL N: each answer's backend, one a line
	nsx "$1" curl -s -0 --max-time 5 "$2?[1-$3]" || true
}
eq4=$(curl_ids "$cl" "http://198.18.100.1/id" "$balance_n" | shares "$balance_n")
eq6=$(curl_ids "$cl" "http://[fd00:100::1]/id" "$balance_n" | shares "$balance_n")
mkconf "$work/weighted.json" web_weights=100,200,300,400
ctl config apply "$work/weighted.json" >/dev/null || fail "config apply of the weights"
weighted=$(curl_ids "$cl" "http://198.18.100.1/id" "$balance_n" | shares "$balance_n")
ctl config apply "$work/good.json" >/dev/null || fail "config apply of equal weights"
pass=0
shares_ok "$eq4" "25 25 25 25" 3 "$balance_n" && shares_ok "$eq6" "25 25 25 25" 3 "$balance_n" &&
	shares_ok "$weighted" "10 20 30 40" 3 "$balance_n" || pass=1
record "1 balance" "equal, % per backend (answers): IPv4 ${eq4% *} (${eq4##* }), IPv6 ${eq6% *} (${eq6##* }); weights 1:2:3:4: ${weighted% *} (${weighted##* }); want 25 +-3 / 10,20,30,40 +-3" $pass

# --- 2. drain with lbctl ------------------------------------------------------------------
step "2. drain: $held_n held connections, drain be1, $new_n new connections, drain --wait"
hold_start drain "$cl" 198.18.100.1 7000 "$held_n"
on_be1=$(on_backend drain be1)
ctl backend drain echo4 198.18.3.1 >/dev/null || fail "lbctl backend drain"
newconns "$cl" 198.18.100.1 7000 "$new_n" >"$work/drain.new"
to_be1=$(count be1 <"$work/drain.new")
answered=$(grep -c '^be' "$work/drain.new" || true)
# --wait must outlive the held connections, then return once they are gone.
ctl backend drain echo4 198.18.3.1 --wait --timeout 120 --idle 2 >"$work/drain.wait" 2>&1 &
wait_pid=$!
sleep 4
waiting=$(ok kill -0 "$wait_pid")
hold_stop drain
wait_rc=0
wait "$wait_pid" || wait_rc=$?
ctl backend undrain echo4 198.18.3.1 >/dev/null || fail "lbctl backend undrain"
b=$(broken drain)
pass=1
[ "$b" -eq 0 ] && [ "$to_be1" -eq 0 ] && [ "$answered" -eq "$new_n" ] &&
	[ "$waiting" -eq 0 ] && [ "$wait_rc" -eq 0 ] && [ "$on_be1" -gt 0 ] && pass=0
wait_said=$(tr -d '\n' <"$work/drain.wait")
record "2 drain" "held $held_n ($on_be1 on be1): broken $b; new $new_n: $to_be1 on be1, $answered answered; drain --wait: still waiting while they lived: $([ "$waiting" -eq 0 ] && echo yes || echo no), then exit $wait_rc ($wait_said)" "$pass"

# --- 3. backend failure ---------------------------------------------------------------------
step "3. backend failure: be4's server stops; health checks take it out"
hold_start fail "$cl" 198.18.100.1 7000 "$held_n"
kill "${echod_pids[3]}"
# fall x interval + timeout of echo4's check (2 x 500 + 300 ms), and 2 s for a loaded machine.
sleep 3.3
newconns "$cl" 198.18.100.1 7000 "$new_n" >"$work/fail.new"
not_answered=$(grep -vc '^be[123]$' "$work/fail.new" || true)
hold_stop fail
b=$(broken fail be4)
down=$(ctl -j backend list echo4 | json_get '[x["health"]["state"] for x in d if x["address"] == "198.18.3.4"][0]')
start_echod 3
wait_healthy
pass=1
[ "$b" -eq 0 ] && [ "$not_answered" -eq 0 ] && pass=0
record "3 backend failure" "new $new_n from 3.3 s after the stop: $not_answered reached be4 or failed (be4 health: $down); held on be1-3: broken $b" "$pass"

# --- 4. backends removed and added by config push --------------------------------------------
# sighup FILE: FILE becomes lbd's config, then SIGHUP and the reload line;
# 0 when it was applied.
sighup() {
	local mark
	cp "$1" "$work/lbd.json"
	mark=$(log_mark)
	kill -HUP "$lbd_pid"
	wait_log "$mark" 'reload: ' || fail "no reload line"
	log_since "$mark" | grep -qE 'reload: [0-9]+ VIPs'
}
# push_round NAME: $new_n new connections to echo4 into $work/push.NAME
push_round() { newconns "$cl" 198.18.100.1 7000 "$new_n" >"$work/push.$1"; }
not_on_be123() { grep -vc '^be[123]$' "$work/push.$1" || true; }
on_be4() { count be4 <"$work/push.$1"; }
answered_by() { grep -c '^be[1234]$' "$work/push.$1" || true; }

step "4. config push: be4 removed by SIGHUP, added back by lbctl config apply, then the other way round"
mkconf "$work/without_be4.json" echo_backends=1,2,3
hold_start push "$cl" 198.18.100.1 7000 "$held_n"
pushed=0
sighup "$work/without_be4.json" && pushed=$((pushed + 1))
push_round hup_del
ctl config apply "$work/good.json" >"$work/push.apply" 2>&1 && pushed=$((pushed + 1))
push_round apply_add
ctl config apply "$work/without_be4.json" >"$work/push.apply" 2>&1 && pushed=$((pushed + 1))
push_round apply_del
sighup "$work/good.json" && pushed=$((pushed + 1))
push_round hup_add
hold_stop push
b=$(broken push be4)
removed_to_be4=$(($(not_on_be123 hup_del) + $(not_on_be123 apply_del)))
answered=$(($(answered_by apply_add) + $(answered_by hup_add)))
pass=1
[ "$b" -eq 0 ] && [ "$pushed" -eq 4 ] && [ "$removed_to_be4" -eq 0 ] &&
	[ "$(on_be4 apply_add)" -gt 0 ] && [ "$(on_be4 hup_add)" -gt 0 ] &&
	[ "$answered" -eq $((2 * new_n)) ] && pass=0
record "4 config push" "held on be1-3: broken $b; pushes applied: $pushed of 4; be4 removed by SIGHUP: $(not_on_be123 hup_del) of $new_n new not on be1-3, by config apply: $(not_on_be123 apply_del); be4 added by config apply: $(on_be4 apply_add) of $new_n on be4, by SIGHUP: $(on_be4 hup_add); $answered of $((2 * new_n)) answered" "$pass"

# --- 5. lbd SIGKILL and restart, 5 times ------------------------------------------------------
# UDP datagrams be1's sockets dropped for a full receive buffer: the
# iperf3 server not reading in time, on a busy machine.
rcvbuf_drops() {
	nsx "${bes[0]}" nstat -asz UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" { print $2 }'
}
# udp_run CLIENT_NS NAME: a ${run_s}s UDP run through the UDP VIP (to be1):
# "LOST PACKETS RCVBUF", RCVBUF those of the LOST that be1's socket dropped.
udp_run() {
	local before
	before=$(rcvbuf_drops)
	iperf "$1" -c 198.18.100.4 -p 5202 -u -b 5M -t "$run_s" >"$work/$2.json"
	json_get '"%d %d" % (d["end"]["sum"]["lost_packets"], d["end"]["sum"]["packets"])' <"$work/$2.json" |
		sed "s/\$/ $(($(rcvbuf_drops) - before))/"
}
hold_all() { # NAME N INTERVAL: held connections to echo4, echo6 and cross, from client 1
	hold_start "$1.4" "$cl" 198.18.100.1 7000 "$2" "$3"
	hold_start "$1.6" "$cl" fd00:100::1 7000 "$2" "$3"
	hold_start "$1.x" "$cl" 198.18.100.2 7000 "$2" "$3"
}
broken_all() { echo $(($(broken "$1.4") + $(broken "$1.6") + $(broken "$1.x"))); }

step "5. lbd SIGKILL and restart, 5 times, under TCP and UDP traffic"
# The same run twice, the second with the kills.
hold_all base "$held_n" 20
base=$(udp_run "$cl2" udp.base)
hold_stop base.4 base.6 base.x
hold_all kill "$held_n" 20
ctl -j stats >"$work/kill.before"
udp_run "$cl2" udp.kill >"$work/kill.udp" &
udp_pid=$!
adopted=0
for k in 1 2 3 4 5; do
	sleep "$(awk -v s="$run_s" 'BEGIN { print s / 6 }')"
	stop_lbd KILL
	mark=$(log_mark)
	start_lbd
	log_since "$mark" | grep -q 'adopted the running program' && adopted=$((adopted + 1))
done
wait "$udp_pid" || true
hold_stop kill.4 kill.6 kill.x
ctl -j stats >"$work/kill.after"
b=$(($(broken_all base) + $(broken_all kill)))
faulted=$(cat "$work/kill.udp")
# Whatever a restart loses, the program must not be the one that drops it.
drops=$(/usr/bin/python3 -c '
import json, sys
before, after = (json.load(open(p))["drops"] for p in sys.argv[1:])
print(sum(after[k] - before[k] for k in after))' "$work/kill.before" "$work/kill.after")
# "No worse": datagrams lost on the way to be1 (lost, less those be1's full
# socket buffer dropped) with the kills, at most those lost that way
# without them plus 1% of those sent: a loaded machine loses a few on its
# own, with or without faults.
read -r base_lost base_sent base_rcvbuf <<<"$base"
read -r kill_lost kill_sent kill_rcvbuf <<<"$faulted"
pass=1
[ "$b" -eq 0 ] && [ "$adopted" -eq 5 ] && [ "$drops" -eq 0 ] && [ "$base_lost" != error ] &&
	[ "$kill_lost" != error ] &&
	[ $((kill_lost - kill_rcvbuf)) -le $((base_lost - base_rcvbuf + kill_sent / 100)) ] && pass=0
record "5 lbd SIGKILL x5" "held $((3 * held_n)) (IPv4, IPv6, 4-in-6), twice: broken $b; restarts that adopted the program: $adopted of 5; packets the program dropped meanwhile: $drops; UDP lost/sent with kills: $kill_lost/$kill_sent ($kill_rcvbuf in be1's full socket buffer), without: $base_lost/$base_sent ($base_rcvbuf)" "$pass"

# --- 6. program upgrade on the live link ---------------------------------------------------------
step "6. upgrade: lbd-next (outer TTL 63) replaces the program on the live link, then lbd again"
hold_all upg "$held_n" 20
iperf "$cl2" -c 198.18.100.3 -p 5201 -b 20M -t "$run_s" >"$work/upg.tcp" &
tcp_pid=$!
progs=$(prog_id)
upgraded=0
for bin in "$lbd_next" "$lbd"; do
	sleep "$(awk -v s="$run_s" 'BEGIN { print s / 3 }')"
	stop_lbd
	mark=$(log_mark)
	start_lbd "$bin"
	log_since "$mark" | grep -q 'upgraded the running program' && upgraded=$((upgraded + 1))
	progs="$progs -> $(prog_id)"
done
wait "$tcp_pid" || true
hold_stop upg.4 upg.6 upg.x
b=$(broken_all upg)
tcp=$(json_get 'd["end"]["sum_received"]["bytes"] if "error" not in d else "error"' <"$work/upg.tcp")
distinct=$(echo "$progs" | tr -d ' >' | tr '-' '\n' | sort -u | wc -l)
pass=1
[ "$b" -eq 0 ] && [ "$upgraded" -eq 2 ] && [ "$distinct" -eq 3 ] && [ "$tcp" != error ] &&
	[ "$tcp" -gt 0 ] && pass=0
record "6 program upgrade" "held $((3 * held_n)): broken $b; upgrades logged: $upgraded of 2 (program ids $progs); iperf3 TCP: $([ "$tcp" = error ] && echo error || echo "$tcp bytes, unbroken")" "$pass"

# --- 7. bad configs --------------------------------------------------------------------------------
# Everything lbd writes to the data path, inner tables included, as one
# digest; not the flow table or the counters, which traffic moves.
maps_digest() {
	local m id
	{
		for m in vip_map vip_filter vip_tables backends lb_cfg deny_filter vip_allow; do
			bpftool -j map dump pinned "$pins/$m"
		done
		for id in $(bpftool -j map dump pinned "$pins/vip_tables" |
			json_get '" ".join(str(int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little")) for e in d)'); do
			bpftool -j map dump id "$id"
		done
	} | sha256sum | cut -d' ' -f1
}
step "7. bad configs by SIGHUP and by the control socket: refused, nothing changes"
mkdir -p "$work/bad"
/usr/bin/python3 - "$work/good.json" "$work/bad" <<'PY'
import copy, json, sys
text = open(sys.argv[1]).read()
good = json.loads(text)
def variant(change):
    c = copy.deepcopy(good)
    change(c)
    return json.dumps(c)
def vip(i, **kw):
    return lambda c: c["vips"][i].update(kw)
def backend(i, j, **kw):
    return lambda c: c["vips"][i]["backends"][j].update(kw)
bad = {
    "01-syntax": text[: len(text) // 2],
    "02-not-an-object": "[]",
    "03-unknown-key": variant(lambda c: c.update(colour="blue")),
    "04-bad-address": variant(vip(0, address="198.18.100.300")),
    "05-duplicate-name": variant(vip(1, name="web4")),
    "06-weight-0": variant(backend(2, 0, weight=0)),
    "07-table-not-prime": variant(vip(2, table_size=65536)),
    "08-timeout-over-interval": variant(lambda c: c["vips"][2]["health_check"].update(timeout_ms=900)),
    "09-duplicate-backend": variant(lambda c: c["vips"][2]["backends"].append(dict(c["vips"][2]["backends"][0]))),
    "10-no-ipv6-source": variant(lambda c: c["tunnel_source"].pop("ipv6")),
    "11-multicast-backend": variant(backend(0, 0, address="224.0.0.1")),
    "12-duplicate-service": variant(lambda c: c["vips"].append(dict(c["vips"][0], name="web9"))),
    "13-interface-change": variant(lambda c: c.update(interface="l9")),
    "14-xdp-mode-change": variant(lambda c: c.update(xdp_mode="generic")),
    "15-unknown-group": variant(lambda c: c.update(control_group="nosuchgroup")),
}
for name, body in bad.items():
    with open("%s/%s.json" % (sys.argv[2], name), "w") as f:
        f.write(body)
PY
hold_all bad "$held_n" 20
digest=$(maps_digest)
hup_refused=0 sock_refused=0 kinds=0
for f in "$work"/bad/*.json; do
	kinds=$((kinds + 1))
	mark=$(log_mark)
	cp "$f" "$work/lbd.json"
	kill -HUP "$lbd_pid"
	wait_log "$mark" 'reload: ' || fail "no reload line for $(basename "$f")"
	sleep 0.2
	if log_since "$mark" | grep -qE 'reload: (.*; )?the config was not applied' &&
		! log_since "$mark" | grep -qE 'reload: [0-9]+ VIPs'; then
		hup_refused=$((hup_refused + 1))
	else
		echo "   SIGHUP applied $(basename "$f")"
	fi
	rc=0
	ctl config apply "$f" >"$work/bad.out" 2>&1 || rc=$?
	if [ "$rc" -eq 78 ]; then
		sock_refused=$((sock_refused + 1))
	else
		echo "   config apply of $(basename "$f"): exit $rc: $(cat "$work/bad.out")"
	fi
done
cp "$work/good.json" "$work/lbd.json"
same_maps=$(ok [ "$(maps_digest)" = "$digest" ])
ctl config show >"$work/shown"
same_config=$(ok cmp -s "$work/shown" "$work/good.json")
hold_stop bad.4 bad.6 bad.x
b=$(broken_all bad)
pass=1
[ "$b" -eq 0 ] && [ "$hup_refused" -eq "$kinds" ] && [ "$sock_refused" -eq "$kinds" ] &&
	[ "$same_maps" -eq 0 ] && [ "$same_config" -eq 0 ] && kill -0 "$lbd_pid" && pass=0
record "7 bad configs" "$kinds kinds: refused by SIGHUP $hup_refused, by config apply (exit 78) $sock_refused; maps $([ "$same_maps" -eq 0 ] && echo unchanged || echo CHANGED); running config $([ "$same_config" -eq 0 ] && echo unchanged || echo CHANGED); held $((3 * held_n)): broken $b" "$pass"

# --- 8. the node's own traffic ----------------------------------------------------------------------
step "8. the node's own traffic with XDP attached"
nsx "$lb" "$build/test/echod" node 7100 </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do
	nsx "$lb" ss -Hltn | grep -q ':7100 ' && break
	sleep 0.1
done
tcp_in=$(( $(newconns "$cl" 198.18.1.2 7100 20 | count node) + $(newconns "$cl" fd00:1::2 7100 20 | count node) ))
pings=0
for a in 198.18.1.2 fd00:1::2; do
	n=$(nsx "$cl" ping -c 3 -i 0.2 -W 2 -q "$a" | sed -nE 's/.* ([0-9]+) received.*/\1/p')
	pings=$((pings + ${n:-0}))
done
tcp_out=$(( $(nsx "$lb" curl -s --max-time 5 http://198.18.3.1/id | count be1) + $(nsx "$lb" curl -s --max-time 5 'http://[fd00:3::2]/id' | count be2) ))
# Probes every 0.5-1 s: after 3 s, a probe whose answer the program dropped would have failed.
sleep 3
up=$(healthy)
pass=1
[ "$tcp_in" -eq 40 ] && [ "$pings" -eq 6 ] && [ "$tcp_out" -eq 2 ] && [ "$up" -eq "$checked_backends" ] && pass=0
record "8 node's own traffic" "TCP to the node: $tcp_in of 40; ping: $pings of 6; HTTP from the node to backends: $tcp_out of 2; health checks up: $up of $checked_backends" "$pass"

# --- 9. adversarial packets ---------------------------------------------------------------------------
stat_deltas() { # BEFORE AFTER EXPECT...: "MOVED WANTED", reasons and events that moved as expected
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
want = {}
for path in sys.argv[3:]:
    for k, v in json.load(open(path))["expect"].items():
        want[k] = want.get(k, 0) + v
moved = sum(after["drops"][k] - before["drops"][k] >= v for k, v in want.items())
for k, v in sorted(want.items()):
    print("   %s: +%d (want +%d)" % (k, after["drops"][k] - before["drops"][k], v), file=sys.stderr)
steered = after["events"]["icmp_steered"] - before["events"]["icmp_steered"]
print(moved, len(want), steered)
PY
}
step "9. adversarial packets from client 2 and on the node's link"
hold_all adv 50 20
ctl -j stats >"$work/adv.before"
for i in 0 1 2 3; do
	# ip netns exec, not nsx: $! must be tcpdump itself, to stop it.
	ip netns exec "${bes[i]}" tcpdump -i b0 -U -n -w "$work/adv.$i.pcap" \
		'src host 198.18.2.1 or src host fd00:2::1' 2>"$work/adv.$i.tcpdump" &
	echo $! >"$work/adv.$i.pid"
done
for i in 0 1 2 3; do
	for _ in $(seq 100); do
		grep -q 'listening on' "$work/adv.$i.tcpdump" && break
		sleep 0.1
	done
	grep -q 'listening on' "$work/adv.$i.tcpdump" ||
		fail "tcpdump on backend $((i + 1)) did not start: $(cat "$work/adv.$i.tcpdump")"
done
# Another client's held flows, for the spoofed frag-needed and packet-too-big.
flow4=$(nsx "$cl" ss -Htn state established dst 198.18.100.1:7000 | awk 'NR == 1 { print $3 }')
flow6=$(nsx "$cl" ss -Htn state established dst '[fd00:100::1]:7000' | awk 'NR == 1 { print $3 }')
[ -n "$flow4" ] && [ -n "$flow6" ] || fail "no held flows to quote"
nsx "$cl2" "$src/test/adversary.py" client c0 "$(nsx "$rt" cat /sys/class/net/rc2/address)" "$flow4" "$flow6" \
	>"$work/adv.client.json" || fail "adversary.py client"
nsx "$rt" "$src/test/adversary.py" link r1 "$(nsx "$lb" cat /sys/class/net/l0/address)" \
	>"$work/adv.link.json" || fail "adversary.py link"
sleep 2
for i in 0 1 2 3; do
	kill -TERM "$(cat "$work/adv.$i.pid")"
	wait "$(cat "$work/adv.$i.pid")" || true
done
ctl -j stats >"$work/adv.after"
read -r moved wanted steered < <(stat_deltas "$work/adv.before" "$work/adv.after" "$work/adv.client.json" "$work/adv.link.json")
read -r bad arrived < <(/usr/bin/python3 "$src/test/adversary.py" check "$work"/adv.?.pcap)
sent=$(($(json_get 'd["sent"]' <"$work/adv.client.json") + $(json_get 'd["sent"]' <"$work/adv.link.json")))
# The held connections still echo after the spoofed errors, and lbd answers.
sleep 1
hold_stop adv.4 adv.6 adv.x
b=$(broken_all adv)
alive=1
ctl status >/dev/null && alive=0
pass=1
# The steered errors reached the backends' captures: none seen is no pass.
[ "$b" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$arrived" -gt 0 ] && [ "$arrived" -ge "$steered" ] &&
	[ "$moved" -eq "$wanted" ] && [ "$steered" -ge 10 ] && [ "$alive" -eq 0 ] && pass=0
record "9 adversarial packets" "$sent frames sent; drop reasons that moved as expected: $moved of $wanted; spoofed errors steered to the flow's backend: $steered; at the backends: $arrived of the sender's packets, $bad malformed; held 150: broken $b; lbd answers: $([ "$alive" -eq 0 ] && echo yes || echo no)" "$pass"

# --- 12. block list --------------------------------------------------------------------------------------
step "12. lbctl block add: client 2 is shut out, client 1's connections go on"
hold_start blk "$cl" 198.18.100.1 7000 "$held_n"
ctl block add 198.18.2.0/24 >/dev/null || fail "lbctl block add"
blocked_ok=$(newconns "$cl2" 198.18.100.1 7000 10 | grep -c '^be' || true)
ctl block del 198.18.2.0/24 >/dev/null || fail "lbctl block del"
unblocked_ok=$(newconns "$cl2" 198.18.100.1 7000 10 | grep -c '^be' || true)
hold_stop blk
b=$(broken blk)
pass=1
[ "$b" -eq 0 ] && [ "$blocked_ok" -eq 0 ] && [ "$unblocked_ok" -eq 10 ] && pass=0
record "12 block list" "client 2 blocked: $blocked_ok of 10 connected; unblocked: $unblocked_ok of 10; client 1 held $held_n: broken $b" "$pass"

# --- 11. the state file torn or corrupt -------------------------------------------------------------------
step "11. the state file torn, garbage or of another format while lbd is stopped"
ctl backend drain echo4 198.18.3.2 >/dev/null || fail "drain for the state file"
hold_start state "$cl" 198.18.100.1 7000 "$held_n"
started=0 said=0 answered=0 be2_back=
for kind in torn garbage format; do
	stop_lbd
	f=$work/state/state.json
	[ -s "$f" ] || fail "no state file after SIGTERM"
	case $kind in
	torn) head -c $(($(stat -c %s "$f") / 2)) "$f" >"$f.new" ;;
	garbage) head -c 512 /dev/urandom >"$f.new" ;;
	format) sed 's/"format": *1/"format": 99/' "$f" >"$f.new" ;;
	esac
	mv "$f.new" "$f"
	mark=$(log_mark)
	start_lbd
	started=$((started + 1))
	log_since "$mark" | grep -q 'state file unusable, ignored' && said=$((said + 1))
	out=$(newconns "$cl" 198.18.100.1 7000 100)
	n=$(grep -c '^be' <<<"$out" || true)
	answered=$((answered + n))
	# What the file held is gone, as the log says: be2, drained in it, takes
	# new flows again (the first round; later files were lbd's own).
	[ -z "$be2_back" ] && be2_back=$(count be2 <<<"$out")
	wait_healthy
done
hold_stop state
b=$(broken state)
pass=1
[ "$b" -eq 0 ] && [ "$started" -eq 3 ] && [ "$said" -eq 3 ] && [ "$answered" -eq 300 ] &&
	[ "$be2_back" -gt 0 ] && pass=0
record "11 state file corrupt" "3 kinds (torn, garbage, format 99): started $started, said so $said; new connections answered: $answered of 300 (the drained be2: $be2_back of the first 100); held $held_n: broken $b" "$pass"

# --- 10. flow-table pressure ------------------------------------------------------------------------------
step "10. flow table of 1024 entries, $pressure_n live connections, backends unchanged"
stop_lbd
# flow_table_size takes effect on fresh maps only.
nsenter --net="/run/netns/$lb" "$lbd" --unload l0 >>"$work/lbd.log" 2>&1 || fail "lbd --unload"
mkconf "$work/lbd.json" flow_table_size=1024
start_lbd
# The table is an array of 4-way sets and a head element (lb_abi.h).
entries=$(bpftool -j map show pinned "$pins/flow_table" | json_get '(d["max_entries"] - 1) * 4')
wait_healthy
hold_start press "$cl" 198.18.100.1 7000 "$pressure_n" 200
sleep "$run_s"
hold_stop press
b=$(broken press)
misses=$(ctl -j stats echo4 | json_get 'd["vips"][0]["nonsyn_miss"]')
# Evicted flows come back as non-SYN misses: proof the table was too small.
pass=1
[ "$b" -eq 0 ] && [ "$entries" -eq 1024 ] && [ "$misses" -gt 0 ] && pass=0
record "10 flow-table pressure" "$pressure_n connections held ${run_s} s through a $entries-entry flow table: broken $b; packets that missed an evicted flow and were placed again: $misses" "$pass"

# --- the table -------------------------------------------------------------------------------------------
finished=true
print_table
failed=$(grep -c 'FAIL$' "$work/results" || true)
echo "reliability: $(wc -l <"$work/results") scenarios, $failed failed ($($long && echo long || echo short) run, $(date -u +%F))"
[ "$failed" -eq 0 ]
