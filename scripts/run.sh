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
lock_run_dir "$out"
kdir=$(prepare_guest "$out")
log "booting $kdir in QEMU (kernel log: $out/console.log)"
echo
rc=0
boot_guest run "$kdir" "$out/initramfs.cpio" "$out" 600 || rc=$?
echo
if ! "$MMN_ROOT/scripts/splat-check.sh" "$out/console.log"; then
	log "the guest kernel log has a splat: $out/console.log"
	rc=1
fi
if (( rc == 0 )); then log "demo finished: exit 0"; else log "demo FAILED: exit $rc"; fi
exit "$rc"
