#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scans a guest kernel log for splats. Prints each one (line number and text)
# and exits 1 if any was found, 0 otherwise.
#
# A splat is a WARN, BUG, Oops, KASAN/UBSAN/debugobjects report, lockdep
# report, sleep in atomic context, RCU stall, hung task, panic, or a
# "Call Trace:". (kmemleak's "N new suspected memory leaks" notice is not:
# leaks are attributed by scripts/kmemleak-check.sh, which fails the run only
# for leaks whose allocation backtrace is in the module.)
# The one exception: a Call Trace printed by the OOM killer's report
# ("invoked oom-killer:") or by the OOM reaper giving up ("oom_reaper: unable
# to reap"), within 12 lines of that header, is the expected output of the OOM
# tests and is not a splat.
set -euo pipefail

if [[ "${1:-}" == "--help" || $# -ne 1 ]]; then
	echo "usage: $0 GUEST_CONSOLE_LOG"
	[[ "${1:-}" == "--help" ]] && exit 0 || exit 2
fi

tr -d '\r' <"$1" | awk '
BEGIN { found = 0; oom_line = -1000 }
/invoked oom-killer:|oom_reaper: unable to reap/ { oom_line = NR }
{
	splat = 0
	if ($0 ~ /WARNING:|BUG:|kernel BUG at|Oops|general protection fault|Kernel panic/) splat = 1
	if ($0 ~ /KASAN|UBSAN|ODEBUG|kernel BUG|list_(add|del) corruption/) splat = 1
	if ($0 ~ /possible (recursive|circular) locking|possible irq lock inversion|inconsistent lock state|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning to user space|DEBUG_LOCKS_WARN_ON|INFO: possible/) splat = 1
	if ($0 ~ /sleeping function called from invalid context|scheduling while atomic|Voluntary context switch within RCU/) splat = 1
	if ($0 ~ /rcu_.* detected stall|rcu: INFO|blocked for more than [0-9]+ seconds|soft lockup|hard LOCKUP|hung_task/) splat = 1
	if ($0 ~ /Call Trace:/ && NR - oom_line > 12) splat = 1
	if (splat) { found++; printf "splat at line %d: %s\n", NR, $0 }
}
END { exit found ? 1 : 0 }
'
