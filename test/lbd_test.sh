#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# lbd in network namespaces: attach, reload, bad reload, SIGKILL and
# restart, upgrade, an incompatible pinned map, next-hop tracking, SIGTERM
# and --unload. Checks what an operator would: program and map ids, map
# contents, flow entries, exit codes and log lines.
#
# The test runs in a private mount namespace with its own bpffs instance,
# so its pins never touch the host's /sys/fs/bpf (lbd mounts that instance
# itself, which is tested too); lbd runs in the "lb"
# network namespace through nsenter, which keeps that mount namespace.
#
# Usage: lbd_test.sh BUILD_DIR SOURCE_DIR   (root)
set -euo pipefail

build=${1:?usage: lbd_test.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: lbd_test.sh BUILD_DIR SOURCE_DIR}
build=$(cd "$build" && pwd)
src=$(cd "$src" && pwd)

. "$src/test/netns_lib.sh"
netns_require_root lbd_test
# No bpffs at all in this mount namespace: lbd must mount its own.
netns_private lbd_test "$0" "$@"
netns_init

lbd=$build/user/lbd
lbd_next=$build/user/lbd-next
lbctl=$build/user/lbctl
pass=$build/kern/lb_pass.bpf.o
pins=/sys/fs/bpf/sluice/l0
tag=lbdt$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb
work=$NETNS_WORK
lbd_pid=

test_cleanup() {
	[ -n "$lbd_pid" ] && kill -9 "$lbd_pid" 2>/dev/null
}

step() { netns_step "$@"; }
# lbd_refused RC WHAT MESSAGE ARGS...: lbd ARGS exits RC, saying MESSAGE.
lbd_refused() {
	local want=$1 what=$2 msg=$3 rc=0
	shift 3
	innet "$lbd" "$@" >"$work/refused.log" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "lbd exited $rc on $what, want $want: $(tail -3 "$work/refused.log")"
	grep -qF -- "$msg" "$work/refused.log" ||
		fail "the message on $what is not: $msg; it said: $(tail -3 "$work/refused.log")"
}
fail() { netns_fail lbd_test "$work/lbd.log" "$@"; }
# lbd and bpftool run through nsenter: network namespace only.
innet() { nsenter --net="/run/netns/$lb" "$@"; }

# bpftool -j: raw bytes as hex strings, and a "formatted" copy for maps with BTF.
json() {
	/usr/bin/python3 -c "import json,sys
def u32(b): return int.from_bytes(bytes(int(x, 16) for x in b[:4]), 'little')
def u64(b): return int.from_bytes(bytes(int(x, 16) for x in b[:8]), 'little')
d=json.load(sys.stdin)
$1"
}

netns_topology "$cl" "$rt" "$lb" "$pass"

# --- configs --------------------------------------------------------------
write_config() { # FILE WEB_BACKENDS...
	local file=$1
	shift
	local be="" a
	for a in "$@"; do
		be="$be${be:+, }{ \"address\": \"$a\", \"weight\": 100 }"
	done
	cat >"$file" <<EOF
{
  "interface": "l0",
  "next_hop": "auto",
  "tunnel_source": { "ipv4": "198.18.1.2" },
  "state_dir": "$work/state",
  "control_socket": "$work/lbd.sock",
  "flow_table_size": 4096,
  "vips": [
    { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
      "backends": [ $be ] },
    { "name": "dns", "address": "198.18.100.2", "port": 53, "protocol": "udp",
      "backends": [ { "address": "198.18.5.1" }, { "address": "198.18.5.2" } ] }
  ]
}
EOF
}
write_config "$work/a.json" 198.18.3.1 198.18.3.2 198.18.3.3
write_config "$work/b.json" 198.18.3.1 198.18.3.2 198.18.3.4
printf '{ "interface": "l0", "vips": [ { "name": "x", "address": "198.18.100.300" } ] }\n' >"$work/bad.json"

