#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants: proves that the suite bites. Applies, one at a time, each
# small deliberate bug of scripts/mutants.list to a copy of the module's
# sources, rebuilds, and runs the suite against it: the host tests (cargo
# test of the shared parser and policy) first, then the kselftests in a
# booted test kernel with mmn.failfast=1 (the guest stops at the first binary
# that fails), the manifest verdict and the splat scan. A mutant is killed by
# the first case that fails, survives if the whole suite passes.
#
# The unmutated copy runs first and must pass, or no verdict means anything.
# Prints a table "mutant -> killed by <case>" / "survived" and ends with
# "killed N of M". Exits non-zero if the list no longer applies, the baseline
# fails, or a mutant survives that is not listed in the EXPLAINED line below.
#
# Usage: mutants.sh [--only a,b] [--no-baseline] [--no-cargo-mutants]
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

# Survivors with a written reason (Documentation/mmn_stopgap.rst, "Mutation
# testing"): real bugs that no bounded, deterministic test reaches through
# the module's files. no-liveness-wait needs an invalidation in flight on the
# mm while the gate is inserted, then a non-blocking one before that ends;
# interval-refusal-lost needs the mirror's lock held by a snapshot at the
# instant a non-blocking invalidation reaches the mirror.
EXPLAINED=(no-liveness-wait interval-refusal-lost)

only="" baseline=1 cargo=1
while (( $# )); do
	case "$1" in
	--only) only="$2"; shift 2 ;;
	--no-baseline) baseline=0; shift ;;
	--no-cargo-mutants) cargo=0; shift ;;
	--help) sed -n '3,18p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

