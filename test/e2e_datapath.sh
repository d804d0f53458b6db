#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end through real namespaces: client -> router -> sluice node (lbd,
# native XDP on a veth) -> router -> two backends (lb_decap loaded with ip
# link, VIP on lo), with the backends answering the client directly. Checks
# what a user would see: ping answered by the node, TCP connections spread
# over both backends, an upload too big for the tunnel MTU completing through
# path MTU discovery, the node's own address still reachable (passed
# traffic), traffic still flowing after lbd has exited, and a source put in
# the block list losing its connections while another client's work.
#
# Runs in a private mount namespace with its own bpffs, like lbd_test.sh.
#
# Usage: e2e_datapath.sh BUILD_DIR   (root)
set -euo pipefail

build=${1:?usage: e2e_datapath.sh BUILD_DIR}
build=$(cd "$build" && pwd)
lbd=$build/user/lbd
decap=$build/kern/lb_decap.bpf.o
pass=$build/kern/lb_pass.bpf.o
block_rule=$build/test/block_rule

. "$(dirname "$0")/netns_lib.sh"
netns_require_root e2e_datapath
if [ -z "${E2E_PRIVATE:-}" ]; then
	exec unshare --mount --propagation private env E2E_PRIVATE=1 "$0" "$@"
fi
umount /sys/fs/bpf 2>/dev/null || true
netns_init

tag=lbe2e$$
cl=$tag-cl rt=$tag-rt lb=$tag-lb be1=$tag-b1 be2=$tag-b2
work=$NETNS_WORK
lbd_pid=
pins=/sys/fs/bpf/sluice/l0

test_cleanup() {
	[ -n "$lbd_pid" ] && kill "$lbd_pid" 2>/dev/null
}

fail() { netns_fail e2e_datapath "$work/lbd.log" "$@"; }

netns_topology "$cl" "$rt" "$lb" "$pass"
netns_add "$be1" "$be2"
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

cat >"$work/lbd.json" <<EOF
{
  "interface": "l0",
  "tunnel_source": { "ipv4": "198.18.1.2" },
  "mtu": 1500,
  "state_dir": "$work/state",
  "control_socket": "$work/lbd.sock",
  "vips": [
    { "name": "web", "address": "198.18.100.1", "port": 80, "protocol": "tcp",
      "backends": [ { "address": "198.18.3.1" }, { "address": "198.18.3.2" } ] }
  ]
}
EOF
nsenter --net="/run/netns/$lb" "$lbd" --config "$work/lbd.json" >"$work/lbd.log" 2>&1 &
lbd_pid=$!
for _ in $(seq 100); do
	grep -q 'next hop .* is ' "$work/lbd.log" && break
	kill -0 "$lbd_pid" 2>/dev/null || fail "lbd died"
	sleep 0.05
done
grep -q 'next hop .* is ' "$work/lbd.log" || fail "lbd did not resolve the next hop"
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

connections() { # N: N connections, each answered by a backend, both seen
	: >"$work/answers"
	for n in $(seq "$1"); do
		nsx "$cl" socat -T 5 - TCP:198.18.100.1:80,connect-timeout=5 </dev/null >>"$work/answers" ||
			fail "connection $n failed"
	done
	grep -q '^be1 0$' "$work/answers" || fail "be1 never answered: $(sort "$work/answers" | uniq -c)"
	grep -q '^be2 0$' "$work/answers" || fail "be2 never answered: $(sort "$work/answers" | uniq -c)"
	[ "$(grep -c '^be[12] 0$' "$work/answers")" -eq "$1" ] || fail "answers: $(cat "$work/answers")"
}

echo "3. 40 TCP connections reach both backends"
connections 40

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

echo "5. lbd exits; the data path keeps forwarding"
kill -TERM "$lbd_pid"
wait "$lbd_pid" || fail "lbd exited non-zero"
lbd_pid=
connections 20

# The block list is changed live, in the pinned maps, with no lbd (which
# does not carry it yet) and no table rebuilt.
echo "6. a denied client's connections fail, another client's still work"
nsx "$cl" ip addr add 198.18.0.3/24 dev c0
from3() { nsx "$cl" socat -T 2 - TCP:198.18.100.1:80,bind=198.18.0.3,connect-timeout=2 </dev/null; }
from3 >/dev/null || fail "198.18.0.3 cannot connect before any rule"
"$block_rule" "$pins" add deny 198.18.0.3/32 || fail "cannot add the rule"
if from3 >/dev/null 2>&1; then fail "a denied client connected"; fi
connections 20
"$block_rule" "$pins" list >"$work/rules"
read -r list prefix _id packets <"$work/rules" || fail "no rule listed"
[ "$list $prefix" = "deny 198.18.0.3/32" ] || fail "rules: $(cat "$work/rules")"
[ "$packets" -gt 0 ] || fail "the rule counted no packet: $(cat "$work/rules")"
"$block_rule" "$pins" del deny 198.18.0.3/32 || fail "cannot remove the rule"
from3 >/dev/null || fail "198.18.0.3 cannot connect once the rule is gone"

# Counters summed over CPUs, from the pinned per-CPU maps.
stats=$(
	{
		bpftool -j map dump pinned "$pins/lb_stats"
		echo
		bpftool -j map dump pinned "$pins/backend_stats"
	} | /usr/bin/python3 -c '
import json, sys
g_dump, be_dump = (json.loads(line) for line in sys.stdin.read().split("\n") if line.strip())
def total(entry):
    out = {}
    for per_cpu in entry["formatted"]["values"]:
        for k, v in per_cpu["value"].items():
            if isinstance(v, list):
                out[k] = [a + b for a, b in zip(out.get(k, [0] * len(v)), v)]
            else:
                out[k] = out.get(k, 0) + v
    return out
g = total(g_dump[0])
be = {e["formatted"]["key"]: total(e)["packets"] for e in be_dump}
print(json.dumps({"verdict": g["verdict"], "drop": g["drop"], "event": g["event"],
                  "backend_packets": {k: v for k, v in be.items() if v}}))
')
echo "node counters: $stats"
/usr/bin/python3 - "$stats" "$(dirname "$0")/../common/lb_abi.h" <<'PY' || fail "counters"
import json, re, sys
s = json.loads(sys.argv[1])
# Drop reasons by name, in the order lb_abi.h gives them.
abi = open(sys.argv[2]).read()
enum = abi[abi.index("enum lb_drop_reason {"):abi.index("LB_DROP_MAX")]
reasons = re.findall(r"^\s*(LB_DROP_[A-Z0-9_]+)", enum, re.M)
LB_EV_ICMP_ECHO, LB_EV_TOO_BIG_SENT = 0, 1
assert s["event"][LB_EV_ICMP_ECHO] >= 2, "echo replies not counted"
assert s["event"][LB_EV_TOO_BIG_SENT] >= 1, "no frag-needed sent"
assert len(s["backend_packets"]) == 2, "a backend got nothing: %r" % s["backend_packets"]
LB_DROP_DENIED = reasons.index("LB_DROP_DENIED")
assert s["drop"][LB_DROP_DENIED] > 0, "denied SYNs not counted: %r" % s["drop"]
assert sum(s["drop"]) == s["drop"][LB_DROP_DENIED], "other drops: %r" % s["drop"]
PY
echo "e2e_datapath: all passed"
