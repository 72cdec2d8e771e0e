#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The verdict on one boot of the core job (scripts/guest/core.sh, which runs
# core_repro): what the raw-core reproducer must show on each kind of kernel.
#
#   stock:   "ok N raw_core_wedge # XFAIL known core bug..." (both mms wedged,
#            the module stayed usable), and the hung-task detector reported
#            the blocked tasks: the splat scan flags hung-task reports and
#            nothing else;
#   patched: "ok N raw_core_wedge" without XFAIL or SKIP, and a clean log.
#
# Prints one line per expectation ("ok"/"not ok"), exits 0 if all hold.
# Usage: core-verdict.sh stock|patched RESULTS CONSOLE_LOG
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
if [[ $# -ne 3 || ( "$1" != stock && "$1" != patched ) ]]; then
	echo "usage: $0 stock|patched RESULTS CONSOLE_LOG" >&2
	exit 2
fi
kind="$1" results="$2" console="$3"
rc=0
expect() { # expect DESCRIPTION COMMAND...: the command must succeed
	local what="$1"
	shift
	if "$@"; then echo "ok - $kind: $what"; else echo "not ok - $kind: $what"; rc=1; fi
}
line=$(tr -d '\r' <"$results" | grep -E '^(not )?ok [0-9]+ (global\.)?raw_core_wedge' || true)
echo "# $kind: ${line:-no result line}"
splats=$("$dir/splat-check.sh" "$console" || true)
hung=$(grep -c 'blocked for more than' <<<"$splats" || true)
other=$(grep -vE 'blocked for more than|Call Trace:|hung_task' <<<"$splats" | grep -c . || true)
if [[ "$kind" == stock ]]; then
	expect "the reproducer wedges both mms and reports the known core bug (XFAIL)" \
		grep -qE '^ok [0-9]+ (global\.)?raw_core_wedge # XFAIL known core bug' <<<"$line"
	expect "the hung-task detector reports the blocked tasks ($hung report(s))" \
		test "$hung" -gt 0
else
	expect "the reproducer passes: nothing wedges" \
		grep -qE '^ok [0-9]+ (global\.)?raw_core_wedge$' <<<"$line"
	expect "no hung task" test "$hung" -eq 0
fi
expect "no other splat in the kernel log" test "$other" -eq 0
if (( other > 0 )); then
	grep -vE 'blocked for more than|Call Trace:|hung_task' <<<"$splats" | awk 'NR <= 5 { print "#   " $0 }'
fi
exit $rc
