#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs every Debian package sluice needs to build and test, then builds into build/.
# Usage: scripts/setup.sh   (as root, or with sudo available)
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
	# build
	meson ninja-build pkg-config gcc clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libmnl-dev libjansson-dev libsystemd-dev libcurl4-openssl-dev libmicrohttpd-dev linux-libc-dev
	scdoc bash-completion
	# the Debian package
	build-essential debhelper lintian dpkg-dev man-db
	# tests
	libcriterion-dev iproute2 iputils-ping ethtool python3-scapy python3-jsonschema socat procps openssl prometheus bird2 frr
	curl iperf3 tcpdump
)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	# Through env: sudo would drop an exported DEBIAN_FRONTEND, and iperf3
	# asks a question.
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}"
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ -d build ]; then
	meson configure build -Dwerror="$werror" >/dev/null
else
	meson setup build --buildtype=debugoptimized -Dwerror="$werror"
fi
ninja -C build
