#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Health checks end to end, in network namespaces, against real servers:
# what an operator sees (lbctl -j, the lbd log line and its reason) for
#
#   a TCP check of a live server           up
#   a closed port                          down (refused)
#   a server that accepts and never answers an HTTP request
#                                          down (timeout after N ms)
#   a server that sends half a status line and closes, in one segment
#                                          down (not an HTTP answer)
#   a server whose NIC drops every SYN (XDP, lb_syndrop)
#                                          down (timeout after N ms)
#   HTTP 200 / HTTP 503                    up / down (status 503)
#   HTTP 103 then 200 / 103 then 503       up / down (status 503)
#   HTTPS with a self-signed certificate   up without tls_verify,
#                                          down (tls: ...) with it
#
# that a backend two VIPs check the same way is probed once (connections
# counted at the server over a window), that a restarted lbd resumes the
# saved health, and clients going through the balancer while a backend
# leaves and comes back.
#
# What "0 failed client connections" can honestly mean. The balancer is
# layer 4 with direct return: it never sees the backend's answer, so it
# cannot retry a SYN elsewhere. A client that connects to a backend whose
# server has just died gets a reset until the check notices, and no
# balancer can hide that; what it owes is to notice within fall x interval
# + timeout. So the test runs both ways an operator meets:
#
#  - drain by health (phase A): the backend's health endpoint answers 503
#    first, its server stops only once the balancer has taken it out, and
#    comes back before the endpoint says 200 again. This is how a planned
#    stop is done with health checks, and it must cost no client a failure.
#    One race remains: health down takes a backend out, so a handshake
#    whose SYN went to the backend and whose ACK arrives after the swap
#    meets the other backend's reset. The window is the SYN-ACK round trip,
#    so clients retry once at once, as HTTP clients do on a reset, and a
#    request fails only if the retry fails too. First attempts that failed
#    are counted and printed; there may be at most 2 (one per swap).
#  - hard stop (phase B): the server is killed. Requests are retried up to
#    8 times, 150 ms apart (a client's reconnect backoff); none may fail,
#    and every failed attempt must have started within fall x interval +
#    timeout (+ a margin for a loaded machine) of the kill: after that the
#    backend gets no new connection. (A retry after a reset often gets the
#    same source port back from the kernel, so the same backend: it is the
#    backoff, not the new connection, that outlasts the detection.)
#
# In both, the backend gets new connections again no sooner than (rise - 1)
# x interval and no later than rise x interval (+ the margin) after its
# server or endpoint is back, and is taken out no sooner than (fall - 1) x
# interval after it stops answering.
#
# Usage: health_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root health_test
netns_private health_test "$0" "$@"
netns_init

lbd=${LBD_BIN:-$build/user/lbd}
lbctl=$build/user/lbctl
tag=hct$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb
be1=$tag-b1 be2=$tag-b2 zoo=$tag-b3 deaf=$tag-b4
work=$NETNS_WORK
sock=$work/lbd.sock
# Every check: every 300 ms, 250 ms to answer (a loaded machine's Python
# servers need it), up after 3 passes, down after 3 failures.
interval=300 timeout=250 rise=3 fall=3
# Slack on top of the bounds, for a machine other tests load.
margin_ms=2000

# The trap stops the clients; the namespaces' processes die with them.
test_cleanup() { touch "$work/stop"; }
fail() { netns_fail health_test "$work/lbd.log" "$@"; }
now_ms() { date +%s%3N; }
ctl() { "$lbctl" -s "$sock" "$@"; }

# --- the testbed ----------------------------------------------------------
# be1, be2: the web VIPs' backends (198.18.3.1, .2): an echo server on
# port 80 of every address (the VIPs' traffic and the TCP check both reach
# it) and a health endpoint on 8080. zoo (198.18.3.3): one server of each
# kind on its own port. deaf (198.18.3.4): a listener behind lb_syndrop.
netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "$be1" "$be2" "$zoo" "$deaf"
for ns in $be1 $be2; do
	nsx "$ns" ip addr add 198.18.100.2/32 dev lo
done
nsx "$deaf" ip -force link set dev b0 xdp obj "$build/kern/lb_syndrop.bpf.o" sec xdp

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=backend.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
	fail "openssl cannot make a certificate"

