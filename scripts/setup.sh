#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything mmn-stopgap needs on a Debian 12 (bookworm) x86_64 host:
# apt suites, Debian packages, bindgen (into the cache) and the kernel source
# (unpacked into the cache). Idempotent: every step is skipped when its result
# is already present. Must run as root for the apt steps.
set -euo pipefail
source "$(dirname "$0")/config.sh"

apt_only=0
case "${1:-}" in
--help)
	cat <<USAGE
usage: $0 [--apt-only]   install toolchain, QEMU and kernel source (idempotent)
  --apt-only: the apt suites, the kernel choice and the Debian packages only
  (no bindgen, no unpacking); scripts/tests/setup-decisions.sh tests them so.
  KVER=7.2 names the kernel; MMN_APT_SOURCES and MMN_USR_SRC move the apt
  source file and the kernel tarballs' directory (for the tests).
USAGE
	exit 0
	;;
--apt-only) apt_only=1 ;;
"") ;;
*) die "unknown argument $1 (--help)" ;;
esac

APT_SOURCES=${MMN_APT_SOURCES:-/etc/apt/sources.list.d/mmn-stopgap.sources}
# Every tool a stage calls that a plain Debian 12 (debootstrap --variant=minbase)
# lacks: the kernel toolchain, Debian's Rust 1.96 with cargo (cargo-web: plain
# cargo is 0.66), the initramfs and plot tools, shellcheck, git (make patches,
# scripts/shellcheck.sh), xz (the kernel tarball), the CA store (crates.io).
PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev
      rustc-web rust-web-src rust-web-clippy rustfmt-web cargo-web
      busybox-static flex bison bc libelf-dev libssl-dev cpio kmod
      make gcc binutils libc6-dev python3 gnuplot-nox shellcheck git xz-utils
      ca-certificates)
QEMU_PKGS=(qemu-system-x86)

missing_pkgs() {
	local p
	for p in "$@"; do
		[[ $(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null || true) == "install ok installed" ]] ||
			echo "$p"
	done
}

# 1. apt suites: bookworm-backports (QEMU 10) and trixie-backports (the
#    kernel source). Both are NotAutomatic/ButAutomaticUpgrades in Debian's
#    Release files, so nothing else on the host upgrades from them.
want_sources="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [[ ! -f "$APT_SOURCES" ]] || [[ "$(cat "$APT_SOURCES")" != "$want_sources" ]]; then
	log "setup: adding bookworm-backports + trixie-backports to $APT_SOURCES"
	printf '%s\n' "$want_sources" | as_root tee "$APT_SOURCES" >/dev/null
	apt_get 600 update -q
fi

# 2. The kernel: KVER=7.2 names it; by default the newest supported version
#    (config.sh, MMN_KVERS) this machine has or the archive offers.
select_kernel
if ! kver_installed "$KVER_MAJOR" && ! kver_in_archive "$KVER_MAJOR"; then
	apt_get 600 update -q
	select_kernel
fi
if ! kver_installed "$KVER_MAJOR" && ! kver_in_archive "$KVER_MAJOR"; then
	offered=$(apt-cache search --names-only '^linux-source-[0-9.]*$' | cut -d' ' -f1 | sort -V | paste -sd' ' || true)
	die "${KSRC_PKG} is neither installed nor in the archive (offered: ${offered:-none}); supported: ${MMN_KVERS[*]}"
fi
how="KVER=${KVER:-}"
[[ -n "${KVER:-}" ]] || how="the newest supported (${MMN_KVERS[*]}) available; KVER=<version> for another"
log "setup: kernel ${KVER_MAJOR}: ${how}"
for v in $(apt-cache search --names-only '^linux-source-7\.[0-9]*$' 2>/dev/null | cut -d' ' -f1 |
	sed 's/^linux-source-//'); do
	if [[ ! " ${MMN_KVERS[*]} " == *" $v "* ]] && [[ "$(printf '%s\n' "$v" "${MMN_KVERS[0]}" | sort -V | tail -1)" == "$v" ]]; then
		log "setup: note: linux-source-$v is in the archive but not verified here (KVER=$v to try it)"
	fi
done

