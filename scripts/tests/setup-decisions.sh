#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests setup's decisions in seconds, without touching the machine: the
# kernel it picks and what it asks apt for, through scripts/setup.sh
# --apt-only with stub apt-cache, apt-get, dpkg-query and QEMU first on PATH
# (scripts/tests/stubs/). The stubs write their answers in several writes, as
# the real ones do, so a reader that stops early at the end of a pipe under
# pipefail (the SIGPIPE bug of `apt-cache policy | grep -q`) fails a case.
# TAP output.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
indent() { sed "s/^/$1/"; }
setup="$dir/../setup.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every package setup installs: those of its PKGS and QEMU_PKGS lists.
mapfile -t all_pkgs < <(sed -n '/^PKGS=(/,/)/p; /^QEMU_PKGS=(/p' "$setup" |
	sed 's/^[A-Z_]*=(//; s/)$//' | tr -s ' \t' '\n' | sed '/^$/d')

n=0 rc=0
# run_case NAME: a fresh stub world in $w from the variables offer_before,
# offer_after, installed, cached (a kernel version unpacked in the cache),
# sources (1: the project's apt source is already in place) and kver; runs
# setup; leaves its status in $status, its output in $out, apt-get's calls in
# $calls.
run_case() {
	w="$work/$1"
	mkdir -p "$w/stub" "$w/cache" "$w/usr-src"
	printf '%s\n' "$offer_before" >"$w/stub/offer-before"
	printf '%s\n' "${offer_after:-$offer_before}" >"$w/stub/offer-after"
	: >"$w/stub/installed" && : >"$w/stub/calls"
	[[ -z "$installed" ]] || tr ' ' '\n' <<<"$installed" >"$w/stub/installed"
	if [[ -n "$cached" ]]; then
		mkdir -p "$w/cache/src/linux-source-$cached"
		touch "$w/cache/src/linux-source-$cached/Makefile"
	fi
	if (( sources )); then
		# What setup writes, byte for byte: taken from setup itself.
		sed -n '/^want_sources="/,/"$/p' "$setup" | sed '1s/^want_sources="//; $s/"$//' >"$w/sources"
	fi
	status=0
	out=$(env -u KVER ${kver:+KVER=$kver} PATH="$dir/stubs:$PATH" STUB_DIR="$w/stub" \
		MMN_CACHE="$w/cache" MMN_USR_SRC="$w/usr-src" MMN_APT_SOURCES="$w/sources" \
		timeout 120 "$setup" --apt-only 2>&1) || status=$?
	calls=$(cat "$w/stub/calls")
}
# pass/fail: one TAP line for the case $what; a failure shows its world.
pass() {
	n=$((n + 1))
	echo "ok $n $what"
}
fail() {
	n=$((n + 1))
	echo "not ok $n $what"
	echo "# status $status; output:"
		indent '#   ' <<<"$out"
	echo "# apt-get calls:"
	indent '#   ' <<<"$calls"
	rc=1
}
has() { grep -qF -- "$1" <<<"$2"; }
count() { grep -cF -- "$1" <<<"$2" || true; }

echo "TAP version 13"
echo "1..10"

# 1. A new machine: nothing installed, the archive offers 7.3 and 7.2.
offer_before="7.3 7.2" offer_after="" installed="" cached="" sources=0 kver=""
run_case new-machine
what="new machine, archive offers 7.3 and 7.2: picks 7.3 and installs everything, each apt-get waiting for the dpkg lock"
if (( status == 0 )) && has "kernel 7.3: the newest" "$out" &&
	   (( $(count "apt-get" "$calls") == $(count "-o DPkg::Lock::Timeout=600" "$calls") )) &&
	   has "install -y -q --no-install-recommends -t trixie-backports linux-source-7.3" "$calls" &&
	   has "-t bookworm-backports qemu-system-x86" "$calls" && has " cargo-web " "$calls" &&
	   (( $(count "apt-get update" "$calls") == 1 )); then pass; else fail; fi

# 2. Only 7.2 is offered (7.3 left backports).
offer_before="7.2" offer_after="" installed="" cached="" sources=1 kver=""
run_case only-72
what="only 7.2 offered: picks 7.2"
if (( status == 0 )) && has "kernel 7.2:" "$out" &&
	   has "trixie-backports linux-source-7.2" "$calls" && ! has "linux-source-7.3" "$calls"; then pass; else fail; fi

