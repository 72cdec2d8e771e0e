#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-core: the raw-core reproducer (core_repro) on two kernels.
#   stock:   the test kernel; the reproducer must wedge (the known core bug,
#            reported as XFAIL) and the hung-task detector must say so;
#   patched: the same kernel with patches/*.patch applied (built
#            incrementally from the stock build); the reproducer must pass
#            and the kernel log must be clean.
# Ends with "N passed, N failed"; exits non-zero unless both hold.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

if [[ "${1:-}" == "--help" ]]; then
	echo "usage: $0   (environment: MMN_CACHE, MMN_ACCEL)"
	exit 0
fi
[[ -z "${KDIR:-}" ]] || die "check-core builds its own two kernels: unset KDIR"

t0=$(date +%s)
out=$(run_dir check-core)
lock_run_dir "$out"

stage_begin setup
"$MMN_ROOT/scripts/setup.sh"
select_kernel # setup may have installed a newer kernel source
stage_end

stage_begin kernel-stock
stock=$(kernel_dir)
stage_end

stage_begin kernel-patched
patched=$(kernel_dir --patches "$MMN_ROOT/patches")
stage_end

stage_begin selftests
build_selftests "$out/selftests"
stage_end

PASS=0 FAIL=0
for kind in stock patched; do
	stage_begin "boot-$kind"
	kdir=$stock
	[[ "$kind" == patched ]] && kdir=$patched
	mkdir -p "$out/$kind"
	build_module "$kdir"
	build_initramfs "$out/$kind/initramfs.cpio" "$kdir" "$out/selftests"
	log "guest: $(basename "$kdir"), the core job; kernel log in $out/$kind/console.log"
	STREAM_FILTER=(-E '^(ok|not ok|#|MMN-TEST)')
	STREAM_PREFIX="  $kind| "
	boot_guest core "$kdir" "$out/$kind/initramfs.cpio" "$out/$kind" 600 || true
	verdict=$("$MMN_ROOT/scripts/core-verdict.sh" "$kind" "$out/$kind/results.log" \
		"$out/$kind/console.log" || true)
	indent '  ' <<<"$verdict"
	PASS=$((PASS + $(grep -c '^ok' <<<"$verdict" || true)))
	FAIL=$((FAIL + $(grep -c '^not ok' <<<"$verdict" || true)))
	stage_end
done

echo
log "stage times: ${STAGE_TIMES[*]} (total $(( $(date +%s) - t0 ))s)"
echo "$PASS passed, $FAIL failed"
(( FAIL == 0 && PASS > 0 ))