# 3. Debian packages (the kernel's package only until its source is unpacked).
ksrc_pkg=("${KSRC_PKG}")
[[ -f "$KSRC/Makefile" ]] && ksrc_pkg=()
mapfile -t need < <(missing_pkgs "${PKGS[@]}" "${ksrc_pkg[@]}")
mapfile -t needq < <(missing_pkgs "${QEMU_PKGS[@]}")
if (( ${#need[@]} + ${#needq[@]} )); then
	if ! apt_has_candidate "${ksrc_pkg[@]}" "${QEMU_PKGS[@]}"; then
		apt_get 600 update -q
	fi
fi
if (( ${#need[@]} )); then
	log "setup: apt-get install ${need[*]}"
	if [[ " ${need[*]} " == *" ${KSRC_PKG} "* ]]; then
		apt_get 1800 install -y -q --no-install-recommends \
			-t trixie-backports "${KSRC_PKG}" >/dev/null
	fi
	apt_get 1800 install -y -q --no-install-recommends "${need[@]}" \
		| grep -E '^(Setting up|E:)' || true
	mapfile -t need < <(missing_pkgs "${PKGS[@]}" "${ksrc_pkg[@]}")
	(( ${#need[@]} == 0 )) || die "packages still missing: ${need[*]}"
else
	log "setup: Debian packages present"
fi
if (( ${#needq[@]} )); then
	log "setup: apt-get install -t bookworm-backports ${needq[*]}"
	apt_get 1800 install -y -q --no-install-recommends \
		-t bookworm-backports "${needq[@]}" \
		| grep -E '^(Setting up|E:)' || true
	mapfile -t needq < <(missing_pkgs "${QEMU_PKGS[@]}")
	(( ${#needq[@]} == 0 )) || die "packages still missing: ${needq[*]}"
else
	log "setup: QEMU present ($(qemu-system-x86_64 --version | first 1))"
fi

(( apt_only == 0 )) || exit 0

# 4. bindgen, into the cache (the kernel needs >= 0.71.1).
mkdir -p "$MMN_CACHE"
if [[ ! -x "$BINDGEN" ]]; then
	log "setup: cargo install --locked bindgen-cli (about 1 minute)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib timeout 1800 \
		"$CARGO" install --locked --quiet --root "$BINDGEN_ROOT" \
		bindgen-cli@^0.73
fi
log "setup: $("$BINDGEN" --version)"

# 5. Kernel source, unpacked into the cache.
if [[ ! -f "$KSRC/Makefile" ]]; then
	tarball=$(compgen -G "${MMN_USR_SRC}/linux-source-${KVER_MAJOR}.tar.*" | sort | sed -n 1p || true)
	[[ -n "$tarball" ]] || die "no /usr/src/linux-source-${KVER_MAJOR}.tar.*"
	log "setup: unpacking $tarball into $(dirname "$KSRC")"
	mkdir -p "$(dirname "$KSRC")"
	rm -rf "$KSRC.tmp"
	mkdir -p "$KSRC.tmp"
	timeout 900 tar -xaf "$tarball" -C "$KSRC.tmp" --strip-components=1
	mv "$KSRC.tmp" "$KSRC"
fi
log "setup: kernel source $(make -s -C "$KSRC" kernelversion) at $KSRC"

# 6. Every command a stage of make run or make check calls, by the package
#    that provides it: one left out of PKGS fails here, at setup (and so in
#    make fresh-setup, which CI runs), not at the stage that needs it.
TOOLS=(clang-19:clang-19 ld.lld-19:lld-19 llvm-ar-19:llvm-19 llvm-nm-19:llvm-19
       llvm-objcopy-19:llvm-19 llvm-readelf-19:llvm-19 llvm-strip-19:llvm-19
       /usr/bin/rustc:rustc-web /usr/bin/rustdoc:rustc-web /usr/bin/cargo:cargo-web
       /usr/bin/clippy-driver:rust-web-clippy /usr/bin/rustfmt:rustfmt-web
       "$BINDGEN":bindgen-cli flex:flex bison:bison bc:bc perl:perl-base
       gcc:gcc ld:binutils make:make python3:python3 cpio:cpio xz:xz-utils tar:tar
       git:git shellcheck:shellcheck gnuplot:gnuplot-nox depmod:kmod
       qemu-system-x86_64:qemu-system-x86 /bin/busybox:busybox-static ldd:libc-bin
       timeout:coreutils flock:util-linux unshare:util-linux findmnt:util-linux
       mount:mount awk:mawk sed:sed grep:grep find:findutils diff:diffutils
       sha256sum:coreutils)
missing=()
for t in "${TOOLS[@]}"; do
	command -v "${t%:*}" >/dev/null || missing+=("${t%:*} (${t##*:})")
done
(( ${#missing[@]} == 0 )) || die "setup: commands still missing: ${missing[*]}"
[[ -f /usr/lib/rustlib/src/rust/library/core/src/lib.rs ]] ||
	die "setup: the Rust standard library source (rust-web-src) is missing"
log "setup: ${#TOOLS[@]} commands present"
