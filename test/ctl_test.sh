#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# lbctl and lbd's control socket, end to end, in network namespaces: the
# output of every command against golden files (text and JSON), who may
# read and who may change, malformed, oversize, stalled and too many
# requests, and a drain with real TCP connections: new ones avoid the
# backend, established ones go on, drain --wait times out while they live
# and returns once they end, and the drain outlives SIGKILL.
#
# Usage: ctl_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
# CTL_GOLDEN_UPDATE=1 writes the golden files instead of comparing; LBD_BIN=PATH
# runs another lbd binary (to see that a test catches a known bug).
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root ctl_test
netns_private ctl_test "$0" "$@"
netns_init

lbd=${LBD_BIN:-$build/user/lbd}
lbctl=$build/user/lbctl
golden=$src/test/ctl
tag=ctlt$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
sock=$work/run/lbd.sock
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
	touch "$work/stop"
	umount "$work/state" 2>/dev/null
}

step() { netns_step "$@"; }
fail() { netns_fail ctl_test "$work/lbd.log" "$@"; }

# --- the testbed: client, router, node, two backends ------------------------
netns_topology "$cl" "$rt" "$lb" "$build/kern/lb_pass.bpf.o"
netns_backends "$rt" "$build/kern/lb_decap.bpf.o" "$be1" "$be2"

netns_echo_servers "$src/test/echo_server.py" "$be1" "$be2"

# The socket's directory must be reachable by the unprivileged peers below.
chmod 711 "$work"
cat >"$work/lbd.json" <<EOF
{
  "interface": "l0",
  "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state",
  "control_socket": "$sock",
  "control_group": "nogroup",
  "vips": [
    { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
      "table_size": 251, "allow": [ "198.18.0.0/24", "fd00:c::/64" ],
      "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" } ] },
    { "name": "api", "address": "198.18.100.2", "port": 443, "protocol": "tcp",
      "table_size": 251, "health_check": { "type": "tcp", "interval_ms": 3600000 },
      "backends": [ { "address": "198.18.4.1" }, { "address": "198.18.4.2" },
                    { "address": "198.18.4.3", "state": "drain" } ] }
  ]
}
EOF
# The api VIP's saved state: one backend down by health, one reweighted.
# A tmpfs of its own, so that a step below can make it read-only.
mkdir -p "$work/state"
mount -t tmpfs -o size=4m ctl-test-state "$work/state"
cat >"$work/state/state.json" <<EOF
{ "format": 1, "saved_ms": 1700000000000, "vips": [
  { "vip": "198.18.100.2:443/tcp", "name": "api", "backends": [
    { "address": "198.18.4.1", "config": { "state": "active", "weight": 100 },
      "health": { "state": "down", "since_ms": 1700000000000, "reason": "refused" } },
    { "address": "198.18.4.2", "config": { "state": "active", "weight": 100 },
      "override": { "weight": 50, "since_ms": 1700000000000 } } ] } ] }
EOF

start_lbd() {
	local rc=0
	: >"$work/lbd.log"
	netns_lbd_start "$lb" "$work/lbd.log" 'control socket ' "$lbd" --config "$work/lbd.json" ||
		rc=$?
	lbd_pid=$NETNS_LBD_PID
	[ "$rc" -eq 0 ] || fail "lbd did not start"
}
start_lbd

ctl() { "$lbctl" -s "$sock" "$@"; }
# ctl_rc WANT ARGS...: lbctl must exit WANT.
ctl_rc() {
	local want=$1 rc=0
	shift
	ctl "$@" >"$work/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "lbctl $* exited $rc, want $want: $(cat "$work/out")"
}

