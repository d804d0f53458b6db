#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The health-check benchmark (docs/performance.md): the CPU lbd uses to
# probe N backends every second, TCP or HTTP. Not a test: it asserts
# nothing but that the probes ran and passed, and prints one row per run.
#
#   node: lbd on l0 198.18.1.1 --- s0 198.18.1.2 server: bench_httpd on
#   0.0.0.0:80, N addresses 198.19.x.y on lo (routed via 198.18.1.2)
#
# The backends are N addresses of one server namespace, so one listener
# answers them all; the node routes 198.19.0.0/16 to it, so it keeps one
# neighbour, not N. lbd's CPU is its own (user + system, from
# /proc/PID/stat) over the window, after a warm-up of 3 intervals.
#
# A veth hands a packet to its peer's stack on the sending CPU, in the
# sender's system call: by default lbd's system time also holds the
# server's side of every handshake and the receive side of its own, which
# no NIC would charge it. --steer moves both receive paths to CPU 1 (RPS
# on l0 and s0), pins lbd to CPU 0 and the server to CPU 1, so that lbd's
# time is what it would be on a node: its own code and its system calls'
# transmit paths (docs/performance.md).
#
# Usage: test/bench_health.sh BUILD_DIR [--seconds S] [--steer] [ROW...]   (root)
#   ROW is TYPE:N (tcp:1000, http:10000); default: tcp and http at 1000
#   and 10000. TYPE floor is test/bench_connect: the system calls of lbd's
#   TCP check (a kept socket reconnected) and nothing else, the least such
#   a checker pays; TYPE httpfloor is the same for lbd's HTTP check (the
#   request, one read of the answer); TYPE fresh is TCP with a new socket
#   per probe. --seconds: the window (default 20). BENCH_PERF=FILE records
#   lbd with perf (call graphs) over the window of the last row into FILE.
set -euo pipefail

build=$(cd "${1:?usage: bench_health.sh BUILD_DIR [--seconds S] [ROW...]}" && pwd)
shift
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=20
steer=
rows=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--steer) steer=1; shift ;;
	*:*) rows+=("$1"); shift ;;
	*) echo "bench_health: unknown argument $1" >&2; exit 64 ;;
	esac
