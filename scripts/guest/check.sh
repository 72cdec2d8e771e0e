#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs every kselftest binary (/tests/*_test), one after the other, as root. Each
# binary's TAP output goes to the results port (and the console); after each
# one a line "MMN-TEST: <name> rc=<rc> secs=<s>" records how it ended, so that
# the host can count a binary that died without printing its own result.

out="$MMN_RESULTS"
# mmn.tests=a,b on the kernel command line runs only those binaries.
filter=$(sed -n 's/.*mmn\.tests=\([a-z0-9_,]*\).*/\1/p' /proc/cmdline)
# mmn.first=a,b runs those binaries before the others (make mutants puts the
# binary most likely to kill a mutant first; the verdict does not depend on it).
first=$(sed -n 's/.*mmn\.first=\([a-z0-9_,]*\).*/\1/p' /proc/cmdline)
# mmn.storm=N sets the size of the command storm (storm_test).
storm=$(sed -n 's/.*mmn\.storm=\([0-9]*\).*/\1/p' /proc/cmdline)
# mmn.failfast=1 (make mutants) stops at the first binary that fails.
failfast=$(sed -n 's/.*mmn\.failfast=\([01]\).*/\1/p' /proc/cmdline)
[ -n "$storm" ] && export MMN_STORM_COMMANDS="$storm"
kmemleak=/sys/kernel/debug/kmemleak
if [ -e "$kmemleak" ]; then
	# Forget what boot allocated: only what the tests leave behind counts.
	echo clear >"$kmemleak"
fi
# The kernel's own C interval notifier, the peer of several cases. The host
# names it (MMN_TEST_HMM_KO) and checks that the project's kernels have it; a
# user's kernel without it skips the dmirror cases, loudly.
hmm_ko=${MMN_TEST_HMM_KO:-/lib/modules/test_hmm.ko}
if grep -q '^test_hmm ' /proc/modules; then
	:
elif [ -f "$hmm_ko" ]; then
	insmod "$hmm_ko" || echo "MMN-SETUP-ERROR: $hmm_ko did not load" >>"$out"
else
	echo "# no test_hmm.ko ($hmm_ko): the dmirror cases will skip" >>"$out"
fi
# THP only where asked for (MADV_HUGEPAGE): the THP cases ask, and khugepaged
# makes no background invalidations anywhere else.
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ -e "$thp" ]; then
	echo madvise >"$thp" 2>/dev/null && grep -q '\[madvise\]' "$thp" ||
		echo "MMN-SETUP-ERROR: could not set $thp to madvise" >>"$out"
fi
rc=0
start=$(cut -d' ' -f1 /proc/uptime)
dir=${MMN_TESTS_DIR:-/tests}
# The binaries' names (no paths: $dir may be a host path under vng), each once.
order=""
for f in $(echo "$first" | tr ',' ' '); do
	case " $order " in *" $f "*) continue ;; esac
	[ -x "$dir/$f" ] && order="$order $f"
done
for t in "$dir"/*; do
	case " $order " in *" ${t##*/} "*) continue ;; esac
	order="$order ${t##*/}"
done
for name in $order; do
	t=$dir/$name
	[ -x "$t" ] || continue
	case "$name" in *_test) ;; *) continue ;; esac
	if [ -n "$filter" ] && case ",$filter," in *",$name,"*) false ;; *) true ;; esac; then
		continue
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	echo "mmn-selftest: start $name" >/dev/kmsg
	# The harness's own per-test timeout bounds each case; this bounds the
	# whole binary. A binary with a thread blocked in D state cannot be
	# killed or waited for: it is reported and left behind, and the suite
	# goes on (the hung-task detector and the host's splat scan fail the run).
	"$t" >/tmp/"$name".tap 2>&1 &
	pid=$!
	read -r now _ </proc/uptime
	deadline=$(( ${now%.*} + ${MMN_BINARY_TIMEOUT:-600} ))
	state=running
	while :; do
		# Gone, or a zombie with no thread left (a zombie leader whose
		# other threads live is still running).
		if [ ! -d /proc/$pid/task ] || [ -z "$(ls /proc/$pid/task 2>/dev/null)" ]; then
			state="done"
			break
		fi
		set -- /proc/$pid/task/*
		if [ $# -eq 1 ] && grep -q '^State:[[:space:]]*Z' /proc/$pid/status 2>/dev/null; then
			state="done"
			break
		fi
		read -r now _ </proc/uptime
		if [ "${now%.*}" -ge "$deadline" ]; then
			state=wedged
			break
		fi
		sleep 0.2
	done
	if [ "$state" = wedged ]; then
		kill -9 $pid 2>/dev/null
		echo "not ok - $name still running after ${MMN_BINARY_TIMEOUT:-600} s: left behind" >>/tmp/"$name".tap
		trc=124
	else
		wait $pid
		trc=$?
	fi
	echo "mmn-selftest: end $name rc=$trc" >/dev/kmsg
	t1=$(cut -d' ' -f1 /proc/uptime)
	cat /tmp/"$name".tap >>"$out"
	echo "MMN-TEST: $name rc=$trc secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')" >>"$out"
	# kselftest: 0 pass, 4 skip; anything else is a failure.
	[ "$trc" -eq 0 ] || [ "$trc" -eq 4 ] || rc=1
	[ "$rc" -ne 0 ] && [ "$failfast" = 1 ] && break
done
if [ -e "$kmemleak" ]; then
	# Keep the module loaded so that its frames are symbolized; kmemleak
	# only reports objects older than 5 s, hence the wait, and two scans.
	grep -q '^mmn_stopgap ' /proc/modules || insmod "$MMN_STOPGAP_KO"
	sleep 6
	echo scan >"$kmemleak"
	sleep 1
	echo scan >"$kmemleak"
	{
		echo "MMN-KMEMLEAK-BEGIN"
		cat "$kmemleak"
		echo "MMN-KMEMLEAK-END"
	} >>"$out"
fi
end=$(cut -d' ' -f1 /proc/uptime)
echo "MMN-GUEST-SECS: $(echo "$start $end" | awk '{printf "%.1f", $2 - $1}')" >>"$out"
exit $rc
