#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# lbd's Prometheus endpoint, scraped as Prometheus would: the text passes
# `promtool check metrics`; the numbers are the ones traffic and the
# operator made (packets of real connections, slots that add up to the
# table, a drained backend's state, a refused reload, a failing health
# check's probes and state change); counters do not go
# back after a SIGKILL and restart; other paths and methods get 404 and 405.
#
# Usage: metrics_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root metrics_test
netns_private metrics_test "$0" "$@"
netns_init

lbd=$build/user/lbd
lbctl=$build/user/lbctl
tag=mt$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
sock=$work/run/lbd.sock
url=http://127.0.0.1:9650
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
	true
}
step() { echo "== $*"; }
fail() { netns_fail metrics_test "$work/lbd.log" "$@"; }

netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "$be1" "$be2"
netns_echo_servers "$src/test/echo_server.py" "$be1" "$be2"

cat >"$work/lbd.json" <<JSON
{ "interface": "l0", "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state", "control_socket": "$sock", "control_group": "nogroup",
  "metrics_listen": "127.0.0.1:9650",
  "vips": [ { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
              "table_size": 251,
              "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" } ] },
            { "name": "chk", "address": "198.18.100.1", "port": 81, "protocol": "tcp",
              "table_size": 251,
              "health_check": { "type": "tcp", "interval_ms": 100, "timeout_ms": 100,
                                "rise": 1, "fall": 1 },
              "backends": [ { "address": "198.18.3.1" } ] } ] }
JSON

start_lbd() {
	: >"$work/lbd.log"
	nsenter --net="/run/netns/$lb" "$lbd" --config "$work/lbd.json" >>"$work/lbd.log" 2>&1 &
	lbd_pid=$!
	for _ in $(seq 100); do
		grep -q 'metrics on ' "$work/lbd.log" && return 0
		kill -0 "$lbd_pid" 2>/dev/null || fail "lbd died"
		sleep 0.05
	done
	fail "lbd did not start"
}
scrape() { # FILE: GET /metrics into FILE
	nsx "$lb" curl -sS --max-time 10 -o "$1" -w '%{http_code} %{content_type}\n' \
		"$url/metrics" >"$1.status" || fail "scrape: $(cat "$1.status")"
}
value() { # FILE SERIES: the value of one series, exactly as written
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1" ||
		fail "no series $2 in the scrape"
}
connections() { # N connections through the VIP
	netns_vip_conns "$cl" "$1" >/dev/null || fail "connections through the VIP failed"
}

start_lbd

step "a scrape passes promtool, with the right content type"
connections 20
scrape "$work/m1"
grep -qx '200 text/plain; version=0.0.4; charset=utf-8' "$work/m1.status" ||
	fail "status and type: $(cat "$work/m1.status")"
promtool check metrics <"$work/m1" >"$work/promtool" 2>&1 || fail "promtool: $(cat "$work/promtool")"

step "the numbers are what traffic and the config made"
[ "$(value "$work/m1" 'sluice_config_generation')" = 1 ] || fail "generation"
pk=$(value "$work/m1" 'sluice_vip_packets_total{vip="web"}')
b1=$(value "$work/m1" 'sluice_backend_packets_total{vip="web",backend="198.18.3.1"}')
b2=$(value "$work/m1" 'sluice_backend_packets_total{vip="web",backend="198.18.3.2"}')
[ "$pk" -ge 60 ] || fail "20 connections made $pk packets"
[ $((b1 + b2)) -eq "$pk" ] || fail "backends $b1 + $b2 != VIP $pk"
[ "$(value "$work/m1" 'sluice_vip_new_flows_total{vip="web"}')" -ge 20 ] || fail "new flows"
# Counted by walking the flow table with its seeds: the 20 connections'
# flows, each seen within the last 30 s.
a1=$(value "$work/m1" 'sluice_backend_active_flows{vip="web",backend="198.18.3.1"}')
a2=$(value "$work/m1" 'sluice_backend_active_flows{vip="web",backend="198.18.3.2"}')
[ $((a1 + a2)) -eq 20 ] || fail "active flows $a1 + $a2, not 20"
s1=$(value "$work/m1" 'sluice_backend_table_slots{vip="web",backend="198.18.3.1"}')
s2=$(value "$work/m1" 'sluice_backend_table_slots{vip="web",backend="198.18.3.2"}')
[ $((s1 + s2)) -eq 251 ] && [ "$s1" -gt 100 ] && [ "$s2" -gt 100 ] || fail "slots $s1 + $s2"
[ "$(value "$work/m1" 'sluice_verdicts_total{verdict="tx"}')" -ge "$pk" ] || fail "tx verdicts"
prog=$(sed -n 's/.*attached (program id \([0-9]*\),.*/\1/p' "$work/lbd.log")
ptag=$(bpftool -j prog show id "$prog" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["tag"])')
version=$("$lbd" --version | cut -d' ' -f3)
value "$work/m1" "sluice_build_info{version=\"$version\",program_tag=\"$ptag\"}" >/dev/null

step "health probes are timed by kind, and a backend going down is counted once"
# chk checks port 81 of a backend where nothing listens: refused (or, on
# a starved machine, timed out), so down at its first probe (fall 1), for
# good.
for _ in $(seq 100); do
	scrape "$work/h1"
	[ "$(value "$work/h1" 'sluice_health_state_changes_total{to="down"}')" = 1 ] && break
	sleep 0.1