start_lbd() { # BINARY CONFIG [LBD OPTIONS...]
	local bin=$1 conf=$2 rc=0
	shift 2
	: >"$work/lbd.log"
	netns_lbd_start "$lb" "$work/lbd.log" 'start: ' "$bin" --config "$conf" "$@" || rc=1
	lbd_pid=$NETNS_LBD_PID
	return $rc
}
wait_log() { # PATTERN
	for _ in $(seq 100); do
		grep -q "$1" "$work/lbd.log" && return 0
		sleep 0.05
	done
	fail "no log line matching '$1'"
}

link_id() { bpftool -j link show pinned "$pins/link" | json 'print(d["id"])'; }
link_prog() { bpftool -j link show pinned "$pins/link" | json 'print(d["prog_id"])'; }
prog_id() { nsx "$lb" ip -j link show l0 | json 'print(d[0].get("xdp", {}).get("prog", {}).get("id", 0))'; }
map_ids() {
	for m in vip_map vip_tables backends flow_table lb_cfg lb_stats vip_stats backend_stats vip_filter; do
		printf '%s=%s ' "$m" "$(bpftool -j map show pinned "$pins/$m" | json 'print(d["id"])')"
	done
}
# The flow table's entries in use, one line each: set, then tag and backend
# id (struct lb_flow_slot's tag_id). The last element is the head.
flow_entries() {
	bpftool -j map dump pinned "$pins/flow_table" |
		json 'print("\n".join("%d %016x" % (u32(e["key"]), w) for e in d if u32(e["key"]) < len(d) - 1 for w in (u64(e["value"][i:i + 8]) for i in range(0, 64, 16)) if w))'
}
# The running program places flows with its flow table's seeds and size:
# its load-time knobs against the table's head (struct lb_flow_head).
seeds_agree() {
	/usr/bin/python3 - "$pins" "$(link_prog)" <<'PY' || fail "the program does not place flows as its table says"
import json, subprocess, sys
def bt(*a): return json.loads(subprocess.check_output(["bpftool", "-j", *a]))
pins, prog = sys.argv[1], sys.argv[2]
knobs = {}
for m in bt("prog", "show", "id", prog)["map_ids"]:
    if bt("map", "show", "id", str(m))["name"].endswith(".rodata"):
        for v in bt("map", "dump", "id", str(m))[0]["formatted"]["value"][".rodata"]:
            knobs.update(v)
table = bt("map", "dump", "pinned", pins + "/flow_table")
head = bytes(int(x, 16) for x in table[-1]["value"])
want = {"lb_flow_set_mask": len(table) - 2,
        "lb_flow_seed_set": int.from_bytes(head[8:12], "little"),
        "lb_flow_seed_tag": int.from_bytes(head[12:16], "little")}
got = {k: knobs.get(k) for k in want}
assert head[:8] == b"lbflow1\0", head[:8]
assert want["lb_flow_seed_set"] or want["lb_flow_seed_tag"], "seeds never drawn"
assert got == want, (got, want)
PY
}
flows() { flow_entries | sort; }
table_ids() { bpftool -j map dump pinned "$pins/vip_tables" | json 'print(" ".join("%d:%d" % (u32(e["key"]), u32(e["value"])) for e in d))'; }
# Everything the controller writes, inner tables included, as one digest.
maps_digest() {
	{
		# lb_stats is left out: it counts every packet, a stray neighbour
		# solicitation too. The VIP and backend counters move only with
		# VIP traffic, and there is none meanwhile.
		for m in vip_map vip_tables backends lb_cfg vip_filter flow_table vip_stats backend_stats; do
			bpftool -j map dump pinned "$pins/$m"
		done
		for id in $(bpftool -j map dump pinned "$pins/vip_tables" | json 'print(" ".join(str(u32(e["value"])) for e in d))'); do
			bpftool -j map dump id "$id"
		done
	} | sha256sum | cut -d' ' -f1
}
next_hop() { bpftool -j map dump pinned "$pins/lb_cfg" | json 'print(":".join("%02x" % b for b in d[0]["formatted"]["value"]["next_hop_mac"]))'; }
syns() { # N: SYNs from N source ports to the web VIP (nobody answers)
	nsx "$cl" /usr/bin/python3 - "$1" <<'PY'
import socket, sys
for i in range(int(sys.argv[1])):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("198.18.100.1", 80))
    except BlockingIOError:
        pass
    s.close()
