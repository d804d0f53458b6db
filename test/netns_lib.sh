# SPDX-License-Identifier: GPL-2.0-only
# Shared by the namespace tests (sourced, not run): namespaces that are
# always deleted on exit, and the client - router - node topology.
#
#   client c0 198.18.0.1 --- r0 198.18.0.254 [router] r1 198.18.1.254 --- l0 198.18.1.2 node
#
# The router routes 198.18.100.0/24 (the VIPs) to the node, runs lb_pass on
# r1 (a veth drops frames its peer sends with XDP_TX unless it runs XDP
# too) and has MAC 02:00:00:00:00:fe on r1.

NETNS_LIST=()
NETNS_WORK=

# Call once, before creating anything: a work directory and the exit trap.
netns_init() {
	NETNS_WORK=$(mktemp -d)
	trap netns_cleanup EXIT
}

netns_cleanup() {
	local ns
	if declare -F test_cleanup >/dev/null; then test_cleanup || true; fi
	for ns in "${NETNS_LIST[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "$NETNS_WORK" ] && rm -rf "$NETNS_WORK"
}

netns_add() {
	local ns
	for ns in "$@"; do
		ip netns add "$ns"
		NETNS_LIST+=("$ns")
		ip netns exec "$ns" ip link set lo up
	done
}

nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# Skip unprivileged, except under CI, which must run every test.
netns_require_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "$1: needs root, and CI must run it" >&2
		exit 1
	fi
	echo "$1: needs root: skipped"
	exit 77
}