done
[ "$(value "$work/h1" 'sluice_health_state_changes_total{to="down"}')" = 1 ] ||
	fail "changes to down: $(grep state_changes "$work/h1")"
[ "$(value "$work/h1" 'sluice_health_state_changes_total{to="up"}')" = 0 ] || fail "changes to up"
grep -q '^sluice_backend_health{vip="chk",backend="198.18.3.1",state="down",' "$work/h1" ||
	fail "chk's backend is not down: $(grep 'vip="chk"' "$work/h1")"
probes=$(value "$work/h1" 'sluice_health_probes_total')
tcp=$(value "$work/h1" 'sluice_health_probe_duration_seconds_count{kind="tcp"}')
inf=$(value "$work/h1" 'sluice_health_probe_duration_seconds_bucket{kind="tcp",le="+Inf"}')
[ "$probes" -ge 1 ] && [ "$tcp" = "$probes" ] && [ "$inf" = "$tcp" ] ||
	fail "probes $probes, tcp durations $tcp, +Inf bucket $inf"
[ "$(value "$work/h1" 'sluice_health_probe_duration_seconds_count{kind="http"}')" = 0 ] ||
	fail "http durations without http checks"
promtool check metrics <"$work/h1" >"$work/promtool" 2>&1 || fail "promtool: $(cat "$work/promtool")"

step "a drain and a refused reload show"
"$lbctl" -s "$sock" backend drain web 198.18.3.2 >/dev/null || fail "drain"
echo '{ "interface": "l0", "vips": [' >"$work/bad.json"
cp "$work/lbd.json" "$work/good.json"
cp "$work/bad.json" "$work/lbd.json"
kill -HUP "$lbd_pid"
for _ in $(seq 50); do grep -q 'the running config stays' "$work/lbd.log" && break; sleep 0.1; done
cp "$work/good.json" "$work/lbd.json"
scrape "$work/m2"
value "$work/m2" 'sluice_backend_state{vip="web",backend="198.18.3.2",state="draining"}' >/dev/null
[ "$(value "$work/m2" 'sluice_backend_table_slots{vip="web",backend="198.18.3.2"}')" = 0 ] ||
	fail "a drained backend keeps slots"
[ "$(value "$work/m2" 'sluice_config_last_reload_success')" = 0 ] || fail "the refused reload"
[ "$(value "$work/m2" 'sluice_config_last_reload_timestamp_seconds')" != 0.000 ] || fail "reload time"

step "scrapes at once each get the whole text (the buffer is reused)"
pids=
for i in 1 2 3 4; do scrape "$work/p$i" & pids="$pids $!"; done
for p in $pids; do wait "$p" || fail "a parallel scrape failed"; done
lines=$(wc -l <"$work/m2")
for i in 1 2 3 4; do
	[ "$(wc -l <"$work/p$i")" -eq "$lines" ] || fail "parallel scrape $i: $(wc -l <"$work/p$i") lines, not $lines"
	promtool check metrics <"$work/p$i" >"$work/promtool" 2>&1 ||
		fail "parallel scrape $i: $(cat "$work/promtool")"
done

step "counters do not go back after SIGKILL and a restart"
connections 10
scrape "$work/m3"
before=$(value "$work/m3" 'sluice_vip_packets_total{vip="web"}')
probes_before=$(value "$work/m3" 'sluice_health_probes_total')
tcp_before=$(value "$work/m3" 'sluice_health_probe_duration_seconds_count{kind="tcp"}')
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
start_lbd
scrape "$work/m4"
after=$(value "$work/m4" 'sluice_vip_packets_total{vip="web"}')
[ "$after" -ge "$before" ] || fail "VIP packets went from $before to $after"
# lbd's own counters too: health's are pinned (pincount.c).
after=$(value "$work/m4" 'sluice_health_probes_total')
[ "$after" -ge "$probes_before" ] || fail "health probes went from $probes_before to $after"
after=$(value "$work/m4" 'sluice_health_probe_duration_seconds_count{kind="tcp"}')
[ "$after" -ge "$tcp_before" ] || fail "tcp probe durations went from $tcp_before to $after"
[ "$(value "$work/m4" 'sluice_health_state_changes_total{to="down"}')" = 1 ] ||
	fail "the change to down was not kept (or the saved health was not resumed)"
[ "$(value "$work/m4" 'sluice_backend_table_slots{vip="web",backend="198.18.3.1"}')" = 251 ] ||
	fail "slots after the restart"

step "health counters of another layout start from zero, not from its bytes"
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
pin=/sys/fs/bpf/sluice/l0/health_counters
size=$(bpftool -j map show pinned "$pin" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes_value"])')
# shellcheck disable=SC2046
bpftool map update pinned "$pin" key 0 0 0 0 value $(for _ in $(seq "$size"); do echo 0x7f; done) ||
	fail "cannot write the pinned health counters"
start_lbd
scrape "$work/m5"
after=$(value "$work/m5" 'sluice_health_probes_total')
[ "$after" -lt "$probes_before" ] || fail "health probes $after after a layout change (before $probes_before)"
[ "$(value "$work/m5" 'sluice_health_state_changes_total{to="down"}')" = 0 ] ||
	fail "health changes kept across a layout change"

step "other paths 404, other methods 405"
code=$(nsx "$lb" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/")
[ "$code" = 404 ] || fail "GET / gave $code"
code=$(nsx "$lb" curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "$url/metrics")
[ "$code" = 405 ] || fail "POST gave $code"
kill -0 "$lbd_pid" || fail "lbd died"
echo "metrics_test: all passed"