PY
}
# The web VIP as the data path sees it: "in: A B; up: A B C" -- the
# backends in its table, and those whose entries let flows stay.
web_view() {
	"$src/test/lbmaps.py" "$pins" 198.18.100.1 80 | json 'print("in: %s; up: %s" % (" ".join(sorted(set(a for a in d["slots"] if a))), " ".join(d["up"])))'
}
flow_count() { flow_entries | grep -c . || true; }
wait_flows() { # N: wait for at least N flow entries
	for _ in $(seq 40); do
		[ "$(flow_count)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "expected $1 flow entries, have $(flow_count)"
}

# --- the checks -------------------------------------------------------------
step "lbd --check: exit 0 for a valid file, 78 with every error for a bad one"
"$lbd" --check "$work/a.json" >/dev/null || fail "valid config refused"
rc=0
"$lbd" --check "$work/bad.json" 2>"$work/check.err" || rc=$?
[ "$rc" -eq 78 ] || fail "--check of a bad file exited $rc, want 78"
grep -q '/vips/0/address: ' "$work/check.err" || fail "no address error: $(cat "$work/check.err")"
grep -q '/tunnel_source' "$work/check.err" || fail "missing tunnel_source not reported: $(cat "$work/check.err")"

step "start: attach, pin, resolve the next hop"
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start"
grep -q 'l0: attached' "$work/lbd.log" || fail "no attach line"
seeds_agree
[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] || fail "lbd did not mount bpffs"
prog=$(prog_id)
[ "$prog" -gt 0 ] || fail "no XDP program on l0"
[ -e "$pins/link" ] || fail "link not pinned"
wait_log 'next hop 198.18.1.254 is 02:00:00:00:00:fe'
[ "$(next_hop)" = 02:00:00:00:00:fe ] || fail "lb_cfg next hop is $(next_hop)"

step "traffic: SYNs create flow entries"
syns 20
wait_flows 20

step "one lbd per interface: a second one, and --unload, are refused while it runs"
ids=$(table_ids)
lbd_refused 1 "a second lbd" \
	"cannot start on l0: another lbd runs on l0 (/sys/fs/bpf/sluice/l0 is locked)" \
	--config "$work/b.json"
lbd_refused 1 "--unload under a running lbd" \
	"cannot unload l0: another lbd runs on l0 (/sys/fs/bpf/sluice/l0 is locked); stop it first" \
	--unload l0
[ "$(prog_id)" = "$prog" ] && [ -e "$pins/link" ] || fail "the data path changed"
[ "$(table_ids)" = "$ids" ] || fail "the tables changed: $ids -> $(table_ids)"
kill -0 "$lbd_pid" || fail "lbd died"

step "SIGHUP with one backend replaced: only that VIP's table changes"
before=$(table_ids)
kill -0 "$lbd_pid"
# lbd reads the path it was started with: point it at the new content.
cp "$work/b.json" "$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: 2 VIPs; tables swapped 1'
after=$(table_ids)
/usr/bin/python3 - "$before" "$after" <<'PY' || fail "tables: before '$before' after '$after'"
import sys
b = dict(x.split(":") for x in sys.argv[1].split())
a = dict(x.split(":") for x in sys.argv[2].split())
assert b.keys() == a.keys() and len(a) == 2, (b, a)
changed = [k for k in a if a[k] != b[k]]
assert len(changed) == 1, changed
PY

step "SIGHUP with a bad file: every map stays as it was"
digest=$(maps_digest)
cp "$work/a.json" "$work/good.json"
cp "$work/bad.json" "$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: the config was not applied'
[ "$(maps_digest)" = "$digest" ] || fail "maps changed after a bad reload"
kill -0 "$lbd_pid" || fail "lbd died on a bad reload"
cp "$work/good.json" "$work/a.json"

step "SIGHUP that moves the interface or changes xdp_mode: refused, maps unchanged"
sed 's/"interface": "l0"/"interface": "l9"/' "$work/good.json" >"$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: interface cannot change from l0 to l9 while running'
[ "$(maps_digest)" = "$digest" ] || fail "maps changed after a refused interface change"
sed 's/"interface": "l0",/"interface": "l0", "xdp_mode": "generic",/' "$work/good.json" >"$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: xdp_mode cannot change while running'
[ "$(maps_digest)" = "$digest" ] || fail "maps changed after a refused xdp_mode change"
kill -0 "$lbd_pid" || fail "lbd died on a refused reload"
cp "$work/good.json" "$work/a.json"

step "SIGKILL: traffic keeps flowing; a new lbd adopts program, maps and flows"
ids=$(map_ids)
flows_before=$(flows)
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
n=$(flow_count)
syns 5
wait_flows $((n + 5))
flows_before=$(flows)
start_lbd "$lbd" "$work/a.json" || fail "lbd did not restart"
grep -q 'adopted the running program' "$work/lbd.log" || fail "did not adopt"
[ "$(prog_id)" = "$prog" ] || fail "program id changed: $prog -> $(prog_id)"
[ "$(map_ids)" = "$ids" ] || fail "map ids changed: $ids -> $(map_ids)"
[ "$(flows)" = "$flows_before" ] || fail "flow entries changed on restart"
grep -q 'start: 2 VIPs; tables swapped 0' "$work/lbd.log" || fail "restart rewrote tables"

step "SIGTERM: lbd exits, the data path stays"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || fail "lbd exited non-zero on SIGTERM"
lbd_pid=
[ "$(prog_id)" = "$prog" ] || fail "program gone after SIGTERM"
n=$(flow_count)
syns 3
wait_flows $((n + 3))

step "state file: an override and a health state survive SIGKILL and restarts"
# No health checks run yet: the saved state is the only source of health.
sed 's/"protocol": "tcp",/"protocol": "tcp", "health_check": { "type": "tcp" },/' \
	"$work/a.json" >"$work/c.json"
mkdir -p "$work/state"
cat >"$work/state/state.json" <<EOF
{ "format": 1, "saved_ms": 1700000000000, "vips": [
  { "vip": "198.18.100.1:80/tcp", "name": "web", "backends": [
    { "address": "198.18.3.2", "config": { "state": "active", "weight": 100 },
      "override": { "state": "drain", "since_ms": 1700000000001 } },
    { "address": "198.18.3.4", "config": { "state": "active", "weight": 100 },
      "health": { "state": "down", "since_ms": 1700000000002, "reason": "refused" } } ] } ] }
EOF
start_lbd "$lbd" "$work/c.json" || fail "lbd did not start with a state file"
grep -q 'state restored from .*: 2 backends' "$work/lbd.log" || fail "the state file was not read"
want="in: 198.18.3.1; up: 198.18.3.1 198.18.3.2"
[ "$(web_view)" = "$want" ] || fail "web is '$(web_view)', want '$want'"
kill -9 "$lbd_pid"
wait "$lbd_pid" 2>/dev/null || true
lbd_pid=
[ "$(web_view)" = "$want" ] || fail "SIGKILL changed web: '$(web_view)'"
start_lbd "$lbd" "$work/c.json" || fail "lbd did not restart"
grep -q 'state restored from .*: 2 backends' "$work/lbd.log" || fail "the state file was not read again"
grep -q 'start: 2 VIPs; tables swapped 0' "$work/lbd.log" || fail "the restart rewrote tables"
[ "$(web_view)" = "$want" ] || fail "after the restart web is '$(web_view)'"
# SIGTERM saves; the times the file had are kept, not restamped.
kill -TERM "$lbd_pid"
wait "$lbd_pid" || fail "lbd exited non-zero on SIGTERM"
lbd_pid=
json 'b = d["vips"][0]["backends"]; assert b[0]["override"]["since_ms"] == 1700000000001, b; assert b[1]["health"] == {"state": "down", "since_ms": 1700000000002, "reason": "refused"}, b' \
	<"$work/state/state.json" || fail "the saved state changed: $(cat "$work/state/state.json")"

step "state file: a corrupt one is ignored with its reason; lbd starts and forwards"
printf '{ "format": 1, "vips": [' >"$work/state/state.json"
start_lbd "$lbd" "$work/c.json" || fail "lbd did not start with a corrupt state file"
grep -q "state file unusable, ignored: $work/state/state.json:1:24: ']' expected" "$work/lbd.log" ||
	fail "no line about the corrupt file: $(cat "$work/lbd.log")"
# Kept aside, not overwritten by the next save.
aside=$(sed -n 's#^.*the unusable state file is kept as \(.*\)$#\1#p' "$work/lbd.log")
[ -n "$aside" ] && [ "$(cat "$aside")" = '{ "format": 1, "vips": [' ] ||
	fail "the corrupt file was not kept aside: '$aside': $(ls "$work/state")"
want="in: 198.18.3.1 198.18.3.2 198.18.3.4; up: 198.18.3.1 198.18.3.2 198.18.3.4"
[ "$(web_view)" = "$want" ] || fail "web is '$(web_view)', want '$want'"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=
rm -rf "$work/state"

step "upgrade: a rebuilt program replaces the old one on the same link, same maps"
flows_before=$(flows)
link=$(link_id)
start_lbd "$lbd_next" "$work/a.json" || fail "lbd-next did not start"
grep -q 'upgraded the running program' "$work/lbd.log" || fail "no upgrade"
new_prog=$(prog_id)
[ "$new_prog" != "$prog" ] && [ "$new_prog" -gt 0 ] || fail "program id did not change"
[ "$(link_id)" = "$link" ] || fail "the link was replaced: $link -> $(link_id)"
[ "$(link_prog)" = "$new_prog" ] || fail "the pinned link runs program $(link_prog), not $new_prog"
[ "$(map_ids)" = "$ids" ] || fail "map ids changed on upgrade"
[ "$(flows)" = "$flows_before" ] || fail "flow entries changed on upgrade"
seeds_agree
n=$(flow_count)
syns 3
wait_flows $((n + 3))
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

# WHAT MESSAGE: lbd must refuse to start (exit 1) with MESSAGE in its log,
# and leave the running program attached.
refused() {
	lbd_refused 1 "$1" "$2" --config "$work/a.json"
	[ "$(prog_id)" = "$new_prog" ] || fail "the running program was touched"
}

step "an incompatible pinned map is refused by name; the running program stays"
rm "$pins/backend_stats"
bpftool map create "$pins/backend_stats" type percpu_array key 4 value 8 entries 65536 name backend_stats
refused "an incompatible map" "map backend_stats: the pinned map has value size 8, this lbd needs 16"
rm "$pins/backend_stats"

# old_tables VALUE_SIZE [FILLED]: pin a vip_tables as an older build left it,
# its inner tables of VALUE_SIZE-byte entries without BPF_F_MMAPABLE; with
# FILLED, one table in it.
old_tables() {
	rm -f "$pins/vip_tables"
	bpftool map create "$pins/old_table" type array key 4 value "$1" entries 14 name lb_table flags 0x1000
	bpftool map create "$pins/vip_tables" type array_of_maps inner_map pinned "$pins/old_table" \
		key 4 value 4 entries 4096 name vip_tables
	[ -z "${2:-}" ] || bpftool map update pinned "$pins/vip_tables" key 3 0 0 0 value pinned "$pins/old_table"
	rm "$pins/old_table"
}

step "a pinned map of maps whose inner tables have another layout is refused"
# One 4-byte backend id per entry, as builds before 8701e36 had.
old_tables 4 filled
refused "old-layout tables" \
	"map vip_tables: the pinned map's inner maps have key size 4, value size 4 and flags 0x1000, this lbd needs 4, 8 and 0x1400"

step "... and so are tables of the right sizes without BPF_F_MMAPABLE (builds before this one)"
old_tables 8 filled
refused "tables that cannot be mapped" \
	"map vip_tables: the pinned map's inner maps have key size 4, value size 8 and flags 0x1000, this lbd needs 4, 8 and 0x1400"

step "... and so is an empty one, which shows no inner map: lbd probes it"
old_tables 4
refused "empty old-layout tables" \
	"map vip_tables: the pinned map takes no inner map of this lbd's layout (key size 4, value size 8, flags 0x1400): Invalid argument"
[ -z "$(table_ids)" ] || fail "the probe left a table behind: $(table_ids)"
rm "$pins/vip_tables"

step "a pinned map whose fields moved, sizes unchanged, is refused by name"
"$build/test/pin_swapped_stats" "$pins/backend_stats" || fail "cannot pin the swapped map"
refused "a map whose fields moved" \
	"map backend_stats: the pinned map's value layout differs from this lbd's (pinned: 'bytes' at byte 0, here: 'packets' at byte 0)"
rm "$pins/backend_stats"

step "next hop: a new MAC for the gateway reaches lb_cfg within a second"
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start"
t0=$(date +%s%N)
nsx "$lb" ip neigh replace 198.18.1.254 lladdr 02:00:00:00:00:aa dev l0 nud permanent
for _ in $(seq 40); do
	[ "$(next_hop)" = 02:00:00:00:00:aa ] && break
	sleep 0.02
done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(next_hop)" = 02:00:00:00:00:aa ] || fail "next hop still $(next_hop) after ${ms} ms"
[ "$ms" -le 1000 ] || fail "next hop took ${ms} ms to follow the gateway, want under 1000"
echo "   next hop followed in ${ms} ms"

step "reload to a fixed next hop: it is written, and gateway changes no longer move it"
cp "$work/a.json" "$work/auto.json"
sed -i 's/"next_hop": "auto"/"next_hop": "02:00:00:00:00:bb"/' "$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: 2 VIPs'
[ "$(next_hop)" = 02:00:00:00:00:bb ] || fail "fixed next hop not written: $(next_hop)"
nsx "$lb" ip neigh replace 198.18.1.254 lladdr 02:00:00:00:00:cc dev l0 nud permanent
sleep 0.3
[ "$(next_hop)" = 02:00:00:00:00:bb ] || fail "a neighbour event overwrote the fixed next hop"
cp "$work/auto.json" "$work/a.json"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "a pinned link that lost its interface is replaced; maps and flows stay"
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=
ids=$(map_ids)
flows_before=$(flows)
bpftool link detach pinned "$pins/link"
[ "$(prog_id)" = 0 ] || fail "bpftool link detach left a program"
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start after the link was detached"
grep -q 'had lost its interface' "$work/lbd.log" || fail "no warning about the detached link"
[ "$(prog_id)" -gt 0 ] || fail "no program attached"
[ "$(map_ids)" = "$ids" ] || fail "map ids changed: $ids -> $(map_ids)"
[ "$(flows)" = "$flows_before" ] || fail "flow entries changed"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "upgrade over the LRU flow table of an earlier release: its flows are carried"
# The flow_table pin as releases before the set-associative table left it:
# an LRU hash (per-CPU lists) of struct lb_flow_key to struct lb_flow_lru,
# holding 198.18.0.77:40000 -> web on backend id 1.
be1=$(bpftool -j map lookup pinned "$pins/backends" key 1 0 0 0 | json 'v = d["value"]; print("%d.%d.%d.%d vip %d" % (*(int(x, 16) for x in v[:4]), u32(v[18:20] + ["0x00", "0x00"])))')
[ "$be1" = "198.18.3.1 vip 0" ] || fail "backend id 1 is $be1, not web's 198.18.3.1"
rm "$pins/flow_table"
bpftool map create "$pins/flow_table" type lru_hash key 40 value 16 entries 4096 name flow_table flags 2
bpftool map update pinned "$pins/flow_table" \
	key 198 18 0 77 0 0 0 0 0 0 0 0 0 0 0 0 198 18 100 1 0 0 0 0 0 0 0 0 0 0 0 0 0x9c 0x40 0 80 6 4 0 0 \
	value 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start over an LRU flow table: $(cat "$work/lbd.log")"
grep -q 'l0: 1 flows carried from the LRU flow table' "$work/lbd.log" ||
	fail "no flows carried: $(cat "$work/lbd.log")"
[ "$(bpftool -j map show pinned "$pins/flow_table" | json 'print(d["type"])')" = array ] ||
	fail "flow_table is still pinned as $(bpftool -j map show pinned "$pins/flow_table")"
seeds_agree
"$lbctl" -s "$work/lbd.sock" -j flow explain tcp 198.18.0.77 40000 198.18.100.1 80 >"$work/out" ||
	fail "flow explain: $(cat "$work/out")"
json 'assert d["from"] == "flow_table" and d["flow_entry"]["backend_id"] == 1, d' <"$work/out" ||
	fail "the carried flow is not followed: $(cat "$work/out")"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "a lost pin: the same program is reloaded onto the new map, not adopted"
prog=$(prog_id)
rm "$pins/vip_stats"
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start without the vip_stats pin"
grep -q 'upgraded the running program' "$work/lbd.log" || fail "adopted a program that uses another map"
[ "$(prog_id)" != "$prog" ] || fail "program id unchanged"
[ -e "$pins/vip_stats" ] || fail "vip_stats not pinned again"
seeds_agree
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "a restart with another flow_table_size keeps the pinned table, and says so"
sed 's/"flow_table_size": 4096/"flow_table_size": 8192/' "$work/a.json" >"$work/bigft.json"
start_lbd "$lbd" "$work/bigft.json" || fail "lbd did not start"
grep -q "l0: the pinned flow table has 4096 entries, not the 8192 flow_table_size asks for; it takes effect only after 'lbd --unload l0'" \
	"$work/lbd.log" || fail "no warning: $(cat "$work/lbd.log")"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "reload to an IPv6-only tunnel source: the IPv6 gateway is followed, no longer IPv4's"
nsx "$lb" ip -6 addr add fd00:1::2/64 dev l0 nodad
nsx "$lb" ip -6 route add default via fd00:1::fe dev l0
nsx "$lb" ip -6 neigh replace fd00:1::fe lladdr 02:00:00:00:00:dd dev l0 nud permanent
start_lbd "$lbd" "$work/a.json" || fail "lbd did not start"
cp "$work/a.json" "$work/v4.json"
cat >"$work/a.json" <<EOF
{
  "interface": "l0",
  "next_hop": "auto",
  "tunnel_source": { "ipv6": "fd00:1::2" },
  "state_dir": "$work/state",
  "control_socket": "$work/lbd.sock",
  "flow_table_size": 4096,
  "vips": [ { "name": "web6", "address": "fd00:100::1", "port": 80, "protocol": "tcp",
              "backends": [ { "address": "fd00:3::1" } ] } ]
}
EOF
kill -HUP "$lbd_pid"
wait_log 'reload: 1 VIPs'
[ "$(next_hop)" = 02:00:00:00:00:dd ] || fail "next hop after the reload to IPv6: $(next_hop)"
# gw6 MAC: the IPv6 gateway's MAC changes to MAC, and lb_cfg follows (1 s).
gw6() {
	nsx "$lb" ip -6 neigh replace fd00:1::fe lladdr "$1" dev l0 nud permanent
	for _ in $(seq 50); do
		[ "$(next_hop)" = "$1" ] && return 0
		sleep 0.02
	done
	fail "the IPv6 gateway's new MAC $1 not followed: $(next_hop)"
}
gw6 02:00:00:00:00:ee
# The IPv4 gateway's change, then one lbd must follow: netlink keeps their
# order, so once the second is in, the first was seen, and ignored.
nsx "$lb" ip neigh replace 198.18.1.254 lladdr 02:00:00:00:00:ab dev l0 nud permanent
gw6 02:00:00:00:00:ef
grep -q 'next hop 198.18.1.254 is 02:00:00:00:00:ab' "$work/lbd.log" &&
	fail "the IPv4 gateway's MAC was still followed"
cp "$work/v4.json" "$work/a.json"
kill -HUP "$lbd_pid"
wait_log 'reload: 2 VIPs'
[ "$(next_hop)" = 02:00:00:00:00:ab ] || fail "next hop after the reload back to IPv4: $(next_hop)"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=

step "a start whose config and state file hold more rules than the lists: 78, nothing changed"
/usr/bin/python3 - "$work/a.json" "$work/full.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["deny"] = ["10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255) for i in range(65536)]
json.dump(cfg, open(sys.argv[2], "w"))
PY
mkdir -p "$work/state"
echo '{ "format": 1, "saved_ms": 1700000000000, "vips": [], "blocks": [ { "prefix": "198.19.0.0/16", "since_ms": 1700000000000 } ] }' \
	>"$work/state/state.json"
