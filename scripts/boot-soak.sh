#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make boot-soak: boots each project kernel N times with the runner's own
# arguments (the probe job: load and unload the module) and counts the boots
# whose kernel log has a splat (scripts/splat-check.sh). A boot-time splat
# would make every runner a coin toss; the soak proves there is none.
#
# Prints one line per kernel, "KERNEL: R of N boots with a report, F other
# failures (T s)", and fails if any boot had a report (unless
# --expect-reports, to measure a known-bad setting such as --cpu max) or
# failed otherwise (a probe job that did not pass, with a clean log).
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

usage() {
	cat <<USAGE
usage: $0 [--boots N] [--kernels test,debug,bench,vng] [--cpu MODEL] [--patched]
          [--expect-reports]
  N defaults to 20 (MMN_SOAK_BOOTS), the kernels to all four, the CPU model
  to the runners' ($MMN_TCG_CPU). Kernels are built first if missing.
  --patched: the kernels with patches/*.patch applied (built incrementally).
USAGE
}

boots=${MMN_SOAK_BOOTS:-20}
kernels=test,debug,bench,vng
cpu=$MMN_TCG_CPU
expect_reports=0
patched=()
while (( $# )); do
	case "$1" in
	--patched) patched=(--patches "$MMN_ROOT/patches"); shift ;;
	--boots) boots="$2"; shift 2 ;;
	--kernels) kernels="$2"; shift 2 ;;
	--cpu) cpu="$2"; shift 2 ;;
	--expect-reports) expect_reports=1; shift ;;
	--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
export MMN_QEMU_CPU="$cpu"

"$MMN_ROOT/scripts/setup.sh"
select_kernel # setup may have installed a newer kernel source
sel="$MMN_ROOT/tools/testing/selftests/mmn_stopgap"
out=$(run_dir boot-soak)
lock_run_dir "$out"
total=0 total_failed=0
t_all=$(date +%s)
for k in ${kernels//,/ }; do
	case "$k" in
	test) frags=() ;;
	debug|bench|vng) frags=(--name "$k" --fragment "$sel/config" --fragment "$sel/config.$k") ;;
	*) die "unknown kernel $k (test, debug, bench, vng)" ;;
	esac
	kdir=$(kernel_dir "${frags[@]}" "${patched[@]}")
	mem=()
	[[ "$k" == bench ]] && mem=(--mem 2048) # as scripts/bench.sh boots it
	build_module "$kdir"
	dir="$out/$k${patched:+-patched}-${cpu//[^a-z0-9]/_}"
	mkdir -p "$dir"
	build_initramfs "$dir/initramfs.cpio" "$kdir"
	[[ "$k" == vng ]] && vng_bin=$("$MMN_ROOT/scripts/setup-vng.sh")
	bad=0 failed=0
	t0=$(date +%s)
	for i in $(seq 1 "$boots"); do
		log="$dir/boot-$i.log"
		rc=0
		if [[ "$k" == vng ]]; then
			# The vng runner's own command (scripts/check.sh RUNNER=vng).
			vng_run "$vng_bin" "$kdir" 300 "" "$dir" \
				"$MMN_ROOT/scripts/guest/cpu-pin.sh &&
				 insmod $MMN_ROOT/mmn_stopgap.ko && rmmod mmn_stopgap" >"$log" 2>&1 || rc=$?
			# --verbose puts the guest's console on stdout: no console, no verdict.
			# vng's own exit status needs virtio-serial ports that only udev
			# creates (255 without them, as in scripts/check.sh): the job's
			# status is the one virtme-ng-init prints.
			rc=0
			grep -q 'Linux version' "$log" || { rc=1; echo "no kernel console in $log" >>"$log"; }
			grep -q 'virtme-ng-init: script exited with code 0' "$log" || rc=1
		else
			"$MMN_ROOT/scripts/qemu-run.sh" --kernel "$kdir/arch/x86/boot/bzImage" \
				--initrd "$dir/initramfs.cpio" --mode probe --timeout 300 --quiet \
				--log "$log" --results "$dir/boot-$i.results" "${mem[@]}" || rc=$?
			# A setup error (the la57=off pin that did not take) fails the boot.
			! grep -q '^MMN-SETUP-ERROR' "$dir/boot-$i.results" || rc=1
		fi
		if ! "$MMN_ROOT/scripts/splat-check.sh" "$log" >"$dir/boot-$i.splat"; then
			bad=$((bad + 1))
			log "soak: $k boot $i: $(head -1 "$dir/boot-$i.splat")"
		elif (( rc != 0 )); then
			failed=$((failed + 1))
			log "soak: $k boot $i: the probe job failed (exit $rc), see $log"
		fi
	done
	secs=$(( $(date +%s) - t0 ))
	echo "$k ($(basename "$kdir"), -cpu $cpu): $bad of $boots boots with a report, $failed other failures (${secs} s)"
	total=$((total + bad))
	total_failed=$((total_failed + failed))
done
log "soak: $(( $(date +%s) - t_all )) s in all; logs in $out"
(( total_failed == 0 )) || exit 1
if (( expect_reports )); then
	exit 0
fi
(( total == 0 ))
