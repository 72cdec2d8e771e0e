#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Whether the runner's CPU pin took. The runners boot the guest CPU without
# 5-level paging (la57=off, scripts/qemu-run.sh and vng_run) and say so with
# mmn.nola57 on the kernel command line; a CPU that still shows la57 prints
# the setup error and exits 1. The initramfs init, vng-check.sh and the vng
# soak command all run this one check.
if grep -qw mmn.nola57 /proc/cmdline && grep -qw la57 /proc/cpuinfo; then
	echo "MMN-SETUP-ERROR: the guest CPU has la57 (5-level paging): the runner's la57=off did not take"
	exit 1
fi
exit 0