prog=$(prog_id)
lbd_refused 78 "too many rules" \
	"start: the config and the state file: its 65536 deny and allow rules and the operator's 1 deny rules are more than the 65536 the block lists hold; nothing was changed" \
	--config "$work/full.json"
[ "$(prog_id)" = "$prog" ] || fail "the running program changed"
rm -rf "$work/state"

step "--unload: link detached, pins removed"
innet "$lbd" --unload l0 >"$work/unload.log" 2>&1 || fail "unload: $(cat "$work/unload.log")"
[ "$(prog_id)" = 0 ] || fail "XDP program still attached"
[ ! -e "$pins" ] || fail "pins left: $(ls "$pins")"

step "xdp_mode generic: attached in generic mode, and traffic is balanced"
sed 's/"interface": "l0",/"interface": "l0", "xdp_mode": "generic",/' "$work/a.json" >"$work/generic.json"
start_lbd "$lbd" "$work/generic.json" || fail "lbd did not start in generic mode"
mode=$(nsx "$lb" ip -j link show l0 | json 'print(d[0].get("xdp", {}).get("mode", 0))')
[ "$mode" = 2 ] || fail "XDP mode is $mode, want 2 (generic)"
syns 5
wait_flows 5
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=
prog=$(prog_id)

step "a start that asks for the other mode is refused; the data path stays"
rc=0
innet "$lbd" --config "$work/a.json" >"$work/lbd.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "lbd exited $rc when the mode differs, want 1"
grep -q 'attached in generic mode and the config asks for native' "$work/lbd.log" ||
	fail "no message about the mode: $(cat "$work/lbd.log")"
