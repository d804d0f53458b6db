#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The Debian package, as a user gets it: built from a copy of the tree
# with dpkg-buildpackage, checked by lintian (no errors), installed with
# dpkg -i, and then the installed lbd checks the example config, both
# units pass systemd-analyze verify, the man pages and completion are
# where man and bash look; finally removed again.
#
# Usage: package_test.sh BUILD_DIR SOURCE_DIR   (root; CI=true makes a skip a failure)
set -euo pipefail

src=$(cd "$2" && pwd)
work=$(mktemp -d)
installed=
cleanup() {
	[ -n "$installed" ] && dpkg --purge sluice >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
	[ "${CI:-}" = true ] && fail "needs root, and CI must run it"
	echo "package_test: needs root: skipped"
	exit 77
fi
if dpkg -s sluice >/dev/null 2>&1; then
	[ "${CI:-}" = true ] && fail "a sluice package is installed already; CI runs on a fresh machine"
	echo "package_test: a sluice package is installed here already: skipped"
	exit 77
fi

echo "== dpkg-buildpackage -b -us -uc, in a copy of the tree"
tree=$work/sluice-$(sed -n '1s/^sluice (\(.*\)).*/\1/p' "$src/debian/changelog")
mkdir "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && xargs -0 cp --parents -t "$tree")
else
	(cd "$src" && tar --exclude=./build -cf - .) | tar -C "$tree" -xf -
fi
(cd "$tree" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
	{ tail -30 "$work/build.log" >&2; fail "dpkg-buildpackage failed"; }
deb=$(ls "$work"/sluice_*.deb)

echo "== lintian: no errors"
lintian --fail-on error "$deb" 2>/dev/null >"$work/lintian" || fail "lintian: $(cat "$work/lintian")"
[ -s "$work/lintian" ] && sed 's/^/  lintian: /' "$work/lintian"

echo "== maintainer scripts: an upgrade restarts lbd and leaves sluice-backend running"
dpkg-deb -e "$deb" "$work/ctl"
! grep -qs 'deb-systemd-invoke stop' "$work/ctl/preinst" ||
	fail "preinst stops a unit before an upgrade: $(cat "$work/ctl/preinst")"
grep -q "deb-systemd-invoke try-restart 'lbd.service'" "$work/ctl/postinst" ||
	fail "postinst does not restart lbd after an upgrade: $(cat "$work/ctl/postinst")"
grep -q 'sluice-backend.service' "$work/ctl/postinst" &&
	grep 'try-restart' "$work/ctl/postinst" | grep -q 'sluice-backend' &&
	fail "postinst restarts sluice-backend, which takes the host's VIPs away meanwhile"
grep -q 'deb-systemd-invoke stop lbd.service sluice-backend.service' "$work/ctl/prerm" ||
	fail "prerm does not stop the units at removal"

echo "== dpkg -i, then what the package promises"
dpkg -i "$deb" >"$work/install.log" 2>&1 || fail "dpkg -i: $(cat "$work/install.log")"
installed=1
/usr/sbin/lbd --version | grep -qx "lbd (sluice) .*" || fail "lbd --version"
/usr/sbin/lbd --check /usr/share/doc/sluice/examples/lbd.json >"$work/check" 2>&1 ||
	fail "lbd --check of the example: $(cat "$work/check")"
/usr/sbin/lbctl --version >/dev/null || fail "lbctl --version"
for unit in lbd.service sluice-backend.service; do
	f=/lib/systemd/system/$unit
	[ -f "$f" ] || fail "$unit not installed in /lib/systemd/system"
	systemd-analyze verify --man=no "$f" >"$work/verify" 2>&1 && [ ! -s "$work/verify" ] ||
		fail "systemd-analyze verify $unit: $(cat "$work/verify")"
done
for page in lbd lbctl sluice-backend lbd.json; do
	man -w "$page" >/dev/null 2>&1 || fail "man $page: not found"
done
[ -f /usr/share/bash-completion/completions/lbctl ] || fail "no bash completion for lbctl"
[ -f "/usr/lib/$(gcc -dumpmachine)/sluice/lb_decap.bpf.o" ] || fail "no lb_decap.bpf.o"
grep -q "^DECAP=\${SLUICE_DECAP:-/usr/lib/$(gcc -dumpmachine)/sluice/lb_decap.bpf.o}" \
	/usr/sbin/sluice-backend || fail "sluice-backend looks for lb_decap elsewhere"
dpkg --purge sluice >/dev/null || fail "dpkg --purge"
installed=
[ ! -e /usr/sbin/lbd ] || fail "lbd left behind after purge"
echo "package_test: all passed"
