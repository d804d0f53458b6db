#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Which source lines of the balancer one packet kind spends its time on:
# samples bench_lines under perf (the cpu-clock timer, which works in VMs
# without hardware counters) and maps each sample in the JIT-ed program to
# its line. Also prints the kernel functions the program calls into.
# Samples land on the instruction after a slow one, and a cache miss shows
# on the first use of the loaded value: read the lines around a hot one.
#
# Usage: test/profile_lines.sh BUILD_DIR KIND [N_LINES]   (root; needs perf)
# /usr/bin/python3 on purpose: the python3 first on PATH may be another build.
#   KIND as for bench_lines: est, est6, syn, syn-new, syn-big, pass
set -euo pipefail

build=$1 kind=$2 top=${3:-25}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

perf record -q -e cpu-clock -F 20000 -o "$work/perf.data" \
	"$build/test/bench_lines" "$kind" "$work/lines.txt"
echo "== kernel functions, % of all samples"
perf report -i "$work/perf.data" --no-children --sort sym 2>/dev/null | awk '/%/ && n++ < 12'
echo "== lines of lb_xdp, % of the program's own samples"
perf script -i "$work/perf.data" -F ip,sym,symoff 2>/dev/null | sed -n 's/.*_lb_xdp+0x//p' |
	/usr/bin/python3 -c '
import bisect, collections, sys
lines = [l.rstrip("\n").split(" ", 2) for l in open(sys.argv[1])]
addrs = [int(l[0], 16) for l in lines]
count = collections.Counter()
for off in sys.stdin:
    i = bisect.bisect_right(addrs, int(off, 16)) - 1
    count[(lines[i][1], lines[i][2].strip() if len(lines[i]) > 2 else "")] += 1
total = sum(count.values()) or 1
print("samples in the program:", total)
for (line, text), n in count.most_common(int(sys.argv[2])):
    print("%5.1f%%  %-18s %s" % (100.0 * n / total, line, text[:80]))
' "$work/lines.txt" "$top"
