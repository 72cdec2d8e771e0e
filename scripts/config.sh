# SPDX-License-Identifier: GPL-2.0
# Shared settings for every mmn-stopgap script. Sourced, never executed.
# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this
# The kernel versions live here and only here.

MMN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MMN_CACHE="${MMN_CACHE:-${HOME}/.cache/mmn-stopgap}"
# Where Debian's linux-source-<version> packages put their tarball
# (scripts/tests/setup-decisions.sh points it elsewhere).
MMN_USR_SRC="${MMN_USR_SRC:-/usr/src}"

# The kernels the project is verified on (README, "Supported kernels"), newest
# first: Debian's linux-source-<version> packages (trixie-backports).
MMN_KVERS=(7.3 7.2)

# Whether linux-source-$1 is on this machine (package or unpacked source).
kver_installed() {
	compgen -G "$MMN_USR_SRC/linux-source-$1.tar.*" >/dev/null ||
		[[ -f "$MMN_CACHE/src/linux-source-$1/Makefile" ]]
}

# Whether the apt archive offers linux-source-$1. The output is captured
# before it is searched: `apt-cache ... | grep -q` under pipefail fails with
# 141 when grep exits before apt-cache has written everything.
kver_in_archive() {
	apt_has_candidate "linux-source-$1"
}

# Whether apt has an install candidate for every package named.
apt_has_candidate() {
	local out
	out=$(apt-cache policy "$@" 2>/dev/null) || return 1
	[[ $(grep -c 'Candidate: [0-9]' <<<"$out") -eq $# ]]
}

# Sets KVER_MAJOR, KSRC_PKG and KSRC: KVER=7.2 names the version; by default
# the newest supported one this machine has or the archive offers, so that a
# version leaving backports never breaks a build (scripts/setup.sh installs
# it and says which). Call again after setup.sh has updated apt.
select_kernel() {
	local v
	KVER_MAJOR="${KVER:-}"
	if [[ -z "$KVER_MAJOR" ]]; then
		for v in "${MMN_KVERS[@]}"; do
			if kver_installed "$v" || kver_in_archive "$v"; then
				KVER_MAJOR=$v
				break
			fi
		done
	fi
	KVER_MAJOR="${KVER_MAJOR:-${MMN_KVERS[0]}}"
	KSRC_PKG="linux-source-${KVER_MAJOR}"
	KSRC="${MMN_CACHE}/src/linux-source-${KVER_MAJOR}"
}
select_kernel
BINDGEN_ROOT="${MMN_CACHE}/cargo"
BINDGEN="${BINDGEN_ROOT}/bin/bindgen"

export PATH="${BINDGEN_ROOT}/bin:${PATH}"

# The Rust toolchain is Debian's (rustc-web, cargo-web: scripts/setup.sh),
# never one that happens to be first on PATH (a rustup toolchain has no
# rust-src and is not on a user's machine). Cargo and what it runs (build
# scripts, cargo-mutants) find rustc and cargo through these.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo
cargo() { /usr/bin/cargo "$@"; }

# The toolchain the kernel is built with (see README: rustup's rustc has no
# rust-src, Debian's rustc-web has).
# HOSTRUSTC too: the kernel's own default is the `rustc` first on PATH, used
# for its host programs (scripts/generate_rust_target, the doctest generators).
KMAKE_FLAGS=(LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	     BINDGEN="${BINDGEN}" CLIPPY_DRIVER=/usr/bin/clippy-driver
	     RUSTFMT=/usr/bin/rustfmt)

# The QEMU CPU model of every TCG guest (initramfs, debug, bench and vng
# runners): 5-level paging off, see scripts/qemu-run.sh.
MMN_TCG_CPU="max,la57=off"

# indent PREFIX: copies stdin to stdout with PREFIX before every line.
indent() { sed "s/^/$1/"; }

# first [N]: the first N lines of stdin (default 1). Unlike `head`, it reads
# all of its input, so that under pipefail the writer never dies of SIGPIPE
# (status 141) when the reader is done early. Use it, or `grep >/dev/null`
# for `grep -q`, at the end of every pipe.
first() { awk -v n="${1:-1}" 'NR <= n'; }

# in_view PATCHED_SRC BUILD BASE COMMAND...: runs COMMAND in a private mount
# namespace where PATCHED_SRC is mounted over $KSRC and BUILD over BASE (the
# unpatched build it was copied from), so that every path a kernel build
# recorded stays the same (scripts/build-kernel.sh --patches). VIEW_TIMEOUT=S
# bounds it.
in_view() {
	local bound=()
	[[ -z "${VIEW_TIMEOUT:-}" ]] || bound=(timeout --foreground "$VIEW_TIMEOUT")
	# shellcheck disable=SC2016 # the inner bash expands $1..$4
	"${bound[@]}" unshare -m bash -c 'mount --bind "$1" "$2" && mount --bind "$3" "$4" &&
		shift 4 && exec "$@"' _ "$1" "$KSRC" "$2" "$3" "${@:4}"
}

# as_root COMMAND...: runs COMMAND as root (through sudo unless already root).
as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt_get SECONDS ARGS...: apt-get as root, non-interactive, bounded by SECONDS,
# waiting up to 10 minutes for the dpkg lock rather than failing at once when
# something else holds it (a fresh machine's unattended-upgrades, a second make).
apt_get() {
	local secs=$1
	shift
	as_root env DEBIAN_FRONTEND=noninteractive timeout "$secs" \
		apt-get "$@" -o DPkg::Lock::Timeout=600
}

log() { printf '[mmn] %s\n' "$*" >&2; }
die() { printf '[mmn] error: %s\n' "$*" >&2; exit 1; }
