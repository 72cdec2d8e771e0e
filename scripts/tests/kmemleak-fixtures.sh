#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Proves the kmemleak attribution on fixtures. TAP output.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
check="$dir/../kmemleak-check.sh"
cases=("ours.txt 1" "unsymbolized.txt 1" "others.txt 0" "clean.txt 0" "noscan.txt 2")
echo "TAP version 13"
echo "1..${#cases[@]}"
n=0 rc=0
for c in "${cases[@]}"; do
	read -r f want <<<"$c"
	n=$((n + 1))
	got=0
	"$check" "$dir/kmemleak-fixtures/$f" >/dev/null || got=$?
	if [[ "$got" == "$want" ]]; then
		echo "ok $n kmemleak-check $f (exit $want)"
	else
		echo "not ok $n kmemleak-check $f (expected exit $want, got $got)"
		rc=1
	fi
done
exit $rc
