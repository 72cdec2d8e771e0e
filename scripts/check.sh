#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything, from a bare Debian 12 machine to a verdict.
#   setup -> kernel -> module (CLIPPY=1, rustfmt) -> host tests
#   -> selftests -> boot + tests in QEMU -> splat scan -> summary
# Ends with "N passed, N failed, N skipped"; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/config.sh"
source "$(dirname "$0")/stages.sh"

debug=0
if [[ "${1:-}" == "--debug" ]]; then
	debug=1
	shift
fi
if [[ "${1:-}" == "--help" ]]; then
	cat <<USAGE
usage: $0 [--debug]
  RUNNER=vng: boot with virtme-ng (host root over 9p) instead of the initramfs.
  --debug: the debug kernel (KASAN, kmemleak, debugobjects, failslab, lockdep)
  and the full 12,000-command storm, then a kmemleak scan.
  Environment: KDIR=<kernel build> (default: the cached test kernel),
  MMN_TESTS=a,b (run only these kselftest binaries), MMN_GUEST_APPEND=...
  (extra kernel command line), MMN_CACHE (cache dir), MMN_ACCEL=tcg|kvm|auto.
USAGE
	exit 0
fi

PASS=0 FAIL=0 SKIP=0
FAILURES=()
record() { # record <pass> <fail> <skip> [failure description]
	PASS=$((PASS + $1)) FAIL=$((FAIL + $2)) SKIP=$((SKIP + $3))
	if (( $2 > 0 )) && [[ -n "${4:-}" ]]; then FAILURES+=("$4"); fi
}
# run_tap DESCRIPTION COMMAND...: runs a TAP-printing host test, shows its
# results and records them. Its plan must be met and its exit status must be
# 0 (tap-summary.awk counts either as a failure).
run_tap() {
	local what="$1" tap p f s rc=0
	shift
	tap=$("$@" 2>&1) || rc=$?
	# (awk, not grep: a run with no result line must not end this script)
	awk '/^(not )?ok/ { print "  " $0 }' <<<"$tap"
	read -r p f s < <(printf '%s\nMMN-TEST: %s rc=%d\n' "$tap" "${what// /-}" "$rc" |
		awk -f "$MMN_ROOT/scripts/tap-summary.awk" 2>/dev/null)
	record "$p" "$f" "$s" "$what"
}
t0=$(date +%s)
runner=${RUNNER:-initramfs}
sel="$MMN_ROOT/tools/testing/selftests/mmn_stopgap"
if [[ "$runner" == vng ]]; then
	(( debug == 0 )) || die "RUNNER=vng is not combined with --debug"
	out=$(run_dir check-vng)
	lock_run_dir "$out"
	fragments=(--name vng --fragment "$sel/config" --fragment "$sel/config.vng")
	storm=${MMN_STORM:-2000}
	guest_timeout=${MMN_GUEST_TIMEOUT:-3000}
elif [[ "$runner" != initramfs ]]; then
	die "RUNNER must be initramfs (default) or vng"
elif (( debug )); then
	out=$(run_dir check-debug)
	lock_run_dir "$out"
	fragments=(--name debug --fragment "$sel/config" --fragment "$sel/config.debug")
	storm=${MMN_STORM:-12000}
	guest_timeout=${MMN_GUEST_TIMEOUT:-4800}
else
	out=$(run_dir check)
	lock_run_dir "$out"
	fragments=()
	storm=${MMN_STORM:-2000}
	guest_timeout=${MMN_GUEST_TIMEOUT:-3000}
fi

stage_begin setup
"$MMN_ROOT/scripts/setup.sh"
select_kernel # setup may have installed a newer kernel source
[[ "$runner" == vng ]] && vng_bin=$("$MMN_ROOT/scripts/setup-vng.sh")
stage_end

stage_begin kernel
if [[ -n "${KDIR:-}" ]]; then
	kdir="$KDIR"
	log "kernel: using KDIR=$kdir"
else
	kdir=$(kernel_dir "${fragments[@]}")
fi
bzimage="$kdir/arch/x86/boot/bzImage"
stage_end

stage_begin module
build_module "$kdir"
check_rustfmt
# The abstraction's contracts are build errors: each broken one must not build.
run_tap "compile-fail checks" "$MMN_ROOT/scripts/compile-fail.sh" "$kdir"
stage_end

stage_begin host-tests
run_tap "setup decisions (stub apt)" "$MMN_ROOT/scripts/tests/setup-decisions.sh"
run_tap "shellcheck" "$MMN_ROOT/scripts/shellcheck.sh"
run_tap "splat detector fixtures" "$MMN_ROOT/scripts/tests/splat-fixtures.sh"
run_tap "kmemleak attribution fixtures" "$MMN_ROOT/scripts/tests/kmemleak-fixtures.sh"
run_tap "verdict fixtures" "$MMN_ROOT/scripts/tests/verdict-fixtures.sh"
log "host: cargo test (parser and policy, the same files the module compiles)"
cargo_rc=0
cargo_out=$(cd "$MMN_ROOT/host" && timeout 900 "$CARGO" test --quiet 2>&1) || cargo_rc=$?
awk '/^test result|FAILED|panicked|error/ { print "  " $0 }' <<<"$cargo_out"
read -r p f < <(echo "$cargo_out" | awk '/^test result:/ {
	for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }')
# A crashed or killed test binary prints no failed count: its status says it.
if (( cargo_rc != 0 && f == 0 )); then f=1; fi
record "$p" "$f" 0 "host cargo test (exit $cargo_rc)"
log "host: fuzzing the parser and the rule (10 M inputs, at most 45 s)"
if fuzz_out=$(cd "$MMN_ROOT/host" && timeout 600 "$CARGO" run --quiet --release --bin fuzz -- \
	--iterations 10000000 --seconds 45 2>&1); then
	record 1 0 0
