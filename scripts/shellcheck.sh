#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs shellcheck on every shell script of the project (a tracked file named *.sh,
# or one whose first line is a sh/bash shebang). Zero findings, or a finding
# disabled at its line with a reason. Prints TAP.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--help" ]]; then
	echo "usage: $0   shellcheck every shell script (TAP on stdout)"
	exit 0
fi
command -v shellcheck >/dev/null || { echo "1..1"; echo "not ok 1 - shellcheck is not installed (scripts/setup.sh installs it)"; exit 1; }

# Tracked files; outside a git checkout (a tarball), every file but .git's.
if files=$(git ls-files -z 2>/dev/null | tr '\0' '\n'); then :; else
	files=$(find . -path ./.git -prune -o -type f -print | sed 's|^\./||')
fi
scripts=()
while IFS= read -r f; do
	[[ -f "$f" ]] || continue
	if [[ "$f" == *.sh ]]; then
		scripts+=("$f")
		continue
	fi
	IFS= read -r first <"$f" || true
	[[ "$first" =~ ^\#!.*(/|[[:space:]])(ba|da)?sh([[:space:]]|$) ]] && scripts+=("$f")
done <<<"$files"
(( ${#scripts[@]} )) || { echo "1..1"; echo "not ok 1 - no shell script found"; exit 1; }

echo "1..${#scripts[@]}"
n=0 bad=0
for f in "${scripts[@]}"; do
	n=$((n + 1))
	if out=$(shellcheck -x -P SCRIPTDIR -f gcc "$f" 2>&1); then
		echo "ok $n - $f"
	else
		bad=$((bad + 1))
		echo "not ok $n - $f"
		awk '{ print "# " $0 }' <<<"$out"
	fi
done
(( bad == 0 ))