# --- golden output ------------------------------------------------------------
# What changes from run to run is masked: the work directory, times, the
# program id, counters the node's own traffic moves.
mask() {
	sed -E -e "s#$work#WORK#g" \
		-e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g' \
		-e 's/"(since_ms|loaded_ms|started_ms|uptime_s|all_down_since_ms)":[0-9]+/"\1":N/g' \
		-e 's/"program_id":[0-9]+/"program_id":N/; s/program [0-9]+/program N/' \
		-e 's/ up [0-9]+[smhd]/ up N/; s/\b[0-9]+[smhd]\b/Nt/g' \
		-e '/^verdicts:/s/[0-9]+/N/g; s/"verdicts":\{[^}]*\}/"verdicts":N/' \
		-e 's/"probes":[0-9]+/"probes":N/; s/"last_probe":(null|\{[^}]*\})/"last_probe":P/g'
}
check_golden() { # NAME ARGS...
	local name=$1
	shift
	ctl "$@" | mask >"$work/got" || fail "lbctl $* failed"
	if [ -n "${CTL_GOLDEN_UPDATE:-}" ]; then
		cp "$work/got" "$golden/$name"
		return
	fi
	diff -u "$golden/$name" "$work/got" >&2 || fail "lbctl $*: output differs from test/ctl/$name"
}

step "golden output of every command, as text and as JSON"
sed 's/{ "address": "198.18.3.2" }/{ "address": "198.18.3.2", "weight": 300 }, { "address": "198.18.3.9" }/' \
	"$work/lbd.json" >"$work/new.json"
for form in txt json; do
	opt=()
	[ "$form" = json ] && opt=(-j)
	check_golden "status.$form" "${opt[@]}" status
	check_golden "vip_list.$form" "${opt[@]}" vip list
	check_golden "vip_show.$form" "${opt[@]}" vip show api
	check_golden "backend_list.$form" "${opt[@]}" backend list api
	check_golden "stats.$form" "${opt[@]}" stats api
	check_golden "stats_all.$form" "${opt[@]}" stats
	check_golden "flow_explain.$form" "${opt[@]}" flow explain tcp 198.18.0.1 40000 198.18.100.2 443
	check_golden "weight.$form" "${opt[@]}" backend weight api 198.18.4.3 7
	check_golden "reset.$form" "${opt[@]}" backend reset api 198.18.4.3
	check_golden "drain.$form" "${opt[@]}" backend drain api 198.18.4.2
	check_golden "drain_wait.$form" "${opt[@]}" backend drain api 198.18.4.2 --wait --idle 1
	check_golden "undrain.$form" "${opt[@]}" backend undrain api 198.18.4.3
	check_golden "down.$form" "${opt[@]}" backend down api 198.18.4.3
	ctl backend reset api 198.18.4.3 >/dev/null
	ctl backend reset api 198.18.4.2 >/dev/null
	ctl backend weight api 198.18.4.2 50 >/dev/null
	check_golden "config_validate.$form" "${opt[@]}" config validate "$work/new.json"
	check_golden "config_diff.$form" "${opt[@]}" config diff "$work/new.json"
	check_golden "config_apply.$form" "${opt[@]}" config apply "$work/lbd.json"
	check_golden "config_show.$form" "${opt[@]}" config show
	check_golden "block_add.$form" "${opt[@]}" block add 198.19.0.0/16
	ctl block add fd00:bad::/32 >/dev/null
	check_golden "block_list.$form" "${opt[@]}" block list
	check_golden "block_del.$form" "${opt[@]}" block del 198.19.0.0/16
	ctl block del fd00:bad::/32 >/dev/null
done

step "errors: exit codes and the JSON error form"
ctl_rc 65 vip show nope
grep -q 'no VIP "nope"' "$work/out" || fail "no message: $(cat "$work/out")"
ctl_rc 65 -j backend drain web 198.18.3.9
grep -q '"code":"not_found"' "$work/out" || fail "JSON error: $(cat "$work/out")"
ctl_rc 64 backend drain web
# lbctl knows lbd's limits: an idle time lbd would refuse is a usage error.
ctl_rc 64 backend drain web 198.18.3.1 --wait --idle 7200
grep -q -- '--idle SECONDS (1..3600)' "$work/out" || fail "idle range: $(cat "$work/out")"
ctl_rc 65 backend weight web 198.18.3.1 0
ctl_rc 69 -s "$work/nothing.sock" status
ctl_rc 65 block add 198.19.0.1/16
grep -q '"198.19.0.1/16" is not ADDRESS\[/LENGTH\] with the host bits zero' "$work/out" ||
	fail "bad prefix: $(cat "$work/out")"