# netns_private NAME SCRIPT ARGS...: run the rest of SCRIPT in a mount
# namespace of its own without the host's bpffs, as a host's /sys/fs/bpf
# would be: pins made there outlive every lbd the test starts and stops,
# and die with the test. Call before netns_init.
netns_private() {
	local name=$1
	shift
	if [ -z "${NETNS_PRIVATE:-}" ]; then
		exec unshare --mount --propagation private env NETNS_PRIVATE=1 "$@"
	fi
	umount /sys/fs/bpf 2>/dev/null || true
	if [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; then
		echo "$name: cannot hide the host bpffs" >&2
		exit 1
	fi
}

# netns_topology CLIENT ROUTER NODE LB_PASS_OBJECT
netns_topology() {
	local cl=$1 rt=$2 lb=$3 pass=$4
	netns_add "$cl" "$rt" "$lb"
	ip link add c0 netns "$cl" type veth peer name r0 netns "$rt"
	ip link add l0 netns "$lb" type veth peer name r1 netns "$rt"
	nsx "$rt" ip link set r1 address 02:00:00:00:00:fe

	nsx "$cl" ip addr add 198.18.0.1/24 dev c0
	nsx "$cl" ip link set c0 up
	nsx "$cl" ip route add default via 198.18.0.254
	# veth leaves TCP/UDP checksums to offload; XDP_TX would send them unfinished.
	nsx "$cl" ethtool -K c0 tx off >/dev/null

	nsx "$rt" sysctl -qw net.ipv4.ip_forward=1
	nsx "$rt" ip addr add 198.18.0.254/24 dev r0
	nsx "$rt" ip addr add 198.18.1.254/24 dev r1
	nsx "$rt" ip link set r0 up
	nsx "$rt" ip link set r1 up
	nsx "$rt" ip route add 198.18.100.0/24 via 198.18.1.2
	nsx "$rt" ip link set dev r1 xdp obj "$pass" sec xdp

	nsx "$lb" ip addr add 198.18.1.2/24 dev l0
	nsx "$lb" ip link set l0 up
	nsx "$lb" ip route add default via 198.18.1.254
}

# netns_backend_hosts ROUTER NS...: hosts 198.18.3.1, .2, ... on a bridge
# behind the router (198.18.3.254), NIC b0, not yet backends.
netns_backend_hosts() {
	local rt=$1 ns i=1
	shift
	netns_add "$@"
	nsx "$rt" ip link add br0 type bridge
	nsx "$rt" ip addr add 198.18.3.254/24 dev br0
	nsx "$rt" ip link set br0 up
	for ns in "$@"; do
		ip link add b0 netns "$ns" type veth peer name "rb$i" netns "$rt"
		nsx "$rt" ip link set "rb$i" master br0 up
		nsx "$ns" ip addr add "198.18.3.$i/24" dev b0
		nsx "$ns" ip link set b0 up
		nsx "$ns" ip route add default via 198.18.3.254
		# Tunnelled packets arrive from the node, not from the client.
		nsx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.b0.rp_filter=0
		i=$((i + 1))
	done
}

# A timestamped progress line.
netns_step() { echo "== $(date +%s.%N | cut -c1-14) $*"; }

# netns_fail NAME LBD_LOG WHY...: a test's failure, told on stderr with
# lbd's log (when there is one) under it; exits 1.
netns_fail() {
	local name=$1 log=$2
	shift 2
	echo "$name: FAIL: $*" >&2
	[ -f "$log" ] && sed 's/^/  lbd log: /' "$log" >&2
	exit 1
}

# netns_vip_conns NS N [TIMEOUT_S]: N new TCP connections from NS to
# 198.18.100.1:80, one after another; each answer's first line (the echo
# servers' backend name) on stdout. Fails at the first that fails.
netns_vip_conns() {
	nsx "$1" /usr/bin/python3 -c "
import socket, sys
for _ in range(int(sys.argv[1])):
    c = socket.create_connection(('198.18.100.1', 80), timeout=float(sys.argv[2]))
    print(c.makefile('rb').readline().decode().strip())
    c.close()" "$2" "${3:-5}"
}

# netns_unit_caps BUILD: lbd.service's bounding set, as setpriv spells it
# ("-all,+bpf,+perfmon,..."), for tests that run lbd with only what the
# unit gives it.
netns_unit_caps() {
	sed -n 's/^CapabilityBoundingSet=//p' "$1/scripts/systemd/lbd.service" | tr 'A-Z' 'a-z' |
		sed 's/cap_/+/g; s/ /,/g; s/^/-all,/'
}

# netns_lbd_start NS LOG READY LBD ARGS...: lbd in network namespace NS
# through nsenter, which keeps this mount namespace and its bpffs, its
# output appended to LOG. Returns once LOG has a line with READY, with the
# pid in NETNS_LBD_PID; 1 if lbd died first or took over 5 s.
netns_lbd_start() {
	local ns=$1 log=$2 ready=$3
	shift 3
	nsenter --net="/run/netns/$ns" "$@" >>"$log" 2>&1 &
	NETNS_LBD_PID=$!
	for _ in $(seq 100); do
		grep -q "$ready" "$log" && return 0
		kill -0 "$NETNS_LBD_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# netns_backends ROUTER DECAP_OBJECT NS...: those hosts, each with the VIP
# 198.18.100.1 on lo and lb_decap on b0, ready for a server bound to the VIP.
netns_backends() {
	local rt=$1 decap=$2 ns
	shift 2
	netns_backend_hosts "$rt" "$@"
	for ns in "$@"; do
		nsx "$ns" ip addr add 198.18.100.1/32 dev lo
		nsx "$ns" ip link set dev b0 xdp obj "$decap" sec xdp
	done
}

# netns_echo_servers ECHO_SERVER NS...: test/echo_server.py on the VIP
# 198.18.100.1:80 in each backend namespace, answering "be1", "be2", ...;
# returns once every one listens.
netns_echo_servers() {
	local server=$1 ns i=1
	shift
	for ns in "$@"; do
		nsx "$ns" "$server" "be$i" </dev/null >/dev/null 2>&1 &
		i=$((i + 1))
	done
	for ns in "$@"; do
		for _ in $(seq 50); do
			nsx "$ns" ss -ltn | grep -q '198.18.100.1:80' && break
			sleep 0.1
		done
	done
}

# netns_topology6 CLIENT ROUTER NODE: IPv6 on netns_topology's links, the
# IPv4 plan with 198.18.N.x as fd00:N::x, and the VIP prefix fd00:100::/64
# routed to the node. No DAD: the addresses work at once.
netns_topology6() {
	local cl=$1 rt=$2 lb=$3
	nsx "$rt" sysctl -qw net.ipv6.conf.all.forwarding=1
	nsx "$cl" ip -6 addr add fd00::1/64 dev c0 nodad
	nsx "$cl" ip -6 route add default via fd00::fe
	nsx "$rt" ip -6 addr add fd00::fe/64 dev r0 nodad
	nsx "$rt" ip -6 addr add fd00:1::fe/64 dev r1 nodad
	nsx "$rt" ip -6 route add fd00:100::/64 via fd00:1::2
	nsx "$lb" ip -6 addr add fd00:1::2/64 dev l0 nodad
	nsx "$lb" ip -6 route add default via fd00:1::fe
}

# netns_client ROUTER NS N: another client, 198.18.N.1 and fd00:N::1 on its
# c0, behind the router's rcN (198.18.N.254, fd00:N::fe). No DAD: the IPv6
# addresses work at once.
netns_client() {
	local rt=$1 ns=$2 n=$3
	netns_add "$ns"
	ip link add c0 netns "$ns" type veth peer name "rc$n" netns "$rt"
	nsx "$rt" ip addr add "198.18.$n.254/24" dev "rc$n"
	nsx "$rt" ip -6 addr add "fd00:$n::fe/64" dev "rc$n" nodad
	nsx "$rt" ip link set "rc$n" up
	nsx "$ns" ip addr add "198.18.$n.1/24" dev c0
	nsx "$ns" ip -6 addr add "fd00:$n::1/64" dev c0 nodad
	nsx "$ns" ip link set c0 up
	nsx "$ns" ip route add default via "198.18.$n.254"
	nsx "$ns" ip -6 route add default via "fd00:$n::fe"
	nsx "$ns" ethtool -K c0 tx off >/dev/null
}

# netns_backends6 ROUTER NS...: IPv6 for netns_backends' backends,
# fd00:3::1, ::2, ... behind the router's fd00:3::fe.
netns_backends6() {
	local rt=$1 ns i=1
	shift
	nsx "$rt" ip -6 addr add fd00:3::fe/64 dev br0 nodad
	for ns in "$@"; do
		nsx "$ns" ip -6 addr add "fd00:3::$i/64" dev b0 nodad
		nsx "$ns" ip -6 route add default via fd00:3::fe
		i=$((i + 1))
	done
}
