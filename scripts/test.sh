#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the whole test suite against build/ (made by scripts/setup.sh).
# The BPF suites need root; run unprivileged they skip, except under CI=true,
# where they fail instead.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ ! -f build/build.ninja ]; then
	echo "test.sh: no build/ here: run scripts/setup.sh first" >&2
	exit 1
fi
ninja -C build
status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?
# One closing line in the plain "N passed, N failed" form, from meson's log.
/usr/bin/python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
skipped = sum(r == "SKIP" for r in results)
print(f"tests: {ok} passed, {len(results) - ok - skipped} failed, {skipped} skipped")
PY
exit $status