ctl_rc 65 block del 198.19.0.0/16
grep -q 'is not in the operator' "$work/out" || fail "del of nothing: $(cat "$work/out")"
ctl block add 198.19.0.0/16 >/dev/null
ctl_rc 65 -j block add 198.19.0.0/16
grep -q '"code":"conflict"' "$work/out" || fail "add twice: $(cat "$work/out")"
ctl block del 198.19.0.0/16 >/dev/null

step "permissions: outside the group refused, a member reads but cannot change"
outsider=(setpriv --reuid=65534 --regid=4242 --clear-groups)
member=(setpriv --reuid=65534 --regid=65534 --clear-groups)
rc=0
"${outsider[@]}" "$lbctl" -s "$sock" status >"$work/out" 2>&1 || rc=$?
[ "$rc" -eq 77 ] || fail "an outsider got exit $rc: $(cat "$work/out")"
grep -q 'Permission denied' "$work/out" || fail "no clear message: $(cat "$work/out")"
"${member[@]}" "$lbctl" -s "$sock" backend list web >/dev/null || fail "a group member cannot read"
rc=0
"${member[@]}" "$lbctl" -s "$sock" backend drain web 198.18.3.1 >"$work/out" 2>&1 || rc=$?
[ "$rc" -eq 77 ] || fail "a group member's drain exited $rc: $(cat "$work/out")"
grep -q 'needs root or the control_admin_group' "$work/out" || fail "message: $(cat "$work/out")"
ctl -j backend list web >"$work/list"
grep -q '"override":{' "$work/list" && fail "the refused drain changed something"
grep -q "control: uid 0 pid [0-9]*: backend weight api 198.18.4.3 7" "$work/lbd.log" ||
	fail "a change was not logged with its peer"

step "malformed, oversize, stalled, departed and too many clients: replies, and lbd goes on"
"$src/test/lbmaps.py" /sys/fs/bpf/sluice/l0 198.18.100.1 80 >"$work/maps.before"
ctl -j backend list >"$work/list.before"
/usr/bin/python3 - "$sock" <<'PY' || fail "socket abuse"
import json, select, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(15)
    return s
def reply(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)
s = conn()
for bad, want in ((b"not json\n", "bad_request"), (b"[1, 2]\n", "bad_request"),
                  (b'{"cmd": "status", "cmd": "x"}\n', "bad_request"),
                  (b'{"cmd": "vip.show", "vip": "web", "extra": 1}\n', "bad_request"),
                  # Keys another change takes, a wait that is not a boolean,
                  # a flow without its ports: refused before anything changes.
                  (b'{"cmd": "backend.undrain", "vip": "web", "backend": "198.18.3.1", '
                   b'"weight": 5}\n', "bad_request"),
                  (b'{"cmd": "backend.drain", "vip": "web", "backend": "198.18.3.1", '
                   b'"wait": 1}\n', "bad_request"),
                  (b'{"cmd": "flow.explain", "proto": "tcp", "src": "198.18.0.1", '
                   b'"dst": "198.18.100.1", "dport": 80}\n', "bad_request")):
    s.sendall(bad)
    r = reply(s)
    assert r and not r["ok"] and r["code"] == want, (bad, r)
s.sendall(b'{"cmd": "status"}\n')
assert reply(s)["ok"], "the connection is not usable after bad requests"
# Oversize: an error, then the connection is closed.
big = conn()
big.sendall(b"{" + b" " * 70000)
r = reply(big)
assert r and r["code"] == "bad_request" and "65536" in r["error"], r
assert reply(big) is None, "an oversize request's connection stayed open"
# A stalled client does not hold others up, and is closed 10 s after its
# request began, even one that trickles a byte every 4 s.
stalled = conn()
stalled.sendall(b'{"cmd": "sta')
trickle = conn()
trickle.sendall(b'{')
t0 = time.time()
other = conn()
other.sendall(b'{"cmd": "vip.list"}\n')
assert reply(other)["ok"] and time.time() - t0 < 2, "a stalled client held another up"
for k in (1, 2):
    time.sleep(max(0, t0 + 4 * k - time.time()))
    trickle.sendall(b' ')
assert reply(stalled) is None and 8 < time.time() - t0 < 14, "the stalled client was not closed"
assert reply(trickle) is None and time.time() - t0 < 14, "a trickling client was kept"
# Clients that leave before their reply cost lbd a failed send, not its life.
for _ in range(20):
    c = conn()
    c.sendall(b'{"cmd": "backend.list"}\n')
    c.close()
