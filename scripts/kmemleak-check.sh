#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Attributes kmemleak reports. Reads a guest results log holding the contents
# of /sys/kernel/debug/kmemleak between "MMN-KMEMLEAK-BEGIN" and
# "MMN-KMEMLEAK-END". A report is the module's when its allocation backtrace
# has a frame in mmn_stopgap, or an unsymbolized frame (an address in an
# unloaded module: the module is the only one the tests reload). Prints a
# summary; exits 1 if any report is the module's, 2 if no scan was found.
set -euo pipefail
if [[ "${1:-}" == "--help" || $# -ne 1 ]]; then
	echo "usage: $0 GUEST_RESULTS_LOG"
	[[ "${1:-}" == "--help" ]] && exit 0 || exit 2
fi
tr -d '\r' <"$1" | awk '
/^MMN-KMEMLEAK-BEGIN/ { inside = 1; seen = 1; next }
/^MMN-KMEMLEAK-END/ { inside = 0; flush(); next }
function flush() {
	if (entry != "") {
		total++
		if (mine) { ours++; printf "%s\n", entry }
	}
	entry = ""; mine = 0
}
inside && /^unreferenced object/ { flush(); entry = $0; next }
inside && entry != "" {
	entry = entry "\n" $0
	if ($0 ~ /mmn_stopgap/ || $0 ~ /^ +\[?<?0x?ffffffff[a-f0-9]+>?\]? *$/) mine = 1
}
END {
	if (!seen) { print "kmemleak: no scan found in the log"; exit 2 }
	printf "kmemleak: %d suspected leak(s), %d attributable to mmn_stopgap\n", total, ours
	exit ours ? 1 : 0
}'
