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
meson test -C build --print-errorlogs --num-processes 1 "$@"