time.sleep(0.5)
s.sendall(b'{"cmd": "status"}\n')
assert reply(s)["ok"], "lbd went away with a client that left early"
# Too many clients: the one over the limit is told so.
many = [conn() for _ in range(70)]
told, end = 0, time.time() + 3
while time.time() < end and told < 6:
    ready, _, _ = select.select(many, [], [], 0.2)
    for c in ready:
        r = reply(c)
        told += bool(r and r["error"] == "too many clients")
        many.remove(c)
        c.close()
assert told >= 6, "clients over the limit were not told: %d" % told
for c in many:
    c.close()
s.sendall(b'{"cmd": "status"}\n')
assert reply(s)["ok"]
PY
kill -0 "$lbd_pid" || fail "lbd died"
"$src/test/lbmaps.py" /sys/fs/bpf/sluice/l0 198.18.100.1 80 >"$work/maps.after"
ctl -j backend list >"$work/list.after"
cmp -s "$work/maps.before" "$work/maps.after" || fail "the abuse changed the data path"
cmp -s "$work/list.before" "$work/list.after" || fail "the abuse changed lbd's state"

# --- a drain with real connections ---------------------------------------------
# N connections held open, each pinged every 100 ms until $work/stop
# appears; their backends in FILE, then "broken N" in FILE.done.
cat >"$work/hold.py" <<'PY'
import os, socket, sys, time
n, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conns = []
for _ in range(n):
    c = socket.create_connection(("198.18.100.1", 80), timeout=5)
    f = c.makefile("rb")
    conns.append([c, f, f.readline().decode().strip()])
with open(out, "w") as w:
    w.write("".join(x[2] + "\n" for x in conns))
broken, seq, deadline = 0, 0, time.time() + 180
while not os.path.exists(stop) and time.time() < deadline and conns:
    seq += 1
    for x in list(conns):
        try:
            x[0].sendall(b"%d\n" % seq)
            if x[1].readline() != b"%d\n" % seq:
                raise OSError("wrong echo")
        except OSError:
            broken += 1
            conns.remove(x)
    time.sleep(0.1)
for x in conns:
    x[0].close()
with open(out + ".done", "w") as w:
    w.write("broken %d\n" % broken)
PY
# N new connections; the backend names that answered.
newconns() { netns_vip_conns "$cl" "$1"; }

step "drain: new connections avoid the backend, established ones go on"
newconns 40 >"$work/before"
grep -q be1 "$work/before" && grep -q be2 "$work/before" || fail "not both backends: $(sort "$work/before" | uniq -c)"
rm -f "$work/stop"
nsx "$cl" /usr/bin/python3 "$work/hold.py" 40 "$work/held" "$work/stop" &
for _ in $(seq 100); do [ -s "$work/held" ] && break; sleep 0.1; done
held_be1=$(grep -c be1 "$work/held" || true)
[ "$held_be1" -gt 0 ] || fail "no held connection on be1: $(sort "$work/held" | uniq -c)"
ctl backend drain web 198.18.3.1 >/dev/null || fail "drain failed"
newconns 100 >"$work/after"
grep -q be1 "$work/after" && fail "a new connection reached the drained backend"
ctl -j backend list web | /usr/bin/python3 -c '
import json, sys
b = {x["address"]: x for x in json.load(sys.stdin)}
assert b["198.18.3.1"]["effective"] == "draining", b["198.18.3.1"]
assert b["198.18.3.1"]["flows"] > 0, "the drained backend shows no active flows"
assert b["198.18.3.1"]["slots"] == 0 and b["198.18.3.2"]["slots"] == 251, b' ||
	fail "backend list after the drain"

step "drain --wait: times out (exit 75) while its connections live"
t0=$(date +%s)
ctl_rc 75 backend drain web 198.18.3.1 --wait --timeout 2 --idle 1
grep -q 'still has [0-9]* flows after 2 s' "$work/out" || fail "timeout message: $(cat "$work/out")"
[ $(($(date +%s) - t0)) -le 6 ] || fail "the timeout took $(($(date +%s) - t0)) s"
# The same from a client that sends a request behind it and then shuts
# its sending side (as nc -N does): both are answered, in order.
/usr/bin/python3 - "$sock" <<'PY' || fail "a half-closed client lost its drain --wait reply"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
s.sendall(b'{"cmd": "backend.drain", "vip": "web", "backend": "198.18.3.1", "wait": true, '
          b'"timeout_s": 2, "idle_s": 1}\n{"cmd": "status"}\n')
