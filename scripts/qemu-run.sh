#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the test kernel with an initramfs in QEMU and runs one guest job.
#
#   ttyS0 (console) -> stdout (unless --quiet) and --log FILE
#   ttyS1 (results) -> --results FILE
#
# Exit status: the guest job's status (from "MMN-EXIT: <rc>" on the results
# port); 124 if the hard timeout hit; 125 if the guest never reported one
# (did not boot, panicked, hung).
set -euo pipefail
source "$(dirname "$0")/config.sh"

usage() {
	cat <<USAGE
usage: $0 --kernel BZIMAGE --initrd CPIO --mode check|run|bench|probe|core|kunit
          --log FILE --results FILE [--timeout SECS] [--append ARGS]
          [--accel tcg|kvm|auto] [--mem MIB] [--quiet]
USAGE
}

kernel="" initrd="" mode="" logf="" results="" timeout_s=600 append=""
accel="${MMN_ACCEL:-auto}" mem=1024 quiet=0
while (( $# )); do
	case "$1" in
	--kernel) kernel="$2"; shift 2 ;;
	--initrd) initrd="$2"; shift 2 ;;
	--mode) mode="$2"; shift 2 ;;
	--log) logf="$2"; shift 2 ;;
	--results) results="$2"; shift 2 ;;
	--timeout) timeout_s="$2"; shift 2 ;;
	--append) append="$2"; shift 2 ;;
	--accel) accel="$2"; shift 2 ;;
	--mem) mem="$2"; shift 2 ;;
	--quiet) quiet=1; shift ;;
	--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ -n "$kernel" && -n "$initrd" && -n "$mode" && -n "$logf" && -n "$results" ]] ||
	{ usage >&2; exit 2; }

# KVM hangs on some hosts: use it only when a bounded probe boot succeeded on
# this host with this kernel (result cached next to the kernel).
if [[ "$accel" == auto ]]; then
	accel=tcg
	probe="$MMN_CACHE/kvm-probe-$(sha256sum "$kernel" | cut -c1-12)"
	if [[ -w /dev/kvm && "$mode" != probe ]]; then
		if [[ ! -f "$probe" ]]; then
			log "qemu: probing KVM (bounded to 30 s)"
			if "$0" --kernel "$kernel" --initrd "$initrd" --mode probe \
				--log "$probe.log" --results "$probe.results" \
				--timeout 30 --accel kvm --quiet >/dev/null 2>&1; then
				echo kvm >"$probe"
			else
				echo tcg >"$probe"
			fi
		fi
		accel=$(cat "$probe")
	fi
	log "qemu: accelerator $accel"
fi

# The guest CPU under TCG: everything QEMU emulates, but 5-level paging.
# With LA57 the debug kernel (KASAN) reported a false "wild-memory-access" at
# boot in 2 of 10 boots (0 of 15 with la57=off): identify_cpu() clears the
# boot CPU's capabilities with interrupts enabled, and an interrupt in that
# window sees pgtable_l5_enabled() false (Documentation/mmn_stopgap.rst,
# "Early-boot KASAN report under 5-level paging"; patches/0002 fixes the
# kernel). MMN_QEMU_CPU overrides it (scripts/boot-soak.sh measures both).
accel_args=(-accel "tcg,thread=multi" -cpu "${MMN_QEMU_CPU:-$MMN_TCG_CPU}")
# Under KVM the host's CPU, with 5-level paging off as well (MMN_QEMU_CPU
# overrides it there too).
[[ "$accel" == kvm ]] && accel_args=(-accel kvm -cpu "${MMN_QEMU_CPU:-host,la57=off}")

: >"$results"
# Two emulated NUMA nodes, so that the suite can migrate pages between them.
cmdline="console=ttyS0 loglevel=7 panic=-1 oops=panic numa=fake=2 mmn.mode=$mode $append"
# The guest proves the pin took: with mmn.nola57 it reports a setup error if
# /proc/cpuinfo still shows la57 (scripts/guest/init).
[[ "${accel_args[*]}" == *la57=off* ]] && cmdline+=" mmn.nola57"
qemu=(qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m "$mem"
      -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
      -display none -no-reboot -monitor none -nodefaults -vga none
      -chardev "stdio,id=con,logfile=$logf,signal=off" -serial chardev:con
      -chardev "file,id=res,path=$results" -serial chardev:res)

set +e
if (( quiet )); then
	timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null >/dev/null 2>&1
else
	timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null
fi
qrc=$?
set -e
if (( qrc == 124 || qrc == 137 )); then
	log "qemu: hard timeout after ${timeout_s}s"
	exit 124
fi
rc=$(tr -d '\r' <"$results" | sed -n 's/^MMN-EXIT: \([0-9]*\)$/\1/p' | tail -1)
if [[ -z "$rc" ]]; then
	log "qemu: the guest never reported an exit status (qemu rc $qrc); see $logf"
	exit 125
fi
exit "$rc"
