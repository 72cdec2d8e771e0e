#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The core job (make check-core, and the runner self-test of make check): the
# raw-core reproducer, alone in its boot. On a stock kernel it leaves tasks
# blocked in D state for good, so the hung-task timeout is made short and the
# job waits long enough for the detector to report them: the host expects
# those reports on the stock kernel and none on the patched one.
out="$MMN_RESULTS"
insmod "$MMN_STOPGAP_KO" || exit 1
insmod /lib/modules/test_hmm.ko || exit 1
echo 2 >/proc/sys/kernel/hung_task_timeout_secs || exit 1
t0=$(cut -d' ' -f1 /proc/uptime)
/tests/core_repro >/tmp/core_repro.tap 2>&1
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
cat /tmp/core_repro.tap >>"$out"
echo "MMN-TEST: core_repro rc=$rc secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')" >>"$out"
# The detector checks every 2 s: give it two rounds and a margin.
sleep 7
exit $rc