s.shutdown(socket.SHUT_WR)
lines = s.makefile().read().splitlines()
assert len(lines) == 2, lines
first, second = map(json.loads, lines)
assert first["code"] == "timeout" and second["ok"], (first, second)
PY

step "drain --wait: returns once they end; none of them broke"
touch "$work/stop"
for _ in $(seq 50); do [ -s "$work/held.done" ] && break; sleep 0.1; done
[ "$(cat "$work/held.done")" = "broken 0" ] || fail "held connections: $(cat "$work/held.done")"
t0=$(date +%s)
ctl backend drain web 198.18.3.1 --wait --timeout 30 --idle 1 >"$work/out" ||
	fail "drain --wait failed: $(cat "$work/out")"
grep -q 'drained, no flows left' "$work/out" || fail "drain --wait said: $(cat "$work/out")"
[ $(($(date +%s) - t0)) -le 10 ] || fail "drain --wait took $(($(date +%s) - t0)) s"

step "the drain outlives SIGKILL and a restart"
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
newconns 30 >"$work/dead"
grep -q be1 "$work/dead" && fail "a new connection reached be1 with lbd dead"
start_lbd
ctl -j backend list web >"$work/list"
grep -q '"address":"198.18.3.1","config":{"state":"active","weight":100},"override":{"since_ms":[0-9]*,"state":"drain"}' "$work/list" ||
	fail "the drain is gone after the restart: $(ctl backend list web)"
newconns 30 >"$work/again"
grep -q be1 "$work/again" && fail "a new connection reached be1 after the restart"

step "undrain: the backend takes new connections again"
ctl backend undrain web 198.18.3.1 >/dev/null
newconns 40 >"$work/undrained"
grep -q be1 "$work/undrained" || fail "be1 gets no new connection after undrain"

step "config validate: 0 for a good file, 78 and every error for a bad one"
pins=/sys/fs/bpf/sluice/l0
ctl config validate "$work/new.json" >"$work/out" || fail "a good config: $(cat "$work/out")"
grep -q 'valid: 2 VIPs' "$work/out" || fail "validate said: $(cat "$work/out")"
printf '{ "interface": "l0", "vips": [ { "name": "x", "address": "198.18.100.300" } ] }\n' >"$work/bad.json"
ctl_rc 78 config validate "$work/bad.json"
grep -q '/vips/0/address: ' "$work/out" && grep -q '/tunnel_source' "$work/out" ||
	fail "validate listed: $(cat "$work/out")"

step "config validate from a pipe: lbctl copies it; a raw pipe is refused at once"
ctl config validate <(cat "$work/new.json") >"$work/out" || fail "from a pipe: $(cat "$work/out")"
grep -q 'valid: 2 VIPs' "$work/out" || fail "validate of a pipe said: $(cat "$work/out")"
# A client that passes the read end of a pipe nobody writes to: lbd must
# answer it, not wait on it, and go on serving.
nsx "$lb" timeout 10 /usr/bin/python3 -c '
import array, json, os, socket, sys
r, w = os.pipe()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]).tobytes())]
s.sendmsg([b"{\"cmd\": \"config.validate\"}\n"], fds)
reply = json.loads(s.makefile().readline())
assert reply == {"ok": False, "code": "bad_request",
                 "error": "the config sent is not a regular file"}, reply
' "$sock" || fail "a pipe passed as the config was not refused at once"
ctl status >/dev/null || fail "lbd does not answer after the pipe"

