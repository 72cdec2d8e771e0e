# SPDX-License-Identifier: GPL-2.0
# Shared settings for every mmn-stopgap script. Sourced, never executed.
# The kernel version lives here and only here.

KVER_MAJOR=7.3
KSRC_PKG="linux-source-${KVER_MAJOR}"

MMN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MMN_CACHE="${MMN_CACHE:-${HOME}/.cache/mmn-stopgap}"
KSRC="${MMN_CACHE}/src/linux-source-${KVER_MAJOR}"
BINDGEN_ROOT="${MMN_CACHE}/cargo"
BINDGEN="${BINDGEN_ROOT}/bin/bindgen"

export PATH="${BINDGEN_ROOT}/bin:${PATH}"

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
