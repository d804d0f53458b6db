#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds Katran's XDP balancer from its public source, twice (flood guard
# off, and as shipped), and times it beside sluice with build/test/bench_katran
# (docs/performance.md, "Beside Katran").
#
# Usage: scripts/katran_bench.sh KATRAN_GIT BUILD [SLUICE_B.bpf.o] [-- BENCH_ARGS...]   (root)
#   KATRAN_GIT  a clone of facebookincubator/katran (bare or not, or a URL
#               git can clone); the commit is $KATRAN_COMMIT, default below
#   BUILD       sluice's build directory: bench_katran and kern/lb_xdp.bpf.o
#               (sluice A) come from it
#   SLUICE_B    a second sluice object timed in the same rounds (another
#               checkout's build/kern/lb_xdp.bpf.o)
# Environment: KATRAN_COMMIT; KATRAN_ATTACH=1 also runs with every program
# attached in native XDP to a veth of its own in a scratch namespace.
set -euo pipefail

KATRAN_COMMIT=${KATRAN_COMMIT:-19f08fec82fb7b5fb14d935a80057bdc0897c8de}

[ $# -ge 2 ] || { sed -n 6,16p "$0" >&2; exit 2; }
src=$1 build=$2
shift 2
sluice_b=()
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	sluice_b=("$1")
	shift
fi
[ "${1:-}" = "--" ] && shift

work=$(mktemp -d)
ns=""
cleanup() {
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The two source folders the balancer needs, at the commit.
if [ -d "$src" ]; then
	git_dir=$(git -C "$src" rev-parse --git-dir)
	git_dir=$(cd "$src" && cd "$git_dir" && pwd)
else
	git clone -q --bare --filter=blob:none "$src" "$work/katran.git"
	git_dir=$work/katran.git
fi
mkdir -p "$work/src" "$work/stub/gnu"
git --git-dir="$git_dir" archive "$KATRAN_COMMIT" katran/lib/bpf katran/lib/linux_includes |
	tar -x -C "$work/src"
# Katran includes the C library's headers for the host; the BPF target has
# no 32-bit variant of them.
: >"$work/stub/gnu/stubs-32.h"
cflags=(-target bpf -O2 -g -I"$work/src" -I"$work/stub"
	-I"/usr/include/$(gcc -dumpmachine)")
# Its warnings are its own: shown only when the build fails.
build_katran() {
	clang "${cflags[@]}" "$@" 2>"$work/clang.log" || { cat "$work/clang.log" >&2; exit 1; }
}
build_katran -DMAX_CONN_RATE=0xFFFFFFFFFFFFFFFF \
	-c "$work/src/katran/lib/bpf/balancer.bpf.c" -o "$work/katran_off.o"
build_katran -c "$work/src/katran/lib/bpf/balancer.bpf.c" -o "$work/katran_shipped.o"

bench=("$build/test/bench_katran" "$work/katran_off.o" "$work/katran_shipped.o"
	"$build/kern/lb_xdp.bpf.o" "${sluice_b[@]}")
echo "== katran $KATRAN_COMMIT, loaded only"
"${bench[@]}" "$@"
if [ "${KATRAN_ATTACH:-0}" = 1 ]; then
	ns=kbench$$
	ip netns add "$ns"
	ifs=()
	for i in $(seq 0 $((${#sluice_b[@]} + 3))); do
		ip -n "$ns" link add "kb$i" type veth peer name "kp$i"
		ip -n "$ns" link set "kb$i" up
		ip -n "$ns" link set "kp$i" up
		ifs+=("kb$i")
	done
	echo "== katran $KATRAN_COMMIT, attached"
	ip netns exec "$ns" "${bench[@]}" --attach "$(IFS=,; echo "${ifs[*]}")" "$@"
fi