t0=$(date +%s)
work=$(run_dir mutants)
lock_run_dir "$work"
list="$MMN_ROOT/scripts/mutants.list"
# The mutants' names, in list order.
mapfile -t names < <(grep -v '^#' "$list" | cut -f1 | awk 'NF && !seen[$0]++')
if [[ -n "$only" ]]; then
	mapfile -t names < <(printf '%s\n' "${names[@]}" | grep -xE "${only//,/|}")
	(( ${#names[@]} )) || die "no mutant of scripts/mutants.list matches --only $only"
fi


# apply NAME DIR: applies mutant NAME to the copy in DIR ("" = none).
apply() {
	/usr/bin/python3 - "$list" "$1" "$2" <<'PY'
import sys
lst, name, root = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(lst) if l.strip() and not l.startswith("#")]
for r in rows:
    if r[0] != name:
        continue
    if len(r) < 4:
        sys.exit(f"{name}: malformed row {r}")
    path = f"{root}/{r[1]}"
    old, new = (s.replace("\\n", "\n").replace("\\t", "\t") for s in r[2:4])
    text = open(path).read()
    if text.count(old) != 1:
        sys.exit(f"{name}: {r[1]} has {text.count(old)} copies of {r[2]!r}, not 1: update the list")
    open(path, "w").write(text.replace(old, new))
PY
}

# copy DIR: a fresh copy of what the module and the host crate are built from,
# with fresh mtimes (cargo and kbuild must see every file as changed).
copy() {
	rm -rf "$1"
	mkdir -p "$1/host"
	cp "$MMN_ROOT/Kbuild" "$1/"
	cp -r "$MMN_ROOT/rust" "$1/"
	find "$1/rust" \( -name '*.o' -o -name '.*.cmd' -o -name '*.rmeta' -o -name '*.d' \
		-o -name '*.txt' \) -delete
	cp -r "$MMN_ROOT/host/Cargo.toml" "$MMN_ROOT/host/src" "$1/host/"
	[[ -f "$MMN_ROOT/host/Cargo.lock" ]] && cp "$MMN_ROOT/host/Cargo.lock" "$1/host/"
	[[ -d "$MMN_ROOT/host/tests" ]] && cp -r "$MMN_ROOT/host/tests" "$1/host/"
	return 0
}

# judge NAME: builds and runs the suite against the copy in $work/tree.
# Prints "killed by <case>", "survived" or "not built: ...".
judge() {
	local tree="$work/tree" dir="$work/run" out rc=0 first hint
	hint=$(awk -F'\t' -v n="${1:-}" '!/^#/ && $1 == n && $6 { print $6; exit }' "$list")
	mkdir -p "$dir"
	out=$(cd "$tree/host" && timeout 900 "$CARGO" test --quiet 2>&1) || rc=$?
	if (( rc != 0 )); then
		first=$(grep -m1 -oE '^---- [^ ]+' <<<"$out" | cut -d' ' -f2)
		echo "killed by host: cargo test ${first:-(exit $rc)}"
		return
	fi
	if ! out=$(MMN_MODULE_DIR="$tree" module_make "$kdir" modules 2>&1); then
		echo "not built: $(grep -m1 '^error' <<<"$out")"
		return
	fi
	"$MMN_ROOT/scripts/initramfs.sh" --out "$dir/initramfs.cpio" --module "$tree/mmn_stopgap.ko" \
		--module "$kdir/lib/test_hmm.ko" --tests "$work/selftests"
	rc=0
	BOOT_ARGS=(--append "mmn.failfast=1 mmn.storm=2000${hint:+ mmn.first=$hint}")
	STREAM_FILTER=(-E '^not ok')
	STREAM_PREFIX="    "
	boot_guest check "$kdir" "$dir/initramfs.cpio" "$dir" 1800 >&2 || rc=$?
	# The first failing case, named by the binary that reported it.
	first=$(tr -d '\r' <"$dir/results.log" | awk '
		/^(not )?ok / || /^# / { if (!bad && /^not ok /) bad = $0 }
		/^MMN-TEST: / { if (bad) { sub(/^not ok [0-9]* *-? */, "", bad); print $2 ": " bad; exit } }')
	if [[ -n "$first" ]]; then
		echo "killed by $first"
		return
	fi
	local f
	read -r _ f _ < <("$MMN_ROOT/scripts/verdict.sh" "$dir/results.log" \
		"$MMN_ROOT/tools/testing/selftests/mmn_stopgap/manifest" 2>"$dir/failures.txt")
	if (( f > 0 )); then
		echo "killed by verdict: $(head -1 "$dir/failures.txt" | sed 's/^not ok - //')"
	elif ! "$MMN_ROOT/scripts/splat-check.sh" "$dir/console.log" >"$dir/splats.txt"; then
		echo "killed by splat scan: $(grep -m1 -v '^$' "$dir/splats.txt")"
	elif (( rc != 0 )); then
		echo "killed by guest exit status $rc"
	else
		echo "survived"
	fi
}


# Every row must apply to the sources as they are, before anything is built.
for name in "${names[@]}"; do
	copy "$work/check"
	apply "$name" "$work/check" || die "scripts/mutants.list no longer applies: update it"
done
rm -rf "$work/check"
# The hints name binaries of the manifest, each once.
manifest="$MMN_ROOT/tools/testing/selftests/mmn_stopgap/manifest"
while IFS=$'\t' read -r name _ _ _ _ hint; do
	for h in ${hint//,/ }; do
		grep -q "^$h " "$manifest" || die "scripts/mutants.list: $name: hint $h is not in the manifest"
	done
	[[ -z "$hint" || $(tr ',' '\n' <<<"$hint" | sort | uniq -d) == "" ]] ||
		die "scripts/mutants.list: $name: a hint named twice"
done < <(grep -v '^#' "$list" | grep .)

"$MMN_ROOT/scripts/setup.sh" >&2
select_kernel # setup may have installed a newer kernel source
kdir=${KDIR:-$(kernel_dir)}
build_selftests "$work/selftests"
export CARGO_TARGET_DIR="$work/cargo-target"

if (( baseline )); then
	log "mutants: the unmutated module first"
	copy "$work/tree"
	verdict=$(judge)
	[[ "$verdict" == survived ]] || die "the suite fails without a mutant: $verdict"
	log "mutants: baseline passes ($(( $(date +%s) - t0 ))s)"
fi

declare -A result=() secs=()
killed=0 total=0 survived=() unexplained=() broken=0
for name in "${names[@]}"; do
	m0=$(date +%s)
	copy "$work/tree"
	if ! err=$(apply "$name" "$work/tree" 2>&1); then
		log "mutants: $err"
		broken=1
		result[$name]="does not apply"
		continue
	fi
	log "mutant $name: $(awk -F'\t' -v n="$name" '!/^#/ && $1 == n && $5 { print $5; exit }' "$list")"
	result[$name]=$(judge "$name")
	secs[$name]=$(( $(date +%s) - m0 ))
	log "mutant $name: ${result[$name]} (${secs[$name]}s)"
	case "${result[$name]}" in
	killed*) killed=$((killed + 1)); total=$((total + 1)) ;;
	survived)
		total=$((total + 1))
		survived+=("$name")
		[[ " ${EXPLAINED[*]} " == *" $name "* ]] || unexplained+=("$name")
		;;
	*) broken=1 ;;
	esac
done

echo
printf '%-28s %6s  %s\n' mutant secs verdict
for name in "${names[@]}"; do
	printf '%-28s %6s  %s\n' "$name" "${secs[$name]:--}" "${result[$name]}"
done
# cargo-mutants (crates.io) on the host crate: its own mutants of the parser
# and the rule, against the host tests. It does not follow #[path] out of the
# package, so a copy gets the two shared files inlined as its own modules.
cargo_mutants() {
	local cm="$MMN_CACHE/cargo/bin/cargo-mutants" dir="$work/cargo-mutants"
	if [[ ! -x "$cm" ]]; then
		log "mutants: cargo install --locked cargo-mutants (about 10 minutes)"
		timeout 3600 "$CARGO" install --locked --quiet --root "$MMN_CACHE/cargo" cargo-mutants@^27 >&2
	fi
	rm -rf "$dir"
	copy "$dir"
	cp "$dir/rust/control.rs" "$dir/rust/policy.rs" "$dir/host/src/"
	sed -i '/^#\[path = /d' "$dir/host/src/lib.rs"
	# It runs `cargo` (or $CARGO): Debian's first on PATH too, never rustup's.
	(cd "$dir/host" && PATH="/usr/bin:$PATH" timeout 3600 "$cm" mutants -f src/control.rs -f src/policy.rs \
		--timeout 300 -o "$dir/out" >"$dir/log" 2>&1) || true
	grep -E '^MISSED' "$dir/log" | sed 's/^/  /' >&2 || true
	tail -1 "$dir/log"
}
cargo_ok=1
cargo_summary="not run (--no-cargo-mutants)"
if (( cargo )); then
	log "mutants: cargo-mutants on the host crate"
	cargo_summary=$(cargo_mutants)
	# A verdict, not a print: a missed mutant or a run that did not finish fails.
	[[ "$cargo_summary" =~ [0-9]+\ caught && ! "$cargo_summary" =~ missed ]] || cargo_ok=0
fi

echo
elapsed=$(( $(date +%s) - t0 ))
echo "cargo-mutants (host crate): $cargo_summary"
echo "killed $killed of $total ($(( total ? 100 * killed / total : 0 ))%) in ${elapsed}s"
(( ${#survived[@]} == 0 )) || echo "survived: ${survived[*]}"
(( ${#unexplained[@]} == 0 )) || { echo "survived without a written reason: ${unexplained[*]}"; exit 1; }
(( broken == 0 )) || { echo "some mutants did not apply or build: update scripts/mutants.list"; exit 1; }
(( cargo_ok )) || { echo "cargo-mutants: a mutant missed, or the run did not finish"; exit 1; }
