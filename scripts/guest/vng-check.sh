#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of `make check RUNNER=vng`: virtme-ng boots the vng kernel with
# the host's root filesystem (9p, read-only) and runs this script. Usage:
#   vng-check.sh <module .ko> <kselftest dir> <results file in a --rwdir> <test_hmm.ko>
ko="$1" tests="$2" results="$3" hmm="$4"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
: >"$results"
echo "MMN-BOOTED: $(uname -r) mode=check runner=vng" >>"$results"
# As in scripts/guest/init: the la57=off pin must have taken.
"$(dirname "$0")/cpu-pin.sh" >>"$results"
MMN_STOPGAP_KO="$ko" MMN_TESTS_DIR="$tests" MMN_RESULTS="$results" MMN_TEST_HMM_KO="$hmm" \
	"$(dirname "$0")/check.sh"
rc=$?
echo "MMN-EXIT: $rc" >>"$results"
exit $rc