hc=$src/test/hc_server.py
serve() { # NS COMMAND...: a server in NS, its pid in $serve_pid
	local ns=$1
	shift
	# Not through nsx: $! must be the server itself, to stop it.
	ip netns exec "$ns" "$@" </dev/null >>"$work/servers.log" 2>&1 &
	serve_pid=$!
}
echo_start() { # N: be<N>'s echo server
	local ns
	ns=$([ "$1" = 1 ] && echo "$be1" || echo "$be2")
	serve "$ns" "$src/test/echo_server.py" "be$1" 0.0.0.0 80
	eval "echo$1=$serve_pid"
}
echo_start 1
echo_start 2
serve "$be1" "$hc" http 198.18.3.1 8080 --drain "$work/drain1"
serve "$be2" "$hc" http 198.18.3.2 8080 --drain "$work/drain2"
serve "$zoo" "$hc" count 198.18.3.3 81 --log "$work/count81"
serve "$zoo" "$hc" silent 198.18.3.3 83
serve "$zoo" "$hc" http 198.18.3.3 85 --log "$work/http85"
serve "$zoo" "$hc" http 198.18.3.3 87 --tls "$work/cert.pem" "$work/key.pem"
serve "$zoo" "$hc" short 198.18.3.3 88
serve "$be1" "$hc" count 198.18.3.1 82 --log "$work/count82"
serve "$deaf" "$hc" count 198.18.3.4 84 --log "$work/count84"

listening() { # NS ADDRESS:PORT
	for _ in $(seq 100); do
		nsx "$1" ss -Hltn "sport = :${2##*:}" | grep -q . && return 0
		sleep 0.05
	done
	fail "nothing listens on $2 in $1"
}
echo1_stop() {
	kill "$echo1"
	wait "$echo1" 2>/dev/null || true
	nsx "$be1" ss -Hltn "sport = :80" | grep -q . && fail "be1's server still listens"
	return 0
}
listening "$be1" 0.0.0.0:80
listening "$be2" 0.0.0.0:80
listening "$be1" 198.18.3.1:8080
listening "$be2" 198.18.3.2:8080
for p in 81 83 85 87 88; do listening "$zoo" "198.18.3.3:$p"; done
listening "$deaf" 198.18.3.4:84
listening "$be1" 198.18.3.1:82