# 3. No supported version offered: a clear error that names what is.
offer_before="6.1 6.12" offer_after="" installed="" cached="" sources=1 kver=""
run_case none-offered
what="nothing supported offered: fails, naming what is offered, after one update"
if (( status != 0 )) && has "linux-source-7.3 is neither installed nor in the archive (offered: linux-source-6.1 linux-source-6.12)" "$out" &&
	   has "supported: 7.3 7.2" "$out" && (( $(count "apt-get update" "$calls") == 1 )) &&
	   ! has "install" "$calls"; then pass; else fail; fi

# 4. KVER=7.2 names the older one although 7.3 is offered.
offer_before="7.3 7.2" offer_after="" installed="" cached="" sources=1 kver=7.2
run_case kver
what="KVER=7.2: picks 7.2 although 7.3 is offered"
if (( status == 0 )) && has "kernel 7.2: KVER=7.2" "$out" &&
	   has "trixie-backports linux-source-7.2" "$calls" && ! has "linux-source-7.3" "$calls"; then pass; else fail; fi

# 5. 7.3 unpacked in the cache, its package gone from the archive.
offer_before="7.2" offer_after="" installed="" cached=7.3 sources=1 kver=""
run_case cached
what="7.3 unpacked in the cache, package gone: keeps 7.3, installs no kernel package"
if (( status == 0 )) && has "kernel 7.3:" "$out" && ! has "linux-source-" "$calls"; then pass; else fail; fi

# 6. A stale package list: nothing offered until one `apt-get update`.
offer_before="" offer_after="7.3 7.2" installed="" cached="" sources=1 kver=""
run_case stale
what="stale apt list: one update, then 7.3"
if (( status == 0 )) && has "kernel 7.3:" "$out" &&
	   (( $(count "apt-get update" "$calls") == 1 )) && has "trixie-backports linux-source-7.3" "$calls"; then pass; else fail; fi

# 7. Everything installed: no apt call at all (setup is idempotent).
offer_before="7.3 7.2" offer_after="" installed="${all_pkgs[*]} linux-source-7.3" cached=7.3 sources=1 kver=""
run_case installed
what="everything installed: no apt-get call"
if (( status == 0 )) && has "Debian packages present" "$out" && has "QEMU present (QEMU emulator version 10.0.2 (stub))" "$out" && [[ -z "$calls" ]]; then pass; else fail; fi

# 8. The apt source file differs: rewritten, then one update.
offer_before="7.3" offer_after="" installed="${all_pkgs[*]} linux-source-7.3" cached=7.3 sources=0 kver=""
run_case sources
what="missing apt source: written, one update, nothing else"
if (( status == 0 )) && grep -q "trixie-backports" "$w/sources" &&
	   [[ "$calls" == "apt-get update -q -o DPkg::Lock::Timeout=600" ]]; then pass; else fail; fi

# 9. The list of packages: every tool a stage calls that a plain Debian 12 lacks.
p=" ${all_pkgs[*]} "
status=0 out="" calls=""
what="setup installs cargo-web, shellcheck, git, xz-utils, busybox-static and no plain cargo"
if [[ $p == *" cargo-web "* && $p == *" shellcheck "* && $p == *" git "* &&
	   $p == *" xz-utils "* && $p == *" busybox-static "* && $p != *" cargo "* ]]; then pass; else fail; fi

# 10. Every command setup checks for comes from a package it installs, or
#     from Debian 12's minbase (Essential and Priority: required).
mapfile -t tool_pkgs < <(sed -n '/^TOOLS=(/,/)/p' "$setup" | sed 's/^TOOLS=(//; s/)$//' |
	tr -s ' \t' '\n' | sed -n 's/.*:\([^:]*\)$/\1/p' | sort -u)
minbase=" coreutils util-linux mount mawk sed grep findutils diffutils tar perl-base libc-bin bindgen-cli "
p=" ${all_pkgs[*]} "
unprovided=()
for t in "${tool_pkgs[@]}"; do
	[[ $p == *" $t "* || $minbase == *" $t "* ]] || unprovided+=("$t")
done
status=0 out="${unprovided[*]}" calls=""
what="every checked command comes from an installed package or minbase (${#tool_pkgs[@]} packages)"
if (( ${#tool_pkgs[@]} > 20 && ${#unprovided[@]} == 0 )); then pass; else fail; fi

exit $rc
