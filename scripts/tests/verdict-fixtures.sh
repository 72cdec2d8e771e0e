#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the run's verdict on fixtures: scripts/verdict.sh must pass a clean
# guest result and fail a planted skip, a missing case, a missing binary, a
# binary the manifest does not know, a guest setup error, a failed case, a
# crashed binary, an XFAIL or XPASS, a KSFT_SKIP exit, a binary skipped whole,
# a guest that died mid-binary and a binary left behind wedged; scripts/tap-summary.awk must fail a host TAP script whose
# plan it does not meet or whose exit status is non-zero. TAP output.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
fx="$dir/verdict-fixtures"
cases=(clean.results:0 planted-skip.results:1 missing-case.results:1
       missing-binary.results:1 extra-binary.results:1 setup-error.results:1
       failed-case.results:1 crashed-binary.results:1
       xfail.results:1 xpass.results:1 skip-status.results:1 whole-skip.results:1
       died-mid-binary.results:1 wedged-binary.results:1
       clean.tap:0 short-plan.tap:1 bad-status.tap:1)
echo "TAP version 13"
echo "1..$(( ${#cases[@]} + 3 ))"
n=0 rc=0
for c in "${cases[@]}"; do
	f=${c%%:*} want=${c##*:}
	n=$((n + 1))
	if [[ "$f" == *.results ]]; then
		read -r _ fails _ < <("$dir/../verdict.sh" "$fx/$f" "$fx/manifest" 2>/dev/null)
	else
		read -r _ fails _ < <(awk -f "$dir/../tap-summary.awk" "$fx/$f" 2>/dev/null)
	fi
	got=$(( fails > 0 ? 1 : 0 ))
	if [[ "$got" == "$want" ]]; then
		echo "ok $n verdict $f ($([[ $want == 0 ]] && echo passes || echo fails))"
	else
		echo "not ok $n verdict $f (expected $([[ $want == 0 ]] && echo pass || echo failure), got $fails failure(s))"
		rc=1
	fi
done
# On a foreign kernel (KDIR=...) a skip is allowed, but said: a skipped case,
# a binary that exits with KSFT_SKIP, a binary skipped whole.
for f in planted-skip.results skip-status.results whole-skip.results; do
	n=$((n + 1))
	read -r _ fails skips < <("$dir/../verdict.sh" --allow-skips "$fx/$f" \
		"$fx/manifest" 2>/dev/null)
	if [[ "$fails" == 0 && "$skips" == 1 ]]; then
		echo "ok $n verdict $f --allow-skips (passes, 1 skip)"
	else
		echo "not ok $n verdict $f --allow-skips ($fails failures, $skips skips)"
		rc=1
	fi
done
exit $rc