# --- the config -------------------------------------------------------------
vip() { # NAME ADDRESS CHECK BACKENDS
	printf '    { "name": "%s", "address": "%s", "port": 80, "protocol": "tcp", "table_size": 251,\n' "$1" "$2"
	printf '      "health_check": %s,\n      "backends": [ %s ] }' "$3" "$4"
}
check() { # TYPE PORT [MORE KEYS]; HC_SLOW=1: a 1 s interval and timeout
	local i=$interval t=$timeout
	[ -n "${HC_SLOW:-}" ] && i=1000 t=1000
	echo "{ \"type\": \"$1\", \"port\": $2, \"interval_ms\": $i, \"timeout_ms\": $t, \"rise\": $rise, \"fall\": $fall${3:+, $3} }"
}
web_backends='{ "address": "198.18.3.1" }, { "address": "198.18.3.2" }'
zoo_be='{ "address": "198.18.3.3" }'
{
	cat <<EOF
{
  "interface": "l0",
  "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state",
  "control_socket": "$sock",
  "vips": [
EOF
	vip web-http 198.18.100.1 "$(check http 8080 '"path": "/health"')" "$web_backends"
	echo ","
	vip web-tcp 198.18.100.2 "$(check tcp 80)" "$web_backends"
	echo ","
	vip tcp-up 198.18.100.11 "$(check tcp 81)" "$zoo_be"
	echo ","
	vip tcp-up-too 198.18.100.12 "$(check tcp 81)" "$zoo_be"
	echo ","
	vip tcp-closed 198.18.100.13 "$(check tcp 82)" "$zoo_be"
	echo ","
	vip http-silent 198.18.100.14 "$(check http 83)" "$zoo_be"
	echo ","
	vip http-short 198.18.100.20 "$(check http 88)" "$zoo_be"
	echo ","
	vip tcp-deaf 198.18.100.15 "$(check tcp 84)" '{ "address": "198.18.3.4" }'
	echo ","
	# A timeout as long as the interval: see 'owed' below.
	vip tcp-deaf-slow 198.18.100.25 \
		'{ "type": "tcp", "port": 84, "interval_ms": 1000, "timeout_ms": 1000, "rise": 3, "fall": 3 }' \
		'{ "address": "198.18.3.4" }'
	echo ","
	vip http-200 198.18.100.16 "$(check http 85 '"path": "/status/200"')" "$zoo_be"
	echo ","
	# An interim 103 before the answer: the answer counts.
	vip http-early-200 198.18.100.23 "$(check http 85 '"path": "/early/200"')" "$zoo_be"
	echo ","
	vip http-early-503 198.18.100.24 "$(check http 85 '"path": "/early/503"')" "$zoo_be"
	echo ","
	# The backend's own port and path beat the VIP's: 9 would be refused,
	# /status/200 would pass.
	vip http-503 198.18.100.17 "$(check http 9 '"path": "/status/200"')" \
		'{ "address": "198.18.3.3", "health_check": { "port": 85, "path": "/status/503" } }'
	echo ","
	# A TLS handshake with a Python server on a machine other jobs load
	# took over 250 ms three times in a row once: the https checks get a
	# second, so that only a refused certificate takes them down.
	vip https-noverify 198.18.100.18 "$(HC_SLOW=1 check https 87)" "$zoo_be"
	echo ","
	vip https-verify 198.18.100.19 "$(HC_SLOW=1 check https 87 '"tls_verify": true')" "$zoo_be"
	printf '\n  ]\n}\n'
} >"$work/lbd.json"
"$lbd" --check "$work/lbd.json" || fail "the test's config is refused"

start_lbd() {
	: >"$work/lbd.log"
	netns_lbd_start "$lb" "$work/lbd.log" 'control socket ' "$lbd" --config "$work/lbd.json" ||
		fail "lbd did not start"
}

# health VIP ADDRESS: "STATE|REASON|LAST_PROBE_OK|SINCE_MS" from lbctl -j.
health() {
	ctl -j backend list "$1" | /usr/bin/python3 -c '
import json, sys
b = next(x for x in json.load(sys.stdin) if x["address"] == sys.argv[1])
h, p = b["health"], b["health"]["last_probe"]
print("%s|%s|%s|%d" % (h["state"], h["reason"], "-" if p is None else p["ok"], h["since_ms"]))' "$2"
}
# wait_health VIP ADDRESS STATE SECONDS: until lbctl shows STATE.
wait_health() {
	local end=$(($(date +%s) + $4))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(health "$1" "$2" | cut -d'|' -f1)" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$1 $2 is not $3 after $4 s: $(health "$1" "$2")"
}
# expect VIP ADDRESS STATE REASON_PATTERN LOG_PATTERN: what lbctl and the log say.
expect() {
	local got
	wait_health "$1" "$2" "$3" 10
	got=$(health "$1" "$2")
	[[ "$got" =~ ^$3\|$4\| ]] || fail "$1: health is '$got', want $3 ($4)"
	if [ "$3" = down ]; then
		[[ "$got" =~ \|False\| ]] || fail "$1: the last probe did not fail: $got"
		grep -Eq "lbd\[warn\]: health: $5 is down \($4\); VIPs? (.*, )?$1(,| and|\$)" \
			"$work/lbd.log" || fail "$1: no log line 'health: $5 is down ($4); VIP $1'"
	else
		[[ "$got" =~ \|True\| ]] || fail "$1: the last probe did not pass: $got"
		grep -Eq "health: $5 is down .*; VIPs? (.*, )?$1(,| and|\$)" "$work/lbd.log" &&
			fail "$1: logged down: $5"
	fi
	echo "   $1: $got"
}

netns_step "lbd starts with every check"
start_lbd

netns_step "each kind of server: what lbctl and the log say"
expect tcp-up 198.18.3.3 up ok '198\.18\.3\.3:81 tcp'
expect tcp-closed 198.18.3.3 down refused '198\.18\.3\.3:82 tcp'
expect http-silent 198.18.3.3 down 'timeout after 250 ms' '198\.18\.3\.3:83 http/'
expect http-short 198.18.3.3 down 'not an HTTP answer' '198\.18\.3\.3:88 http/'
expect tcp-deaf 198.18.3.4 down 'timeout after 250 ms' '198\.18\.3\.4:84 tcp'
# With timeout_ms equal to interval_ms each probe still runs when the next
# is due; that one starts as soon as it ends (owed), not an interval later
# (skipped), so the silent backend is down within the first start (up to
# an interval) + fall x interval, not about twice that.
expect tcp-deaf-slow 198.18.3.4 down 'timeout after 1000 ms' '198\.18\.3\.4:84 tcp'
started=$(ctl -j status | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["started_ms"])')
since=$(health tcp-deaf-slow 198.18.3.4 | cut -d'|' -f4)
echo "   tcp-deaf-slow down $((since - started)) ms after the start (bound 4700)"
[ $((since - started)) -le 4700 ] ||
	fail "tcp-deaf-slow down $((since - started)) ms after the start, want at most 1000 + 3 x 1000 + 700"
expect http-200 198.18.3.3 up ok '198\.18\.3\.3:85 http/status/200'
expect http-503 198.18.3.3 down 'status 503' '198\.18\.3\.3:85 http/status/503'
expect http-early-200 198.18.3.3 up ok '198\.18\.3\.3:85 http/early/200'
expect http-early-503 198.18.3.3 down 'status 503' '198\.18\.3\.3:85 http/early/503'
expect https-noverify 198.18.3.3 up ok '198\.18\.3\.3:87 https/'
expect https-verify 198.18.3.3 down 'tls: [^|]+' '198\.18\.3\.3:87 https/'
# The deaf server saw no handshake: its SYNs were dropped, not refused.
[ ! -s "$work/count84" ] || fail "the SYN-dropping server accepted connections"
# The HTTP checks asked for the paths they were given, and nothing else.
grep -q ' /status/503$' "$work/http85" || fail "no request for the backend's own path"
grep -Evq ' /(status|early)/(200|503)$' "$work/http85" && fail "other requests: $(sort -u -k2 "$work/http85")"
ctl backend list http-503 | grep -Eq '198\.18\.3\.3 .* down [0-9]+[smhd] \(status 503\) +in \(kept\) ' ||
	fail "lbctl backend list: $(ctl backend list http-503)"

netns_step "one probe for a backend two VIPs check the same way"
ctl -j status | /usr/bin/python3 -c '
import json, sys
h = json.load(sys.stdin)["health"]
# web-http 2, web-tcp 2, the zoo 12 (tcp-up and tcp-up-too share one).
assert h["targets"] == 16 and h["backends"] == 17, h' || fail "targets: $(ctl -j status)"
window=4
start=$(wc -l <"$work/count81")
sleep $window
n=$(($(wc -l <"$work/count81") - start))
# One target at 300 ms makes 13 in 4 s; two would make 26.
echo "   port 81 saw $n connections in $window s"
[ "$n" -ge 9 ] && [ "$n" -le 18 ] || fail "port 81 saw $n connections in $window s, want 13 (one probe per interval)"

# --- clients through the balancer --------------------------------------------
# clients.py VIP OUT TRIES GAP_S: a new connection at a time, each read
# for its greeting (the backend's name), until WORK/stop appears (at most
# 4000 requests or 60 s). A request is up to TRIES attempts GAP_S apart;
# each attempt is a line "START_MS REQUEST be1|be2|FAIL" in OUT.
cat >"$work/clients.py" <<'PY'
import os, socket, sys, time
vip, out, tries, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
stop = os.path.join(os.path.dirname(out), "stop")
end = time.time() + 60
with open(out, "w", buffering=1) as f:
    for n in range(4000):
        if os.path.exists(stop) or time.time() > end:
            break
        for _ in range(tries):
            t = time.time()
            try:
                with socket.create_connection((vip, 80), timeout=2) as c:
                    name = c.makefile("rb").readline().decode().strip()
                if not name:
                    raise OSError("no greeting")
                f.write("%d %d %s\n" % (t * 1000, n, name))
                break
            except OSError:
                f.write("%d %d FAIL\n" % (t * 1000, n))
                time.sleep(gap)
        time.sleep(0.01)
PY
clients_start() { # VIP OUT TRIES GAP_S
	rm -f "$work/stop"
	nsx "$cl" /usr/bin/python3 "$work/clients.py" "$@" &
	clients_pid=$!
	for _ in $(seq 100); do
		[ -s "$2" ] && [ "$(grep -c ' be1$' "$2")" -ge 5 ] &&
			[ "$(grep -c ' be2$' "$2")" -ge 5 ] && return 0
		sleep 0.1
	done
	fail "clients do not reach both backends: $(cut -d' ' -f3 "$2" | sort | uniq -c)"
}
clients_stop() {
	touch "$work/stop"
	wait "$clients_pid" || fail "the clients failed"
}
# wait_log PATTERN SECONDS: until a line of the lbd log after the mark
# (log_mark) matches it.
log_mark() { log_from=$(($(wc -l <"$work/lbd.log") + 1)); }
wait_log() {
	for _ in $(seq $(($2 * 20))); do
		tail -n +"$log_from" "$work/lbd.log" | grep -Eq "$1" && return 0
		sleep 0.05
	done
	fail "no log line '$1' after $2 s"
}
# judge OUT FROM_MS BACK_MS EARLIEST_MS MAX_FIRST_FAILS: the clients'
# record against the bounds: no failed request, at most MAX_FIRST_FAILS
# failed first attempts, and none after FROM; no be1 between FROM and
# BACK; be1 again after BACK, not before EARLIEST and within rise x
# interval (+ margin).
judge() {
	/usr/bin/python3 - "$@" "$interval" "$rise" "$margin_ms" <<'PY'
import sys
out, frm, back, earliest, max_first, interval, rise, margin = sys.argv[1], *map(int, sys.argv[2:])
rows = [l.split() for l in open(out)]
att = [(int(t), int(n), who) for t, n, who in rows]
reqs = {}
for t, n, who in att:
    reqs.setdefault(n, []).append(who)
failed = [n for n, w in reqs.items() if w[-1] == "FAIL"]
first = [n for n, w in reqs.items() if w[0] == "FAIL"]
late_fail = [t for t, n, who in att if who == "FAIL" and t > frm]
on_be1 = [t for t, n, who in att if who == "be1" and frm < t < back]
# The test keeps be1 out past the bound, so there is a window to judge.
window = [t for t, n, who in att if frm < t < back]
assert back - frm >= 1000, "only %d ms between the bound and be1's return" % (back - frm)
assert len(window) >= 10, "%d attempts between the bound and be1's return" % len(window)
again = [t for t, n, who in att if who == "be1" and t > back]
print("   %d requests, %d attempts; %d first attempts failed, %d requests failed"
      % (len(reqs), len(att), len(first), len(failed)))
assert not failed, "failed requests: %s" % failed
assert len(first) <= max_first, "%d first attempts failed" % len(first)
assert not late_fail, "attempts failed %s ms after the bound" % [t - frm for t in late_fail]
assert not on_be1, "be1 took new connections %s ms after the bound" % [t - frm for t in on_be1]
assert again, "be1 got no connection after it came back"
print("   be1 again %d ms after it came back" % (again[0] - back))
assert again[0] >= earliest, "up %d ms before rise x interval" % (earliest - again[0])
assert again[0] <= back + rise * interval + margin, "up too late"
PY
}
bound_ms=$((fall * interval + timeout))
# until_ms T: sleep until the clock reads T (ms).
until_ms() { while [ "$(now_ms)" -lt "$1" ]; do sleep 0.05; done; }
# A probe that started up to a timeout before the endpoint changed may
# meet the new answer: phase A's lower bounds allow for it.
early_ms=$timeout

netns_step "phase A: a drain by health: the endpoint says 503, then the server stops"
clients_start 198.18.100.1 "$work/phase_a" 2 0
log_mark
t_drain=$(now_ms)
touch "$work/drain1"
wait_log 'health: 198\.18\.3\.1:8080 http/health is down \(status 503\)' 5
wait_health web-http 198.18.3.1 down 1
since=$(health web-http 198.18.3.1 | cut -d'|' -f4)
echo "   down $((since - t_drain)) ms after the endpoint said 503 (bound $bound_ms)"
[ "$since" -ge $((t_drain - early_ms + (fall - 1) * interval)) ] || fail "down before fall x interval"
[ "$since" -le $((t_drain + bound_ms + margin_ms)) ] || fail "down too late"
sleep 1
echo1_stop
sleep 1
echo_start 1
listening "$be1" 0.0.0.0:80
# be1 stays out 1.5 s past the bound, the window judge() checks.
until_ms $((t_drain + bound_ms + margin_ms + 1500))
log_mark
t_back=$(now_ms)
rm "$work/drain1"
wait_log 'health: 198\.18\.3\.1:8080 http/health is up again' 5
sleep 1
clients_stop
judge "$work/phase_a" $((t_drain + bound_ms + margin_ms)) "$t_back" \
	$((t_back - early_ms + (rise - 1) * interval)) 2 || fail "phase A: the clients' record"

netns_step "phase B: a hard stop: the server is killed, then started again"
wait_health web-tcp 198.18.3.1 up 5
clients_start 198.18.100.2 "$work/phase_b" 8 0.15
log_mark
t_kill=$(now_ms)
echo1_stop
wait_log 'health: 198\.18\.3\.1:80 tcp is down \(refused\)' 5
since=$(health web-tcp 198.18.3.1 | cut -d'|' -f4)
echo "   down $((since - t_kill)) ms after the kill (bound $bound_ms)"
[ "$since" -ge $((t_kill + (fall - 1) * interval)) ] || fail "down before fall x interval"
[ "$since" -le $((t_kill + bound_ms + margin_ms)) ] || fail "down too late"
until_ms $((t_kill + bound_ms + margin_ms + 1500))
log_mark
t_back=$(now_ms)
echo_start 1
wait_log 'health: 198\.18\.3\.1:80 tcp is up again' 5
sleep 1
clients_stop
judge "$work/phase_b" $((t_kill + bound_ms + margin_ms)) "$t_back" \
	$((t_back + (rise - 1) * interval)) 1000 || fail "phase B: the clients' record"

netns_step "a restarted lbd resumes the saved health, reason and time"
before=$(health tcp-closed 198.18.3.3 | cut -d'|' -f1,2,4)
kill -TERM "$NETNS_LBD_PID"
wait "$NETNS_LBD_PID" || fail "lbd exited non-zero on SIGTERM"
grep -q '"reason": *"refused"' "$work/state/state.json" || fail "the state file has no reason"
start_lbd
after=$(health tcp-closed 198.18.3.3 | cut -d'|' -f1,2,4)
[ "$after" = "$before" ] || fail "after the restart: '$after', before: '$before'"
grep -q 'state restored from' "$work/lbd.log" || fail "no state restored line"

# A reload adds a VIP whose check of 198.18.3.3 is one lbd runs already
# and knows down. The new VIP's table is written before health tells the
# new VIP so; that news must still reach its table.
netns_step "a new VIP sharing a check that knows its backend down: out of its table"
/usr/bin/python3 - "$work/lbd.json" "$interval" "$timeout" "$rise" "$fall" <<'PY'
import json, sys
path, interval, timeout, rise, fall = sys.argv[1], *map(int, sys.argv[2:])
cfg = json.load(open(path))
cfg["vips"].append({"name": "closed-shared", "address": "198.18.100.21", "port": 80,
                    "protocol": "tcp", "table_size": 251,
                    "health_check": {"type": "tcp", "port": 82, "interval_ms": interval,
                                     "timeout_ms": timeout, "rise": rise, "fall": fall},
                    "backends": [{"address": "198.18.3.3"}, {"address": "198.18.3.1"}]})
json.dump(cfg, open(path, "w"), indent=2)
PY
kill -HUP "$NETNS_LBD_PID"
wait_health closed-shared 198.18.3.1 up 10
ctl -j backend list closed-shared | /usr/bin/python3 -c '
import json, sys
b = {x["address"]: x for x in json.load(sys.stdin)}
assert b["198.18.3.3"]["health"]["state"] == "down", b["198.18.3.3"]
assert b["198.18.3.3"]["slots"] == 0 and b["198.18.3.1"]["slots"] == 251, b' ||
	fail "closed-shared: $(ctl backend list closed-shared)"

# tcp-up has 198.18.3.3 up, tcp-closed has it down. A reload gives both
# one new check of the open port: one new target, fed by VIPs that
# disagree. It starts unknown, so its first verdict (up) reaches both;
# had it started from either VIP's, tcp-closed would stay down for good.
netns_step "a new check shared by VIPs that disagree: its first verdict reaches both"
/usr/bin/python3 - "$work/lbd.json" "$interval" "$((timeout - 10))" "$rise" "$fall" <<'PY'
import json, sys
path, interval, timeout, rise, fall = sys.argv[1], *map(int, sys.argv[2:])
cfg = json.load(open(path))
for v in cfg["vips"]:
    if v["name"] in ("tcp-up", "tcp-closed"):
        v["health_check"] = {"type": "tcp", "port": 81, "interval_ms": interval,
                             "timeout_ms": timeout, "rise": rise, "fall": fall}
json.dump(cfg, open(path, "w"), indent=2)
PY
log_mark
kill -HUP "$NETNS_LBD_PID"
wait_log 'health: 198\.18\.3\.3:81 tcp is up again; VIPs (tcp-up, tcp-closed|tcp-closed, tcp-up)$' 10
expect tcp-closed 198.18.3.3 up ok '198\.18\.3\.3:81 tcp'
expect tcp-up 198.18.3.3 up ok '198\.18\.3\.3:81 tcp'

echo "health_test: all passed"
