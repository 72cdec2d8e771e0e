#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The compile-fail checks of the mmu_notifier abstraction (rust/compile-fail/):
# each case is built as a module crate against KDIR, with the abstraction as a
# submodule; ok.rs must build, every other case must fail with the message its
# "// expect:" line names, as its only error (a case that breaks something else
# too proves nothing about its contract). TAP output. Usage: compile-fail.sh KDIR
set -euo pipefail
source "$(dirname "$0")/config.sh"

if [[ $# -ne 1 || "$1" == --help ]]; then
	echo "usage: $0 KDIR"
	[[ "${1:-}" == --help ]] && exit 0 || exit 2
fi
kdir="$1"
src="$MMN_ROOT/rust/compile-fail"
cases=("$src"/*.rs)
cases=("${cases[@]/*\/common.rs}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for c in "${cases[@]}"; do
	[[ -n "$c" ]] || continue
	n=$((n + 1))
done
echo "TAP version 13"
echo "1..$n"
i=0 rc=0
for c in "${cases[@]}"; do
	[[ -n "$c" ]] || continue
	i=$((i + 1))
	name=$(basename "$c" .rs)
	want=$(awk 'sub(/^\/\/ expect: /, "") { print; exit }' "$c")
	if [[ -z "$want" ]]; then
		echo "not ok $i compile-fail $name: no \"// expect: ...\" line (any error would do)"
		rc=1
		continue
	fi
	dir="$work/$name"
	mkdir -p "$dir"
	# The case, its shared part, the abstraction (rust/mm.rs and rust/mm/, where
	# the case's `mod mm;` finds them) and the C helpers.
	cp "$c" "$dir/cf_$name.rs"
	cp "$src/common.rs" "$dir/common.rs"
	cp -r "$MMN_ROOT/rust/mm.rs" "$MMN_ROOT/rust/mm" "$dir/"
	cp "$MMN_ROOT/rust/helpers/mmu_notifier.c" "$MMN_ROOT/rust/helpers/mmu_notifier.h" "$dir/"
	printf 'obj-m := mmn_cf_%s.o\nmmn_cf_%s-y := cf_%s.o mmu_notifier.o\n' \
		"$name" "$name" "$name" >"$dir/Kbuild"
	out=$(make -C "$kdir" M="$dir" "${KMAKE_FLAGS[@]}" modules 2>&1) && built=1 || built=0
	if [[ "$want" == builds ]]; then
		if (( built )); then
			echo "ok $i compile-fail $name: builds"
		else
			echo "not ok $i compile-fail $name: the harness itself does not build"
			grep -E '^(error|warning)' -A 6 <<<"$out" | first 20 | indent '# '
			rc=1
		fi
	elif (( built )); then
		echo "not ok $i compile-fail $name: built, but must fail with \"$want\""
		rc=1
	elif ! grep -qF -- "$want" <<<"$out"; then
		echo "not ok $i compile-fail $name: failed, but not with \"$want\""
		grep -E '^error' -A 4 <<<"$out" | first 12 | indent '# '
		rc=1
	elif ! grep -qE 'aborting due to 1 previous error' <<<"$out"; then
		# A case that breaks something besides its contract proves nothing about it.
		echo "not ok $i compile-fail $name: \"$want\", but not as its only error"
		echo "$out" | grep -E '^error' -A 4 | head -20 | sed 's/^/# /'
		rc=1
	else
		echo "ok $i compile-fail $name: \"$want\" (its only error)"
	fi
done
exit $rc
