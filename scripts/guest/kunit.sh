#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kunit job (make patches): the in-tree kernel ran its KUnit suites at
# boot (the kernel log has them); here, the in-tree sample must load, pass
# basic_test and unload.
out="$MMN_RESULTS"
if insmod "$MMN_STOPGAP_KO"; then
	echo "MMN-SAMPLE: loaded ok" >>"$out"
else
	echo "MMN-SAMPLE: loaded failed" >>"$out"
	exit 1
fi
/tests/basic_test >/tmp/basic.tap 2>&1
rc=$?
cat /tmp/basic.tap >>"$out"
[ "$rc" -eq 0 ] && echo "MMN-SAMPLE: basic_test ok" >>"$out"
if rmmod mmn_stopgap; then
	echo "MMN-SAMPLE: unloaded ok" >>"$out"
else
	rc=1
fi
exit $rc
