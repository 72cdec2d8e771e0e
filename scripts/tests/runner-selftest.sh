#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the QEMU runner cannot report success for a guest that did not run,
# and that the kernel-log scan catches a task stuck in D state:
#   1. a guest whose init cannot start (rdinit=/nonexistent -> kernel panic)
#      must make the runner exit 125 ("never reported an exit status");
#   2. a guest job that fails (an unknown mmn.mode) must make it exit non-zero;
#      that guest also boots a CPU whose la57=off pin is overridden (la57=on
#      after it), and its init must report the setup error the verdict fails on
#      (4: the check that the pin took can fail);
#   3. the core job on the stock kernel (policy raw, the raw-core reproducer)
#      wedges two mms on purpose: the hung-task detector must report the
#      blocked tasks and the splat scan must flag them (scripts/core-verdict.sh).
# TAP output. Usage: runner-selftest.sh BZIMAGE INITRAMFS WORKDIR
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
source "$dir/../config.sh" # MMN_TCG_CPU
kernel="$1" initrd="$2" work="$3"
mkdir -p "$work"
echo "TAP version 13"
echo "1..4"
rc=0
got=0
"$dir/../qemu-run.sh" --kernel "$kernel" --initrd "$initrd" --mode check \
	--append "rdinit=/nonexistent" --timeout 60 --quiet \
	--log "$work/noboot.log" --results "$work/noboot.results" 2>/dev/null || got=$?
if [[ "$got" == 125 ]]; then
	echo "ok 1 runner: a guest that never boots fails the run (exit 125)"
else
	echo "not ok 1 runner: a guest that never boots gave exit $got, want 125"
	rc=1
fi
got=0
# TCG whatever the host: under KVM a host without LA57 would drop la57=on.
MMN_QEMU_CPU="$MMN_TCG_CPU,la57=on" \
"$dir/../qemu-run.sh" --kernel "$kernel" --initrd "$initrd" --mode no-such-mode \
	--accel tcg --timeout 60 --quiet \
	--log "$work/badjob.log" --results "$work/badjob.results" 2>/dev/null || got=$?
if [[ "$got" != 0 && "$got" != 124 && "$got" != 125 ]]; then
	echo "ok 2 runner: a failing guest job fails the run (exit $got)"
else
	echo "not ok 2 runner: a failing guest job gave exit $got"
	rc=1
fi
if grep -q '^MMN-SETUP-ERROR: the guest CPU has la57' "$work/badjob.results"; then
	echo "ok 4 runner: a guest CPU with 5-level paging despite the la57=off pin is a setup error"
else
	echo "not ok 4 runner: a guest CPU with la57 after the pin was not reported"
	rc=1
fi
mkdir -p "$work/core"
"$dir/../qemu-run.sh" --kernel "$kernel" --initrd "$initrd" --mode core \
	--timeout 300 --quiet \
	--log "$work/core/console.log" --results "$work/core/results.log" 2>/dev/null || true
if verdict=$("$dir/../core-verdict.sh" stock "$work/core/results.log" "$work/core/console.log"); then
	echo "ok 3 splat scan: a wedged mm is reported by the hung-task detector and flagged"
else
	echo "not ok 3 splat scan: the wedged tasks of the core job were not all caught"
	rc=1
fi
indent '# ' <<<"$verdict"
exit $rc