step "config diff predicts what config apply installs, slot for slot"
"$src/test/lbmaps.py" "$pins" 198.18.100.1 80 >"$work/before"
ctl -j config diff "$work/new.json" >"$work/diff" || fail "diff: $(cat "$work/diff")"
ctl config diff "$work/new.json" | grep -q '^web  198.18.100.1:80/tcp  changed: ' || fail "diff text"
cp "$work/lbd.json" "$work/old.json"
ctl config apply "$work/new.json" >"$work/out" || fail "apply: $(cat "$work/out")"
grep -q 'applied: generation [0-9]*; tables swapped 1' "$work/out" || fail "apply said: $(cat "$work/out")"
"$src/test/lbmaps.py" "$pins" 198.18.100.1 80 >"$work/after"
/usr/bin/python3 - "$work/diff" "$work/before" "$work/after" <<'PY' || fail "diff and apply disagree"
import json, sys
diff, before, after = (json.load(open(p)) for p in sys.argv[1:])
web = next(v for v in diff["vips"] if v["name"] == "web")
moved = sum(a != b for a, b in zip(before["slots"], after["slots"]))
assert len(before["slots"]) == len(after["slots"]) == web["table_size"] == 251
assert moved == web["moved_slots"] > 0, (moved, web)
assert web["backends_added"] == ["198.18.3.9"], web
assert [c["address"] for c in web["backends_changed"]] == ["198.18.3.2"], web
assert next(v for v in diff["vips"] if v["name"] == "api")["moved_slots"] == 0
PY
cmp -s "$work/new.json" "$work/lbd.json" || fail "config apply did not write the config file"
ctl config show >"$work/shown"
cmp -s "$work/shown" "$work/lbd.json" || fail "config show differs from the file"

step "config diff across a new table size counts slots of the new table"
sed 's/"table_size": 251, "allow"/"table_size": 509, "allow"/' "$work/lbd.json" >"$work/bigger.json"
ctl -j config diff "$work/bigger.json" >"$work/diff" || fail "diff: $(cat "$work/diff")"
/usr/bin/python3 - "$work/diff" <<'PY' || fail "diff across table sizes: $(cat "$work/diff")"
import json, sys
d = json.load(open(sys.argv[1]))
web = next(v for v in d["vips"] if v["name"] == "web")
assert web["table_size"] == 509 and web["table_size_was"] == 251, web
assert 0 < web["moved_slots"] <= 509, web
assert web["moved_slots"] == int(web["moved_share"] * 509), web
assert d["moved_slots"] == web["moved_slots"] and d["slots"] == 509 + 251, d
PY

step "config apply of a bad file: 78, and nothing changes"
ctl_rc 78 config apply "$work/bad.json"
"$src/test/lbmaps.py" "$pins" 198.18.100.1 80 >"$work/again"
cmp -s "$work/after" "$work/again" || fail "a refused apply changed the table"
cmp -s "$work/new.json" "$work/lbd.json" || fail "a refused apply wrote the file"
sed 's/"interface": "l0"/"interface": "l9"/' "$work/new.json" >"$work/moved.json"
ctl_rc 78 config apply "$work/moved.json"
grep -q 'interface cannot change from l0 to l9' "$work/out" || fail "said: $(cat "$work/out")"
rc=0
"${member[@]}" "$lbctl" -s "$sock" config apply "$work/new.json" >"$work/out" 2>&1 || rc=$?
[ "$rc" -eq 77 ] || fail "a group member's config apply exited $rc"

# --- the block list --------------------------------------------------------------
# gets N: N new connections through the VIP must all work; refused: none may.
gets() {
	newconns "$1" >"$work/got" 2>/dev/null || fail "connections failed: $(tail -1 "$work/got")"
}
refused() {
	if nsx "$cl" /usr/bin/python3 -c "
import socket
socket.create_connection(('198.18.100.1', 80), timeout=1)" 2>/dev/null; then
		fail "$1: a denied client connected"
	fi
}
block_from() { # PREFIX: where lbctl says its deny rule comes from
	ctl -j block list | /usr/bin/python3 -c '
import json, sys
print(",".join(next((r["from"] for r in json.load(sys.stdin)
                     if r["list"] == "deny" and r["prefix"] == sys.argv[1]), [])))' "$1"
}

