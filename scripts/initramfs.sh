#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the guest initramfs: busybox (static), /init and the guest scripts,
# the module(s) and the kselftest binaries. Uncompressed newc cpio.
set -euo pipefail
source "$(dirname "$0")/config.sh"

usage() {
	cat <<USAGE
usage: $0 --out FILE --module KO [--module KO]... [--tests DIR]
  Pack an initramfs for scripts/qemu-run.sh.
USAGE
}

out="" tests="" modules=()
while (( $# )); do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--module) modules+=("$2"); shift 2 ;;
	--tests) tests="$2"; shift 2 ;;
	--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n "$out" ]] || { usage >&2; exit 2; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/modules,tests,guest}
cp /bin/busybox "$root/bin/busybox"
# ldd (libc-bin, on every Debian) exits 1 on a static binary: capture, then look.
ldd_out=$(ldd /bin/busybox 2>&1 || true)
grep -q 'not a dynamic' <<<"$ldd_out" ||
	die "/bin/busybox is not static (install busybox-static)"
cp "$MMN_ROOT/scripts/guest/init" "$root/init"
cp "$MMN_ROOT"/scripts/guest/*.sh "$root/guest/"
chmod +x "$root/init" "$root"/guest/*.sh
for m in "${modules[@]}"; do
	cp "$m" "$root/lib/modules/"
done
if [[ -n "$tests" ]]; then
	find "$tests" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/tests/" \;
fi
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
echo "nogroup:x:65534:" >>"$root/etc/group"
(cd "$root" && find . -print0 | sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
log "initramfs: $out ($(du -h "$out" | cut -f1), ${#modules[@]} module(s), $(find "$root/tests" -maxdepth 1 -type f | wc -l) test binaries)"
