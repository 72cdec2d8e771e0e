#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make fresh: the newcomer's path, for real. A clean Debian 12 (bookworm) root
# made with debootstrap (minbase, Debian's archive, a standard install's apt
# suites), a clean clone of this checkout's HEAD in it, an empty cache, and
# the README's commands exactly as written, as root, in a chroot: first the
# README's prerequisite line (apt-get install git make), then `make run` and
# `make check`. Prints each stage's time and the final summary line.
#
# The root reaches the package registries as the host does: it gets the
# host's resolver and TLS trust (/etc/resolv.conf, /etc/ssl/certs, the local
# CAs of /usr/local/share/ca-certificates, and the CA and proxy environment
# variables), and nothing else of the host: no rustup, no cargo, no cache.
# Everything runs in a private mount namespace (/proc, /sys, /dev are mounted
# only there, so they go with it, Ctrl-C included), and the root is removed
# on exit. Only the pristine debootstrap output is kept, as a tarball in the
# cache, never an installed state.
set -euo pipefail
source "$(dirname "$0")/config.sh"

usage() {
	cat <<USAGE
usage: $0 [--stage setup|all] [--keep-root] [--new-base]
  --stage all (default): the README's two commands, make run then make check.
  --stage setup: only setup from nothing (make setup: apt, bindgen, the
    kernel source) and the host tests (make host-test); what CI runs.
  --keep-root: leave the root in $MMN_CACHE/fresh/ for a look (unmounted).
  --new-base: debootstrap again instead of reusing the pristine tarball.
USAGE
}

stage=all keep=0 newbase=0
while (( $# )); do
	case "$1" in
	--stage) stage="$2"; shift 2 ;;
	--keep-root) keep=1; shift ;;
	--new-base) newbase=1; shift ;;
	--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ "$stage" == all || "$stage" == setup ]] || { usage >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "make fresh needs root (debootstrap, chroot, mounts)"
git -C "$MMN_ROOT" rev-parse --verify -q HEAD >/dev/null || die "$MMN_ROOT is not a git checkout"

t0=$SECONDS
times=()
lap() { # lap NAME START: records "NAME Ns"
	times+=("$1 $((SECONDS - $2))s")
	log "fresh: $1 done in $((SECONDS - $2))s"
}

# 1. The pristine base: debootstrap once, kept as a tarball.
if ! command -v debootstrap >/dev/null; then
	log "fresh: apt-get install debootstrap (on this host, for the root)"
	env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q debootstrap >/dev/null
fi
fdir="$MMN_CACHE/fresh"
base="$fdir/bookworm-minbase.tar"
mkdir -p "$fdir"
exec 6>"$fdir/.lock"
flock -n 6 || die "another make fresh is using $fdir"
if (( newbase )) || [[ ! -s "$base" ]]; then
	s=$SECONDS
	tmp="$fdir/base.tmp"
	rm -rf "$tmp"
	log "fresh: debootstrap --variant=minbase bookworm (Debian's archive)"
	timeout 1200 debootstrap --variant=minbase bookworm "$tmp" http://deb.debian.org/debian \
		>"$fdir/debootstrap.log" 2>&1 || { tail -20 "$fdir/debootstrap.log" >&2; die "debootstrap failed"; }
	# A standard install's apt suites: main, updates, security.
	cat >"$tmp/etc/apt/sources.list" <<SOURCES
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
	rm -f "$tmp/etc/resolv.conf"
	tar -C "$tmp" -cf "$base.tmp" .
	mv "$base.tmp" "$base"
	rm -rf "$tmp"
	lap debootstrap "$s"
else
	log "fresh: reusing the pristine base $base ($(date -r "$base" +%F))"
fi

# 2. A fresh root from it, with the host's resolver and TLS trust.
root=$(mktemp -d "$fdir/root.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# The mounts live only in the namespace of the child, gone with it; never
	# delete through a mount point all the same.
	if findmnt -rn -o TARGET | grep -F "$root" >/dev/null; then
		log "fresh: $root still has mounts: not removed"
	elif (( keep )); then
		log "fresh: root kept in $root"
	else
		rm -rf --one-file-system "$root"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tar -C "$root" -xf "$base"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
rm -rf "$root/etc/ssl/certs"
mkdir -p "$root/etc/ssl" "$root/usr/local/share/ca-certificates"
cp -a /etc/ssl/certs "$root/etc/ssl/certs"
if [[ -d /usr/local/share/ca-certificates ]]; then
	cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
# The CA and proxy variables of this host, by name; nothing else of its
# environment (PATH is Debian's default: no rustup, no ~/.cargo/bin).
carry=(HOME=/root TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
       PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
while IFS='=' read -r -d '' name value; do
	case "$name" in
	SSL_CERT_FILE | SSL_CERT_DIR | CURL_CA_BUNDLE | REQUESTS_CA_BUNDLE | GIT_SSL_CAINFO | \
	NODE_EXTRA_CA_CERTS | PIP_CERT | CARGO_HTTP_CAINFO | CARGO_HTTP_PROXY | \
	http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY | all_proxy | ALL_PROXY)
		carry+=("$name=$value")
		;;
	esac
done < <(env -0)

# 3. A clean clone of this checkout's HEAD (what is committed, nothing else).
head=$(git -C "$MMN_ROOT" rev-parse --short HEAD)
git clone -q --no-hardlinks "$MMN_ROOT" "$root/root/mmn-stopgap"
[[ -z $(git -C "$MMN_ROOT" status --porcelain) ]] ||
	log "fresh: note: the checkout has uncommitted changes; the root gets HEAD ($head) only"
log "fresh: root $root, clone of $head, empty cache, host PATH and toolchains not carried"

# 4. The README's commands, in the root. Each runs in its own private mount
# namespace with /proc, /sys and /dev, so nothing stays mounted after it.
in_root() { # in_root SECONDS COMMAND: runs COMMAND (a shell line) as root in the root
	# shellcheck disable=SC2016 # the inner bash expands $1 and $@
	timeout --foreground -k 30 "$1" unshare -m --propagation private bash -c '
		set -e
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sys "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" /usr/bin/env -i "$@"' _ "$root" "${carry[@]}" \
		bash -c "cd /root/mmn-stopgap && $2"
}
# step NAME SECONDS COMMAND: one timed step; its output is shown and kept.
rc=0
step() {
	local s=$SECONDS r=0
	log "fresh: \$ $3"
	in_root "$2" "$3" 2>&1 | tee -a "$fdir/last.log" || r=$?
	lap "$1" "$s"
	if (( r != 0 )); then
		log "fresh: '$3' failed (exit $r)"
		rc=$r
	fi
	return "$r"
}
: >"$fdir/last.log"
# The README's prerequisite line: git and make, to fetch the project and run it.
step prerequisites 1200 "apt-get update -q >/dev/null && apt-get install -y -q git make >/dev/null" || exit "$rc"
if [[ "$stage" == setup ]]; then
	step setup 3600 "make setup" || exit "$rc"
	step host-tests 1800 "make host-test" || exit "$rc"
	summary=$(grep -E '^test result:' "$fdir/last.log" | awk '{ p += $4; f += $6 } END { print p + 0 " passed, " f + 0 " failed" }')
else
	step "make run" 7200 "make run" || true
	step "make check" 7200 "make check" || true
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$fdir/last.log" | tail -1 || true)
fi
echo
log "fresh: stage times: ${times[*]} (total $((SECONDS - t0))s), commit $head"
echo "${summary:-no summary line: see $fdir/last.log}"
exit "$rc"
