# SPDX-License-Identifier: GPL-2.0
#
# Counts TAP results in guest output: top-level "ok N", "not ok N" and
# "ok N ... # SKIP". Each binary's section ends with "MMN-TEST: name rc=R";
# a binary that exited with a failure status without a "not ok" line, or
# whose "1..N" plan does not match its results, adds one failure.
#
# Also failures: "ok N ... # XFAIL" and "# XPASS" (the suite has no expected
# failure: the core reproducer has its own verdict, core-verdict.sh), and the
# runner's "not ok - ..." lines (a binary left behind). Also skips: a binary
# skipped whole ("1..0 # SKIP ..."), and one that exited with KSFT_SKIP (4)
# without reporting a skipped case.
#
# Prints "pass fail skip", one line, and the failures on stderr. With
# -v counts=FILE, also writes "name cases skipped|ran" per binary section to
# FILE ("skipped": the whole binary, "1..0 # SKIP").
function close_section(name, rc) {
	bad = 0
	if (rc != 0 && rc != 4 && sec_fail == 0) {
		printf "not ok - %s exited with status %s without reporting a failure\n", name, rc > "/dev/stderr"
		bad = 1
	}
	if (rc == 4 && sec_skip == 0) {
		printf "not ok - %s exited with KSFT_SKIP (4) without a skipped case: counted as a skip\n", name > "/dev/stderr"
		skip++
	}
	if (plan >= 0 && plan != sec_n) {
		printf "not ok - %s planned %d tests, reported %d\n", name, plan, sec_n > "/dev/stderr"
		bad = 1
	}
	if (plan < 0 && rc != 4) {
		printf "not ok - %s printed no TAP plan\n", name > "/dev/stderr"
		bad = 1
	}
	fail += bad
	if (counts != "")
		print name, sec_n, (plan == 0 && sec_skip > 0) ? "skipped" : "ran" > counts
	sec_n = 0; sec_fail = 0; sec_skip = 0; plan = -1
}
BEGIN { pass = 0; fail = 0; skip = 0; sec_n = 0; sec_fail = 0; sec_skip = 0; plan = -1 }
{ sub(/\r$/, "") }
/^1\.\.0( |$)/ && /# [Ss][Kk][Ii][Pp]/ {
	# The whole binary skipped before its plan: one skip.
	plan = 0; skip++; sec_skip++; print > "/dev/stderr"; next
}
/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
/^not ok [0-9]+/ { fail++; sec_n++; sec_fail++; print > "/dev/stderr"; next }
/^not ok - / { fail++; sec_fail++; print > "/dev/stderr"; next }
/^ok [0-9]+/ {
	sec_n++
	if ($0 ~ /# [Xx][Ff][Aa][Ii][Ll]|# [Xx][Pp][Aa][Ss][Ss]/) {
		fail++; sec_fail++
		print "not ok - expected failures are not allowed here: " $0 > "/dev/stderr"
	} else if ($0 ~ /# [Ss][Kk][Ii][Pp]/) {
		skip++; sec_skip++; print > "/dev/stderr"
	} else
		pass++
	next
}
/^MMN-TEST: / {
	name = $2; rc = $3; sub(/^rc=/, "", rc)
	close_section(name, rc + 0)
	next
}
END { printf "%d %d %d\n", pass, fail, skip }
