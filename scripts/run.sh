#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: boot the test kernel in QEMU, load the module, run the demo
# (process_mrelease with 1 vs 3 subscribers, policy stopgap vs off), unload.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

if [[ "${1:-}" == "--help" ]]; then
	echo "usage: $0   (environment: KDIR=<kernel build>, MMN_CACHE, MMN_ACCEL)"
	exit 0
fi

out=$(run_dir run)
"$MMN_ROOT/scripts/setup.sh"
kdir="${KDIR:-$(kernel_dir)}"
build_module "$kdir"
build_selftests "$out/selftests"
build_initramfs "$out/initramfs.cpio" "$kdir" "$out/selftests"
log "booting $kdir in QEMU (kernel log: $out/console.log)"
echo
: >"$out/results.log"
"$MMN_ROOT/scripts/qemu-run.sh" --kernel "$kdir/arch/x86/boot/bzImage" \
	--initrd "$out/initramfs.cpio" --mode run --timeout 600 --quiet \
	--log "$out/console.log" --results "$out/results.log" &
qemu_pid=$!
tail --pid="$qemu_pid" -n +1 -F "$out/results.log" 2>/dev/null | tr -d '\r' |
	grep --line-buffered -v -E '^MMN-(BOOTED|EXIT)' || true
rc=0
wait "$qemu_pid" || rc=$?
echo
if ! "$MMN_ROOT/scripts/splat-check.sh" "$out/console.log"; then
	log "the guest kernel log has a splat: $out/console.log"
	rc=1
fi
(( rc == 0 )) && log "demo finished: exit 0" || log "demo FAILED: exit $rc"
exit "$rc"
