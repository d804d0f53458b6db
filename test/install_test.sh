#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What `meson install` puts where a package would take it: lbd and lbctl,
# the backends' decap object, the man pages (built from scdoc) and lbctl's
# bash completion, which must complete from lbctl's own command table.
#
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null ||
	fail "meson install failed"
prefix=$(meson introspect "$build" --buildoptions |
	/usr/bin/python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest$prefix
for f in sbin/lbd sbin/lbctl; do
	[ -x "$root/$f" ] || fail "$f not installed"
done
ls "$root"/lib/*/sluice/lb_decap.bpf.o >/dev/null 2>&1 || fail "lb_decap.bpf.o not installed"
for page in man8/lbd.8 man8/lbctl.8 man5/lbd.json.5 man8/sluice-backend.8; do
	f=$root/share/man/$page
	[ -s "$f" ] || fail "man page $page not installed"
	name=$(basename "$page")
	grep -q "^\.TH \"${name%.*}\" \"${name##*.}\"" "$f" ||
		fail "$page is not a man page: no .TH line for it"
done
grep -q 'backend drain' "$root/share/man/man8/lbctl.8" || fail "lbctl(8) does not describe drain"

[ -x "$root/sbin/sluice-backend" ] || fail "sluice-backend not installed, or not executable"
grep -q "^DECAP=.*$prefix/lib/.*/sluice/lb_decap.bpf.o" "$root/sbin/sluice-backend" ||
	fail "sluice-backend looks for lb_decap elsewhere: $(grep '^DECAP=' "$root/sbin/sluice-backend")"
find "$dest" -name sluice-backend.service | grep -q . || fail "no sluice-backend.service"
[ -s "$root/share/doc/sluice/examples/backend.conf" ] || fail "no example backend.conf"
unit=$(find "$dest" -name lbd.service)
[ -n "$unit" ] || fail "no systemd unit installed"
grep -q "^ExecStart=$prefix/sbin/lbd --config " "$unit" || fail "the unit runs another lbd: $(grep ExecStart= "$unit")"
"$root/sbin/lbd" --version | grep -qx "lbd (sluice) $(meson introspect "$build" --projectinfo |
	/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')" ||
	fail "lbd --version: $("$root/sbin/lbd" --version)"
"$root/sbin/lbctl" --version | grep -q '^lbctl (sluice) ' || fail "lbctl --version"

comp=$(find "$root/share" -path '*bash-completion/completions/lbctl')
[ -n "$comp" ] || fail "no bash completion installed"
out=$(PATH="$root/sbin:$PATH" bash -c '
	. /usr/share/bash-completion/bash_completion
	. "$1"
	try() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _lbctl
		echo "${COMPREPLY[*]}"; }
	try lbctl back; try lbctl backend d; try lbctl -j config ""
	try lbctl backend drain web 198.18.3.1 --w' _ "$comp")
[ "$out" = "backend
drain down
validate diff apply show
--wait" ] || fail "completion gave: $out"
echo "install_test: all passed"
