#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The verdict on a guest's kselftest results: counts what passed, failed and
# was skipped (scripts/tap-summary.awk), then holds the run to the manifest,
# tools/testing/selftests/mmn_stopgap/manifest ("binary cases" per line):
# every binary listed must have run and reported exactly its number of cases,
# and no other binary may have run. On the project's own kernels a skip can
# only mean a broken configuration or boot, so every skip is a failure;
# --allow-skips (a user's kernel, KDIR=...) lets skips pass, loudly. A guest
# setup error ("MMN-SETUP-ERROR: ..." on the results port) is a failure.
#
# Prints "pass fail skip" on stdout and every failure on stderr; exits 0.
# Usage: verdict.sh [--allow-skips] RESULTS MANIFEST
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)"
allow_skips=0
if [[ "${1:-}" == "--allow-skips" ]]; then
	allow_skips=1
	shift
fi
if [[ $# -ne 2 ]]; then
	echo "usage: $0 [--allow-skips] RESULTS MANIFEST" >&2
	exit 2
fi
results="$1" manifest="$2"
counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
read -r pass fail skip < <(tr -d '\r' <"$results" |
	awk -v counts="$counts" -f "$dir/tap-summary.awk")
# The manifest against what ran.
declare -A want=() got=() how=()
while read -r bin n _; do
	[[ -z "$bin" || "$bin" == \#* ]] && continue
	want[$bin]=$n
done <"$manifest"
while read -r bin n h; do
	got[$bin]=$n
	how[$bin]=$h
done <"$counts"
for bin in "${!want[@]}"; do
	if [[ ! -v "got[$bin]" ]]; then
		echo "not ok - $bin did not run (the manifest expects ${want[$bin]} cases)" >&2
		fail=$((fail + 1))
	elif [[ "${how[$bin]}" == skipped ]]; then
		# Skipped whole: counted as one skip (below), allowed only on a foreign kernel.
		:
	elif [[ "${got[$bin]}" != "${want[$bin]}" ]]; then
		echo "not ok - $bin reported ${got[$bin]} cases, the manifest expects ${want[$bin]}" >&2
		fail=$((fail + 1))
	fi
done
for bin in "${!got[@]}"; do
	if [[ ! -v "want[$bin]" ]]; then
		echo "not ok - $bin ran but is not in the manifest" >&2
		fail=$((fail + 1))
	fi
done
if (( skip > 0 )); then
	if (( allow_skips )); then
		echo "# $skip case(s) skipped: allowed on a foreign kernel (KDIR=...), but they prove nothing" >&2
	else
		echo "not ok - $skip case(s) skipped on the project's own kernel: a broken configuration or boot" >&2
		fail=$((fail + skip))
	fi
fi
while read -r line; do
	echo "not ok - guest setup: ${line#MMN-SETUP-ERROR: }" >&2
	fail=$((fail + 1))
done < <(tr -d '\r' <"$results" | grep '^MMN-SETUP-ERROR: ' || true)
echo "$pass $fail $skip"