else
	record 0 1 0 "host fuzzer"
fi
echo "$fuzz_out" | tail -4 | sed 's/^/  /'
stage_end

stage_begin selftests
build_selftests "$out/selftests"
build_initramfs "$out/initramfs.cpio" "$kdir" "$out/selftests"
stage_end

stage_begin runner-selftest
run_tap "QEMU runner self-test" \
	"$MMN_ROOT/scripts/tests/runner-selftest.sh" "$bzimage" "$out/initramfs.cpio" "$out/runner"
stage_end

# The project's kernels build lib/test_hmm (CONFIG_TEST_HMM=m): the dmirror
# cases need it, and must not skip for want of it.
if [[ -f "$kdir/.mmn-built" && ! -f "$kdir/lib/test_hmm.ko" ]]; then
	record 0 1 0 "no $kdir/lib/test_hmm.ko in a project kernel build"
fi

stage_begin boot+tests
log "guest: booting $(basename "$kdir"); results stream below, kernel log in $out/console.log"
append="mmn.storm=$storm ${MMN_GUEST_APPEND:-}"
[[ -n "${MMN_TESTS:-}" ]] && append="$append mmn.tests=$MMN_TESTS"
BOOT_ARGS=(--append "$append")
STREAM_FILTER=(-E '^(ok|not ok|MMN-TEST)')
STREAM_PREFIX="  "
guest_rc=0
if [[ "$runner" == vng ]]; then
	# virtme-ng: the host's root over 9p, TCG (KVM hangs here), results in a
	# writable directory. vng's own exit status needs virtio-serial ports
	# that only udev creates, so the status comes from the results file.
	: >"$out/results.log"
	vng_run "$vng_bin" "$kdir" "$guest_timeout" "$append" "$out" \
		"$MMN_ROOT/scripts/guest/vng-check.sh" "$MMN_ROOT/mmn_stopgap.ko" "$out/selftests" \
		"$out/results.log" "$kdir/lib/test_hmm.ko" >"$out/console.log" 2>&1 || true
	grep -E '^(ok|not ok|MMN-TEST)' "$out/results.log" | sed 's/^/  /' || true
	guest_rc=$(sed -n 's/^MMN-EXIT: \([0-9]*\)$/\1/p' "$out/results.log" | tail -1)
	[[ -n "$guest_rc" ]] || guest_rc=125
else
	boot_guest check "$kdir" "$out/initramfs.cpio" "$out" "$guest_timeout" || guest_rc=$?
fi
# Held to the manifest; a skip fails on the project's own kernels (a build of
# scripts/build-kernel.sh, even when named with KDIR=), and is only allowed,
# loudly, on a user's own kernel.
verdict_args=()
if [[ -n "${KDIR:-}" && ! -f "$KDIR/.mmn-built" ]]; then
	verdict_args=(--allow-skips)
fi
manifest="$sel/manifest"
if [[ -n "${MMN_TESTS:-}" ]]; then
	# A subset run holds only the binaries it asked for to the manifest; a
	# name the manifest does not know is a mistake, not an empty subset.
	manifest="$out/manifest.subset"
	grep -E "^(${MMN_TESTS//,/|}) " "$sel/manifest" >"$manifest" || true
	for t in ${MMN_TESTS//,/ }; do
		grep -q "^$t " "$sel/manifest" ||
			record 0 1 0 "MMN_TESTS names $t, which the manifest does not list"
	done
fi
verdict_rc=0
verdict=$("$MMN_ROOT/scripts/verdict.sh" "${verdict_args[@]}" "$out/results.log" \
	"$manifest" 2>"$out/failures.txt") || verdict_rc=$?
if (( verdict_rc != 0 )) || ! read -r p f s <<<"$verdict" || [[ -z "${s:-}" ]]; then
	record 0 1 0 "the verdict itself failed (verdict.sh exit $verdict_rc; see $out/failures.txt)"
	p=0 f=1 s=0
else
	record "$p" "$f" "$s" "kselftests (see $out/results.log)"
fi
if (( guest_rc == 124 || guest_rc == 125 )); then
	record 0 1 0 "guest did not finish (runner status $guest_rc; see $out/console.log)"
elif (( guest_rc != 0 && f == 0 )); then
	record 0 1 0 "guest test job exited $guest_rc"
fi
if (( p + f + s == 0 )); then
	record 0 1 0 "no kselftest ran"
fi
if splats=$("$MMN_ROOT/scripts/splat-check.sh" "$out/console.log"); then
	record 1 0 0
	log "guest log: no WARN/BUG/lockdep/KASAN/Call Trace"
else
	first 40 <<<"$splats" >&2
	record 0 1 0 "kernel splat in guest log ($out/console.log)"
fi
if (( debug )); then
	if leaks=$("$MMN_ROOT/scripts/kmemleak-check.sh" "$out/results.log"); then
		record 1 0 0
	else
		record 0 1 0 "kmemleak: leak attributable to mmn_stopgap (or no scan)"
	fi
	indent '[mmn] ' <<<"$leaks" >&2
fi
secs=$(tr -d '\r' <"$out/results.log" | sed -n 's/^MMN-GUEST-SECS: //p')
log "guest: suite ran ${secs:-?}s inside the guest"
stage_end

echo
log "stage times: ${STAGE_TIMES[*]} (total $(( $(date +%s) - t0 ))s)"
for f in "${FAILURES[@]}"; do log "FAILED: $f"; done
[[ -s "$out/failures.txt" ]] && sed 's/^/[mmn]   /' "$out/failures.txt" >&2
echo "$PASS passed, $FAIL failed, $SKIP skipped"
(( FAIL == 0 ))
