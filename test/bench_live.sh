#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The live-traffic benchmark (docs/performance.md): two namespaces joined
# by a veth pair with two queues, the balancer in native XDP on one end,
# AF_PACKET senders and an XDP sink on the other. Not a test: it asserts
# nothing and prints Mpps. The namespaces are removed on exit.
#
# Usage: test/bench_live.sh BUILD_DIR [--seconds S]   (root)
set -euo pipefail

build=${1:?usage: bench_live.sh BUILD_DIR [--seconds S]}
shift
tag=lblive$$
gen=$tag-gen lb=$tag-lb

cleanup() {
	ip netns del "$gen" 2>/dev/null || true
	ip netns del "$lb" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$gen"
ip netns add "$lb"
ip link add g0 netns "$gen" numtxqueues 2 numrxqueues 2 type veth \
	peer name l0 netns "$lb" numtxqueues 2 numrxqueues 2
# The frames the bench builds go from 02:..:fe to 02:..:01.
ip -n "$gen" link set g0 address 02:00:00:00:00:fe up
ip -n "$lb" link set l0 address 02:00:00:00:00:01 up
ip -n "$lb" link set lo up
"$build/test/bench_live" "$gen" "$lb" "$@"
