#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The benchmark job (make bench): load the module and the test_hmm peer, run.
out="$MMN_RESULTS"
insmod "$MMN_STOPGAP_KO" || exit 1
if [ -f /lib/modules/test_hmm.ko ]; then
	insmod /lib/modules/test_hmm.ko >/dev/null 2>&1 ||
		echo "note: test_hmm.ko did not load; no C peer" >"$out"
fi
/tests/mmn_bench >"$out" 2>&1