[ "$(prog_id)" = "$prog" ] || fail "the running program was touched"

step "--log-level warn: errors are logged, info lines are not"
: >"$work/lbd.log"
nsenter --net="/run/netns/$lb" "$lbd" --config "$work/generic.json" --log-level warn \
	>>"$work/lbd.log" 2>&1 &
lbd_pid=$!
# No start line to wait for: lbd blocks SIGHUP first thing, and a SIGHUP
# sent after that waits for its event loop.
for _ in $(seq 100); do
	blk=$(awk '/^SigBlk/ { print $2 }' "/proc/$lbd_pid/status" 2>/dev/null) || break
	[ $((0x$blk & 1)) -eq 1 ] && break
	sleep 0.02
done
kill -0 "$lbd_pid" 2>/dev/null || fail "lbd did not run with --log-level warn: $(cat "$work/lbd.log")"
cp "$work/bad.json" "$work/generic.json"
kill -HUP "$lbd_pid"
wait_log 'reload: the config was not applied'
grep -q '\[info\]' "$work/lbd.log" && fail "info lines at --log-level warn"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || true
lbd_pid=
innet "$lbd" --unload l0 >"$work/unload.log" 2>&1 || fail "unload: $(cat "$work/unload.log")"
[ "$(prog_id)" = 0 ] || fail "XDP program still attached"

echo "lbd_test: all passed"