step "block add: the client's new and established connections fail; block del: back"
ctl config apply "$work/old.json" >/dev/null || fail "apply the first config again"
gets 5
rm -f "$work/stop" "$work/held" "$work/held.done"
nsx "$cl" /usr/bin/python3 "$work/hold.py" 2 "$work/held" "$work/stop" &
for _ in $(seq 100); do [ -s "$work/held" ] && break; sleep 0.1; done
[ -s "$work/held" ] || fail "no held connections"
ctl block add 198.18.0.1 >"$work/out" || fail "block add: $(cat "$work/out")"
grep -q '^198.18.0.1/32: denied at every VIP (operator ' "$work/out" || fail "said: $(cat "$work/out")"
refused "after block add"
sleep 1	# a round of echoes has started since: each times out (5 s)
touch "$work/stop"
for _ in $(seq 200); do [ -s "$work/held.done" ] && break; sleep 0.1; done
[ "$(cat "$work/held.done" 2>/dev/null)" = "broken 2" ] ||
	fail "held connections: $(cat "$work/held.done" 2>/dev/null)"
ctl -j block list | grep -q '"prefix":"198.18.0.1/32","vip":null,"from":\["operator"\],"id":[0-9]*,"packets":[1-9]' ||
	fail "the rule counts no packets: $(ctl -j block list)"
ctl block del 198.18.0.1 >"$work/out" || fail "block del: $(cat "$work/out")"
grep -q 'no longer denied' "$work/out" || fail "said: $(cat "$work/out")"
gets 5

step "a rule the config and the operator both hold stays until both let go"
cp "$work/lbd.json" "$work/nodeny.json"
sed 's#"vips": \[#"deny": [ "198.18.0.0/24" ],\n  "vips": [#' "$work/lbd.json" >"$work/deny.json"
ctl config apply "$work/deny.json" >"$work/out" || fail "apply deny: $(cat "$work/out")"
refused "denied by the config"
[ "$(block_from 198.18.0.0/24)" = config ] || fail "from: $(block_from 198.18.0.0/24)"
ctl block add 198.18.0.0/24 >/dev/null || fail "block add of a config rule"
[ "$(block_from 198.18.0.0/24)" = config,operator ] || fail "from: $(block_from 198.18.0.0/24)"
ctl config apply "$work/nodeny.json" >/dev/null || fail "apply without deny"
refused "the operator's rule after the config dropped it"
[ "$(block_from 198.18.0.0/24)" = operator ] || fail "from: $(block_from 198.18.0.0/24)"
ctl config apply "$work/deny.json" >/dev/null
ctl block del 198.18.0.0/24 >"$work/out" || fail "block del"
grep -q 'still denied by the config' "$work/out" || fail "said: $(cat "$work/out")"
refused "the config's rule after the operator let go"
ctl config apply "$work/nodeny.json" >/dev/null
gets 5

step "the operator's rule outlives SIGKILL, and lbd --unload (from the state file)"
ctl block add 198.18.0.1 >/dev/null
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
refused "lbd dead"
start_lbd
refused "lbd restarted"
kill "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
nsenter --net="/run/netns/$lb" "$lbd" --unload l0 >"$work/out" 2>&1 || fail "unload: $(cat "$work/out")"
grep -q '"blocks": \[' "$work/state/state.json" || fail "no blocks in the state file"
start_lbd
grep -q ' 0 pinned maps reused' "$work/lbd.log" || fail "the maps were not fresh"
refused "fresh maps"
[ "$(block_from 198.18.0.1/32)" = operator ] || fail "from: $(block_from 198.18.0.1/32)"
ctl block del 198.18.0.1 >/dev/null
gets 5

step "changes the state file cannot keep: in effect, and lbctl says they are not saved"
mount -o remount,ro "$work/state"
ctl_rc 1 backend drain web 198.18.3.1
grep -q 'the change is in effect, but the state file cannot be written' "$work/out" ||
	fail "drain said: $(cat "$work/out")"
ctl backend list web | grep -Eq '198\.18\.3\.1 .*drain' || fail "not drained: $(ctl backend list web)"
ctl_rc 1 block add 198.18.0.1
grep -q 'the rule is in effect, but the state file cannot be written' "$work/out" ||
	fail "block add said: $(cat "$work/out")"
refused "a rule not saved"
mount -o remount,rw "$work/state"
ctl backend undrain web 198.18.3.1 >/dev/null || fail "undrain once the file can be written"
ctl block del 198.18.0.1 >/dev/null || fail "block del once the file can be written"
grep -q '198.18.0.1' "$work/state/state.json" && fail "the state file still has the rule"
gets 5

echo "ctl_test: all passed"
