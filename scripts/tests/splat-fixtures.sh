#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the splat detector on the host: every fixture named clean-*.log must
# pass, every other fixture must be reported. TAP output.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
fixtures=("$dir"/splat-fixtures/*.log)
echo "TAP version 13"
echo "1..${#fixtures[@]}"
n=0 rc=0
for f in "${fixtures[@]}"; do
	n=$((n + 1))
	name=$(basename "$f")
	want=1
	[[ "$name" == clean-* ]] && want=0
	got=0
	"$dir/../splat-check.sh" "$f" >/dev/null || got=$?
	if [[ "$got" == "$want" ]]; then
		echo "ok $n splat-check $name (expect $([[ $want == 0 ]] && echo clean || echo splat))"
	else
		echo "not ok $n splat-check $name (expected exit $want, got $got)"
		rc=1
	fi
done
exit $rc
