#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo job (make run): load the module, run the demo, unload.
out="$MMN_RESULTS"
{
	echo "== guest: Linux $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
	echo "== insmod mmn_stopgap.ko"
	insmod "$MMN_STOPGAP_KO" || exit 1
	dmesg | grep 'mmn_stopgap: loaded' | sed 's/^/   dmesg: /'
	# shellcheck disable=SC2012 # ls -l shows the modes to the reader
	echo "   files: $(ls -l /sys/kernel/debug/mmn_stopgap | awk 'NR > 1 {printf "%s %s  ", $1, $NF}')"
	echo "   stats: $(tr '\n' ' ' </sys/kernel/debug/mmn_stopgap/stats)"
} >"$out" 2>&1
/tests/mmn_demo >"$out" 2>&1
rc=$?
{
	echo
	echo "== rmmod mmn_stopgap"
	rmmod mmn_stopgap || rc=1
	dmesg | grep 'mmn_stopgap: unloaded' | sed 's/^/   dmesg: /'
	[ -e /sys/kernel/debug/mmn_stopgap ] && { echo "   !! debugfs directory still there"; rc=1; }
	echo "   /sys/kernel/debug/mmn_stopgap is gone; module unloaded"
} >"$out" 2>&1
exit $rc
