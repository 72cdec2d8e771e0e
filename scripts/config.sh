# SPDX-License-Identifier: GPL-2.0
# Shared settings for every mmn-stopgap script. Sourced, never executed.
# The kernel versions live here and only here.

MMN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MMN_CACHE="${MMN_CACHE:-${HOME}/.cache/mmn-stopgap}"

# The kernels the project is verified on (README, "Supported kernels"), newest
# first: Debian's linux-source-<version> packages (trixie-backports).
MMN_KVERS=(7.3 7.2)

# Whether linux-source-$1 is on this machine (package or unpacked source).
kver_installed() {
	compgen -G "/usr/src/linux-source-$1.tar.*" >/dev/null ||
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
KMAKE_FLAGS=(LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	     BINDGEN="${BINDGEN}" CLIPPY_DRIVER=/usr/bin/clippy-driver
	     RUSTFMT=/usr/bin/rustfmt)

# The QEMU CPU model of every TCG guest (initramfs, debug, bench and vng
# runners): 5-level paging off, see scripts/qemu-run.sh.
MMN_TCG_CPU="max,la57=off"

log() { printf '[mmn] %s\n' "$*" >&2; }
die() { printf '[mmn] error: %s\n' "$*" >&2; exit 1; }
