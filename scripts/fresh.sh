#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make fresh: the newcomer's path, for real. A clean Debian 12 (bookworm) root
# made with debootstrap (minbase, Debian's archive, a standard install's apt
# suites), an empty cache, and the README's lines exactly as written, as root,
# in a chroot: the prerequisite line (apt-get update && apt-get install -y git
# make), the clone (of this checkout's HEAD, offered to the root as a bare
# repository), then `make run` and `make check`. Prints each stage's time and
# the final summary line; exits non-zero if any step failed.
#
# The root reaches the package registries as the host does: it gets the
# host's resolver and TLS trust (/etc/resolv.conf, /etc/ssl/certs, the local
# CAs of /usr/local/share/ca-certificates, and the CA and proxy environment
# variables), and nothing else of the host: no rustup, no cargo, no cache.
# Each step runs in private mount and PID namespaces: /proc, /sys and /dev are
# mounted only there, and when the step ends, times out or is interrupted
# (Ctrl-C included), the kernel kills every process left in it and the mounts
# go with it; the root is removed on exit. Only the pristine debootstrap
# output is kept, as a tarball in the cache, never an installed state.
set -euo pipefail
source "$(dirname "$0")/config.sh"

usage() {
	cat <<USAGE
usage: $0 [--stage setup|all] [--keep-root] [--new-base]
  --stage all (default): the README's commands, make run then make check.
  --stage setup: only setup from nothing (make setup: apt, bindgen, the
    kernel source, every command a stage calls) and the host tests (make
    host-test); what CI runs.
  --keep-root: leave the root in $MMN_CACHE/fresh/ for a look.
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

fdir="$MMN_CACHE/fresh"
mkdir -p "$fdir"
exec 6>"$fdir/.lock"
flock -n 6 || die "another make fresh is using $fdir"
# Roots of runs that were killed (this run holds the lock: none is in use).
# Their mounts lived in namespaces that are gone with them.
for old in "$fdir"/root.* "$fdir"/base.tmp; do
	[[ -d "$old" ]] || continue
	log "fresh: removing $old, left by an earlier run"
	rm -rf --one-file-system "$old"
done

if ! command -v debootstrap >/dev/null; then
	log "fresh: apt-get install debootstrap (on this host, for the root)"
	apt_get 600 install -y -q debootstrap >/dev/null
fi

root="" child="" summary="" rc=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	# A step still running (an interrupt, a signal): its namespace dies with
	# it, every process inside included.
	if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	if [[ -n "$root" && -d "$root" ]]; then
		if (( keep )); then
			log "fresh: root kept in $root"
		else
			rm -rf --one-file-system "$root"
		fi
	fi
	echo
	log "fresh: stage times: ${times[*]:-none} (total $((SECONDS - t0))s), commit ${head:-?}"
	echo "${summary:-no summary line: see $fdir/last.log}"
	(( status != 0 )) || status=$rc
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. The pristine base: debootstrap once, kept as a tarball. debootstrap
#    mounts /proc and /sys in its target: a private mount namespace keeps
#    those from outliving it.
base="$fdir/bookworm-minbase.tar"
if (( newbase )) || [[ ! -s "$base" ]]; then
	s=$SECONDS
	tmp="$fdir/base.tmp"
	log "fresh: debootstrap --variant=minbase bookworm (Debian's archive)"
	timeout 1200 unshare -m --propagation private \
		debootstrap --variant=minbase bookworm "$tmp" http://deb.debian.org/debian \
		>"$fdir/debootstrap.log" 2>&1 6>&- || { tail -20 "$fdir/debootstrap.log" >&2; die "debootstrap failed"; }
	# A standard install's apt suites: main, updates, security.
	cat >"$tmp/etc/apt/sources.list" <<SOURCES
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
	rm -f "$tmp/etc/resolv.conf"
	tar -C "$tmp" -cf "$base.tmp" .
	mv "$base.tmp" "$base"
	rm -rf --one-file-system "$tmp"
	lap debootstrap "$s"
else
	log "fresh: reusing the pristine base $base ($(date -r "$base" +%F))"
fi

# 2. A fresh root from it, with the host's resolver and TLS trust.
root=$(mktemp -d "$fdir/root.XXXXXX")
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
carry=(HOME=/root TERM=dumb LANG=C.UTF-8
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

# 3. This checkout's HEAD, offered to the root as the repository it clones.
head=$(git -C "$MMN_ROOT" rev-parse --short HEAD)
git clone -q --bare --no-hardlinks "$MMN_ROOT" "$root/srv/mmn-stopgap.git"
[[ -z $(git -C "$MMN_ROOT" status --porcelain) ]] ||
	log "fresh: note: the checkout has uncommitted changes; the root gets HEAD ($head) only"
log "fresh: root $root, repository at $head, empty cache, host PATH and toolchains not carried"

# 4. The README's lines, in the root. Each step runs in its own mount and PID
#    namespaces (unshare --kill-child: when unshare dies, by timeout or
#    signal, the namespace's init and so every process in it is killed), in
#    the background so that an interrupt reaches cleanup at once.
: >"$fdir/last.log"
# step NAME SECONDS DIR LINE: runs the shell LINE in DIR of the root, timed.
step() {
	local s=$SECONDS r=0
	log "fresh: # cd $3 && $4"
	# shellcheck disable=SC2016 # the inner bash expands $1 and $@
	timeout -k 30 "$2" unshare --mount --pid --fork --kill-child --propagation private bash -c '
		set -e
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sys "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" /usr/bin/env -i "$@"' _ "$root" "${carry[@]}" \
		bash -c "cd $3 && $4" > >(tee -a "$fdir/last.log") 2>&1 6>&- &
	child=$!
	wait "$child" || r=$?
	child=""
	lap "$1" "$s"
	if (( r != 0 )); then
		log "fresh: '$4' failed (exit $r)"
		rc=$r
	fi
	return "$r"
}
# README: "apt-get update && apt-get install -y git make", then the clone.
step prerequisites 1200 /root "apt-get update && apt-get install -y git make" || exit
step clone 300 /root "git clone /srv/mmn-stopgap.git mmn-stopgap" || exit
if [[ "$stage" == setup ]]; then
	step setup 3600 /root/mmn-stopgap "make setup" || exit
	step host-tests 1800 /root/mmn-stopgap "make host-test" || exit
	summary=$(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0 " passed, " f + 0 " failed (make host-test)" }' "$fdir/last.log")
else
	step "make run" 7200 /root/mmn-stopgap "make run" || true
	step "make check" 7200 /root/mmn-stopgap "make check" || true
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$fdir/last.log" | tail -1 || true)
fi