done
[ ${#rows[@]} -gt 0 ] || rows=(tcp:1000 tcp:10000 http:1000 http:10000)

. "$src/test/netns_lib.sh"
netns_require_root bench_health
netns_private bench_health "$0" "$build" --seconds "$seconds" ${steer:+--steer} "${rows[@]}"
netns_init

tag=hcb$$
lb=$tag-lb srv=$tag-srv
work=$NETNS_WORK
interval_ms=1000
tck=$(getconf CLK_TCK)
# Every probe in flight holds a socket: up to N when every backend hangs.
ulimit -n "$(ulimit -Hn)"

netns_add "$lb" "$srv"
ip link add l0 netns "$lb" type veth peer name s0 netns "$srv"
nsx "$lb" ip link set l0 address 02:00:00:00:00:01
nsx "$srv" ip link set s0 address 02:00:00:00:00:02
nsx "$lb" ip addr add 198.18.1.1/24 dev l0
nsx "$srv" ip addr add 198.18.1.2/24 dev s0
nsx "$lb" ip link set l0 up
nsx "$srv" ip link set s0 up
nsx "$lb" ip route add 198.19.0.0/16 via 198.18.1.2
nsx "$srv" ip route add default via 198.18.1.1
pin_lbd=() pin_srv=()
if [ -n "$steer" ]; then
	[ "$(nproc)" -ge 2 ] || { echo "bench_health: --steer needs 2 CPUs" >&2; exit 64; }
	nsx "$lb" sh -c 'echo 2 >/sys/class/net/l0/queues/rx-0/rps_cpus'
	nsx "$srv" sh -c 'echo 2 >/sys/class/net/s0/queues/rx-0/rps_cpus'
	pin_lbd=(taskset -c 0) pin_srv=(taskset -c 1)
fi

# backend I: 198.19.(I / 250).(I % 250 + 1)
max=0
for row in "${rows[@]}"; do [ "${row#*:}" -gt "$max" ] && max=${row#*:}; done
[ "$max" -le 16000 ] || { echo "bench_health: at most 16000 backends" >&2; exit 64; }
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((max + 100)) ] ||
	echo "bench_health: warning: ulimit -n $(ulimit -n) is below the $max probes that may be in flight" >&2
/usr/bin/python3 -c '
import sys
for i in range(int(sys.argv[1])):
    print("address add 198.19.%d.%d/32 dev lo" % (i // 250, i % 250 + 1))' "$max" >"$work/addrs"
nsx "$srv" ip -batch "$work/addrs"

# Not through nsx: $! must be the server itself.
ip netns exec "$srv" "${pin_srv[@]}" "$build/test/bench_httpd" 80 </dev/null >"$work/httpd.log" 2>&1 &
httpd_pid=$!
disown "$httpd_pid"	# the exit trap kills it: no "Killed" notice from bash

# config TYPE N: VIPs of up to 1000 backends each, all checked alike.
config() {
	/usr/bin/python3 - "$1" "$2" "$work" "$interval_ms" <<'PY' >"$work/lbd.json"
import json, sys
kind, n, work, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
check = {"type": kind, "port": 80, "interval_ms": interval, "timeout_ms": 500,
         "rise": 2, "fall": 3}
if kind == "http":
    check["path"] = "/health"
vips = []
for v in range((n + 999) // 1000):
    ids = range(v * 1000, min(n, (v + 1) * 1000))
    vips.append({"name": "v%d" % v, "address": "198.18.100.%d" % (v + 1), "port": 80,
                 "protocol": "tcp", "health_check": check,
                 "backends": [{"address": "198.19.%d.%d" % (i // 250, i % 250 + 1)}
                              for i in ids]})
json.dump({"interface": "l0", "next_hop": "02:00:00:00:00:02",
           "tunnel_source": {"ipv4": "198.18.1.1"}, "state_dir": work + "/state",
           "control_socket": work + "/lbd.sock", "vips": vips}, sys.stdout)
PY
}

cpu_ticks() { # PID: "USER SYSTEM" clock ticks
	awk '{ print $14, $15 }' "/proc/$1/stat"
}
# lbctl's JSON through a Python expression over d; "-" when lbd does not
# answer (a loop that cannot keep up starves its control socket too).
ask() { # EXPRESSION LBCTL ARGS...
	local expr=$1
	shift
	{ "$build/user/lbctl" -s "$work/lbd.sock" -j "$@" 2>/dev/null || true; } |
		/usr/bin/python3 -c "import json, sys
try:
    d = json.load(sys.stdin)
    print($expr)
except (ValueError, KeyError, TypeError):
    print('-')"
}
probes() { ask 'd["health"]["probes"]' status; }
# Backends up, down, and those whose last probe failed.
health_counts() {
	ask '"%d %d %d" % (sum(x["health"]["state"] == "up" for x in d),
    sum(x["health"]["state"] == "down" for x in d),
    sum(bool(x["health"]["last_probe"]) and not x["health"]["last_probe"]["ok"] for x in d))' \
		backend list
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
where="on the sending CPU"
[ -n "$steer" ] && where="steered to CPU 1, lbd on CPU 0"
echo "window ${seconds} s, interval ${interval_ms} ms, receive paths $where"
echo "CPU in % of one core; load: 1-minute average at the end"
echo "fds: lbd's open descriptors at the end; failed: backends whose last probe failed"
printf '%-9s %6s %9s %8s %6s %6s %7s %6s %5s %6s %6s %6s %5s\n' \
	type N probes/s lbd_cpu user sys server up down failed fds tw load
# floor KIND N: bench_connect's own numbers in the same columns.
floor() {
	local r mode=()
	[ "$1" = floor ] && mode=(reuse)
	[ "$1" = httpfloor ] && mode=(http)
	r=$(nsenter --net="/run/netns/$lb" "${pin_lbd[@]}" "$build/test/bench_connect" "$2" 3 \
		"$seconds" "${mode[@]}")
	read -r rate user sys <<<"$r"
	printf '%-9s %6s %9s %7.1f%% %5.1f%% %5.1f%% %7s %6s %5s %6s %6s %6s %5s\n' "$1" "$2" "$rate" \
		"$(awk "BEGIN { print $user + $sys }")" "$user" "$sys" - - - - - - "$(cut -d' ' -f1 /proc/loadavg)"
}

for row in "${rows[@]}"; do
	kind=${row%%:*} n=${row#*:}
	if [ "$kind" = floor ] || [ "$kind" = httpfloor ] || [ "$kind" = fresh ]; then
		floor "$kind" "$n"
		continue
	fi
	config "$kind" "$n"
	rm -rf "$work/state"
	: >"$work/lbd.log"
	netns_lbd_start "$lb" "$work/lbd.log" 'control socket ' "${pin_lbd[@]}" "$build/user/lbd" \
		--config "$work/lbd.json" || { cat "$work/lbd.log" >&2; exit 1; }
	pid=$NETNS_LBD_PID
	sleep $((3 * interval_ms / 1000))
	p0=$(probes) l0=$(cpu_ticks "$pid") s0=$(cpu_ticks "$httpd_pid") t0=$(date +%s%N)
	if [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -g -p "$pid" -o "$BENCH_PERF" -- sleep "$seconds" >/dev/null 2>&1
	else
		sleep "$seconds"
	fi
	p1=$(probes) l1=$(cpu_ticks "$pid") s1=$(cpu_ticks "$httpd_pid") t1=$(date +%s%N)
	counts=$(health_counts)
	[ "$counts" = - ] && counts="- - -"
	fds=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
	tw=$(nsx "$lb" ss -Htan state time-wait | wc -l)
	load=$(cut -d' ' -f1 /proc/loadavg)
	kill -TERM "$pid"
	wait "$pid" || true
	/usr/bin/python3 - "$kind" "$n" "$p0" "$p1" "$l0" "$l1" "$s0" "$s1" "$t0" "$t1" "$tck" \
		"$counts" "$fds" "$tw" "$load" <<'PY'
import sys
kind, n, p0, p1, l0, l1, s0, s1, t0, t1, tck, counts, fds, tw, load = sys.argv[1:]
secs = (int(t1) - int(t0)) / 1e9
def pct(a, b, field=None):
    a, b = list(map(int, a.split())), list(map(int, b.split()))
    d = sum(b) - sum(a) if field is None else b[field] - a[field]
    return "%.1f%%" % (100.0 * d / int(tck) / secs)
rate = "-" if "-" in (p0, p1) else "%.0f" % ((int(p1) - int(p0)) / secs)
print("%-9s %6s %9s %8s %6s %6s %7s %6s %5s %6s %6s %6s %5s" % (
    kind, n, rate, pct(l0, l1), pct(l0, l1, 0), pct(l0, l1, 1), pct(s0, s1),
    *counts.split(), fds, tw, load))
PY
done
